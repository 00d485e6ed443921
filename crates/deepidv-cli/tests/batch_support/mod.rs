//! Helpers of the `deepidv batch` tests: people files, runs, exports.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use deepidv_mock::{DEFAULT_API_KEY, MockServer, Stats};

/// A simulator: in this process, or a process of its own.
pub trait Sim {
    /// Its base URL.
    fn url(&self) -> String;
    /// What it did with creations so far.
    fn stats(&self) -> Stats;
}

impl Sim for MockServer {
    fn url(&self) -> String {
        MockServer::url(self)
    }
    fn stats(&self) -> Stats {
        MockServer::stats(self)
    }
}

/// `deepidv mock` as a process of its own; killed when dropped.
pub struct SimProcess {
    child: Child,
    url: String,
}

impl SimProcess {
    /// Starts `deepidv mock --addr 127.0.0.1:0 ARGS` and waits for its `listening on` line.
    pub fn start(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_deepidv"))
            .args(["mock", "--addr", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self { child, url }
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sim for SimProcess {
    fn url(&self) -> String {
        self.url.clone()
    }
    fn stats(&self) -> Stats {
        let addr = self.url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /__mock/stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).unwrap();
        let text = String::from_utf8(answer).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let body = if head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(body)
        } else {
            body.to_owned()
        };
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("stats {body:?}: {e}"))
    }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

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
pub fn spawn(mock: &impl Sim, args: &[&str]) -> Child {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deepidv"));
    c.env_remove("DEEPIDV_BATCH_DATABASE_URL")
        .env_remove(deepidv_core::USER_AGENT_SUFFIX_ENV)
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
pub fn batch(mock: &impl Sim, args: &[&str]) -> Done {
    finish(spawn(mock, args))
}

/// `deepidv batch run --input INPUT --state STATE EXTRA…` against `mock`, waited for.
pub fn batch_run(mock: &impl Sim, input: &Path, state: &Path, extra: &[&str]) -> Done {
    let mut args = vec![
        "run",
        "--input",
        input.to_str().unwrap(),
        "--state",
        state.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    batch(mock, &args)
}

/// The export as JSON values, one per person.
pub fn export(mock: &impl Sim, store: &[&str]) -> Vec<serde_json::Value> {
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
pub fn created_once_each(mock: &impl Sim, n: usize) {
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
