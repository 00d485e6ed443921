//! The conformance suite: every test is written once, generic over [`Adapter`], and
//! instantiated for both adapters by `deepidv_conformance::both!` at the bottom. Each test
//! starts its own simulator on loopback and talks real HTTP to it.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use deepidv_conformance::{
    Adapter, Config, ErrorKind, Event, IdempotencyKey, JobId, JobStatus, PollerState, Watched,
    fast_config, person,
};
use deepidv_core::RiskLevel;
use deepidv_mock::{
    DEFAULT_API_KEY, ErrorBody, Fault, JobSpec, MockConfig, MockServer, Outcome, RecordedRequest,
    RetryAfter, Scope,
};

// ---------------------------------------------------------------- helpers

fn mock(config: MockConfig) -> MockServer {
    MockServer::start_background(config).expect("simulator starts")
}

fn client<A: Adapter>(mock: &MockServer) -> A {
    A::new(fast_config(&mock.url(), DEFAULT_API_KEY)).expect("client")
}

fn client_with<A: Adapter>(mock: &MockServer, edit: impl FnOnce(&mut Config)) -> A {
    let mut config = fast_config(&mock.url(), DEFAULT_API_KEY);
    edit(&mut config);
    A::new(config).expect("client")
}

fn job(mock: &MockServer, pending: Duration, processing: Duration) -> JobId {
    let id = mock.insert_job(JobSpec {
        pending: Some(pending),
        processing: Some(processing),
        ..JobSpec::default()
    });
    JobId::new(id).unwrap()
}

fn instant_job(mock: &MockServer) -> JobId {
    job(mock, Duration::ZERO, Duration::ZERO)
}

fn slow_job(mock: &MockServer) -> JobId {
    job(mock, Duration::from_secs(120), Duration::ZERO)
}

/// The requests the simulator received about this job.
fn job_requests(mock: &MockServer, id: &JobId) -> Vec<RecordedRequest> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path == format!("/v1/async-jobs/{}", id.as_str()))
        .collect()
}

fn statuses(requests: &[RecordedRequest]) -> Vec<u16> {
    requests.iter().map(|r| r.status).collect()
}

fn retries(events: &[Event]) -> Vec<(u32, Duration, String)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Retrying {
                failures,
                delay,
                error,
            } => Some((*failures, *delay, error.to_string())),
            _ => None,
        })
        .collect()
}

fn status_events(events: &[Event]) -> Vec<JobStatus> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Status(job) => Some(job.status()),
            _ => None,
        })
        .collect()
}

/// A one-shot HTTP server that answers every request with a redirect to `location`.
fn redirect_server(
    status: &'static str,
    location: String,
) -> (String, std::thread::JoinHandle<usize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
            head.push(byte[0]);
        }
        let answer = format!(
            "HTTP/1.1 {status}\r\nlocation: {location}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        );
        stream.write_all(answer.as_bytes()).unwrap();
        head.len()
    });
    (url, handle)
}

// ---------------------------------------------------------------- lifecycle

fn lifecycle<A: Adapter>() {
    let mock = mock(MockConfig {
        pending: Duration::from_millis(150),
        processing: Duration::from_millis(150),
        ..MockConfig::default()
    });
    let c: A = client(&mock);
    let created = c.create(&person("Smith"), None).unwrap();
    assert_eq!(created.status, JobStatus::Pending);
    assert!(!created.replayed);
    let id = created.id().unwrap();

    let Watched {
        items,
        state,
        outcome,
    } = c.watch(&id, usize::MAX);
    let seen: Vec<JobStatus> = items.iter().map(|j| j.as_ref().unwrap().status()).collect();
    assert_eq!(outcome.unwrap().unwrap().status(), JobStatus::Ready);
    assert_eq!(
        seen,
        [JobStatus::Pending, JobStatus::Processing, JobStatus::Ready]
    );
    assert_eq!(state.last_status, Some(JobStatus::Ready));
    assert!(state.seen);

    let job = items.last().unwrap().as_ref().unwrap();
    assert_eq!(job.job_id, id.as_str());
    assert!(job.created_at.unix_millis().unwrap() > 1_600_000_000_000);
    let result = job.result().unwrap().adverse_media().unwrap();
    let score = result.risk_score.unwrap();
    assert!((0.0..=100.0).contains(&score), "{score}");
    let expected_level = match score as u32 {
        0..=24 => RiskLevel::Low,
        25..=49 => RiskLevel::Medium,
        50..=74 => RiskLevel::High,
        _ => RiskLevel::Critical,
    };
    assert_eq!(result.risk_level, Some(expected_level));
    assert_eq!(result.exposures_by_category.len(), 9);
    assert!(!result.summary.is_empty());
    // nothing the server sent is lost
    let raw: serde_json::Value = serde_json::from_str(job.result().unwrap().raw_json()).unwrap();
    assert_eq!(raw["riskScore"].as_f64(), Some(score));

    // the whole flow in one call, with the "clean" magic input
    let clean = c.screen(&person("Clean")).unwrap();
    let clean = clean.result().unwrap().adverse_media().unwrap();
    assert_eq!(clean.risk_level, Some(RiskLevel::Low));
    assert!(clean.findings.is_empty());
    assert_eq!(clean.total_hits, 0);
}

