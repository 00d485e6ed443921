//! Async deepidv client: a thin driver of [`deepidv_core`] over reqwest (tokio).
//!
//! The core decides everything (what to send, when to poll, what to retry); this
//! crate only does the I/O: it sends the requests the core builds, reads each
//! answer chunk by chunk with the size cap enforced while reading, and sleeps on
//! tokio's clock when told to. It never retries on its own, never follows a
//! redirect and never looks at a status code.
//!
//! ```no_run
//! use deepidv_reqwest::{Client, JobId};
//!
//! # async fn run() -> Result<(), deepidv_reqwest::Error> {
//! let client = Client::from_env()?;                       // DEEPIDV_API_KEY, DEEPIDV_BASE_URL
//! let job = client.wait(&JobId::new("job_123")?).await?;  // polls until ready, with backoff
//! println!("{}", job.result().map_or("", |r| r.raw_json()));
//! # Ok(())
//! # }
//! ```
//!
//! The method names are the blocking `deepidv-ureq` client's, so switching between
//! the two is a matter of adding or removing `.await`.
//!
//! # Time
//! The core is fed readings of [`tokio::time::Instant`] (from the client's creation),
//! and waits are [`tokio::time::sleep_until`], so a test under
//! `#[tokio::test(start_paused = true)]` skips through polling delays, backoffs and
//! deadlines instantly. (With a paused clock, serve the simulator on the *same*
//! runtime, e.g. `deepidv_mock::MockServer::start`, so answers arrive before tokio
//! advances the clock past a request's timeout.)
//!
//! # Cancellation
//! Dropping a future cancels it. A [`CancellationToken`] given to [`Client::drive`],
//! [`Client::wait_with_cancel`] or [`Watch::with_cancel`] also stops waits and
//! requests in flight, with an error of kind [`ErrorKind::Timeout`] whose message
//! starts with "cancelled", as the blocking client's `CancelHandle` does.
//!
//! # Observing
//! [`Client::with_event_hook`] shows every [`Event`] of every call (each answer,
//! retry and status change, one key-free line each) to a function of yours, as the
//! blocking client's does. The `tracing` feature adds a span per operation and a
//! `tracing` event per event (through `deepidv-tracing`; without the feature, the
//! spans are zero-sized no-ops).
//!
//! # TLS
//! rustls with the *ring* provider, trusting the operating system's store (the
//! bundled Mozilla roots where it is empty) plus [`Config::ca_certs`], assembled
//! by `deepidv-trust` for both clients: the same trust and crypto library as the
//! blocking adapter, and no other. The proxy is the one the core decides
//! ([`Config::proxy_for`]); reqwest's own environment reading is off.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

pub use deepidv_core::{
    self as core, AdverseMediaRequest, ApiKey, BaseUrl, Config, CreatedJob, Error, ErrorKind,
    Event, EventHookFn, EventLevel, IdempotencyKey, Job, JobId, JobStatus, PollerState,
};
use deepidv_core::{
    Action, CreateScreening, EventHook, Machine, Poller, Start, TransportError, TransportErrorKind,
    WatchFeed, WatchNext, http,
};
use deepidv_tracing::{OpSpan, Operation};
use futures_util::stream::{self, Stream, StreamExt};
use tokio::time::Instant;
pub use tokio_util::sync::CancellationToken;

/// Requests a [`Client::new`] client keeps in flight at once, and so the most
/// connections it opens to the API; see [`Client::with_max_connections`].
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

/// An async client. Cheap to clone (an `Arc`), `Send + Sync`, and it keeps
/// connections alive between requests.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
    hook: Option<EventHook>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    config: Arc<Config>,
    /// The proxy the core decided (named in transport errors).
    proxy: Option<deepidv_core::ProxyUrl>,
    origin: Instant,
    /// One permit per request in flight (see [`Client::with_max_connections`]).
    in_flight: tokio::sync::Semaphore,
}

