//! The `deepidv` binary end to end, over real loopback HTTP against the simulator:
//! every command, every exit code 0–8, and the misbehaviours the simulator injects.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpListener;
use std::time::Duration;

use common::*;
use deepidv_mock::{
    DEFAULT_API_KEY, ErrorBody, Fault, JobSpec, MockConfig, MockServer, Outcome, RetryAfter, Scope,
};

fn api_requests(mock: &MockServer) -> usize {
    mock.requests().len()
}

// ---------------------------------------------------------------- usage, exit 0 and 2

#[test]
fn help_and_version_exit_zero_and_never_show_the_key() {
    let secret = "sk_test_never_show_me_42";
    for args in [
        &["--help"][..],
        &["-h"],
        &["jobs", "wait", "--help"],
        &["mock", "--help"],
        &["man"],
        &["completions", "zsh"],
    ] {
        let r = run_env(args, &[("DEEPIDV_API_KEY", secret)]);
        r.code(0);
        assert!(r.stdout.contains("deepidv"), "{r:#?}");
        assert!(!r.stdout.contains(secret) && !r.stderr.contains(secret));
    }
    let r = run(&["--version"]);
    r.code(0);
    assert!(r.stdout.starts_with("deepidv "), "{r:#?}");
    let help = run(&["jobs", "wait", "--help"]);
    for flag in ["--timeout", "--interval", "--max-interval"] {
        assert!(help.stdout.contains(flag), "{flag}: {help:#?}");
    }
}

#[test]
fn bad_flags_exit_two() {
    let mock = instant();
    for args in [
        &["jobs", "get"][..],
        &["jobs", "frobnicate", "x"],
        &["--no-such-flag", "demo"],
        &["jobs", "wait", "j", "--timeout", "soon"],
        &["jobs", "wait", "j", "--interval", "-1s"],
        &["-o", "yaml", "jobs", "get", "j"],
        &["screening", "adverse-media", "--first-name", "A"],
        &[],
    ] {
        let r = run_mock(&mock, args);
        r.code(2);
        assert!(r.stdout.is_empty(), "{r:#?}");
        assert!(
            r.stderr.starts_with("error:") || r.stderr.contains("Usage:"),
            "{r:#?}"
        );
    }
    assert_eq!(api_requests(&mock), 0, "no request for a usage error");
}

#[test]
fn missing_key_exits_two_before_any_request() {
    let mock = instant();
    let url = mock.url();
    for args in [
        &["--base-url", url.as_str(), "jobs", "get", "job_1"][..],
        &["--base-url", url.as_str(), "jobs", "wait", "job_1"],
        &["--base-url", url.as_str(), "jobs", "watch", "job_1"],
        &[
            "--base-url",
            url.as_str(),
            "screening",
            "adverse-media",
            "--first-name",
            "A",
            "--last-name",
            "B",
            "--email",
            "a@b.co",
            "--date-of-birth",
            "1990-01-01",
        ],
    ] {
        let r = run(args);
        r.code(2);
        assert_eq!(
            r.error_line(),
            "error: no API key: set DEEPIDV_API_KEY or pass --api-key"
        );
        assert!(r.stdout.is_empty());
    }
    // an empty variable is no key either
    let r = run_env(
        &["--base-url", url.as_str(), "jobs", "get", "job_1"],
        &[("DEEPIDV_API_KEY", "")],
    );
    r.code(2);
    assert!(r.error_line().contains("DEEPIDV_API_KEY"));
    assert_eq!(api_requests(&mock), 0);
}

#[test]
fn invalid_job_ids_exit_two_before_any_request() {
    let mock = instant();
    for id in ["a/b", "..", "x?y=1", "a#b", "with space", &"j".repeat(300)] {
        let r = run_mock(&mock, &["jobs", "get", id]);
        r.code(2);
        assert!(r.error_line().contains("invalid job id"), "{r:#?}");
    }
    let r = run_mock(&mock, &["jobs", "get", "bad\u{1b}[2Jid"]);
    r.code(2);
    assert!(
        !r.stderr.contains('\u{1b}'),
        "control characters escaped: {r:#?}"
    );
    assert!(r.stderr.contains("\\u{1b}"));
    assert_eq!(api_requests(&mock), 0);
}

