//! Faults: the ways the simulator can be told to misbehave, and their JSON form.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Which requests a fault applies to.
///
/// JSON form (admin route `POST /__mock/faults`): `"all"`, `{"job": "job_…"}` or `{"key": "sk_test_…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// Every API request (admin routes under `/__mock/` are never faulted).
    All,
    /// `GET /v1/async-jobs/{id}` for this job id.
    Job(String),
    /// Any API request carrying this `x-api-key`.
    Key(String),
}

/// The body of a [`Fault::Status`] answer.
///
/// JSON form: `"json"` (the default), `"html"` or `"text"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ErrorBody {
    /// `application/json`: `{"message": "<reason>", "code": "<CODE>"}`.
    #[default]
    Json,
    /// `text/html`: a gateway error page, as load balancers send for 502/503/504.
    Html,
    /// `text/plain`: a bare sentence (for 402: `Insufficient funds or subscription.`).
    Text,
}

/// The `Retry-After` header of a [`Fault::RateLimit`] answer.
///
/// JSON form: `{"seconds": 1}` or `{"httpDateIn": 2}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetryAfter {
    /// `Retry-After: <n>` (delta seconds).
    #[serde(rename = "seconds")]
    Seconds(u64),
    /// `Retry-After: <HTTP date>`, this many seconds from the moment of the answer.
    #[serde(rename = "httpDateIn")]
    HttpDate(u64),
}

/// A way to misbehave, applied to the next matching request(s); see [`crate::MockServer::inject`].
///
/// `Status` and `RateLimit` answer *instead of* the API: the request is not processed (a POST creates no job).
/// `Drop`, `Truncate`, `Malformed`, `WrongShape` and `Oversized` break only the *answer*: the request is
/// processed first, so a POST does create its job (which is what makes a retry with the same
/// `Idempotency-Key` answer `200`). `Delay` waits, then processes and answers normally.
/// `UnknownStatus` and `Legacy` change how a job is reported, so they only match `GET /v1/async-jobs/{id}`
/// requests (other requests leave them queued).
///
/// JSON form (the admin route's `"fault"`):
///
/// | variant | JSON |
/// |---|---|
/// | `Status { status: 503, body: ErrorBody::Html }` | `{"status": 503, "body": "html"}` (`body` optional, default `"json"`) |
/// | `RateLimit { retry_after: RetryAfter::Seconds(1) }` | `{"rateLimit": {"seconds": 1}}` |
/// | `RateLimit { retry_after: RetryAfter::HttpDate(2) }` | `{"rateLimit": {"httpDateIn": 2}}` |
/// | `Delay(Duration::from_millis(500))` | `{"delayMs": 500}` |
/// | `Drop` | `"drop"` |
/// | `Truncate` | `"truncate"` |
/// | `Malformed` | `"malformed"` |
/// | `WrongShape` | `"wrongShape"` |
/// | `Oversized(20_000_000)` | `{"oversized": 20000000}` |
/// | `UnknownStatus("on_hold".into())` | `{"unknownStatus": "on_hold"}` |
/// | `Legacy` | `"legacy"` |
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "FaultRepr", into = "FaultRepr")]
#[non_exhaustive]
pub enum Fault {
    /// Answer this status with a canned body of this kind (e.g. 500 JSON, 502 HTML, 402 plain text).
    Status {
        /// The HTTP status code (100–999).
        status: u16,
        /// The kind of body.
        body: ErrorBody,
    },
    /// Answer `429 Too Many Requests` with this `Retry-After`.
    RateLimit {
        /// The `Retry-After` header sent.
        retry_after: RetryAfter,
    },
    /// Answer normally, but only after this long (a slow server).
    Delay(Duration),
    /// Close the connection without any answer (a TCP reset).
    Drop,
    /// Send the headers with the real `Content-Length`, then part of the body, then close the connection.
    Truncate,
    /// `200` with a body that is not JSON.
    Malformed,
    /// `200` with valid JSON of the wrong shape (`[1,2]`).
    WrongShape,
    /// `200` with a valid JSON job body of about this many bytes (padded; streamed, not buffered).
    Oversized(usize),
    /// The job is reported with this status string instead of its real one (and no `result`/`error`).
    UnknownStatus(String),
    /// The job is reported in the old format: uppercase status (`PENDING`, `PROCESSING`, `COMPLETED`,
    /// `FAILED`), `createdAt` as an RFC 3339 string, and `error: null` unless failed.
    Legacy,
}