impl Client {
    /// A client for this configuration. The `User-Agent` names this adapter
    /// unless the configuration names another frontend.
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::with_max_connections(config, DEFAULT_MAX_CONNECTIONS)
    }

    /// [`Client::new`], with at most `max` requests in flight at once across all
    /// of this client's (and its clones') calls, and a pool of `max` idle
    /// connections: thousands of waiting jobs never mean thousands of connections
    /// (about `max`: a request may open one more while hyper is still handing a
    /// finished connection back to the pool), and the pool is never too small for
    /// the traffic (a smaller pool makes connections churn: measured 3× slower).
    /// Waits beyond the limit stay parked between polls, costing a few KiB each,
    /// and queue for a turn when they poll.
    pub fn with_max_connections(config: Config, max: usize) -> Result<Self, Error> {
        Self::with_env(config, max, |name| std::env::var(name).ok())
    }

    /// [`Client::with_max_connections`] with the proxy variables
    /// ([`PROXY_ENV_VARS`](deepidv_core::PROXY_ENV_VARS)) looked up by `env`
    /// instead of in the process environment.
    pub fn with_env(
        config: Config,
        max: usize,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, Error> {
        let max = max.max(1);
        let config = config.with_default_frontend("reqwest");
        // Trust and proxy are decided outside reqwest (deepidv-trust, the core),
        // so both clients agree; reqwest's own environment reading is turned off.
        let proxy = config.proxy_for(env)?;
        let builder = match &proxy {
            Some(p) => {
                reqwest::Client::builder().proxy(reqwest::Proxy::all(p.expose()).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        format!("proxy {p} is not usable (expected http://host:port)"),
                    )
                })?)
            }
            None => reqwest::Client::builder().no_proxy(),
        };
        let http = builder
            .tls_backend_preconfigured(deepidv_trust::client_config(&config, proxy.as_ref())?)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .pool_max_idle_per_host(max)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Internal,
                    format!("could not build the HTTP client: {}", error_chain(&e)),
                )
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config: Arc::new(config),
                proxy,
                origin: Instant::now(),
                in_flight: tokio::sync::Semaphore::new(max),
            }),
            hook: None,
        })
    }

    /// A client configured from `DEEPIDV_API_KEY`, `DEEPIDV_BASE_URL`,
    /// `DEEPIDV_CA_BUNDLE`, `DEEPIDV_USER_AGENT_SUFFIX` and the proxy variables
    /// (see [`Config::from_env`]).
    pub fn from_env() -> Result<Self, Error> {
        let var = |name: &str| std::env::var(name).ok();
        Self::new(Config::from_env(var)?)
    }

    /// The same client (sharing its connections and its limit on requests in
    /// flight), showing every [`Event`] of every call to `hook` as well (each
    /// answer, retry and status change; see [`Event::level`] and its one-line
    /// `Display`, which never holds the API key). Runs on the task that polls
    /// the call, inside the loop: keep it quick, and do not block in it.
    pub fn with_event_hook(mut self, hook: Arc<EventHookFn>) -> Self {
        self.hook = Some(EventHook::new(hook));
        self
    }

    /// Shows one event to the tracing subscriber (with the `tracing` feature)
    /// and to the event hook, if any.
    fn emit(&self, event: &Event) {
        deepidv_tracing::observe(event, self.hook.as_ref());
    }

    /// The span of one operation (a no-op without the `tracing` feature).
    fn span(&self, op: Operation, job_id: Option<&JobId>) -> OpSpan {
        deepidv_tracing::span(op, job_id.map(JobId::as_str), &self.inner.config.frontend)
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The proxy this client's requests go through, as decided when it was
    /// made ([`Config::proxy_for`]: the explicit setting, else the proxy
    /// variables; never one for a loopback base URL), or `None` for direct
    /// connections. For code that sends requests of its own and must take the
    /// same route: [`ProxyUrl::expose`](deepidv_core::ProxyUrl::expose) is the
    /// full URL, credentials included; its `Display` hides them.
    pub fn proxy(&self) -> Option<&deepidv_core::ProxyUrl> {
        self.inner.proxy.as_ref()
    }

    /// This client's monotonic clock (tokio's), as the core reads it.
    pub fn now(&self) -> Duration {
        self.inner.origin.elapsed()
    }

    /// One snapshot of the job (retried on transient failures, at most
    /// `retry.call_max_retries` times). A failed job is `Ok` here.
    pub async fn get_job(&self, job_id: &JobId) -> Result<Job, Error> {
        let mut poller = self.get_poller(job_id);
        let get = self.drive(&mut poller, |_| {}, None);
        self.in_span(Operation::Get, Some(job_id), get).await
    }

    /// Waits until the job is `ready` (`Ok`) or `failed` (an error of kind
    /// [`ErrorKind::JobFailed`] carrying the job), or the configured deadline.
    pub async fn wait(&self, job_id: &JobId) -> Result<Job, Error> {
        let mut poller = self.wait_poller(job_id);
        let wait = self.drive(&mut poller, |_| {}, None);
        self.in_span(Operation::Wait, Some(job_id), wait).await
    }

    /// [`Client::wait`], stopped early (waits and requests in flight alike) when
    /// `cancel` is cancelled.
    pub async fn wait_with_cancel(
        &self,
        job_id: &JobId,
        cancel: &CancellationToken,
    ) -> Result<Job, Error> {
        let mut poller = self.wait_poller(job_id);
        let wait = self.drive(&mut poller, |_| {}, Some(cancel));
        self.in_span(Operation::Wait, Some(job_id), wait).await
    }

    /// [`Client::wait`] with another deadline.
    pub async fn wait_for(&self, job_id: &JobId, timeout: Duration) -> Result<Job, Error> {
        let mut poller = self.wait_poller(job_id).with_timeout(timeout);
        let wait = self.drive(&mut poller, |_| {}, None);
        self.in_span(Operation::Wait, Some(job_id), wait).await
    }

    /// Resumes a wait saved with [`deepidv_core::Poller::state`] (or [`Watch::state`]).
    pub async fn resume(&self, state: PollerState) -> Result<Job, Error> {
        let mut poller = self.start().resume(self.inner.config.clone(), state);
        let job_id = poller.job_id().clone();
        let wait = self.drive(&mut poller, |_| {}, None);
        self.in_span(Operation::Wait, Some(&job_id), wait).await
    }

    /// Waits for every job, with at most `concurrency` waits in progress at once.
    /// The results are in the order of `ids`. Connections are bounded by the
    /// client ([`Client::with_max_connections`]), not by `concurrency`, so a
    /// concurrency of thousands is fine: parked waits cost a few KiB each.
    pub async fn wait_many(
        &self,
        ids: impl IntoIterator<Item = JobId>,
        concurrency: usize,
    ) -> Vec<Result<Job, Error>> {
        let mut results: Vec<(usize, Result<Job, Error>)> =
            stream::iter(ids.into_iter().enumerate())
                .map(|(i, id)| async move { (i, self.wait(&id).await) })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        results.sort_unstable_by_key(|(i, _)| *i);
        results.into_iter().map(|(_, r)| r).collect()
    }

    /// Like [`Client::wait_many`], but yields each outcome as soon as it is known,
    /// with the job id it belongs to.
    pub fn wait_many_stream<I>(
        &self,
        ids: I,
        concurrency: usize,
    ) -> impl Stream<Item = (JobId, Result<Job, Error>)> + Send + 'static
    where
        I: IntoIterator<Item = JobId>,
        I::IntoIter: Send + 'static,
    {
        let client = self.clone();
        stream::iter(ids)
            .map(move |id| {
                let client = client.clone();
                async move {
                    let outcome = client.wait(&id).await;
                    (id, outcome)
                }
            })
            .buffer_unordered(concurrency.max(1))
    }

    /// Each status the job goes through, as it is observed, ending with the
    /// terminal one (or an error); see [`Watch`].
    pub fn watch(&self, job_id: &JobId) -> Watch {
        let span = self.span(Operation::Watch, Some(job_id));
        Watch::new(self.clone(), self.wait_poller(job_id), span)
    }

    /// Starts an adverse-media screening. With no `key`, a fresh random
    /// `Idempotency-Key` is made; every retry of this call reuses it.
    pub async fn create_adverse_media(
        &self,
        request: &AdverseMediaRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<CreatedJob, Error> {
        let mut call = self.create_call(request, key)?;
        let create = self.drive(&mut call, |_| {}, None);
        self.in_span(Operation::Create, None, create).await
    }

    /// Starts an adverse-media screening and waits for its outcome.
    pub async fn screen_adverse_media(
        &self,
        request: &AdverseMediaRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<Job, Error> {
        let created = self.create_adverse_media(request, key).await?;
        self.wait(&created.id()?).await
    }

    /// Runs `fut` inside the span of one operation (with the `tracing` feature).
    async fn in_span<T>(
        &self,
        op: Operation,
        job_id: Option<&JobId>,
        fut: impl Future<Output = T>,
    ) -> T {
        self.span(op, job_id).instrument(fut).await
    }

    /// This client's clocks and a fresh seed from the OS, to build a machine from.
    pub fn start(&self) -> Start {
        Start {
            now: self.now(),
            wall: SystemTime::now(),
            // Jitter needs spread, not secrecy: without OS randomness, the clock will do.
            seed: getrandom::u64().unwrap_or_else(|_| self.now().as_nanos() as u64),
        }
    }

    /// A poller for one snapshot, on this client's clock.
    pub fn get_poller(&self, job_id: &JobId) -> Poller {
        self.start().get(self.inner.config.clone(), job_id.clone())
    }

    /// A poller for a wait, on this client's clock.
    pub fn wait_poller(&self, job_id: &JobId) -> Poller {
        self.start().wait(self.inner.config.clone(), job_id.clone())
    }

    /// A create call, on this client's clock. With no `key`, a fresh one from the
    /// OS CSPRNG (an error only if the OS has no randomness to give).
    pub fn create_call(
        &self,
        request: &AdverseMediaRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<CreateScreening, Error> {
        let key = match key {
            Some(key) => key,
            None => IdempotencyKey::generate(getrandom::fill)?,
        };
        Ok(self
            .start()
            .create(self.inner.config.clone(), request.clone(), key))
    }

    /// The one driver loop: runs any core machine to completion, reporting each
    /// event to `observer` (after the tracing subscriber, with the `tracing`
    /// feature, and the [event hook](Client::with_event_hook)). With a `cancel` token, cancelling it ends the loop at
    /// once, interrupting a wait or a request in flight, with an error of kind
    /// [`ErrorKind::Timeout`]. Dropping the future cancels too.
    pub async fn drive<M, F>(
        &self,
        machine: &mut M,
        mut observer: F,
        cancel: Option<&CancellationToken>,
    ) -> Result<M::Output, Error>
    where
        M: Machine,
        F: FnMut(&Event),
    {
        let mut urls = UrlCache::default();
        loop {
            let action = self.step(machine, cancel, &mut urls).await;
            while let Some(event) = machine.poll_event() {
                self.emit(&event);
                observer(&event);
            }
            if let Some(done) = action {
                return done;
            }
        }
    }

    /// One step: `Some(outcome)` when the machine is done (or cancelled).
    async fn step<M: Machine>(
        &self,
        machine: &mut M,
        cancel: Option<&CancellationToken>,
        urls: &mut UrlCache,
    ) -> Option<Result<M::Output, Error>> {
        if cancel.is_some_and(CancellationToken::is_cancelled) {
            return Some(Err(Error::cancelled()));
        }
        match machine.poll(self.now()) {
            Action::Send {
                request,
                timeout,
                max_body_bytes: max_body,
            } => {
                let request = match urls.request(request) {
                    Ok(r) => r,
                    Err(e) => {
                        machine.handle_transport_error(self.now(), e);
                        return None;
                    }
                };
                // Boxed: a parked wait's future then holds a pointer, not the whole
                // in-flight exchange (measured: 2.5 KB → a few hundred bytes per wait),
                // for one allocation per request.
                let send = Box::pin(async {
                    // The semaphore is never closed; a closed one would just mean no limit.
                    let _permit = self.inner.in_flight.acquire().await.ok();
                    self.send(request, timeout, max_body).await
                });
                let sent = match cancel {
                    Some(c) => tokio::select! {
                        biased;
                        () = c.cancelled() => return Some(Err(Error::cancelled())),
                        sent = send => sent,
                    },
                    None => send.await,
                };
                match sent {
                    Ok(response) => machine.handle_response(self.now(), &response),
                    Err(e) => machine.handle_transport_error(
                        self.now(),
                        e.through_proxy(self.inner.proxy.as_ref()),
                    ),
                }
                None
            }
            Action::WaitUntil(at) => {
                let sleep = tokio::time::sleep_until(self.inner.origin + at);
                match cancel {
                    Some(c) => tokio::select! {
                        biased;
                        () = c.cancelled() => return Some(Err(Error::cancelled())),
                        () = sleep => {}
                    },
                    None => sleep.await,
                }
                None
            }
            Action::Done(outcome) => Some(outcome),
        }
    }

    /// Sends one request and reads its body, all within `timeout`, reading at
    /// most `max_body + 1` bytes.
    async fn send(
        &self,
        request: reqwest::Request,
        timeout: Duration,
        max_body: usize,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let exchange = async {
            let mut response = self
                .inner
                .http
                .execute(request)
                .await
                .map_err(transport_error)?;
            let limit = max_body.saturating_add(1);
            let mut buf = Vec::new();
            while buf.len() < limit {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        let take = chunk.len().min(limit - buf.len());
                        buf.extend_from_slice(&chunk[..take]);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        return Err(TransportError::new(
                            TransportErrorKind::Io,
                            format!("reading the body: {}", error_chain(&e)),
                        ));
                    }
                }
            }
            let mut builder = http::Response::builder()
                .status(response.status())
                .version(response.version());
            if let Some(headers) = builder.headers_mut() {
                *headers = std::mem::take(response.headers_mut());
            }
            // Dropping `response` here with unread bytes closes that connection
            // rather than draining it.
            builder
                .body(buf)
                .map_err(|e| TransportError::new(TransportErrorKind::Other, e))
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(TransportError::new(
                TransportErrorKind::Timeout,
                format!("no complete answer within {timeout:?}"),
            )),
        }
    }
}

/// The last URL parsed for a machine: its attempts all go to the same URI, and
/// reqwest wants a `Url`, so the parse is done once per machine, not per request.
#[derive(Debug, Default)]
struct UrlCache(Option<(http::Uri, reqwest::Url)>);

impl UrlCache {
    fn request(
        &mut self,
        request: http::Request<Vec<u8>>,
    ) -> Result<reqwest::Request, TransportError> {
        let (parts, body) = request.into_parts();
        let url = match &self.0 {
            Some((uri, url)) if *uri == parts.uri => url.clone(),
            _ => {
                let url = reqwest::Url::parse(&parts.uri.to_string())
                    .map_err(|e| TransportError::new(TransportErrorKind::Other, e))?;
                self.0 = Some((parts.uri, url.clone()));
                url
            }
        };
        let mut r = reqwest::Request::new(parts.method, url);
        *r.headers_mut() = parts.headers;
        *r.body_mut() = Some(body.into());
        Ok(r)
    }
}

/// `e` and its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Maps reqwest's failures onto the core's transport kinds; the core decides what to retry.
fn transport_error(e: reqwest::Error) -> TransportError {
    let kind = if let Some(kind) = deepidv_trust::certificate_error_kind_in(&e) {
        kind
    } else if e.is_timeout() {
        TransportErrorKind::Timeout
    } else if e.is_connect() {
        TransportErrorKind::Connect
    } else if e.is_builder() || e.is_redirect() {
        TransportErrorKind::Other
    } else if e.is_request() || e.is_body() || e.is_decode() {
        TransportErrorKind::Io
    } else {
        TransportErrorKind::Other
    };
    // reqwest's message names the URL, which holds no secret (the key is a header).
    TransportError::new(kind, error_chain(&e))
}

type StepFuture = Pin<Box<dyn Future<Output = Box<WatchInner>> + Send>>;

/// The stream of a job's observed statuses; see [`Client::watch`].
///
/// Yields `Ok(job)` for the first snapshot and each status change, the terminal
/// one included (a `failed` job is `Ok` here too), then ends. A failure (timeout,
/// expiry, unavailable, cancelled…) is yielded as one `Err`, then the stream ends.
/// The same semantics as the blocking client's `Watch` iterator.
pub struct Watch {
    slot: Slot,
    state: PollerState,
    outcome: Option<Result<Job, Error>>,
}

enum Slot {
    Idle(Box<WatchInner>),
    Busy(StepFuture),
    Done,
}

struct WatchInner {
    client: Client,
    poller: Poller,
    feed: WatchFeed,
    cancel: Option<CancellationToken>,
    urls: UrlCache,
    /// The `deepidv.watch` span, entered at each step (with the `tracing` feature).
    span: OpSpan,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let slot = match self.slot {
            Slot::Idle(_) => "idle",
            Slot::Busy(_) => "busy",
            Slot::Done => "done",
        };
        f.debug_struct("Watch")
            .field("slot", &slot)
            .field("state", &self.state)
            .finish()
    }
}