fn failed_jobs<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    // through the API's magic input
    let created = c.create(&person("Fail"), None).unwrap();
    let err = c.wait(&created.id().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JobFailed);
    assert_eq!(err.code(), 1);
    let failed = err.job().expect("the failed job is attached");
    assert_eq!(failed.status(), JobStatus::Failed);
    assert!(!failed.error().unwrap().is_empty());

    // an inserted job with a known reason
    let id = JobId::new(mock.insert_job(JobSpec {
        outcome: Outcome::Failed("document unreadable".into()),
        ..JobSpec::default()
    }))
    .unwrap();
    let err = c.wait(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JobFailed);
    assert!(err.to_string().contains("document unreadable"), "{err}");
    assert_eq!(err.into_job().unwrap().error(), Some("document unreadable"));
    // a get returns the failed snapshot as a success
    assert_eq!(c.get_job(&id).unwrap().status(), JobStatus::Failed);
    // a watch yields the failed job as its last item, and no error
    let Watched { items, outcome, .. } = c.watch(&id, usize::MAX);
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().unwrap().status(), JobStatus::Failed);
    // ... and its outcome says so, with the job
    let failed = outcome.unwrap().unwrap_err();
    assert_eq!(failed.kind(), ErrorKind::JobFailed);
    assert_eq!(failed.job().unwrap().job_id, id.as_str());
}

// ---------------------------------------------------------------- error statuses

fn bad_id_rejected_by_server<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = JobId::new("bad.id!").unwrap(); // one segment for us, malformed for the server
    let err = c.get_job(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(400));
    assert!(err.request_id().is_some(), "{err:?}");
    assert!(err.to_string().contains("HTTP 400"), "{err}");
    assert_eq!(mock.requests().len(), 1, "a 400 is not retried");
}

fn unauthorized<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let id = instant_job(&mock);
    let c = A::new(fast_config(&mock.url(), "sk_test_not_a_known_key")).unwrap();
    let err = c.get_job(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.code(), 5);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(401));
    let err = c.wait(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(mock.requests().len(), 2, "a 401 is not retried");
}

fn forbidden<A: Adapter>() {
    let mock = mock(MockConfig {
        api_keys: vec![
            ("sk_test_org_a".into(), "org_a".into()),
            ("sk_test_org_b".into(), "org_b".into()),
        ],
        ..MockConfig::instant()
    });
    let theirs = JobId::new(mock.insert_job(JobSpec {
        org: Some("org_b".into()),
        ..JobSpec::default()
    }))
    .unwrap();
    let c = A::new(fast_config(&mock.url(), "sk_test_org_a")).unwrap();
    // another organization's job
    let err = c.wait(&theirs).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(403));
    // a gateway answering 403 as for a missing key
    let ours = JobId::new(mock.insert_job(JobSpec {
        org: Some("org_a".into()),
        ..JobSpec::default()
    }))
    .unwrap();
    mock.inject(
        Scope::Job(ours.as_str().into()),
        Fault::Status {
            status: 403,
            body: ErrorBody::Json,
        },
        1,
    );
    let err = c.get_job(&ours).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unauthorized);
    assert!(err.to_string().contains("HTTP 403"), "{err}");
    // and the same key works once the fault is spent
    assert_eq!(c.get_job(&ours).unwrap().status(), JobStatus::Ready);
}

