//! The core's promise, checked: no I/O, no clock, no randomness of its own.

use std::path::Path;

const FORBIDDEN_IN_SOURCE: &[&str] = &[
    "std::net",
    "std::fs",
    "std::process",
    "std::thread",
    "std::env",
    "Instant::now",
    "SystemTime::now",
    "RandomState",
    "tokio",
    "getrandom",
];

/// Checked in `[dependencies]` only: `deepidv-mock` is a dev-dependency of the core (its
/// `examples/custom_runtime.rs` talks to the simulator), never a dependency.
const FORBIDDEN_DEPENDENCIES: &[&str] = &[
    "deepidv-mock",
    "tokio",
    "reqwest",
    "ureq",
    "hyper",
    "rand",
    "getrandom",
    "socket2",
    "mio",
    "async-std",
];

#[test]
fn no_source_file_reads_a_clock_or_touches_the_outside() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in FORBIDDEN_IN_SOURCE {
            assert!(
                !text.contains(needle),
                "{} mentions {needle}",
                path.display()
            );
        }
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} files checked");
}

#[test]
fn no_networking_runtime_or_entropy_dependency() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let deps = manifest
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for line in deps.lines() {
        let name = line.split(['.', '=', ' ']).next().unwrap_or("").trim();
        assert!(
            !FORBIDDEN_DEPENDENCIES.contains(&name),
            "the core depends on {name}"
        );
    }
    assert!(deps.contains("http"), "the dependency section was found");
}