impl Fault {
    /// Whether this fault changes how a job is reported (and so only matches job GETs).
    pub(crate) fn is_report_modifier(&self) -> bool {
        matches!(self, Fault::UnknownStatus(_) | Fault::Legacy)
    }
}

/// The serde form of [`Fault`].
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum FaultRepr {
    Status {
        status: u16,
        #[serde(default)]
        body: ErrorBody,
    },
    Tagged(TaggedFault),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
enum TaggedFault {
    RateLimit(RetryAfter),
    DelayMs(u64),
    Drop,
    Truncate,
    Malformed,
    WrongShape,
    Oversized(usize),
    UnknownStatus(String),
    Legacy,
}

impl TryFrom<FaultRepr> for Fault {
    type Error = String;

    fn try_from(repr: FaultRepr) -> Result<Self, String> {
        Ok(match repr {
            FaultRepr::Status { status, body } => {
                if !(100..=999).contains(&status) {
                    return Err(format!("status {status} is not a valid HTTP status"));
                }
                Fault::Status { status, body }
            }
            FaultRepr::Tagged(t) => match t {
                TaggedFault::RateLimit(retry_after) => Fault::RateLimit { retry_after },
                TaggedFault::DelayMs(ms) => Fault::Delay(Duration::from_millis(ms)),
                TaggedFault::Drop => Fault::Drop,
                TaggedFault::Truncate => Fault::Truncate,
                TaggedFault::Malformed => Fault::Malformed,
                TaggedFault::WrongShape => Fault::WrongShape,
                TaggedFault::Oversized(n) => Fault::Oversized(n),
                TaggedFault::UnknownStatus(s) => Fault::UnknownStatus(s),
                TaggedFault::Legacy => Fault::Legacy,
            },
        })
    }
}

impl From<Fault> for FaultRepr {
    fn from(f: Fault) -> Self {
        match f {
            Fault::Status { status, body } => FaultRepr::Status { status, body },
            Fault::RateLimit { retry_after } => {
                FaultRepr::Tagged(TaggedFault::RateLimit(retry_after))
            }
            Fault::Delay(d) => FaultRepr::Tagged(TaggedFault::DelayMs(
                u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
            )),
            Fault::Drop => FaultRepr::Tagged(TaggedFault::Drop),
            Fault::Truncate => FaultRepr::Tagged(TaggedFault::Truncate),
            Fault::Malformed => FaultRepr::Tagged(TaggedFault::Malformed),
            Fault::WrongShape => FaultRepr::Tagged(TaggedFault::WrongShape),
            Fault::Oversized(n) => FaultRepr::Tagged(TaggedFault::Oversized(n)),
            Fault::UnknownStatus(s) => FaultRepr::Tagged(TaggedFault::UnknownStatus(s)),
            Fault::Legacy => FaultRepr::Tagged(TaggedFault::Legacy),
        }
    }
}

/// A fault with a repeat count, as given to the binary's `--fault` flag.
///
/// Text form: `NAME[:ARG][xTIMES]` (`TIMES` defaults to 1):
///
/// | text | fault |
/// |---|---|
/// | `503`, `500x3`, `502:json` | [`Fault::Status`]; body `html` for 502/503/504, `text` for 402, else `json`, unless `:json`/`:html`/`:text` |
/// | `429`, `429:5`, `429:date=5` | [`Fault::RateLimit`], `Retry-After` 1 s by default, `5` seconds, or an HTTP date 5 s ahead |
/// | `delay:500ms` | [`Fault::Delay`] |
/// | `drop`, `truncate`, `malformed`, `wrong-shape` | the fault of that name |
/// | `oversized:20000000` | [`Fault::Oversized`] |
/// | `unknown-status:on_hold` | [`Fault::UnknownStatus`] |
/// | `legacy` | [`Fault::Legacy`] |
///
/// A JSON fault (as for the admin route) is accepted too, e.g. `{"delayMs":500}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultArg {
    /// The fault.
    pub fault: Fault,
    /// How many matching requests get it.
    pub times: u32,
}

