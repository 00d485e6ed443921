//! Every fault, injected from Rust and over the admin routes, observed over real loopback HTTP.

mod common;

use std::time::{Duration, Instant};

use common::*;
use deepidv_mock::{DEFAULT_API_KEY, ErrorBody, Fault, MockConfig, MockServer, RetryAfter, Scope};
use serde_json::json;

const KEY: &str = DEFAULT_API_KEY;

fn server() -> MockServer {
    MockServer::start_background(MockConfig::instant()).unwrap()
}

fn new_job(m: &MockServer) -> String {
    let r = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), None);
    assert_eq!(r.status, 202);
    r.json()["jobId"].as_str().unwrap().to_owned()
}

#[test]
fn status_faults_have_their_body_kinds_and_run_out() {
    let m = server();
    let id = new_job(&m);
    m.inject(
        Scope::All,
        Fault::Status {
            status: 503,
            body: ErrorBody::Html,
        },
        2,
    );
    for _ in 0..2 {
        let r = get_job(m.addr(), &id, KEY);
        assert_eq!(r.status, 503);
        assert!(r.header("content-type").unwrap().starts_with("text/html"));
        assert!(r.text().contains("<html>") && r.text().contains("503"));
        assert!(r.header("x-request-id").is_some());
    }
    assert_eq!(get_job(m.addr(), &id, KEY).status, 200);

    m.inject(
        Scope::All,
        Fault::Status {
            status: 402,
            body: ErrorBody::Text,
        },
        1,
    );
    let r = get_job(m.addr(), &id, KEY);
    assert_eq!(r.status, 402);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    assert_eq!(r.text(), "Insufficient funds or subscription.");

    m.inject(
        Scope::All,
        Fault::Status {
            status: 500,
            body: ErrorBody::Json,
        },
        1,
    );
    let r = get_job(m.addr(), &id, KEY);
    assert_eq!(r.status, 500);
    assert!(r.json()["message"].is_string());
}

#[test]
fn faults_apply_first_in_first_out() {
    let m = server();
    let id = new_job(&m);
    m.inject(
        Scope::All,
        Fault::Status {
            status: 500,
            body: ErrorBody::Json,
        },
        1,
    );
    m.inject(
        Scope::All,
        Fault::Status {
            status: 503,
            body: ErrorBody::Json,
        },
        1,
    );
    assert_eq!(get_job(m.addr(), &id, KEY).status, 500);
    assert_eq!(get_job(m.addr(), &id, KEY).status, 503);
    assert_eq!(get_job(m.addr(), &id, KEY).status, 200);
    m.inject(
        Scope::All,
        Fault::Status {
            status: 500,
            body: ErrorBody::Json,
        },
        0,
    );
    assert_eq!(
        get_job(m.addr(), &id, KEY).status,
        200,
        "times = 0 queues nothing"
    );
    m.inject(
        Scope::All,
        Fault::Status {
            status: 500,
            body: ErrorBody::Json,
        },
        5,
    );
    m.clear_faults();
    assert_eq!(get_job(m.addr(), &id, KEY).status, 200);
}

#[test]
fn a_status_fault_does_not_process_the_request() {
    let m = server();
    m.inject(
        Scope::All,
        Fault::Status {
            status: 502,
            body: ErrorBody::Html,
        },
        1,
    );
    let r = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), Some("idem-1"));
    assert_eq!(r.status, 502);
    // no job was created, so the retry is a fresh 202, not a replay
    assert_eq!(
        post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), Some("idem-1")).status,
        202
    );
}

