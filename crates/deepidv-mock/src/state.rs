//! What the server knows: API keys and their organizations, jobs and their lifecycle (timings, TTL, expiry),
//! idempotency records, the rate limiter, stats, queued faults and recorded requests.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::Method;

use crate::fault::{Fault, FaultQueue, Scope};
use crate::rate::RateLimiter;
use crate::result::{Ending, Rng, Subject, fnv1a};
use crate::stats::{Stats, StatsCounter};
use crate::{DEFAULT_API_KEY, DEFAULT_ORG, JobSpec, MockConfig, Outcome, RecordedRequest};

/// How many requests are remembered (the oldest are forgotten first).
pub(crate) const MAX_RECORDED: usize = 100_000;

/// What [`Shared::create`] did.
pub(crate) enum Creation {
    /// A new job, in this phase.
    New(Arc<Job>, Phase),
    /// The job created earlier with the same `Idempotency-Key`, in this phase.
    Replay(Arc<Job>, Phase),
    /// The `Idempotency-Key` was used with another body.
    Conflict {
        /// The key.
        key: String,
    },
    /// Refused by the rate limit; retry after this many seconds.
    RateLimited {
        /// Whole seconds, at least 1.
        retry_after: u64,
    },
}

/// Everything the server knows, shared by connections and the [`crate::MockServer`] handle.
pub(crate) struct Shared {
    pub(crate) config: MockConfig,
    pub(crate) orgs: HashMap<String, String>,
    nonce: u64,
    request_counter: AtomicU64,
    /// Connections accepted so far (clients' connection reuse is testable).
    pub(crate) connections: AtomicU64,
    /// TLS handshakes completed so far.
    pub(crate) handshakes: AtomicU64,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    jobs: HashMap<String, Arc<Job>>,
    /// (org, idempotency key) → (job id, fingerprint of the request body)
    idempotency: HashMap<(String, String), (String, u64)>,
    /// when each job expires (earliest first), so expired jobs are dropped without scanning them all
    expiries: BinaryHeap<Reverse<(Instant, String)>>,
    limiter: Option<RateLimiter>,
    stats: StatsCounter,
    faults: FaultQueue,
    requests: VecDeque<RecordedRequest>,
    /// sequence number of `requests[0]`
    first_seq: u64,
    job_counter: u64,
}

impl State {
    /// Stores a job, first dropping the jobs whose time has run out. Expired jobs answer exactly as unknown ones
    /// (404; an idempotent replay starts a new job), so dropping them keeps a long-running simulator's memory
    /// bounded by its live jobs, at O(log n) per job.
    fn store(&mut self, job: Arc<Job>, ttl: Duration) {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = self.expiries.peek()
            && *at <= now
        {
            let Some(Reverse((_, id))) = self.expiries.pop() else {
                break;
            };
            if self
                .jobs
                .get(&id)
                .is_some_and(|j| j.phase(now, ttl) == Phase::Expired)
                && let Some(old) = self.jobs.remove(&id)
                && let Some(key) = &old.idempotency
                && self.idempotency.get(key).is_some_and(|(i, _)| *i == id)
            {
                self.idempotency.remove(key);
            }
        }
        let expires = job.created.checked_add(
            job.pending
                .saturating_add(job.processing)
                .saturating_add(ttl),
        );
        if let Some(at) = expires {
            self.expiries.push(Reverse((at, job.id.clone())));
        }
        self.jobs.insert(job.id.clone(), job);
    }
}

pub(crate) enum JobSource {
    Screening(Subject),
    ReadyFromId,
    Failed(String),
}

pub(crate) struct Job {
    pub(crate) id: String,
    pub(crate) org: String,
    created: Instant,
    pub(crate) created_ms: i64,
    pending: Duration,
    processing: Duration,
    source: JobSource,
    ending: OnceLock<Ending>,
    expired: AtomicBool,
    /// (org, Idempotency-Key) it was created under, if any
    idempotency: Option<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Phase {
    Pending,
    Processing,
    Terminal,
    Expired,
}

impl Job {
    pub(crate) fn phase(&self, now: Instant, ttl: Duration) -> Phase {
        if self.expired.load(Ordering::Relaxed) {
            return Phase::Expired;
        }
        let elapsed = now.saturating_duration_since(self.created);
        let terminal_after = self.pending.saturating_add(self.processing);
        if elapsed < self.pending {
            Phase::Pending
        } else if elapsed < terminal_after {
            Phase::Processing
        } else if elapsed < terminal_after.saturating_add(ttl) {
            Phase::Terminal
        } else {
            Phase::Expired
        }
    }

