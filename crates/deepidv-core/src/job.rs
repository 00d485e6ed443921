//! Jobs: ids, statuses and snapshots, parsed tolerantly.

use std::fmt;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::adverse_media::AdverseMediaResult;
use crate::error::Error;

/// Longest job id accepted, in bytes.
pub const MAX_JOB_ID_LEN: usize = 256;

/// Characters percent-encoded in a job id so that it stays one path segment.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// A validated job id: safe to put in a URL path as exactly one segment.
///
/// Refused: empty, longer than [`MAX_JOB_ID_LEN`] bytes, `.` or `..`, and any id with
/// `/`, `\`, `?`, `#`, whitespace or control characters. Anything else that is not
/// URL-safe (like `%`) is percent-encoded, so a hostile id never reaches another path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// Validates a job id.
    pub fn new(id: impl Into<String>) -> Result<Self, Error> {
        let id = id.into();
        let bad = |why: &str| {
            Error::invalid_argument(format!(
                "invalid job id {:?}: {why}",
                crate::sanitize::terminal_safe(&id.chars().take(64).collect::<String>(), None)
            ))
        };
        if id.is_empty() {
            return Err(bad("it is empty"));
        }
        if id.len() > MAX_JOB_ID_LEN {
            return Err(bad(&format!("longer than {MAX_JOB_ID_LEN} bytes")));
        }
        if id == "." || id == ".." {
            return Err(bad("`.` and `..` are not job ids"));
        }
        if let Some(c) = id
            .chars()
            .find(|&c| matches!(c, '/' | '\\' | '?' | '#') || c.is_control() || c.is_whitespace())
        {
            return Err(bad(&format!(
                "it contains {c:?}; a job id is one path segment"
            )));
        }
        Ok(Self(id))
    }

    /// The id as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id percent-encoded as one path segment.
    pub fn path_segment(&self) -> impl fmt::Display + '_ {
        utf8_percent_encode(&self.0, SEGMENT)
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        JobId::new(s).map_err(de::Error::custom)
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for JobId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

/// A job's status. Unknown values are kept, and are not terminal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobStatus {
    /// Queued, not picked up yet.
    Pending,
    /// Running.
    Processing,
    /// Done; the job has a result.
    Ready,
    /// Failed; the job has an error.
    Failed,
    /// A status this client does not know, kept as sent.
    Unknown(String),
}

impl JobStatus {
    /// Reads a status, tolerating older servers' upper-case forms
    /// (`PENDING`, `PROCESSING`, `COMPLETED`, `FAILED`…).
    pub fn parse(s: &str) -> Self {
        let known = [
            ("pending", Self::Pending),
            ("queued", Self::Pending),
            ("processing", Self::Processing),
            ("in_progress", Self::Processing),
            ("running", Self::Processing),
            ("ready", Self::Ready),
            ("completed", Self::Ready),
            ("complete", Self::Ready),
            ("succeeded", Self::Ready),
            ("failed", Self::Failed),
            ("error", Self::Failed),
        ];
        let t = s.trim();
        for (name, status) in known {
            if t.eq_ignore_ascii_case(name) {
                return status;
            }
        }
        Self::Unknown(s.to_owned())
    }

    /// The API's spelling (`pending`, `processing`, `ready`, `failed`), or the unknown value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Unknown(s) => s,
        }
    }

    /// `ready` or `failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Ready | Self::Failed)
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JobStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobStatus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(Self::parse(&s))
    }
}

/// `createdAt`, kept exactly as sent: a number (the API), or a string (older servers).
///
/// The unit is not fixed by the API: its reference page shows milliseconds, the
/// vendor's SDK documents seconds. [`CreatedAt::unix_millis`] reads values of
/// 10^11 and above as milliseconds and smaller ones as seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CreatedAt {
    /// An epoch number, as sent.
    Number(serde_json::Number),
    /// A string, as sent by older servers (a number or an RFC 3339 timestamp).
    Text(String),
}

impl CreatedAt {
    /// Milliseconds since the Unix epoch, if the value can be read as a time.
    pub fn unix_millis(&self) -> Option<i64> {
        let n = match self {
            Self::Number(n) => n.as_f64()?,
            Self::Text(s) => match s.trim().parse::<f64>() {
                Ok(n) => n,
                Err(_) => {
                    let ts: jiff::Timestamp = s.trim().parse().ok()?;
                    return Some(ts.as_millisecond());
                }
            },
        };
        if !n.is_finite() {
            return None;
        }
        let ms = if n.abs() >= 1e11 { n } else { n * 1000.0 };
        (ms.abs() < 9.0e15).then_some(ms as i64)
    }
}

/// A ready job's result: the raw JSON as sent, with typed views on demand.
#[derive(Clone)]
pub struct JobResult {
    raw: Box<RawValue>,
}

impl JobResult {
    /// The result exactly as the server sent it.
    pub fn raw_json(&self) -> &str {
        self.raw.get()
    }

    /// The result as an adverse-media screening result, if it has that shape.
    /// Unknown enum values and missing categories never make this fail.
    pub fn adverse_media(&self) -> Option<AdverseMediaResult> {
        serde_json::from_str(self.raw.get()).ok()
    }

    /// The result as a `serde_json::Value`.
    pub fn to_value(&self) -> serde_json::Value {
        serde_json::from_str(self.raw.get()).unwrap_or(serde_json::Value::Null)
    }

    /// Deserializes the result into a type of yours.
    pub fn deserialize<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(self.raw.get())
    }
}

impl fmt::Debug for JobResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let raw = self.raw.get();
        if raw.len() > 200 {
            write!(
                f,
                "JobResult({}… {} bytes)",
                &raw[..(0..=200)
                    .rev()
                    .find(|&i| raw.is_char_boundary(i))
                    .unwrap_or(0)],
                raw.len()
            )
        } else {
            write!(f, "JobResult({raw})")
        }
    }
}

