//! Building requests and reading responses: pure functions of their inputs.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, DATE, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderName, Method, Request, Response, StatusCode};

use crate::adverse_media::{AdverseMediaRequest, CreatedJob, IdempotencyKey};
use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::job::{Job, JobId};
use crate::sanitize::{html_title, looks_like_html, terminal_safe};

const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
const JSON: http::HeaderValue = http::HeaderValue::from_static("application/json");

/// Request ids are read from these headers, in order.
pub const REQUEST_ID_HEADERS: [&str; 3] = ["x-request-id", "x-amzn-requestid", "x-amz-request-id"];

impl Config {
    fn request(&self, method: Method, path: std::fmt::Arguments<'_>) -> http::request::Builder {
        let uri = format!("{}{}", self.base_url.as_str(), path);
        Request::builder()
            .method(method)
            .uri(uri)
            .header(X_API_KEY, self.api_key.header().clone())
            .header(ACCEPT, JSON)
            .header(USER_AGENT, self.user_agent())
    }

    /// `GET /v1/async-jobs/{jobId}`.
    pub fn get_job_request(&self, job_id: &JobId) -> Result<Request<Vec<u8>>, Error> {
        self.request(
            Method::GET,
            format_args!("/v1/async-jobs/{}", job_id.path_segment()),
        )
        .body(Vec::new())
        .map_err(|e| Error::internal(format!("could not build the request: {e}")))
    }

    /// `POST /v1/screening/adverse-media` with its `Idempotency-Key`.
    pub fn create_adverse_media_request(
        &self,
        body: &AdverseMediaRequest,
        idempotency_key: &IdempotencyKey,
    ) -> Result<Request<Vec<u8>>, Error> {
        self.request(Method::POST, format_args!("/v1/screening/adverse-media"))
            .header(CONTENT_TYPE, JSON)
            .header(IDEMPOTENCY_KEY, idempotency_key.as_str())
            .body(body.to_json())
            .map_err(|e| Error::internal(format!("could not build the request: {e}")))
    }

    /// Reads the answer to [`Config::get_job_request`].
    pub fn parse_job_response<B: AsRef<[u8]>>(&self, response: &Response<B>) -> Result<Job, Error> {
        self.check_response(response, None)?;
        self.job_body(response)
            .map_err(|e| e.redacted(self.api_key.expose()))
    }

    /// Reads the answer to [`Config::create_adverse_media_request`].
    pub fn parse_created_response<B: AsRef<[u8]>>(
        &self,
        response: &Response<B>,
    ) -> Result<CreatedJob, Error> {
        self.check_response(response, None)?;
        self.created_body(response)
            .map_err(|e| e.redacted(self.api_key.expose()))
    }

    /// The job in a successful answer's body (status and size already checked).
    pub(crate) fn job_body<B: AsRef<[u8]>>(&self, response: &Response<B>) -> Result<Job, Error> {
        Job::from_json(response.body().as_ref())
            .map_err(|e| with_request_id(e, response.status(), response.headers()))
    }

    /// The job reference in a successful create answer's body (status and size
    /// already checked).
    pub(crate) fn created_body<B: AsRef<[u8]>>(
        &self,
        response: &Response<B>,
    ) -> Result<CreatedJob, Error> {
        let mut created: CreatedJob =
            serde_json::from_slice(response.body().as_ref()).map_err(|e| {
                with_request_id(
                    Error::bad_json("the create response is not a job reference", &e),
                    response.status(),
                    response.headers(),
                )
            })?;
        JobId::new(created.job_id.clone()).map_err(|e| {
            Error::new(
                ErrorKind::InvalidResponse,
                format!("the server returned an unusable job id: {e}"),
            )
        })?;
        created.replayed = response.status() == StatusCode::OK;
        Ok(created)
    }

    /// Everything but the body's shape: size cap, status. `wall_now` reads
    /// `Retry-After` dates when the answer carries no `Date`.
    pub(crate) fn check_response<B: AsRef<[u8]>>(
        &self,
        response: &Response<B>,
        wall_now: Option<SystemTime>,
    ) -> Result<(), Error> {
        self.check_response_inner(response, wall_now)
            .map_err(|e| e.redacted(self.api_key.expose()))
    }

