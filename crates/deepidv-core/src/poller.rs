//! The polling state machine: it decides, the caller does the I/O.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, Request, Response, Uri};
use serde::{Deserialize, Serialize};

use crate::adverse_media::{AdverseMediaRequest, CreatedJob, IdempotencyKey};
use crate::config::{Config, duration_from_secs};
use crate::error::{Error, ErrorKind};
use crate::job::{Job, JobId, JobState, JobStatus};
use crate::rng::Rng;
use crate::sanitize::terminal_safe;

/// What the caller should do next.
///
/// Every answer ends in either a request to send, an instant to wait for, or the
/// outcome: a machine never leaves its caller without a next step.
#[must_use = "an Action says what to do next; dropping it stalls the machine"]
#[non_exhaustive]
#[allow(clippy::large_enum_variant)] // `Send` is the hot variant; boxing it would allocate per request
#[derive(Debug)]
pub enum Action<T> {
    /// Send this request, then feed the answer to `handle_response` (or the failure
    /// to `handle_transport_error`). Give up on it after `timeout`.
    Send {
        /// The request, ready to go.
        request: Request<Vec<u8>>,
        /// How long this request may take, all included.
        timeout: Duration,
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
}

/// A failure below HTTP, as the adapter saw it.
#[derive(Debug, Clone)]
pub struct TransportError {
    kind: TransportErrorKind,
    message: String,
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
}

/// Something observers may want to know while a machine runs.
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
        /// What went wrong.
        error: Error,
    },
}

/// The interface every sans-IO machine here offers, so one driver loop runs them all.
///
/// `now` is a reading of the caller's monotonic clock, as time since any origin the
/// caller chose, and must come from the same clock for a machine's whole life.
pub trait Machine {
    /// What the machine produces when it is done.
    type Output;

    /// What to do next, given the time.
    fn poll(&mut self, now: Duration) -> Action<Self::Output>;

    /// Feeds the answer to the request last sent, with the time it arrived. The
    /// body must be read with at most [`Machine::max_body_bytes`]` + 1` bytes.
    fn handle_response<B: AsRef<[u8]>>(&mut self, now: Duration, response: &Response<B>);

    /// Feeds the failure of the request last sent, with the time it happened.
    fn handle_transport_error(&mut self, now: Duration, error: TransportError);

    /// The next event for observers, if any.
    fn poll_event(&mut self) -> Option<Event>;

    /// Largest body the machine accepts; read no more than one byte past it.
    fn max_body_bytes(&self) -> usize;
}

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
struct Engine<T> {
    config: Arc<Config>,
    /// Boxed: built at the first attempt, and a parked machine stays small.
    template: Option<Box<Template>>,
    start: Duration,
    wall_start: SystemTime,
    deadline: Option<Duration>,
    max_failures: u32,
    next_at: Duration,
    in_flight: bool,
    attempts: u32,
    failures: u32,
    rng: Rng,
    events: VecDeque<Event>,
    outcome: Option<Result<T, Error>>,
    finished: bool,
}

impl<T> Engine<T> {
    fn new(
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
            max_failures: max_failures.max(1),
            next_at: now,
            in_flight: false,
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
    fn answer<B: AsRef<[u8]>, R>(
        &mut self,
        now: Duration,
        response: &Response<B>,
        body: impl FnOnce(&Config, &Response<B>) -> Result<R, Error>,
    ) -> Option<Result<R, Error>> {
        if !std::mem::take(&mut self.in_flight) || self.finished {
            return None;
        }
        let wall = self.wall_now(now);
        Some(
            self.config
                .check_response(response, Some(wall))
                .and_then(|()| body(&self.config, response)),
        )
    }

    /// A transport failure of the request in flight: the error to retry, or
    /// `None` when there was no request in flight or the failure ended the machine.
    fn transport_failure(&mut self, error: TransportError) -> Option<Error> {
        if !std::mem::take(&mut self.in_flight) || self.finished {
            return None;
        }
        let retry = error.kind != TransportErrorKind::Other;
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

    fn poll(
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
                self.attempts += 1;
                let timeout = match self.deadline {
                    Some(d) => self
                        .config
                        .request_timeout
                        .min(d.saturating_sub(now).max(Duration::from_secs(1))),
                    None => self.config.request_timeout,
                };
                Action::Send { request, timeout }
            }
            Err(e) => {
                self.finished = true;
                Action::Done(Err(e))
            }
        }
    }