fn not_found<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = JobId::new("job_000000000000000000000000").unwrap();
    for err in [c.get_job(&id).unwrap_err(), c.wait(&id).unwrap_err()] {
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(err.code(), 4);
        assert!(!err.is_expired(), "never seen, so not expired: {err}");
    }
    assert_eq!(mock.requests().len(), 2, "a 404 is not retried");
}

fn expired_during_wait<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = slow_job(&mock);
    let err = std::thread::scope(|s| {
        s.spawn(|| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while job_requests(&mock, &id).len() < 2 && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            mock.expire(id.as_str());
        });
        c.wait(&id).unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.is_expired(), "{err}");
    assert!(err.to_string().contains("expired"), "{err}");
    assert_eq!(job_requests(&mock, &id).last().unwrap().status, 404);
}

// ---------------------------------------------------------------- faults

fn server_errors_are_retried<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    for (status, body) in [
        (500, ErrorBody::Json),
        (503, ErrorBody::Html),
        (502, ErrorBody::Html),
    ] {
        let id = instant_job(&mock);
        mock.inject(
            Scope::Job(id.as_str().into()),
            Fault::Status { status, body },
            3,
        );
        let (job, events) = c.wait_with_events(&id);
        assert_eq!(job.unwrap().status(), JobStatus::Ready);
        assert_eq!(
            statuses(&job_requests(&mock, &id)),
            [status, status, status, 200]
        );
        let retried = retries(&events);
        assert_eq!(retried.len(), 3);
        assert_eq!(
            retried.iter().map(|r| r.0).collect::<Vec<_>>(),
            [1, 2, 3],
            "consecutive failures counted"
        );
        for (_, delay, message) in &retried {
            assert!(
                *delay <= Duration::from_millis(40),
                "backoff within policy: {delay:?}"
            );
            assert!(message.contains(&format!("HTTP {status}")), "{message}");
            assert!(
                !message.contains('<'),
                "HTML is summarized, not dumped: {message}"
            );
        }
    }
    // a single get retries too
    let id = instant_job(&mock);
    mock.inject(
        Scope::Job(id.as_str().into()),
        Fault::Status {
            status: 504,
            body: ErrorBody::Html,
        },
        2,
    );
    assert_eq!(c.get_job(&id).unwrap().status(), JobStatus::Ready);
    assert_eq!(statuses(&job_requests(&mock, &id)), [504, 504, 200]);
}

fn server_errors_beyond_the_budget<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let fault = Fault::Status {
        status: 503,
        body: ErrorBody::Html,
    };
    let id = instant_job(&mock);
    mock.inject(Scope::Job(id.as_str().into()), fault.clone(), 50);
    let err = c.wait(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(err.code(), 7);
    assert!(err.to_string().contains("gave up after 5"), "{err}");
    assert_eq!(job_requests(&mock, &id).len(), 5, "wait_max_failures");

    let id = instant_job(&mock);
    mock.inject(Scope::Job(id.as_str().into()), fault, 50);
    let err = c.get_job(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert_eq!(job_requests(&mock, &id).len(), 4, "1 + call_max_retries");
}

fn rate_limit_retry_after_seconds<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = instant_job(&mock);
    mock.inject(
        Scope::Job(id.as_str().into()),
        Fault::RateLimit {
            retry_after: RetryAfter::Seconds(1),
        },
        1,
    );
    let start = Instant::now();
    let (job, events) = c.wait_with_events(&id);
    let elapsed = start.elapsed();
    assert_eq!(job.unwrap().status(), JobStatus::Ready);
    assert_eq!(statuses(&job_requests(&mock, &id)), [429, 200]);
    let retried = retries(&events);
    assert_eq!(retried.len(), 1);
    assert_eq!(
        retried[0].1,
        Duration::from_secs(1),
        "Retry-After honoured exactly"
    );
    assert!(elapsed >= Duration::from_millis(990), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(3), "{elapsed:?}");
}

fn rate_limit_retry_after_http_date<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = instant_job(&mock);
    mock.inject(
        Scope::Job(id.as_str().into()),
        Fault::RateLimit {
            retry_after: RetryAfter::HttpDate(2),
        },
        1,
    );
    let start = Instant::now();
    let (job, events) = c.get_with_events(&id);
    let elapsed = start.elapsed();
    assert_eq!(job.unwrap().status(), JobStatus::Ready);
    assert_eq!(statuses(&job_requests(&mock, &id)), [429, 200]);
    let delay = retries(&events)[0].1;
    // HTTP dates have one-second resolution
    assert!(
        delay >= Duration::from_secs(1) && delay <= Duration::from_secs(2),
        "{delay:?}"
    );
    assert!(elapsed >= delay, "{elapsed:?} < {delay:?}");
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
}

