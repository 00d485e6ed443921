//! The run: claim unfinished people, create their screenings at the allowed rate,
//! wait for each, and record every step in the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deepidv_reqwest::{CancellationToken, Client, ErrorKind, Event, IdempotencyKey, JobId};
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::store::{Counts, Finished, Item, Store, Update};
use crate::{Error, Status};

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Creations per second for this whole process (`None`: as fast as the API allows).
    pub rate: Option<f64>,
    /// Jobs in flight at once (created or being created, not finished).
    pub concurrency: usize,
    /// How long a claimed row stays this worker's without renewal (PostgreSQL);
    /// renewed every third of it while the worker lives.
    pub lease: Duration,
    /// This worker's name in the store (unique per process).
    pub worker: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            rate: None,
            concurrency: DEFAULT_CONCURRENCY,
            lease: DEFAULT_LEASE,
            worker: crate::new_worker_id(),
        }
    }
}

/// Jobs in flight by default.
pub const DEFAULT_CONCURRENCY: usize = 256;
/// The default lease.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// The most rows claimed at once.
const CLAIM_CHUNK: usize = 256;

/// Counters a run updates as it goes, for a progress display.
#[derive(Debug, Default)]
pub struct Progress {
    /// People to finish when the run started (all workers').
    pub open_at_start: AtomicU64,
    /// Jobs created (or replayed) by this process.
    pub created: AtomicU64,
    /// People found ready by this process.
    pub ready: AtomicU64,
    /// People whose job failed.
    pub failed: AtomicU64,
    /// People given up.
    pub gave_up: AtomicU64,
    /// Times a 429 slowed the whole process.
    pub rate_limited: AtomicU64,
}

impl Progress {
    /// People this process finished.
    pub fn finished(&self) -> u64 {
        self.ready.load(Ordering::Relaxed)
            + self.failed.load(Ordering::Relaxed)
            + self.gave_up.load(Ordering::Relaxed)
    }
}

/// The creation rate of a whole process: a token bucket without burst (one slot
/// every `1/rate`), which a 429's `Retry-After` pauses for every task at once.
#[derive(Debug)]
pub struct Limiter {
    interval: Option<Duration>,
    state: Mutex<LimiterState>,
}

#[derive(Debug)]
struct LimiterState {
    next: Instant,
    paused_until: Instant,
}