impl Watch {
    fn new(client: Client, poller: Poller, span: OpSpan) -> Self {
        let state = poller.state();
        Self {
            slot: Slot::Idle(Box::new(WatchInner {
                client,
                poller,
                feed: WatchFeed::new(),
                cancel: None,
                urls: UrlCache::default(),
                span,
            })),
            state,
            outcome: None,
        }
    }

    /// How the watch ended, once the stream has: `Ok(job)` when the job is
    /// `ready`, an error of kind [`ErrorKind::JobFailed`] (carrying the job) when
    /// it `failed`, or the error the stream yielded. `None` until it has ended.
    pub fn outcome(&self) -> Option<&Result<Job, Error>> {
        self.outcome.as_ref()
    }

    /// Makes the watch cancellable: cancelling the token ends it with one error
    /// of kind [`ErrorKind::Timeout`] (a wait or request in flight is interrupted).
    pub fn with_cancel(mut self, cancel: CancellationToken) -> Self {
        if let Slot::Idle(inner) = &mut self.slot {
            inner.cancel = Some(cancel);
        }
        self
    }

    /// The poller's state as of its last completed step, to save and resume the
    /// watch later with [`Client::resume`].
    pub fn state(&self) -> PollerState {
        match &self.slot {
            Slot::Idle(inner) => inner.poller.state(),
            _ => self.state.clone(),
        }
    }
}