fn dropped_connections_are_retried<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = instant_job(&mock);
    mock.inject(Scope::Job(id.as_str().into()), Fault::Drop, 2);
    let (job, events) = c.wait_with_events(&id);
    assert_eq!(job.unwrap().status(), JobStatus::Ready);
    assert_eq!(statuses(&job_requests(&mock, &id)), [0, 0, 200]);
    assert_eq!(retries(&events).len(), 2);
    assert!(
        retries(&events)[0].2.contains("connection") || retries(&events)[0].2.contains("connect"),
        "{:?}",
        retries(&events)
    );
}

fn truncated_bodies_are_retried<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = instant_job(&mock);
    mock.inject(Scope::Job(id.as_str().into()), Fault::Truncate, 1);
    let (job, events) = c.get_with_events(&id);
    assert_eq!(job.unwrap().status(), JobStatus::Ready);
    assert_eq!(job_requests(&mock, &id).len(), 2);
    assert_eq!(retries(&events).len(), 1);
    assert!(
        retries(&events)[0].2.contains("connection failed"),
        "{:?}",
        retries(&events)
    );
}

fn slow_answers_time_out_then_retry<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client_with(&mock, |c| c.request_timeout = Duration::from_millis(300));
    let id = instant_job(&mock);
    mock.inject(
        Scope::Job(id.as_str().into()),
        Fault::Delay(Duration::from_secs(3)),
        1,
    );
    let start = Instant::now();
    let (job, events) = c.get_with_events(&id);
    let elapsed = start.elapsed();
    assert_eq!(job.unwrap().status(), JobStatus::Ready);
    assert!(elapsed >= Duration::from_millis(290), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(2500),
        "did not wait for the slow answer: {elapsed:?}"
    );
    let retried = retries(&events);
    assert_eq!(retried.len(), 1);
    assert!(retried[0].2.contains("timed out"), "{}", retried[0].2);
    assert_eq!(job_requests(&mock, &id).len(), 2);
}

fn malformed_and_wrong_shape_are_invalid_responses<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    for fault in [Fault::Malformed, Fault::WrongShape] {
        let id = instant_job(&mock);
        mock.inject(Scope::Job(id.as_str().into()), fault.clone(), 1);
        let err = c.wait(&id).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{fault:?}: {err}");
        assert_eq!(err.code(), 8);
        assert_eq!(
            job_requests(&mock, &id).len(),
            1,
            "{fault:?} is not retried"
        );
    }
}

fn oversized_bodies_are_refused_without_reading_them<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let cap = 64 * 1024;
    let c: A = client_with(&mock, |c| c.max_body_bytes = cap);
    // just under the cap: a valid (padded) job
    let id = slow_job(&mock);
    mock.inject(
        Scope::Job(id.as_str().into()),
        Fault::Oversized(cap - 100),
        1,
    );
    assert_eq!(c.get_job(&id).unwrap().status(), JobStatus::Processing);
    // just over it
    mock.inject(Scope::Job(id.as_str().into()), Fault::Oversized(cap + 1), 1);
    let err = c.get_job(&id).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        err.to_string().contains("larger than the 65536 byte limit"),
        "{err}"
    );
    // 64 GiB: reading it all would take far longer than the bound below
    mock.inject(Scope::Job(id.as_str().into()), Fault::Oversized(1 << 36), 1);
    let start = Instant::now();
    let err = c.get_job(&id).unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(
        elapsed < Duration::from_secs(5),
        "read too much: {elapsed:?}"
    );
    // and the client still works afterwards (the real job is still pending)
    assert_eq!(c.get_job(&id).unwrap().status(), JobStatus::Pending);
}

fn unknown_statuses_keep_polling<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = instant_job(&mock);
    mock.inject(
        Scope::Job(id.as_str().into()),
        Fault::UnknownStatus("on_hold".into()),
        3,
    );
    let (job, events) = c.wait_with_events(&id);
    assert_eq!(job.unwrap().status(), JobStatus::Ready);
    assert_eq!(
        status_events(&events),
        [JobStatus::Unknown("on_hold".into()), JobStatus::Ready]
    );
    assert_eq!(job_requests(&mock, &id).len(), 4);
}