    fn past_deadline(&self, now: Duration) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }

    /// Schedules `next_at`, never past the deadline.
    fn schedule(&mut self, at: Duration) {
        self.next_at = match self.deadline {
            Some(d) => at.min(d),
            None => at,
        };
    }

    /// A transient failure: retry after a backoff (or `Retry-After`), or give up.
    /// `on_deadline` builds the error for a deadline that passed.
    fn transient(
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
        if self.past_deadline(now) {
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
        };
        let detail = terminal_safe(&error.message, Some(self.config.api_key.expose()));
        Error::new(
            ErrorKind::Unavailable,
            format!("{what} ({}): {detail}", self.config.base_url),
        )
    }
}

/// What a [`Poller`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// One snapshot, with bounded retries.
    Get,
    /// Until `ready` or `failed`, or the deadline.
    Wait,
}

/// Watches one job: a single `get` with bounded retries, or a `wait` until the job
/// is terminal. One machine, two policies.
///
/// Outcomes of a wait: `Ok(job)` for `ready`; `Err` of kind
/// [`JobFailed`](ErrorKind::JobFailed) carrying the failed job; or another error.
/// A get returns whatever snapshot the server gave, `failed` included.
#[derive(Debug)]
pub struct Poller {
    engine: Engine<Job>,
    mode: Mode,
    job_id: JobId,
    started_at_unix_ms: i64,
    timeout: Duration,
    polls: u32,
    last_status: Option<JobStatus>,
    seen: bool,
}

/// A wait's progress as data: serialize it, and [`Poller::resume`] it later,
/// in this process or another one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PollerState {
    /// The job being waited for.
    pub job_id: JobId,
    /// Wall-clock start of the wait, in Unix milliseconds.
    pub started_at_unix_ms: i64,
    /// The wait's total budget from its start, in milliseconds.
    pub timeout_ms: u64,
    /// Requests sent so far.
    pub attempts: u32,
    /// Snapshots received so far.
    pub polls: u32,
    /// Consecutive transient failures so far.
    pub consecutive_failures: u32,
    /// The last status seen.
    pub last_status: Option<JobStatus>,
    /// Whether the job was seen (a later 404 then means it expired).
    pub seen: bool,
    /// The jitter generator's state.
    pub rng: u64,
}

