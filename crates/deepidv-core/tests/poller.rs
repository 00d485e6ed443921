//! The polling machine, driven on a virtual clock against a scripted server.

mod support;

use std::time::Duration;

use deepidv_core::{
    AdverseMediaRequest, CreateScreening, ErrorKind, Event, IdempotencyKey, JobId, JobStatus,
    Machine, Poller, PollerState, TransportErrorKind,
};
use support::*;

const MS: Duration = Duration::from_millis(1);
const S: Duration = Duration::from_secs(1);

fn id() -> JobId {
    JobId::new("job_abc").unwrap()
}

fn wait(seed: u64) -> Poller {
    Poller::wait(arc(config()), id(), Duration::ZERO, wall(), seed)
}

fn within(gap: Duration, nominal: Duration, jitter: f64) -> bool {
    let lo = nominal.as_secs_f64() * (1.0 - jitter) - 1e-6;
    let hi = nominal.as_secs_f64() * (1.0 + jitter) + 1e-6;
    (lo..=hi).contains(&gap.as_secs_f64())
}

#[test]
fn wait_polls_at_once_then_backs_off_by_the_policy() {
    let script = [
        "pending",
        "pending",
        "processing",
        "processing",
        "processing",
        "ready",
    ];
    let mut i = 0;
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        i += 1;
        status("job_abc", script[i - 1])
    });
    let job = run.outcome.as_ref().unwrap().clone();
    assert_eq!(job.status(), JobStatus::Ready);
    let sends = run.sends();
    assert_eq!(sends.len(), 6);
    assert_eq!(sends[0], Duration::ZERO, "first poll is immediate");
    let nominal = [2000, 3000, 4500, 5000, 5000];
    for (k, w) in sends.windows(2).enumerate() {
        let gap = w[1] - w[0];
        assert!(
            within(gap, nominal[k] * MS, 0.2),
            "gap {k} = {gap:?}, nominal {}ms",
            nominal[k]
        );
    }
    assert_eq!(
        run.status_events(),
        ["pending", "processing", "ready"],
        "one event per change"
    );
}

#[test]
fn the_schedule_is_a_function_of_the_seed() {
    let sched = |seed| {
        drive(
            &mut wait(seed),
            Duration::ZERO,
            Duration::ZERO,
            100,
            |t, _| status("job_abc", if t > 20 * S { "ready" } else { "pending" }),
        )
        .sends()
    };
    assert_eq!(sched(7), sched(7));
    assert_ne!(sched(7), sched(8));
}

#[test]
fn deadline_is_never_slept_past_and_the_last_poll_lands_just_before_it() {
    let mut c = config();
    c.poll.timeout = 11 * S;
    let mut p = Poller::wait(arc(c), id(), 5 * S, wall(), 3);
    let run = drive(&mut p, 5 * S, Duration::ZERO, 100, |_, _| {
        status("job_abc", "pending")
    });
    let e = run.outcome.as_ref().unwrap_err().clone();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert_eq!(e.code(), 3);
    assert!(e.to_string().contains("last status: pending"), "{e}");
    let deadline = 16 * S;
    // An 11 s wait: the last poll goes out 250 ms before the deadline, and its
    // answer (not a later poll) ends the wait.
    let last_call = deadline - 250 * MS;
    assert_eq!(*run.sends().last().unwrap(), last_call);
    for s in &run.steps {
        match s {
            Step::Waited { until, .. } => assert!(
                *until <= last_call,
                "waited until {until:?} past the last call"
            ),
            Step::Sent { at, timeout, .. } => assert!(
                *at + *timeout <= deadline,
                "sent at {at:?} with a {timeout:?} timeout"
            ),
            Step::Event(..) => {}
        }
    }
    assert_eq!(run.end, last_call);
}

#[test]
fn request_timeout_is_bounded_by_the_remaining_time() {
    let mut c = config();
    c.poll.timeout = 10 * S;
    c.request_timeout = 30 * S;
    let run = drive(
        &mut Poller::wait(arc(c), id(), Duration::ZERO, wall(), 3),
        Duration::ZERO,
        Duration::ZERO,
        100,
        |_, _| status("job_abc", "pending"),
    );
    for s in &run.steps {
        if let Step::Sent { at, timeout, .. } = s {
            assert!(
                *at + *timeout <= 10 * S,
                "timeout {timeout:?} at {at:?} outlives the deadline"
            );
        }
    }
}

