//! What a call tells observers, for both adapters, against a real simulator with
//! faults: the event hook (`with_event_hook`) and the tracing spans and events
//! (both clients' `tracing` feature, read by `deepidv-tracing`'s in-memory
//! subscriber), with their fields, and the API key in none of them, even from a
//! server that echoes it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deepidv_conformance::{
    Adapter, ErrorKind, Event, EventHookFn, JobId, JobStatus, fast_config, person,
};
use deepidv_core::EventLevel;
use deepidv_mock::{
    DEFAULT_API_KEY, ErrorBody, Fault, JobSpec, MockConfig, MockServer, Outcome, RetryAfter, Scope,
};
use deepidv_tracing::capture::{Capture, CapturedEvent};
use deepidv_tracing::tracing;

const KEY: &str = "sk_test_trace_secret_4242";

/// A failed job whose first three polls meet a 503, a 429 (`Retry-After: 1`) and
/// an answer echoing the API key as the job's status.
fn faulty_server() -> (MockServer, JobId) {
    let server = MockServer::start_background(MockConfig {
        api_keys: vec![(KEY.into(), "org_trace".into())],
        ..MockConfig::instant()
    })
    .expect("simulator starts");
    let id = server.insert_job(JobSpec {
        org: Some("org_trace".into()),
        outcome: Outcome::Failed("provider down".into()),
        ..JobSpec::default()
    });
    let job = Scope::Job(id.clone());
    let s503 = Fault::Status {
        status: 503,
        body: ErrorBody::Json,
    };
    server.inject(job.clone(), s503, 1);
    let s429 = Fault::RateLimit {
        retry_after: RetryAfter::Seconds(1),
    };
    server.inject(job.clone(), s429, 1);
    server.inject(job, Fault::UnknownStatus(KEY.into()), 1);
    (server, JobId::new(id).unwrap())
}

fn client<A: Adapter>(server: &MockServer, key: &str) -> A {
    A::new(fast_config(&server.url(), key)).expect("client")
}

/// A hook that records every event it is shown, and what it recorded.
fn recorder() -> (Arc<EventHookFn>, Arc<Mutex<Vec<Event>>>) {
    let seen: Arc<Mutex<Vec<Event>>> = Arc::default();
    let sink = seen.clone();
    let hook = Arc::new(move |e: &Event| sink.lock().unwrap().push(e.clone()));
    (hook, seen)
}

fn levels(events: &[Event]) -> Vec<EventLevel> {
    events.iter().map(Event::level).collect()
}

// ---------------------------------------------------------------- the event hook

