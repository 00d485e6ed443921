//! The fuzz targets' logic, shared by the cargo-fuzz binaries (`fuzz/fuzz_targets/*.rs`)
//! and by the corpus replay test (`crates/deepidv-core/tests/fuzz_corpus.rs`), both of
//! which include this file with `#[path]`.
//!
//! Every function takes arbitrary bytes, must never panic on its own, and asserts the
//! contract of the code under test: a failed assertion is a finding.
//!
//! Input formats are chosen so that real simulator answers are valid seeds:
//! - `parse_job`: the body bytes.
//! - `parse_response` and `error_body`: an HTTP/1.1 response head and body as
//!   `curl -si` prints it (`HTTP/1.1 200 OK\r\nname: value\r\n\r\nbody`).
//! - `job_id`: the id bytes.
//! - `poller`: a small binary script (see [`poller`]).

#![allow(dead_code)] // each includer uses a subset of the checks

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deepidv_core::http::{self, HeaderName, HeaderValue, Response, StatusCode};
use deepidv_core::{
    Action, ApiKey, BaseUrl, Config, ErrorKind, Job, JobId, JobState, Machine, Poller, PollerState,
    TransportError, TransportErrorKind,
};

/// The API key every check uses; it must never appear in an error message.
pub const SECRET: &str = "sk_test_FuzzSecret0123456789";

/// The job id the poller watches (bodies in [`POLLER_BODIES`] talk about it).
pub const POLLER_JOB: &str = "job_0a1b2c3d4e5f60718293a4b5";

/// A fixed wall clock (2024-06-05T12:00:00Z) for `Retry-After` dates.
pub fn wall_epoch() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_717_588_800)
}

fn config(base: &str) -> Config {
    Config::new(ApiKey::new(SECRET).expect("valid key"))
        .with_base_url(BaseUrl::parse(base).expect("valid base URL"))
        .with_frontend("fuzz")
}

/// An error message must be one printable, bounded line; with `key_known`, the code
/// that wrote it had the key and must not show it.
fn assert_safe_line_with(what: &str, line: &str, key_known: bool) {
    if key_known {
        assert!(!line.contains(SECRET), "{what} leaks the API key: {line:?}");
    }
    assert!(
        !line.chars().any(char::is_control),
        "{what} is not one printable line: {line:?}"
    );
    assert!(
        line.len() <= 2048,
        "{what} is {} bytes long: {line:.200?}",
        line.len()
    );
}

fn assert_safe_line(what: &str, line: &str) {
    assert_safe_line_with(what, line, true)
}

// ---------------------------------------------------------------------------
// (1) job snapshots

/// `Job::from_json` on arbitrary bytes: never panics; a parsed job round-trips
/// through `to_json`, and every accessor is safe to call.
pub fn parse_job(data: &[u8]) {
    let job = match Job::from_json(data) {
        Ok(job) => job,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{e}");
            // Job::from_json has no key to redact; its message must still be one bounded line.
            let line = e.to_string();
            assert_safe_line_with("a parse error", &line, false);
            return;
        }
    };
    exercise_job(&job);
    let json = job.to_json();
    let again = Job::from_json(json.as_bytes())
        .unwrap_or_else(|e| panic!("to_json output does not parse back: {e}: {json}"));
    assert_eq!(again.job_id, job.job_id);
    assert_eq!(again.status_str(), job.status_str());
    assert_eq!(again.status(), job.status());
    assert_eq!(again.updated_at, job.updated_at);
    assert_eq!(again.error(), job.error());
    assert_eq!(
        again.result().map(|r| r.raw_json()),
        job.result().map(|r| r.raw_json())
    );
    // Integers and text round-trip exactly; floats may move by one ulp in serde_json.
    if let deepidv_core::CreatedAt::Text(_) = job.created_at {
        assert_eq!(again.created_at, job.created_at);
    }
}

