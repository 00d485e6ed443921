//! The contract an adapter implements: the [`Machine`] trait, the [`Action`]s it
//! asks for, the [`Event`]s it reports, and the [`TransportError`]s fed back to it.

use std::fmt;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::job::Job;
use crate::sanitize::terminal_safe;

/// What the caller should do next.
///
/// Every answer ends in either a request to send, an instant to wait for, or the
/// outcome: a machine never leaves its caller without a next step.
#[must_use = "an Action says what to do next; dropping it stalls the machine"]
#[allow(clippy::large_enum_variant)] // `Send` is the hot variant; boxing it would allocate per request
#[derive(Debug)]
pub enum Action<T> {
    /// Send this request, then feed the answer to `handle_response` (or the failure
    /// to `handle_transport_error`). Give up on it after `timeout`.
    Send {
        /// The request, ready to go.
        request: Request<Vec<u8>>,
        /// How long this request may take, all included. For a wait, never past
        /// its deadline.
        timeout: Duration,
        /// Largest body the machine accepts: read at most one byte past it (so
        /// the machine sees that the answer was too large) and no more.
        max_body_bytes: usize,
    },
    /// Nothing to do before this instant (on the caller's clock); then poll again.
    WaitUntil(Duration),
    /// Finished.
    Done(Result<T, Error>),
}

/// How a request failed to produce an HTTP answer.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransportErrorKind {
    /// Could not connect (refused, DNS, unreachable). Retried.
    Connect,
    /// The request took longer than its timeout. Retried.
    Timeout,
    /// The connection broke (reset, closed early, truncated body). Retried.
    Io,
    /// Anything that retrying cannot fix (TLS configuration, an invalid request). Not retried.
    Other,
    /// The server's certificate does not chain to a trusted root (a private CA, a
    /// TLS-inspecting proxy, a self-signed certificate). Not retried.
    UntrustedCertificate,
    /// The server's certificate is valid but for another host name. Not retried.
    HostnameMismatch,
}

/// A failure below HTTP, as the adapter saw it.
#[derive(Debug, Clone)]
pub struct TransportError {
    pub(crate) kind: TransportErrorKind,
    pub(crate) message: String,
}

impl TransportError {
    /// A transport failure of this kind; `message` is the adapter's description.
    pub fn new(kind: TransportErrorKind, message: impl fmt::Display) -> Self {
        Self {
            kind,
            message: message.to_string(),
        }
    }

    /// Its kind.
    pub fn kind(&self) -> TransportErrorKind {
        self.kind
    }

    /// Says that this failure happened through `proxy` (if any): the message
    /// names the proxy, and never repeats its credentials.
    #[must_use]
    pub fn through_proxy(mut self, proxy: Option<&crate::ProxyUrl>) -> Self {
        if let Some(proxy) = proxy {
            self.message = format!("through proxy {proxy}: {}", proxy.scrub(&self.message));
        }
        self
    }
}

/// Something observers may want to know while a machine runs.
///
/// Every event is built by the core with the API key already scrubbed from
/// whatever the server sent, so adapters can log it as it is: [`Event::level`]
/// says how loud, and its [`Display`](fmt::Display) is one line.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub enum Event {
    /// The job was seen for the first time, or its status changed.
    Status(Job),
    /// A transient failure; the machine will try again after `delay`.
    Retrying {
        /// Consecutive failures so far.
        failures: u32,
        /// How long until the next try.
        delay: Duration,
        /// What went wrong (already redacted).
        error: Error,
    },
    /// An HTTP answer arrived for one attempt (whatever its status). Comes
    /// before the [`Event::Status`] or [`Event::Retrying`] that answer causes.
    Response {
        /// The request's method.
        method: Method,
        /// The request's path (the job id is its last segment; no query, no host).
        path: String,
        /// The answer's HTTP status.
        status: StatusCode,
        /// The server's request id, made safe to print, if it sent one.
        request_id: Option<String>,
        /// From the `now` the request was handed out at to the `now` its answer
        /// was fed back at, on the caller's clock.
        latency: Duration,
    },
}

/// How loud an [`Event`] is, in the usual log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventLevel {
    /// Each request's answer.
    Debug,
    /// Status changes.
    Info,
    /// Retries.
    Warn,
}

impl EventLevel {
    /// The level's lowercase name (`debug`, `info`, `warn`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
        }
    }
}

impl fmt::Display for EventLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Event {
    /// How loud this event is: [`EventLevel::Info`] for a status change,
    /// [`EventLevel::Warn`] for a retry, [`EventLevel::Debug`] for each answer.
    pub fn level(&self) -> EventLevel {
        match self {
            Self::Status(_) => EventLevel::Info,
            Self::Retrying { .. } => EventLevel::Warn,
            Self::Response { .. } => EventLevel::Debug,
        }
    }
}

/// One line, safe for a terminal and free of the API key.
impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Status(job) => write!(
                f,
                "job {}: status {}",
                terminal_safe(&job.job_id, None),
                terminal_safe(job.status_str(), None)
            ),
            Self::Retrying {
                failures,
                delay,
                error,
            } => write!(
                f,
                "retry after {failures} failure{} in {} ms: {error}",
                if *failures == 1 { "" } else { "s" },
                delay.as_millis()
            ),
            Self::Response {
                method,
                path,
                status,
                request_id,
                latency,
            } => {
                write!(
                    f,
                    "{method} {} -> HTTP {} in {} ms",
                    terminal_safe(path, None),
                    status.as_u16(),
                    latency.as_millis()
                )?;
                if let Some(r) = request_id {
                    write!(f, " (request id {})", terminal_safe(r, None))?;
                }
                Ok(())
            }
        }
    }
}

/// The interface every sans-IO machine here offers, so one driver loop runs them all.
///
/// `now` is a reading of the caller's monotonic clock, as time since any origin the
/// caller chose, and must come from the same clock for a machine's whole life.
///
/// The methods come in three groups, the way a sans-IO protocol machine (such as
/// quinn-proto's `Connection`) is driven:
///
/// - **Inputs** — [`handle_response`](Machine::handle_response) and
///   [`handle_transport_error`](Machine::handle_transport_error): what happened to
///   the request last sent.
/// - **Outputs** — [`poll`](Machine::poll), which returns the next [`Action`]
///   (a request to send, with its timeout and body cap; an instant to wait for; or
///   the outcome), and [`poll_event`](Machine::poll_event), which drains
///   [`Event`]s for observers.
/// - **Timers** — there is no separate timer call: [`Action::WaitUntil`] names the
///   instant (the next poll, a backoff, or at the latest a wait's last poll, just
///   before its deadline) after which
///   the caller calls [`poll`](Machine::poll) again.
pub trait Machine {
    /// What the machine produces when it is done.
    type Output;

    // Outputs

    /// What to do next, given the time.
    fn poll(&mut self, now: Duration) -> Action<Self::Output>;

    /// The next event for observers, if any.
    fn poll_event(&mut self) -> Option<Event>;

    // Inputs

    /// Feeds the answer to the request last sent, with the time it arrived. The
    /// body must be read with at most the `max_body_bytes` of its
    /// [`Action::Send`]` + 1` bytes.
    fn handle_response<B: AsRef<[u8]>>(&mut self, now: Duration, response: &Response<B>);

    /// Feeds the failure of the request last sent, with the time it happened.
    fn handle_transport_error(&mut self, now: Duration, error: TransportError);
}
