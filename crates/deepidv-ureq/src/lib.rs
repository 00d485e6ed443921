//! Blocking deepidv client: a thin driver of [`deepidv_core`] over ureq 3.
//!
//! The core decides everything (what to send, when to poll, what to retry); this
//! crate only does the I/O: it sends the requests the core builds, reads each
//! answer with the size cap enforced while reading, and sleeps when told to.
//! It never retries on its own.
//!
//! ```no_run
//! use deepidv_ureq::{Client, JobId};
//!
//! let client = Client::from_env()?;                 // DEEPIDV_API_KEY, DEEPIDV_BASE_URL
//! let job = client.wait(&JobId::new("job_123")?)?;  // polls until ready, with backoff
//! println!("{}", job.result().map_or("", |r| r.raw_json()));
//! # Ok::<(), deepidv_ureq::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

mod cancel;

pub use cancel::CancelHandle;
pub use deepidv_core::{
    self as core, AdverseMediaRequest, ApiKey, BaseUrl, Config, CreatedJob, Error, ErrorKind,
    Event, EventHookFn, EventLevel, IdempotencyKey, Job, JobId, JobStatus, PollerState,
};
use deepidv_core::{
    Action, CreateScreening, EventHook, Machine, Poller, Start, TransportError, TransportErrorKind,
    WatchFeed, WatchNext, http,
};
use deepidv_tracing::{EnteredOpSpan, OpSpan, Operation};

/// A blocking client. Cheap to clone (an `Arc`), safe to share between threads,
/// and it keeps connections alive between requests.
#[derive(Clone, Debug)]
pub struct Client {
    inner: Arc<Inner>,
    hook: Option<EventHook>,
}

#[derive(Debug)]
struct Inner {
    agent: ureq::Agent,
    config: Arc<Config>,
    /// The proxy the core decided (named in transport errors).
    proxy: Option<deepidv_core::ProxyUrl>,
    origin: Instant,
}

impl Client {
    /// A client for this configuration. The `User-Agent` names this adapter
    /// unless the configuration names another frontend.
    pub fn new(config: Config) -> Result<Self, Error> {
        Self::with_env(config, |name| std::env::var(name).ok())
    }