#[test]
fn a_failed_job_ends_the_wait_with_the_job_attached() {
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        status("job_abc", "failed")
    });
    let e = run.outcome.as_ref().unwrap_err().clone();
    assert_eq!(e.kind(), ErrorKind::JobFailed);
    assert_eq!(e.code(), 1);
    assert_eq!(e.job().unwrap().error(), Some("provider unavailable"));
    assert!(e.to_string().contains("provider unavailable"));
}

#[test]
fn transient_failures_back_off_with_full_jitter_then_recover() {
    let mut n = 0;
    let run = drive(&mut wait(9), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        n += 1;
        match n {
            1 => http(503, r#"{"message":"down"}"#),
            2 => Answer::Transport(TransportErrorKind::Io),
            3 => http(502, "<html><title>502 Bad Gateway</title></html>"),
            _ => status("job_abc", "ready"),
        }
    });
    assert!(run.outcome.is_ok());
    let sends = run.sends();
    let ceilings = [500, 1000, 2000];
    for (k, w) in sends.windows(2).take(3).enumerate() {
        let gap = w[1] - w[0];
        assert!(
            gap <= ceilings[k] * MS,
            "retry {k} after {gap:?} > ceiling {}ms",
            ceilings[k]
        );
    }
    let retries: Vec<u32> = run
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Retrying { failures, .. } => Some(*failures),
            _ => None,
        })
        .collect();
    assert_eq!(retries, [1, 2, 3]);
}

#[test]
fn a_wait_gives_up_after_five_consecutive_failures() {
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        http(500, r#"{"message":"boom"}"#)
    });
    let e = run.outcome.as_ref().unwrap_err().clone();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert_eq!(run.sends().len(), 5);
    assert!(e.to_string().contains("gave up after 5"), "{e}");
    assert!(
        e.to_string().contains("boom") && e.to_string().contains("HTTP 500"),
        "{e}"
    );
}

#[test]
fn a_success_resets_the_failure_count() {
    let mut n = 0;
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 200, |_, _| {
        n += 1;
        match n % 5 {
            0 => status("job_abc", if n > 20 { "ready" } else { "pending" }),
            _ => http(503, ""),
        }
    });
    assert!(
        run.outcome.is_ok(),
        "4 failures between successes never exhaust the budget"
    );
}

#[test]
fn retry_after_is_honoured_capped_and_never_past_the_deadline() {
    // Seconds.
    let mut n = 0;
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        n += 1;
        if n == 1 {
            Answer::Http(429, vec![("retry-after", "7".into())], String::new())
        } else {
            status("job_abc", "ready")
        }
    });
    assert_eq!(run.sends(), [Duration::ZERO, 7 * S]);
    // An HTTP date, read against the answer's own Date header.
    let mut n = 0;
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        n += 1;
        if n == 1 {
            let date = httpdate::fmt_http_date(wall() + 100 * S);
            let later = httpdate::fmt_http_date(wall() + 104 * S);
            Answer::Http(
                503,
                vec![("retry-after", later), ("date", date)],
                String::new(),
            )
        } else {
            status("job_abc", "ready")
        }
    });
    assert_eq!(run.sends(), [Duration::ZERO, 4 * S]);
    // Capped at 60 s.
    let mut n = 0;
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        n += 1;
        if n == 1 {
            Answer::Http(429, vec![("retry-after", "3600".into())], String::new())
        } else {
            status("job_abc", "ready")
        }
    });
    assert_eq!(run.sends(), [Duration::ZERO, 60 * S]);
    // Never past the last call: the retry lands 250 ms before the deadline.
    let mut c = config();
    c.poll.timeout = 10 * S;
    let mut n = 0;
    let run = drive(
        &mut Poller::wait(arc(c), id(), Duration::ZERO, wall(), 1),
        Duration::ZERO,
        Duration::ZERO,
        100,
        |_, _| {
            n += 1;
            if n == 1 {
                Answer::Http(429, vec![("retry-after", "30".into())], String::new())
            } else {
                status("job_abc", "pending")
            }
        },
    );
    assert_eq!(run.sends(), [Duration::ZERO, 10 * S - 250 * MS]);
    assert_eq!(
        run.outcome.as_ref().unwrap_err().clone().kind(),
        ErrorKind::Timeout
    );
}