fn legacy_format_is_parsed<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = instant_job(&mock);
    mock.inject(Scope::Job(id.as_str().into()), Fault::Legacy, 1);
    let job = c.wait(&id).unwrap();
    assert_eq!(job.status(), JobStatus::Ready);
    assert!(
        matches!(job.created_at, deepidv_core::CreatedAt::Text(_)),
        "{:?}",
        job.created_at
    );
    assert!(job.created_at.unix_millis().unwrap() > 1_600_000_000_000);
    assert!(job.result().is_some());
    assert_eq!(job_requests(&mock, &id).len(), 1);

    let failed = JobId::new(mock.insert_job(JobSpec {
        outcome: Outcome::Failed("legacy failure".into()),
        ..JobSpec::default()
    }))
    .unwrap();
    mock.inject(Scope::Job(failed.as_str().into()), Fault::Legacy, 1);
    let err = c.wait(&failed).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::JobFailed);
    assert_eq!(err.job().unwrap().error(), Some("legacy failure"));
}

fn connection_refused_is_unavailable<A: Adapter>() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let c = A::new(fast_config(&url, DEFAULT_API_KEY)).unwrap();
    let start = Instant::now();
    let err = c.get_job(&JobId::new("job_1").unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    assert!(err.to_string().contains("could not connect"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
}

// ---------------------------------------------------------------- create

fn idempotent_create<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let key = IdempotencyKey::new("order-4711").unwrap();
    let first = c.create(&person("Smith"), Some(key.clone())).unwrap();
    let again = c.create(&person("Smith"), Some(key)).unwrap();
    assert!(!first.replayed);
    assert!(again.replayed);
    assert_eq!(first.job_id, again.job_id);
    let other = c
        .create(
            &person("Smith"),
            Some(IdempotencyKey::new("order-4712").unwrap()),
        )
        .unwrap();
    assert_ne!(other.job_id, first.job_id);
    // no key given: a fresh one each call
    let a = c.create(&person("Smith"), None).unwrap();
    let b = c.create(&person("Smith"), None).unwrap();
    assert_ne!(a.job_id, b.job_id);
    let keys: Vec<String> = mock
        .requests()
        .iter()
        .map(|r| r.header("idempotency-key").unwrap().to_owned())
        .collect();
    assert_eq!(&keys[..3], ["order-4711", "order-4711", "order-4712"]);
    assert_ne!(keys[3], keys[4]);
    assert_eq!(keys[3].len(), 36, "a UUID: {}", keys[3]);
}

fn retried_create_reuses_its_key<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    // a 503 before the server did anything
    mock.inject(
        Scope::All,
        Fault::Status {
            status: 503,
            body: ErrorBody::Html,
        },
        1,
    );
    let (created, events) = c.create_with_events(&person("Smith"));
    let created = created.unwrap();
    assert!(!created.replayed);
    assert_eq!(retries(&events).len(), 1);
    let posts = mock.requests();
    assert_eq!(statuses(&posts), [503, 202]);
    let key = posts[0].header("idempotency-key").unwrap();
    assert_eq!(posts[1].header("idempotency-key"), Some(key));
    assert_eq!(posts[0].body, posts[1].body);

    // the server created the job, then the connection broke: the retry is a replay
    mock.clear_requests();
    mock.inject(Scope::All, Fault::Drop, 1);
    let created = c.create(&person("Jones"), None).unwrap();
    assert!(
        created.replayed,
        "the retry replayed the job the first attempt made"
    );
    let posts = mock.requests();
    assert_eq!(statuses(&posts), [0, 200]);
    assert_eq!(
        posts[0].header("idempotency-key"),
        posts[1].header("idempotency-key")
    );
    assert_eq!(
        c.wait(&created.id().unwrap()).unwrap().status(),
        JobStatus::Ready
    );
}

// ---------------------------------------------------------------- deadlines, cancellation

fn deadline_is_a_timeout<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = slow_job(&mock);
    let start = Instant::now();
    let err = c.wait_for(&id, Duration::from_millis(300)).unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.code(), 3);
    assert!(err.to_string().contains("did not finish"), "{err}");
    assert!(err.to_string().contains("pending"), "{err}");
    // the last poll goes out a tenth of the wait (30 ms) before the deadline, and its answer ends it
    assert!(elapsed >= Duration::from_millis(265), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    assert!(job_requests(&mock, &id).len() >= 3);
}

