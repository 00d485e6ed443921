//! The harness of the conformance suite: one [`Adapter`] trait, implemented for
//! the blocking client ([`Ureq`]) and for the async one ([`Reqwest`], driven on its
//! own tokio runtime), so every test in `tests/` is written once and run against
//! both, over real loopback HTTP against `deepidv_mock::MockServer`.
//!
//! Where the adapters legitimately differ (a blocking call cannot abandon a request
//! already in flight), the trait says so with a constant, and the test asserts each
//! side of it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(doctest)]
mod readmes;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use deepidv_core::{
    AdverseMediaRequest, ApiKey, BaseUrl, Config, CreatedJob, Error, ErrorKind, Event, EventHookFn,
    IdempotencyKey, Job, JobId, JobStatus, PollerState, ProxyUrl,
};
use futures_util::StreamExt;

/// What the suite needs from an adapter. Every method blocks until done.
pub trait Adapter: Send + Sync + Sized + 'static {
    /// The frontend name in the `User-Agent` (`ureq`, `reqwest`).
    const NAME: &'static str;
    /// How many jobs the "many concurrent waits" test uses, and at what concurrency.
    const MANY: (usize, usize);

    /// A client for this configuration.
    fn new(config: Config) -> Result<Self, Error>;
    /// A client for this configuration, with the proxy variables looked up by
    /// `env` instead of in the process environment.
    fn with_env(
        config: Config,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Self, Error>;
    /// The same client, showing every event of every call to `hook`
    /// (`with_event_hook`).
    fn with_event_hook(self, hook: Arc<EventHookFn>) -> Self;
    /// `proxy()`: the proxy the client decided on.
    fn proxy(&self) -> Option<&ProxyUrl>;
    /// `get_job`.
    fn get_job(&self, id: &JobId) -> Result<Job, Error>;
    /// `wait`.
    fn wait(&self, id: &JobId) -> Result<Job, Error>;
    /// `wait_for`.
    fn wait_for(&self, id: &JobId, timeout: Duration) -> Result<Job, Error>;
    /// `resume`.
    fn resume(&self, state: PollerState) -> Result<Job, Error>;
    /// `create_adverse_media`.
    fn create(
        &self,
        request: &AdverseMediaRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<CreatedJob, Error>;
    /// `screen_adverse_media`.
    fn screen(&self, request: &AdverseMediaRequest) -> Result<Job, Error>;
    /// A wait through `drive`, collecting every event the machine reported.
    fn wait_with_events(&self, id: &JobId) -> (Result<Job, Error>, Vec<Event>);
    /// A get through `drive`, collecting every event.
    fn get_with_events(&self, id: &JobId) -> (Result<Job, Error>, Vec<Event>);
    /// A create through `drive`, collecting every event.
    fn create_with_events(
        &self,
        request: &AdverseMediaRequest,
    ) -> (Result<CreatedJob, Error>, Vec<Event>);
    /// Up to `limit` items of `watch`, then the watch's saved state.
    fn watch(&self, id: &JobId, limit: usize) -> Watched;
    /// Waits for every job, at most `concurrency` at a time; results in input order.
    fn wait_many(&self, ids: Vec<JobId>, concurrency: usize) -> Vec<Result<Job, Error>>;
    /// A wait that another thread cancels after `after`.
    fn wait_cancelled_after(&self, id: &JobId, after: Duration) -> Result<Job, Error>;
}

/// Runs each generic test of a test file (`fn name<A: Adapter>()`) against both
/// adapters, as the tests `ureq::name` and `reqwest::name`.
#[macro_export]
macro_rules! both {
    ($($test:ident),* $(,)?) => {
        mod ureq {
            $( #[test] fn $test() { super::$test::<$crate::Ureq>() } )*
        }
        mod reqwest {
            $( #[test] fn $test() { super::$test::<$crate::Reqwest>() } )*
        }
    };
}

/// What a watch yielded (at most `limit` items), its state, and how it ended
/// (`None` if it was stopped at `limit` before the end).
#[derive(Debug)]
pub struct Watched {
    /// The items, in order.
    pub items: Vec<Result<Job, Error>>,
    /// The poller's state after them.
    pub state: PollerState,
    /// The watch's outcome, once it ended.
    pub outcome: Option<Result<Job, Error>>,
}

fn collect<'a>(events: &'a mut Vec<Event>) -> impl FnMut(&Event) + 'a {
    |e| events.push(e.clone())
}

/// The blocking adapter, called directly.
#[derive(Debug)]
pub struct Ureq(pub deepidv_ureq::Client);

impl Adapter for Ureq {
    const NAME: &'static str = "ureq";
    const MANY: (usize, usize) = (24, 6);

    fn new(config: Config) -> Result<Self, Error> {
        deepidv_ureq::Client::new(config).map(Self)
    }
    fn with_env(
        config: Config,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Self, Error> {
        deepidv_ureq::Client::with_env(config, env).map(Self)
    }
    fn with_event_hook(self, hook: Arc<EventHookFn>) -> Self {
        Self(self.0.with_event_hook(hook))
    }
    fn proxy(&self) -> Option<&ProxyUrl> {
        self.0.proxy()
    }
    fn get_job(&self, id: &JobId) -> Result<Job, Error> {
        self.0.get_job(id)
    }
    fn wait(&self, id: &JobId) -> Result<Job, Error> {
        self.0.wait(id)
    }
    fn wait_for(&self, id: &JobId, timeout: Duration) -> Result<Job, Error> {
        self.0.wait_for(id, timeout)
    }
    fn resume(&self, state: PollerState) -> Result<Job, Error> {
        self.0.resume(state)
    }
    fn create(
        &self,
        request: &AdverseMediaRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<CreatedJob, Error> {
        self.0.create_adverse_media(request, key)
    }
    fn screen(&self, request: &AdverseMediaRequest) -> Result<Job, Error> {
        self.0.screen_adverse_media(request, None)
    }
    fn wait_with_events(&self, id: &JobId) -> (Result<Job, Error>, Vec<Event>) {
        let mut events = Vec::new();
        let r = self
            .0
            .drive(&mut self.0.wait_poller(id), &mut collect(&mut events), None);
        (r, events)
    }
    fn get_with_events(&self, id: &JobId) -> (Result<Job, Error>, Vec<Event>) {
        let mut events = Vec::new();
        let r = self
            .0
            .drive(&mut self.0.get_poller(id), &mut collect(&mut events), None);
        (r, events)
    }
    fn create_with_events(
        &self,
        request: &AdverseMediaRequest,
    ) -> (Result<CreatedJob, Error>, Vec<Event>) {
        let mut events = Vec::new();
        let r = self
            .0
            .create_call(request, None)
            .and_then(|mut call| self.0.drive(&mut call, &mut collect(&mut events), None));
        (r, events)
    }
    fn watch(&self, id: &JobId, limit: usize) -> Watched {
        let mut watch = self.0.watch(id);
        let items: Vec<_> = watch.by_ref().take(limit).collect();
        if items.len() < limit {
            assert!(watch.next().is_none(), "a finished watch stays finished");
        }
        Watched {
            items,
            state: watch.state(),
            outcome: watch.outcome().cloned(),
        }
    }
    fn wait_many(&self, ids: Vec<JobId>, concurrency: usize) -> Vec<Result<Job, Error>> {
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Result<Job, Error>>>> =
            Mutex::new((0..ids.len()).map(|_| None).collect());
        std::thread::scope(|s| {
            for _ in 0..concurrency.max(1) {
                s.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(id) = ids.get(i) else { break };
                        let r = self.0.wait(id);
                        results.lock().unwrap()[i] = Some(r);
                    }
                });
            }
        });
        results
            .into_inner()
            .unwrap()
            .into_iter()
            .map(|r| r.expect("every job was waited for"))
            .collect()
    }
    fn wait_cancelled_after(&self, id: &JobId, after: Duration) -> Result<Job, Error> {
        let cancel = deepidv_ureq::CancelHandle::new();
        let remote = cancel.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(after);
            remote.cancel();
        });
        let r = self.0.wait_with_cancel(id, &cancel);
        canceller.join().unwrap();
        r
    }
}