#[test]
fn not_found_versus_expired() {
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        http(404, r#"{"message":"Job not found"}"#)
    });
    let e = run.outcome.as_ref().unwrap_err().clone();
    assert_eq!((e.kind(), e.is_expired()), (ErrorKind::NotFound, false));
    assert!(
        e.to_string().contains("job job_abc not found") && e.to_string().contains("Job not found"),
        "{e}"
    );

    let mut n = 0;
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        n += 1;
        if n < 3 {
            status("job_abc", "processing")
        } else {
            http(404, r#"{"message":"Job not found"}"#)
        }
    });
    let e = run.outcome.as_ref().unwrap_err().clone();
    assert_eq!((e.kind(), e.is_expired()), (ErrorKind::NotFound, true));
    assert!(
        e.to_string().contains("expired") && e.to_string().contains("req_404"),
        "{e}"
    );
}

#[test]
fn unknown_statuses_are_reported_and_polled_through() {
    let mut n = 0;
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        n += 1;
        status("job_abc", if n < 3 { "on_hold" } else { "ready" })
    });
    assert!(run.outcome.is_ok());
    assert_eq!(run.status_events(), ["on_hold", "ready"]);
}

#[test]
fn errors_that_retrying_cannot_fix_end_at_once() {
    for (code, kind) in [
        (400, ErrorKind::Rejected),
        (401, ErrorKind::Unauthorized),
        (403, ErrorKind::Unauthorized),
        (402, ErrorKind::Rejected),
    ] {
        let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
            http(code, "nope")
        });
        assert_eq!(
            run.outcome.as_ref().unwrap_err().clone().kind(),
            kind,
            "{code}"
        );
        assert_eq!(run.sends().len(), 1, "{code} is not retried");
    }
    for body in ["not json", "[1,2]", r#"{"status":"ready"}"#] {
        let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
            http(200, body)
        });
        let e = run.outcome.as_ref().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}");
        // where the bad answer came from, for support
        assert_eq!(e.request_id(), Some("req_200"), "{e}");
        assert_eq!(e.status().map(|s| s.as_u16()), Some(200));
        assert_eq!(run.sends().len(), 1);
    }
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        Answer::Transport(TransportErrorKind::Other)
    });
    assert_eq!(
        run.outcome.as_ref().unwrap_err().clone().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(run.sends().len(), 1);
}

#[test]
fn an_answer_about_another_job_is_refused() {
    let run = drive(&mut wait(1), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        status("job_other", "ready")
    });
    assert_eq!(
        run.outcome.as_ref().unwrap_err().clone().kind(),
        ErrorKind::InvalidResponse
    );
}

#[test]
fn oversized_bodies_are_refused() {
    let mut c = config();
    c.max_body_bytes = 64;
    let run = drive(
        &mut Poller::wait(arc(c), id(), Duration::ZERO, wall(), 1),
        Duration::ZERO,
        Duration::ZERO,
        100,
        |_, _| status("job_abc", "ready"),
    );
    let e = run.outcome.as_ref().unwrap_err().clone();
    assert_eq!(e.kind(), ErrorKind::InvalidResponse);
    assert!(e.to_string().contains("64 byte limit"));
}

#[test]
fn a_get_is_the_same_machine_with_a_bounded_retry_policy() {
    let get = || Poller::get(arc(config()), id(), Duration::ZERO, wall(), 5);
    let run = drive(&mut get(), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        status("job_abc", "pending")
    });
    assert_eq!(
        run.outcome.as_ref().unwrap().clone().status(),
        JobStatus::Pending
    );
    let run = drive(&mut get(), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        status("job_abc", "failed")
    });
    assert_eq!(
        run.outcome.as_ref().unwrap().clone().status(),
        JobStatus::Failed,
        "a failed job is a successful get"
    );
    let run = drive(&mut get(), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        http(503, "")
    });
    assert_eq!(
        run.outcome.as_ref().unwrap_err().clone().kind(),
        ErrorKind::Unavailable
    );
    assert_eq!(run.sends().len(), 4, "one try and at most 3 retries");
    let run = drive(&mut get(), Duration::ZERO, Duration::ZERO, 100, |_, _| {
        http(404, "")
    });
    assert!(!run.outcome.as_ref().unwrap_err().clone().is_expired());
}

