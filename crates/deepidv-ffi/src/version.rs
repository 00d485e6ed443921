//! The header's compile-time version (`DEEPIDV_VERSION_MAJOR`, `_MINOR`, `_PATCH`, `DEEPIDV_VERSION` in
//! `include/deepidv.h`) and the library's run-time `deepidv_version()` are the same crate version.
//!
//! The macros are written by the header generator (`tests/header.rs`, cbindgen's `after_includes`) from
//! `CARGO_PKG_VERSION_*`, and its freshness check fails when they fall behind the crate version; the
//! test here reads the checked-in header and holds it to `deepidv_version()`. `make install`'s C check
//! (`examples/c/install-test.sh`) does the same from C against the installed header and library.

#[cfg(test)]
mod tests {
    use std::ffi::CStr;

    /// The value of `#define NAME value` in the header, if it is there once.
    fn define<'h>(header: &'h str, name: &str) -> &'h str {
        let mut found = header.lines().filter_map(|l| {
            let rest = l.strip_prefix("#define ")?.strip_prefix(name)?;
            rest.starts_with(' ').then(|| rest.trim())
        });
        let value = found
            .next()
            .unwrap_or_else(|| panic!("deepidv.h has no {name}"));
        assert!(found.next().is_none(), "deepidv.h defines {name} twice");
        value
    }

    #[test]
    fn header_macros_agree_with_deepidv_version() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../include/deepidv.h");
        let header = std::fs::read_to_string(path).unwrap();
        // SAFETY: deepidv_version returns a static NUL-terminated string.
        let runtime = unsafe { CStr::from_ptr(crate::deepidv_version()) }
            .to_str()
            .unwrap();
        assert_eq!(runtime, env!("CARGO_PKG_VERSION"));
        assert_eq!(define(&header, "DEEPIDV_VERSION"), format!("\"{runtime}\""));
        let numbers = [
            define(&header, "DEEPIDV_VERSION_MAJOR"),
            define(&header, "DEEPIDV_VERSION_MINOR"),
            define(&header, "DEEPIDV_VERSION_PATCH"),
        ];
        for n in numbers {
            assert!(n.parse::<u64>().is_ok(), "not a number: {n}");
        }
        // "1.2.3" or "1.2.3-rc.1": the numbers are the version's first three fields
        let core = runtime.split(['-', '+']).next().unwrap();
        assert_eq!(numbers.join("."), core);
    }
}