impl FromStr for FaultArg {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s.starts_with('{') || s.starts_with('"') {
            let fault: Fault =
                serde_json::from_str(s).map_err(|e| format!("invalid JSON fault: {e}"))?;
            return Ok(FaultArg { fault, times: 1 });
        }
        let (spec, times) = match s.rsplit_once('x') {
            Some((head, n))
                if !head.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (
                    head,
                    n.parse::<u32>()
                        .map_err(|e| format!("invalid repeat count {n:?}: {e}"))?,
                )
            }
            _ => (s, 1),
        };
        let (name, arg) = match spec.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (spec, None),
        };
        let no_arg = |f: Fault| match arg {
            None => Ok(f),
            Some(_) => Err(format!("fault {name:?} takes no argument")),
        };
        let fault = match name.to_ascii_lowercase().as_str() {
            "429" => {
                let retry_after = match arg {
                    None => RetryAfter::Seconds(1),
                    Some(a) => match a.strip_prefix("date=") {
                        Some(n) => RetryAfter::HttpDate(parse_u64(n)?),
                        None => RetryAfter::Seconds(parse_u64(a)?),
                    },
                };
                Fault::RateLimit { retry_after }
            }
            "delay" => {
                let a = arg.ok_or("fault \"delay\" needs a duration, e.g. delay:500ms")?;
                Fault::Delay(deepidv_core::parse_duration(a)?)
            }
            "drop" => no_arg(Fault::Drop)?,
            "truncate" => no_arg(Fault::Truncate)?,
            "malformed" => no_arg(Fault::Malformed)?,
            "wrong-shape" | "wrongshape" | "wrong_shape" => no_arg(Fault::WrongShape)?,
            "legacy" => no_arg(Fault::Legacy)?,
            "oversized" => {
                let a = arg
                    .ok_or("fault \"oversized\" needs a size in bytes, e.g. oversized:20000000")?;
                Fault::Oversized(
                    usize::try_from(parse_u64(a)?)
                        .map_err(|_| format!("size {a:?} is too large"))?,
                )
            }
            "unknown-status" | "unknownstatus" | "unknown_status" => {
                let a = arg.ok_or(
                    "fault \"unknown-status\" needs a status, e.g. unknown-status:on_hold",
                )?;
                Fault::UnknownStatus(a.to_owned())
            }
            n if n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit()) => {
                let status: u16 = n.parse().map_err(|_| format!("invalid status {n:?}"))?;
                if status < 100 {
                    return Err(format!("invalid status {n:?}"));
                }
                let body = match arg {
                    None => match status {
                        502..=504 => ErrorBody::Html,
                        402 => ErrorBody::Text,
                        _ => ErrorBody::Json,
                    },
                    Some("json") => ErrorBody::Json,
                    Some("html") => ErrorBody::Html,
                    Some("text") => ErrorBody::Text,
                    Some(other) => {
                        return Err(format!("unknown body kind {other:?} (json, html or text)"));
                    }
                };
                Fault::Status { status, body }
            }
            _ => {
                return Err(format!(
                    "unknown fault {s:?}; expected e.g. 503, 500x3, 429:2, delay:500ms, drop, truncate, \
                     malformed, wrong-shape, oversized:20000000, unknown-status:on_hold, legacy"
                ));
            }
        };
        Ok(FaultArg { fault, times })
    }
}

