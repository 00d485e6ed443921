//! Shared by the async benches: the simulator (a `deepidv-mock` process named by
//! `DEEPIDV_BENCH_URL`, or one started in-process as a fallback), its admin routes,
//! and a client set up to poll fast.

// Each bench binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use deepidv_mock::{DEFAULT_API_KEY, MockConfig, MockServer};
use deepidv_reqwest::{ApiKey, BaseUrl, Client, Config, JobId};
use futures_util::stream::{self, StreamExt};

/// The simulator the bench talks to.
pub struct Sim {
    pub url: String,
    /// Kept alive when the simulator runs in this process (the fallback).
    _local: Option<MockServer>,
    admin: reqwest::Client,
}

impl Sim {
    /// `DEEPIDV_BENCH_URL` if set (a separate `deepidv-mock` process, as the scripts
    /// start it), else an in-process simulator on its own thread and runtime.
    pub fn from_env() -> Sim {
        let (url, local) = match std::env::var("DEEPIDV_BENCH_URL") {
            Ok(url) if !url.trim().is_empty() => {
                (url.trim().trim_end_matches('/').to_owned(), None)
            }
            _ => {
                eprintln!(
                    "DEEPIDV_BENCH_URL not set: simulator in this process (client and server share the CPU \
                     budget of one process; the scripts run it separately)"
                );
                let mock = MockServer::start_background(MockConfig::instant()).unwrap();
                (mock.url(), Some(mock))
            }
        };
        // The admin calls use plain reqwest, built with no TLS provider of its own.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let admin = reqwest::Client::builder()
            .pool_max_idle_per_host(16)
            .build()
            .unwrap();
        Sim {
            url,
            _local: local,
            admin,
        }
    }

    /// Creates `n` jobs that are `processing` at once and all turn `ready` at the
    /// same instant, `window` from now (each one's processing time is what is left
    /// of the window when it is created).
    pub async fn create_jobs(&self, n: usize, window: Duration) -> Vec<JobId> {
        let ends = Instant::now() + window;
        let url = format!("{}/__mock/jobs", self.url);
        stream::iter(0..n)
            .map(|_| {
                let left = ends.saturating_duration_since(Instant::now());
                let body = format!(
                    r#"{{"outcome":"ready","pendingMs":0,"processingMs":{}}}"#,
                    left.as_millis()
                );
                let req = self.admin.post(&url).body(body);
                async move {
                    let text = req.send().await.unwrap().text().await.unwrap();
                    let id = text
                        .split("\"jobId\":\"")
                        .nth(1)
                        .and_then(|rest| rest.split('"').next())
                        .unwrap_or_else(|| {
                            panic!("unexpected answer to POST /__mock/jobs: {text}")
                        });
                    JobId::new(id).unwrap()
                }
            })
            .buffered(16)
            .collect()
            .await
    }

    /// Forgets the requests the simulator recorded.
    pub async fn clear_requests(&self) {
        let status = self
            .admin
            .delete(format!("{}/__mock/requests", self.url))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 204);
    }

    /// `GET` API requests recorded since the last [`Sim::clear_requests`] (the
    /// simulator keeps the last 100 000). Over a throwaway connection, so that no
    /// buffer sized for this big answer stays allocated in this process.
    pub async fn count_gets(&self) -> usize {
        let text = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .unwrap()
            .get(format!("{}/__mock/requests", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.matches(r#""method":"GET""#).count()
    }
}

/// The simulator keeps this many requests; a count that reaches it is a lower bound.
pub const MOCK_RECORD_CAP: usize = 100_000;

/// A client for the simulator polling every `interval`, without jitter or growth.
pub fn client(url: &str, interval: Duration, max_idle: Option<usize>) -> Client {
    let mut config = Config::new(ApiKey::new(DEFAULT_API_KEY).unwrap())
        .with_base_url(BaseUrl::parse(url).unwrap());
    config.poll.first_delay = Duration::ZERO;
    config.poll.interval = interval;
    config.poll.max_interval = interval;
    config.poll.multiplier = 1.0;
    config.poll.jitter = 0.0;
    config.poll.timeout = Duration::from_secs(120);
    match max_idle {
        Some(n) => Client::with_max_connections(config, n).unwrap(),
        None => Client::new(config).unwrap(),
    }
}

/// The middle value (the upper middle for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// An environment variable as a number, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}