#[test]
fn plain_http_to_a_remote_host_exits_two() {
    for url in [
        "http://example.com",
        "http://10.1.2.3:8080",
        "ftp://127.0.0.1",
    ] {
        let r = run_env(
            &["--base-url", url, "jobs", "get", "job_1"],
            &[("DEEPIDV_API_KEY", DEFAULT_API_KEY)],
        );
        r.code(2);
        assert!(r.error_line().contains("invalid base URL"), "{r:#?}");
    }
    // from the environment too
    let r = run_env(
        &["jobs", "get", "job_1"],
        &[
            ("DEEPIDV_API_KEY", DEFAULT_API_KEY),
            ("DEEPIDV_BASE_URL", "http://example.com"),
        ],
    );
    r.code(2);
    assert!(r.error_line().contains("plain http"));
}

#[test]
fn invalid_screening_input_exits_two_before_any_request() {
    let mock = instant();
    let base = [
        "screening",
        "adverse-media",
        "--first-name",
        "Ada",
        "--last-name",
        "Lovelace",
    ];
    for (email, dob, country) in [
        ("not-an-email", "1990-01-01", "GB"),
        ("ada@example.com", "1990-02-30", "GB"),
        ("ada@example.com", "01/02/1990", "GB"),
        ("ada@example.com", "1990-01-01", "GBR"),
    ] {
        let mut args = base.to_vec();
        args.extend([
            "--email",
            email,
            "--date-of-birth",
            dob,
            "--country",
            country,
        ]);
        let r = run_mock(&mock, &args);
        r.code(2);
        r.error_line();
    }
    let mut args = base.to_vec();
    args.extend([
        "--email",
        "ada@example.com",
        "--date-of-birth",
        "1990-01-01",
        "--idempotency-key",
        "has space",
    ]);
    run_mock(&mock, &args).code(2);
    assert_eq!(api_requests(&mock), 0);
}

// ---------------------------------------------------------------- jobs get

#[test]
fn get_ready_job_text() {
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    let r = run_mock(&mock, &["jobs", "get", &id]);
    r.code(0);
    let mut lines = r.stdout.lines();
    assert_eq!(lines.next(), Some(format!("job {id}: ready").as_str()));
    for field in [
        "risk level: ",
        "risk score: ",
        "total hits: ",
        "summary: ",
        "findings: ",
    ] {
        assert!(r.stdout.contains(field), "{field}: {r:#?}");
    }
    assert!(
        r.stderr.is_empty(),
        "no spinner or noise when stderr is a pipe: {r:#?}"
    );
    assert!(
        !r.stdout.contains('\u{1b}'),
        "no colour when stdout is a pipe"
    );
    let req = &mock.requests()[0];
    assert_eq!(req.path, format!("/v1/async-jobs/{id}"));
    assert_eq!(req.header("x-api-key"), Some(DEFAULT_API_KEY));
    assert!(req.header("user-agent").unwrap().ends_with("(cli)"));
}

// ---------------------------------------------------------------- the user-agent suffix

/// The `User-Agent` of the simulator's only request so far.
fn only_user_agent(mock: &MockServer) -> String {
    let requests = mock.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    requests[0].header("user-agent").unwrap().to_owned()
}

fn cli_user_agent(suffix: Option<&str>) -> String {
    match suffix {
        Some(s) => format!("deepidv-rust/{} (cli) {s}", deepidv_core::VERSION),
        None => format!("deepidv-rust/{} (cli)", deepidv_core::VERSION),
    }
}