    pub(crate) fn ending(&self) -> &Ending {
        self.ending.get_or_init(|| match &self.source {
            JobSource::Screening(subject) => subject.ending(),
            JobSource::ReadyFromId => match Subject::from_job_id(&self.id).ending() {
                Ending::Failed(_) => Ending::Failed("simulator error".into()),
                ready => ready,
            },
            JobSource::Failed(msg) => Ending::Failed(msg.clone()),
        })
    }

    /// (status, updatedAt in epoch ms) at `phase`.
    pub(crate) fn status_at(&self, phase: Phase) -> (&'static str, i64) {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        match phase {
            Phase::Pending => ("pending", self.created_ms),
            Phase::Processing => (
                "processing",
                self.created_ms.saturating_add(ms(self.pending)),
            ),
            Phase::Terminal | Phase::Expired => {
                let at = self
                    .created_ms
                    .saturating_add(ms(self.pending.saturating_add(self.processing)));
                match self.ending() {
                    Ending::Ready(_) => ("ready", at),
                    Ending::Failed(_) => ("failed", at),
                }
            }
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

pub(crate) fn rfc3339_ms(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(ts) => format!("{ts:.3}"),
        Err(_) => "1970-01-01T00:00:00.000Z".to_owned(),
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn new(config: MockConfig) -> Shared {
        let mut orgs = HashMap::new();
        if config.api_keys.is_empty() {
            orgs.insert(DEFAULT_API_KEY.to_owned(), DEFAULT_ORG.to_owned());
        }
        for (key, org) in &config.api_keys {
            orgs.insert(key.clone(), org.clone());
        }
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let nonce = fnv1a(&[&nanos.to_string(), &std::process::id().to_string()]);
        Shared {
            orgs,
            nonce,
            request_counter: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            handshakes: AtomicU64::new(0),
            state: Mutex::new(State {
                limiter: config.rate_limit.and_then(RateLimiter::new),
                ..State::default()
            }),
            config,
        }
    }

    pub(crate) fn next_request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed);
        // SplitMix's output function is a bijection, so distinct counters give distinct ids.
        format!(
            "req_{:016x}",
            Rng::new(self.nonce.wrapping_add(n)).next_u64()
        )
    }

    fn new_job_id(&self, state: &mut State) -> String {
        loop {
            state.job_counter += 1;
            let mut rng = Rng::new(
                self.nonce ^ 0x6a6f_6273_0000_0000 ^ state.job_counter.wrapping_mul(0x9e37),
            );
            let id = format!("job_{:016x}{:08x}", rng.next_u64(), rng.next_u64() as u32);
            if !state.jobs.contains_key(&id) {
                return id;
            }
        }
    }

    pub(crate) fn inject(&self, scope: Scope, fault: Fault, times: u32) {
        lock(&self.state).faults.push(scope, fault, times);
    }

    pub(crate) fn clear_faults(&self) {
        lock(&self.state).faults.clear();
    }

    pub(crate) fn insert_job(&self, spec: JobSpec) -> String {
        let mut state = lock(&self.state);
        let id = match spec.id {
            Some(id) => id,
            None => self.new_job_id(&mut state),
        };
        let job = Job {
            id: id.clone(),
            org: spec.org.unwrap_or_else(|| DEFAULT_ORG.to_owned()),
            created: Instant::now(),
            created_ms: now_ms(),
            pending: spec.pending.unwrap_or(self.config.pending),
            processing: spec.processing.unwrap_or(self.config.processing),
            source: match spec.outcome {
                Outcome::Ready => JobSource::ReadyFromId,
                Outcome::Failed(msg) => JobSource::Failed(msg),
            },
            ending: OnceLock::new(),
            expired: AtomicBool::new(false),
            idempotency: None,
        };
        state.store(Arc::new(job), self.config.ttl);
        id
    }

