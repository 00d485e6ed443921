//! Properties: parsers never panic, and the poller keeps its promises for any schedule.

mod support;

use std::time::Duration;

use deepidv_core::{
    ErrorKind, Event, Job, JobId, Machine, Poller, TransportErrorKind, sanitize::terminal_safe,
    server_message,
};
use proptest::prelude::*;
use support::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn job_parser_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Job::from_json(&body);
    }

    #[test]
    fn job_parser_never_panics_on_near_valid_json(
        status in "[a-zA-Z_]{0,12}", created in any::<i64>(), extra in "[ -~]{0,40}"
    ) {
        let body = format!(r#"{{"jobId":"j","status":"{status}","createdAt":{created},"result":{{"riskLevel":"{extra}"}},"error":"{extra}"}}"#);
        if let Ok(job) = Job::from_json(body.as_bytes()) {
            let _ = job.created_at.unix_millis();
            prop_assert_eq!(Job::from_json(job.to_json().as_bytes()).unwrap(), job);
        }
    }

    #[test]
    fn snapshots_round_trip(
        id in "[A-Za-z0-9_-]{1,40}", status in prop_oneof!["pending", "processing", "ready", "failed", "[a-z]{1,10}"],
        created in 0u64..4_000_000_000_000, err in "\\PC{1,40}", score in 0u8..=100
    ) {
        let tail = match status.as_str() {
            "ready" => format!(r#","result":{{"riskScore":{score},"findings":[]}}"#),
            "failed" => format!(r#","error":{}"#, serde_json::to_string(&err).unwrap()),
            _ => String::new(),
        };
        let body = format!(r#"{{"jobId":"{id}","status":"{status}","createdAt":{created},"updatedAt":"2026-01-01T00:00:00Z"{tail}}}"#);
        let job = Job::from_json(body.as_bytes()).unwrap();
        let again = Job::from_json(job.to_json().as_bytes()).unwrap();
        prop_assert_eq!(&again, &job);
        let original: serde_json::Value = serde_json::from_str(&body).unwrap();
        let reserialized: serde_json::Value = serde_json::from_str(&job.to_json()).unwrap();
        if !(status == "failed" && err.trim().is_empty()) {
            prop_assert_eq!(reserialized, original);
        }
    }

    #[test]
    fn valid_job_ids_stay_one_segment(id in "\\PC{0,80}|[./%?#a-z]{0,6}") {
        if let Ok(job_id) = JobId::new(id.clone()) {
            let c = config();
            let r = c.get_job_request(&job_id).unwrap();
            let seg = r.uri().path().strip_prefix("/v1/async-jobs/").unwrap().to_owned();
            prop_assert!(!seg.contains('/') && !seg.is_empty());
            prop_assert!(seg != "." && seg != "..");
            let decoded = percent_encoding::percent_decode_str(&seg).decode_utf8().unwrap();
            prop_assert_eq!(decoded.as_ref(), id.as_str());
        }
    }

    #[test]
    fn messages_are_always_one_safe_line(body in proptest::collection::vec(any::<u8>(), 0..600), text in "\\PC*|[\\x00-\\x1f\u{202e}a-z]{0,50}") {
        for m in [server_message(&body, Some(KEY)), Some(terminal_safe(&text, Some(KEY)))].into_iter().flatten() {
            prop_assert!(!m.chars().any(|c| c.is_control()), "{m:?}");
            prop_assert!(!m.contains('\u{202e}'), "bidi override in {:?}", m);
            prop_assert!(m.chars().count() <= 310, "{} chars", m.chars().count());
        }
    }
}

/// One answer in a generated schedule.
#[derive(Debug, Clone)]
enum Reply {
    Status(&'static str),
    Fail(u16),
    RetryAfter(u64),
    Transport(TransportErrorKind),
    Gone,
    Garbage,
}

fn reply() -> impl Strategy<Value = Reply> {
    prop_oneof![
        6 => prop_oneof![Just("pending"), Just("processing"), Just("on_hold")].prop_map(Reply::Status),
        1 => Just(Reply::Status("ready")),
        1 => Just(Reply::Status("failed")),
        2 => prop_oneof![Just(500u16), Just(502), Just(503), Just(408), Just(400), Just(401)].prop_map(Reply::Fail),
        1 => (0u64..120).prop_map(Reply::RetryAfter),
        2 => prop_oneof![Just(TransportErrorKind::Connect), Just(TransportErrorKind::Io), Just(TransportErrorKind::Timeout)].prop_map(Reply::Transport),
        1 => Just(Reply::Gone),
        1 => Just(Reply::Garbage),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// For any schedule of answers and latencies, a wait terminates by its
    /// deadline, never polls sooner than the policy or `Retry-After` allows,
    /// and never exceeds its failure budget.
    #[test]
    fn the_poller_keeps_its_promises(
        replies in proptest::collection::vec(reply(), 1..80),
        latency_ms in 0u64..3000,
        timeout_s in 1u64..300,
        seed in any::<u64>(),
    ) {
        let mut c = config();
        c.poll.timeout = Duration::from_secs(timeout_s);
        let policy = c.poll.clone();
        let retry = c.retry.clone();
        let deadline = c.poll.timeout;
        // The last poll goes out this long before the deadline.
        let last_call = deadline - Duration::from_millis(250).min(deadline / 10);
        let mut p = Poller::wait(arc(c), JobId::new("job_abc").unwrap(), Duration::ZERO, wall(), seed);
        let latency = Duration::from_millis(latency_ms);
        let mut i = 0;
        let mut last_reply: Option<Reply> = None;
        let mut answers: Vec<(Duration, Reply)> = Vec::new();
        let run = drive(&mut p, Duration::ZERO, latency, 10_000, |now, _| {
            let r = replies.get(i).cloned().unwrap_or(Reply::Status("pending"));
            i += 1;
            answers.push((now + latency, r.clone()));
            last_reply = Some(r.clone());
            match r {
                Reply::Status(s) => status("job_abc", s),
                Reply::Fail(code) => http(code, r#"{"message":"x"}"#),
                Reply::RetryAfter(s) => Answer::Http(429, vec![("retry-after", s.to_string())], String::new()),
                Reply::Transport(k) => Answer::Transport(k),
                Reply::Gone => http(404, ""),
                Reply::Garbage => http(200, "{{{"),
            }
        });
        // Terminates, and no later than one request past the deadline.
        prop_assert!(run.end <= deadline + latency, "ended at {:?}", run.end);
        let sends = run.sends();
        prop_assert!(sends.iter().all(|s| *s <= last_call), "a send after the last call");
        // Never polls sooner than allowed after each answer.
        for (k, (answered_at, r)) in answers.iter().enumerate() {
            let Some(next) = sends.get(k + 1) else { break };
            let gap = *next - *answered_at;
            let clamped = *next == last_call;
            let floor = match r {
                Reply::Status(_) => policy.interval.mul_f64(1.0 - policy.jitter) - Duration::from_millis(1),
                Reply::RetryAfter(s) => Duration::from_secs(*s).min(retry.max_retry_after),
                _ => Duration::ZERO,
            };
            prop_assert!(gap >= floor || clamped, "answer {k} ({r:?}) then poll after {gap:?} < {floor:?}");
        }
        // Never more consecutive failures than the budget.
        let mut streak = 0u32;
        for (_, r) in &answers {
            streak = match r { Reply::Status(_) => 0, _ => streak + 1 };
            prop_assert!(streak <= retry.wait_max_failures);
        }
        // Outcomes agree with what was answered last.
        match (&run.outcome, last_reply) {
            (Ok(job), _) => prop_assert!(job.is_terminal()),
            (Err(e), Some(Reply::Status("failed"))) => prop_assert_eq!(e.kind(), ErrorKind::JobFailed),
            (Err(e), _) => prop_assert!(e.kind() != ErrorKind::Internal, "{e}"),
        }
        let retried = run.events().iter().filter(|e| matches!(e, Event::Retrying { .. })).count();
        prop_assert!(retried < sends.len().max(1));
    }

    /// A job that becomes ready at any time within 3 minutes is noticed within
    /// one maximum (jittered) interval, plus the request's own latency.
    #[test]
    fn readiness_is_noticed_within_one_max_interval(ready_ms in 0u64..180_000, latency_ms in 0u64..500, seed in any::<u64>()) {
        let c = config();
        let bound = c.poll.max_interval.mul_f64(1.0 + c.poll.jitter) + Duration::from_millis(2 * latency_ms);
        let ready_at = Duration::from_millis(ready_ms);
        let mut p = Poller::wait(arc(c), JobId::new("job_abc").unwrap(), Duration::ZERO, wall(), seed);
        let run = drive(&mut p, Duration::ZERO, Duration::from_millis(latency_ms), 10_000, |now, _| {
            status("job_abc", if now >= ready_at { "ready" } else { "processing" })
        });
        prop_assert!(run.outcome.is_ok());
        prop_assert!(run.end.saturating_sub(ready_at) <= bound, "ready at {ready_at:?}, noticed at {:?}", run.end);
    }
}

/// How the wait under test is made.
#[derive(Debug, Clone, Copy)]
enum Made {
    /// `Poller::wait` with the timeout in its `Config`.
    Wait,
    /// `Poller::wait(..).with_timeout(timeout)`.
    WithTimeout,
    /// Saved at its start, resumed this long later by the wall clock.
    Resumed(Duration),
}

fn made() -> impl Strategy<Value = Made> {
    prop_oneof![
        Just(Made::Wait),
        Just(Made::WithTimeout),
        (0u64..700_000).prop_map(|ms| Made::Resumed(Duration::from_millis(ms))),
    ]
}

fn ms(range: std::ops::Range<u64>) -> impl Strategy<Value = Duration> {
    range.prop_map(Duration::from_millis)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// For any policy, wait length, answers and latencies: nothing is sent at or
    /// after the deadline, no request's timeout reaches past it (but for the 1 ms
    /// floor), and when the transport honours those timeouts and the driver is
    /// punctual, the wait is over by its deadline (a late driver: by the deadline
    /// plus its lateness).
    #[test]
    fn no_request_outlives_the_deadline(
        replies in proptest::collection::vec((reply(), ms(0..5000)), 1..80),
        timeout in prop_oneof![ms(0..30), ms(0..3000), ms(0..120_000)],
        first_delay in ms(0..3000),
        interval in ms(100..5000),
        multiplier in 1.0f64..3.0,
        max_interval in ms(0..10_000),
        jitter in 0.0f64..0.9,
        initial_backoff in ms(0..2000),
        max_backoff in ms(0..30_000),
        max_retry_after in ms(0..120_000),
        wait_max_failures in 1u32..8,
        request_timeout in ms(1..60_000),
        start in ms(0..1_000_000),
        oversleep in prop_oneof![3 => Just(Duration::ZERO), 1 => ms(0..500)],
        how in made(),
        seed in any::<u64>(),
    ) {
        let mut c = config();
        c.poll.first_delay = first_delay;
        c.poll.interval = interval;
        c.poll.multiplier = multiplier;
        c.poll.max_interval = max_interval;
        c.poll.jitter = jitter;
        c.poll.timeout = timeout;
        c.retry.initial_backoff = initial_backoff;
        c.retry.max_backoff = max_backoff;
        c.retry.max_retry_after = max_retry_after;
        c.retry.wait_max_failures = wait_max_failures;
        c.request_timeout = request_timeout;
        let id = JobId::new("job_abc").unwrap();
        let mut p = match how {
            Made::Wait => Poller::wait(arc(c), id, start, wall(), seed),
            Made::WithTimeout => {
                c.poll.timeout = Duration::from_secs(600);
                Poller::wait(arc(c), id, start, wall(), seed).with_timeout(timeout)
            }
            Made::Resumed(later) => {
                let c = arc(c);
                let state = Poller::wait(c.clone(), id, Duration::ZERO, wall(), seed).state();
                Poller::resume(c, state, start, wall() + later)
            }
        };
        let deadline = p.deadline().unwrap();
        let mut i = 0;
        let run = drive_timed(&mut p, start, oversleep, 100_000, |_, _| {
            let (r, latency) = replies.get(i).cloned().unwrap_or((Reply::Status("pending"), Duration::ZERO));
            i += 1;
            let answer = match r {
                Reply::Status(s) => status("job_abc", s),
                Reply::Fail(code) => http(code, r#"{"message":"x"}"#),
                Reply::RetryAfter(s) => Answer::Http(429, vec![("retry-after", s.to_string())], String::new()),
                Reply::Transport(k) => Answer::Transport(k),
                Reply::Gone => http(404, ""),
                Reply::Garbage => http(200, "{{{"),
            };
            (latency, answer)
        });
        let floor = Duration::from_millis(1);
        let mut floored = false;
        for s in &run.steps {
            if let Step::Sent { at, timeout, .. } = s {
                prop_assert!(*at < deadline, "sent at {:?}, deadline {:?}", at, deadline);
                prop_assert!(*timeout <= request_timeout.max(floor));
                if *at + *timeout > deadline {
                    prop_assert_eq!(*timeout, floor, "sent at {:?}, deadline {:?}", at, deadline);
                    floored = true;
                }
            }
        }
        let slack = if floored { floor } else { Duration::ZERO };
        prop_assert!(
            run.end <= deadline + oversleep + slack,
            "done at {:?}, deadline {:?}, oversleep {:?}", run.end, deadline, oversleep
        );
        if let Err(e) = &run.outcome {
            prop_assert!(e.kind() != ErrorKind::Internal, "{}", e);
        }
    }
}

#[test]
fn send_action_carries_the_body_cap() {
    let mut c = config();
    c.max_body_bytes = 1234;
    let mut p = Poller::get(arc(c), JobId::new("j").unwrap(), Duration::ZERO, wall(), 0);
    match p.poll(Duration::ZERO) {
        deepidv_core::Action::Send { max_body_bytes, .. } => assert_eq!(max_body_bytes, 1234),
        other => panic!("expected a request, got {other:?}"),
    }
}