/// A slow server cannot push a wait past its deadline: with every answer delayed
/// and a request timeout (30 s) far longer than the wait (1.5 s), the last poll
/// goes out before the deadline with only the time left to answer, so the wait
/// ends on its deadline, not up to a second after it.
fn a_slow_server_cannot_push_a_wait_past_its_deadline<A: Adapter>() {
    let budget = Duration::from_millis(1500);
    let lead = budget / 10; // the last poll goes out at most this long before the deadline
    let slack = Duration::from_millis(150);
    // 400 ms: the last poll would be answered after the deadline; 1200 ms: it
    // would time out after it (a request sent on the deadline got a 1 s timeout).
    let mut ends = Vec::new();
    for latency in [Duration::from_millis(400), Duration::from_millis(1200)] {
        let mock = mock(MockConfig {
            latency,
            ..MockConfig::instant()
        });
        let c: A = client_with(&mock, |c| c.request_timeout = Duration::from_secs(30));
        let id = slow_job(&mock);
        let start = Instant::now();
        let err = c.wait_for(&id, budget).unwrap_err();
        let elapsed = start.elapsed();
        eprintln!(
            "{}: latency {latency:?}, wait_for({budget:?}) ended after {elapsed:?}",
            A::NAME
        );
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(err.to_string().contains("did not finish"), "{err}");
        assert!(!job_requests(&mock, &id).is_empty());
        ends.push((latency, elapsed));
    }
    for (latency, elapsed) in ends {
        assert!(
            elapsed <= budget + slack,
            "latency {latency:?}: ended {elapsed:?} after the start, past the {budget:?} deadline"
        );
        assert!(
            elapsed >= budget - lead,
            "latency {latency:?}: ended early, after {elapsed:?}"
        );
    }
}

fn cancellation<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    // during a wait between polls
    let id = slow_job(&mock);
    let start = Instant::now();
    let err = c
        .wait_cancelled_after(&id, Duration::from_millis(150))
        .unwrap_err();
    let elapsed = start.elapsed();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().starts_with("cancelled"), "{err}");
    assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    let polls = job_requests(&mock, &id).len();
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(
        job_requests(&mock, &id).len(),
        polls,
        "no poll after the cancel"
    );

    // during a request in flight
    let id = slow_job(&mock);
    mock.inject(
        Scope::Job(id.as_str().into()),
        Fault::Delay(Duration::from_millis(1200)),
        1,
    );
    let start = Instant::now();
    let err = c
        .wait_cancelled_after(&id, Duration::from_millis(150))
        .unwrap_err();
    let elapsed = start.elapsed();
    assert!(err.to_string().starts_with("cancelled"), "{err}");
    assert!(
        elapsed < Duration::from_millis(900),
        "the request in flight was not interrupted: {elapsed:?}"
    );
    assert_eq!(job_requests(&mock, &id).len(), 1);

    // the interrupted connection is not reused: the next call works
    let ready = instant_job(&mock);
    assert_eq!(c.wait(&ready).unwrap().status(), JobStatus::Ready);
}

fn many_concurrent_waits<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let (n, concurrency) = A::MANY;
    let ids: Vec<JobId> = (0..n)
        .map(|i| {
            job(
                &mock,
                Duration::from_millis(30 + (i as u64 % 7) * 10),
                Duration::from_millis(40),
            )
        })
        .collect();
    let start = Instant::now();
    let results = c.wait_many(ids.clone(), concurrency);
    let elapsed = start.elapsed();
    assert_eq!(results.len(), n);
    for (id, r) in ids.iter().zip(&results) {
        let job = r.as_ref().unwrap();
        assert_eq!(job.job_id, id.as_str(), "results are in input order");
        assert_eq!(job.status(), JobStatus::Ready);
    }
    assert!(mock.requests().iter().all(|r| r.status == 200));
    assert!(elapsed < Duration::from_secs(15), "{elapsed:?}");
}