fn the_event_hook_sees_each_answer_retry_and_status_change_without_the_key<A: Adapter>() {
    let (server, id) = faulty_server();
    let (hook, seen) = recorder();
    let c = client::<A>(&server, KEY).with_event_hook(hook);
    let err = c.wait(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JobFailed);

    let seen = seen.lock().unwrap();
    use EventLevel::{Debug, Info, Warn};
    assert_eq!(
        levels(&seen),
        [Debug, Warn, Debug, Warn, Debug, Info, Debug, Info]
    );
    let answers: Vec<u16> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Response { status, .. } => Some(status.as_u16()),
            _ => None,
        })
        .collect();
    assert_eq!(answers, [503, 429, 200, 200]);
    let failures: Vec<u32> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Retrying { failures, .. } => Some(*failures),
            _ => None,
        })
        .collect();
    assert_eq!(failures, [1, 2]);
    let statuses: Vec<JobStatus> = seen
        .iter()
        .filter_map(|e| match e {
            Event::Status(job) => Some(job.status()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses.last(), Some(&JobStatus::Failed));

    let lines: Vec<String> = seen.iter().map(ToString::to_string).collect();
    let path = format!("/v1/async-jobs/{}", id.as_str());
    assert!(
        lines[0].starts_with(&format!("GET {path} -> HTTP 503 in ")),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("(request id "), "{}", lines[0]);
    assert!(
        lines[3].starts_with("retry after 2 failures in 1000 ms: "),
        "{}",
        lines[3]
    );
    assert_eq!(lines[5], format!("job {}: status [REDACTED]", id.as_str()));
    assert_eq!(lines[7], format!("job {}: status failed", id.as_str()));
    for (line, event) in lines.iter().zip(seen.iter()) {
        assert!(!line.contains(KEY), "{line}");
        assert!(!format!("{event:?}").contains(KEY), "{event:?}");
    }
    server.shutdown();
}

// ---------------------------------------------------------------- tracing

fn a_wait_is_one_span_with_a_tracing_event_per_machine_event_and_no_key<A: Adapter>() {
    let (server, id) = faulty_server();
    let c = client::<A>(&server, KEY);
    let capture = Capture::new();
    let err = {
        let _default = tracing::subscriber::set_default(capture.clone());
        c.wait(&id).unwrap_err()
    };
    assert_eq!(err.kind(), ErrorKind::JobFailed);

    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].name, "deepidv.wait");
    assert_eq!(spans[0].fields["deepidv.job_id"], id.as_str());
    assert_eq!(spans[0].fields["deepidv.frontend"], A::NAME);

    let events = capture.events();
    let levels: Vec<&str> = events.iter().map(|e| e.level.as_str()).collect();
    assert_eq!(
        levels,
        [
            "debug", "warn", "debug", "warn", "debug", "info", "debug", "info"
        ]
    );
    for e in &events {
        assert_eq!(e.target, "deepidv");
        assert_eq!(e.spans, ["deepidv.wait"]);
    }
    let path = format!("/v1/async-jobs/{}", id.as_str());
    let answers: Vec<&CapturedEvent> = events.iter().filter(|e| e.level == "debug").collect();
    let codes: Vec<&str> = answers
        .iter()
        .map(|e| e.fields["http.response.status_code"].as_str())
        .collect();
    assert_eq!(codes, ["503", "429", "200", "200"]);
    for a in &answers {
        assert_eq!(a.fields["http.request.method"], "GET");
        assert_eq!(a.fields["url.path"], path);
        assert!(!a.fields["deepidv.request_id"].is_empty());
        assert!(a.fields["deepidv.latency_ms"].parse::<u64>().is_ok());
    }
    let retries: Vec<&CapturedEvent> = events.iter().filter(|e| e.level == "warn").collect();
    assert_eq!(retries[0].fields["deepidv.failures"], "1");
    assert_eq!(retries[1].fields["deepidv.failures"], "2");
    assert_eq!(retries[1].fields["deepidv.delay_ms"], "1000");
    assert_eq!(retries[1].fields["error.type"], "UNAVAILABLE");
    let statuses: Vec<&str> = events
        .iter()
        .filter(|e| e.level == "info")
        .map(|e| e.fields["deepidv.status"].as_str())
        .collect();
    assert_eq!(statuses, ["[REDACTED]", "failed"]);
    assert_eq!(events[5].fields["deepidv.job_id"], id.as_str());
    assert!(events[5].fields["message"].contains("[REDACTED]"));

    let text = capture.all_text();
    assert!(text.contains("[REDACTED]"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    server.shutdown();
}

/// Every operation, observed by a hook and a tracing subscriber at once: each
/// shows the hook at least one answer, the tracing events are the hook's events
/// one for one (one emit point), and each operation's events are inside its
/// own span.
fn every_operation_reaches_the_hook_and_its_own_span<A: Adapter>() {
    let server = MockServer::start_background(MockConfig::instant()).expect("simulator starts");
    let ready = JobId::new(server.insert_job(JobSpec::default())).unwrap();
    let pending = JobId::new(server.insert_job(JobSpec {
        pending: Some(Duration::from_millis(150)),
        processing: Some(Duration::ZERO),
        ..JobSpec::default()
    }))
    .unwrap();
    let stuck = JobId::new(server.insert_job(JobSpec {
        pending: Some(Duration::from_secs(120)),
        ..JobSpec::default()
    }))
    .unwrap();
    let (hook, seen) = recorder();
    let c = client::<A>(&server, DEFAULT_API_KEY).with_event_hook(hook);
    let capture = Capture::new();
    let count = || seen.lock().unwrap().len();
    // (operation, its span, if the adapter gives it one, and the hook's count after it)
    let mut marks: Vec<(&str, Option<&str>, usize)> = Vec::new();
    let driven = {
        let _default = tracing::subscriber::set_default(capture.clone());
        c.get_job(&ready).unwrap();
        marks.push(("get", Some("deepidv.get"), count()));
        c.wait(&ready).unwrap();
        marks.push(("wait", Some("deepidv.wait"), count()));
        c.wait_for(&ready, Duration::from_secs(5)).unwrap();
        marks.push(("wait_for", Some("deepidv.wait"), count()));
        let watched = c.watch(&pending, 1);
        assert_eq!(watched.items.len(), 1);
        marks.push(("watch", Some("deepidv.watch"), count()));
        assert_eq!(c.resume(watched.state).unwrap().status(), JobStatus::Ready);
        marks.push(("resume", Some("deepidv.wait"), count()));
        c.create(&person("Lovelace"), None).unwrap();
        marks.push(("create", Some("deepidv.create"), count()));
        let err = c
            .wait_cancelled_after(&stuck, Duration::from_millis(100))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        marks.push(("cancelled wait", Some("deepidv.wait"), count()));
        let (job, events) = c.wait_with_events(&ready);
        job.unwrap();
        marks.push(("drive", None, count()));
        events
    };
    let seen = seen.lock().unwrap();
    let traced = capture.events();
    assert_eq!(traced.len(), seen.len(), "one tracing event per hook event");
    for (t, e) in traced.iter().zip(seen.iter()) {
        assert_eq!(t.fields["message"], e.to_string());
        assert_eq!(t.level, e.level().to_string());
    }
    let mut from = 0;
    for (op, span, to) in marks {
        let shown = &seen[from..to];
        assert!(
            shown.iter().any(|e| matches!(e, Event::Response { .. })),
            "{op}: the hook saw no answer: {shown:?}"
        );
        if let Some(span) = span {
            for t in &traced[from..to] {
                assert_eq!(t.spans, [span], "{op}: {t:?}");
            }
        }
        from = to;
    }
    // a driven machine shows the hook what it shows the observer, in order
    let last = &seen[seen.len() - driven.len()..];
    assert_eq!(
        last.iter().map(ToString::to_string).collect::<Vec<_>>(),
        driven.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    let names: Vec<String> = capture.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(
        names,
        [
            "deepidv.get",
            "deepidv.wait",
            "deepidv.wait",
            "deepidv.watch",
            "deepidv.wait",
            "deepidv.create",
            "deepidv.wait"
        ]
    );
    server.shutdown();
}

// ---------------------------------------------------------------- both adapters

deepidv_conformance::both!(
    the_event_hook_sees_each_answer_retry_and_status_change_without_the_key,
    a_wait_is_one_span_with_a_tracing_event_per_machine_event_and_no_key,
    every_operation_reaches_the_hook_and_its_own_span,
);
