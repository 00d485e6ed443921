//! The Rust twin of `benches/c/bench_c_get.c`: `deepidv_ureq::Client::get_job` over one
//! kept-alive connection, timed exactly as the C program times
//! `deepidv_client_get_job` (200 warm-up calls, then rounds of N calls; per round the
//! mean, total / N, and the median of per-call times), so `benches/c.sh` can
//! compare the two in one run.
//!
//! `cargo bench -p deepidv-benches --bench ureq_get_loop -- URL JOB_ID [N] [ROUNDS]`
//! (defaults: `DEEPIDV_BENCH_URL` / `DEEPIDV_BENCH_JOB`, N = 5000, ROUNDS = 5).

use std::hint::black_box;
use std::time::Instant;

use deepidv_mock::DEFAULT_API_KEY;
use deepidv_ureq::{ApiKey, BaseUrl, Client, Config, JobId, JobStatus};

fn main() {
    // `cargo bench` passes `--bench`; keep only the positional arguments.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let url = args
        .first()
        .cloned()
        .or_else(|| std::env::var("DEEPIDV_BENCH_URL").ok())
        .expect("a simulator URL (argument or DEEPIDV_BENCH_URL)");
    let job = args
        .get(1)
        .cloned()
        .or_else(|| std::env::var("DEEPIDV_BENCH_JOB").ok())
        .expect("a job id (argument or DEEPIDV_BENCH_JOB)");
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5000);
    let rounds: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(5);

    let config = Config::new(ApiKey::new(DEFAULT_API_KEY).unwrap())
        .with_base_url(BaseUrl::parse(&url).unwrap());
    let client = Client::new(config).unwrap();
    let id = JobId::new(job).unwrap();
    let get_once = || {
        let job = client
            .get_job(black_box(&id))
            .unwrap_or_else(|e| panic!("get_job: {e}"));
        assert_eq!(job.status(), JobStatus::Ready);
        black_box(job);
    };
    for _ in 0..200 {
        get_once();
    }
    let mut t = vec![0u64; n.max(1)];
    for r in 1..=rounds.max(1) {
        let start = Instant::now();
        let mut prev = start;
        for slot in t.iter_mut() {
            get_once();
            let now = Instant::now();
            *slot = (now - prev).as_nanos() as u64;
            prev = now;
        }
        let total = (prev - start).as_nanos() as u64;
        t.sort_unstable();
        println!(
            "round {r} mean_ns={} median_ns={}",
            total / t.len() as u64,
            t[t.len() / 2]
        );
    }
}
