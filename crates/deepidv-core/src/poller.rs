//! Watches one job: the get/wait [`Poller`] and its saved [`PollerState`].

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::Response;
use serde::{Deserialize, Serialize};

use crate::config::{Config, duration_from_secs};
use crate::engine::Engine;
use crate::error::{Error, ErrorKind};
use crate::job::{Job, JobId, JobState, JobStatus};
use crate::machine::{Action, Event, Machine, TransportError};
use crate::sanitize::terminal_safe;

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
    /// (`poll.timeout`) passes. The last poll lands just before the deadline
    /// (at most 250 ms before it, a tenth of the wait for waits under 2.5 s) so
    /// that its answer arrives by it, and no request outlives the deadline: each
    /// one's timeout is at most the time left.
    pub fn wait(
        config: Arc<Config>,
        job_id: JobId,
        now: Duration,
        wall: SystemTime,
        seed: u64,
    ) -> Self {
        let max = config.retry.wait_max_failures;
        let mut p = Self::new(config, Mode::Wait, job_id, now, wall, seed, max);
        p.engine.set_deadline(now + p.timeout, p.timeout);
        p.engine.schedule(now + p.engine.config.poll.first_delay);
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
            self.timeout = timeout;
            self.engine
                .set_deadline(self.engine.start + timeout, timeout);
        }
        self
    }

    /// Resumes a wait saved with [`Poller::state`]. Its deadline is the original
    /// one, measured on the wall clock: time spent stopped counts. It polls at
    /// once if time is left (its last poll lands just before the deadline, as in
    /// [`Poller::wait`]); a wait whose deadline has passed ends with the timeout
    /// at its first [`poll`](Machine::poll), without a request.
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
        // The last call keeps the whole wait's lead (from `timeout`, not from
        // what is left), and is never before `now`: a resumed wait with time
        // left polls at least once.
        p.engine.set_deadline(now + remaining, timeout);
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
            rng: self.engine.rng.state(),
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
        self.engine.deadline()
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
            let mut seen = job.clone();
            // An unknown status is the server's own text: scrub the key from it.
            let key = self.engine.config.api_key.expose();
            if let JobState::Unknown(s) = &mut seen.state
                && !key.is_empty()
                && s.contains(key)
            {
                *s = s.replace(key, "[REDACTED]");
            }
            self.engine.events.push_back(Event::Status(seen));
        }
        if self.mode == Mode::Get {
            self.engine.outcome = Some(Ok(job));
            return;
        }
        match job.state {
            JobState::Ready(_) => self.engine.outcome = Some(Ok(job)),
            JobState::Failed(_) => self.engine.outcome = Some(Err(Error::job_failed(job))),
            // The last poll the deadline leaves time for has been answered.
            _ if self.engine.past_last_call(now) => {
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
        // A driver that comes back after the deadline gets the timeout, not a
        // request that could only outlive it.
        if self.engine.overdue(now) {
            self.engine.outcome = Some(Err(self.timeout_error(None)));
        }
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
}
