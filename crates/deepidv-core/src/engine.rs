//! Retry, scheduling and bookkeeping shared by every machine.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Request, Response, Uri};

use crate::config::{Config, duration_from_secs};
use crate::error::{Error, ErrorKind};
use crate::exchange::request_id;
use crate::machine::{Action, Event, TransportError, TransportErrorKind};
use crate::rng::Rng;
use crate::sanitize::terminal_safe;

/// The longest a wait's last request goes out before its deadline.
const MAX_LEAD: Duration = Duration::from_millis(250);

/// The shortest timeout a request is given (only so that it is never zero).
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_millis(1);

/// A request built once and copied for every attempt: a machine's method, URI,
/// headers and body never change between attempts (which is also what keeps a
/// retried POST's `Idempotency-Key` the same), so they are validated only once.
#[derive(Debug)]
struct Template {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Template {
    fn new(request: Request<Vec<u8>>) -> Self {
        let (parts, body) = request.into_parts();
        Self {
            method: parts.method,
            uri: parts.uri,
            headers: parts.headers,
            body,
        }
    }

    fn request(&self) -> Request<Vec<u8>> {
        let mut r = Request::new(self.body.clone());
        *r.method_mut() = self.method.clone();
        *r.uri_mut() = self.uri.clone();
        *r.headers_mut() = self.headers.clone();
        r
    }
}

/// Retry, scheduling and bookkeeping shared by every machine.
#[derive(Debug)]
pub(crate) struct Engine<T> {
    pub(crate) config: Arc<Config>,
    /// Boxed: built at the first attempt, and a parked machine stays small.
    template: Option<Box<Template>>,
    pub(crate) start: Duration,
    wall_start: SystemTime,
    deadline: Option<Duration>,
    /// The last instant a request may be sent, a little before the deadline so its
    /// answer arrives by it (see [`Engine::set_deadline`]); `None` without a deadline.
    last_call: Option<Duration>,
    max_failures: u32,
    next_at: Duration,
    in_flight: bool,
    /// The `now` the request in flight was handed out at.
    sent_at: Duration,
    pub(crate) attempts: u32,
    pub(crate) failures: u32,
    pub(crate) rng: Rng,
    pub(crate) events: VecDeque<Event>,
    pub(crate) outcome: Option<Result<T, Error>>,
    finished: bool,
}

impl<T> Engine<T> {
    pub(crate) fn new(
        config: Arc<Config>,
        now: Duration,
        wall: SystemTime,
        seed: u64,
        max_failures: u32,
    ) -> Self {
        Self {
            config,
            template: None,
            start: now,
            wall_start: wall,
            deadline: None,
            last_call: None,
            max_failures: max_failures.max(1),
            next_at: now,
            in_flight: false,
            sent_at: now,
            attempts: 0,
            failures: 0,
            rng: Rng::new(seed),
            events: VecDeque::new(),
            outcome: None,
            finished: false,
        }
    }

    /// Checks an answer (size, status) and reads its body with `body`; `None`
    /// when no request was in flight (an answer nobody asked for is ignored).
    pub(crate) fn answer<B: AsRef<[u8]>, R>(
        &mut self,
        now: Duration,
        response: &Response<B>,
        body: impl FnOnce(&Config, &Response<B>) -> Result<R, Error>,
    ) -> Option<Result<R, Error>> {
        if !std::mem::take(&mut self.in_flight) || self.finished {
            return None;
        }
        self.record_response(now, response);
        let wall = self.wall_now(now);
        Some(
            self.config
                .check_response(response, Some(wall))
                .and_then(|()| body(&self.config, response)),
        )
    }

    /// Reports one attempt's answer to observers, the key scrubbed from the request id.
    fn record_response<B>(&mut self, now: Duration, response: &Response<B>) {
        let Some(template) = &self.template else {
            return;
        };
        let key = self.config.api_key.expose();
        let request_id = request_id(response.headers()).map(|r| match key {
            k if !k.is_empty() && r.contains(k) => r.replace(k, "[REDACTED]"),
            _ => r,
        });
        self.events.push_back(Event::Response {
            method: template.method.clone(),
            path: template.uri.path().to_owned(),
            status: response.status(),
            request_id,
            latency: now.saturating_sub(self.sent_at),
        });
    }

    /// A transport failure of the request in flight: the error to retry, or
    /// `None` when there was no request in flight or the failure ended the machine.
    pub(crate) fn transport_failure(&mut self, error: TransportError) -> Option<Error> {
        if !std::mem::take(&mut self.in_flight) || self.finished {
            return None;
        }
        let retry = matches!(
            error.kind,
            TransportErrorKind::Connect | TransportErrorKind::Timeout | TransportErrorKind::Io
        );
        let e = self.transport_error(error);
        if retry {
            return Some(e);
        }
        self.outcome = Some(Err(e));
        None
    }

    fn wall_now(&self, now: Duration) -> SystemTime {
        self.wall_start + now.saturating_sub(self.start)
    }