#[test]
fn rate_limit_with_seconds_and_http_date() {
    let m = server();
    let id = new_job(&m);
    m.inject(
        Scope::All,
        Fault::RateLimit {
            retry_after: RetryAfter::Seconds(3),
        },
        1,
    );
    let r = get_job(m.addr(), &id, KEY);
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    assert!(r.json()["message"].is_string());

    m.inject(
        Scope::All,
        Fault::RateLimit {
            retry_after: RetryAfter::HttpDate(2),
        },
        1,
    );
    let r = get_job(m.addr(), &id, KEY);
    assert_eq!(r.status, 429);
    let date = r.header("retry-after").unwrap();
    assert!(date.ends_with(" GMT") && date.contains(", "), "{date}");
    assert_eq!(get_job(m.addr(), &id, KEY).status, 200);
}

#[test]
fn delay_slows_the_answer() {
    let m = server();
    let id = new_job(&m);
    m.inject(Scope::All, Fault::Delay(Duration::from_millis(300)), 1);
    let t = Instant::now();
    let r = get_job(m.addr(), &id, KEY);
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.status, 200);
    let t = Instant::now();
    get_job(m.addr(), &id, KEY);
    assert!(t.elapsed() < Duration::from_millis(300));
}

#[test]
fn latency_applies_to_every_answer() {
    let m = MockServer::start_background(MockConfig {
        latency: Duration::from_millis(150),
        ..MockConfig::instant()
    })
    .unwrap();
    let t = Instant::now();
    let r = get(m.addr(), "/v1/async-jobs/job_x", Some(KEY));
    assert_eq!(r.status, 404);
    assert!(t.elapsed() >= Duration::from_millis(150));
}

#[test]
fn drop_closes_without_an_answer_but_processes_the_post() {
    let m = server();
    m.inject(Scope::All, Fault::Drop, 1);
    let body = serde_json::to_vec(&person("Jane", "Doe")).unwrap();
    let mut conn = Conn::open(m.addr());
    let err = conn
        .send(
            "POST",
            "/v1/screening/adverse-media",
            &[("x-api-key", KEY), ("idempotency-key", "retry-me")],
            Some(&body),
        )
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::ConnectionReset
        ),
        "{err}"
    );
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        assert!(
            err.to_string().contains("after 0 bytes"),
            "no bytes at all: {err}"
        );
    }
    // the job was created: the retry with the same key replays it
    let retry = post_screening(
        m.addr(),
        &person("Jane", "Doe"),
        Some(KEY),
        Some("retry-me"),
    );
    assert_eq!(retry.status, 200);
    let recorded = m.requests();
    assert_eq!(recorded.len(), 2);
    assert_eq!(recorded[0].status, 0, "a dropped request records status 0");
}

#[test]
fn drop_on_a_get_sends_zero_bytes() {
    let m = server();
    let id = new_job(&m);
    m.inject(Scope::Job(id.clone()), Fault::Drop, 1);
    let mut conn = Conn::open(m.addr());
    let result = conn.send(
        "GET",
        &format!("/v1/async-jobs/{id}"),
        &[("x-api-key", KEY)],
        None,
    );
    assert!(result.is_err());
    let (rest, _) = conn.read_to_close();
    assert!(rest.is_empty());
    assert_eq!(get_job(m.addr(), &id, KEY).status, 200);
}

#[test]
fn truncate_sends_part_of_the_body_then_closes() {
    let m = server();
    let id = new_job(&m);
    m.inject(Scope::All, Fault::Truncate, 1);
    let r = Conn::open(m.addr())
        .send(
            "GET",
            &format!("/v1/async-jobs/{id}"),
            &[("x-api-key", KEY)],
            None,
        )
        .unwrap();
    assert_eq!(r.status, 200);
    let announced = r.content_length.expect("a Content-Length");
    assert!(r.truncated);
    assert!(
        !r.body.is_empty() && r.body.len() < announced,
        "{} of {announced}",
        r.body.len()
    );
    assert!(serde_json::from_slice::<serde_json::Value>(&r.body).is_err());
    // the next request is whole
    let whole = get_job(m.addr(), &id, KEY);
    assert!(!whole.truncated);
    assert_eq!(whole.body.len(), whole.content_length.unwrap());
    assert_eq!(whole.body.len(), announced);
}