fn resume_from_saved_state<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let id = job(
        &mock,
        Duration::from_millis(300),
        Duration::from_millis(200),
    );
    let c: A = client(&mock);
    let Watched {
        items,
        state,
        outcome,
    } = c.watch(&id, 1);
    assert!(outcome.is_none(), "stopped before the end");
    assert_eq!(items[0].as_ref().unwrap().status(), JobStatus::Pending);
    assert_eq!(state.job_id, id);
    assert!(state.seen);
    assert_eq!(state.last_status, Some(JobStatus::Pending));
    let saved = serde_json::to_string(&state).unwrap();

    // "another process": a fresh client, the state read back from JSON
    let restored: PollerState = serde_json::from_str(&saved).unwrap();
    assert_eq!(restored, state);
    let other: A = client(&mock);
    let job = other.resume(restored.clone()).unwrap();
    assert_eq!(job.status(), JobStatus::Ready);

    // a resumed wait remembers the job was seen: a 404 now means expired
    mock.expire(id.as_str());
    let err = other.resume(restored).unwrap_err();
    assert!(err.is_expired(), "{err}");
}

// ---------------------------------------------------------------- the wire

fn headers_sent<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let c: A = client(&mock);
    let id = instant_job(&mock);
    c.get_job(&id).unwrap();
    c.create(&person("Smith"), None).unwrap();
    let requests = mock.requests();
    let ua = format!("deepidv-rust/{} ({})", deepidv_core::VERSION, A::NAME);
    let get = &requests[0];
    assert_eq!(get.method, "GET");
    assert_eq!(get.header("x-api-key"), Some(DEFAULT_API_KEY));
    assert_eq!(get.header("accept"), Some("application/json"));
    assert_eq!(get.header("user-agent"), Some(ua.as_str()));
    assert_eq!(get.header("content-type"), None, "no body, no Content-Type");
    assert_eq!(get.header("idempotency-key"), None);
    assert_eq!(
        get.header("content-length"),
        None,
        "a GET without content sends no Content-Length (RFC 9110 §8.6)"
    );
    assert!(get.body.is_empty());
    let post = &requests[1];
    assert_eq!(post.method, "POST");
    assert_eq!(post.path, "/v1/screening/adverse-media");
    assert_eq!(post.header("x-api-key"), Some(DEFAULT_API_KEY));
    assert_eq!(post.header("user-agent"), Some(ua.as_str()));
    assert_eq!(post.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["lastName"], "Smith");
    assert_eq!(body["country"], "CA");
}

fn user_agent_suffix_reaches_the_wire<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let id = instant_job(&mock);
    let c: A = client_with(&mock, |config| {
        *config = config
            .clone()
            .with_user_agent_suffix(" myapp/1.2 ")
            .unwrap();
    });
    c.get_job(&id).unwrap();
    c.create(&person("Smith"), None).unwrap();
    // From the environment, as `Config::from_env` (and so `Client::from_env`) reads it.
    let url = mock.url();
    let env = |name: &str| match name {
        deepidv_core::API_KEY_ENV => Some(DEFAULT_API_KEY.to_owned()),
        deepidv_core::BASE_URL_ENV => Some(url.clone()),
        deepidv_core::USER_AGENT_SUFFIX_ENV => Some("envapp/3.4 (ci)".to_owned()),
        _ => None,
    };
    let from_env = A::new(Config::from_env(env).unwrap()).unwrap();
    from_env.get_job(&id).unwrap();
    let ua = |suffix: &str| {
        format!(
            "deepidv-rust/{} ({}) {suffix}",
            deepidv_core::VERSION,
            A::NAME
        )
    };
    let requests = mock.requests();
    let sent: Vec<(&str, Option<&str>)> = requests
        .iter()
        .map(|r| (r.method.as_str(), r.header("user-agent")))
        .collect();
    assert_eq!(
        sent,
        [
            ("GET", Some(ua("myapp/1.2").as_str())),
            ("POST", Some(ua("myapp/1.2").as_str())),
            ("GET", Some(ua("envapp/3.4 (ci)").as_str())),
        ]
    );
}

fn redirects_are_not_followed<A: Adapter>() {
    let mock = mock(MockConfig::instant());
    let id = instant_job(&mock);
    // GET: 302 to the simulator, which would answer 200
    let (url, server) = redirect_server(
        "302 Found",
        format!("{}/v1/async-jobs/{}", mock.url(), id.as_str()),
    );
    let c = A::new(fast_config(&url, DEFAULT_API_KEY)).unwrap();
    let err = c.get_job(&id).unwrap_err();
    assert!(server.join().unwrap() > 0);
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert_eq!(err.status().map(|s| s.as_u16()), Some(302));
    assert!(err.to_string().contains("redirect"), "{err}");
    // POST: 307 would repeat the body elsewhere
    let (url, server) = redirect_server(
        "307 Temporary Redirect",
        format!("{}/v1/screening/adverse-media", mock.url()),
    );
    let c = A::new(fast_config(&url, DEFAULT_API_KEY)).unwrap();
    let err = c.create(&person("Smith"), None).unwrap_err();
    assert!(server.join().unwrap() > 0);
    assert_eq!(err.status().map(|s| s.as_u16()), Some(307));
    assert!(
        mock.requests().is_empty(),
        "the simulator was never reached"
    );
}

