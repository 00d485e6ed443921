//! One vocabulary of outcomes, shared by every frontend.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::job::Job;

/// What kind of failure an [`Error`] is.
///
/// The numbers are a contract: the C ABI's `deepidv_result` and the CLI's exit
/// codes use the same ones (`0` is success and has no kind).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ErrorKind {
    /// `wait` ended because the job is `failed`; the failed job is attached.
    JobFailed = 1,
    /// Caught before any request: bad job id, bad URL, plain `http` to a remote host, no API key.
    InvalidArgument = 2,
    /// The wait's deadline passed before the job reached a terminal state.
    Timeout = 3,
    /// HTTP 404: the job is unknown, or it expired (see [`Error::is_expired`]).
    NotFound = 4,
    /// HTTP 401 or 403.
    Unauthorized = 5,
    /// HTTP 400 or another 4xx that retrying cannot fix.
    Rejected = 6,
    /// 5xx, 429, network failure or per-request timeout, after the retries ran out.
    Unavailable = 7,
    /// An answer that breaks the contract: not JSON, wrong shape, too large.
    InvalidResponse = 8,
    /// A bug.
    Internal = 9,
}

impl ErrorKind {
    /// The outcome code shared with the C ABI and the CLI's exit status.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The upper-case name used in the C ABI (`DEEPIDV_<NAME>`).
    pub const fn name(self) -> &'static str {
        match self {
            Self::JobFailed => "JOB_FAILED",
            Self::InvalidArgument => "INVALID_ARGUMENT",
            Self::Timeout => "TIMEOUT",
            Self::NotFound => "NOT_FOUND",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::Rejected => "REJECTED",
            Self::Unavailable => "UNAVAILABLE",
            Self::InvalidResponse => "INVALID_RESPONSE",
            Self::Internal => "INTERNAL",
        }
    }

    /// Every kind, in code order.
    pub const ALL: [ErrorKind; 9] = [
        Self::JobFailed,
        Self::InvalidArgument,
        Self::Timeout,
        Self::NotFound,
        Self::Unauthorized,
        Self::Rejected,
        Self::Unavailable,
        Self::InvalidResponse,
        Self::Internal,
    ];
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A failure, with everything a person needs to act on it.
///
/// Its [`Display`](fmt::Display) is one line: what happened, the HTTP status and the
/// request id where there was one, the server's own message (made safe for a
/// terminal), and a hint. It never contains the API key: server messages are
/// redacted before they are stored.
#[derive(Clone, thiserror::Error)]
#[error("{}", .0.message)]
pub struct Error(Box<Inner>);

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    status: Option<StatusCode>,
    request_id: Option<String>,
    server_message: Option<String>,
    retry_after: Option<Duration>,
    expired: bool,
    body: Option<bytes::Bytes>,
    job: Option<Box<Job>>,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("message", &self.0.message)
            .field("status", &self.0.status)
            .field("request_id", &self.0.request_id)
            .field("retry_after", &self.0.retry_after)
            .field("expired", &self.0.expired)
            .field("body_len", &self.0.body.as_ref().map(|b| b.len()))
            .finish_non_exhaustive()
    }
}

