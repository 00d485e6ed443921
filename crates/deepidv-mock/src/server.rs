//! The HTTP side: state, routing, the API handlers, faults and the accept loop.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::header::{ALLOW, CONTENT_LENGTH, CONTENT_TYPE, HeaderName, HeaderValue, RETRY_AFTER};
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::body::MockBody;
use crate::fault::{ErrorBody, Fault, RetryAfter, Scope};
use crate::rate::RateLimiter;
use crate::result::{Ending, Rng, Subject, fnv1a};
use crate::stats::{Stats, StatsCounter};
use crate::{DEFAULT_API_KEY, DEFAULT_ORG, JobSpec, MockConfig, Outcome, RecordedRequest};

const SCREENING_PATH: &str = "/v1/screening/adverse-media";
const JOBS_PREFIX: &str = "/v1/async-jobs/";
const ADMIN_PREFIX: &str = "/__mock/";
/// Largest request body read; larger ones answer 413.
const MAX_REQUEST_BODY: usize = 1024 * 1024;
/// How many requests are remembered (the oldest are forgotten first).
pub(crate) const MAX_RECORDED: usize = 100_000;
const JSON: &str = "application/json";
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Everything the server knows, shared by connections and the [`crate::MockServer`] handle.
pub(crate) struct Shared {
    config: MockConfig,
    orgs: HashMap<String, String>,
    nonce: u64,
    request_counter: AtomicU64,
    /// Connections accepted so far (clients' connection reuse is testable).
    connections: AtomicU64,
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
    faults: Vec<FaultEntry>,
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

struct FaultEntry {
    scope: Scope,
    fault: Fault,
    remaining: u32,
}

enum JobSource {
    Screening(Subject),
    ReadyFromId,
    Failed(String),
}

struct Job {
    id: String,
    org: String,
    created: Instant,
    created_ms: i64,
    pending: Duration,
    processing: Duration,
    source: JobSource,
    ending: OnceLock<Ending>,
    expired: AtomicBool,
    /// (org, Idempotency-Key) it was created under, if any
    idempotency: Option<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Pending,
    Processing,
    Terminal,
    Expired,
}

impl Job {
    fn phase(&self, now: Instant, ttl: Duration) -> Phase {
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

    fn ending(&self) -> &Ending {
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
    fn status_at(&self, phase: Phase) -> (&'static str, i64) {
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

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn rfc3339_ms(ms: i64) -> String {
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
            state: Mutex::new(State {
                limiter: config.rate_limit.and_then(RateLimiter::new),
                ..State::default()
            }),
            config,
        }
    }

    fn next_request_id(&self) -> String {
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
        if times == 0 {
            return;
        }
        lock(&self.state).faults.push(FaultEntry {
            scope,
            fault,
            remaining: times,
        });
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

    fn record(&self, method: &Method, path: String, headers: &http::HeaderMap, body: &[u8]) -> u64 {
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

    fn set_recorded_status(&self, seq: u64, status: u16) {
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
    fn take_fault(&self, key: Option<&str>, job_get: Option<&str>) -> Option<Fault> {
        let mut state = lock(&self.state);
        let pos = state.faults.iter().position(|e| {
            let scope_ok = match &e.scope {
                Scope::All => true,
                Scope::Job(id) => job_get == Some(id.as_str()),
                Scope::Key(k) => key == Some(k.as_str()),
            };
            scope_ok && (job_get.is_some() || !e.fault.is_report_modifier())
        })?;
        let entry = &mut state.faults[pos];
        entry.remaining -= 1;
        let fault = entry.fault.clone();
        if entry.remaining == 0 {
            state.faults.remove(pos);
        }
        Some(fault)
    }
}

/// A plain answer before it becomes a response.
struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: Bytes,
    extra: Option<Box<(HeaderName, HeaderValue)>>,
}

impl Answer {
    fn json(status: StatusCode, value: &impl Serialize) -> Answer {
        let body = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
        Answer {
            status,
            content_type: JSON,
            body: Bytes::from(body),
            extra: None,
        }
    }

    fn error(status: StatusCode, message: &str, code: Option<&str>) -> Answer {
        #[derive(Serialize)]
        struct ErrorJson<'a> {
            message: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            code: Option<&'a str>,
        }
        Answer::json(status, &ErrorJson { message, code })
    }

    fn validation(message: &str) -> Answer {
        Answer::error(StatusCode::BAD_REQUEST, message, Some("VALIDATION_ERROR"))
    }

    fn method_not_allowed(allow: &'static str) -> Answer {
        let mut a = Answer::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Method not allowed",
            Some("METHOD_NOT_ALLOWED"),
        );
        a.extra = Some(Box::new((ALLOW, HeaderValue::from_static(allow))));
        a
    }

    fn not_found_route() -> Answer {
        Answer::error(StatusCode::NOT_FOUND, "Route not found", Some("NOT_FOUND"))
    }

    fn into_response(self, request_id: &str) -> Response<MockBody> {
        let body = if self.status == StatusCode::NO_CONTENT {
            MockBody::empty()
        } else {
            MockBody::full(self.body)
        };
        let mut resp = respond(self.status, request_id, body);
        if self.status != StatusCode::NO_CONTENT {
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(self.content_type));
        }
        if let Some(extra) = self.extra {
            let (k, v) = *extra;
            resp.headers_mut().insert(k, v);
        }
        resp
    }
}

fn respond(status: StatusCode, request_id: &str, body: MockBody) -> Response<MockBody> {
    let mut resp = Response::new(body);
    *resp.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    resp
}

/// The job id of a `GET /v1/async-jobs/{id}` request, if it is one.
fn job_get_id<'a>(method: &Method, path: &'a str) -> Option<&'a str> {
    if method == Method::GET {
        path.strip_prefix(JOBS_PREFIX)
    } else {
        None
    }
}