#[test]
fn user_agent_suffix_from_the_flag_or_the_environment_reaches_the_wire() {
    let env = deepidv_core::USER_AGENT_SUFFIX_ENV;
    assert_eq!(env, "DEEPIDV_USER_AGENT_SUFFIX");
    let help = run(&["--help"]);
    help.code(0);
    assert!(
        help.stdout.contains("--user-agent-suffix <TEXT>") && help.stdout.contains(env),
        "{help:#?}"
    );
    // `deepidv FLAGS jobs get JOB` with the variables VARS: the User-Agent the simulator saw.
    let sent = |flags: &[&str], vars: &[(&str, &str)]| {
        let mock = instant();
        let id = job(&mock, Outcome::Ready);
        let url = mock.url();
        let mut args = vec!["--base-url", url.as_str()];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["jobs", "get", &id]);
        let mut all_env = vec![("DEEPIDV_API_KEY", DEFAULT_API_KEY)];
        all_env.extend_from_slice(vars);
        run_env(&args, &all_env).code(0);
        only_user_agent(&mock)
    };
    let flag = |suffix| ["--user-agent-suffix", suffix];
    assert_eq!(
        sent(&flag("myapp/1.2"), &[]),
        cli_user_agent(Some("myapp/1.2"))
    );
    assert_eq!(
        sent(&[], &[(env, "envapp/3.4 (linux)")]),
        cli_user_agent(Some("envapp/3.4 (linux)"))
    );
    // the flag wins over the environment
    assert_eq!(
        sent(&flag("myapp/1.2"), &[(env, "envapp/3.4")]),
        cli_user_agent(Some("myapp/1.2"))
    );
    // spaces around are dropped; a blank variable is unset, as for Config::from_env
    assert_eq!(
        sent(&flag("  spaced/1  "), &[]),
        cli_user_agent(Some("spaced/1"))
    );
    assert_eq!(sent(&[], &[(env, "   ")]), cli_user_agent(None));
    assert_eq!(sent(&[], &[]), cli_user_agent(None));
    // a global flag: after the command too
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    run_mock(
        &mock,
        &["jobs", "get", &id, "--user-agent-suffix", "late/1"],
    )
    .code(0);
    assert_eq!(only_user_agent(&mock), cli_user_agent(Some("late/1")));
}

#[test]
fn a_bad_user_agent_suffix_exits_two_with_one_line_before_any_request() {
    let env = deepidv_core::USER_AGENT_SUFFIX_ENV;
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    let long = "a".repeat(deepidv_core::MAX_USER_AGENT_SUFFIX + 1);
    for (bad, says) in [
        ("myapp\r\nX-Evil: 1", "visible ASCII"),
        ("myapp\u{1b}[31m", "visible ASCII"),
        ("appé/1", "visible ASCII"),
        ("", "empty"),
        (long.as_str(), "at most 128"),
    ] {
        let r = run_mock(&mock, &["--user-agent-suffix", bad, "jobs", "get", &id]);
        r.code(2);
        let line = r.error_line();
        assert!(
            line.starts_with("error: the user-agent suffix") && line.contains(says),
            "{bad:?}: {r:#?}"
        );
        assert!(
            !r.stderr.contains('\u{1b}') && r.stdout.is_empty(),
            "{r:#?}"
        );
        // the same from the environment, which the message names
        let url = mock.url();
        let r = run_env(
            &["--base-url", &url, "jobs", "wait", &id],
            &[("DEEPIDV_API_KEY", DEFAULT_API_KEY), (env, bad)],
        );
        if bad.trim().is_empty() {
            r.code(0); // a blank variable is unset
            continue;
        }
        r.code(2);
        let line = r.error_line();
        assert!(
            line.starts_with("error: DEEPIDV_USER_AGENT_SUFFIX: the user-agent suffix")
                && line.contains(says),
            "{bad:?}: {r:#?}"
        );
    }
    // only the one run with a blank variable reached the simulator
    assert_eq!(api_requests(&mock), 1);
    assert_eq!(only_user_agent(&mock), cli_user_agent(None));
    // screenings are checked before anything is sent too
    let r = run_mock(
        &mock,
        &[
            "screening",
            "adverse-media",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            "ada@example.com",
            "--date-of-birth",
            "1815-12-10",
            "--user-agent-suffix",
            "bad\tsuffix",
        ],
    );
    r.code(2);
    assert!(r.error_line().contains("user-agent suffix"), "{r:#?}");
    assert_eq!(api_requests(&mock), 1);
}

#[test]
fn get_json_is_the_api_document() {
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    let r = run_mock(&mock, &["-o", "json", "jobs", "get", &id]);
    r.code(0);
    let v = r.json();
    assert_eq!(v["jobId"], id.as_str());
    assert_eq!(v["status"], "ready");
    assert!(v["createdAt"].is_number());
    assert!(v["updatedAt"].is_string());
    assert!(v["result"]["riskLevel"].is_string());
    assert!(v["result"]["exposuresByCategory"].is_object());
    // flags after the command work too
    let r2 = run_mock(&mock, &["jobs", "get", &id, "--output", "json"]);
    r2.code(0);
    assert_eq!(r2.json(), v);
}