    pub(crate) fn poll(
        &mut self,
        now: Duration,
        build: impl FnOnce(&Config) -> Result<Request<Vec<u8>>, Error>,
    ) -> Action<T> {
        if let Some(outcome) = self.outcome.take() {
            self.finished = true;
            let key = self.config.api_key.expose();
            return Action::Done(outcome.map_err(|e| e.redacted(key)));
        }
        if self.finished {
            return Action::Done(Err(Error::internal(
                "poll called after the machine finished",
            )));
        }
        if self.in_flight {
            self.finished = true;
            return Action::Done(Err(Error::internal(
                "poll called while a request was in flight; feed its answer first",
            )));
        }
        if now < self.next_at {
            return Action::WaitUntil(self.next_at);
        }
        let template = match self.template.take() {
            Some(t) => Ok(t),
            None => build(&self.config).map(|r| Box::new(Template::new(r))),
        };
        match template {
            Ok(template) => {
                let request = template.request();
                self.template = Some(template);
                self.in_flight = true;
                self.sent_at = now;
                self.attempts += 1;
                // No request outlives the deadline (the 1 ms floor only keeps
                // the timeout from being zero).
                let timeout = match self.deadline {
                    Some(d) => self
                        .config
                        .request_timeout
                        .min(d.saturating_sub(now).max(MIN_REQUEST_TIMEOUT)),
                    None => self.config.request_timeout,
                };
                Action::Send {
                    request,
                    timeout,
                    max_body_bytes: self.config.max_body_bytes,
                }
            }
            Err(e) => {
                self.finished = true;
                Action::Done(Err(e))
            }
        }
    }

    /// Gives the machine a deadline, `budget` being the whole time it was given
    /// (for a resumed wait, more than what is left). The last request goes out
    /// `lead` before the deadline, `lead` = min(250 ms, budget / 10), so that its
    /// answer can arrive by the deadline; never before the machine's start.
    /// Reschedules `next_at` within it.
    pub(crate) fn set_deadline(&mut self, deadline: Duration, budget: Duration) {
        let lead = MAX_LEAD.min(budget / 10);
        self.deadline = Some(deadline);
        self.last_call = Some(deadline.saturating_sub(lead).max(self.start));
        self.schedule(self.next_at);
    }

    /// The deadline, if the machine has one.
    pub(crate) fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// Whether the last request the deadline leaves time for has gone out (and
    /// been answered, when this is asked on an answer): the machine should end.
    pub(crate) fn past_last_call(&self, now: Duration) -> bool {
        self.last_call.is_some_and(|l| now >= l)
    }

    /// Whether a `poll` at `now` comes too late to do anything but end: the
    /// deadline has passed, no request is in flight and no outcome is pending.
    pub(crate) fn overdue(&self, now: Duration) -> bool {
        self.deadline.is_some_and(|d| now >= d)
            && !self.in_flight
            && !self.finished
            && self.outcome.is_none()
    }

    /// Schedules `next_at`, never past the last call (see [`Engine::set_deadline`]).
    pub(crate) fn schedule(&mut self, at: Duration) {
        self.next_at = match self.last_call {
            Some(l) => at.min(l),
            None => at,
        };
    }

    /// A transient failure: retry after a backoff (or `Retry-After`), or give up.
    /// `on_deadline` builds the error for a failure with no time left to retry
    /// (at or after the last call).
    pub(crate) fn transient(
        &mut self,
        now: Duration,
        error: Error,
        on_deadline: impl FnOnce(&Error) -> Error,
    ) {
        self.failures += 1;
        if self.failures >= self.max_failures {
            let n = self.failures;
            let msg = format!(
                "{} (gave up after {n} consecutive failures)",
                error.message()
            );
            self.outcome = Some(Err(error.rewrite(msg)));
            return;
        }
        // No time left for another request: end with the deadline's error.
        if self.past_last_call(now) {
            self.outcome = Some(Err(on_deadline(&error)));
            return;
        }
        let policy = &self.config.retry;
        let delay = match error.retry_after() {
            Some(server) => server.min(policy.max_retry_after),
            None => {
                let ceiling = policy.backoff_ceiling(self.failures);
                duration_from_secs(ceiling.as_secs_f64() * self.rng.unit())
            }
        };
        self.schedule(now + delay);
        let delay = self.next_at.saturating_sub(now);
        let error = error.redacted(self.config.api_key.expose());
        self.events.push_back(Event::Retrying {
            failures: self.failures,
            delay,
            error,
        });
    }

    fn transport_error(&self, error: TransportError) -> Error {
        let what = match error.kind {
            TransportErrorKind::Connect => "could not connect",
            TransportErrorKind::Timeout => "the request timed out",
            TransportErrorKind::Io => "the connection failed",
            TransportErrorKind::Other => "the request failed",
            TransportErrorKind::UntrustedCertificate => "certificate not trusted",
            TransportErrorKind::HostnameMismatch => "certificate is for another host",
        };
        let todo = certificate_advice(error.kind, &self.config.frontend);
        let detail = terminal_safe(&error.message, Some(self.config.api_key.expose()));
        Error::new(
            ErrorKind::Unavailable,
            format!("{what} ({}): {detail}{todo}", self.config.base_url),
        )
    }
}

/// What to do about a certificate failure, in the words of the frontend in use
/// ([`Config::frontend`]): the CLI's flags, the C ABI's (and Go's) options, or
/// the Rust `Config` methods. Empty for other failures.
fn certificate_advice(kind: TransportErrorKind, frontend: &str) -> &'static str {
    let cli = frontend == "cli" || frontend.starts_with("cli ");
    match kind {
        TransportErrorKind::UntrustedCertificate if cli => {
            "; if a private CA or a TLS-inspecting proxy signs it, pass --ca-cert FILE or set DEEPIDV_CA_BUNDLE"
        }
        TransportErrorKind::UntrustedCertificate if frontend == "ffi" => {
            "; if a private CA or a TLS-inspecting proxy signs it, add that CA with deepidv_client_options_set_ca_file (Go: WithCACertFile)"
        }
        TransportErrorKind::UntrustedCertificate => {
            "; if a private CA or a TLS-inspecting proxy signs it, add that CA with Config::with_ca_file, or set DEEPIDV_CA_BUNDLE for Config::from_env"
        }
        TransportErrorKind::HostnameMismatch if cli => {
            "; check the base URL's host name (--base-url, DEEPIDV_BASE_URL)"
        }
        TransportErrorKind::HostnameMismatch => "; check the base URL's host name",
        _ => "",
    }
}
