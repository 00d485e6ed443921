//! One `get_job` over a kept-alive connection to the simulator, beside curl's own
//! per-request time on one connection (`curl -s URL URL …`: the linear sampling mode
//! makes criterion's slope drop curl's start-up cost, leaving the time per URL).
//! Target: within 1.2× of curl.
//!
//! Uses the simulator at `DEEPIDV_BENCH_URL` (e.g. a `deepidv-mock` process, as
//! `benches/blocking.sh` starts it) with the sandbox key and job `DEEPIDV_BENCH_JOB`, or
//! starts one in-process.
//!
//! `cargo bench -p deepidv-benches --bench get_job -- --quick` (or `benches/run.sh client`)

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use deepidv_mock::{DEFAULT_API_KEY, JobSpec, MockConfig, MockServer};
use deepidv_ureq::{ApiKey, BaseUrl, Client, Config, JobId};

fn curl_available() -> bool {
    Command::new("curl")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn get_job(c: &mut Criterion) {
    let (_mock, url, job) = match (
        std::env::var("DEEPIDV_BENCH_URL"),
        std::env::var("DEEPIDV_BENCH_JOB"),
    ) {
        (Ok(url), Ok(job)) => (None, url, job),
        _ => {
            let mock = MockServer::start_background(MockConfig::instant()).unwrap();
            let job = mock.insert_job(JobSpec::default());
            let url = mock.url();
            (Some(mock), url, job)
        }
    };
    let config = Config::new(ApiKey::new(DEFAULT_API_KEY).unwrap())
        .with_base_url(BaseUrl::parse(&url).unwrap());
    let client = Client::new(config).unwrap();
    let id = JobId::new(job.clone()).unwrap();
    let first = client.get_job(&id).expect("the simulator answers");
    assert_eq!(first.job_id, job);

    let mut g = c.benchmark_group("get_job_keepalive");
    g.sampling_mode(SamplingMode::Linear);
    g.bench_function("deepidv_ureq_get_job", |b| {
        b.iter(|| {
            black_box(
                client
                    .get_job(black_box(&id))
                    .unwrap_or_else(|e| panic!("get_job: {e}")),
            )
        })
    });
    if curl_available() {
        let target = format!("{url}/v1/async-jobs/{job}");
        g.bench_function("curl_per_request", |b| {
            b.iter_custom(|iters| {
                // Many URLs overflow the argument list: hand them to curl in a config file.
                let list =
                    std::env::temp_dir().join(format!("deepidv-bench-curl-{}", std::process::id()));
                let mut text = format!("header = \"x-api-key: {DEFAULT_API_KEY}\"\nsilent\n");
                for _ in 0..iters {
                    text.push_str(&format!("url = \"{target}\"\noutput = \"/dev/null\"\n"));
                }
                std::fs::write(&list, text).unwrap();
                let mut cmd = Command::new("curl");
                cmd.arg("-K").arg(&list).stdout(Stdio::null());
                let start = Instant::now();
                let status = cmd.status().expect("curl runs");
                let elapsed = start.elapsed();
                assert!(status.success());
                let _ = std::fs::remove_file(&list);
                elapsed
            })
        });
    } else {
        eprintln!("curl not found: the curl baseline is skipped");
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = get_job
}
criterion_main!(benches);