fn unix_ms(t: SystemTime) -> i64 {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

impl Poller {
    /// A single `GET` of the job, retried at most `retry.call_max_retries` times on
    /// transient failures. `now` is the caller's monotonic clock, `wall` the wall
    /// clock (for `Retry-After` dates), `seed` any random number (for jitter).
    pub fn get(
        config: Arc<Config>,
        job_id: JobId,
        now: Duration,
        wall: SystemTime,
        seed: u64,
    ) -> Self {
        let max = config.retry.call_max_retries.saturating_add(1);
        Self::new(config, Mode::Get, job_id, now, wall, seed, max)
    }

    /// Polls the job until it is `ready` or `failed`, or the deadline
    /// (`poll.timeout`) passes. The last poll lands on the deadline.
    pub fn wait(
        config: Arc<Config>,
        job_id: JobId,
        now: Duration,
        wall: SystemTime,
        seed: u64,
    ) -> Self {
        let max = config.retry.wait_max_failures;
        let mut p = Self::new(config, Mode::Wait, job_id, now, wall, seed, max);
        p.engine.deadline = Some(now + p.timeout);
        p.engine.next_at = (now + p.engine.config.poll.first_delay).min(now + p.timeout);
        p
    }

    fn new(
        config: Arc<Config>,
        mode: Mode,
        job_id: JobId,
        now: Duration,
        wall: SystemTime,
        seed: u64,
        max_failures: u32,
    ) -> Self {
        let timeout = config.poll.timeout;
        Self {
            engine: Engine::new(config, now, wall, seed, max_failures),
            mode,
            job_id,
            started_at_unix_ms: unix_ms(wall),
            timeout,
            polls: 0,
            last_status: None,
            seen: false,
        }
    }

    /// The same wait with another deadline, `timeout` from its start (for a
    /// per-call deadline without another [`Config`]). A get has no deadline and is
    /// returned unchanged.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        if self.mode == Mode::Wait {
            let deadline = self.engine.start + timeout;
            self.timeout = timeout;
            self.engine.deadline = Some(deadline);
            self.engine.next_at = self.engine.next_at.min(deadline);
        }
        self
    }

    /// Resumes a wait saved with [`Poller::state`]. Its deadline is the original
    /// one, measured on the wall clock: time spent stopped counts.
    pub fn resume(
        config: Arc<Config>,
        state: PollerState,
        now: Duration,
        wall: SystemTime,
    ) -> Self {
        let timeout = Duration::from_millis(state.timeout_ms);
        let elapsed_ms = unix_ms(wall)
            .saturating_sub(state.started_at_unix_ms)
            .max(0);
        let remaining = timeout.saturating_sub(Duration::from_millis(elapsed_ms as u64));
        let max = config.retry.wait_max_failures;
        let mut p = Self::new(config, Mode::Wait, state.job_id, now, wall, state.rng, max);
        p.started_at_unix_ms = state.started_at_unix_ms;
        p.timeout = timeout;
        p.polls = state.polls;
        p.last_status = state.last_status;
        p.seen = state.seen;
        p.engine.attempts = state.attempts;
        p.engine.failures = state.consecutive_failures;
        p.engine.deadline = Some(now + remaining);
        p.engine.next_at = now;
        p
    }

    /// The wait's progress as data. Take it between steps (not while a request
    /// is in flight: that request's answer would be lost, which is harmless).
    pub fn state(&self) -> PollerState {
        PollerState {
            job_id: self.job_id.clone(),
            started_at_unix_ms: self.started_at_unix_ms,
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
            attempts: self.engine.attempts,
            polls: self.polls,
            consecutive_failures: self.engine.failures,
            last_status: self.last_status.clone(),
            seen: self.seen,
            rng: self.engine.rng.next_u64_peek(),
        }
    }

    /// The job this poller watches.
    pub fn job_id(&self) -> &JobId {
        &self.job_id
    }

    /// Requests sent so far.
    pub fn attempts(&self) -> u32 {
        self.engine.attempts
    }

    /// The last status seen.
    pub fn last_status(&self) -> Option<&JobStatus> {
        self.last_status.as_ref()
    }

    /// The wait's deadline on the caller's clock (`None` for a get).
    pub fn deadline(&self) -> Option<Duration> {
        self.engine.deadline
    }

    fn timeout_error(&self, last: Option<&Error>) -> Error {
        let status = self
            .last_status
            .as_ref()
            .map_or("never seen", |s| s.as_str());
        let mut msg = format!(
            "job {} did not finish within {:?} (last status: {})",
            terminal_safe(self.job_id.as_str(), None),
            self.timeout,
            terminal_safe(status, None)
        );
        if let Some(e) = last {
            msg.push_str("; last error: ");
            msg.push_str(e.message());
        }
        Error::new(ErrorKind::Timeout, msg)
    }

    fn on_job(&mut self, now: Duration, job: Job) {
        self.engine.failures = 0;
        self.seen = true;
        self.polls = self.polls.saturating_add(1);
        let status = job.status();
        if self.last_status.as_ref() != Some(&status) {
            self.last_status = Some(status);
            self.engine.events.push_back(Event::Status(job.clone()));
        }
        if self.mode == Mode::Get {
            self.engine.outcome = Some(Ok(job));
            return;
        }
        match job.state {
            JobState::Ready(_) => self.engine.outcome = Some(Ok(job)),
            JobState::Failed(_) => self.engine.outcome = Some(Err(Error::job_failed(job))),
            _ if self.engine.past_deadline(now) => {
                self.engine.outcome = Some(Err(self.timeout_error(None)));
            }
            _ => {
                let policy = &self.engine.config.poll;
                let nominal = policy.nominal_delay(self.polls).as_secs_f64();
                let jitter = policy.jitter.clamp(0.0, 1.0);
                let factor = 1.0 + jitter * (2.0 * self.engine.rng.unit() - 1.0);
                self.engine
                    .schedule(now + duration_from_secs(nominal * factor));
            }
        }
    }

    fn on_error(&mut self, now: Duration, error: Error) {
        match error.kind() {
            ErrorKind::Unavailable => {
                let timeout = |e: &Error| self.timeout_error(Some(e));
                // `timeout` borrows self immutably; build its message first.
                let deadline_error = timeout(&error);
                self.engine.transient(now, error, |_| deadline_error);
            }
            ErrorKind::NotFound if self.seen => {
                let msg = format!(
                    "job {} expired (HTTP 404{}): it existed earlier in this wait, and the server no longer keeps it; fetch results promptly once ready",
                    terminal_safe(self.job_id.as_str(), None),
                    error
                        .request_id()
                        .map(|r| format!(", request id {r}"))
                        .unwrap_or_default()
                );
                self.engine.outcome = Some(Err(error.rewrite(msg).with_expired()));
            }
            ErrorKind::NotFound => {
                let named = format!(
                    "job {} not found",
                    terminal_safe(self.job_id.as_str(), None)
                );
                let msg = error.message().replacen("job not found", &named, 1);
                self.engine.outcome = Some(Err(error.rewrite(msg)));
            }
            _ => self.engine.outcome = Some(Err(error)),
        }
    }
}