    fn check_response_inner<B: AsRef<[u8]>>(
        &self,
        response: &Response<B>,
        wall_now: Option<SystemTime>,
    ) -> Result<(), Error> {
        let body = response.body().as_ref();
        let declared = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let too_large = body.len() > self.max_body_bytes
            || declared.is_some_and(|n| n > self.max_body_bytes as u64);
        if too_large {
            return Err(with_request_id(
                Error::new(
                    ErrorKind::InvalidResponse,
                    format!(
                        "the response body is larger than the {} byte limit (HTTP {}); raise max_body_bytes if this is expected",
                        self.max_body_bytes,
                        response.status().as_u16()
                    ),
                ),
                response.status(),
                response.headers(),
            ));
        }
        if response.status().is_success() {
            return Ok(());
        }
        Err(response_error(
            response.status(),
            response.headers(),
            body,
            Some(self.api_key.expose()),
            wall_now,
            self.retry.max_retry_after,
        ))
    }
}

fn with_request_id(e: Error, status: StatusCode, headers: &HeaderMap) -> Error {
    e.with_origin(status, request_id(headers))
}

/// The request id the server sent, made safe to print.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|h| headers.get(*h))
        .and_then(|v| v.to_str().ok())
        .map(|v| terminal_safe(v, None))
        .filter(|v| !v.is_empty())
}

/// `Retry-After` as a delay: seconds, or an HTTP date measured against the
/// answer's own `Date` (or `wall_now` without one). Capped at `cap`.
pub fn retry_after(headers: &HeaderMap, wall_now: SystemTime, cap: Duration) -> Option<Duration> {
    retry_after_at(headers, Some(wall_now), cap)
}

/// [`retry_after`], where an HTTP date needs the answer's `Date` when no clock is given.
fn retry_after_at(
    headers: &HeaderMap,
    wall_now: Option<SystemTime>,
    cap: Duration,
) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let delay = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else if let Ok(secs) = value.parse::<f64>() {
        if !(secs.is_finite() && secs >= 0.0) {
            return None;
        }
        crate::config::duration_from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        let reference = headers
            .get(DATE)
            .and_then(|d| d.to_str().ok())
            .and_then(|d| httpdate::parse_http_date(d).ok())
            .or(wall_now)?;
        at.duration_since(reference).unwrap_or(Duration::ZERO)
    };
    Some(delay.min(cap))
}

/// The server's message, read in the order the API documents: a plain-text body,
/// JSON `message`, JSON `error`, else nothing. HTML pages give their title.
pub fn server_message(body: &[u8], secret: Option<&str>) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(64 * 1024)]);
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return None;
    }
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        let value: serde_json::Value = serde_json::from_str(trimmed).ok()?;
        let pick = |v: &serde_json::Value| -> Option<String> {
            match v {
                serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
                serde_json::Value::Object(o) => {
                    o.get("message").and_then(|m| m.as_str()).map(str::to_owned)
                }
                _ => None,
            }
        };
        let found = value
            .get("message")
            .and_then(pick)
            .or_else(|| value.get("error").and_then(pick))
            .or_else(|| value.get("detail").and_then(pick));
        let code = value.get("code").and_then(|c| c.as_str());
        return found.map(|m| match code {
            Some(c) if !m.contains(c) => terminal_safe(&format!("{m} [{c}]"), secret),
            _ => terminal_safe(&m, secret),
        });
    }
    if looks_like_html(trimmed) {
        return html_title(trimmed).map(|t| terminal_safe(t, secret));
    }
    Some(terminal_safe(trimmed, secret))
}

/// Turns a non-success answer into a typed error with a one-line message.
/// `secret` (the API key) is redacted from anything the server echoed.
pub fn error_from_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    secret: Option<&str>,
    wall_now: SystemTime,
    retry_after_cap: Duration,
) -> Error {
    response_error(
        status,
        headers,
        body,
        secret,
        Some(wall_now),
        retry_after_cap,
    )
}