fn valid_job_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Serves one connection-level request.
pub(crate) async fn handle(
    shared: Arc<Shared>,
    kill: Arc<AtomicBool>,
    req: Request<Incoming>,
) -> Result<Response<MockBody>, io::Error> {
    let request_id = shared.next_request_id();
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(())
            } else {
                // the client went away mid-body: nothing to answer
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "request body not received",
                ));
            }
        }
    };
    let path = parts.uri.path();
    if path == "/__mock" || path.starts_with(ADMIN_PREFIX) {
        let answer = match body {
            Ok(body) => admin(&shared, &parts.method, path, &body),
            Err(()) => Answer::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
                None,
            ),
        };
        return Ok(answer.into_response(&request_id));
    }

    let recorded_path = parts
        .uri
        .path_and_query()
        .map_or_else(|| path.to_owned(), |pq| pq.as_str().to_owned());
    let seq = shared.record(
        &parts.method,
        recorded_path,
        &parts.headers,
        body.as_deref().unwrap_or_default(),
    );
    let key = parts.headers.get("x-api-key").and_then(|v| v.to_str().ok());
    let job_get = job_get_id(&parts.method, path);
    let fault = shared.take_fault(key, job_get);

    if !shared.config.latency.is_zero() {
        tokio::time::sleep(shared.config.latency).await;
    }
    if let Some(Fault::Delay(d)) = &fault {
        tokio::time::sleep(*d).await;
    }

    let api_answer = |modifier: Option<&Fault>| match &body {
        Ok(body) => api(&shared, &parts.method, path, &parts.headers, body, modifier),
        Err(()) => Answer::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body too large",
            None,
        ),
    };

    let response = match fault {
        None | Some(Fault::Delay(_)) => api_answer(None).into_response(&request_id),
        Some(f @ (Fault::UnknownStatus(_) | Fault::Legacy)) => {
            api_answer(Some(&f)).into_response(&request_id)
        }
        Some(Fault::Status { status, body }) => {
            status_fault(status, body).into_response(&request_id)
        }
        Some(Fault::RateLimit { retry_after }) => {
            let mut a = Answer::error(
                StatusCode::TOO_MANY_REQUESTS,
                "Too many requests",
                Some("RATE_LIMITED"),
            );
            let value = match retry_after {
                RetryAfter::Seconds(s) => s.to_string(),
                RetryAfter::HttpDate(s) => httpdate::fmt_http_date(
                    SystemTime::now() + Duration::from_secs(s.min(10 * 365 * 86_400)),
                ),
            };
            a.extra = HeaderValue::from_str(&value)
                .ok()
                .map(|v| Box::new((RETRY_AFTER, v)));
            a.into_response(&request_id)
        }
        Some(Fault::Drop) => {
            let _ = api_answer(None);
            kill.store(true, Ordering::Relaxed);
            return Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "deepidv-mock: dropped (injected fault)",
            ));
        }
        Some(Fault::Truncate) => {
            let a = api_answer(None);
            let len = a.body.len();
            let mut resp = respond(a.status, &request_id, MockBody::truncated(a.body));
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(a.content_type));
            resp.headers_mut()
                .insert(CONTENT_LENGTH, HeaderValue::from(len));
            resp
        }
        Some(Fault::Malformed) => {
            let _ = api_answer(None);
            Answer {
                status: StatusCode::OK,
                content_type: JSON,
                body: Bytes::from_static(b"{\"jobId\":\"job_malformed\",\"status\":ready,"),
                extra: None,
            }
            .into_response(&request_id)
        }
        Some(Fault::WrongShape) => {
            let _ = api_answer(None);
            Answer {
                status: StatusCode::OK,
                content_type: JSON,
                body: Bytes::from_static(b"[1,2]"),
                extra: None,
            }
            .into_response(&request_id)
        }
        Some(Fault::Oversized(size)) => {
            let _ = api_answer(None);
            let id = job_get
                .filter(|id| valid_job_id(id))
                .unwrap_or("job_oversized");
            let ms = now_ms();
            let head = format!(
                "{{\"jobId\":\"{id}\",\"status\":\"processing\",\"createdAt\":{ms},\"updatedAt\":\"{}\",\"padding\":\"",
                rfc3339_ms(ms)
            );
            let tail = "\"}";
            let pad = size.saturating_sub(head.len() + tail.len());
            let mut resp = respond(
                StatusCode::OK,
                &request_id,
                MockBody::Padded {
                    head: Some(Bytes::from(head)),
                    pad,
                    tail: Some(Bytes::from_static(tail.as_bytes())),
                },
            );
            resp.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(JSON));
            resp
        }
    };
    shared.set_recorded_status(seq, response.status().as_u16());
    Ok(response)
}

