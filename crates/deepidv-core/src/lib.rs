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
//!         Action::Send { request, timeout: _ } => {
//!             let response = send(request); // your HTTP client; or handle_transport_error
//!             poller.handle_response(now, &response);
//!         }
//!         Action::WaitUntil(t) => now = t, // sleep until `t` on your clock
//!         Action::Done(outcome) => break outcome?,
//!         _ => unreachable!("Action is non_exhaustive"),
//!     }
//! };
//! assert!(job.is_terminal());
//! # Ok::<(), deepidv_core::Error>(())
//! ```
//!
//! Adapters never retry on their own: the machine owns every retry decision, so
//! there is one retry loop, not two nested ones. While it runs, [`Machine::poll_event`]
//! reports status changes and retries to observers (progress bars, `watch`).
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
mod error;
mod exchange;
mod job;
mod poller;
mod rng;
pub mod sanitize;

pub use adverse_media::{
    AdverseMediaRequest, AdverseMediaResult, Article, Category, CreatedJob, Exposure, Finding,
    IdempotencyKey, RiskLevel, Severity, Source,
};
pub use config::{
    API_KEY_ENV, ApiKey, BASE_URL_ENV, BaseUrl, Config, DEFAULT_BASE_URL, PollPolicy, RetryPolicy,
    VERSION,
};
pub use error::{Error, ErrorKind};
pub use exchange::{
    REQUEST_ID_HEADERS, error_from_response, request_id, retry_after, server_message,
};
pub use job::{CreatedAt, Job, JobId, JobResult, JobState, JobStatus, MAX_JOB_ID_LEN};
pub use poller::{
    Action, CreateScreening, Event, Machine, Poller, PollerState, TransportError,
    TransportErrorKind,
};

pub use http;

mod duration;
pub use duration::parse_duration;