impl Error {
    /// A new error of this kind with this (already safe, one-line) message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            kind,
            message: message.into(),
            status: None,
            request_id: None,
            server_message: None,
            retry_after: None,
            expired: false,
            body: None,
            job: None,
        }))
    }

    pub(crate) fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }

    /// The error of a call its caller cancelled (a cancel handle or token): of
    /// kind [`ErrorKind::Timeout`], its message starting with "cancelled". Every
    /// adapter reports a cancel with this one error.
    pub fn cancelled() -> Self {
        Self::new(
            ErrorKind::Timeout,
            "cancelled by the caller before the job finished",
        )
    }

    pub(crate) fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    pub(crate) fn job_failed(job: Job) -> Self {
        let reason = crate::sanitize::terminal_safe(job.error().unwrap_or("no reason given"), None);
        let mut e = Self::new(
            ErrorKind::JobFailed,
            format!(
                "job {} failed: {reason}",
                crate::sanitize::terminal_safe(&job.job_id, None)
            ),
        );
        e.0.job = Some(Box::new(job));
        e
    }

    pub(crate) fn with_http(
        mut self,
        status: StatusCode,
        request_id: Option<String>,
        server_message: Option<String>,
        body: bytes::Bytes,
    ) -> Self {
        self.0.status = Some(status);
        self.0.request_id = request_id;
        self.0.server_message = server_message;
        self.0.body = Some(body);
        self
    }

    /// The same error with every server-sent part scrubbed of `secret`. Machines
    /// apply this to everything they hand out, so a server echoing the API key
    /// (in a message, a request id, a job id…) never puts it in front of a person.
    pub(crate) fn redacted(mut self, secret: &str) -> Self {
        if secret.is_empty() {
            return self;
        }
        let scrub = |s: &mut String| {
            if s.contains(secret) {
                *s = s.replace(secret, "[REDACTED]");
            }
        };
        scrub(&mut self.0.message);
        if let Some(m) = self.0.server_message.as_mut() {
            scrub(m);
        }
        if let Some(r) = self.0.request_id.as_mut() {
            scrub(r);
        }
        if let Some(b) = self.0.body.as_mut()
            && let Some(clean) = crate::sanitize::redact_bytes(b, secret)
        {
            *b = bytes::Bytes::from(clean);
        }
        self
    }

    /// An error about JSON that could not be read: where and what kind of
    /// problem, but never the offending value (it may be anything, a secret included).
    pub(crate) fn bad_json(what: &str, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let full = e.to_string();
        let detail = match e.classify() {
            Category::Eof => "the JSON is truncated".to_owned(),
            Category::Syntax => "it is not valid JSON".to_owned(),
            Category::Io => "it could not be read".to_owned(),
            Category::Data => match full.split(" at line ").next() {
                Some(m) if m.starts_with("missing field") => {
                    format!("JSON of the wrong shape ({m})")
                }
                _ => "JSON of the wrong shape".to_owned(),
            },
        };
        Self::new(
            ErrorKind::InvalidResponse,
            format!(
                "{what}: {detail} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    }

    /// Records where an answer came from, for errors raised about its body.
    pub(crate) fn with_origin(mut self, status: StatusCode, request_id: Option<String>) -> Self {
        self.0.status = Some(status);
        if let Some(id) = request_id {
            self.0.message = format!(
                "{} (HTTP {}, request id {id})",
                self.0.message,
                status.as_u16()
            );
            self.0.request_id = Some(id);
        }
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.0.retry_after = retry_after;
        self
    }

    /// The same error with another message (kind, status and body kept).
    pub(crate) fn rewrite(mut self, message: String) -> Self {
        self.0.message = message;
        self
    }

    pub(crate) fn with_expired(mut self) -> Self {
        self.0.expired = true;
        self
    }

    /// The kind, whose [`code`](ErrorKind::code) is the outcome code.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The outcome code (`1..=9`) shared with C and the CLI.
    pub fn code(&self) -> u8 {
        self.0.kind.code()
    }

    /// The one-line message (same as `Display`).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The HTTP status of the answer that caused this, if there was one.
    pub fn status(&self) -> Option<StatusCode> {
        self.0.status
    }

    /// The server's request id (`x-request-id`, or `x-amzn-requestid`), if it sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// The server's own message, made safe for a terminal and redacted.
    pub fn server_message(&self) -> Option<&str> {
        self.0.server_message.as_deref()
    }

    /// The delay the server asked for with `Retry-After`, if any (already capped).
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after
    }

    /// `true` for a 404 about a job that this wait had seen earlier: it expired
    /// through the server's TTL rather than never existing.
    pub fn is_expired(&self) -> bool {
        self.0.expired
    }

    /// The server said too many requests (HTTP 429): the whole caller, not just this call, should slow
    /// down (a frontend running many calls at once pauses them all for the retry's delay).
    pub fn is_rate_limited(&self) -> bool {
        self.0.status == Some(http::StatusCode::TOO_MANY_REQUESTS)
    }

    /// The body of the answer that caused this, as received except that the API
    /// key is replaced by `[REDACTED]` wherever the server echoed it (capped).
    pub fn body(&self) -> Option<&[u8]> {
        self.0.body.as_deref()
    }

    /// The failed job, for [`ErrorKind::JobFailed`].
    pub fn job(&self) -> Option<&Job> {
        self.0.job.as_deref()
    }

    /// Takes the failed job out, for [`ErrorKind::JobFailed`].
    pub fn into_job(self) -> Option<Job> {
        self.0.job.map(|j| *j)
    }

    /// Whether the poller would retry a failure like this one.
    pub fn is_transient(&self) -> bool {
        self.0.kind == ErrorKind::Unavailable
    }
}