#[test]
fn transport_errors_name_the_host_never_the_key() {
    let run = drive(
        &mut Poller::get(arc(config()), id(), Duration::ZERO, wall(), 5),
        Duration::ZERO,
        Duration::ZERO,
        100,
        |_, _| Answer::Transport(TransportErrorKind::Connect),
    );
    let e = run.outcome.as_ref().unwrap_err().clone();
    assert_eq!(e.kind(), ErrorKind::Unavailable);
    assert!(
        e.to_string().contains("could not connect") && e.to_string().contains("127.0.0.1:1"),
        "{e}"
    );
    assert!(!e.to_string().contains(KEY));
    assert!(!format!("{e:?}").contains(KEY));
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let mut p = wait(1);
    let first = p.poll(Duration::ZERO);
    assert!(matches!(first, deepidv_core::Action::Send { .. }));
    match p.poll(Duration::ZERO) {
        deepidv_core::Action::Done(Err(e)) => assert_eq!(e.kind(), ErrorKind::Internal),
        other => panic!("expected an internal error, got {other:?}"),
    }
    // Answers nobody asked for are ignored.
    let mut q = wait(1);
    q.handle_response(
        Duration::ZERO,
        &deepidv_core::http::Response::new(b"x".to_vec()),
    );
    assert!(matches!(
        q.poll(Duration::ZERO),
        deepidv_core::Action::Send { .. }
    ));
}

#[test]
fn state_serializes_and_resumes_with_the_original_deadline() {
    let mut c = config();
    c.poll.timeout = 60 * S;
    let config = arc(c);
    let mut p = Poller::wait(config.clone(), id(), Duration::ZERO, wall(), 11);
    // Two polls of the wait, answered `processing`, then save between steps.
    let mut now = Duration::ZERO;
    for _ in 0..2 {
        loop {
            match p.poll(now) {
                deepidv_core::Action::Send { .. } => break,
                deepidv_core::Action::WaitUntil(t) => now = t,
                other => panic!("{other:?}"),
            }
        }
        let resp = deepidv_core::http::Response::new(
            support::job_body("job_abc", "processing").into_bytes(),
        );
        p.handle_response(now, &resp);
    }
    let state = p.state();
    assert_eq!(state.attempts, 2);
    assert_eq!(state.last_status, Some(JobStatus::Processing));
    assert!(state.seen);
    let json = serde_json::to_string(&state).unwrap();
    let back: PollerState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, state);

    // Another process, 20 s later by the wall clock, with a clock of its own.
    let origin = 1000 * S;
    let mut resumed = Poller::resume(config, back, origin, wall() + 20 * S);
    assert_eq!(
        resumed.deadline(),
        Some(origin + 40 * S),
        "20 of the 60 s were spent"
    );
    let run = drive(&mut resumed, origin, Duration::ZERO, 100, |_, _| {
        http(404, "")
    });
    let e = run.outcome.as_ref().unwrap_err().clone();
    assert!(e.is_expired(), "the job was seen before the restart: {e}");
    assert_eq!(run.sends()[0], origin, "a resumed wait polls at once");

    // A malicious state cannot smuggle a bad job id in.
    let bad = json.replace("job_abc", "../admin");
    assert!(serde_json::from_str::<PollerState>(&bad).is_err());
}