    pub(crate) fn stats(&self) -> Stats {
        lock(&self.state).stats.snapshot()
    }

    pub(crate) fn job_count(&self) -> usize {
        lock(&self.state).jobs.len()
    }

    /// Expires a job; `false` if there is no such job.
    pub(crate) fn expire(&self, job_id: &str) -> bool {
        match lock(&self.state).jobs.get(job_id) {
            Some(job) => {
                job.expired.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    pub(crate) fn connections_accepted(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state).requests.iter().cloned().collect()
    }

    pub(crate) fn clear_requests(&self) {
        let mut state = lock(&self.state);
        state.first_seq += state.requests.len() as u64;
        state.requests.clear();
    }

    pub(crate) fn record(
        &self,
        method: &Method,
        path: String,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> u64 {
        let record = RecordedRequest {
            method: method.as_str().to_owned(),
            path,
            headers: headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
            status: 0,
        };
        let mut state = lock(&self.state);
        if state.requests.len() >= MAX_RECORDED {
            state.requests.pop_front();
            state.first_seq += 1;
        }
        state.requests.push_back(record);
        state.first_seq + state.requests.len() as u64 - 1
    }

    pub(crate) fn set_recorded_status(&self, seq: u64, status: u16) {
        let mut state = lock(&self.state);
        if let Some(i) = seq.checked_sub(state.first_seq)
            && let Some(r) = usize::try_from(i)
                .ok()
                .and_then(|i| state.requests.get_mut(i))
        {
            r.status = status;
        }
    }

    /// Takes the first queued fault matching this request, if any.
    pub(crate) fn take_fault(
        &self,
        key: Option<&str>,
        job_get: Option<&str>,
        creation: bool,
    ) -> Option<Fault> {
        lock(&self.state).faults.take(key, job_get, creation)
    }

    /// Creates a screening job for `subject` (or replays, refuses or rate-limits it), recording it in the
    /// stats. `fingerprint` identifies the request body, to tell a replay from a reused key.
    pub(crate) fn create(
        &self,
        (api_key, org): (&str, &str),
        idempotency_key: Option<String>,
        subject: Subject,
        fingerprint: u64,
    ) -> Creation {
        let now = Instant::now();
        let ttl = self.config.ttl;
        let mut state = lock(&self.state);
        if let Some(limiter) = &mut state.limiter
            && let Err(retry_after) = limiter.acquire(api_key, now)
        {
            state.stats.rate_limited();
            return Creation::RateLimited { retry_after };
        }
        if let Some(key) = &idempotency_key
            && let Some((job, first_fingerprint)) = state
                .idempotency
                .get(&(org.to_owned(), key.clone()))
                .and_then(|(id, fp)| Some((state.jobs.get(id)?, *fp)))
        {
            let phase = job.phase(now, ttl);
            if phase != Phase::Expired {
                if first_fingerprint != fingerprint {
                    state.stats.idempotency_conflict();
                    return Creation::Conflict { key: key.clone() };
                }
                let job = Arc::clone(job);
                state.stats.replay();
                return Creation::Replay(job, phase);
            }
        }
        let id = self.new_job_id(&mut state);
        let person = format!(
            "{}|{}|{}|{}",
            subject.email.to_lowercase(),
            subject.first_name,
            subject.last_name,
            subject.date_of_birth
        );
        let job = Job {
            id: id.clone(),
            org: org.to_owned(),
            created: now,
            created_ms: now_ms(),
            pending: self.config.pending,
            processing: self.config.processing,
            source: JobSource::Screening(subject),
            ending: OnceLock::new(),
            expired: AtomicBool::new(false),
            idempotency: idempotency_key
                .as_ref()
                .map(|k| (org.to_owned(), k.clone())),
        };
        state.stats.creation(idempotency_key.as_deref(), person);
        let phase = job.phase(now, ttl);
        let job = Arc::new(job);
        state.store(Arc::clone(&job), ttl);
        if let Some(key) = idempotency_key {
            state
                .idempotency
                .insert((org.to_owned(), key), (id, fingerprint));
        }
        Creation::New(job, phase)
    }

    /// A job by id, if held.
    pub(crate) fn job(&self, id: &str) -> Option<Arc<Job>> {
        lock(&self.state).jobs.get(id).cloned()
    }
}
