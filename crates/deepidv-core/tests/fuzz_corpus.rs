//! Replays every fuzz corpus file (`fuzz/corpus/<target>/*`) and every saved
//! regression (`fuzz/regressions/<target>/*`) through the fuzz targets' own checks,
//! as an ordinary test on stable Rust. The checks live in `fuzz/checks.rs`.

#[path = "../../../fuzz/checks.rs"]
mod checks;

use std::path::PathBuf;

/// A target's check: panics on a finding.
type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 5] = [
    ("parse_job", checks::parse_job),
    ("parse_response", checks::parse_response),
    ("error_body", checks::error_body),
    ("job_id", checks::job_id),
    ("poller", checks::poller),
];

fn files(kind: &str, target: &str) -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

fn replay(kind: &str) -> usize {
    let mut total = 0;
    for (target, check) in TARGETS {
        for file in files(kind, target) {
            let data = std::fs::read(&file).unwrap();
            let run = std::panic::catch_unwind(|| check(&data));
            assert!(run.is_ok(), "{target} fails on {}", file.display());
            total += 1;
        }
    }
    total
}

#[test]
fn corpus_replays_clean() {
    for (target, _) in TARGETS {
        assert!(
            !files("corpus", target).is_empty(),
            "no seeds for {target}: run scripts/capture-seeds.sh"
        );
    }
    assert!(replay("corpus") >= TARGETS.len());
}

#[test]
fn regressions_replay_clean() {
    replay("regressions");
}

#[test]
fn checks_catch_what_they_claim() {
    // The checks themselves must be able to fail: a forbidden id, a bad poller outcome.
    assert!(std::panic::catch_unwind(|| checks::job_id(b"ok_id")).is_ok());
    assert_eq!(
        checks::expected_kind(deepidv_core::http::StatusCode::TOO_MANY_REQUESTS),
        deepidv_core::ErrorKind::Unavailable
    );
    let r =
        checks::split_response(b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 7\r\n\r\nbusy");
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "7");
    assert_eq!(r.body().as_slice(), b"busy");
}

#[test]
fn poller_seed_scripts_reach_their_outcomes() {
    // The seeds say what they drive: a wait to ready, a wait through retries to failed,
    // a get through a 500 to ready. Replaying them also exercises every step kind.
    for (seed, expect) in [
        ("seed-wait-ready", "ready"),
        ("seed-wait-retries-failed", "failed"),
        ("seed-get-retry-ready", "ready"),
    ] {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../fuzz/corpus/poller")
            .join(seed);
        let data = std::fs::read(&path).unwrap();
        let got = checks::poller_outcome(&data);
        assert_eq!(got, expect, "{seed}");
    }
}