#[test]
fn create_retries_reuse_the_idempotency_key() {
    let body =
        AdverseMediaRequest::new("Ada", "Lovelace", "ada@example.com", "1815-12-10", None).unwrap();
    let key = IdempotencyKey::from_random([7; 16]);
    let mut call =
        CreateScreening::new(arc(config()), body, key.clone(), Duration::ZERO, wall(), 1);
    let mut n = 0;
    let run = drive(&mut call, Duration::ZERO, Duration::ZERO, 100, |_, _| {
        n += 1;
        match n {
            1 => http(503, ""),
            2 => Answer::Transport(TransportErrorKind::Timeout),
            _ => Answer::Http(
                202,
                vec![],
                r#"{"jobId":"job_new","status":"pending","message":"queued"}"#.into(),
            ),
        }
    });
    let created = run.outcome.as_ref().unwrap().clone();
    assert_eq!(created.job_id, "job_new");
    assert!(!created.replayed);
    let keys: Vec<_> = run
        .requests()
        .iter()
        .map(|r| r.headers()["idempotency-key"].clone())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k == key.as_str()));

    let mut call = CreateScreening::new(
        arc(config()),
        AdverseMediaRequest::new("A", "B", "a@b.co", "2000-01-01", None).unwrap(),
        key,
        Duration::ZERO,
        wall(),
        1,
    );
    let run = drive(&mut call, Duration::ZERO, Duration::ZERO, 100, |_, _| {
        Answer::Http(
            400,
            vec![],
            r#"{"message":"dateOfBirth is invalid","code":"VALIDATION_ERROR"}"#.into(),
        )
    });
    let e = run.outcome.as_ref().unwrap_err().clone();
    assert_eq!(e.kind(), ErrorKind::Rejected);
    assert!(e.to_string().contains("dateOfBirth is invalid"));
}

#[test]
fn idempotency_keys_are_uuid_v4_shaped() {
    let k = IdempotencyKey::from_random([0xff; 16]);
    let s = k.as_str();
    assert_eq!(s.len(), 36);
    assert_eq!(&s[14..15], "4");
    assert!(matches!(&s[19..20], "8" | "9" | "a" | "b"));
    assert_ne!(
        IdempotencyKey::from_random([1; 16]),
        IdempotencyKey::from_random([2; 16])
    );
    assert!(IdempotencyKey::new("").is_err());
    assert!(IdempotencyKey::new("a b").is_err());
    assert!(IdempotencyKey::new("k".repeat(256)).is_err());
}

#[test]
fn with_timeout_is_a_wait_with_that_deadline() {
    // The same schedule as a wait whose Config carries the timeout.
    let mut c = config();
    c.poll.timeout = 7 * S;
    let by_config = drive(
        &mut Poller::wait(arc(c), id(), S, wall(), 4),
        S,
        Duration::ZERO,
        100,
        |_, _| status("job_abc", "pending"),
    );
    let by_call = drive(
        &mut wait_at(S, 4).with_timeout(7 * S),
        S,
        Duration::ZERO,
        100,
        |_, _| status("job_abc", "pending"),
    );
    assert_eq!(by_call.sends(), by_config.sends());
    assert_eq!(
        *by_call.sends().last().unwrap(),
        8 * S - 250 * MS,
        "the last poll lands 250 ms before start + 7 s"
    );
    assert_eq!(by_call.end, 8 * S - 250 * MS);
    let e = by_call.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.to_string().contains("7s"), "{e}");
    // A get has no deadline: unchanged.
    let get = Poller::get(arc(config()), id(), Duration::ZERO, wall(), 1).with_timeout(S);
    assert_eq!(get.deadline(), None);
}

fn wait_at(start: Duration, seed: u64) -> Poller {
    Poller::wait(arc(config()), id(), start, wall(), seed)
}

#[test]
fn a_generated_key_is_a_uuid_from_the_source_and_a_failing_source_is_an_error() {
    let k = IdempotencyKey::generate(|b: &mut [u8]| {
        b.fill(0xff);
        Ok::<(), String>(())
    })
    .unwrap();
    assert_eq!(k, IdempotencyKey::from_random([0xff; 16]));
    let e = IdempotencyKey::generate(|_: &mut [u8]| Err("no entropy")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal);
    assert!(e.message().contains("no entropy"), "{e}");
}