impl Limiter {
    /// `rate` creations per second; `None` for no limit (429 pauses still apply).
    pub fn new(rate: Option<f64>) -> Self {
        let now = Instant::now();
        Self {
            interval: rate
                .filter(|r| r.is_finite() && *r > 0.0)
                .map(|r| Duration::from_secs_f64(1.0 / r)),
            state: Mutex::new(LimiterState {
                next: now,
                paused_until: now,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LimiterState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for this task's turn.
    pub async fn acquire(&self) {
        loop {
            let at = {
                let mut s = self.lock();
                let mut at = Instant::now().max(s.paused_until);
                if let Some(interval) = self.interval {
                    at = at.max(s.next);
                    s.next = at + interval;
                }
                at
            };
            tokio::time::sleep_until(at).await;
            // A pause that began while this task slept applies to it too.
            if Instant::now() >= self.lock().paused_until {
                return;
            }
        }
    }

    /// Holds every task's next creation for `delay` from now.
    pub fn pause(&self, delay: Duration) {
        let mut s = self.lock();
        s.paused_until = s.paused_until.max(Instant::now() + delay);
    }
}

struct Ctx<S> {
    store: Arc<S>,
    client: Client,
    limiter: Limiter,
    cancel: CancellationToken,
    progress: Arc<Progress>,
    worker: String,
}

/// Runs the batch in `store` to the end (or to the first error that stops it:
/// the API unavailable past the client's retries, a bad key, the store failing),
/// and returns the counts of the whole batch. State is kept either way: running
/// again continues.
pub async fn run<S: Store>(
    store: Arc<S>,
    client: Client,
    options: RunOptions,
    progress: Arc<Progress>,
) -> Result<Counts, Error> {
    let concurrency = options.concurrency.max(1);
    let lease = options.lease.max(Duration::from_millis(300));
    store.start(&options.worker).await?;
    let at_start = store.counts().await?;
    progress
        .open_at_start
        .store(at_start.open(), Ordering::Relaxed);
    let ctx = Arc::new(Ctx {
        store: Arc::clone(&store),
        client,
        limiter: Limiter::new(options.rate),
        cancel: CancellationToken::new(),
        progress,
        worker: options.worker.clone(),
    });
    let renewal = {
        let ctx = Arc::clone(&ctx);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if let Err(e) = ctx.store.renew(&ctx.worker, lease).await {
                    ctx.cancel.cancel();
                    return Some(e);
                }
            }
        })
    };
    let outcome = claim_loop(&ctx, concurrency, lease).await;
    ctx.cancel.cancel();
    renewal.abort();
    let renewal_error = renewal.await.ok().flatten();
    if let Some(e) = outcome.err().or(renewal_error) {
        // Let other workers take this one's rows at once.
        let _ = store.renew(&options.worker, Duration::ZERO).await;
        return Err(e);
    }
    store.counts().await
}

async fn claim_loop<S: Store>(
    ctx: &Arc<Ctx<S>>,
    concurrency: usize,
    lease: Duration,
) -> Result<(), Error> {
    let refill_at = (concurrency / 4).clamp(1, 64);
    let idle_poll = (lease / 4).min(Duration::from_secs(1));
    let mut tasks: JoinSet<Result<(), Error>> = JoinSet::new();
    let mut first_error: Option<Error> = None;
    let note = |r: Result<Result<(), Error>, tokio::task::JoinError>, first: &mut Option<Error>| {
        let e = match r {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(e) => Error::Internal(format!("a batch task ended abnormally: {e}")),
        };
        ctx.cancel.cancel();
        first.get_or_insert(e);
    };
    while !ctx.cancel.is_cancelled() {
        // Refill in chunks, not one claim per finished person.
        while !tasks.is_empty() && concurrency - tasks.len() < refill_at {
            if let Some(r) = tasks.join_next().await {
                note(r, &mut first_error);
            }
        }
        if ctx.cancel.is_cancelled() {
            break;
        }
        let want = (concurrency - tasks.len()).min(CLAIM_CHUNK);
        let items = match ctx.store.claim(&ctx.worker, want, lease).await {
            Ok(items) => items,
            Err(e) => {
                ctx.cancel.cancel();
                first_error.get_or_insert(e);
                break;
            }
        };
        if items.is_empty() {
            if let Some(r) = tasks.join_next().await {
                note(r, &mut first_error);
                continue;
            }
            match ctx.store.counts().await {
                Ok(c) if c.open() == 0 => break,
                Ok(_) => {
                    // Rows held by other workers (or by a dead one, until its lease ends).
                    tokio::select! {
                        () = tokio::time::sleep(idle_poll) => {}
                        () = ctx.cancel.cancelled() => {}
                    }
                }
                Err(e) => {
                    ctx.cancel.cancel();
                    first_error.get_or_insert(e);
                    break;
                }
            }
            continue;
        }
        for item in items {
            let ctx = Arc::clone(ctx);
            tasks.spawn(async move { process(&ctx, item).await });
        }
        while let Some(r) = tasks.try_join_next() {
            note(r, &mut first_error);
        }
    }
    while let Some(r) = tasks.join_next().await {
        note(r, &mut first_error);
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Screens one person. `Err` stops the whole run; a problem with this person
/// alone is recorded and is `Ok`.
async fn process<S: Store>(ctx: &Ctx<S>, item: Item) -> Result<(), Error> {
    let line = item.person.line;
    let give_up = |job_id: Option<String>, why: String| Update::Finished {
        line,
        outcome: Finished {
            status: Status::GaveUp,
            job_id,
            error: Some(why),
            ..Finished::default()
        },
    };
    let job_id = match item.job_id {
        Some(id) => id,
        None => {
            let request = match item.person.request() {
                Ok(r) => r,
                Err(e) => return finish(ctx, give_up(None, e.message().to_owned())).await,
            };
            let key = IdempotencyKey::new(item.idempotency_key)
                .map_err(|e| Error::Internal(e.message().to_owned()))?;
            tokio::select! {
                () = ctx.limiter.acquire() => {}
                () = ctx.cancel.cancelled() => return Ok(()),
            }
            let mut call = match ctx.client.create_call(&request, Some(key)) {
                Ok(call) => call,
                Err(e) => return failure(ctx, line, None, e).await,
            };
            let observe = |event: &Event| {
                if let Event::Retrying { delay, error, .. } = event
                    && error.is_rate_limited()
                {
                    ctx.limiter.pause(*delay);
                    ctx.progress.rate_limited.fetch_add(1, Ordering::Relaxed);
                }
            };
            match ctx
                .client
                .drive(&mut call, observe, Some(&ctx.cancel))
                .await
            {
                Ok(created) => {
                    ctx.progress.created.fetch_add(1, Ordering::Relaxed);
                    let id = created.job_id;
                    ctx.store
                        .update(
                            &ctx.worker,
                            Update::Created {
                                line,
                                job_id: id.clone(),
                            },
                        )
                        .await?;
                    id
                }
                Err(e) => return failure(ctx, line, None, e).await,
            }
        }
    };
    let id = match JobId::new(job_id.clone()) {
        Ok(id) => id,
        Err(e) => return finish(ctx, give_up(Some(job_id), e.message().to_owned())).await,
    };
    match ctx.client.wait_with_cancel(&id, &ctx.cancel).await {
        Ok(job) => {
            let result = job.result();
            let summary = result.and_then(|r| r.adverse_media());
            let outcome = Finished {
                status: Status::Ready,
                job_id: Some(job_id),
                risk_level: summary
                    .as_ref()
                    .and_then(|s| s.risk_level.as_ref())
                    .map(|l| l.as_str().to_owned()),
                risk_score: summary.as_ref().and_then(|s| s.risk_score),
                hits: summary
                    .as_ref()
                    .map(|s| i64::try_from(s.total_hits).unwrap_or(i64::MAX)),
                result: result.map(|r| r.raw_json().to_owned()),
                error: None,
            };
            ctx.progress.ready.fetch_add(1, Ordering::Relaxed);
            finish(ctx, Update::Finished { line, outcome }).await
        }
        Err(e) => failure(ctx, line, Some(job_id), e).await,
    }
}

async fn finish<S: Store>(ctx: &Ctx<S>, update: Update) -> Result<(), Error> {
    if let Update::Finished { outcome, .. } = &update
        && outcome.status == Status::GaveUp
    {
        ctx.progress.gave_up.fetch_add(1, Ordering::Relaxed);
    }
    ctx.store.update(&ctx.worker, update).await
}

/// What an error means for this person, or for the whole run.
async fn failure<S: Store>(
    ctx: &Ctx<S>,
    line: u64,
    job_id: Option<String>,
    e: deepidv_reqwest::Error,
) -> Result<(), Error> {
    if ctx.cancel.is_cancelled() {
        // Stopped by another task's error: the row stays for the next run.
        return Ok(());
    }
    match e.kind() {
        ErrorKind::JobFailed => {
            ctx.progress.failed.fetch_add(1, Ordering::Relaxed);
            let outcome = Finished {
                status: Status::Failed,
                job_id,
                error: Some(
                    e.job()
                        .and_then(|j| j.error())
                        .unwrap_or(e.message())
                        .to_owned(),
                ),
                ..Finished::default()
            };
            finish(ctx, Update::Finished { line, outcome }).await
        }
        // This person only: the API refused them, the job expired or never finished,
        // or its answers broke the contract.
        ErrorKind::InvalidArgument
        | ErrorKind::Rejected
        | ErrorKind::NotFound
        | ErrorKind::Timeout
        | ErrorKind::InvalidResponse => {
            let outcome = Finished {
                status: Status::GaveUp,
                job_id,
                error: Some(e.message().to_owned()),
                ..Finished::default()
            };
            finish(ctx, Update::Finished { line, outcome }).await
        }
        // Everyone: the API is down, or the key is wrong.
        _ => Err(Error::Api(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_limiter_spaces_creations_evenly() {
        let limiter = Limiter::new(Some(50.0));
        let start = Instant::now();
        for _ in 0..101 {
            limiter.acquire().await;
        }
        // The first at once, then one every 20 ms: no burst beyond the rate.
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_task() {
        let limiter = Arc::new(Limiter::new(None));
        let start = Instant::now();
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO, "no rate: no wait");
        limiter.pause(Duration::from_secs(3));
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let l = Arc::clone(&limiter);
                tokio::spawn(async move {
                    l.acquire().await;
                    Instant::now()
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap() - start, Duration::from_secs(3));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_during_a_wait_applies_to_the_waiting_task() {
        let limiter = Arc::new(Limiter::new(Some(1.0)));
        let start = Instant::now();
        limiter.acquire().await; // t = 0; the next slot is t = 1 s
        let l = Arc::clone(&limiter);
        let waiting = tokio::spawn(async move {
            l.acquire().await;
            Instant::now()
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        limiter.pause(Duration::from_secs(2)); // until t = 2.5 s
        assert_eq!(
            waiting.await.unwrap() - start,
            Duration::from_millis(2500),
            "the slot at 1 s fell inside the pause"
        );
    }
}