fn status_fault(status: u16, body: ErrorBody) -> Answer {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let reason = code.canonical_reason().unwrap_or("Error");
    match body {
        ErrorBody::Html => {
            let page = format!(
                "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n<center><h1>{status} {reason}\
                 </h1></center>\r\n<hr><center>awselb/2.0</center>\r\n</body>\r\n</html>\r\n"
            );
            Answer {
                status: code,
                content_type: "text/html",
                body: Bytes::from(page),
                extra: None,
            }
        }
        ErrorBody::Text => {
            let text = if status == 402 {
                "Insufficient funds or subscription.".to_owned()
            } else {
                reason.to_owned()
            };
            Answer {
                status: code,
                content_type: "text/plain; charset=utf-8",
                body: Bytes::from(text),
                extra: None,
            }
        }
        ErrorBody::Json => {
            let code_str = match status {
                500 => "INTERNAL_ERROR".to_owned(),
                _ => reason.to_ascii_uppercase().replace([' ', '-'], "_"),
            };
            let message = if status == 500 {
                "Internal server error"
            } else {
                reason
            };
            Answer::error(code, message, Some(&code_str))
        }
    }
}

/// The API proper.
fn api(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    modifier: Option<&Fault>,
) -> Answer {
    if path == SCREENING_PATH {
        if method != Method::POST {
            return Answer::method_not_allowed("POST");
        }
        match authenticate(shared, headers) {
            Ok(org) => {
                let key = headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                create_screening(shared, (key, org), headers, body)
            }
            Err(a) => a,
        }
    } else if let Some(id) = path.strip_prefix(JOBS_PREFIX) {
        if method != Method::GET {
            return Answer::method_not_allowed("GET");
        }
        match authenticate(shared, headers) {
            Ok(org) => get_job(shared, org, id, modifier),
            Err(a) => a,
        }
    } else {
        Answer::not_found_route()
    }
}

fn authenticate<'s>(shared: &'s Shared, headers: &http::HeaderMap) -> Result<&'s str, Answer> {
    let Some(value) = headers.get("x-api-key").filter(|v| !v.is_empty()) else {
        return Err(Answer::error(
            StatusCode::FORBIDDEN,
            "Missing API key",
            None,
        ));
    };
    value
        .to_str()
        .ok()
        .and_then(|key| shared.orgs.get(key))
        .map(String::as_str)
        .ok_or_else(|| {
            Answer::error(
                StatusCode::UNAUTHORIZED,
                "Invalid API key",
                Some("UNAUTHORIZED"),
            )
        })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ScreeningRequest {
    email: Option<serde_json::Value>,
    first_name: Option<serde_json::Value>,
    last_name: Option<serde_json::Value>,
    date_of_birth: Option<serde_json::Value>,
    country: Option<serde_json::Value>,
}