#[test]
fn get_failed_job_exits_zero() {
    let mock = instant();
    let id = job(&mock, Outcome::Failed("provider unavailable".into()));
    let r = run_mock(&mock, &["jobs", "get", &id]);
    r.code(0);
    assert_eq!(
        r.stdout,
        format!("job {id}: failed\nreason: provider unavailable\n")
    );
    assert!(r.stderr.is_empty());
    let r = run_mock(&mock, &["-o", "json", "jobs", "get", &id]);
    r.code(0);
    assert_eq!(r.json()["error"], "provider unavailable");
}

#[test]
fn get_pending_job_and_late_api_key() {
    let mock = instant();
    let id = slow_job(&mock, Outcome::Ready, 60_000, 0);
    let url = mock.url();
    // the key after the command, not in the environment
    let r = run(&[
        "--base-url",
        &url,
        "jobs",
        "get",
        &id,
        "--api-key",
        DEFAULT_API_KEY,
    ]);
    r.code(0);
    assert_eq!(r.stdout, format!("job {id}: pending\n"));
}

#[test]
fn not_found_exits_four() {
    let mock = instant();
    let r = run_mock(&mock, &["jobs", "get", "job_does_not_exist"]);
    r.code(4);
    let line = r.error_line();
    assert!(
        line.contains("HTTP 404") && line.contains("request id req_"),
        "{line}"
    );
    assert!(r.stdout.is_empty());
    run_mock(&mock, &["jobs", "wait", "job_does_not_exist"]).code(4);
}

#[test]
fn expired_during_a_wait_exits_four_and_says_so() {
    let mock = instant();
    let id = slow_job(&mock, Outcome::Ready, 60_000, 0);
    let child = spawn_mock(
        &mock,
        &[
            "jobs",
            "wait",
            &id,
            "--interval",
            "50ms",
            "--max-interval",
            "50ms",
        ],
    );
    // let it see the job at least once, then expire it
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while mock.requests().iter().all(|r| r.status != 200) {
        assert!(std::time::Instant::now() < deadline, "never polled");
        std::thread::sleep(Duration::from_millis(20));
    }
    mock.expire(&id);
    let r = collect(child);
    r.code(4);
    assert!(r.error_line().contains("expired"), "{r:#?}");
}

#[test]
fn unauthorized_exits_five_and_never_prints_the_key() {
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    let url = mock.url();
    let wrong = "sk_test_wrong_but_secret_9f3a";
    let r = run_env(
        &["--base-url", &url, "jobs", "get", &id],
        &[("DEEPIDV_API_KEY", wrong)],
    );
    r.code(5);
    assert!(r.error_line().contains("HTTP 401"), "{r:#?}");
    assert!(!r.stderr.contains(wrong) && !r.stdout.contains(wrong));
    let r = run(&["--base-url", &url, "--api-key", wrong, "jobs", "wait", &id]);
    r.code(5);
    assert!(!r.stderr.contains(wrong));
}

#[test]
fn another_organizations_job_exits_five() {
    let mock = MockServer::start_background(MockConfig {
        api_keys: vec![
            ("sk_test_org_a_key".into(), "org_a".into()),
            ("sk_test_org_b_key".into(), "org_b".into()),
        ],
        ..MockConfig::instant()
    })
    .unwrap();
    let id = mock.insert_job(JobSpec {
        org: Some("org_b".into()),
        ..JobSpec::default()
    });
    let url = mock.url();
    let r = run(&[
        "--base-url",
        &url,
        "--api-key",
        "sk_test_org_a_key",
        "jobs",
        "get",
        &id,
    ]);
    r.code(5);
    assert!(r.error_line().contains("HTTP 403"), "{r:#?}");
    run(&[
        "--base-url",
        &url,
        "--api-key",
        "sk_test_org_b_key",
        "jobs",
        "get",
        &id,
    ])
    .code(0);
}

