//! Polling throughput of the async adapter: 1 000 concurrent waits
//! (`Client::wait_many(ids, 1000)`) on jobs that stay `processing` for a fixed
//! window, polled every millisecond (no jitter, no growth), so the client is never
//! idle and the rate of polls is what is measured: requests the simulator recorded
//! during the `wait_many` call / its wall time. `benches/async.sh` runs this
//! beside `wrk` on the same simulator process (a processing job, the same answer).
//!
//! `DEEPIDV_BENCH_URL=http://127.0.0.1:PORT cargo bench -p deepidv-benches --bench wait_many`
//! (a `deepidv-mock` process; without it, one in this process). Knobs:
//! `BENCH_JOBS` (1000), `BENCH_WINDOW_MS` (1500), `BENCH_ROUNDS` (3), `BENCH_POLL_MS` (1),
//! `BENCH_WORKERS` (tokio worker threads, 2), `BENCH_ONLY` (`default` or `pooled`: one variant).
//! Prints one `RESULT <variant> requests_per_s=<median>` line per variant.

mod common;

use std::time::{Duration, Instant};

use common::{MOCK_RECORD_CAP, Sim, client, env_or, median};
use deepidv_reqwest::JobStatus;

fn main() {
    let workers = env_or("BENCH_WORKERS", 2usize);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(workers));
}

async fn run(workers: usize) {
    let sim = Sim::from_env();
    let jobs = env_or("BENCH_JOBS", 1000usize);
    let window = Duration::from_millis(env_or("BENCH_WINDOW_MS", 1500u64));
    let rounds = env_or("BENCH_ROUNDS", 3usize).max(1);
    let interval = Duration::from_millis(env_or("BENCH_POLL_MS", 1u64));
    println!(
        "wait_many: {jobs} jobs processing for {window:?}, polled every {interval:?}, \
         {rounds} rounds, {workers} tokio workers, simulator {}",
        sim.url
    );

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let variants = [
        (
            format!(
                "wait_many(ids, {jobs}), Client::new (at most {} connections)",
                deepidv_reqwest::DEFAULT_MAX_CONNECTIONS
            ),
            client(&sim.url, interval, None),
        ),
        (
            format!("wait_many(ids, {jobs}), Client::with_max_connections({jobs})"),
            client(&sim.url, interval, Some(jobs)),
        ),
    ];
    // BENCH_ONLY=default|pooled keeps one variant (for profiling)
    let variants: Vec<_> = variants
        .into_iter()
        .enumerate()
        .filter(|(i, _)| match only.as_str() {
            "default" => *i == 0,
            "pooled" => *i == 1,
            _ => true,
        })
        .map(|(_, v)| v)
        .collect();
    // warm-up: one short run per client (connections, runtime, allocator)
    for (_, c) in &variants {
        let ids = sim
            .create_jobs(jobs.min(100), Duration::from_millis(200))
            .await;
        for r in c.wait_many(ids, jobs).await {
            r.unwrap();
        }
    }

    let mut rates = vec![Vec::new(); variants.len()];
    for round in 1..=rounds {
        for (i, (label, c)) in variants.iter().enumerate() {
            let ids = sim.create_jobs(jobs, window).await;
            sim.clear_requests().await;
            let start = Instant::now();
            let results = c.wait_many(ids, jobs).await;
            let elapsed = start.elapsed();
            let gets = sim.count_gets().await;
            let ready = results
                .iter()
                .filter(|r| r.as_ref().is_ok_and(|j| j.status() == JobStatus::Ready))
                .count();
            assert_eq!(
                ready,
                jobs,
                "every wait ends ready: {:?}",
                results.iter().find(|r| r.is_err())
            );
            if gets >= MOCK_RECORD_CAP {
                eprintln!(
                    "warning: the simulator's record is full ({MOCK_RECORD_CAP}): the rate is a lower bound; \
                     lower BENCH_WINDOW_MS"
                );
            }
            let rate = gets as f64 / elapsed.as_secs_f64();
            println!(
                "round {round}: {label}: {gets} requests in {:.3} s = {rate:.0} requests/s ({:.1} polls per job)",
                elapsed.as_secs_f64(),
                gets as f64 / jobs as f64
            );
            rates[i].push(rate);
        }
    }
    for ((label, _), r) in variants.iter().zip(rates) {
        println!("RESULT {label} requests_per_s={:.0}", median(r));
    }
}