fn required_string(value: Option<serde_json::Value>, field: &str) -> Result<String, Answer> {
    match value {
        None | Some(serde_json::Value::Null) => {
            Err(Answer::validation(&format!("{field} is required")))
        }
        Some(serde_json::Value::String(s)) => Ok(s),
        Some(_) => Err(Answer::validation(&format!("{field} must be a string"))),
    }
}

fn validate(body: &[u8]) -> Result<Subject, Answer> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|_| Answer::validation("Request body must be valid JSON"))?;
    if !value.is_object() {
        return Err(Answer::validation("Request body must be a JSON object"));
    }
    let req: ScreeningRequest = serde_json::from_value(value)
        .map_err(|_| Answer::validation("Request body must be a JSON object"))?;

    let email = required_string(req.email, "email")?;
    let email_ok = email.chars().count() <= 254
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
        && !email.chars().any(char::is_whitespace);
    if !email_ok {
        return Err(Answer::validation("email must be a valid email address"));
    }
    let mut names = Vec::with_capacity(2);
    for (value, field) in [(req.first_name, "firstName"), (req.last_name, "lastName")] {
        let name = required_string(value, field)?;
        let len = name.chars().count();
        if !(1..=255).contains(&len) || name.trim().is_empty() {
            return Err(Answer::validation(&format!(
                "{field} must be between 1 and 255 characters"
            )));
        }
        names.push(name);
    }
    let dob = required_string(req.date_of_birth, "dateOfBirth")?;
    if !valid_date(&dob) {
        return Err(Answer::validation(
            "dateOfBirth must be a real date in the format YYYY-MM-DD",
        ));
    }
    let country = match req.country {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(c))
            if c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()) =>
        {
            Some(c)
        }
        Some(_) => {
            return Err(Answer::validation(
                "country must be an ISO 3166-1 alpha-2 code such as \"CA\"",
            ));
        }
    };
    let mut names = names.into_iter();
    Ok(Subject {
        first_name: names.next().unwrap_or_default(),
        last_name: names.next().unwrap_or_default(),
        email,
        date_of_birth: dob,
        country,
    })
}

fn valid_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let digits = |r: std::ops::Range<usize>| {
        b[r.clone()]
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| s[r].parse::<i16>().ok())
            .flatten()
    };
    match (digits(0..4), digits(5..7), digits(8..10)) {
        (Some(y), Some(m), Some(d)) => {
            (1..=9999).contains(&y)
                && i8::try_from(m).is_ok_and(|m| {
                    i8::try_from(d).is_ok_and(|d| jiff::civil::Date::new(y, m, d).is_ok())
                })
        }
        _ => false,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Started<'a> {
    job_id: &'a str,
    status: &'a str,
    message: &'a str,
}