#[test]
fn rejected_exits_six() {
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    mock.inject(
        Scope::Job(id.clone()),
        Fault::Status {
            status: 400,
            body: ErrorBody::Json,
        },
        1,
    );
    let r = run_mock(&mock, &["jobs", "get", &id]);
    r.code(6);
    assert!(r.error_line().contains("HTTP 400"), "{r:#?}");
    assert_eq!(api_requests(&mock), 1, "a 400 is not retried");

    // 402 with a plain-text body, on the create call
    mock.inject(
        Scope::All,
        Fault::Status {
            status: 402,
            body: ErrorBody::Text,
        },
        1,
    );
    let r = run_mock(
        &mock,
        &[
            "screening",
            "adverse-media",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            "ada@example.com",
            "--date-of-birth",
            "1990-01-01",
        ],
    );
    r.code(6);
    let line = r.error_line();
    assert!(
        line.contains("HTTP 402") && line.contains("Insufficient funds or subscription."),
        "{line}"
    );

    // an e-mail longer than the API's 254-character limit is caught before any request
    let email = format!("{}@example.com", "a".repeat(260));
    let r = run_mock(
        &mock,
        &[
            "screening",
            "adverse-media",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            &email,
            "--date-of-birth",
            "1990-01-01",
        ],
    );
    r.code(2);
    assert!(r.error_line().contains("email"), "{r:#?}");
}

#[test]
fn unavailable_after_retries_exits_seven_with_the_html_title() {
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    mock.inject(
        Scope::All,
        Fault::Status {
            status: 502,
            body: ErrorBody::Html,
        },
        50,
    );
    let r = run_mock(&mock, &["jobs", "get", &id]);
    r.code(7);
    let line = r.error_line();
    assert!(
        line.contains("HTTP 502") && line.contains("502 Bad Gateway"),
        "{line}"
    );
    assert!(
        !line.contains("<html") && !line.contains("<title"),
        "{line}"
    );
    assert!(line.contains("gave up"), "{line}");
    assert_eq!(api_requests(&mock), 4, "one try and three retries");
}

#[test]
fn unavailable_503_on_create_exits_seven_reusing_the_idempotency_key() {
    let mock = instant();
    mock.inject(
        Scope::All,
        Fault::Status {
            status: 503,
            body: ErrorBody::Json,
        },
        50,
    );
    let r = run_mock(
        &mock,
        &[
            "screening",
            "adverse-media",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
            "--email",
            "ada@example.com",
            "--date-of-birth",
            "1990-01-01",
            "--wait",
        ],
    );
    r.code(7);
    assert!(r.error_line().contains("HTTP 503"), "{r:#?}");
    let reqs = mock.requests();
    assert!(reqs.len() > 1);
    let key = reqs[0].header("idempotency-key").unwrap().to_owned();
    assert!(
        reqs.iter()
            .all(|q| q.header("idempotency-key") == Some(key.as_str()))
    );
}

#[test]
fn per_request_timeout_exits_seven() {
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    mock.inject(Scope::All, Fault::Delay(Duration::from_secs(3)), 50);
    let r = run_mock(&mock, &["--request-timeout", "150ms", "jobs", "get", &id]);
    r.code(7);
    assert!(r.error_line().contains("timed out"), "{r:#?}");
    assert!(r.elapsed < Duration::from_secs(6), "{r:#?}");
}

#[test]
fn invalid_responses_exit_eight() {
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    for (fault, needle) in [
        (Fault::Malformed, "not a valid job"),
        (Fault::WrongShape, "not a valid job"),
        (Fault::Oversized(17_000_000), "byte limit"),
    ] {
        mock.inject(Scope::Job(id.clone()), fault, 1);
        let r = run_mock(&mock, &["jobs", "get", &id]);
        r.code(8);
        assert!(r.error_line().contains(needle), "{r:#?}");
        assert!(r.stdout.is_empty());
    }
}

// ---------------------------------------------------------------- jobs wait

#[test]
fn wait_until_ready_exits_zero() {
    let mock = instant();
    let id = slow_job(&mock, Outcome::Ready, 150, 150);
    let mut args = vec!["jobs", "wait", id.as_str()];
    args.extend(FAST);
    let r = run_mock(&mock, &args);
    r.code(0);
    assert!(
        r.stdout
            .starts_with(&format!("job {id}: ready\nrisk level: ")),
        "{r:#?}"
    );
    assert!(
        r.stderr.is_empty(),
        "no spinner when stderr is not a terminal: {r:#?}"
    );
    assert!(
        mock.requests().len() >= 3,
        "polled through pending and processing"
    );
}

