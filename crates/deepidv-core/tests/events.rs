//! The events a machine hands to observers: one per answer, per retry, per
//! status change, each with a level and a one-line Display free of the API key.
mod support;

use std::time::Duration;

use deepidv_core::http::{Method, StatusCode};
use deepidv_core::{Event, EventLevel, JobId, Poller};
use support::*;

fn wait() -> Poller {
    Poller::wait(
        arc(config()),
        JobId::new("job_abc").unwrap(),
        Duration::ZERO,
        wall(),
        7,
    )
}

/// A server that echoes the API key wherever it can: request id, message, status.
fn echoing(n: usize) -> Answer {
    let rid = vec![("x-request-id", format!("rid-{KEY}"))];
    match n {
        0 => Answer::Http(503, rid, format!(r#"{{"message":"bad key {KEY}"}}"#)),
        1 => Answer::Http(
            429,
            vec![
                ("x-request-id", format!("rid-{KEY}")),
                ("retry-after", "1".into()),
            ],
            "{}".into(),
        ),
        2 => Answer::Http(200, rid, job_body("job_abc", &format!("odd-{KEY}"))),
        3 => status("job_abc", "processing"),
        _ => Answer::Http(200, rid, job_body("job_abc", "failed")),
    }
}

#[test]
fn each_answer_retry_and_status_change_is_an_event_with_its_fields() {
    let mut n = 0;
    let run = drive(&mut wait(), Duration::ZERO, 30 * MS, 100, |_, _| {
        n += 1;
        echoing(n - 1)
    });
    assert!(run.outcome.is_err());
    let events = run.events();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| match e {
            Event::Response { .. } => "response",
            Event::Retrying { .. } => "retry",
            Event::Status(_) => "status",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "response", "retry", "response", "retry", "response", "status", "response", "status",
            "response", "status"
        ]
    );
    let Event::Response {
        method,
        path,
        status,
        request_id,
        latency,
    } = events[0]
    else {
        panic!("{:?}", events[0]);
    };
    assert_eq!(*method, Method::GET);
    assert_eq!(path, "/v1/async-jobs/job_abc");
    assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(request_id.as_deref(), Some("rid-[REDACTED]"));
    assert_eq!(*latency, 30 * MS);
    let Event::Retrying {
        failures, delay, ..
    } = events[3]
    else {
        panic!("{:?}", events[3]);
    };
    assert_eq!((*failures, *delay), (2, Duration::from_secs(1)));
    assert_eq!(events[0].level(), EventLevel::Debug);
    assert_eq!(events[1].level(), EventLevel::Warn);
    assert_eq!(events[5].level(), EventLevel::Info);
    for e in &events {
        let line = e.to_string();
        assert!(!line.contains(KEY), "{line}");
        assert!(!line.contains('\n'), "{line}");
        assert!(!format!("{e:?}").contains(KEY), "{e:?}");
    }
    assert_eq!(
        events[0].to_string(),
        "GET /v1/async-jobs/job_abc -> HTTP 503 in 30 ms (request id rid-[REDACTED])"
    );
    assert_eq!(events[9].to_string(), "job job_abc: status failed");
    assert!(
        events[3]
            .to_string()
            .starts_with("retry after 2 failures in 1000 ms: "),
        "{}",
        events[3]
    );
}

const MS: Duration = Duration::from_millis(1);
