//! A faithful local simulator of the deepidv async-jobs HTTP API, for tests, demos and benches.
//!
//! `deepidv-mock` serves, over real HTTP/1.1 on loopback:
//!
//! - `POST /v1/screening/adverse-media`: validates the body (`email`, `firstName`, `lastName`, `dateOfBirth`,
//!   optional `country`) and answers `202 {"jobId","status","message"}`; with an `Idempotency-Key` header the
//!   same key (per organization) replays the same job with `200`.
//! - `GET /v1/async-jobs/{jobId}`: the job's current state, `pending` → `processing` → `ready` | `failed`, on
//!   configurable timings, computed from the elapsed time at each request. `400` for a malformed id, `404` for
//!   an unknown or expired one, `403` for another organization's job.
//!
//! Authentication is the `x-api-key` header: none → `403 {"message":"Missing API key"}`, unknown → `401`. Each
//! key belongs to an organization; with no key configured, [`DEFAULT_API_KEY`] (organization [`DEFAULT_ORG`])
//! is accepted. Every answer carries `x-request-id` and `content-type`.
//!
//! # Bulk screening
//!
//! [`MockConfig::rate_limit`] (`--rate-limit N/s`) limits job creations per API key (429 with `Retry-After`);
//! [`MockServer::stats`] (`GET /__mock/stats`) counts creations, replays, rate-limited requests and
//! `Idempotency-Key` conflicts (a key reused with another body answers 422, as the IETF idempotency-key draft
//! says), per key and per person, so a test can prove a bulk run made no duplicates. A server holds 100,000
//! jobs with no per-request cost growing with them.
//!
//! # Results are deterministic
//!
//! A ready job's `result` is derived from a hash (64-bit FNV-1a) of the normalized input (trimmed, lowercased
//! names and email, the date of birth and country): the same person always gets the same `riskScore`,
//! `riskLevel` (0–24 `LOW`, 25–49 `MEDIUM`, 50–74 `HIGH`, 75–100 `CRITICAL`), `findings` and
//! `exposuresByCategory` (all nine categories always present). Nothing is random.
//!
//! # Magic inputs
//!
//! | input | effect |
//! |---|---|
//! | `lastName` `Fail` (any case) | the job ends `failed`, with a plausible `error` string |
//! | `lastName` `Clean` (any case) | risk `LOW`, zero hits, no findings |
//! | `firstName` `Many` (any case) | 50 findings, risk `CRITICAL` (large results, for benchmarks) |
//!
//! # Faults
//!
//! [`MockServer::inject`] queues a [`Fault`] for the next `times` requests matching a [`Scope`]: 5xx bursts,
//! 429 with `Retry-After`, slow answers, dropped connections, truncated, malformed, wrongly-shaped or oversized
//! bodies, unknown statuses and the legacy format. The same faults can be scripted over HTTP (admin routes under
//! `/__mock/`, which need no API key and are never recorded or faulted) and from the binary's `--fault` flag.
//!
//! # Example
//!
//! ```
//! use deepidv_mock::{Fault, MockConfig, MockServer, Scope};
//!
//! let mock = MockServer::start_background(MockConfig::instant())?;
//! let url = mock.url(); // "http://127.0.0.1:PORT"
//! # assert!(url.starts_with("http://127.0.0.1:"));
//! // the next two requests answer 503 with an HTML gateway page
//! mock.inject(Scope::All, Fault::Status { status: 503, body: deepidv_mock::ErrorBody::Html }, 2);
//! // ... point the client at `url` with key `deepidv_mock::DEFAULT_API_KEY` ...
//! assert!(mock.requests().is_empty());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Admin routes (no API key needed)
//!
//! | route | body | answer |
//! |---|---|---|
//! | `POST /__mock/faults` | `{"scope": "all" \| {"job": ID} \| {"key": KEY}, "fault": FAULT, "times": N}` (`times` defaults to 1) | `204` |
//! | `DELETE /__mock/faults` | – | `204`, all queued faults cleared |
//! | `POST /__mock/jobs` | `{"org"?, "outcome": "ready" \| {"failed": "msg"}, "pendingMs"?, "processingMs"?, "id"?}` | `201 {"jobId": ID}` |
//! | `POST /__mock/jobs/{id}/expire` | – | `204` (`404` if unknown) |
//! | `GET /__mock/stats` | – | `200`, [`Stats`] as JSON |
//! | `GET /__mock/requests` | – | `200`, JSON array of `{"method","path","headers":[[name,value]…],"body","status"}` |
//! | `DELETE /__mock/requests` | – | `204`, the record cleared |
//!
//! `FAULT` is the JSON form documented on [`Fault`].

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod admin;
mod answer;
mod api;
mod body;
mod cli;
mod fault;
mod pki;
pub mod proxy;
mod rate;
mod result;
mod serve;
mod state;
mod stats;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use cli::{MockArgs, serve};
pub use fault::{ErrorBody, Fault, FaultArg, RetryAfter, Scope};
pub use pki::TestPki;
pub use stats::Stats;