impl Stream for Watch {
    type Item = Result<Job, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            match std::mem::replace(&mut this.slot, Slot::Done) {
                Slot::Done => return Poll::Ready(None),
                Slot::Busy(mut step) => match step.as_mut().poll(cx) {
                    Poll::Pending => {
                        this.slot = Slot::Busy(step);
                        return Poll::Pending;
                    }
                    Poll::Ready(inner) => {
                        this.state = inner.poller.state();
                        this.slot = Slot::Idle(inner);
                    }
                },
                Slot::Idle(mut inner) => {
                    let WatchInner {
                        client,
                        poller,
                        feed,
                        span,
                        ..
                    } = &mut *inner;
                    let next = {
                        let _entered = span.enter();
                        feed.next_observed(poller, |e| client.emit(e))
                    };
                    match next {
                        WatchNext::Yield(item) => {
                            this.slot = Slot::Idle(inner);
                            return Poll::Ready(Some(item));
                        }
                        WatchNext::Ended => {
                            this.outcome = inner.feed.take_outcome();
                            return Poll::Ready(None);
                        }
                        WatchNext::Step => {}
                    }
                    let span = inner.span.clone();
                    let step = async move {
                        let WatchInner {
                            client,
                            poller,
                            feed,
                            cancel,
                            urls,
                            ..
                        } = &mut *inner;
                        if let Some(done) = client.step(poller, cancel.as_ref(), urls).await {
                            feed.finish(done);
                        }
                        inner
                    };
                    this.slot = Slot::Busy(Box::pin(span.instrument(step)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}
    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn client_and_futures_are_send() {
        assert_send_sync::<Client>();
        let client = Client::new(Config::new(ApiKey::new("sk_test_x").unwrap())).unwrap();
        let id = JobId::new("job_1").unwrap();
        assert_send(&client.wait(&id));
        assert_send(&client.watch(&id));
        assert_send(&client.wait_many([id.clone()], 2));
        let hooked = client.clone().with_event_hook(Arc::new(|_: &Event| {}));
        assert_send(&hooked.wait(&id));
        assert_send(&hooked.watch(&id));
        assert!(format!("{hooked:?}").contains("hook: Some(EventHook)"));
        assert_eq!(client.config().frontend, "reqwest");
        assert!(client.config().user_agent().ends_with("(reqwest)"));
    }

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl std::fmt::Display for Outer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("error sending request")
        }
    }
    impl std::error::Error for Outer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn error_chain_is_one_line_with_sources() {
        let e = Outer(std::io::Error::other("connection reset by peer"));
        assert_eq!(
            error_chain(&e),
            "error sending request: connection reset by peer"
        );
    }
}
