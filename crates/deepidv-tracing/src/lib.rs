//! The one mapping from [`deepidv_core`]'s [`Event`]s to [`tracing`].
//!
//! The core is sans-IO and has no tracing dependency; both clients
//! (`deepidv-ureq`, `deepidv-reqwest`) turn on their `tracing` feature to call
//! [`span`] around each operation and [`event`] for each event the machine
//! hands out, so the field names are written once, here.
//!
//! Everything is emitted under the target `deepidv` (so `RUST_LOG=deepidv=debug`
//! selects it). Field names follow OpenTelemetry's HTTP semantic conventions
//! where one exists:
//!
//! | event | level | fields |
//! |---|---|---|
//! | each answer ([`Event::Response`]) | debug | `http.request.method`, `url.path`, `http.response.status_code`, `deepidv.request_id`, `deepidv.latency_ms` |
//! | a retry ([`Event::Retrying`]) | warn | `deepidv.failures`, `deepidv.delay_ms`, `error.type` (the [`ErrorKind`](deepidv_core::ErrorKind) name) |
//! | a status change ([`Event::Status`]) | info | `deepidv.job_id`, `deepidv.status` |
//!
//! Each event's message is the event's own one-line `Display`. The core scrubs
//! the API key from everything a server sent before it builds an event, so no
//! field carries it.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use deepidv_core::{Event, EventLevel};
pub use tracing;
use tracing::{Level, Span};

/// The target every span and event here is emitted under.
pub const TARGET: &str = "deepidv";

/// Which client operation a span covers.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// One snapshot of a job (span `deepidv.get`).
    Get,
    /// A wait until the job is terminal (span `deepidv.wait`).
    Wait,
    /// A watch of each status (span `deepidv.watch`).
    Watch,
    /// A create call (span `deepidv.create`).
    Create,
}

/// An info-level span for one operation, with fields `deepidv.job_id` (empty
/// for a create) and `deepidv.frontend`.
pub fn span(operation: Operation, job_id: Option<&str>, frontend: &str) -> Span {
    match operation {
        Operation::Get => {
            tracing::info_span!(target: TARGET, "deepidv.get", deepidv.job_id = job_id, deepidv.frontend = frontend)
        }
        Operation::Wait => {
            tracing::info_span!(target: TARGET, "deepidv.wait", deepidv.job_id = job_id, deepidv.frontend = frontend)
        }
        Operation::Watch => {
            tracing::info_span!(target: TARGET, "deepidv.watch", deepidv.job_id = job_id, deepidv.frontend = frontend)
        }
        Operation::Create => {
            tracing::info_span!(target: TARGET, "deepidv.create", deepidv.job_id = job_id, deepidv.frontend = frontend)
        }
    }
}

/// The tracing level of an event's [`EventLevel`].
pub fn level(level: EventLevel) -> Level {
    match level {
        EventLevel::Debug => Level::DEBUG,
        EventLevel::Info => Level::INFO,
        EventLevel::Warn => Level::WARN,
    }
}

/// Emits one machine event as a tracing event in the current span.
pub fn event(event: &Event) {
    match event {
        Event::Response {
            method,
            path,
            status,
            request_id,
            latency,
        } => tracing::event!(
            target: TARGET,
            Level::DEBUG,
            {
                http.request.method = method.as_str(),
                url.path = path.as_str(),
                http.response.status_code = status.as_u16(),
                deepidv.request_id = request_id.as_deref(),
                deepidv.latency_ms = millis(*latency),
            },
            "{event}"
        ),
        Event::Retrying {
            failures,
            delay,
            error,
        } => tracing::event!(
            target: TARGET,
            Level::WARN,
            {
                deepidv.failures = failures,
                deepidv.delay_ms = millis(*delay),
                error.r#type = error.kind().name(),
            },
            "{event}"
        ),
        Event::Status(job) => tracing::event!(
            target: TARGET,
            Level::INFO,
            {
                deepidv.job_id = job.job_id.as_str(),
                deepidv.status = job.status_str(),
            },
            "{event}"
        ),
        other => match other.level() {
            EventLevel::Debug => tracing::event!(target: TARGET, Level::DEBUG, "{other}"),
            EventLevel::Info => tracing::event!(target: TARGET, Level::INFO, "{other}"),
            EventLevel::Warn => tracing::event!(target: TARGET, Level::WARN, "{other}"),
        },
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(feature = "capture")]
pub mod capture;
