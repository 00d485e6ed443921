//! The one mapping from [`deepidv_core`]'s [`Event`]s to `tracing`, and the one
//! span shim both clients use.
//!
//! The core is sans-IO and has no tracing dependency. Both clients
//! (`deepidv-ureq`, `deepidv-reqwest`) depend on this crate unconditionally and
//! call [`span`] around each operation and [`event`] for each event the machine
//! hands out, so the span names and field names are written once, here. Whether
//! anything is recorded is this crate's `tracing` feature (which the clients'
//! own `tracing` feature turns on): without it, an [`OpSpan`] is zero-sized,
//! entering it and instrumenting a future with it cost nothing, [`event`] does
//! nothing, and no `tracing` crate is compiled.
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
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::future::Future;
#[cfg(not(feature = "tracing"))]
use std::marker::PhantomData;
#[cfg(not(feature = "tracing"))]
use std::sync::MutexGuard;

#[cfg(feature = "tracing")]
use deepidv_core::EventLevel;
use deepidv_core::{Event, EventHook};
#[cfg(feature = "tracing")]
pub use tracing;
#[cfg(feature = "tracing")]
use tracing::Level;

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

/// The span of one operation: a `tracing` span with the `tracing` feature, a
/// zero-sized no-op without it. The same methods either way, so a client calls
/// them unconditionally.
#[derive(Debug, Clone)]
#[must_use = "a span records nothing until it is entered or instruments a future"]
pub struct OpSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// The guard of an entered [`OpSpan`] ([`OpSpan::enter`]): the span is exited
/// when it is dropped. Not `Send`, with or without the `tracing` feature.
#[derive(Debug)]
#[must_use = "the span is exited as soon as the guard is dropped"]
pub struct Entered<'a> {
    #[cfg(feature = "tracing")]
    _entered: tracing::span::Entered<'a>,
    #[cfg(not(feature = "tracing"))]
    _not_send: PhantomData<MutexGuard<'a, ()>>,
}

/// An [`OpSpan`] entered for as long as this lives ([`OpSpan::entered`]). Not
/// `Send`, with or without the `tracing` feature.
#[derive(Debug)]
#[must_use = "the span is exited as soon as the guard is dropped"]
pub struct EnteredOpSpan {
    #[cfg(feature = "tracing")]
    _entered: tracing::span::EnteredSpan,
    #[cfg(not(feature = "tracing"))]
    _not_send: PhantomData<MutexGuard<'static, ()>>,
}

impl OpSpan {
    /// A span that records nothing (a disabled `tracing` span).
    pub fn none() -> Self {
        Self {
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
        }
    }

    /// Enters the span until the guard is dropped (for a synchronous step).
    pub fn enter(&self) -> Entered<'_> {
        Entered {
            #[cfg(feature = "tracing")]
            _entered: self.span.enter(),
            #[cfg(not(feature = "tracing"))]
            _not_send: PhantomData,
        }
    }

    /// Enters the span for as long as the returned guard lives (for a blocking
    /// call).
    pub fn entered(self) -> EnteredOpSpan {
        EnteredOpSpan {
            #[cfg(feature = "tracing")]
            _entered: self.span.entered(),
            #[cfg(not(feature = "tracing"))]
            _not_send: PhantomData,
        }
    }

    /// `fut`, run inside the span each time it is polled (for an async call).
    /// `Send` when `fut` is.
    pub fn instrument<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        #[cfg(feature = "tracing")]
        {
            tracing::Instrument::instrument(fut, self.span)
        }
        #[cfg(not(feature = "tracing"))]
        {
            fut
        }
    }

    /// The `tracing` span itself.
    #[cfg(feature = "tracing")]
    pub fn as_span(&self) -> &tracing::Span {
        &self.span
    }
}

#[cfg(feature = "tracing")]
impl From<OpSpan> for tracing::Span {
    fn from(span: OpSpan) -> Self {
        span.span
    }
}

/// An info-level span for one operation, with fields `deepidv.job_id` (empty
/// for a create) and `deepidv.frontend`; not entered. Without the `tracing`
/// feature, a no-op.
pub fn span(operation: Operation, job_id: Option<&str>, frontend: &str) -> OpSpan {
    #[cfg(feature = "tracing")]
    {
        let span = match operation {
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
        };
        OpSpan { span }
    }
    #[cfg(not(feature = "tracing"))]
    {
        let _ = (operation, job_id, frontend);
        OpSpan {}
    }
}

