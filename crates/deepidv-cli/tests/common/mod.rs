//! Runs the built `deepidv` binary against an in-process simulator.

#![allow(dead_code)] // each test binary uses a different subset of these helpers

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use deepidv_mock::{DEFAULT_API_KEY, JobSpec, MockConfig, MockServer, Outcome};

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Asserts the exit code, showing everything on failure.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(self.code, expected, "unexpected exit code: {self:#?}");
        self
    }

    /// The one `error: …` line on stderr.
    #[track_caller]
    pub fn error_line(&self) -> &str {
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one stderr line: {self:#?}");
        assert!(lines[0].starts_with("error: "), "{self:#?}");
        lines[0]
    }

    /// stdout parsed as one JSON document.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {self:#?}"))
    }
}

/// The binary with a clean environment (no key, no URL, no user-agent suffix, no colour settings).
pub fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_deepidv"));
    c.env_remove("DEEPIDV_API_KEY")
        .env_remove("DEEPIDV_BASE_URL")
        .env_remove(deepidv_core::USER_AGENT_SUFFIX_ENV)
        .env_remove("NO_COLOR")
        .env_remove("DEEPIDV_LOG")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null());
    c
}

/// Runs the binary with these arguments and environment.
pub fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = command();
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    let start = Instant::now();
    let out = c.output().expect("run deepidv");
    Run {
        code: out.status.code().expect("exited normally"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        elapsed: start.elapsed(),
    }
}

/// Runs the binary with no environment.
pub fn run(args: &[&str]) -> Run {
    run_env(args, &[])
}

/// Runs the binary against `mock` with the sandbox key (from the environment).
pub fn run_mock(mock: &MockServer, args: &[&str]) -> Run {
    let url = mock.url();
    let mut all = vec!["--base-url", url.as_str()];
    all.extend_from_slice(args);
    run_env(&all, &[("DEEPIDV_API_KEY", DEFAULT_API_KEY)])
}

/// Spawns the binary against `mock` without waiting for it.
pub fn spawn_mock(mock: &MockServer, args: &[&str]) -> Child {
    let mut c = command();
    c.arg("--base-url")
        .arg(mock.url())
        .args(args)
        .env("DEEPIDV_API_KEY", DEFAULT_API_KEY)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c.spawn().expect("spawn deepidv")
}

/// Collects a spawned run.
pub fn collect(child: Child) -> Run {
    let start = Instant::now();
    let out = child.wait_with_output().expect("wait for deepidv");
    Run {
        code: out.status.code().expect("exited normally"),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        elapsed: start.elapsed(),
    }
}

/// A simulator whose jobs are terminal at once.
pub fn instant() -> MockServer {
    MockServer::start_background(MockConfig::instant()).expect("start the simulator")
}

/// Inserts a job that is already terminal.
pub fn job(mock: &MockServer, outcome: Outcome) -> String {
    mock.insert_job(JobSpec {
        outcome,
        pending: Some(Duration::ZERO),
        processing: Some(Duration::ZERO),
        ..JobSpec::default()
    })
}

/// Inserts a job with these timings.
pub fn slow_job(mock: &MockServer, outcome: Outcome, pending: u64, processing: u64) -> String {
    mock.insert_job(JobSpec {
        outcome,
        pending: Some(Duration::from_millis(pending)),
        processing: Some(Duration::from_millis(processing)),
        ..JobSpec::default()
    })
}

/// Fast polling flags for waits.
pub const FAST: [&str; 4] = ["--interval", "50ms", "--max-interval", "100ms"];