impl Machine for Poller {
    type Output = Job;

    fn poll(&mut self, now: Duration) -> Action<Job> {
        let id = &self.job_id;
        self.engine.poll(now, |c| c.get_job_request(id))
    }

    fn handle_response<B: AsRef<[u8]>>(&mut self, now: Duration, response: &Response<B>) {
        let Some(parsed) = self.engine.answer(now, response, Config::job_body) else {
            return;
        };
        match parsed {
            Ok(job) if job.job_id != self.job_id.as_str() => {
                let msg = format!(
                    "the server answered about job {:?} when asked about {:?}",
                    terminal_safe(&job.job_id, None),
                    terminal_safe(self.job_id.as_str(), None)
                );
                self.engine.outcome = Some(Err(Error::new(ErrorKind::InvalidResponse, msg)));
            }
            Ok(job) => self.on_job(now, job),
            Err(e) => self.on_error(now, e),
        }
    }

    fn handle_transport_error(&mut self, now: Duration, error: TransportError) {
        if let Some(e) = self.engine.transport_failure(error) {
            self.on_error(now, e);
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.engine.events.pop_front()
    }

    fn max_body_bytes(&self) -> usize {
        self.engine.config.max_body_bytes
    }
}

/// Creates an adverse-media screening: one `POST`, retried on transient failures
/// with the same `Idempotency-Key`, so a retry never starts (or bills) a second job.
#[derive(Debug)]
pub struct CreateScreening {
    engine: Engine<CreatedJob>,
    body: AdverseMediaRequest,
    key: IdempotencyKey,
}

impl CreateScreening {
    /// A create call. Make `key` with [`IdempotencyKey::from_random`] when the
    /// caller gave none.
    pub fn new(
        config: Arc<Config>,
        body: AdverseMediaRequest,
        key: IdempotencyKey,
        now: Duration,
        wall: SystemTime,
        seed: u64,
    ) -> Self {
        let max = config.retry.call_max_retries.saturating_add(1);
        Self {
            engine: Engine::new(config, now, wall, seed, max),
            body,
            key,
        }
    }

    /// The idempotency key every attempt carries.
    pub fn idempotency_key(&self) -> &IdempotencyKey {
        &self.key
    }
}

impl Machine for CreateScreening {
    type Output = CreatedJob;

    fn poll(&mut self, now: Duration) -> Action<CreatedJob> {
        let (body, key) = (&self.body, &self.key);
        self.engine
            .poll(now, |c| c.create_adverse_media_request(body, key))
    }

    fn handle_response<B: AsRef<[u8]>>(&mut self, now: Duration, response: &Response<B>) {
        let Some(parsed) = self.engine.answer(now, response, Config::created_body) else {
            return;
        };
        match parsed {
            Ok(created) => self.engine.outcome = Some(Ok(created)),
            Err(e) if e.kind() == ErrorKind::Unavailable => {
                self.engine.transient(now, e, Clone::clone)
            }
            Err(e) => self.engine.outcome = Some(Err(e)),
        }
    }

    fn handle_transport_error(&mut self, now: Duration, error: TransportError) {
        if let Some(e) = self.engine.transport_failure(error) {
            self.engine.transient(now, e, Clone::clone);
        }
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.engine.events.pop_front()
    }

    fn max_body_bytes(&self) -> usize {
        self.engine.config.max_body_bytes
    }
}