fn exercise_job(job: &Job) {
    let status = job.status();
    assert_eq!(status.as_str(), job.status_str());
    assert_eq!(status.is_terminal(), job.is_terminal());
    match &job.state {
        JobState::Ready(r) => {
            assert!(job.result().is_some());
            let raw = r.raw_json();
            assert!(!raw.is_empty());
            let _ = r.adverse_media().map(|am| {
                for c in deepidv_core::Category::KNOWN {
                    let _ = am.exposure(&c);
                }
                am.findings.len()
            });
            let _ = r.to_value();
            let _ = format!("{r:?}");
        }
        JobState::Failed(e) => assert!(!e.trim().is_empty(), "a failed job has a reason"),
        JobState::Unknown(s) => assert!(!status.is_terminal(), "unknown {s:?} is terminal"),
        _ => {}
    }
    let _ = job.created_at.unix_millis();
    let _ = job.updated_at_timestamp();
    let _ = format!("{job:?}");
}

/// Splits `HTTP/1.1 200 OK\r\nname: value\r\n\r\nbody` into a response. Lines may end
/// in `\n` or `\r\n`; a head that does not parse becomes status 200 with the whole
/// input as the body. Header lines that `http` refuses are skipped.
pub fn split_response(data: &[u8]) -> Response<Vec<u8>> {
    let fallback = || {
        let mut r = Response::new(data.to_vec());
        *r.status_mut() = StatusCode::OK;
        r
    };
    if !data.starts_with(b"HTTP/") {
        return fallback();
    }
    let (head, body) = match find(data, b"\r\n\r\n") {
        Some(i) => (&data[..i], &data[i + 4..]),
        None => match find(data, b"\n\n") {
            Some(i) => (&data[..i], &data[i + 2..]),
            None => (data, &[][..]),
        },
    };
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let status_line = lines.next().unwrap_or_default();
    let code = status_line
        .split(|&b| b == b' ')
        .nth(1)
        .and_then(|c| StatusCode::from_bytes(c).ok());
    let Some(code) = code else {
        return fallback();
    };
    let mut response = Response::new(body.to_vec());
    *response.status_mut() = code;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = HeaderName::from_bytes(&line[..colon]);
        let value = HeaderValue::from_bytes(trim(&line[colon + 1..]));
        if let (Ok(n), Ok(v)) = (name, value) {
            response.headers_mut().append(n, v);
        }
    }
    response
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// `Config::parse_job_response` on an arbitrary status, headers and body.
pub fn parse_response(data: &[u8]) {
    let mut c = config("http://127.0.0.1:9");
    // A small cap so the fuzzer reaches the size limit too.
    c.max_body_bytes = 4096;
    let response = split_response(data);
    let status = response.status();
    match c.parse_job_response(&response) {
        Ok(job) => {
            assert!(status.is_success(), "HTTP {status} parsed as a job");
            assert!(response.body().len() <= c.max_body_bytes);
            exercise_job(&job);
        }
        Err(e) => {
            assert!((1..=9).contains(&e.code()));
            assert_ne!(e.kind(), ErrorKind::Internal, "{e}");
            assert_ne!(e.kind(), ErrorKind::JobFailed, "{e}");
            let line = e.to_string();
            assert_safe_line_with("a response error", &line, true);
            if let Some(m) = e.server_message() {
                assert_safe_line("a server message", m);
            }
            if !status.is_success() && response.body().len() <= c.max_body_bytes {
                let declared_ok = response
                    .headers()
                    .get(http::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .is_none_or(|n| n <= c.max_body_bytes as u64);
                if declared_ok {
                    assert_eq!(e.status(), Some(status), "{e}");
                    assert_eq!(e.kind(), expected_kind(status), "{e}");
                }
            }
        }
    }
}

/// The outcome table of ARCHITECTURE.md, written independently of the core.
pub fn expected_kind(status: StatusCode) -> ErrorKind {
    match status.as_u16() {
        401 | 403 => ErrorKind::Unauthorized,
        404 => ErrorKind::NotFound,
        408 | 429 | 500..=599 => ErrorKind::Unavailable,
        400..=499 => ErrorKind::Rejected,
        _ => ErrorKind::InvalidResponse,
    }
}

// ---------------------------------------------------------------------------
// (2) error bodies and Retry-After

/// `server_message`, `retry_after` and `error_from_response` on an arbitrary answer.
pub fn error_body(data: &[u8]) {
    let response = split_response(data);
    let (status, headers, body) = (response.status(), response.headers(), response.body());
    let cap = Duration::from_secs(60);
    let wall = wall_epoch();

    let message = deepidv_core::server_message(body, Some(SECRET));
    if let Some(m) = &message {
        assert_safe_line("server_message", m);
        assert!(!m.is_empty());
        assert!(
            m.chars().count() <= 400,
            "server_message too long: {}",
            m.len()
        );
    }

    let delay = deepidv_core::retry_after(headers, wall, cap);
    if let Some(d) = delay {
        assert!(d <= cap, "Retry-After {d:?} above the {cap:?} cap");
    }
    if headers.get(http::header::RETRY_AFTER).is_none() {
        assert_eq!(delay, None);
    }

    if status.is_success() {
        return;
    }
    let e = deepidv_core::error_from_response(status, headers, body, Some(SECRET), wall, cap);
    assert_eq!(e.kind(), expected_kind(status), "{e}");
    assert_eq!(e.status(), Some(status));
    let line = e.to_string();
    assert_safe_line_with("error_from_response", &line, true);
    assert!(
        line.contains(&format!("HTTP {}", status.as_u16())),
        "{line}"
    );
    assert!(
        line.len() <= 2048,
        "error line too long: {} bytes",
        line.len()
    );
    assert!(e.body().is_some_and(|b| b.len() <= 64 * 1024));
    assert_eq!(e.server_message(), message.as_deref());
    match e.retry_after() {
        Some(d) => {
            assert_eq!(e.kind(), ErrorKind::Unavailable);
            assert!(d <= cap);
            assert_eq!(Some(d), delay);
        }
        None => assert!(e.kind() != ErrorKind::Unavailable || delay.is_none()),
    }
    assert_eq!(e.is_transient(), e.kind() == ErrorKind::Unavailable);
}

// ---------------------------------------------------------------------------
// (3) job ids and request building

/// `JobId::new` then `Config::get_job_request`: a valid id always yields a request
/// whose path is exactly the base path plus `v1/async-jobs/<one segment>`, decoding
/// back to the id, on the same authority.
pub fn job_id(data: &[u8]) {
    let id = String::from_utf8_lossy(data);
    let forbidden = id.is_empty()
        || id.len() > deepidv_core::MAX_JOB_ID_LEN
        || id == "."
        || id == ".."
        || id
            .chars()
            .any(|c| matches!(c, '/' | '\\' | '?' | '#') || c.is_control() || c.is_whitespace());
    let job_id = match JobId::new(id.as_ref()) {
        Ok(j) => j,
        Err(e) => {
            assert!(forbidden, "a valid id {id:?} was refused: {e}");
            assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            // The id is the caller's own input, and JobId::new has no key: no key check.
            assert_safe_line_with("a job id error", &e.to_string(), false);
            return;
        }
    };
    assert!(!forbidden, "a forbidden id {id:?} was accepted");
    assert_eq!(job_id.as_str(), id);
    assert_eq!(id.parse::<JobId>().ok().as_ref(), Some(&job_id));

    for (base, prefix) in [
        ("http://127.0.0.1:9", &[][..]),
        ("https://api.example.com/base/", &["base"][..]),
        ("http://[::1]:8080/a/b", &["a", "b"][..]),
    ] {
        let c = config(base);
        let request = c
            .get_job_request(&job_id)
            .unwrap_or_else(|e| panic!("valid id {id:?} gave no request: {e}"));
        let uri = request.uri();
        let want_authority = BaseUrl::parse(base).unwrap();
        assert!(
            want_authority
                .as_str()
                .contains(uri.authority().map_or("", |a| a.as_str())),
            "{id:?} moved the request to {uri}"
        );
        assert_eq!(uri.query(), None, "{id:?} added a query: {uri}");
        let path = uri.path();
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        assert_eq!(
            segments.len(),
            prefix.len() + 3,
            "{id:?} -> {path}: wrong number of segments"
        );
        assert_eq!(&segments[..prefix.len()], prefix, "{path}");
        assert_eq!(
            &segments[prefix.len()..prefix.len() + 2],
            ["v1", "async-jobs"]
        );
        let last = segments[prefix.len() + 2];
        assert!(!last.is_empty() && last != "." && last != "..", "{path}");
        let decoded = percent_decode(last);
        assert_eq!(decoded.as_deref(), Some(id.as_bytes()), "{id:?} -> {path}");
    }
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

// ---------------------------------------------------------------------------
// (4) the poller

/// Bodies the poller is fed: real simulator answers (about [`POLLER_JOB`]) and
/// broken ones.
pub const POLLER_BODIES: &[&str] = &[
    r#"{"jobId":"job_0a1b2c3d4e5f60718293a4b5","status":"pending","createdAt":1717593600000,"updatedAt":"2024-06-05T13:20:00.000Z"}"#,
    r#"{"jobId":"job_0a1b2c3d4e5f60718293a4b5","status":"processing","createdAt":1717593600000,"updatedAt":"2024-06-05T13:20:01.000Z"}"#,
    r#"{"jobId":"job_0a1b2c3d4e5f60718293a4b5","status":"ready","createdAt":1717593600000,"updatedAt":"2024-06-05T13:20:02.000Z","result":{"totalHits":0,"riskLevel":"LOW","riskScore":3,"summary":"No adverse media found.","findings":[],"exposuresByCategory":{"financial_crime":{"hits":0,"articles":[]}}}}"#,
    r#"{"jobId":"job_0a1b2c3d4e5f60718293a4b5","status":"failed","createdAt":1717593600000,"updatedAt":"2024-06-05T13:20:02.000Z","error":"Upstream screening provider timed out"}"#,
    r#"{"id":"job_0a1b2c3d4e5f60718293a4b5","status":"PROCESSING","createdAt":"1717593600"}"#,
    r#"{"id":"job_0a1b2c3d4e5f60718293a4b5","status":"COMPLETED","createdAt":"1717593600","result":null}"#,
    r#"{"jobId":"job_0a1b2c3d4e5f60718293a4b5","status":"on_hold","createdAt":1717593600000}"#,
    r#"{"jobId":"job_ffffffffffffffffffffffff","status":"ready","createdAt":1717593600000,"result":{}}"#,
    r#"{"jobId":"job_0a1b2c3d4e5f60718293a4b5","status":"failed","createdAt":1717593600000,"error":""}"#,
    r#"{"jobId":"job_0a1b2c3d4e5f60718293a4b5","status":"pend"#,
    r#"{"job":{"id":"job_0a1b2c3d4e5f60718293a4b5"},"state":"ready"}"#,
    r#"not json at all"#,
    r#"{"message":"Job not found"}"#,
    r#"{"message":"Invalid API key sk_test_FuzzSecret0123456789"}"#,
    r#"{"message":"Too many requests","code":"RATE_LIMITED"}"#,
    "<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head><body><center><h1>503</h1></center></body></html>",
    "",
    "Insufficient funds or subscription.",
];

const POLLER_STATUSES: &[u16] = &[
    200, 200, 400, 401, 403, 404, 404, 408, 429, 429, 500, 502, 503, 504, 302, 418, 204, 201,
];

const RETRY_AFTERS: &[&str] = &[
    "0",
    "1",
    "2",
    "120",
    "-1",
    "1.5",
    "soon",
    "Wed, 05 Jun 2024 12:00:03 GMT",
    "Wed, 05 Jun 2024 11:59:00 GMT",
    "Thu, 01 Jan 2099 00:00:00 GMT",
    "18446744073709551615",
    "1e308",
];

/// Reads the poller's script; past its end it reads zeros and says so.
struct Script<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Script<'_> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }
    fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + n).min(self.data.len());
        self.pos = start + n;
        &self.data[start..end]
    }
    /// A time step: 0, up to 63 ms, up to 6.3 s, or up to 63 s.
    fn advance(&mut self) -> Duration {
        let d = self.u8();
        let n = u64::from(d & 63);
        match d >> 6 {
            0 => Duration::ZERO,
            1 => Duration::from_millis(n),
            2 => Duration::from_millis(n * 100),
            _ => Duration::from_secs(n),
        }
    }
}

