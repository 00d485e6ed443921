//! Gives the shared library its SONAME on Linux, `libdeepidv.so.<major>`, as cargo-c does, so a program
//! linked against `libdeepidv.so` records the major version it needs and `make install`'s
//! `libdeepidv.so.MAJOR.MINOR.PATCH` + symlinks work with the dynamic loader and `ldconfig`.
//!
//! While the crate is 0.x the major is 0, so the SONAME is `libdeepidv.so.0` for every 0.x release
//! (cargo-c would use `libdeepidv.so.0.<minor>`): until 1.0, C users rebuild on each minor release.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" {
        let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_else(|_| "0".into());
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libdeepidv.so.{major}");
    }
}