/// The async adapter, driven to completion on a tokio runtime of its own.
#[derive(Debug)]
pub struct Reqwest {
    /// The runtime every call is `block_on`'d on.
    pub runtime: tokio::runtime::Runtime,
    /// The client.
    pub client: deepidv_reqwest::Client,
}

impl Adapter for Reqwest {
    const NAME: &'static str = "reqwest";
    const MANY: (usize, usize) = (200, 32);

    fn new(config: Config) -> Result<Self, Error> {
        Self::with_env(config, &|name| std::env::var(name).ok())
    }
    fn with_env(
        config: Config,
        env: &(dyn Fn(&str) -> Option<String> + Sync),
    ) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::new(ErrorKind::Internal, format!("no tokio runtime: {e}")))?;
        let client = {
            let _guard = runtime.enter();
            deepidv_reqwest::Client::with_env(
                config,
                deepidv_reqwest::DEFAULT_MAX_CONNECTIONS,
                env,
            )?
        };
        Ok(Self { runtime, client })
    }
    fn with_event_hook(self, hook: Arc<EventHookFn>) -> Self {
        Self {
            client: self.client.with_event_hook(hook),
            ..self
        }
    }
    fn proxy(&self) -> Option<&ProxyUrl> {
        self.client.proxy()
    }
    fn get_job(&self, id: &JobId) -> Result<Job, Error> {
        self.runtime.block_on(self.client.get_job(id))
    }
    fn wait(&self, id: &JobId) -> Result<Job, Error> {
        self.runtime.block_on(self.client.wait(id))
    }
    fn wait_for(&self, id: &JobId, timeout: Duration) -> Result<Job, Error> {
        self.runtime.block_on(self.client.wait_for(id, timeout))
    }
    fn resume(&self, state: PollerState) -> Result<Job, Error> {
        self.runtime.block_on(self.client.resume(state))
    }
    fn create(
        &self,
        request: &AdverseMediaRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<CreatedJob, Error> {
        self.runtime
            .block_on(self.client.create_adverse_media(request, key))
    }
    fn screen(&self, request: &AdverseMediaRequest) -> Result<Job, Error> {
        self.runtime
            .block_on(self.client.screen_adverse_media(request, None))
    }
    fn wait_with_events(&self, id: &JobId) -> (Result<Job, Error>, Vec<Event>) {
        let mut events = Vec::new();
        let mut poller = self.client.wait_poller(id);
        let r = self
            .runtime
            .block_on(self.client.drive(&mut poller, collect(&mut events), None));
        (r, events)
    }
    fn get_with_events(&self, id: &JobId) -> (Result<Job, Error>, Vec<Event>) {
        let mut events = Vec::new();
        let mut poller = self.client.get_poller(id);
        let r = self
            .runtime
            .block_on(self.client.drive(&mut poller, collect(&mut events), None));
        (r, events)
    }
    fn create_with_events(
        &self,
        request: &AdverseMediaRequest,
    ) -> (Result<CreatedJob, Error>, Vec<Event>) {
        let mut events = Vec::new();
        let r = self.client.create_call(request, None).and_then(|mut call| {
            self.runtime
                .block_on(self.client.drive(&mut call, collect(&mut events), None))
        });
        (r, events)
    }
    fn watch(&self, id: &JobId, limit: usize) -> Watched {
        let mut watch = self.client.watch(id);
        let items = self
            .runtime
            .block_on(watch.by_ref().take(limit).collect::<Vec<_>>());
        if items.len() < limit {
            let next = self.runtime.block_on(watch.next());
            assert!(next.is_none(), "a finished watch stays finished");
        }
        Watched {
            items,
            state: watch.state(),
            outcome: watch.outcome().cloned(),
        }
    }
    fn wait_many(&self, ids: Vec<JobId>, concurrency: usize) -> Vec<Result<Job, Error>> {
        self.runtime
            .block_on(self.client.wait_many(ids, concurrency))
    }
    fn wait_cancelled_after(&self, id: &JobId, after: Duration) -> Result<Job, Error> {
        let cancel = deepidv_reqwest::CancellationToken::new();
        let remote = cancel.clone();
        let canceller = std::thread::spawn(move || {
            std::thread::sleep(after);
            remote.cancel();
        });
        let r = self
            .runtime
            .block_on(self.client.wait_with_cancel(id, &cancel));
        canceller.join().unwrap();
        r
    }
}