    /// [`Client::new`] with the proxy variables
    /// ([`PROXY_ENV_VARS`](deepidv_core::PROXY_ENV_VARS)) looked up by `env`
    /// instead of in the process environment.
    pub fn with_env(config: Config, env: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let config = config.with_default_frontend("ureq");
        // Trust and proxy are decided outside ureq (deepidv-trust, the core), so
        // both clients agree; ureq's own environment reading is turned off.
        let proxy = config.proxy_for(env)?;
        let roots = deepidv_trust::root_certificates(&config, proxy.as_ref())?
            .iter()
            .map(|der| ureq::tls::Certificate::from_der(der).to_owned())
            .collect();
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
            .build();
        let agent_proxy = match &proxy {
            Some(p) => Some(ureq::Proxy::new(p.expose()).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidArgument,
                    format!("proxy {p} is not usable (expected http://host:port)"),
                )
            })?),
            None => None,
        };
        let agent_config = ureq::Agent::config_builder()
            .tls_config(tls)
            .proxy(agent_proxy)
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(config.connect_timeout))
            .timeout_global(Some(config.request_timeout))
            .build();
        // ureq's default chain (CONNECT proxy, TCP, rustls), with sockets a
        // CancelHandle can shut down from another thread.
        use ureq::unversioned::transport::{
            ConnectProxyConnector, Connector as _, RustlsConnector,
        };
        let connector =
            ().chain(ConnectProxyConnector::default())
                .chain(cancel::InterruptibleTcp::default())
                .chain(RustlsConnector::default());
        let agent = ureq::Agent::with_parts(agent_config, connector, LiteralResolver::default());
        Ok(Self {
            inner: Arc::new(Inner {
                agent,
                config: Arc::new(config),
                proxy,
                origin: Instant::now(),
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

    /// The same client (sharing its connections), showing every [`Event`] of
    /// every call to `hook` as well (each answer, retry and status change; see
    /// [`Event::level`] and its one-line `Display`, which never holds the API
    /// key). Runs on the calling thread, inside the loop: keep it quick.
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

    /// Enters the span of one blocking call until the guard is dropped.
    fn enter(&self, op: Operation, job_id: Option<&JobId>) -> EnteredOpSpan {
        self.span(op, job_id).entered()
    }

    /// The configuration in use.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The proxy this client's requests go through, as decided when it was
    /// made ([`Config::proxy_for`]: the explicit setting, else the proxy
    /// variables; never one for a loopback base URL), or `None` for direct
    /// connections. For code that sends requests of its own (a sans-IO
    /// driver in another language) and must take the same route:
    /// [`ProxyUrl::expose`](deepidv_core::ProxyUrl::expose) is the full URL,
    /// credentials included; its `Display` hides them.
    pub fn proxy(&self) -> Option<&deepidv_core::ProxyUrl> {
        self.inner.proxy.as_ref()
    }

    /// This client's monotonic clock, as the core reads it.
    pub fn now(&self) -> Duration {
        self.inner.origin.elapsed()
    }

    /// One snapshot of the job (retried on transient failures, at most
    /// `retry.call_max_retries` times). A failed job is `Ok` here.
    pub fn get_job(&self, job_id: &JobId) -> Result<Job, Error> {
        let _span = self.enter(Operation::Get, Some(job_id));
        self.drive(&mut self.get_poller(job_id), &mut |_| {}, None)
    }

    /// Waits until the job is `ready` (`Ok`) or `failed` (an error of kind
    /// [`ErrorKind::JobFailed`] carrying the job), or the configured deadline.
    pub fn wait(&self, job_id: &JobId) -> Result<Job, Error> {
        let _span = self.enter(Operation::Wait, Some(job_id));
        self.drive(&mut self.wait_poller(job_id), &mut |_| {}, None)
    }

    /// [`Client::wait`], stopped at once (a sleep or a request in flight alike)
    /// when `cancel` is cancelled from another thread: then an error of kind
    /// [`ErrorKind::Timeout`] whose message starts with "cancelled".
    ///
    /// ```no_run
    /// use deepidv_ureq::{CancelHandle, Client, JobId};
    ///
    /// let client = Client::from_env()?;
    /// let cancel = CancelHandle::new();
    /// let remote = cancel.clone(); // e.g. for a shutdown handler
    /// std::thread::spawn(move || remote.cancel());
    /// let outcome = client.wait_with_cancel(&JobId::new("job_123")?, &cancel);
    /// # Ok::<(), deepidv_ureq::Error>(())
    /// ```
    pub fn wait_with_cancel(&self, job_id: &JobId, cancel: &CancelHandle) -> Result<Job, Error> {
        let _span = self.enter(Operation::Wait, Some(job_id));
        self.drive(&mut self.wait_poller(job_id), &mut |_| {}, Some(cancel))
    }

    /// [`Client::wait`] with another deadline.
    pub fn wait_for(&self, job_id: &JobId, timeout: Duration) -> Result<Job, Error> {
        let _span = self.enter(Operation::Wait, Some(job_id));
        let mut poller = self.wait_poller(job_id).with_timeout(timeout);
        self.drive(&mut poller, &mut |_| {}, None)
    }

    /// Resumes a wait saved with [`deepidv_core::Poller::state`].
    pub fn resume(&self, state: PollerState) -> Result<Job, Error> {
        let mut poller = self.start().resume(self.inner.config.clone(), state);
        let _span = self.enter(Operation::Wait, Some(poller.job_id()));
        self.drive(&mut poller, &mut |_| {}, None)
    }

    /// Each status the job goes through, as it is observed, ending with the
    /// terminal one (or an error).
    pub fn watch(&self, job_id: &JobId) -> Watch {
        Watch {
            client: self.clone(),
            poller: self.wait_poller(job_id),
            feed: WatchFeed::new(),
            cancel: None,
            span: self.span(Operation::Watch, Some(job_id)),
        }
    }

    /// Starts an adverse-media screening. With no `key`, a fresh random
    /// `Idempotency-Key` is made; every retry of this call reuses it.
    pub fn create_adverse_media(
        &self,
        request: &AdverseMediaRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<CreatedJob, Error> {
        let _span = self.enter(Operation::Create, None);
        let mut call = self.create_call(request, key)?;
        self.drive(&mut call, &mut |_| {}, None)
    }

    /// Starts an adverse-media screening and waits for its outcome.
    pub fn screen_adverse_media(
        &self,
        request: &AdverseMediaRequest,
        key: Option<IdempotencyKey>,
    ) -> Result<Job, Error> {
        let created = self.create_adverse_media(request, key)?;
        self.wait(&created.id()?)
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
    /// feature, and the [event hook](Client::with_event_hook)). With a `cancel`
    /// handle, a cancel from another thread ends the loop at once, a sleep or a
    /// request in flight included (see [`CancelHandle`]), with an error of kind
    /// [`ErrorKind::Timeout`].
    pub fn drive<M: Machine>(
        &self,
        machine: &mut M,
        observer: &mut dyn FnMut(&Event),
        cancel: Option<&CancelHandle>,
    ) -> Result<M::Output, Error> {
        loop {
            let action = self.step(machine, cancel);
            while let Some(event) = machine.poll_event() {
                self.emit(&event);
                observer(&event);
            }
            if let Some(done) = action {
                return done;
            }
        }
    }

    /// One step: `Some(outcome)` when the machine is done.
    fn step<M: Machine>(
        &self,
        machine: &mut M,
        cancel: Option<&CancelHandle>,
    ) -> Option<Result<M::Output, Error>> {
        if cancel.is_some_and(CancelHandle::is_cancelled) {
            return Some(Err(Error::cancelled()));
        }
        match machine.poll(self.now()) {
            Action::Send {
                request,
                timeout,
                max_body_bytes,
            } => {
                let sent = match cancel {
                    Some(c) => c.around(|| self.send(request, timeout, max_body_bytes)),
                    None => self.send(request, timeout, max_body_bytes),
                };
                // A request interrupted by a cancel is not a transport failure to retry.
                if cancel.is_some_and(CancelHandle::is_cancelled) {
                    return Some(Err(Error::cancelled()));
                }
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
                let delay = at.saturating_sub(self.now());
                match cancel {
                    Some(c) => {
                        if c.sleep(delay) {
                            return Some(Err(Error::cancelled()));
                        }
                    }
                    None => std::thread::sleep(delay),
                }
                None
            }
            Action::Done(outcome) => Some(outcome),
        }
    }

    fn send(
        &self,
        request: http::Request<Vec<u8>>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        let agent = &self.inner.agent;
        let request = agent
            .configure_request(request)
            .timeout_global(Some(timeout))
            .build();
        // No content, no Content-Length (RFC 9110 §8.6): ureq sends `Content-Length: 0`
        // for an empty Vec body, and none for `()`.
        let response = if request.body().is_empty() {
            agent.run(request.map(|_| ()))
        } else {
            agent.run(request)
        }
        .map_err(transport_error)?;
        let (parts, mut body) = response.into_parts();
        let limit = u64::try_from(max_body)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        let mut buf = Vec::new();
        body.with_config()
            .limit(u64::MAX)
            .reader()
            .take(limit)
            .read_to_end(&mut buf)
            .map_err(|e| {
                TransportError::new(TransportErrorKind::Io, format!("reading the body: {e}"))
            })?;
        Ok(http::Response::from_parts(parts, buf))
    }
}

/// ureq resolves the host before every request, even on a kept-alive connection,
/// and with a timeout set it does so on a new thread each time. An IP literal
/// (the simulator, `127.0.0.1`) needs no lookup: answer it directly, and leave
/// names to ureq's resolver. Measured: one thread spawn less per request.
#[derive(Debug, Default)]
struct LiteralResolver(ureq::unversioned::resolver::DefaultResolver);

impl ureq::unversioned::resolver::Resolver for LiteralResolver {
    fn resolve(
        &self,
        uri: &http::Uri,
        config: &ureq::config::Config,
        timeout: ureq::unversioned::transport::NextTimeout,
    ) -> Result<ureq::unversioned::resolver::ResolvedSocketAddrs, ureq::Error> {
        let host = uri.host().unwrap_or("");
        let literal = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>();
        let port = uri.port_u16().or_else(|| match uri.scheme_str() {
            Some("https") => Some(443),
            Some("http") => Some(80),
            _ => None,
        });
        match (literal, port) {
            (Ok(ip), Some(port)) => {
                let mut addrs = self.empty();
                addrs.push(std::net::SocketAddr::new(ip, port));
                Ok(addrs)
            }
            _ => self.0.resolve(uri, config, timeout),
        }
    }
}

/// Maps ureq's failures onto the core's transport kinds; the core decides what to retry.
fn transport_error(e: ureq::Error) -> TransportError {
    use std::io::ErrorKind as Io;
    let certificate = match &e {
        ureq::Error::Rustls(r) => deepidv_trust::certificate_error_kind(r),
        ureq::Error::Io(io) => deepidv_trust::certificate_error_kind_in(io),
        _ => None,
    };
    let kind = certificate.unwrap_or_else(|| match &e {
        ureq::Error::Timeout(_) => TransportErrorKind::Timeout,
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => TransportErrorKind::Connect,
        ureq::Error::Io(io) => match io.kind() {
            Io::ConnectionRefused
            | Io::NotFound
            | Io::AddrNotAvailable
            | Io::HostUnreachable
            | Io::NetworkUnreachable => TransportErrorKind::Connect,
            Io::TimedOut | Io::WouldBlock => TransportErrorKind::Timeout,
            _ => TransportErrorKind::Io,
        },
        ureq::Error::Protocol(_) => TransportErrorKind::Io,
        _ => TransportErrorKind::Other,
    });
    TransportError::new(kind, e)
}

/// Iterator over a job's observed statuses; see [`Client::watch`].
///
/// Yields `Ok(job)` for the first snapshot and each status change, the terminal
/// one included (a `failed` job is `Ok` here too), then ends. A failure (timeout,
/// expiry, unavailable…) is yielded as one `Err`, then the iterator ends.
#[derive(Debug)]
pub struct Watch {
    client: Client,
    poller: Poller,
    feed: WatchFeed,
    cancel: Option<CancelHandle>,
    /// The `deepidv.watch` span, entered at each step (with the `tracing` feature).
    span: OpSpan,
}

impl Watch {
    /// How the watch ended, once it has: `Ok(job)` when the job is `ready`, an
    /// error of kind [`ErrorKind::JobFailed`] (carrying the job) when it `failed`,
    /// or the error the iterator yielded. `None` while it runs.
    pub fn outcome(&self) -> Option<&Result<Job, Error>> {
        self.feed.outcome()
    }

    /// Makes the watch cancellable from another thread.
    pub fn with_cancel(mut self, cancel: CancelHandle) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// The poller's state, to save and resume the watch later.
    pub fn state(&self) -> PollerState {
        self.poller.state()
    }
}

impl Iterator for Watch {
    type Item = Result<Job, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let _span = self.span.enter();
            let client = &self.client;
            match self
                .feed
                .next_observed(&mut self.poller, |e| client.emit(e))
            {
                WatchNext::Yield(item) => return Some(item),
                WatchNext::Ended => return None,
                WatchNext::Step => {
                    if let Some(done) = self.client.step(&mut self.poller, self.cancel.as_ref()) {
                        self.feed.finish(done);
                    }
                }
            }
        }
    }
}