#[test]
fn certificate_failures_are_not_retried_and_say_what_to_do() {
    // What to do is said in the words of the frontend in use.
    let cases = [
        (
            "core",
            TransportErrorKind::UntrustedCertificate,
            "certificate not trusted",
            "add that CA with Config::with_ca_file, or set DEEPIDV_CA_BUNDLE",
        ),
        (
            "cli",
            TransportErrorKind::UntrustedCertificate,
            "certificate not trusted",
            "pass --ca-cert FILE or set DEEPIDV_CA_BUNDLE",
        ),
        (
            "cli batch",
            TransportErrorKind::UntrustedCertificate,
            "certificate not trusted",
            "pass --ca-cert FILE or set DEEPIDV_CA_BUNDLE",
        ),
        (
            "ffi",
            TransportErrorKind::UntrustedCertificate,
            "certificate not trusted",
            "deepidv_client_options_set_ca_file (Go: WithCACertFile)",
        ),
        (
            "core",
            TransportErrorKind::HostnameMismatch,
            "certificate is for another host",
            "check the base URL's host name",
        ),
        (
            "cli",
            TransportErrorKind::HostnameMismatch,
            "certificate is for another host",
            "(--base-url, DEEPIDV_BASE_URL)",
        ),
    ];
    for (frontend, kind, what, todo) in cases {
        // A wait and a single get: one request each, no retry, on the virtual clock.
        let c = arc(config().with_frontend(frontend));
        let machines = [
            Poller::wait(c.clone(), id(), Duration::ZERO, wall(), 3),
            Poller::get(c, id(), Duration::ZERO, wall(), 3),
        ];
        for mut machine in machines {
            let run = drive(&mut machine, Duration::ZERO, Duration::ZERO, 100, |_, _| {
                Answer::Transport(kind)
            });
            let e = run.outcome.as_ref().unwrap_err().clone();
            assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
            assert_eq!(run.sends().len(), 1, "{kind:?} was retried");
            let text = e.to_string();
            assert!(
                text.contains(what) && text.contains(todo),
                "{frontend}: {text}"
            );
            if frontend != "cli" && frontend != "cli batch" {
                assert!(!text.contains("--"), "CLI flags to {frontend}: {text}");
            }
            assert!(!text.contains('\n'), "{text}");
            assert!(
                !run.steps
                    .iter()
                    .any(|s| matches!(s, support::Step::Event(_, Event::Retrying { .. })))
            );
        }
    }
}

// A wait ends on its deadline: the last poll goes out a little before it (the
// "last call", at most 250 ms and a tenth of the wait before it), no request
// outlives the deadline, and nothing is sent at or after it.

/// A 1 s wait started at 2 s, polling every 600 ms without jitter: its last call
/// is 100 ms (a tenth of it) before its deadline, at 2.9 s.
fn short_wait(seed: u64) -> Poller {
    let mut c = config();
    c.poll.timeout = S;
    c.poll.interval = 600 * MS;
    c.poll.multiplier = 1.0;
    c.poll.jitter = 0.0;
    Poller::wait(arc(c), id(), 2 * S, wall(), seed)
}

const SHORT_DEADLINE: Duration = Duration::from_secs(3);
const SHORT_LAST_CALL: Duration = Duration::from_millis(2900);

fn timeouts(run: &Run<deepidv_core::Job>) -> Vec<(Duration, Duration)> {
    run.steps
        .iter()
        .filter_map(|s| match s {
            Step::Sent { at, timeout, .. } => Some((*at, *timeout)),
            _ => None,
        })
        .collect()
}

fn retry_delays(run: &Run<deepidv_core::Job>) -> Vec<Duration> {
    run.events()
        .iter()
        .filter_map(|e| match e {
            Event::Retrying { delay, .. } => Some(*delay),
            _ => None,
        })
        .collect()
}