/// A configuration for `base_url` and `key` with short policies: polls every
/// 20–50 ms, backoffs of at most 40 ms, a 2 s request timeout and a 10 s deadline.
pub fn fast_config(base_url: &str, key: &str) -> Config {
    let mut config = Config::new(ApiKey::new(key).expect("valid test key"))
        .with_base_url(BaseUrl::parse(base_url).expect("loopback URL"));
    config.request_timeout = Duration::from_secs(2);
    config.connect_timeout = Duration::from_secs(1);
    config.poll.first_delay = Duration::ZERO;
    config.poll.interval = Duration::from_millis(20);
    config.poll.multiplier = 1.5;
    config.poll.max_interval = Duration::from_millis(50);
    config.poll.timeout = Duration::from_secs(10);
    config.retry.initial_backoff = Duration::from_millis(10);
    config.retry.max_backoff = Duration::from_millis(40);
    config.retry.max_retry_after = Duration::from_secs(3);
    config
}

/// A valid screening request for someone with this last name (`Fail` and `Clean`
/// are the simulator's magic names).
pub fn person(last_name: &str) -> AdverseMediaRequest {
    AdverseMediaRequest::new(
        "Ada",
        last_name,
        "ada@example.com",
        "1990-04-01",
        Some("ca"),
    )
    .expect("valid request")
}
