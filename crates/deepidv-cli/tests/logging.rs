//! `-v`, `-vv`, `DEEPIDV_LOG` and `RUST_LOG` end to end against the simulator
//! with faults: what each level shows on stderr, stdout unchanged by logging,
//! and the API key in no line, even when the server echoes it.

mod common;

use common::*;
use deepidv_mock::{DEFAULT_API_KEY, ErrorBody, Fault, MockServer, Outcome, RetryAfter, Scope};

/// A failed job whose first polls meet a 503, a 429 (`Retry-After: 1`) and an
/// answer echoing the API key as the job's status.
fn faulty() -> (MockServer, String) {
    let mock = instant();
    let id = job(&mock, Outcome::Failed("provider down".into()));
    let scope = Scope::Job(id.clone());
    let s503 = Fault::Status {
        status: 503,
        body: ErrorBody::Json,
    };
    mock.inject(scope.clone(), s503, 1);
    let s429 = Fault::RateLimit {
        retry_after: RetryAfter::Seconds(1),
    };
    mock.inject(scope.clone(), s429, 1);
    mock.inject(scope, Fault::UnknownStatus(DEFAULT_API_KEY.into()), 1);
    (mock, id)
}

fn wait(flags: &[&str], env: &[(&str, &str)]) -> (Run, String) {
    let (mock, id) = faulty();
    let url = mock.url();
    let mut args = vec!["--base-url", url.as_str()];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["jobs", "wait", &id]);
    let mut all_env = vec![("DEEPIDV_API_KEY", DEFAULT_API_KEY)];
    all_env.extend_from_slice(env);
    let r = run_env(&args, &all_env);
    r.code(1);
    for line in r.stderr.lines() {
        assert!(!line.contains(DEFAULT_API_KEY), "{line}");
        assert!(
            !line.contains('\x1b'),
            "no ANSI when not a terminal: {line:?}"
        );
    }
    assert!(!r.stdout.contains(DEFAULT_API_KEY), "{r:#?}");
    (r, id)
}

#[test]
fn each_level_shows_its_events_on_stderr_and_stdout_never_changes() {
    let (quiet, id) = wait(&[], &[]);
    assert_eq!(quiet.stderr.lines().count(), 1, "{quiet:#?}");
    assert!(quiet.stderr.starts_with("error: "), "{quiet:#?}");

    let (v, _) = wait(&["-v"], &[]);
    let (vv, _) = wait(&["-vv"], &[]);
    // stdout holds the same failed job whatever the verbosity (the ids differ per simulator).
    let norm = |r: &Run, own: &str| r.stdout.replace(own, "ID");
    assert!(!quiet.stdout.is_empty());
    let q = norm(&quiet, &id);
    for r in [&v, &vv] {
        let own = r
            .stdout
            .lines()
            .find_map(|l| l.split_whitespace().find(|w| w.starts_with("job_")));
        let own = own
            .unwrap_or_else(|| panic!("{r:#?}"))
            .trim_end_matches(':');
        assert_eq!(norm(r, own), q, "{r:#?}");
    }

    // -v: retries (warn) and status changes (info), not each request.
    assert!(v.stderr.contains("WARN"), "{v:#?}");
    assert!(v.stderr.contains("retry after 1 failure in "), "{v:#?}");
    assert!(
        v.stderr.contains("retry after 2 failures in 1000 ms"),
        "{v:#?}"
    );
    assert!(v.stderr.contains("INFO"), "{v:#?}");
    assert!(v.stderr.contains("status [REDACTED]"), "{v:#?}");
    assert!(v.stderr.contains("status failed"), "{v:#?}");
    assert!(!v.stderr.contains("-> HTTP"), "{v:#?}");
    assert!(!v.stderr.contains("DEBUG"), "{v:#?}");
    assert!(
        v.stderr.lines().last().unwrap().starts_with("error: "),
        "{v:#?}"
    );

    // -vv: each request too, with path, status, request id and latency.
    for code in ["503", "429", "200"] {
        assert!(
            vv.stderr.contains(&format!("-> HTTP {code} in ")),
            "{code}: {vv:#?}"
        );
    }
    let answer = vv
        .stderr
        .lines()
        .find(|l| l.contains("-> HTTP 503"))
        .unwrap();
    assert!(
        answer.contains("DEBUG") && answer.contains("GET /v1/async-jobs/job_"),
        "{answer}"
    );
    assert!(
        answer.contains("request id ") && answer.contains("http.response.status_code=503"),
        "{answer}"
    );
    assert!(answer.contains("deepidv.latency_ms="), "{answer}");
    assert!(vv.stderr.contains("retry after 2 failures"), "{vv:#?}");
}

#[test]
fn the_log_variables_filter_and_a_stray_rust_log_changes_nothing() {
    let (warn_only, _) = wait(&[], &[("DEEPIDV_LOG", "deepidv=warn")]);
    assert!(
        warn_only.stderr.contains("retry after 2 failures"),
        "{warn_only:#?}"
    );
    assert!(
        !warn_only.stderr.contains("status failed"),
        "{warn_only:#?}"
    );

    let (refined, _) = wait(&["-v"], &[("RUST_LOG", "deepidv=debug")]);
    assert!(refined.stderr.contains("-> HTTP 503"), "{refined:#?}");

    let (stray, _) = wait(&[], &[("RUST_LOG", "trace")]);
    assert_eq!(stray.stderr.lines().count(), 1, "{stray:#?}");
}