#[test]
fn wait_for_a_failed_job_exits_one_and_prints_it() {
    let mock = instant();
    let id = slow_job(&mock, Outcome::Failed("document unreadable".into()), 50, 50);
    let mut args = vec!["-o", "json", "jobs", "wait", id.as_str()];
    args.extend(FAST);
    let r = run_mock(&mock, &args);
    r.code(1);
    let v = r.json();
    assert_eq!(v["status"], "failed");
    assert_eq!(v["error"], "document unreadable");
    assert_eq!(
        r.error_line(),
        format!("error: job {id} failed: document unreadable")
    );
}

#[test]
fn wait_timeout_exits_three() {
    let mock = instant();
    let id = slow_job(&mock, Outcome::Ready, 60_000, 0);
    let r = run_mock(
        &mock,
        &[
            "jobs",
            "wait",
            &id,
            "--timeout",
            "300ms",
            "--interval",
            "50ms",
        ],
    );
    r.code(3);
    let line = r.error_line();
    assert!(
        line.contains("did not finish") && line.contains("pending"),
        "{line}"
    );
    assert!(r.stdout.is_empty());
    assert!(r.elapsed < Duration::from_secs(3), "{r:#?}");
}

#[test]
fn wait_retries_429_and_dropped_connections() {
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    mock.inject(
        Scope::All,
        Fault::RateLimit {
            retry_after: RetryAfter::Seconds(1),
        },
        1,
    );
    mock.inject(Scope::All, Fault::Drop, 1);
    let mut args = vec!["-o", "json", "jobs", "wait", id.as_str()];
    args.extend(FAST);
    let r = run_mock(&mock, &args);
    r.code(0);
    assert_eq!(r.json()["status"], "ready");
    let statuses: Vec<u16> = mock.requests().iter().map(|q| q.status).collect();
    assert_eq!(statuses, [429, 0, 200], "429, dropped, then the answer");
    assert!(
        r.elapsed >= Duration::from_millis(900),
        "Retry-After honoured: {r:#?}"
    );
}

#[test]
fn wait_tolerates_unknown_and_legacy_statuses() {
    let mock = instant();
    let id = job(&mock, Outcome::Ready);
    mock.inject(
        Scope::Job(id.clone()),
        Fault::UnknownStatus("on_hold".into()),
        2,
    );
    mock.inject(Scope::Job(id.clone()), Fault::Legacy, 1);
    // a get reports the unknown status as is
    let r = run_mock(&mock, &["jobs", "get", &id]);
    r.code(0);
    assert_eq!(r.stdout, format!("job {id}: on_hold\n"));
    // a wait keeps polling through it, then reads the legacy form
    let mut args = vec!["-o", "json", "jobs", "wait", id.as_str()];
    args.extend(FAST);
    let r = run_mock(&mock, &args);
    r.code(0);
    assert_eq!(r.json()["status"], "ready");
}

// ---------------------------------------------------------------- jobs watch

