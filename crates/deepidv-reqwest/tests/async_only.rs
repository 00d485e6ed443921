//! What only the async adapter has: tokio's paused clock, dropped futures, the
//! `Stream` of a watch, spawned tasks. (Everything both adapters share is in the
//! `deepidv-conformance` suite.)

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use deepidv_mock::{
    DEFAULT_API_KEY, Fault, JobSpec, MockConfig, MockServer, Outcome, RetryAfter, Scope,
};
use deepidv_reqwest::{
    ApiKey, BaseUrl, CancellationToken, Client, Config, ErrorKind, Event, JobId, JobStatus,
};
use futures_util::StreamExt;

const LOOPBACK: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 0);

/// The simulator on the test's own runtime: with a paused clock, its answers
/// arrive before tokio skips ahead (and its `Delay` faults are virtual too).
async fn mock_here() -> MockServer {
    MockServer::start(MockConfig::instant(), LOOPBACK)
        .await
        .unwrap()
}

fn config(mock: &MockServer) -> Config {
    Config::new(ApiKey::new(DEFAULT_API_KEY).unwrap())
        .with_base_url(BaseUrl::parse(&mock.url()).unwrap())
}

fn fast(mock: &MockServer) -> Client {
    let mut c = config(mock);
    c.poll.interval = Duration::from_millis(20);
    c.poll.max_interval = Duration::from_millis(40);
    c.retry.initial_backoff = Duration::from_millis(10);
    c.retry.max_backoff = Duration::from_millis(20);
    Client::new(c).unwrap()
}

fn pending_job(mock: &MockServer) -> JobId {
    JobId::new(mock.insert_job(JobSpec {
        pending: Some(Duration::from_secs(3600)),
        ..JobSpec::default()
    }))
    .unwrap()
}

fn polls(mock: &MockServer, id: &JobId) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path.ends_with(id.as_str()))
        .count()
}

#[tokio::test(start_paused = true)]
async fn default_deadline_runs_on_the_paused_clock() {
    let mock = mock_here().await;
    let client = Client::new(config(&mock)).unwrap();
    let id = pending_job(&mock);
    let real = std::time::Instant::now();
    let virtual_start = tokio::time::Instant::now();
    let err = client.wait(&id).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(
        err.to_string().contains("did not finish within 600s"),
        "{err}"
    );
    // the default policy: 2 s growing ×1.5 to 5 s (±20 %), the last poll 250 ms
    // before the deadline, whose answer ends the wait by it
    let elapsed = virtual_start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(599_750) && elapsed <= Duration::from_secs(600),
        "{elapsed:?}"
    );
    let n = polls(&mock, &id);
    assert!((115..=160).contains(&n), "{n} polls in 10 virtual minutes");
    assert!(
        real.elapsed() < Duration::from_secs(10),
        "{:?}",
        real.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn long_retry_after_and_slow_answers_on_the_paused_clock() {
    let mock = mock_here().await;
    let client = Client::new(config(&mock)).unwrap();
    let id = JobId::new(mock.insert_job(JobSpec::default())).unwrap();
    let scope = Scope::Job(id.as_str().into());

    mock.inject(
        scope.clone(),
        Fault::RateLimit {
            retry_after: RetryAfter::Seconds(45),
        },
        1,
    );
    let t = tokio::time::Instant::now();
    assert_eq!(
        client.get_job(&id).await.unwrap().status(),
        JobStatus::Ready
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(45) && waited < Duration::from_secs(46),
        "{waited:?}"
    );

    // a 90 s answer against the default 30 s request timeout: cut off, then retried
    mock.inject(scope, Fault::Delay(Duration::from_secs(90)), 1);
    let t = tokio::time::Instant::now();
    assert_eq!(
        client.get_job(&id).await.unwrap().status(),
        JobStatus::Ready
    );
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
        "{waited:?}"
    );
}

#[tokio::test]
async fn dropping_the_future_cancels() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let client = fast(&mock);
    let id = pending_job(&mock);
    let outcome = tokio::time::timeout(Duration::from_millis(150), client.wait(&id)).await;
    assert!(outcome.is_err(), "still waiting when dropped");
    let n = polls(&mock, &id);
    assert!(n >= 2);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(polls(&mock, &id), n, "no poll after the future was dropped");

    // dropped while a request is in flight: the connection is abandoned
    mock.inject(
        Scope::Job(id.as_str().into()),
        Fault::Delay(Duration::from_millis(500)),
        1,
    );
    let t = std::time::Instant::now();
    let outcome = tokio::time::timeout(Duration::from_millis(100), client.get_job(&id)).await;
    assert!(outcome.is_err());
    assert!(t.elapsed() < Duration::from_millis(400));
    // and the client is fine afterwards
    assert_eq!(
        client.get_job(&id).await.unwrap().status(),
        JobStatus::Pending
    );
}