fn create_screening(
    shared: &Shared,
    (api_key, org): (&str, &str),
    headers: &http::HeaderMap,
    body: &[u8],
) -> Answer {
    let idempotency_key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if (1..=255).contains(&k.len()) => Some(k.to_owned()),
            _ => {
                return Answer::validation(
                    "Idempotency-Key must be between 1 and 255 visible ASCII characters",
                );
            }
        },
    };
    let subject = match validate(body) {
        Ok(s) => s,
        Err(a) => return a,
    };
    let fingerprint = fnv1a(&[
        &subject.email,
        &subject.first_name,
        &subject.last_name,
        &subject.date_of_birth,
        subject.country.as_deref().unwrap_or(""),
    ]);
    let now = Instant::now();
    let mut state = lock(&shared.state);
    if let Some(limiter) = &mut state.limiter
        && let Err(retry_after) = limiter.acquire(api_key, now)
    {
        state.stats.rate_limited();
        drop(state);
        let mut a = Answer::error(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many requests",
            Some("RATE_LIMITED"),
        );
        a.extra = Some(Box::new((RETRY_AFTER, HeaderValue::from(retry_after))));
        return a;
    }
    if let Some(key) = &idempotency_key
        && let Some((job, first_fingerprint)) = state
            .idempotency
            .get(&(org.to_owned(), key.clone()))
            .and_then(|(id, fp)| Some((state.jobs.get(id)?, *fp)))
    {
        let phase = job.phase(now, shared.config.ttl);
        if phase != Phase::Expired {
            if first_fingerprint != fingerprint {
                // API.md is silent; like draft-ietf-httpapi-idempotency-key-header, a key reused with
                // another payload is refused and creates nothing
                state.stats.idempotency_conflict();
                drop(state);
                return Answer::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("Idempotency-Key {key:?} was used with a different request body"),
                    Some("IDEMPOTENCY_KEY_REUSED"),
                );
            }
            let job = Arc::clone(job);
            state.stats.replay();
            drop(state);
            let (status, _) = job.status_at(phase);
            return Answer::json(
                StatusCode::OK,
                &Started {
                    job_id: &job.id,
                    status,
                    message: "Adverse media screening already started (replayed)",
                },
            );
        }
    }
    let id = shared.new_job_id(&mut state);
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
        pending: shared.config.pending,
        processing: shared.config.processing,
        source: JobSource::Screening(subject),
        ending: OnceLock::new(),
        expired: AtomicBool::new(false),
        idempotency: idempotency_key
            .as_ref()
            .map(|k| (org.to_owned(), k.clone())),
    };
    state.stats.creation(idempotency_key.as_deref(), person);
    let phase = job.phase(now, shared.config.ttl);
    let job = Arc::new(job);
    state.store(Arc::clone(&job), shared.config.ttl);
    if let Some(key) = idempotency_key {
        state
            .idempotency
            .insert((org.to_owned(), key), (id.clone(), fingerprint));
    }
    drop(state);
    let (status, _) = job.status_at(phase);
    Answer::json(
        StatusCode::ACCEPTED,
        &Started {
            job_id: &id,
            status,
            message: "Adverse media screening started",
        },
    )
}

#[derive(Serialize)]
#[serde(untagged)]
enum CreatedAt {
    Number(i64),
    Text(String),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JobView<'a> {
    job_id: &'a str,
    status: &'a str,
    created_at: CreatedAt,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<Option<&'a str>>,
}

fn get_job(shared: &Shared, org: &str, id: &str, modifier: Option<&Fault>) -> Answer {
    if !valid_job_id(id) {
        return Answer::validation("Malformed job id");
    }
    let job = lock(&shared.state).jobs.get(id).cloned();
    let not_found = || Answer::error(StatusCode::NOT_FOUND, "Job not found", Some("NOT_FOUND"));
    let Some(job) = job else {
        return not_found();
    };
    let phase = job.phase(Instant::now(), shared.config.ttl);
    if phase == Phase::Expired {
        return not_found();
    }
    if job.org != org {
        return Answer::error(
            StatusCode::FORBIDDEN,
            "Job belongs to another organization",
            Some("FORBIDDEN"),
        );
    }
    let (status, updated_ms) = job.status_at(phase);
    let (result, error) = match (phase, job.ending()) {
        (Phase::Terminal, Ending::Ready(raw)) => (Some(&**raw), None),
        (Phase::Terminal, Ending::Failed(msg)) => (None, Some(Some(msg.as_str()))),
        _ => (None, None),
    };
    let view = match modifier {
        Some(Fault::UnknownStatus(s)) => JobView {
            job_id: &job.id,
            status: s,
            created_at: CreatedAt::Number(job.created_ms),
            updated_at: rfc3339_ms(updated_ms),
            result: None,
            error: None,
        },
        Some(Fault::Legacy) => JobView {
            job_id: &job.id,
            status: match status {
                "pending" => "PENDING",
                "processing" => "PROCESSING",
                "ready" => "COMPLETED",
                _ => "FAILED",
            },
            created_at: CreatedAt::Text(rfc3339_ms(job.created_ms)),
            updated_at: rfc3339_ms(updated_ms),
            result,
            error: Some(error.flatten()),
        },
        _ => JobView {
            job_id: &job.id,
            status,
            created_at: CreatedAt::Number(job.created_ms),
            updated_at: rfc3339_ms(updated_ms),
            result,
            error,
        },
    };
    Answer::json(StatusCode::OK, &view)
}

// ---------------------------------------------------------------------------------------------------------------
// admin routes

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminFault {
    scope: Scope,
    fault: Fault,
    #[serde(default = "one")]
    times: u32,
}

fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AdminJob {
    org: Option<String>,
    #[serde(default)]
    outcome: Outcome,
    pending_ms: Option<u64>,
    processing_ms: Option<u64>,
    id: Option<String>,
}

#[derive(Serialize)]
struct RecordedView<'a> {
    method: &'a str,
    path: &'a str,
    headers: &'a [(String, String)],
    body: std::borrow::Cow<'a, str>,
    status: u16,
}

fn admin(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Answer {
    let bad = |e: serde_json::Error| {
        Answer::error(StatusCode::BAD_REQUEST, &format!("invalid JSON: {e}"), None)
    };
    let no_content = || Answer {
        status: StatusCode::NO_CONTENT,
        content_type: JSON,
        body: Bytes::new(),
        extra: None,
    };
    match path {
        "/__mock/faults" => match *method {
            Method::POST => match serde_json::from_slice::<AdminFault>(body) {
                Ok(f) => {
                    shared.inject(f.scope, f.fault, f.times);
                    no_content()
                }
                Err(e) => bad(e),
            },
            Method::DELETE => {
                shared.clear_faults();
                no_content()
            }
            _ => Answer::method_not_allowed("POST, DELETE"),
        },
        "/__mock/jobs" => match *method {
            Method::POST => match serde_json::from_slice::<AdminJob>(body) {
                Ok(j) => {
                    let id = shared.insert_job(JobSpec {
                        org: j.org,
                        outcome: j.outcome,
                        pending: j.pending_ms.map(Duration::from_millis),
                        processing: j.processing_ms.map(Duration::from_millis),
                        id: j.id,
                    });
                    #[derive(Serialize)]
                    #[serde(rename_all = "camelCase")]
                    struct Created {
                        job_id: String,
                    }
                    Answer::json(StatusCode::CREATED, &Created { job_id: id })
                }
                Err(e) => bad(e),
            },
            _ => Answer::method_not_allowed("POST"),
        },
        "/__mock/stats" => match *method {
            Method::GET => Answer::json(StatusCode::OK, &shared.stats()),
            _ => Answer::method_not_allowed("GET"),
        },
        "/__mock/requests" => match *method {
            Method::GET => {
                let requests = shared.requests();
                let views: Vec<RecordedView<'_>> = requests
                    .iter()
                    .map(|r| RecordedView {
                        method: &r.method,
                        path: &r.path,
                        headers: &r.headers,
                        body: String::from_utf8_lossy(&r.body),
                        status: r.status,
                    })
                    .collect();
                Answer::json(StatusCode::OK, &views)
            }
            Method::DELETE => {
                shared.clear_requests();
                no_content()
            }
            _ => Answer::method_not_allowed("GET, DELETE"),
        },
        _ => match path
            .strip_prefix("/__mock/jobs/")
            .and_then(|rest| rest.strip_suffix("/expire"))
        {
            Some(id) if method == Method::POST => {
                if shared.expire(id) {
                    no_content()
                } else {
                    Answer::error(StatusCode::NOT_FOUND, "Job not found", Some("NOT_FOUND"))
                }
            }
            Some(_) => Answer::method_not_allowed("POST"),
            None => Answer::not_found_route(),
        },
    }
}

// ---------------------------------------------------------------------------------------------------------------
// connections

/// A TCP stream that resets the connection (SO_LINGER 0) when dropped after a `Drop` fault.
struct KillableIo {
    inner: TcpStream,
    kill: Arc<AtomicBool>,
}

impl Drop for KillableIo {
    fn drop(&mut self) {
        if self.kill.load(Ordering::Relaxed) {
            let _ = self.inner.set_zero_linger();
        }
    }
}

impl AsyncRead for KillableIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Accepts connections until the shutdown sender is dropped or signalled.
pub(crate) async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<()>,
) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(serve_connection(stream, Arc::clone(&shared), shutdown.clone()));
                }
                // e.g. out of file descriptors: back off a little instead of spinning
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<()>,
) {
    let _ = stream.set_nodelay(true);
    let kill = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(KillableIo {
        inner: stream,
        kill: Arc::clone(&kill),
    });
    let service = service_fn(move |req| handle(Arc::clone(&shared), Arc::clone(&kill), req));
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .keep_alive(true)
        .serve_connection(io, service);
    tokio::select! {
        _ = conn => {}
        _ = shutdown.changed() => {}
    }
}