fn response_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    secret: Option<&str>,
    wall_now: Option<SystemTime>,
    retry_after_cap: Duration,
) -> Error {
    let (kind, what, hint) = match status.as_u16() {
        400 => (ErrorKind::Rejected, "the request was rejected", None),
        401 => (
            ErrorKind::Unauthorized,
            "the API key was rejected",
            Some("check the API key (DEEPIDV_API_KEY)"),
        ),
        403 => (
            ErrorKind::Unauthorized,
            "access denied",
            Some("the API key is missing, or the job belongs to another organization"),
        ),
        404 => (
            ErrorKind::NotFound,
            "job not found",
            Some("check the job id"),
        ),
        408 => (ErrorKind::Unavailable, "the server timed out", None),
        429 => (
            ErrorKind::Unavailable,
            "rate limited",
            Some("slow down, or retry later"),
        ),
        500..=599 => (
            ErrorKind::Unavailable,
            "the server failed",
            Some("retry later"),
        ),
        300..=399 => (
            ErrorKind::InvalidResponse,
            "unexpected redirect",
            Some("redirects are not followed; check the base URL"),
        ),
        _ if status.is_client_error() => (ErrorKind::Rejected, "the request was rejected", None),
        _ => (ErrorKind::InvalidResponse, "unexpected answer", None),
    };
    let message = server_message(body, secret);
    let request_id = request_id(headers).map(|r| match secret {
        Some(k) if !k.is_empty() => r.replace(k, "[REDACTED]"),
        _ => r,
    });
    let mut line = format!("{what} (HTTP {}", status.as_u16());
    if let Some(r) = &request_id {
        line.push_str(", request id ");
        line.push_str(r);
    }
    line.push(')');
    match &message {
        Some(m) => {
            line.push_str(": ");
            line.push_str(m);
        }
        None => {
            line.push_str(": ");
            line.push_str(status.canonical_reason().unwrap_or("no message"));
        }
    }
    if let Some(h) = hint {
        line.push_str("; ");
        line.push_str(h);
    }
    // Redact before capping, so a key cut in two by the cap cannot survive in part.
    let redacted = secret.and_then(|k| crate::sanitize::redact_bytes(body, k));
    let body = redacted.as_deref().unwrap_or(body);
    let capped = &body[..body.len().min(64 * 1024)];
    let retry = if kind == ErrorKind::Unavailable {
        retry_after_at(headers, wall_now, retry_after_cap)
    } else {
        None
    };
    Error::new(kind, line)
        .with_http(status, request_id, message, Bytes::copy_from_slice(capped))
        .with_retry_after(retry)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ApiKey, BaseUrl};

    fn config() -> Config {
        Config::new(ApiKey::new("sk_test_secret123").unwrap())
            .with_base_url(BaseUrl::parse("http://127.0.0.1:9/base/").unwrap())
            .with_frontend("test")
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response<Vec<u8>> {
        let mut b = Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(body.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn body_echoing_the_key_is_redacted() {
        let key = "sk_test_secret123";
        let body = format!(r#"{{"message":"bad key {key}","echo":"{key}{key}"}}"#);
        let e = error_from_response(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            body.as_bytes(),
            Some(key),
            SystemTime::UNIX_EPOCH,
            Duration::from_secs(60),
        );
        let b = String::from_utf8(e.body().unwrap().to_vec()).unwrap();
        assert!(!b.contains(key), "{b}");
        assert_eq!(
            b,
            r#"{"message":"bad key [REDACTED]","echo":"[REDACTED][REDACTED]"}"#
        );
        // A key straddling the 64 KiB cap leaves no fragment behind.
        let mut long = vec![b'x'; 64 * 1024 - 4];
        long.extend_from_slice(key.as_bytes());
        let e = error_from_response(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            &long,
            Some(key),
            SystemTime::UNIX_EPOCH,
            Duration::from_secs(60),
        );
        assert!(!e.body().unwrap().ends_with(b"sk_t"));
        // The machines' last pass scrubs the body too.
        let e = Error::new(ErrorKind::Rejected, "x")
            .with_http(StatusCode::BAD_REQUEST, None, None, Bytes::from(body))
            .redacted(key);
        assert!(!String::from_utf8_lossy(e.body().unwrap()).contains(key));
    }

    #[test]
    fn get_request_shape() {
        let c = config();
        let r = c.get_job_request(&JobId::new("job_1").unwrap()).unwrap();
        assert_eq!(r.method(), Method::GET);
        assert_eq!(r.uri(), "http://127.0.0.1:9/base/v1/async-jobs/job_1");
        assert_eq!(r.headers()["x-api-key"], "sk_test_secret123");
        assert!(r.headers()["x-api-key"].is_sensitive());
        assert_eq!(r.headers()["accept"], "application/json");
        assert!(
            r.headers()["user-agent"]
                .to_str()
                .unwrap()
                .starts_with("deepidv-rust/")
        );
        assert!(r.headers().get("content-type").is_none());
        assert!(r.body().is_empty());
    }

    #[test]
    fn hostile_ids_stay_one_segment() {
        let c = config();
        for id in ["a%2F..%2Fadmin", "x<y>", "ünï", "a;b=c", "a[1]", "%00"] {
            let r = c.get_job_request(&JobId::new(id).unwrap()).unwrap();
            let path = r.uri().path();
            let seg = path.strip_prefix("/base/v1/async-jobs/").unwrap();
            assert!(!seg.contains('/') && !seg.is_empty(), "{id} -> {path}");
            let decoded = percent_encoding::percent_decode_str(seg)
                .decode_utf8()
                .unwrap();
            assert_eq!(decoded, id);
        }
    }

    #[test]
    fn create_request_shape() {
        let c = config();
        let body = AdverseMediaRequest::new(
            "Ada",
            "Lovelace",
            "ada@example.com",
            "1815-12-10",
            Some("gb"),
        )
        .unwrap();
        let key = IdempotencyKey::new("k-1").unwrap();
        let r = c.create_adverse_media_request(&body, &key).unwrap();
        assert_eq!(r.method(), Method::POST);
        assert_eq!(
            r.uri(),
            "http://127.0.0.1:9/base/v1/screening/adverse-media"
        );
        assert_eq!(r.headers()["content-type"], "application/json");
        assert_eq!(r.headers()["idempotency-key"], "k-1");
        let v: serde_json::Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"firstName":"Ada","lastName":"Lovelace","email":"ada@example.com","dateOfBirth":"1815-12-10","country":"GB"})
        );
    }

    #[test]
    fn error_kinds_by_status() {
        let c = config();
        let cases = [
            (400, ErrorKind::Rejected),
            (401, ErrorKind::Unauthorized),
            (402, ErrorKind::Rejected),
            (403, ErrorKind::Unauthorized),
            (404, ErrorKind::NotFound),
            (408, ErrorKind::Unavailable),
            (409, ErrorKind::Rejected),
            (429, ErrorKind::Unavailable),
            (500, ErrorKind::Unavailable),
            (503, ErrorKind::Unavailable),
            (302, ErrorKind::InvalidResponse),
        ];
        for (status, kind) in cases {
            let e = c
                .parse_job_response(&response(status, &[], ""))
                .unwrap_err();
            assert_eq!(e.kind(), kind, "{status}");
            assert_eq!(e.status().map(|s| s.as_u16()), Some(status));
            assert!(e.to_string().contains(&format!("HTTP {status}")), "{e}");
        }
    }

    #[test]
    fn message_read_in_documented_order() {
        assert_eq!(
            server_message(b"Insufficient funds or subscription.", None).unwrap(),
            "Insufficient funds or subscription."
        );
        assert_eq!(
            server_message(br#"{"message":"m","error":"e"}"#, None).unwrap(),
            "m"
        );
        assert_eq!(server_message(br#"{"error":"e"}"#, None).unwrap(), "e");
        assert_eq!(
            server_message(br#"{"error":{"message":"nested"}}"#, None).unwrap(),
            "nested"
        );
        assert_eq!(
            server_message(br#"{"message":"bad id","code":"INVALID_ID"}"#, None).unwrap(),
            "bad id [INVALID_ID]"
        );
        assert_eq!(server_message(br#"{"other":1}"#, None), None);
        assert_eq!(server_message(b"", None), None);
        assert_eq!(
            server_message(b"<html><head><title>502 Bad Gateway</title></head><body><h1>nginx</h1></body></html>", None).unwrap(),
            "502 Bad Gateway"
        );
    }

    #[test]
    fn error_line_is_one_safe_line_without_the_key() {
        let c = config();
        let body = r#"{"message":"key sk_test_secret123 is invalid\n\u001b[31mred"}"#;
        let e = c
            .parse_job_response(&response(401, &[("x-request-id", "req_42")], body))
            .unwrap_err();
        let line = e.to_string();
        assert!(!line.contains("sk_test_secret123"), "{line}");
        assert!(line.contains("[REDACTED]"));
        assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line:?}");
        assert!(
            line.contains("HTTP 401") && line.contains("req_42"),
            "{line}"
        );
        assert_eq!(e.request_id(), Some("req_42"));
        assert!(line.contains("check the API key"));
    }

    #[test]
    fn html_gateway_page_reduced() {
        let c = config();
        let page = "<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head><body>".to_owned()
            + &"x".repeat(5000)
            + "</body></html>";
        let e = c
            .parse_job_response(&response(503, &[("x-amzn-requestid", "amz-1")], &page))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(
            e.to_string()
                .contains("503 Service Temporarily Unavailable")
        );
        assert!(e.to_string().len() < 300, "{e}");
        assert_eq!(e.request_id(), Some("amz-1"));
        let bare = c
            .parse_job_response(&response(502, &[], "<html><body>oops</body></html>"))
            .unwrap_err();
        assert!(bare.to_string().contains("Bad Gateway"), "{bare}");
    }

    #[test]
    fn retry_after_forms() {
        let cap = Duration::from_secs(60);
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.insert(
                    HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    v.parse().unwrap(),
                );
            }
            m
        };
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(
            retry_after(&h(&[("retry-after", "7")]), now, cap),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&h(&[("retry-after", "3600")]), now, cap),
            Some(cap)
        );
        assert_eq!(retry_after(&h(&[("retry-after", "soon")]), now, cap), None);
        assert_eq!(retry_after(&h(&[("retry-after", "-1")]), now, cap), None);
        assert_eq!(retry_after(&h(&[]), now, cap), None);
        let date = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(
            retry_after(&h(&[("retry-after", &date)]), now, cap),
            Some(Duration::from_secs(12))
        );
        // The answer's own Date wins over our clock (skew-proof).
        let server_now = httpdate::fmt_http_date(now + Duration::from_secs(10));
        assert_eq!(
            retry_after(
                &h(&[("retry-after", &date), ("date", &server_now)]),
                now,
                cap
            ),
            Some(Duration::from_secs(2))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(
            retry_after(&h(&[("retry-after", &past)]), now, cap),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn body_cap_enforced_by_length_and_header() {
        let mut c = config();
        c.max_body_bytes = 10;
        let e = c
            .parse_job_response(&response(200, &[], "01234567890"))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        let e = c
            .parse_job_response(&response(200, &[("content-length", "999999")], ""))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        assert!(e.to_string().contains("10 byte limit"));
        assert_eq!(
            e.status(),
            Some(StatusCode::OK),
            "the answer's status is kept"
        );
        let e = c
            .parse_job_response(&response(200, &[("x-request-id", "req_9")], "nope"))
            .unwrap_err();
        assert_eq!(
            (e.kind(), e.request_id()),
            (ErrorKind::InvalidResponse, Some("req_9"))
        );
        assert!(e.to_string().contains("request id req_9"), "{e}");
    }

    #[test]
    fn created_response() {
        let c = config();
        let ok = c
            .parse_created_response(&response(
                202,
                &[],
                r#"{"jobId":"job_1","status":"pending","message":"queued"}"#,
            ))
            .unwrap();
        assert_eq!(ok.job_id, "job_1");
        assert!(!ok.replayed);
        let replay = c
            .parse_created_response(&response(
                200,
                &[],
                r#"{"jobId":"job_1","status":"ready","message":"replayed"}"#,
            ))
            .unwrap();
        assert!(replay.replayed);
        assert_eq!(replay.status, crate::JobStatus::Ready);
        let bad = c
            .parse_created_response(&response(
                202,
                &[],
                r#"{"jobId":"../x","status":"pending"}"#,
            ))
            .unwrap_err();
        assert_eq!(bad.kind(), ErrorKind::InvalidResponse);
        let v = c
            .parse_created_response(&response(400, &[], r#"{"message":"email is required"}"#))
            .unwrap_err();
        assert_eq!(v.kind(), ErrorKind::Rejected);
        assert!(v.to_string().contains("email is required"));
    }
}