#[test]
fn the_last_poll_goes_out_at_the_last_call_when_the_schedule_would_pass_it() {
    // The poll interval: 2.6 s + 600 ms would pass 2.9 s.
    let run = drive(&mut short_wait(1), 2 * S, Duration::ZERO, 100, |_, _| {
        status("job_abc", "pending")
    });
    assert_eq!(
        timeouts(&run),
        [
            (2 * S, S),
            (2600 * MS, 400 * MS),
            (SHORT_LAST_CALL, 100 * MS)
        ],
        "each request gets exactly the time left"
    );
    let e = run.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.to_string().contains("last status: pending"), "{e}");
    assert_eq!(run.end, SHORT_LAST_CALL, "its answer ends the wait");

    // A Retry-After: 2.6 s + 1 s would pass it.
    let mut n = 0;
    let run = drive(&mut short_wait(1), 2 * S, Duration::ZERO, 100, |_, _| {
        n += 1;
        match n {
            2 => Answer::Http(429, vec![("retry-after", "1".into())], String::new()),
            _ => status("job_abc", "pending"),
        }
    });
    assert_eq!(run.sends(), [2 * S, 2600 * MS, SHORT_LAST_CALL]);
    assert_eq!(
        retry_delays(&run),
        [300 * MS],
        "the retry says when it goes"
    );
    assert_eq!(run.outcome.as_ref().unwrap_err().kind(), ErrorKind::Timeout);

    // A backoff (full jitter up to 10 s): never past the last call, and on it
    // whenever the draw would pass it.
    let mut on_the_last_call = 0;
    for seed in 0..20 {
        let mut c = config();
        c.poll.timeout = S;
        c.poll.interval = 600 * MS;
        c.poll.jitter = 0.0;
        c.retry.initial_backoff = 10 * S;
        let mut p = Poller::wait(arc(c), id(), 2 * S, wall(), seed);
        let mut n = 0;
        let run = drive(&mut p, 2 * S, Duration::ZERO, 100, |_, _| {
            n += 1;
            match n {
                2 => http(503, ""),
                _ => status("job_abc", "pending"),
            }
        });
        let sends = run.sends();
        let retry = sends[2];
        assert!(retry <= SHORT_LAST_CALL, "seed {seed}: retry at {retry:?}");
        assert_eq!(retry_delays(&run), [retry - 2600 * MS], "seed {seed}");
        if retry == SHORT_LAST_CALL {
            on_the_last_call += 1;
        }
        assert_eq!(*sends.last().unwrap(), SHORT_LAST_CALL, "seed {seed}");
    }
    assert!(on_the_last_call >= 15, "{on_the_last_call} of 20");
}

#[test]
fn a_transient_failure_after_the_last_call_ends_with_the_timeout_and_the_last_error() {
    // The last poll answers 503: no time is left for a retry.
    let mut n = 0;
    let run = drive(&mut short_wait(1), 2 * S, Duration::ZERO, 100, |_, _| {
        n += 1;
        match n {
            3 => http(503, r#"{"message":"overloaded"}"#),
            _ => status("job_abc", "pending"),
        }
    });
    assert_eq!(run.sends(), [2 * S, 2600 * MS, SHORT_LAST_CALL]);
    let e = run.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    let text = e.to_string();
    assert!(
        text.contains("did not finish within 1s")
            && text.contains("last status: pending")
            && text.contains("last error")
            && text.contains("overloaded")
            && text.contains("HTTP 503"),
        "{text}"
    );
    assert!(retry_delays(&run).is_empty(), "no retry announced");
    assert_eq!(run.end, SHORT_LAST_CALL);

    // The last poll is never answered: cut off at its timeout, on the deadline.
    let mut n = 0;
    let run = drive_timed(&mut short_wait(1), 2 * S, Duration::ZERO, 100, |_, _| {
        n += 1;
        let latency = if n == 3 { 5 * S } else { Duration::ZERO };
        (latency, status("job_abc", "pending"))
    });
    let e = run.outcome.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        e.to_string().contains("last error") && e.to_string().contains("timed out"),
        "{e}"
    );
    assert_eq!(run.end, SHORT_DEADLINE, "not a second after it");

    // A failure before the last call is still retried, by the last call.
    let mut n = 0;
    let run = drive(&mut short_wait(1), 2 * S, Duration::ZERO, 100, |_, _| {
        n += 1;
        match n {
            1 => status("job_abc", "pending"),
            2 => http(503, ""),
            _ => status("job_abc", "ready"),
        }
    });
    assert!(run.outcome.is_ok());
    assert_eq!(retry_delays(&run).len(), 1);
    assert!(run.sends()[2] <= SHORT_LAST_CALL);
}