fn api_key_in_no_error_message<A: Adapter>() {
    const SECRET: &str = "sk_test_TOPSECRET_9f8e7d6c";
    const WRONG: &str = "sk_test_WRONGSECRET_1a2b3c";
    let mock = mock(MockConfig {
        api_keys: vec![(SECRET.into(), "org_secret".into())],
        ..MockConfig::instant()
    });
    let id = JobId::new(mock.insert_job(JobSpec {
        org: Some("org_secret".into()),
        pending: Some(Duration::from_secs(120)),
        ..JobSpec::default()
    }))
    .unwrap();
    let fast = |key: &str, url: &str| {
        let mut config = fast_config(url, key);
        config.request_timeout = Duration::from_millis(200);
        A::new(config).unwrap()
    };
    let c = fast(SECRET, &mock.url());
    let scope = Scope::Job(id.as_str().into());
    let mut errors = Vec::new();
    errors.push(fast(WRONG, &mock.url()).get_job(&id).unwrap_err());
    mock.inject(
        scope.clone(),
        Fault::Status {
            status: 503,
            body: ErrorBody::Html,
        },
        10,
    );
    errors.push(c.get_job(&id).unwrap_err());
    mock.clear_faults();
    mock.inject(scope.clone(), Fault::Malformed, 1);
    errors.push(c.get_job(&id).unwrap_err());
    mock.inject(scope.clone(), Fault::Delay(Duration::from_secs(1)), 4);
    errors.push(c.get_job(&id).unwrap_err());
    mock.clear_faults();
    errors.push(c.get_job(&JobId::new("bad.id!").unwrap()).unwrap_err());
    errors.push(c.wait_for(&id, Duration::from_millis(100)).unwrap_err());
    errors.push(
        c.wait_cancelled_after(&id, Duration::from_millis(50))
            .unwrap_err(),
    );
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    errors.push(fast(SECRET, &dead).get_job(&id).unwrap_err());
    let kinds: Vec<ErrorKind> = errors.iter().map(|e| e.kind()).collect();
    assert_eq!(
        kinds,
        [
            ErrorKind::Unauthorized,
            ErrorKind::Unavailable,
            ErrorKind::InvalidResponse,
            ErrorKind::Unavailable,
            ErrorKind::Rejected,
            ErrorKind::Timeout,
            ErrorKind::Timeout,
            ErrorKind::Unavailable,
        ]
    );
    for e in &errors {
        let shown = format!("{e} {e:?} {}", e.server_message().unwrap_or(""));
        assert!(!shown.contains("TOPSECRET"), "{shown}");
        assert!(!shown.contains("WRONGSECRET"), "{shown}");
        assert!(!shown.contains('\n'), "one line: {shown}");
    }
}

// ---------------------------------------------------------------- both adapters

deepidv_conformance::both!(
    lifecycle,
    failed_jobs,
    bad_id_rejected_by_server,
    unauthorized,
    forbidden,
    not_found,
    expired_during_wait,
    server_errors_are_retried,
    server_errors_beyond_the_budget,
    rate_limit_retry_after_seconds,
    rate_limit_retry_after_http_date,
    dropped_connections_are_retried,
    truncated_bodies_are_retried,
    slow_answers_time_out_then_retry,
    malformed_and_wrong_shape_are_invalid_responses,
    oversized_bodies_are_refused_without_reading_them,
    unknown_statuses_keep_polling,
    legacy_format_is_parsed,
    connection_refused_is_unavailable,
    idempotent_create,
    retried_create_reuses_its_key,
    deadline_is_a_timeout,
    a_slow_server_cannot_push_a_wait_past_its_deadline,
    cancellation,
    many_concurrent_waits,
    resume_from_saved_state,
    headers_sent,
    user_agent_suffix_reaches_the_wire,
    redirects_are_not_followed,
    api_key_in_no_error_message,
);
