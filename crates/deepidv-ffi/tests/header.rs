//! `include/deepidv.h` must be exactly what cbindgen makes of this crate today.

use std::path::PathBuf;

#[test]
fn header_is_fresh() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    // The compile-time version macros, from the crate version: a version bump makes the header stale.
    config.after_includes = Some(format!(
        "\n/** The version of this header (the crate's version); deepidv_version() is the library's. */\n\
         #define DEEPIDV_VERSION_MAJOR {}\n#define DEEPIDV_VERSION_MINOR {}\n\
         #define DEEPIDV_VERSION_PATCH {}\n#define DEEPIDV_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
        env!("CARGO_PKG_VERSION"),
    ));
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(crate_dir.join("src/lib.rs"))
        .generate()
        .expect("cbindgen could not generate the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let generated = String::from_utf8(generated).unwrap();
    let path = crate_dir.join("../../include/deepidv.h");
    if std::env::var_os("DEEPIDV_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
        return;
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == generated,
        "include/deepidv.h is stale or missing; regenerate it with:\n    DEEPIDV_BLESS=1 cargo test -p deepidv-ffi --test header\n(first differing line: {:?})",
        current
            .lines()
            .zip(generated.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("checked in {a:?} / generated {b:?}"))
    );
    // The contract's names are in it.
    for name in [
        "DEEPIDV_OK = 0",
        "DEEPIDV_INTERNAL = 9",
        "DEEPIDV_STATUS_UNKNOWN",
        "deepidv_result deepidv_client_wait_job(",
        "const char *deepidv_last_error(void);",
        "typedef struct deepidv_client deepidv_client;",
        "deepidv_result deepidv_poller_save(const deepidv_poller *poller,",
        "deepidv_result deepidv_poller_resume(const char *api_key,",
        "deepidv_result deepidv_client_options_set_user_agent_suffix(deepidv_client_options *opts,",
        "#define DEEPIDV_VERSION \"",
    ] {
        assert!(generated.contains(name), "header lacks {name:?}");
    }
}
