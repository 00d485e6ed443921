//! Rate limiting of job creations: one token bucket per API key.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Token buckets, one per API key, refilled at `rate` tokens per second and holding at most about one second's
/// worth (at least one token), so a key may burst that much and then sustain `rate`.
pub(crate) struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: HashMap<String, Bucket>,
}

struct Bucket {
    tokens: f64,
    last: Instant,
}

impl RateLimiter {
    /// `None` for a rate that limits nothing (not finite or not positive).
    pub(crate) fn new(rate: f64) -> Option<RateLimiter> {
        (rate.is_finite() && rate > 0.0).then(|| RateLimiter {
            rate,
            burst: rate.max(1.0),
            buckets: HashMap::new(),
        })
    }

    /// Takes one token for `key` at `now`: `Ok(())`, or `Err(retry_after)` (whole seconds, at least 1) when
    /// the bucket is empty.
    pub(crate) fn acquire(&mut self, key: &str, now: Instant) -> Result<(), u64> {
        let burst = self.burst;
        let bucket = match self.buckets.get_mut(key) {
            Some(b) => b,
            None => self.buckets.entry(key.to_owned()).or_insert(Bucket {
                tokens: burst,
                last: now,
            }),
        };
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(burst);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.rate;
            Err(Duration::from_secs_f64(wait.min(86_400.0))
                .as_secs_f64()
                .ceil()
                .max(1.0) as u64)
        }
    }
}

/// Parses `N/s` or `N` (creations per second, a positive number), as given to `--rate-limit`.
pub(crate) fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let n = t.strip_suffix("/s").unwrap_or(t).trim();
    match n.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "expected a positive rate like 50/s or 50 (creations per second), not {t:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_bursts_one_second_then_sustains_the_rate() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(5.0).unwrap();
        for _ in 0..5 {
            assert_eq!(l.acquire("k", t0), Ok(()));
        }
        assert_eq!(l.acquire("k", t0), Err(1));
        // another key has its own bucket
        assert_eq!(l.acquire("other", t0), Ok(()));
        // 200 ms later, one token is back
        let t1 = t0 + Duration::from_millis(200);
        assert_eq!(l.acquire("k", t1), Ok(()));
        assert_eq!(l.acquire("k", t1), Err(1));
    }

    #[test]
    fn slow_rates_ask_for_longer_waits() {
        let t0 = Instant::now();
        let mut l = RateLimiter::new(0.25).unwrap();
        assert_eq!(l.acquire("k", t0), Ok(()));
        assert_eq!(l.acquire("k", t0), Err(4));
        assert!(RateLimiter::new(0.0).is_none());
        assert!(RateLimiter::new(f64::NAN).is_none());
    }

    #[test]
    fn rates_parse() {
        assert_eq!(parse_rate("50/s"), Ok(50.0));
        assert_eq!(parse_rate("50"), Ok(50.0));
        assert_eq!(parse_rate("0.5/s"), Ok(0.5));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-1/s").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("10/m").is_err());
    }
}