impl PartialEq for JobResult {
    fn eq(&self, other: &Self) -> bool {
        self.raw.get() == other.raw.get()
    }
}

impl Serialize for JobResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

impl<'de> Deserialize<'de> for JobResult {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Self {
            raw: Box::<RawValue>::deserialize(d)?,
        })
    }
}

/// What a job is doing, with what only that state carries.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum JobState {
    /// Queued.
    Pending,
    /// Running.
    Processing,
    /// Done, with its result.
    Ready(JobResult),
    /// Failed, with the server's reason.
    Failed(String),
    /// A status this client does not know (not terminal), kept as sent.
    Unknown(String),
}

/// A snapshot of a job, as `GET /v1/async-jobs/{jobId}` answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The job's id, as sent.
    pub job_id: String,
    /// Its state (with the result or error where the status has one).
    pub state: JobState,
    /// `createdAt`, as sent.
    pub created_at: CreatedAt,
    /// `updatedAt`, as sent (an RFC 3339 timestamp), if there was one.
    pub updated_at: Option<String>,
}

impl Job {
    /// Parses a job from JSON bytes. Tolerant of legacy forms; errors are
    /// [`ErrorKind::InvalidResponse`](crate::ErrorKind::InvalidResponse).
    pub fn from_json(body: &[u8]) -> Result<Self, Error> {
        let wire: WireJob<'_> = serde_json::from_slice(body)
            .map_err(|e| Error::bad_json("the job response is not a valid job", &e))?;
        Ok(wire.into_job())
    }

    /// The status.
    pub fn status(&self) -> JobStatus {
        match &self.state {
            JobState::Pending => JobStatus::Pending,
            JobState::Processing => JobStatus::Processing,
            JobState::Ready(_) => JobStatus::Ready,
            JobState::Failed(_) => JobStatus::Failed,
            JobState::Unknown(s) => JobStatus::Unknown(s.clone()),
        }
    }

    /// The status's API spelling, without allocating.
    pub fn status_str(&self) -> &str {
        match &self.state {
            JobState::Pending => "pending",
            JobState::Processing => "processing",
            JobState::Ready(_) => "ready",
            JobState::Failed(_) => "failed",
            JobState::Unknown(s) => s,
        }
    }

    /// `ready` or `failed`.
    pub fn is_terminal(&self) -> bool {
        matches!(self.state, JobState::Ready(_) | JobState::Failed(_))
    }

    /// The result, when ready.
    pub fn result(&self) -> Option<&JobResult> {
        match &self.state {
            JobState::Ready(r) => Some(r),
            _ => None,
        }
    }

    /// The server's reason, when failed.
    pub fn error(&self) -> Option<&str> {
        match &self.state {
            JobState::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// `updatedAt` as a timestamp, when it is a valid RFC 3339 one.
    pub fn updated_at_timestamp(&self) -> Option<jiff::Timestamp> {
        self.updated_at.as_deref()?.trim().parse().ok()
    }

    /// The job as the API's JSON (`jobId`, `status`, `createdAt`, `updatedAt`, `result`/`error`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Serialize for Job {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Job", 5)?;
        st.serialize_field("jobId", &self.job_id)?;
        st.serialize_field("status", self.status_str())?;
        st.serialize_field("createdAt", &self.created_at)?;
        if let Some(u) = &self.updated_at {
            st.serialize_field("updatedAt", u)?;
        }
        match &self.state {
            JobState::Ready(r) => st.serialize_field("result", r)?,
            JobState::Failed(e) => st.serialize_field("error", e)?,
            _ => {}
        }
        st.end()
    }
}

impl<'de> Deserialize<'de> for Job {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(WireJob::deserialize(d)?.into_job())
    }
}

/// The job as it travels, before the status decides what the other fields mean.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireJob<'a> {
    #[serde(alias = "id")]
    job_id: String,
    #[serde(borrow)]
    status: std::borrow::Cow<'a, str>,
    #[serde(default = "missing_created_at")]
    created_at: CreatedAt,
    #[serde(default, deserialize_with = "lenient_string")]
    updated_at: Option<String>,
    #[serde(default)]
    result: Option<JobResult>,
    #[serde(default, deserialize_with = "lenient_string")]
    error: Option<String>,
}

fn missing_created_at() -> CreatedAt {
    CreatedAt::Text(String::new())
}

impl WireJob<'_> {
    fn into_job(self) -> Job {
        let state = match JobStatus::parse(&self.status) {
            JobStatus::Pending => JobState::Pending,
            JobStatus::Processing => JobState::Processing,
            JobStatus::Ready => JobState::Ready(self.result.unwrap_or_else(|| JobResult {
                raw: RawValue::from_string("null".to_owned()).expect("null is JSON"),
            })),
            JobStatus::Failed => JobState::Failed(
                self.error
                    .filter(|e| !e.trim().is_empty())
                    .unwrap_or_else(|| "the job failed without a reason".to_owned()),
            ),
            JobStatus::Unknown(s) => JobState::Unknown(s),
        };
        Job {
            job_id: self.job_id,
            state,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A string, or a number or bool (kept as text), or null/absent.
fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Lenient {
        S(String),
        N(serde_json::Number),
        B(bool),
        Other(serde::de::IgnoredAny),
    }
    Ok(match Option::<Lenient>::deserialize(d)? {
        Some(Lenient::S(s)) => Some(s),
        Some(Lenient::N(n)) => Some(n.to_string()),
        Some(Lenient::B(b)) => Some(b.to_string()),
        Some(Lenient::Other(_)) | None => None,
    })
}
