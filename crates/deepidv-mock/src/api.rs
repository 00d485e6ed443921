//! The API proper: `POST /v1/screening/adverse-media` and `GET /v1/async-jobs/{jobId}`, their
//! authentication and validation.

use std::time::Instant;

use http::header::{HeaderValue, RETRY_AFTER};
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::answer::Answer;
use crate::fault::Fault;
use crate::result::{Ending, Subject, fnv1a};
use crate::state::{Creation, Phase, Shared, rfc3339_ms};

const SCREENING_PATH: &str = "/v1/screening/adverse-media";
const JOBS_PREFIX: &str = "/v1/async-jobs/";

/// Whether this is a job creation, `POST /v1/screening/adverse-media`.
pub(crate) fn is_creation(method: &Method, path: &str) -> bool {
    method == Method::POST && path == SCREENING_PATH
}

/// The job id of a `GET /v1/async-jobs/{id}` request, if it is one.
pub(crate) fn job_get_id<'a>(method: &Method, path: &'a str) -> Option<&'a str> {
    if method == Method::GET {
        path.strip_prefix(JOBS_PREFIX)
    } else {
        None
    }
}

pub(crate) fn valid_job_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The API proper.
pub(crate) fn api(
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
                create_screening(shared, (key, org), headers, body, modifier)
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
pub(crate) struct Started<'a> {
    pub(crate) job_id: &'a str,
    pub(crate) status: &'a str,
    pub(crate) message: &'a str,
}

fn create_screening(
    shared: &Shared,
    (api_key, org): (&str, &str),
    headers: &http::HeaderMap,
    body: &[u8],
    modifier: Option<&Fault>,
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
    let (mut status, job, phase, message) =
        match shared.create((api_key, org), idempotency_key, subject, fingerprint) {
            Creation::New(job, phase) => (
                StatusCode::ACCEPTED,
                job,
                phase,
                "Adverse media screening started",
            ),
            Creation::Replay(job, phase) => (
                StatusCode::OK,
                job,
                phase,
                "Adverse media screening already started (replayed)",
            ),
            Creation::Conflict { key } => {
                // API.md is silent; like draft-ietf-httpapi-idempotency-key-header, a key reused with
                // another payload is refused and creates nothing
                return Answer::error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    &format!("Idempotency-Key {key:?} was used with a different request body"),
                    Some("IDEMPOTENCY_KEY_REUSED"),
                );
            }
            Creation::RateLimited { retry_after } => {
                let mut a = Answer::error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "Too many requests",
                    Some("RATE_LIMITED"),
                );
                a.extra = Some(Box::new((RETRY_AFTER, HeaderValue::from(retry_after))));
                return a;
            }
        };
    let (job_status, _) = job.status_at(phase);
    let mut started = Started {
        job_id: &job.id,
        status: job_status,
        message,
    };
    if let Some(fault) = modifier {
        crate::fault::reshape_started(fault, &mut status, &mut started);
    }
    Answer::json(status, &started)
}

#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum CreatedAt {
    Number(i64),
    Text(String),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JobView<'a> {
    pub(crate) job_id: &'a str,
    pub(crate) status: &'a str,
    pub(crate) created_at: CreatedAt,
    pub(crate) updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) result: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) error: Option<Option<&'a str>>,
}

fn get_job(shared: &Shared, org: &str, id: &str, modifier: Option<&Fault>) -> Answer {
    if !valid_job_id(id) {
        return Answer::validation("Malformed job id");
    }
    let job = shared.job(id);
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
    let mut view = JobView {
        job_id: &job.id,
        status,
        created_at: CreatedAt::Number(job.created_ms),
        updated_at: rfc3339_ms(updated_ms),
        result,
        error,
    };
    if let Some(fault) = modifier {
        crate::fault::reshape_job(fault, &mut view);
    }
    Answer::json(StatusCode::OK, &view)
}
