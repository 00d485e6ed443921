//! The outside baseline of `deepidv batch run`: the same screenings with no store.
//! N people (the same generated ones as `benches/batch.sh`'s CSV), each created and
//! waited for with `deepidv_reqwest::Client::screen_adverse_media`, at most
//! `BENCH_CONCURRENCY` (256, batch's default `--concurrency`) at a time, on a
//! `Client::new` like batch's. What `deepidv batch` adds on top (validation, the
//! store, its transactions, the claim loop) is the difference.
//!
//! `DEEPIDV_BASE_URL=http://127.0.0.1:PORT cargo bench -p deepidv-benches --bench screen_many -- N`
//! (a `deepidv mock --pending 0ms --processing 0ms` process). Prints
//! `RESULT screen_many_people_per_s_<N> <rate> people/s`.

use std::time::Instant;

use deepidv_reqwest::{AdverseMediaRequest, ApiKey, BaseUrl, Client, Config};
use futures_util::StreamExt;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let url = std::env::var("DEEPIDV_BASE_URL").expect("DEEPIDV_BASE_URL: a running simulator");
    let config = Config::new(ApiKey::new(deepidv_mock::DEFAULT_API_KEY).unwrap())
        .with_base_url(BaseUrl::parse(&url).unwrap());
    // batch's runtime: tokio's multi-threaded default
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = Client::new(config).unwrap();
        let people: Vec<AdverseMediaRequest> = (0..n).map(person).collect();
        let start = Instant::now();
        let failed = futures_util::stream::iter(&people)
            .map(|p| {
                let client = &client;
                async move { client.screen_adverse_media(p, None).await }
            })
            .buffer_unordered(concurrency.max(1))
            .filter(|r| std::future::ready(r.is_err()))
            .count()
            .await;
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(failed, 0, "every screening finishes");
        println!(
            "RESULT screen_many_people_per_s_{n} {:.0} people/s",
            n as f64 / secs
        );
    });
}

/// Person `i` of `benches/batch.sh`'s generated CSV.
fn person(i: usize) -> AdverseMediaRequest {
    AdverseMediaRequest::new(
        &format!("First{i}"),
        &format!("Last{i}"),
        &format!("p{i}@example.com"),
        &format!("19{:02}-{:02}-{:02}", 50 + i % 50, 1 + i % 12, 1 + i % 28),
        Some("US"),
    )
    .unwrap()
}
