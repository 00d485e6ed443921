//! One poller step: poll (an instant to wait for), poll again at that instant (a
//! request is built), and the canned answer handled (a small `pending` body, so
//! parsing costs as little as possible). Beside it, its parts: building the request
//! alone, and parsing the pending body alone. Target: a step under 1 µs.
//!
//! `cargo bench -p deepidv-core --bench poller -- --quick`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use deepidv_core::http::Response;
use deepidv_core::{Action, ApiKey, BaseUrl, Config, Job, JobId, Machine, Poller};

const PENDING: &[u8] = br#"{"jobId":"job_0a1b2c3d4e5f60718293a4b5","status":"pending","createdAt":1717593600000,"updatedAt":"2024-06-05T13:20:00.000Z"}"#;

fn config() -> Arc<Config> {
    let mut c = Config::new(ApiKey::new("sk_test_deepidv_sandbox").unwrap())
        .with_base_url(BaseUrl::parse("http://127.0.0.1:4010").unwrap())
        .with_frontend("bench");
    // A deadline that never comes: the machine keeps polling for the whole bench.
    c.poll.timeout = Duration::from_secs(1 << 40);
    Arc::new(c)
}

fn step(c: &mut Criterion) {
    let config = config();
    let id = JobId::new("job_0a1b2c3d4e5f60718293a4b5").unwrap();
    let response = Response::new(PENDING);
    let mut g = c.benchmark_group("poller_step");

    let mut now = Duration::ZERO;
    let mut poller = Poller::wait(config.clone(), id.clone(), now, SystemTime::UNIX_EPOCH, 7);
    g.bench_function("wait_step_pending", |b| {
        b.iter(|| {
            loop {
                match poller.poll(now) {
                    Action::WaitUntil(t) => now = t,
                    Action::Send { request, .. } => {
                        black_box(&request);
                        poller.handle_response(now, black_box(&response));
                        break;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            while let Some(e) = poller.poll_event() {
                black_box(e);
            }
        })
    });

    g.bench_function("part_build_request", |b| {
        b.iter(|| black_box(config.get_job_request(black_box(&id)).unwrap()))
    });
    g.bench_function("part_parse_pending", |b| {
        b.iter(|| black_box(Job::from_json(black_box(PENDING)).unwrap()))
    });
    g.bench_function("part_new_wait_poller", |b| {
        b.iter(|| {
            black_box(Poller::wait(
                config.clone(),
                id.clone(),
                Duration::ZERO,
                SystemTime::UNIX_EPOCH,
                7,
            ))
        })
    });
    g.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