/// The poller fed an arbitrary sequence of answers, transport failures and clock
/// steps. It must never panic, never ask to wait past its deadline (or, for a get,
/// longer than its longest backoff), never send more requests than its policies
/// allow, and always finish.
///
/// Script: 13 bytes of configuration (mode and policies), 8 of jitter seed, 4 of
/// start time (ms), then one or more bytes per step. Past the end of the script every request is answered
/// `pending` at once and every wait is slept exactly, so the machine has to end by
/// itself (by its deadline or its retry budget).
pub fn poller(data: &[u8]) {
    poller_outcome(data);
}

/// Runs [`poller`]'s checks and names the outcome: the job's status when the
/// machine ended with a job (a failed wait included), else the error kind.
pub fn poller_outcome(data: &[u8]) -> String {
    let mut s = Script { data, pos: 0 };
    let wait = s.u8() % 2 == 1;
    let mut c = config("http://127.0.0.1:9");
    let interval = Duration::from_millis(100 * (1 + u64::from(s.u8() % 20)));
    c.poll.interval = interval;
    c.poll.multiplier = 1.0 + f64::from(s.u8() % 4) * 0.5;
    c.poll.max_interval = interval * (1 + u32::from(s.u8() % 5));
    c.poll.jitter = f64::from(s.u8() % 6) * 0.1;
    c.poll.timeout = Duration::from_millis(100 * u64::from(s.u8()));
    c.poll.first_delay = Duration::from_millis(250 * u64::from(s.u8() % 4));
    c.retry.wait_max_failures = 1 + u32::from(s.u8() % 6);
    c.retry.call_max_retries = u32::from(s.u8() % 5);
    c.retry.initial_backoff = Duration::from_millis(10 * (1 + u64::from(s.u8() % 100)));
    c.retry.max_backoff = c.retry.initial_backoff * (1 + u32::from(s.u8() % 64));
    c.retry.max_retry_after = Duration::from_secs(u64::from(s.u8() % 70));
    c.request_timeout = Duration::from_secs(1 + u64::from(s.u8() % 30));
    let seed = s.u64();
    let start = Duration::from_millis(u64::from(s.u32()));
    let config = Arc::new(c);
    let wall_at = |now: Duration| wall_epoch() + now.saturating_sub(start);

    let id = JobId::new(POLLER_JOB).unwrap();
    let mut now = start;
    let mut poller = if wait {
        Poller::wait(config.clone(), id.clone(), now, wall_at(now), seed)
    } else {
        Poller::get(config.clone(), id.clone(), now, wall_at(now), seed)
    };
    let original_deadline = poller.deadline();
    assert_eq!(original_deadline.is_some(), wait);
    let mut budget = send_budget(&config, wait, config.poll.timeout);
    let mut sends = 0u64;
    let mut resumes = 0;
    let mut steps = 0u64;
    let outcome_name;
    let longest_wait = [
        config.retry.max_backoff,
        config.retry.max_retry_after,
        config.poll.max_interval.mul_f64(1.0 + config.poll.jitter) + Duration::from_millis(1),
        config.poll.first_delay,
    ]
    .into_iter()
    .max()
    .unwrap();

    loop {
        steps += 1;
        assert!(
            steps <= 4 * budget + 2 * data.len() as u64 + 64,
            "the poller did not finish: {steps} steps, {sends} sends"
        );
        let action = poller.poll(now);
        while let Some(event) = poller.poll_event() {
            if let deepidv_core::Event::Retrying { delay, error, .. } = &event {
                assert!(*delay <= longest_wait, "retry delay {delay:?}");
                assert_safe_line("a retry event", &error.to_string());
            }
        }
        match action {
            Action::Send {
                request, timeout, ..
            } => {
                sends += 1;
                assert!(
                    sends <= budget,
                    "{sends} requests sent, over the budget of {budget} ({config:?})"
                );
                assert!(timeout > Duration::ZERO && timeout <= config.request_timeout);
                if let Some(deadline) = poller.deadline() {
                    // Nothing is sent at or after the deadline, and no request
                    // outlives it (but for the 1 ms floor of a timeout).
                    assert!(now < deadline, "sent at {now:?}, deadline {deadline:?}");
                    assert!(
                        now + timeout <= deadline || timeout == Duration::from_millis(1),
                        "sent at {now:?} with a {timeout:?} timeout, past the deadline {deadline:?}"
                    );
                }
                assert_eq!(request.method(), http::Method::GET);
                assert_eq!(request.uri().path(), format!("/v1/async-jobs/{POLLER_JOB}"));
                now += s.advance();
                answer(&mut s, &mut poller, now);
            }
            Action::WaitUntil(t) => {
                assert!(t > now, "WaitUntil({t:?}) at {now:?} is not in the future");
                if let Some(deadline) = poller.deadline() {
                    assert!(
                        t <= deadline,
                        "asked to wait until {t:?}, past the deadline {deadline:?}"
                    );
                }
                assert!(
                    t - now <= longest_wait,
                    "asked to wait {:?}, longer than any policy allows ({longest_wait:?})",
                    t - now
                );
                if s.done() {
                    now = t;
                    continue;
                }
                let w = s.u8();
                match w % 8 {
                    0..=3 => now = t,
                    4 | 5 => now = t + s.advance(),
                    6 => {
                        // A spurious wake-up: the machine must ask for the same instant again.
                        let early = now + (t - now) / 2;
                        match poller.poll(early) {
                            Action::WaitUntil(again) => assert_eq!(again, t),
                            other => panic!("woken early at {early:?} (< {t:?}): {other:?}"),
                        }
                        now = early;
                    }
                    _ if wait && resumes < 4 => {
                        // Save the wait as data and resume it, as another process would.
                        resumes += 1;
                        let state = poller.state();
                        let json = serde_json::to_string(&state).unwrap();
                        let state: PollerState = serde_json::from_str(&json).unwrap();
                        poller = Poller::resume(config.clone(), state, now, wall_at(now));
                        let d = poller.deadline().unwrap();
                        let od = original_deadline.unwrap();
                        assert!(
                            d <= od + Duration::from_millis(1),
                            "resumed deadline {d:?} past the original {od:?}"
                        );
                        budget = sends + send_budget(&config, true, d.saturating_sub(now));
                    }
                    _ => now = t,
                }
            }
            Action::Done(outcome) => {
                check_outcome(&outcome, wait, now, poller.deadline());
                // After the end: polls say so, answers are ignored, nothing panics.
                match poller.poll(now) {
                    Action::Done(Err(e)) => assert_eq!(e.kind(), ErrorKind::Internal),
                    other => panic!("poll after Done gave {other:?}"),
                }
                poller.handle_transport_error(
                    now,
                    TransportError::new(TransportErrorKind::Io, "late"),
                );
                outcome_name = match &outcome {
                    Ok(job) => job.status_str().to_owned(),
                    Err(e) => match e.job() {
                        Some(job) => job.status_str().to_owned(),
                        None => e.kind().name().to_owned(),
                    },
                };
                break;
            }
        }
    }
    outcome_name
}