fn parse_u64(s: &str) -> Result<u64, String> {
    s.parse()
        .map_err(|_| format!("expected a number, got {s:?}"))
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match serde_json::to_string(self) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "{self:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_forms_round_trip() {
        let cases: Vec<(&str, Fault)> = vec![
            (
                r#"{"status":503,"body":"html"}"#,
                Fault::Status {
                    status: 503,
                    body: ErrorBody::Html,
                },
            ),
            (
                r#"{"rateLimit":{"seconds":1}}"#,
                Fault::RateLimit {
                    retry_after: RetryAfter::Seconds(1),
                },
            ),
            (
                r#"{"rateLimit":{"httpDateIn":2}}"#,
                Fault::RateLimit {
                    retry_after: RetryAfter::HttpDate(2),
                },
            ),
            (
                r#"{"delayMs":500}"#,
                Fault::Delay(Duration::from_millis(500)),
            ),
            (r#""drop""#, Fault::Drop),
            (r#""truncate""#, Fault::Truncate),
            (r#""malformed""#, Fault::Malformed),
            (r#""wrongShape""#, Fault::WrongShape),
            (r#"{"oversized":20000000}"#, Fault::Oversized(20_000_000)),
            (
                r#"{"unknownStatus":"on_hold"}"#,
                Fault::UnknownStatus("on_hold".into()),
            ),
            (r#""legacy""#, Fault::Legacy),
        ];
        for (json, fault) in cases {
            let parsed: Fault = serde_json::from_str(json).unwrap();
            assert_eq!(parsed, fault, "{json}");
            assert_eq!(serde_json::to_string(&fault).unwrap(), json);
        }
        let default_body: Fault = serde_json::from_str(r#"{"status":500}"#).unwrap();
        assert_eq!(
            default_body,
            Fault::Status {
                status: 500,
                body: ErrorBody::Json
            }
        );
        assert!(serde_json::from_str::<Fault>(r#"{"status":5}"#).is_err());
        assert!(serde_json::from_str::<Fault>(r#""explode""#).is_err());
    }

    #[test]
    fn scope_json() {
        assert_eq!(
            serde_json::from_str::<Scope>(r#""all""#).unwrap(),
            Scope::All
        );
        assert_eq!(
            serde_json::from_str::<Scope>(r#"{"job":"j"}"#).unwrap(),
            Scope::Job("j".into())
        );
        assert_eq!(
            serde_json::from_str::<Scope>(r#"{"key":"k"}"#).unwrap(),
            Scope::Key("k".into())
        );
    }

    #[test]
    fn text_forms() {
        let p = |s: &str| s.parse::<FaultArg>();
        assert_eq!(
            p("503x2").unwrap(),
            FaultArg {
                fault: Fault::Status {
                    status: 503,
                    body: ErrorBody::Html
                },
                times: 2
            }
        );
        assert_eq!(
            p("429x1").unwrap(),
            FaultArg {
                fault: Fault::RateLimit {
                    retry_after: RetryAfter::Seconds(1)
                },
                times: 1
            }
        );
        assert_eq!(
            p("429:date=3").unwrap().fault,
            Fault::RateLimit {
                retry_after: RetryAfter::HttpDate(3)
            }
        );
        assert_eq!(
            p("drop").unwrap(),
            FaultArg {
                fault: Fault::Drop,
                times: 1
            }
        );
        assert_eq!(
            p("402").unwrap().fault,
            Fault::Status {
                status: 402,
                body: ErrorBody::Text
            }
        );
        assert_eq!(
            p("500:html").unwrap().fault,
            Fault::Status {
                status: 500,
                body: ErrorBody::Html
            }
        );
        assert_eq!(p("delay:250msx4").unwrap().times, 4);
        assert_eq!(
            p("delay:2s").unwrap().fault,
            Fault::Delay(Duration::from_secs(2))
        );
        assert_eq!(p("oversized:100").unwrap().fault, Fault::Oversized(100));
        assert_eq!(
            p("unknown-status:on_hold").unwrap().fault,
            Fault::UnknownStatus("on_hold".into())
        );
        assert_eq!(p("wrong-shape").unwrap().fault, Fault::WrongShape);
        assert_eq!(
            p(r#"{"delayMs":5}"#).unwrap().fault,
            Fault::Delay(Duration::from_millis(5))
        );
        assert!(p("boom").is_err());
        assert!(p("drop:1").is_err());
        assert!(p("099").is_err());
    }
}
