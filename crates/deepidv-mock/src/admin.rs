//! The admin routes under `/__mock/`: script faults, insert and expire jobs, read recorded requests and stats.
//! They need no API key and are never recorded, delayed or faulted.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::answer::{Answer, JSON};
use crate::fault::{Fault, Scope};
use crate::state::Shared;
use crate::{JobSpec, Outcome};

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

pub(crate) fn admin(shared: &Shared, method: &Method, path: &str, body: &[u8]) -> Answer {
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