#[test]
fn watch_prints_one_line_per_status_change() {
    let mock = instant();
    let id = slow_job(&mock, Outcome::Ready, 400, 400);
    let mut args = vec!["jobs", "watch", id.as_str()];
    args.extend(FAST);
    let r = run_mock(&mock, &args);
    r.code(0);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{r:#?}");
    assert_eq!(lines[0], format!("job {id}: pending"));
    assert_eq!(lines[1], format!("job {id}: processing"));
    assert!(
        lines[2].starts_with(&format!("job {id}: ready (risk ")),
        "{r:#?}"
    );
    assert!(mock.requests().len() > 3, "several polls, fewer lines");
}

#[test]
fn watch_json_lines_and_failed_exit_one() {
    let mock = instant();
    let id = slow_job(&mock, Outcome::Failed("no match".into()), 400, 400);
    let mut args = vec!["-o", "json", "jobs", "watch", id.as_str()];
    args.extend(FAST);
    let r = run_mock(&mock, &args);
    r.code(1);
    let docs: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let statuses: Vec<&str> = docs.iter().map(|d| d["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["pending", "processing", "failed"]);
    assert!(docs.iter().all(|d| d["jobId"] == id.as_str()));
    assert_eq!(docs[2]["error"], "no match");
    assert!(r.error_line().contains("failed: no match"));
}

#[test]
fn watch_timeout_exits_three() {
    let mock = instant();
    let id = slow_job(&mock, Outcome::Ready, 60_000, 0);
    let r = run_mock(
        &mock,
        &[
            "jobs",
            "watch",
            &id,
            "--timeout",
            "200ms",
            "--interval",
            "50ms",
        ],
    );
    r.code(3);
    assert_eq!(r.stdout, format!("job {id}: pending\n"));
    r.error_line();
}

// ---------------------------------------------------------------- screening

const PERSON: [&str; 10] = [
    "screening",
    "adverse-media",
    "--first-name",
    "Grace",
    "--last-name",
    "Hopper",
    "--email",
    "grace@example.com",
    "--date-of-birth",
    "1906-12-09",
];

#[test]
fn screening_without_wait_prints_the_created_job() {
    let mock = MockServer::start_background(MockConfig {
        pending: Duration::from_secs(60),
        ..MockConfig::default()
    })
    .unwrap();
    let mut args = PERSON.to_vec();
    args.extend(["--country", "us"]);
    let r = run_mock(&mock, &args);
    r.code(0);
    let first = r.stdout.lines().next().unwrap();
    assert!(
        first.starts_with("job job_") && first.ends_with(": pending"),
        "{r:#?}"
    );
    let req = &mock.requests()[0];
    assert_eq!(req.method, "POST");
    assert!(req.header("idempotency-key").is_some_and(|k| !k.is_empty()));
    let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["firstName"], "Grace");
    assert_eq!(body["country"], "US");

    let mut json_args = vec!["-o", "json"];
    json_args.extend(PERSON);
    let r = run_mock(&mock, &json_args);
    r.code(0);
    let v = r.json();
    assert!(v["jobId"].as_str().unwrap().starts_with("job_"));
    assert_eq!(v["status"], "pending");
    assert!(v["message"].is_string());
    assert_eq!(
        v.as_object().unwrap().len(),
        3,
        "the API's fields only: {v}"
    );
}

#[test]
fn screening_idempotency_key_replays() {
    let mock = instant();
    let mut args = vec!["-o", "json"];
    args.extend(PERSON);
    args.extend(["--idempotency-key", "cli-test-key-1"]);
    let a = run_mock(&mock, &args);
    let b = run_mock(&mock, &args);
    a.code(0);
    b.code(0);
    assert_eq!(a.json()["jobId"], b.json()["jobId"]);
    let mut text = PERSON.to_vec();
    text.extend(["--idempotency-key", "cli-test-key-1"]);
    let c = run_mock(&mock, &text);
    c.code(0);
    assert!(c.stdout.contains("replayed"), "{c:#?}");
    assert!(
        mock.requests()
            .iter()
            .all(|q| q.header("idempotency-key") == Some("cli-test-key-1"))
    );
}

#[test]
fn screening_with_wait_prints_the_result() {
    let mock = MockServer::start_background(MockConfig {
        pending: Duration::from_millis(100),
        processing: Duration::from_millis(100),
        ..MockConfig::default()
    })
    .unwrap();
    let mut args = PERSON.to_vec();
    args.push("--wait");
    args.extend(FAST);
    let r = run_mock(&mock, &args);
    r.code(0);
    assert!(
        r.stdout.lines().next().unwrap().ends_with(": ready"),
        "{r:#?}"
    );
    assert!(r.stdout.contains("risk level: "));

    // the magic "Clean" person: LOW, no findings, no exposures
    let clean = [
        "-o",
        "json",
        "screening",
        "adverse-media",
        "--first-name",
        "Ann",
        "--last-name",
        "Clean",
        "--email",
        "ann@example.com",
        "--date-of-birth",
        "1970-01-01",
        "--wait",
        "--interval",
        "50ms",
    ];
    let r = run_mock(&mock, &clean);
    r.code(0);
    let v = r.json();
    assert_eq!(v["result"]["riskLevel"], "LOW");
    assert_eq!(v["result"]["totalHits"], 0);

    // the magic "Fail" person: exit 1, the failed job printed
    let fail = [
        "screening",
        "adverse-media",
        "--first-name",
        "Ann",
        "--last-name",
        "Fail",
        "--email",
        "ann@example.com",
        "--date-of-birth",
        "1970-01-01",
        "--wait",
        "--interval",
        "50ms",
    ];
    let r = run_mock(&mock, &fail);
    r.code(1);
    assert!(r.stdout.contains(": failed\nreason: "), "{r:#?}");
    assert!(r.error_line().contains("failed"));
}

// ---------------------------------------------------------------- safety of output

#[test]
fn server_text_is_escaped_and_the_key_redacted() {
    let mock = instant();
    let evil = format!("bad \u{1b}[31mred\u{1b}[0m \u{202e}txt key={DEFAULT_API_KEY}");
    let id = job(&mock, Outcome::Failed(evil));
    let r = run_mock(&mock, &["jobs", "get", &id]);
    r.code(0);
    assert!(
        !r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{202e}'),
        "{r:#?}"
    );
    assert!(r.stdout.contains("\\u{1b}[31mred") && r.stdout.contains("\\u{202e}txt"));
    assert!(!r.stdout.contains(DEFAULT_API_KEY), "{r:#?}");
    assert!(r.stdout.contains("[REDACTED]"));
    let r = run_mock(&mock, &["-o", "json", "jobs", "get", &id]);
    r.code(0);
    assert!(!r.stdout.contains(DEFAULT_API_KEY), "{r:#?}");
    assert!(r.json()["error"].as_str().unwrap().contains("[REDACTED]"));
    let mut args = vec!["jobs", "wait", id.as_str()];
    args.extend(FAST);
    let r = run_mock(&mock, &args);
    r.code(1);
    assert!(
        !r.stdout.contains(DEFAULT_API_KEY) && !r.stderr.contains(DEFAULT_API_KEY),
        "{r:#?}"
    );
}

/// A one-shot server that answers 401 with a message echoing the key it was sent.
#[test]
fn a_server_echoing_the_key_never_gets_it_printed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut key = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("x-api-key:") {
                key = line[line.len() - v.len()..].trim().to_owned();
            }
        }
        let body = format!("{{\"message\":\"API key {key} is not valid\"}}");
        write!(
            stream,
            "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\nx-request-id: req_echo\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let _ = stream.read(&mut [0u8; 16]);
        key
    });
    let secret = "sk_live_echoed_back_7c1d";
    let r = run_env(
        &["--base-url", &url, "jobs", "get", "job_1"],
        &[("DEEPIDV_API_KEY", secret)],
    );
    assert_eq!(server.join().unwrap(), secret, "the server did see the key");
    r.code(5);
    let line = r.error_line();
    assert!(
        line.contains("[REDACTED]") && line.contains("req_echo"),
        "{line}"
    );
    assert!(!r.stderr.contains(secret) && !r.stdout.contains(secret));
}

