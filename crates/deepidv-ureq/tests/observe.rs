//! What a wait tells observers, against a real simulator with faults: the event
//! hook (always) and tracing spans and events (feature `tracing`), with their
//! fields, and the API key in none of them, even from a server that echoes it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use deepidv_mock::{Fault, JobSpec, MockConfig, MockServer, Outcome, RetryAfter, Scope};
use deepidv_ureq::{ApiKey, BaseUrl, Client, Config, ErrorKind, Event, EventLevel, JobId};

const KEY: &str = "sk_test_trace_secret_4242";

/// A failed job whose first three polls meet a 503, a 429 (`Retry-After: 1`) and
/// an answer echoing the API key as the job's status.
fn faulty_server() -> (MockServer, JobId) {
    let server = MockServer::start_background(MockConfig {
        api_keys: vec![(KEY.into(), "org_trace".into())],
        ..MockConfig::instant()
    })
    .unwrap();
    let id = server.insert_job(JobSpec {
        org: Some("org_trace".into()),
        outcome: Outcome::Failed("provider down".into()),
        ..JobSpec::default()
    });
    let job = Scope::Job(id.clone());
    server.inject(
        job.clone(),
        Fault::Status {
            status: 503,
            body: deepidv_mock::ErrorBody::Json,
        },
        1,
    );
    server.inject(
        job.clone(),
        Fault::RateLimit {
            retry_after: RetryAfter::Seconds(1),
        },
        1,
    );
    server.inject(job, Fault::UnknownStatus(KEY.into()), 1);
    (server, JobId::new(id).unwrap())
}

fn client(server: &MockServer) -> Client {
    let mut config = Config::new(ApiKey::new(KEY).unwrap())
        .with_base_url(BaseUrl::parse(&server.url()).unwrap());
    config.poll.first_delay = Duration::ZERO;
    config.poll.interval = Duration::from_millis(10);
    config.poll.max_interval = Duration::from_millis(20);
    config.retry.initial_backoff = Duration::from_millis(10);
    config.retry.max_backoff = Duration::from_millis(20);
    Client::new(config).unwrap()
}

#[test]
fn the_event_hook_sees_each_answer_retry_and_status_change_without_the_key() {
    let (server, id) = faulty_server();
    let seen: Arc<Mutex<Vec<(EventLevel, String, Event)>>> = Arc::default();
    let sink = seen.clone();
    let client = client(&server).with_event_hook(Arc::new(move |e: &Event| {
        sink.lock()
            .unwrap()
            .push((e.level(), e.to_string(), e.clone()));
    }));
    let err = client.wait(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JobFailed);
    let seen = seen.lock().unwrap();
    let levels: Vec<EventLevel> = seen.iter().map(|s| s.0).collect();
    use EventLevel::{Debug, Info, Warn};
    assert_eq!(levels, [Debug, Warn, Debug, Warn, Debug, Info, Debug, Info]);
    let statuses: Vec<u16> = seen
        .iter()
        .filter_map(|s| match &s.2 {
            Event::Response { status, .. } => Some(status.as_u16()),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [503, 429, 200, 200]);
    let path = format!("/v1/async-jobs/{}", id.as_str());
    assert!(
        seen[0]
            .1
            .starts_with(&format!("GET {path} -> HTTP 503 in ")),
        "{}",
        seen[0].1
    );
    assert!(seen[0].1.contains("(request id "), "{}", seen[0].1);
    assert!(
        seen[3].1.starts_with("retry after 2 failures in 1000 ms: "),
        "{}",
        seen[3].1
    );
    assert_eq!(seen[5].1, format!("job {}: status [REDACTED]", id.as_str()));
    assert_eq!(seen[7].1, format!("job {}: status failed", id.as_str()));
    for (_, line, event) in seen.iter() {
        assert!(!line.contains(KEY), "{line}");
        assert!(!format!("{event:?}").contains(KEY), "{event:?}");
    }
    server.shutdown();
}

#[cfg(feature = "tracing")]
#[test]
fn a_wait_is_one_span_with_a_tracing_event_per_machine_event_and_no_key() {
    use deepidv_tracing::capture::Capture;

    let (server, id) = faulty_server();
    let client = client(&server);
    let capture = Capture::new();
    let err = {
        let _guard = tracing::subscriber::set_default(capture.clone());
        client.wait(&id).unwrap_err()
    };
    assert_eq!(err.kind(), ErrorKind::JobFailed);

    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].name, "deepidv.wait");
    assert_eq!(spans[0].fields["deepidv.job_id"], id.as_str());
    assert_eq!(spans[0].fields["deepidv.frontend"], "ureq");

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
    let answers: Vec<_> = events.iter().filter(|e| e.level == "debug").collect();
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
    let retries: Vec<_> = events.iter().filter(|e| e.level == "warn").collect();
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
    assert!(events[5].fields["message"].contains("[REDACTED]"));

    let text = capture.all_text();
    assert!(text.contains("[REDACTED]"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    server.shutdown();
}

#[cfg(feature = "tracing")]
#[test]
fn get_watch_and_create_have_their_own_spans() {
    use deepidv_tracing::capture::Capture;

    let (server, id) = faulty_server();
    server.clear_faults();
    let client = client(&server);
    let capture = Capture::new();
    {
        let _guard = tracing::subscriber::set_default(capture.clone());
        client.get_job(&id).unwrap();
        assert_eq!(client.watch(&id).count(), 1);
        let request = deepidv_ureq::AdverseMediaRequest::new(
            "Ada",
            "Lovelace",
            "ada@example.com",
            "1990-04-01",
            None,
        )
        .unwrap();
        client.create_adverse_media(&request, None).unwrap();
    }
    let names: Vec<String> = capture.spans().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["deepidv.get", "deepidv.watch", "deepidv.create"]);
    let inside: Vec<Vec<String>> = capture
        .events()
        .into_iter()
        .filter(|e| e.level == "debug")
        .map(|e| e.spans)
        .collect();
    assert_eq!(
        inside,
        [["deepidv.get"], ["deepidv.watch"], ["deepidv.create"]]
    );
    server.shutdown();
}