#[tokio::test]
async fn watch_is_a_stream_with_the_blocking_semantics() {
    let mock = MockServer::start_background(MockConfig {
        pending: Duration::from_millis(60),
        processing: Duration::from_millis(60),
        ..MockConfig::default()
    })
    .unwrap();
    let client = fast(&mock);
    let created = client
        .create_adverse_media(
            &deepidv_reqwest::AdverseMediaRequest::new(
                "Ada",
                "Lovelace",
                "ada@example.com",
                "1815-12-10",
                None,
            )
            .unwrap(),
            None,
        )
        .await
        .unwrap();
    let statuses: Vec<JobStatus> = client
        .watch(&created.id().unwrap())
        .map(|r| r.unwrap().status())
        .collect()
        .await;
    assert_eq!(
        statuses,
        [JobStatus::Pending, JobStatus::Processing, JobStatus::Ready]
    );

    // a failed job: yielded as Ok, then the end
    let failed = JobId::new(mock.insert_job(JobSpec {
        outcome: Outcome::Failed("nope".into()),
        pending: Some(Duration::ZERO),
        processing: Some(Duration::ZERO),
        ..JobSpec::default()
    }))
    .unwrap();
    let items: Vec<_> = client.watch(&failed).collect().await;
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].as_ref().unwrap().error(), Some("nope"));

    // an error: yielded once, then the end
    let unknown = JobId::new("job_unknown").unwrap();
    let mut watch = client.watch(&unknown);
    assert_eq!(
        watch.next().await.unwrap().unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert!(watch.next().await.is_none());
    assert!(watch.next().await.is_none(), "fused");
}

#[tokio::test]
async fn watch_cancelled_by_token_and_state_saved() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let client = fast(&mock);
    let id = pending_job(&mock);
    let token = CancellationToken::new();
    let mut watch = client.watch(&id).with_cancel(token.clone());
    assert_eq!(
        watch.next().await.unwrap().unwrap().status(),
        JobStatus::Pending
    );
    let state = watch.state();
    assert!(state.seen);
    assert_eq!(state.last_status, Some(JobStatus::Pending));
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(80)).await;
        token.cancel();
    });
    let err = watch.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.to_string().starts_with("cancelled"), "{err}");
    assert!(watch.next().await.is_none());
    canceller.await.unwrap();
    assert!(watch.state().attempts >= state.attempts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_tasks_and_the_many_stream() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    // the event hook goes along into every task and clone, called on the worker threads
    let ready = Arc::new(AtomicUsize::new(0));
    let count = ready.clone();
    let client = fast(&mock).with_event_hook(Arc::new(move |e: &Event| {
        if matches!(e, Event::Status(job) if job.status() == JobStatus::Ready) {
            count.fetch_add(1, Ordering::Relaxed);
        }
    }));
    let ids: Vec<JobId> = (0..50)
        .map(|_| JobId::new(mock.insert_job(JobSpec::default())).unwrap())
        .collect();
    // a client moves into spawned tasks (its futures are Send)
    let tasks: Vec<_> = ids
        .iter()
        .take(5)
        .cloned()
        .map(|id| {
            let c = client.clone();
            tokio::spawn(async move { c.wait(&id).await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap().unwrap().status(), JobStatus::Ready);
    }
    // as they finish, each with its id
    let mut done: Vec<(JobId, JobStatus)> = client
        .wait_many_stream(ids.clone(), 8)
        .map(|(id, r)| (id, r.unwrap().status()))
        .collect()
        .await;
    done.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(
        done.iter().map(|d| d.0.clone()).collect::<Vec<_>>(),
        expected
    );
    assert!(done.iter().all(|d| d.1 == JobStatus::Ready));
    assert_eq!(ready.load(Ordering::Relaxed), 5 + 50, "one ready per wait");
}

#[tokio::test]
async fn invalid_arguments_never_reach_the_network() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    assert_eq!(
        JobId::new("a/b").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        BaseUrl::parse("http://example.com").unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let client = fast(&mock);
    // a hostile but legal id stays one path segment
    let err = client
        .get_job(&JobId::new("..%2f..").unwrap())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rejected);
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths.len(), 1);
    assert!(paths[0].starts_with("/v1/async-jobs/"), "{paths:?}");
    assert!(
        !paths[0]["/v1/async-jobs/".len()..].contains('/'),
        "{paths:?}"
    );
}

/// Thousands of waiting jobs must not mean thousands of connections: requests in
/// flight are bounded by the client, and its pool is as large as that bound. (A few
/// more than the bound may open: hyper hands a finished connection back to the pool
/// from its own task, so the next request can race it. 300 would be unbounded.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_waits_share_a_bounded_set_of_connections() {
    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let mut c = config(&mock);
    c.poll.interval = Duration::from_millis(5);
    c.poll.max_interval = Duration::from_millis(10);
    let client = Client::with_max_connections(c, 4).unwrap();
    let ids: Vec<JobId> = (0..300)
        .map(|i| {
            JobId::new(mock.insert_job(JobSpec {
                processing: Some(Duration::from_millis(50 + i % 100)),
                ..JobSpec::default()
            }))
            .unwrap()
        })
        .collect();
    let before = mock.connections_accepted();
    let results = client.wait_many(ids.clone(), ids.len()).await;
    assert!(
        results
            .iter()
            .all(|r| r.as_ref().is_ok_and(|j| j.status() == JobStatus::Ready))
    );
    let polled = mock.requests().len();
    assert!(
        polled >= ids.len(),
        "every job was polled ({polled} requests)"
    );
    let opened = mock.connections_accepted() - before;
    assert!(
        opened <= 3 * 4,
        "{opened} connections for 300 concurrent waits, limit 4"
    );
}