#[test]
fn malformed_and_wrong_shape_bodies() {
    let m = server();
    let id = new_job(&m);
    m.inject(Scope::All, Fault::Malformed, 1);
    let r = get_job(m.addr(), &id, KEY);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(
        serde_json::from_slice::<serde_json::Value>(&r.body).is_err(),
        "{}",
        r.text()
    );

    m.inject(Scope::All, Fault::WrongShape, 1);
    let r = get_job(m.addr(), &id, KEY);
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(v.get("jobId").is_none());
    assert_eq!(v, json!([1, 2]));
}

#[test]
fn oversized_body_is_valid_json_of_about_that_size() {
    let m = server();
    let id = new_job(&m);
    m.inject(Scope::All, Fault::Oversized(3_000_000), 1);
    let r = get_job(m.addr(), &id, KEY);
    assert_eq!(r.status, 200);
    assert!(!r.truncated);
    assert_eq!(r.body.len(), 3_000_000);
    let v = r.json();
    assert_eq!(v["jobId"], id.as_str());
}

#[test]
fn unknown_status_and_legacy_only_touch_job_gets() {
    let m = server();
    let id = new_job(&m);
    m.inject(Scope::All, Fault::UnknownStatus("on_hold".into()), 1);
    // a POST does not consume it
    assert_eq!(
        post_screening(m.addr(), &person("A", "B"), Some(KEY), None).json()["status"],
        "ready"
    );
    let v = get_job(m.addr(), &id, KEY).json();
    assert_eq!(v["status"], "on_hold");
    assert!(v.get("result").is_none());
    assert_eq!(get_job(m.addr(), &id, KEY).json()["status"], "ready");

    m.inject(Scope::All, Fault::Legacy, 1);
    let v = get_job(m.addr(), &id, KEY).json();
    assert_eq!(v["status"], "COMPLETED");
    assert!(v["createdAt"].is_string());
    assert!(v["error"].is_null() && v.get("error").is_some());
    assert!(v["result"].is_object());

    let failed = post_screening(m.addr(), &person("Jane", "Fail"), Some(KEY), None).json()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    m.inject(Scope::Job(failed.clone()), Fault::Legacy, 1);
    let v = get_job(m.addr(), &failed, KEY).json();
    assert_eq!(v["status"], "FAILED");
    assert!(v["error"].is_string());
}

