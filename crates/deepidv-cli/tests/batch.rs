//! `deepidv batch` against a real simulator, with a real SQLite file: resuming after
//! `kill -9`, the rate limit, bad input, the API down.

mod batch_support;

use std::time::{Duration, Instant};

use batch_support::*;
use deepidv_mock::{MockConfig, MockServer};

fn mock(config: MockConfig) -> MockServer {
    MockServer::start_background(config).unwrap()
}

#[test]
fn killed_with_sigkill_again_and_again_then_completed_screens_everyone_once() {
    let n = 2500;
    let dir = scratch("batch-kill9");
    let input = people_csv(&dir, n);
    let state = dir.join("state.db");
    let (input, state) = (input.to_str().unwrap(), state.to_str().unwrap());
    // Each answer takes a little while, so creations and waits are in flight at every
    // kill, and a run needs more than a second and a half (16 in flight, 2 answers of
    // 5 ms each per person): the first kills land mid-way.
    let sim = SimProcess::start(&[
        "--latency",
        "5ms",
        "--pending",
        "0ms",
        "--processing",
        "0ms",
    ]);
    let run = [
        "run",
        "--input",
        input,
        "--state",
        state,
        "--concurrency",
        "16",
    ];
    let mut kills = 0;
    for round in 0..5 {
        let mut child = spawn(&sim, &run);
        std::thread::sleep(Duration::from_millis(100 + random(400)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        let done = finish(child);
        assert!(
            done.code == -1 || done.code == 0,
            "round {round}: {done:#?}"
        );
    }
    assert!(kills >= 3, "the runs were killed mid-way ({kills} times)");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(state).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the state file holds personal data");
    let done = batch(&sim, &run);
    assert_eq!(done.code, 0, "{done:#?}");
    assert!(done.stdout.contains(&format!("ready    {n}")), "{done:#?}");
    assert_eq!(done.stderr, "", "quiet when stderr is not a terminal");
    for file in [state.to_owned(), format!("{state}-wal")] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        let key = deepidv_mock::DEFAULT_API_KEY.as_bytes();
        assert!(
            !bytes.windows(key.len()).any(|w| w == key),
            "{file} holds the API key"
        );
    }
    created_once_each(&sim, n);
    all_ready(&export(&sim, &["--state", state]), n);
    // A run over a finished batch creates nothing.
    let before = sim.stats();
    assert_eq!(batch(&sim, &run).code, 0);
    assert_eq!(sim.stats(), before);
}

#[test]
fn creations_follow_the_rate_limit_without_429s() {
    let n = 500;
    let dir = scratch("batch-rate");
    let input = people_csv(&dir, n);
    let state = dir.join("state.db");
    let sim = mock(MockConfig {
        rate_limit: Some(50.0),
        ..MockConfig::instant()
    });
    let start = Instant::now();
    let done = batch_run(&sim, &input, &state, &["--rate", "50/s"]);
    let elapsed = start.elapsed().as_secs_f64();
    assert_eq!(done.code, 0, "{done:#?}");
    let stats = sim.stats();
    assert_eq!(stats.total_creations, n as u64);
    let rate = n as f64 / elapsed;
    let requests = stats.total_creations + stats.replays + stats.rate_limited;
    eprintln!(
        "{rate:.1} creations/s, {} of {requests} answered 429",
        stats.rate_limited
    );
    assert!(
        rate >= 0.95 * 50.0,
        "{rate:.1}/s is under 95 % of the limit"
    );
    assert!(stats.rate_limited * 100 < requests, "{stats:?}");
}

#[test]
fn a_process_over_the_limit_slows_down_as_a_whole() {
    let n = 150;
    let dir = scratch("batch-rate-over");
    let input = people_csv(&dir, n);
    let state = dir.join("state.db");
    let sim = mock(MockConfig {
        rate_limit: Some(50.0),
        ..MockConfig::instant()
    });
    // Asking for twice the limit: the 429s' Retry-After pauses every task, so the
    // run still ends with everyone, never giving up.
    let done = batch_run(&sim, &input, &state, &["--rate", "100/s"]);
    assert_eq!(done.code, 0, "{done:#?}");
    created_once_each(&sim, n);
    let stats = sim.stats();
    eprintln!("{} creations answered 429", stats.rate_limited);
    assert!(stats.rate_limited > 0);
    // Without the process-wide pause, the tasks that did not get the 429 would go on
    // at 100/s against a bucket refilling at 50/s: dozens more 429s.
    assert!(stats.rate_limited <= 5, "{stats:?}");
}

/// Runs `batch run` on `content` and checks it is refused with one error line
/// containing `expect`, nothing sent and no state file left.
#[track_caller]
fn refused(name: &str, file: &str, content: &str, expect: &str) -> Done {
    let dir = scratch(&format!("batch-bad-{name}"));
    let input = dir.join(file);
    std::fs::write(&input, content).unwrap();
    let state = dir.join("state.db");
    let sim = mock(MockConfig::instant());
    let done = batch_run(&sim, &input, &state, &[]);
    assert_eq!(done.code, 2, "{done:#?}");
    let line = done.error_line();
    assert!(line.contains(expect), "{line:?} lacks {expect:?}");
    assert!(sim.requests().is_empty(), "nothing sent");
    assert!(!state.exists(), "no state file left behind");
    done
}

const HEADER: &str = "ref,firstName,lastName,email,dateOfBirth,country\n";

#[test]
fn bad_input_is_refused_with_the_row_and_the_reason() {
    refused(
        "csv",
        "p.csv",
        &format!(
            "{HEADER}a,Ada,Lovelace,ada@example.com,1815-12-10,GB\nb,Bob,\"Smith,bob@example.com\n"
        ),
        "malformed CSV",
    );
    refused(
        "fields",
        "p.csv",
        &format!("{HEADER}a,Ada,Lovelace,ada@example.com,1815-12-10,GB,extra\n"),
        "line 2: malformed CSV: 7 fields where the header row has 6",
    );
    refused(
        "columns",
        "p.csv",
        "ref,firstName,lastName,email\na,Ada,Lovelace,ada@example.com\n",
        "missing column dateOfBirth",
    );
    refused(
        "date",
        "p.csv",
        &format!("{HEADER}a,Ada,Lovelace,ada@example.com,1815-02-30,GB\n"),
        "line 2: date of birth \"1815-02-30\" must be a real date",
    );
    let done = refused(
        "email",
        "p.jsonl",
        "{\"firstName\":\"Ada\",\"lastName\":\"L\",\"email\":\"ada@example.com\",\"dateOfBirth\":\"1815-12-10\"}\n\
         {\"firstName\":\"Bob\",\"lastName\":\"S\",\"email\":\"not-an-email\",\"dateOfBirth\":\"1990-01-01\"}\n\
         {\"firstName\":\"Cy\",\"lastName\":\"T\",\"email\":\"cy@example\",\"dateOfBirth\":\"1990-01-01\"}\n",
        "2 invalid rows",
    );
    assert!(
        done.stderr
            .contains("line 2: email \"not-an-email\" is not an e-mail address")
    );
    assert!(done.stderr.contains("line 3: email \"cy@example\""));
    refused(
        "dup",
        "p.csv",
        &format!(
            "{HEADER}a,Ada,Lovelace,ada@example.com,1815-12-10,GB\na,Bob,Smith,bob@example.com,1990-01-01,\n"
        ),
        "line 3: duplicate ref \"a\" (first on line 2)",
    );
    refused("missing", "nope.csv", "", "").error_line();
}

#[test]
fn invalid_rows_can_be_skipped() {
    let dir = scratch("batch-skip");
    let input = dir.join("p.csv");
    std::fs::write(
        &input,
        format!("{HEADER}a,Ada,Lovelace,ada@example.com,1815-12-10,GB\nb,Bob,Smith,bob@,1990-01-01,\nc,Cy,Fail,cy@example.com,1990-01-01,\n"),
    )
    .unwrap();
    let state = dir.join("state.db");
    let sim = mock(MockConfig::instant());
    let store = ["--state", state.to_str().unwrap()];
    let mut args = vec!["run", "--input", input.to_str().unwrap(), "--skip-invalid"];
    args.extend_from_slice(&store);
    let done = batch(&sim, &args);
    // `Fail` is the simulator's magic last name for a failed job: exit 1.
    assert_eq!(done.code, 1, "{done:#?}");
    assert!(
        done.stderr.contains("skipped line 3: email \"bob@\""),
        "{done:#?}"
    );
    let rows = export(&sim, &store);
    let status: Vec<&str> = rows.iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(status, ["ready", "skipped", "failed"]);
    assert_eq!(rows[1]["ref"], "b");
    assert!(rows[2]["error"].as_str().is_some_and(|e| !e.is_empty()));
    let status = batch(
        &sim,
        &["status", "-o", "json", "--state", state.to_str().unwrap()],
    );
    let counts: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(counts["skipped"], 1);
    assert_eq!(counts["failed"], 1);
    assert_eq!(counts["total"], 3);
    let csv = batch(
        &sim,
        &[
            "export",
            "--format",
            "csv",
            "--state",
            state.to_str().unwrap(),
        ],
    );
    assert!(csv.stdout.starts_with("ref,line,firstName,"));
    assert_eq!(csv.stdout.lines().count(), 4, "{csv:#?}");
}

#[test]
fn a_state_that_cannot_be_used_is_refused_before_anything_is_sent() {
    let dir = scratch("batch-state");
    let a = people_csv(&dir, 3);
    let b = dir.join("other.csv");
    std::fs::write(&b, format!("{HEADER}z,Zed,Zee,z@example.com,1970-01-01,\n")).unwrap();
    let sim = mock(MockConfig::instant());

    let garbage = dir.join("garbage.db");
    std::fs::write(
        &garbage,
        "this is not a database, just text that is long enough to matter\n".repeat(40),
    )
    .unwrap();
    let done = batch_run(&sim, &a, &garbage, &[]);
    assert_eq!(done.code, 2, "{done:#?}");
    assert!(
        done.error_line().contains("cannot use state file"),
        "{done:#?}"
    );
    assert!(done.error_line().contains("not a database"), "{done:#?}");
    assert_eq!(done.stderr.lines().count(), 1);
    let done = batch(
        &sim,
        &["status", "--state", dir.join("absent.db").to_str().unwrap()],
    );
    assert_eq!(done.code, 2);
    assert!(done.error_line().contains("does not exist"));

    let state = dir.join("a.db");
    let state = state.to_str().unwrap();
    assert_eq!(
        batch(
            &sim,
            &["run", "--input", a.to_str().unwrap(), "--state", state]
        )
        .code,
        0
    );
    let sent = sim.requests().len();
    let done = batch(
        &sim,
        &["run", "--input", b.to_str().unwrap(), "--state", state],
    );
    assert_eq!(done.code, 2, "{done:#?}");
    assert!(
        done.error_line().contains("holds another batch"),
        "{done:#?}"
    );
    assert_eq!(sim.requests().len(), sent, "nothing sent");
    assert_eq!(export(&sim, &["--state", state]).len(), 3, "nothing lost");

    let done = batch(
        &sim,
        &[
            "run",
            "--input",
            a.to_str().unwrap(),
            "--database",
            "postgres://bob:s3cret@127.0.0.1:1/batch",
        ],
    );
    assert_eq!(done.code, 2, "{done:#?}");
    let line = done.error_line();
    assert!(
        line.contains("cannot connect to the database at postgres://bob:***@127.0.0.1:1/batch"),
        "{line}"
    );
    assert!(!done.stderr.contains("s3cret"));
    assert_eq!(sim.requests().len(), sent, "nothing sent");
}

#[test]
fn with_the_api_down_a_run_gives_up_with_7_and_keeps_its_state() {
    let dir = scratch("batch-down");
    let input = people_csv(&dir, 20);
    let state = dir.join("state.db");
    let sim = mock(MockConfig::instant());
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let start = Instant::now();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_deepidv"));
    let out = c
        .env("DEEPIDV_API_KEY", deepidv_mock::DEFAULT_API_KEY)
        .args([
            "--base-url",
            &url,
            "batch",
            "run",
            "--input",
            input.to_str().unwrap(),
        ])
        .args(["--state", state.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(7), "{stderr}");
    assert!(start.elapsed() < Duration::from_secs(60));
    assert!(
        stderr.lines().last().unwrap().starts_with("error: "),
        "{stderr}"
    );
    // The state is kept, and the next run (API back) finishes it.
    let status = batch(
        &sim,
        &["status", "-o", "json", "--state", state.to_str().unwrap()],
    );
    let counts: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(counts["queued"], 20, "{status:#?}");
    let done = batch_run(&sim, &input, &state, &[]);
    assert_eq!(done.code, 0, "{done:#?}");
    created_once_each(&sim, 20);
}

#[test]
fn a_wrong_key_stops_the_run_with_5_without_showing_it() {
    let dir = scratch("batch-key");
    let input = people_csv(&dir, 10);
    let state = dir.join("state.db");
    let sim = mock(MockConfig::instant());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_deepidv"))
        .env("DEEPIDV_API_KEY", "sk_test_wrong_secret_key")
        .args(["--base-url", &sim.url(), "batch", "run"])
        .args([
            "--input",
            input.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("401"),
        "{stderr}"
    );
    assert!(!stderr.contains("wrong_secret"), "{stderr}");
    assert_eq!(sim.stats().total_creations, 0);
    // The state is kept; with the right key the batch goes on.
    let done = batch_run(&sim, &input, &state, &[]);
    assert_eq!(done.code, 0, "{done:#?}");
    created_once_each(&sim, 10);
}

#[test]
fn a_person_the_api_refuses_is_given_up_and_the_others_go_on() {
    let dir = scratch("batch-refused");
    let input = people_csv(&dir, 5);
    let state = dir.join("state.db");
    let sim = mock(MockConfig::instant());
    // One at a time: the first request is the first person's creation. A 503 burst
    // after it is retried by the client; a 400 is this person's alone.
    sim.inject(
        deepidv_mock::Scope::All,
        deepidv_mock::Fault::Status {
            status: 400,
            body: deepidv_mock::ErrorBody::Json,
        },
        1,
    );
    sim.inject(
        deepidv_mock::Scope::All,
        deepidv_mock::Fault::Status {
            status: 503,
            body: deepidv_mock::ErrorBody::Html,
        },
        2,
    );
    let store = ["--state", state.to_str().unwrap()];
    let mut args = vec![
        "run",
        "--input",
        input.to_str().unwrap(),
        "--concurrency",
        "1",
    ];
    args.extend_from_slice(&store);
    let done = batch(&sim, &args);
    assert_eq!(done.code, 1, "{done:#?}");
    assert!(done.stdout.contains("gave up  1"), "{done:#?}");
    let rows = export(&sim, &store);
    assert_eq!(rows[0]["status"], "gave_up");
    assert!(
        rows[0]["error"].as_str().unwrap().contains("400"),
        "{}",
        rows[0]
    );
    assert!(rows[0]["jobId"].is_null());
    assert!(rows[1..].iter().all(|r| r["status"] == "ready"));
    assert_eq!(sim.stats().total_creations, 4);
}

#[test]
fn the_user_agent_suffix_is_on_every_request_and_a_bad_one_sends_nothing() {
    let dir = scratch("batch-user-agent");
    let input = people_csv(&dir, 3);
    let state = dir.join("state.db");
    let sim = mock(MockConfig::instant());
    let run = |suffix: &str| batch_run(&sim, &input, &state, &["--user-agent-suffix", suffix]);
    let done = run("crm-sync\u{7f}");
    assert_eq!(done.code, 2, "{done:#?}");
    assert_eq!(done.stderr.lines().count(), 1, "one line: {done:#?}");
    assert!(
        done.error_line()
            .starts_with("error: the user-agent suffix may hold only visible ASCII"),
        "{done:#?}"
    );
    assert!(sim.requests().is_empty());
    assert!(!state.exists(), "nothing stored either");

    let done = run("crm-sync/2.0");
    assert_eq!(done.code, 0, "{done:#?}");
    created_once_each(&sim, 3);
    let want = format!(
        "deepidv-rust/{} (cli batch) crm-sync/2.0",
        deepidv_core::VERSION
    );
    let requests = sim.requests();
    assert!(
        requests.len() >= 6,
        "3 creations and their polls: {requests:#?}"
    );
    for r in &requests {
        assert_eq!(
            r.header("user-agent"),
            Some(want.as_str()),
            "{} {}",
            r.method,
            r.path
        );
    }
}

#[test]
fn the_network_flags_apply_to_batch_too() {
    use deepidv_mock::TestPki;
    use deepidv_mock::proxy::ConnectProxy;
    let dir = scratch("batch-network");
    let input = people_csv(&dir, 3);
    let pki = TestPki::generate(&["127.0.0.1", "api.deepidv.test"]).unwrap();
    let ca = dir.join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let sim = mock(MockConfig {
        tls: Some(pki.tls()),
        ..MockConfig::instant()
    });
    let run = |state: &str, extra: &[&str]| {
        let state = dir.join(state);
        let mut args = vec!["run", "--input", input.to_str().unwrap()];
        args.extend_from_slice(&["--state", state.to_str().unwrap()]);
        args.extend_from_slice(extra);
        batch(&sim, &args)
    };

    // not trusted: exit 7, one line saying what to do, nothing created
    let done = run("untrusted.db", &[]);
    assert_eq!(done.code, 7, "{done:#?}");
    assert!(
        done.error_line().contains("certificate not trusted")
            && done.error_line().contains("--ca-cert"),
        "{done:#?}"
    );
    assert_eq!(sim.stats().total_creations, 0);

    // --ca-cert: every person screened
    let done = run("trusted.db", &["--ca-cert", ca.to_str().unwrap()]);
    assert_eq!(done.code, 0, "{done:#?}");
    created_once_each(&sim, 3);

    // --proxy: through a CONNECT tunnel to a host only the proxy can reach
    let proxy = ConnectProxy::start(sim.addr()).unwrap();
    let base = format!("https://api.deepidv.test:{}", sim.addr().port());
    let state = dir.join("proxied.db");
    let done = batch_run(
        &sim,
        &input,
        &state,
        &[
            "--ca-cert",
            ca.to_str().unwrap(),
            "--proxy",
            &proxy.url(),
            "--base-url",
            &base,
        ],
    );
    assert_eq!(done.code, 0, "{done:#?}");
    assert!(!proxy.tunnels().is_empty(), "no tunnel through the proxy");
    assert_eq!(sim.stats().total_creations, 6, "3 more, through the proxy");
    assert!(
        proxy
            .tunnels()
            .iter()
            .all(|t| t.target == format!("api.deepidv.test:{}", sim.addr().port()))
    );
}
