//! Helpers of the `deepidv batch` tests: people files, runs, exports.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use deepidv_mock::{DEFAULT_API_KEY, MockServer};

/// A fresh directory under the target dir, removed first if it exists.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes `n` valid people as CSV (with refs `c0`…), returns the path.
pub fn people_csv(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("ref,firstName,lastName,email,dateOfBirth,country\n");
    for i in 0..n {
        text.push_str(&format!(
            "c{i},First{i},Last{i},p{i}@example.com,19{:02}-{:02}-{:02},US\n",
            50 + i % 50,
            1 + i % 12,
            1 + i % 28
        ));
    }
    let path = dir.join("people.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// `deepidv batch …` against `mock`, with the sandbox key, not waited for.
pub fn spawn(mock: &MockServer, args: &[&str]) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deepidv"));
    c.env_remove("DEEPIDV_BATCH_DATABASE_URL")
        .env("DEEPIDV_API_KEY", DEFAULT_API_KEY)
        .env("DEEPIDV_BASE_URL", mock.url())
        .arg("batch")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().expect("spawn deepidv")
}

/// A finished run.
#[derive(Debug)]
pub struct Done {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Done {
    /// The last stderr line, which must be the `error: …` line.
    #[track_caller]
    pub fn error_line(&self) -> &str {
        let last = self.stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: "), "{self:#?}");
        last
    }
}

/// Waits for a spawned run.
pub fn finish(child: Child) -> Done {
    let out = child.wait_with_output().unwrap();
    Done {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `deepidv batch …` to the end.
pub fn batch(mock: &MockServer, args: &[&str]) -> Done {
    finish(spawn(mock, args))
}

/// The export as JSON values, one per person.
pub fn export(mock: &MockServer, store: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["export", "--format", "jsonl"];
    args.extend_from_slice(store);
    let done = batch(mock, &args);
    assert_eq!(done.code, 0, "{done:#?}");
    done.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A number from the per-process random state (no extra crate).
pub fn random(bound: u64) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now()) % bound.max(1)
}

/// Asserts what the simulator saw: each of `n` people created exactly once.
#[track_caller]
pub fn created_once_each(mock: &MockServer, n: usize) {
    let stats = mock.stats();
    assert_eq!(stats.total_creations, n as u64, "{stats:?}");
    assert_eq!(stats.by_idempotency_key.len(), n, "one key per person");
    assert_eq!(stats.max_creations_per_key, 1);
    assert_eq!(stats.max_creations_per_person, 1);
    assert_eq!(stats.by_person.len(), n);
    assert_eq!(stats.idempotency_conflicts, 0);
}

/// Asserts the export: every one of `n` people ready, with a result.
#[track_caller]
pub fn all_ready(rows: &[serde_json::Value], n: usize) {
    assert_eq!(rows.len(), n);
    for r in rows {
        assert_eq!(r["status"], "ready", "{r}");
        assert!(r["result"].is_object(), "{r}");
        assert!(
            r["jobId"].as_str().is_some_and(|j| j.starts_with("job_")),
            "{r}"
        );
        assert!(r["ref"].as_str().is_some_and(|j| j.starts_with('c')), "{r}");
    }
}