#[test]
fn a_late_driver_gets_the_timeout_without_a_request() {
    use deepidv_core::Action;
    for late in [SHORT_DEADLINE, SHORT_DEADLINE + MS, 60 * S] {
        let mut p = short_wait(1);
        assert!(matches!(p.poll(2 * S), Action::Send { .. }));
        p.handle_response(2 * S, &response(&job_body("job_abc", "pending")));
        assert!(matches!(p.poll(2 * S), Action::WaitUntil(t) if t == 2600 * MS));
        // The driver comes back at or after the deadline: nothing is sent.
        match p.poll(late) {
            Action::Done(Err(e)) => {
                assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
                assert!(e.to_string().contains("last status: pending"), "{e}");
            }
            other => panic!("late by {late:?}: expected the timeout, got {other:?}"),
        }
        assert_eq!(p.attempts(), 1);
    }
    // Late, but before the deadline: one more request, with the time left.
    let mut p = short_wait(1);
    assert!(matches!(p.poll(2 * S), Action::Send { .. }));
    p.handle_response(2 * S, &response(&job_body("job_abc", "pending")));
    match p.poll(2950 * MS) {
        Action::Send { timeout, .. } => assert_eq!(timeout, 50 * MS),
        other => panic!("expected a request, got {other:?}"),
    }
    // A wait of no time at all sends nothing.
    let mut p = wait(1).with_timeout(Duration::ZERO);
    assert!(matches!(
        p.poll(Duration::ZERO),
        Action::Done(Err(e)) if e.kind() == ErrorKind::Timeout
    ));
    // A get has no deadline: however late, it sends.
    let mut g = Poller::get(arc(config()), id(), Duration::ZERO, wall(), 1);
    assert!(matches!(g.poll(3600 * S), Action::Send { .. }));
}

#[test]
fn a_resumed_wait_keeps_the_rules() {
    use deepidv_core::Action;
    // A 2 s wait (a 200 ms lead), polled once, then saved.
    let mut c = config();
    c.poll.timeout = 2 * S;
    c.poll.interval = 300 * MS;
    c.poll.multiplier = 1.0;
    c.poll.jitter = 0.0;
    let config = arc(c);
    let mut p = Poller::wait(config.clone(), id(), Duration::ZERO, wall(), 5);
    assert!(matches!(p.poll(Duration::ZERO), Action::Send { .. }));
    p.handle_response(Duration::ZERO, &response(&job_body("job_abc", "pending")));
    let state = p.state();
    let origin = 1000 * S;

    // Resumed 1 s later: 1 s left. The lead is the whole wait's (200 ms), not
    // that of what is left (100 ms): the last poll goes out at +800 ms.
    let mut q = Poller::resume(config.clone(), state.clone(), origin, wall() + S);
    assert_eq!(q.deadline(), Some(origin + S));
    let run = drive(&mut q, origin, Duration::ZERO, 100, |_, _| {
        status("job_abc", "pending")
    });
    assert_eq!(
        timeouts(&run),
        [
            (origin, S),
            (origin + 300 * MS, 700 * MS),
            (origin + 600 * MS, 400 * MS),
            (origin + 800 * MS, 200 * MS)
        ]
    );
    assert_eq!(run.outcome.as_ref().unwrap_err().kind(), ErrorKind::Timeout);
    assert_eq!(run.end, origin + 800 * MS);

    // Resumed with less than the lead left: one poll at once, with what is left.
    let late = wall() + 1900 * MS;
    let mut q = Poller::resume(config.clone(), state.clone(), origin, late);
    let run = drive(&mut q, origin, Duration::ZERO, 100, |_, _| {
        status("job_abc", "pending")
    });
    assert_eq!(timeouts(&run), [(origin, 100 * MS)]);
    assert_eq!(run.outcome.as_ref().unwrap_err().kind(), ErrorKind::Timeout);
    // ... and when it is not answered, the wait still ends on the deadline.
    let mut q = Poller::resume(config.clone(), state.clone(), origin, late);
    let run = drive_timed(&mut q, origin, Duration::ZERO, 100, |_, _| {
        (S, status("job_abc", "ready"))
    });
    let e = run.outcome.as_ref().unwrap_err();
    assert!(
        e.kind() == ErrorKind::Timeout && e.to_string().contains("timed out"),
        "{e}"
    );
    assert_eq!(run.end, origin + 100 * MS);

    // Resumed after its deadline: the timeout, and no request.
    let mut q = Poller::resume(config, state, origin, wall() + 3 * S);
    assert_eq!(q.deadline(), Some(origin));
    match q.poll(origin) {
        Action::Done(Err(e)) => assert_eq!(e.kind(), ErrorKind::Timeout, "{e}"),
        other => panic!("expected the timeout, got {other:?}"),
    }
    assert_eq!(q.attempts(), 1, "only the request made before the save");
}

fn response(body: &str) -> deepidv_core::http::Response<Vec<u8>> {
    deepidv_core::http::Response::new(body.as_bytes().to_vec())
}