use state::Shared;

/// The API key accepted when no key is configured (organization [`DEFAULT_ORG`]).
pub const DEFAULT_API_KEY: &str = "sk_test_deepidv_sandbox";
/// The organization of [`DEFAULT_API_KEY`], and of jobs inserted without an organization.
pub const DEFAULT_ORG: &str = "org_sandbox";

/// How the simulator behaves.
#[derive(Clone, Debug)]
pub struct MockConfig {
    /// Accepted API keys as `(key, organization)`; empty means [`DEFAULT_API_KEY`] for [`DEFAULT_ORG`].
    pub api_keys: Vec<(String, String)>,
    /// How long a new job stays `pending` (default 400 ms).
    pub pending: Duration,
    /// How long it then stays `processing` (default 1200 ms) before it is `ready` or `failed`.
    pub processing: Duration,
    /// How long after becoming terminal a job expires and answers 404 (default 10 minutes).
    pub ttl: Duration,
    /// Added to every API answer (default 0; admin routes are never delayed).
    pub latency: Duration,
    /// Job creations (`POST /v1/screening/adverse-media`) allowed per second and per API key (default `None`:
    /// unlimited). A token bucket holding about one second's worth (at least one): beyond it the POST answers
    /// `429` with `Retry-After` (whole seconds, at least 1), creates nothing and counts in
    /// [`Stats::rate_limited`]. `GET` polling is never limited.
    pub rate_limit: Option<f64>,
    /// Serve HTTPS with this certificate chain and key (default `None`: plain HTTP).
    pub tls: Option<MockTls>,
}

/// A TLS identity for the simulator: a PEM certificate chain (leaf first) and its PEM private key.
#[derive(Clone)]
pub struct MockTls {
    /// The certificate chain, PEM, leaf first.
    pub cert_pem: Vec<u8>,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for MockTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockTls").finish_non_exhaustive()
    }
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            api_keys: Vec::new(),
            pending: Duration::from_millis(400),
            processing: Duration::from_millis(1200),
            ttl: Duration::from_secs(600),
            latency: Duration::ZERO,
            rate_limit: None,
            tls: None,
        }
    }
}

impl MockConfig {
    /// The defaults, but jobs are terminal at once (`pending` = `processing` = 0): for fast tests.
    pub fn instant() -> Self {
        MockConfig {
            pending: Duration::ZERO,
            processing: Duration::ZERO,
            ..MockConfig::default()
        }
    }
}

/// How a job inserted with [`MockServer::insert_job`] ends.
///
/// JSON form: `"ready"` or `{"failed": "message"}`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// `ready`, with a deterministic result derived from the job id.
    #[default]
    Ready,
    /// `failed`, with this `error` string.
    Failed(String),
}

/// A job to create directly, bypassing `POST /v1/screening/adverse-media`.
#[derive(Clone, Debug, Default)]
pub struct JobSpec {
    /// The owning organization; `None` means [`DEFAULT_ORG`].
    pub org: Option<String>,
    /// How it ends.
    pub outcome: Outcome,
    /// Time spent `pending`; `None` means the server's [`MockConfig::pending`].
    pub pending: Option<Duration>,
    /// Time spent `processing`; `None` means the server's [`MockConfig::processing`].
    pub processing: Option<Duration>,
    /// The job id; `None` means a fresh `job_` + 24 hex digits. An existing job with this id is replaced.
    pub id: Option<String>,
}