/// The tracing level of an event's [`EventLevel`].
#[cfg(feature = "tracing")]
pub fn level(level: EventLevel) -> Level {
    match level {
        EventLevel::Debug => Level::DEBUG,
        EventLevel::Info => Level::INFO,
        EventLevel::Warn => Level::WARN,
    }
}

/// Shows one machine event to everything watching a client: the tracing
/// subscriber ([`event`]), then the client's event hook, if it has one. Both
/// clients call this once per event, so they report events the same way.
pub fn observe(event: &Event, hook: Option<&EventHook>) {
    self::event(event);
    if let Some(hook) = hook {
        hook.call(event);
    }
}

/// Emits one machine event as a tracing event in the current span. Without the
/// `tracing` feature, does nothing.
pub fn event(event: &Event) {
    #[cfg(feature = "tracing")]
    emit(event);
    #[cfg(not(feature = "tracing"))]
    let _ = event;
}

#[cfg(feature = "tracing")]
fn emit(event: &Event) {
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

#[cfg(feature = "tracing")]
fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(feature = "capture")]
pub mod capture;

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};
    use std::time::Duration;

    // (Unused with `tracing` but without `capture`: no subscriber to check against.)
    #[cfg_attr(all(feature = "tracing", not(feature = "capture")), allow(dead_code))]
    fn retrying() -> Event {
        Event::Retrying {
            failures: 2,
            delay: Duration::from_millis(1500),
            error: deepidv_core::Error::new(deepidv_core::ErrorKind::Unavailable, "HTTP 503"),
        }
    }

    /// Polls a future that is ready at once.
    #[cfg_attr(all(feature = "tracing", not(feature = "capture")), allow(dead_code))]
    fn poll_once<F: Future>(fut: F) -> F::Output {
        match pin!(fut).poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("the future was not ready"),
        }
    }

    #[cfg(not(feature = "tracing"))]
    #[test]
    fn without_the_feature_spans_are_zero_sized_and_everything_still_runs() {
        assert_eq!(std::mem::size_of::<OpSpan>(), 0);
        assert_eq!(std::mem::size_of::<Entered<'_>>(), 0);
        assert_eq!(std::mem::size_of::<EnteredOpSpan>(), 0);
        let span = span(Operation::Wait, Some("job_1"), "ureq");
        {
            let _entered = span.enter();
            event(&retrying());
        }
        assert_eq!(poll_once(span.clone().instrument(async { 7 })), 7);
        let _guard = span.entered();
        let _none = OpSpan::none();
    }

    #[cfg(feature = "capture")]
    #[test]
    fn each_operation_has_its_span_and_events_land_inside_it() {
        use capture::Capture;

        let capture = Capture::new();
        let _default = tracing::subscriber::set_default(capture.clone());
        let wait = span(Operation::Wait, Some("job_1"), "ureq");
        {
            let _entered = wait.enter();
            event(&retrying());
        }
        {
            let _entered = span(Operation::Get, Some("job_2"), "reqwest").entered();
            event(&retrying());
        }
        let watched = poll_once(
            span(Operation::Watch, Some("job_3"), "x").instrument(async {
                event(&retrying());
                3
            }),
        );
        assert_eq!(watched, 3);
        let _create = span(Operation::Create, None, "cli");
        event(&retrying());
        let _ = OpSpan::none().enter();

        let spans = capture.spans();
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "deepidv.wait",
                "deepidv.get",
                "deepidv.watch",
                "deepidv.create"
            ]
        );
        assert_eq!(spans[0].fields["deepidv.job_id"], "job_1");
        assert_eq!(spans[1].fields["deepidv.frontend"], "reqwest");
        assert!(!spans[3].fields.contains_key("deepidv.job_id"), "{spans:?}");
        let inside: Vec<Vec<String>> = capture.events().into_iter().map(|e| e.spans).collect();
        let expected: [&[&str]; 4] = [&["deepidv.wait"], &["deepidv.get"], &["deepidv.watch"], &[]];
        assert_eq!(inside, expected);
        let e = &capture.events()[0];
        assert_eq!(e.level, "warn");
        assert_eq!(e.fields["deepidv.failures"], "2");
        assert_eq!(e.fields["deepidv.delay_ms"], "1500");
        assert_eq!(e.fields["error.type"], "UNAVAILABLE");
        assert_eq!(level(deepidv_core::EventLevel::Info), Level::INFO);
    }
}
