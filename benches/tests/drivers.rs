//! The bench drivers stay wired to the bench binaries: an unknown mode of `run.sh` is a
//! one-line error, and every `[[bench]]` of this package is run by a driver script (and
//! every bench a driver names exists), so a rename cannot silently drop a figure.

use std::path::Path;
use std::process::Command;

fn dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    std::fs::read_to_string(dir().join(name)).unwrap()
}

#[test]
fn an_unknown_mode_is_a_one_line_error_naming_the_modes() {
    let out = Command::new("bash")
        .arg(dir().join("run.sh"))
        .arg("bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing ran");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("unknown mode 'bogus'"), "{err}");
    for mode in ["all", "core", "client", "cli", "async", "memory", "c"] {
        assert!(
            err.contains(&format!(" {mode}")),
            "{mode} missing from {err}"
        );
    }
}

#[test]
fn every_bench_is_run_by_a_driver_and_every_driven_bench_exists() {
    let manifest = read("Cargo.toml");
    let benches: Vec<&str> = manifest
        .split("[[bench]]")
        .skip(1)
        .map(|section| {
            section
                .lines()
                .find_map(|l| l.strip_prefix("name = "))
                .unwrap()
                .trim_matches('"')
        })
        .collect();
    assert_eq!(benches.len(), 5, "{benches:?}");
    let drivers = ["blocking.sh", "async.sh", "c.sh", "batch.sh"]
        .map(read)
        .join("\n");
    let mut driven: Vec<&str> = drivers
        .split("-p deepidv-benches")
        .skip(1)
        .flat_map(|rest| {
            rest.split_whitespace()
                .take_while(|w| *w == "--bench" || !w.starts_with('-'))
                .collect::<Vec<_>>()
                .windows(2)
                .filter(|w| w[0] == "--bench")
                .map(|w| w[1].trim_matches('"'))
                .collect::<Vec<_>>()
        })
        .collect();
    // blocking.sh names its criterion benches through crit_run
    for line in drivers.lines() {
        if let Some(rest) = line.trim().strip_prefix("crit_run deepidv-benches ") {
            driven.push(rest.trim());
        }
    }
    for b in &benches {
        assert!(driven.contains(b), "no driver runs the {b} bench");
    }
    for d in &driven {
        assert!(
            benches.contains(d),
            "a driver runs {d}, which is not a bench"
        );
    }
}