/// One API request the server received (admin routes are not recorded).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path with its query string, if any, as sent.
    pub path: String,
    /// The headers in the order received (names lowercase; values lossily decoded as UTF-8).
    pub headers: Vec<(String, String)>,
    /// The request body.
    pub body: Vec<u8>,
    /// The status answered; `0` while the answer is not ready yet or when the connection was dropped.
    pub status: u16,
}

impl RecordedRequest {
    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A running simulator. Dropping it shuts the server down.
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<watch::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl MockServer {
    /// Binds `addr` and serves on the caller's tokio runtime (which needs the time and IO drivers).
    pub async fn start(config: MockConfig, addr: SocketAddr) -> io::Result<MockServer> {
        let tls = serve::acceptor(config.tls.as_ref())?;
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config));
        let (tx, rx) = watch::channel(());
        tokio::spawn(serve::serve(listener, Arc::clone(&shared), tls, rx));
        Ok(MockServer {
            addr,
            shared,
            shutdown: Some(tx),
            thread: None,
        })
    }

    /// Binds `127.0.0.1:0` and serves on a thread with its own tokio runtime: for blocking callers, C and CLI
    /// tests. Usable from inside an async context too.
    pub fn start_background(config: MockConfig) -> io::Result<MockServer> {
        let tls = serve::acceptor(config.tls.as_ref())?;
        let std_listener = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("deepidv-mock")
            .enable_all()
            .build()?;
        let listener = {
            let _guard = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener)?
        };
        let shared = Arc::new(Shared::new(config));
        let (tx, rx) = watch::channel(());
        let serve_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("deepidv-mock".into())
            .spawn(move || {
                runtime.block_on(serve::serve(listener, serve_shared, tls, rx));
                runtime.shutdown_timeout(Duration::from_millis(100));
            })?;
        Ok(MockServer {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The base URL, e.g. `http://127.0.0.1:43117` (no trailing slash); `https://`
    /// when the simulator serves TLS.
    pub fn url(&self) -> String {
        let scheme = if self.shared.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The next `times` requests matching `scope` get `fault` (queued faults apply first-in, first-out).
    ///
    /// [`Scope::Job`] matches `GET /v1/async-jobs/{id}` for that id; [`Scope::Key`] any request with that
    /// `x-api-key`; [`Scope::All`] every API request. `times == 0` queues nothing.
    pub fn inject(&self, scope: Scope, fault: Fault, times: u32) {
        self.shared.inject(scope, fault, times);
    }

    /// Removes every queued fault.
    pub fn clear_faults(&self) {
        self.shared.clear_faults();
    }

    /// Creates a job directly and returns its id.
    pub fn insert_job(&self, spec: JobSpec) -> String {
        self.shared.insert_job(spec)
    }

    /// Expires a job now (as its TTL would): its id answers 404 from now on. Unknown ids are ignored.
    pub fn expire(&self, job_id: &str) {
        self.shared.expire(job_id);
    }

    /// How many jobs the server holds in memory. Expired jobs answer 404 like
    /// unknown ones and are dropped from time to time (every 1,024 new jobs), so
    /// this tracks the live jobs, not every job ever made.
    pub fn job_count(&self) -> usize {
        self.shared.job_count()
    }

    /// What the server did with creation requests so far: new jobs (in total, per `Idempotency-Key`, per
    /// person), replays, rate-limited and conflicting requests. The same as `GET /__mock/stats`.
    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// How many TCP connections the server has accepted so far, admin routes'
    /// included: lets a test check that a client reuses its connections.
    pub fn connections_accepted(&self) -> u64 {
        self.shared.connections_accepted()
    }

    /// How many TLS handshakes completed so far (0 without TLS): lets a test
    /// check that a wait keeps one connection for all its polls.
    pub fn tls_handshakes(&self) -> u64 {
        self.shared
            .handshakes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every API request received, in arrival order (the last 100 000; admin routes excluded).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.clear_requests();
    }

    /// Stops the server (the same as dropping it). With [`MockServer::start_background`], returns once the
    /// listener is closed.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
