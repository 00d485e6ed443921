//! The tracing spans and events of the async client (feature `tracing`), against
//! a real simulator with faults, with their fields, and the API key in none of
//! them, even from a server that echoes it.
#![cfg(feature = "tracing")]

use std::time::Duration;

use deepidv_mock::{ErrorBody, Fault, JobSpec, MockConfig, MockServer, Outcome, RetryAfter, Scope};
use deepidv_reqwest::{ApiKey, BaseUrl, Client, Config, ErrorKind, JobId};
use deepidv_tracing::capture::Capture;
use futures_util::StreamExt;

const KEY: &str = "sk_test_trace_secret_async_77";

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

#[tokio::test(flavor = "current_thread")]
async fn a_wait_is_one_span_with_a_tracing_event_per_machine_event_and_no_key() {
    let (server, id) = faulty_server();
    let client = client(&server);
    let capture = Capture::new();
    let guard = tracing::subscriber::set_default(capture.clone());
    let err = client.wait(&id).await.unwrap_err();
    drop(guard);
    assert_eq!(err.kind(), ErrorKind::JobFailed);

    let spans = capture.spans();
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].name, "deepidv.wait");
    assert_eq!(spans[0].fields["deepidv.job_id"], id.as_str());
    assert_eq!(spans[0].fields["deepidv.frontend"], "reqwest");

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

    let text = capture.all_text();
    assert!(text.contains("[REDACTED]"), "{text}");
    assert!(!text.contains(KEY), "{text}");
    server.shutdown();
}

#[tokio::test(flavor = "current_thread")]
async fn get_watch_and_create_have_their_own_spans() {
    let (server, id) = faulty_server();
    server.clear_faults();
    let client = client(&server);
    let capture = Capture::new();
    let guard = tracing::subscriber::set_default(capture.clone());
    client.get_job(&id).await.unwrap();
    assert_eq!(client.watch(&id).count().await, 1);
    let request = deepidv_reqwest::AdverseMediaRequest::new(
        "Ada",
        "Lovelace",
        "ada@example.com",
        "1990-04-01",
        None,
    )
    .unwrap();
    client.create_adverse_media(&request, None).await.unwrap();
    drop(guard);
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