// ---------------------------------------------------------------- demo, mock, completions

#[test]
fn demo_runs_the_whole_flow() {
    let r = run(&["demo"]);
    r.code(0);
    assert!(
        r.stdout.lines().next().unwrap().ends_with(": ready"),
        "{r:#?}"
    );
    assert!(r.stdout.contains("risk level: "));
    let statuses: Vec<&str> = r
        .stderr
        .lines()
        .filter_map(|l| l.rsplit_once(": ").map(|(_, s)| s))
        .filter(|s| ["pending", "processing", "ready"].contains(s))
        .collect();
    assert_eq!(statuses, ["pending", "processing", "ready"], "{r:#?}");
    let r = run(&["-o", "json", "demo"]);
    r.code(0);
    assert_eq!(r.json()["status"], "ready");
}

#[test]
fn mock_prints_listening_first_and_serves() {
    let mut child = command()
        .args([
            "mock",
            "--addr",
            "127.0.0.1:0",
            "--pending",
            "0ms",
            "--processing",
            "0ms",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let url = first
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("first line: {first:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let mut args = vec![
        "--base-url",
        url.as_str(),
        "--api-key",
        DEFAULT_API_KEY,
        "-o",
        "json",
    ];
    args.extend(PERSON);
    args.extend(["--wait", "--interval", "50ms"]);
    let r = run(&args);
    child.kill().unwrap();
    child.wait().unwrap();
    r.code(0);
    assert_eq!(r.json()["status"], "ready");
}

#[test]
fn mock_on_a_busy_address_exits_two() {
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let r = run(&["mock", "--addr", &addr]);
    r.code(2);
    r.error_line();
}

#[test]
fn completions() {
    let r = run(&["completions", "bash"]);
    r.code(0);
    assert!(r.stdout.contains("deepidv") && r.stdout.contains("adverse-media"));
    run(&["completions", "nosuchshell"]).code(2);
    let r = run(&["man"]);
    r.code(0);
    assert!(
        r.stdout.contains(".TH deepidv") && r.stdout.contains("demo"),
        "{r:#?}"
    );
}