/// The most requests a machine may send in `timeout` under `config`'s policies.
fn send_budget(config: &Config, wait: bool, timeout: Duration) -> u64 {
    if !wait {
        return u64::from(config.retry.call_max_retries) + 1;
    }
    // Snapshots are at least interval × (1 − jitter) apart, except the last one,
    // which lands just before the deadline; between two of them at most
    // `wait_max_failures − 1` transient failures are retried.
    let min_gap = config
        .poll
        .interval
        .min(config.poll.max_interval)
        .as_secs_f64()
        * (1.0 - config.poll.jitter)
        * 0.99;
    let snapshots = (timeout.as_secs_f64() / min_gap).floor() as u64 + 3;
    snapshots * u64::from(config.retry.wait_max_failures.max(1))
}

fn answer(s: &mut Script<'_>, poller: &mut Poller, now: Duration) {
    if s.done() {
        let body = POLLER_BODIES[0].as_bytes();
        poller.handle_response(now, &Response::new(body));
        return;
    }
    let op = s.u8();
    let pick_body = |s: &mut Script<'_>| POLLER_BODIES[usize::from(s.u8()) % POLLER_BODIES.len()];
    let pick_status =
        |s: &mut Script<'_>| POLLER_STATUSES[usize::from(s.u8()) % POLLER_STATUSES.len()];
    match op % 8 {
        0..=3 => {
            let body = pick_body(s);
            poller.handle_response(now, &Response::new(body.as_bytes()));
        }
        4 => {
            let status = pick_status(s);
            let body = pick_body(s);
            let mut r = response(status, body.as_bytes().to_vec());
            let ra = s.u8();
            if ra < 128 {
                let v = RETRY_AFTERS[usize::from(ra) % RETRY_AFTERS.len()];
                r.headers_mut()
                    .insert(http::header::RETRY_AFTER, HeaderValue::from_static(v));
            }
            poller.handle_response(now, &r);
        }
        5 => {
            let kind = match s.u8() % 4 {
                0 => TransportErrorKind::Connect,
                1 => TransportErrorKind::Timeout,
                2 => TransportErrorKind::Io,
                _ => TransportErrorKind::Other,
            };
            let e = TransportError::new(kind, format!("connection to {SECRET} reset\r\n"));
            poller.handle_transport_error(now, e);
        }
        6 => {
            let status = s.u16();
            let len = usize::from(s.u8());
            let body = s.bytes(len).to_vec();
            let r = match StatusCode::from_u16(status) {
                Ok(code) => {
                    let mut r = Response::new(body);
                    *r.status_mut() = code;
                    r
                }
                Err(_) => Response::new(body),
            };
            poller.handle_response(now, &r);
        }
        _ => {
            let status = pick_status(s);
            let len = usize::from(s.u8() % 40);
            let value = s.bytes(len).to_vec();
            let mut r = response(status, Vec::new());
            if let Ok(v) = HeaderValue::from_bytes(&value) {
                r.headers_mut().insert(http::header::RETRY_AFTER, v);
            }
            poller.handle_response(now, &r);
        }
    }
}

