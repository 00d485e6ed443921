//! The sans-IO core of the deepidv SDK.
//!
//! This crate contains no networking code, reads no clock and draws no random
//! numbers of its own. It builds requests as [`http::Request`] values, reads
//! answers from [`http::Response`] values, and decides everything in between —
//! when to poll, what to retry, how long to back off, when to give up — as pure
//! functions of what it is told. Time (`now`, a reading of *your* monotonic clock
//! as time since any origin you choose) and a random seed are arguments. That is
//! what lets the same logic drive a blocking client, an async one, a C program
//! with its own event loop, and deterministic tests with a virtual clock.
//!
//! # The run loop an adapter writes
//!
//! ```
//! use std::{sync::Arc, time::{Duration, SystemTime}};
//! use deepidv_core::{Action, ApiKey, BaseUrl, Config, JobId, Machine, Poller};
//!
//! # fn send(_r: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
//! #     http::Response::new(br#"{"jobId":"job_1","status":"ready","createdAt":1717593600000,"result":{}}"#.to_vec())
//! # }
//! let config = Arc::new(Config::new(ApiKey::new("sk_test_123")?)
//!     .with_base_url(BaseUrl::parse("http://127.0.0.1:8080")?));
//! let mut now = Duration::ZERO; // your clock: e.g. `origin.elapsed()`
//! let mut poller = Poller::wait(config, JobId::new("job_1")?, now, SystemTime::UNIX_EPOCH, 42);
//! let job = loop {
//!     match poller.poll(now) {
//!         Action::Send { request, timeout: _, max_body_bytes: _ } => {
//!             // your HTTP client (reading at most `max_body_bytes + 1` bytes of the
//!             // body, within `timeout`); on a failure, `handle_transport_error`
//!             let response = send(request);
//!             poller.handle_response(now, &response);
//!         }
//!         Action::WaitUntil(t) => now = t, // sleep until `t` on your clock
//!         Action::Done(outcome) => break outcome?,
//!     }
//! };
//! assert!(job.is_terminal());
//! # Ok::<(), deepidv_core::Error>(())
//! ```
//!
//! Adapters never retry on their own: the machine owns every retry decision, so
//! there is one retry loop, not two nested ones. While it runs, [`Machine::poll_event`]
//! reports status changes and retries to observers (progress bars, `watch`, and
//! the [`EventHook`] a client shows every event to).
//!
//! # Layout
//! One concern per module: the contract an adapter implements ([`Machine`],
//! [`Action`], [`Event`], [`TransportError`]); the engine every machine shares
//! (retries, backoff, deadlines; private); the machines, [`Poller`] (get and wait,
//! saved as [`PollerState`]) and [`CreateScreening`]; [`Start`], the clocks and
//! seed every machine is built from; and [`WatchFeed`], how a watch ends. Around
//! them: [`Config`] and its policies, the wire types ([`Job`], [`AdverseMediaRequest`]…),
//! request building and response checking, and [`Error`].
//!
//! # Units
//! `createdAt` is kept exactly as sent ([`CreatedAt`]); [`CreatedAt::unix_millis`]
//! reads values of 10^11 and above as milliseconds and smaller ones as seconds,
//! because the API's reference shows milliseconds and the vendor's SDK documents
//! seconds.
//!
//! # Outcomes
//! Every failure is an [`Error`] whose [`ErrorKind::code`] is the outcome code that
//! the C ABI and the CLI share.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod adverse_media;
mod config;
mod create;
mod engine;
mod error;
mod exchange;
mod hook;
mod job;
mod machine;
mod network;
mod poller;
mod rng;
pub mod sanitize;
mod start;
mod watch;

pub use adverse_media::{
    AdverseMediaRequest, AdverseMediaResult, Article, Category, CreatedJob, Exposure, Finding,
    IdempotencyKey, RiskLevel, Severity, Source,
};
pub use config::{
    API_KEY_ENV, ApiKey, BASE_URL_ENV, BaseUrl, Config, DEFAULT_BASE_URL, MAX_USER_AGENT_SUFFIX,
    PollPolicy, RetryPolicy, USER_AGENT_SUFFIX_ENV, VERSION,
};
pub use create::CreateScreening;
pub use error::{Error, ErrorKind};
pub use exchange::{
    REQUEST_ID_HEADERS, error_from_response, request_id, retry_after, server_message,
};
pub use hook::{EventHook, EventHookFn};
pub use job::{CreatedAt, Job, JobId, JobResult, JobState, JobStatus, MAX_JOB_ID_LEN};
pub use machine::{Action, Event, EventLevel, Machine, TransportError, TransportErrorKind};
pub use network::{CA_BUNDLE_ENV, CaSource, PROXY_ENV, PROXY_ENV_VARS, ProxySetting, ProxyUrl};
pub use poller::{Poller, PollerState};
pub use start::Start;
pub use watch::{WatchFeed, WatchNext};

pub use http;

mod duration;
pub use duration::parse_duration;