#[test]
fn job_and_key_scopes() {
    let m = MockServer::start_background(MockConfig {
        api_keys: vec![
            ("sk_test_a".into(), "org".into()),
            ("sk_test_b".into(), "org".into()),
        ],
        ..MockConfig::instant()
    })
    .unwrap();
    let create = |key: &str| {
        post_screening(m.addr(), &person("Jane", "Doe"), Some(key), None).json()["jobId"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let a = create("sk_test_a");
    let b = create("sk_test_a");
    m.inject(
        Scope::Job(a.clone()),
        Fault::Status {
            status: 503,
            body: ErrorBody::Json,
        },
        1,
    );
    assert_eq!(
        get_job(m.addr(), &b, "sk_test_a").status,
        200,
        "other job unaffected"
    );
    assert_eq!(
        post_screening(m.addr(), &person("X", "Y"), Some("sk_test_a"), None).status,
        202
    );
    assert_eq!(get_job(m.addr(), &a, "sk_test_a").status, 503);
    assert_eq!(get_job(m.addr(), &a, "sk_test_a").status, 200);

    m.inject(
        Scope::Key("sk_test_b".into()),
        Fault::Status {
            status: 500,
            body: ErrorBody::Json,
        },
        1,
    );
    assert_eq!(
        get_job(m.addr(), &a, "sk_test_a").status,
        200,
        "other key unaffected"
    );
    assert_eq!(
        post_screening(m.addr(), &person("X", "Y"), Some("sk_test_b"), None).status,
        500
    );
    assert_eq!(get_job(m.addr(), &a, "sk_test_b").status, 200);
}

#[test]
fn admin_routes_script_faults_jobs_and_expiry() {
    let m = server();
    let addr = m.addr();
    let id = new_job(&m);

    let r = post_admin(
        addr,
        "/__mock/faults",
        &json!({"scope": "all", "fault": {"status": 503, "body": "html"}, "times": 2}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(get_job(addr, &id, KEY).status, 503);
    assert_eq!(get_job(addr, &id, KEY).status, 503);
    assert_eq!(get_job(addr, &id, KEY).status, 200);

    // each JSON fault form is accepted
    for fault in [
        json!({"rateLimit": {"seconds": 1}}),
        json!({"rateLimit": {"httpDateIn": 2}}),
        json!({"delayMs": 1}),
        json!("drop"),
        json!("truncate"),
        json!("malformed"),
        json!("wrongShape"),
        json!({"oversized": 1000}),
        json!({"unknownStatus": "on_hold"}),
        json!("legacy"),
        json!({"status": 500}),
    ] {
        let r = post_admin(
            addr,
            "/__mock/faults",
            &json!({"scope": {"job": "job_nobody"}, "fault": fault}),
        );
        assert_eq!(r.status, 204, "{fault}: {}", r.text());
    }
    let r = send(addr, "DELETE", "/__mock/faults", &[], None).unwrap();
    assert_eq!(r.status, 204);

    post_admin(
        addr,
        "/__mock/faults",
        &json!({"scope": {"key": KEY}, "fault": {"rateLimit": {"seconds": 7}}}),
    );
    let r = get_job(addr, &id, KEY);
    assert_eq!((r.status, r.header("retry-after")), (429, Some("7")));

    post_admin(
        addr,
        "/__mock/faults",
        &json!({"scope": {"job": id}, "fault": {"unknownStatus": "on_hold"}}),
    );
    assert_eq!(get_job(addr, &id, KEY).json()["status"], "on_hold");

    // invalid scripts are 400 and queue nothing
    assert_eq!(
        post_admin(
            addr,
            "/__mock/faults",
            &json!({"scope": "all", "fault": "explode"})
        )
        .status,
        400
    );
    assert_eq!(
        post_admin(addr, "/__mock/faults", &json!({"fault": "drop"})).status,
        400
    );
    assert_eq!(get_job(addr, &id, KEY).status, 200);

    // jobs
    let r = post_admin(
        addr,
        "/__mock/jobs",
        &json!({"outcome": {"failed": "no luck"}, "pendingMs": 0, "processingMs": 0}),
    );
    assert_eq!(r.status, 201);
    let failed = r.json()["jobId"].as_str().unwrap().to_owned();
    let v = get_job(addr, &failed, KEY).json();
    assert_eq!(
        (v["status"].as_str(), v["error"].as_str()),
        (Some("failed"), Some("no luck"))
    );

    let r = post_admin(
        addr,
        "/__mock/jobs",
        &json!({"outcome": "ready", "id": "custom-1", "org": "org_x"}),
    );
    assert_eq!(r.json()["jobId"], "custom-1");
    assert_eq!(
        get_job(addr, "custom-1", KEY).status,
        403,
        "another org's job"
    );

    let r = post_admin(addr, "/__mock/jobs", &json!({"pendingMs": 60000}));
    let slow = r.json()["jobId"].as_str().unwrap().to_owned();
    assert_eq!(get_job(addr, &slow, KEY).json()["status"], "pending");
    assert_eq!(
        post_admin(addr, "/__mock/jobs", &json!({"bogus": 1})).status,
        400
    );

    // expiry
    assert_eq!(
        send(
            addr,
            "POST",
            &format!("/__mock/jobs/{slow}/expire"),
            &[],
            None
        )
        .unwrap()
        .status,
        204
    );
    assert_eq!(get_job(addr, &slow, KEY).status, 404);
    assert_eq!(
        send(addr, "POST", "/__mock/jobs/job_nobody/expire", &[], None)
            .unwrap()
            .status,
        404
    );

    // requests: only API requests, with their statuses
    let r = get(addr, "/__mock/requests", None);
    assert_eq!(r.status, 200);
    let list = r.json();
    let list = list.as_array().unwrap();
    assert!(
        list.iter()
            .all(|r| !r["path"].as_str().unwrap().starts_with("/__mock"))
    );
    assert_eq!(list.len(), m.requests().len());
    assert_eq!(list[0]["method"], "POST");
    assert_eq!(list[0]["status"], 202);
    assert!(list[0]["body"].as_str().unwrap().contains("Jane"));
    assert!(
        list[0]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h[0] == "x-api-key" && h[1] == KEY)
    );
    assert_eq!(
        send(addr, "DELETE", "/__mock/requests", &[], None)
            .unwrap()
            .status,
        204
    );
    assert!(m.requests().is_empty());

    assert_eq!(get(addr, "/__mock/nothing", None).status, 404);
    assert_eq!(get(addr, "/__mock/faults", None).status, 405);
}

#[test]
fn many_concurrent_connections() {
    let m = server();
    let id = new_job(&m);
    let addr = m.addr();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let id = id.clone();
            std::thread::spawn(move || {
                let mut conn = Conn::open(addr);
                (0..25)
                    .filter(|_| {
                        conn.send(
                            "GET",
                            &format!("/v1/async-jobs/{id}"),
                            &[("x-api-key", KEY)],
                            None,
                        )
                        .unwrap()
                        .status
                            == 200
                    })
                    .count()
            })
        })
        .collect();
    let ok: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(ok, 16 * 25);
}

#[test]
fn error_field_body_is_the_other_json_error_shape() {
    let m = server();
    m.inject(
        Scope::All,
        Fault::Status {
            status: 500,
            body: ErrorBody::ErrorField,
        },
        1,
    );
    let r = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), None);
    assert_eq!(r.status, 500);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert!(r.header("x-request-id").is_some());
    assert_eq!(r.json(), json!({"error": "Internal server error"}));
    // the request was not processed
    assert_eq!(m.job_count(), 0);

    // the same from the text and JSON forms
    let arg: deepidv_mock::FaultArg = "503:error".parse().unwrap();
    m.inject(Scope::All, arg.fault, arg.times);
    let r = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), None);
    assert_eq!(r.status, 503);
    assert_eq!(r.json(), json!({"error": "Service Unavailable"}));
    let admin = post_admin(
        m.addr(),
        "/__mock/faults",
        &json!({"scope": "all", "fault": {"status": 429, "body": "error"}}),
    );
    assert_eq!(admin.status, 204);
    let r = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), None);
    assert_eq!(r.status, 429);
    assert_eq!(r.json(), json!({"error": "Too Many Requests"}));
}

#[test]
fn legacy_creation_answers_201_and_pending() {
    let m = MockServer::start_background(MockConfig::default()).unwrap();
    m.inject(Scope::All, Fault::Legacy, 1);
    let r = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), Some("old"));
    assert_eq!(r.status, 201);
    assert_eq!(r.json()["status"], "PENDING");
    let id = r.json()["jobId"].as_str().unwrap().to_owned();
    assert!(id.starts_with("job_"));
    // the fault is used up: the next GET is in today's format
    assert_eq!(get_job(m.addr(), &id, KEY).json()["status"], "pending");
    // a replay under the legacy fault keeps 200, with the old status names
    m.inject(Scope::All, Fault::Legacy, 1);
    let replay = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), Some("old"));
    assert_eq!(replay.status, 200);
    assert_eq!(replay.json()["status"], "PENDING");
    assert_eq!(replay.json()["jobId"], id.as_str());
}