fn response(status: u16, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut r = Response::new(body);
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    r
}

fn check_outcome(
    outcome: &Result<Job, deepidv_core::Error>,
    wait: bool,
    now: Duration,
    deadline: Option<Duration>,
) {
    match outcome {
        Ok(job) => {
            assert_eq!(job.job_id, POLLER_JOB);
            if wait {
                assert!(
                    matches!(job.state, JobState::Ready(_)),
                    "wait ended Ok on {job:?}"
                );
            }
        }
        Err(e) => {
            assert!((1..=9).contains(&e.code()));
            assert_safe_line("an outcome", &e.to_string());
            match e.kind() {
                ErrorKind::Internal => panic!("internal error from a well-driven poller: {e}"),
                ErrorKind::JobFailed => {
                    assert!(wait, "a get never reports JobFailed");
                    let job = e.job().expect("JobFailed carries the job");
                    assert!(matches!(job.state, JobState::Failed(_)));
                }
                ErrorKind::Timeout => {
                    assert!(wait, "a get never times out");
                    // The last poll goes out at most 250 ms before the deadline,
                    // and its answer may end the wait then.
                    let d = deadline.unwrap();
                    assert!(
                        now + Duration::from_millis(250) >= d,
                        "timed out at {now:?}, long before the deadline {d:?}"
                    );
                }
                ErrorKind::InvalidArgument => panic!("invalid argument after a valid start: {e}"),
                _ => {}
            }
        }
    }
}
