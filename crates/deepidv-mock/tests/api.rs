//! The API over real loopback HTTP: endpoints, statuses, lifecycle, determinism, magic inputs.

mod common;

use std::collections::HashSet;
use std::thread::sleep;
use std::time::{Duration, Instant};

use common::*;
use deepidv_mock::{DEFAULT_API_KEY, DEFAULT_ORG, JobSpec, MockConfig, MockServer, Outcome};
use serde_json::{Value, json};

const KEY: &str = DEFAULT_API_KEY;

fn two_orgs(config: MockConfig) -> MockServer {
    MockServer::start_background(MockConfig {
        api_keys: vec![
            ("sk_test_a".into(), "org_a".into()),
            ("sk_test_b".into(), "org_b".into()),
        ],
        ..config
    })
    .unwrap()
}

fn is_job_id(id: &str) -> bool {
    id.len() == 28
        && id.starts_with("job_")
        && id[4..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[test]
fn create_then_get_ready_job() {
    let m = MockServer::start_background(MockConfig::instant()).unwrap();
    assert!(m.url().starts_with("http://127.0.0.1:"));
    assert!(!m.url().ends_with('/'));

    let r = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), None);
    assert_eq!(r.status, 202, "{}", r.text());
    assert!(
        r.header("x-request-id")
            .is_some_and(|v| v.starts_with("req_"))
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    let started = r.json();
    let id = started["jobId"].as_str().unwrap().to_owned();
    assert!(is_job_id(&id), "{id}");
    assert_eq!(started["status"], "ready"); // instant config
    assert!(started["message"].is_string());

    let r = get_job(m.addr(), &id, KEY);
    assert_eq!(r.status, 200);
    assert!(r.header("x-request-id").is_some());
    let job = r.json();
    assert_eq!(job["jobId"], id.as_str());
    assert_eq!(job["status"], "ready");
    let created = job["createdAt"].as_i64().expect("createdAt is a number");
    assert!(
        created > 100_000_000_000,
        "createdAt in milliseconds: {created}"
    );
    let updated = job["updatedAt"].as_str().unwrap();
    assert!(
        updated.ends_with('Z') && updated.len() == 24,
        "RFC 3339 with ms: {updated}"
    );
    assert!(job.get("error").is_none());

    let result = &job["result"];
    let score = result["riskScore"].as_u64().unwrap();
    assert!(score <= 100);
    let level = result["riskLevel"].as_str().unwrap();
    let expected_level = match score {
        0..=24 => "LOW",
        25..=49 => "MEDIUM",
        50..=74 => "HIGH",
        _ => "CRITICAL",
    };
    assert_eq!(level, expected_level);
    assert!(result["summary"].as_str().is_some_and(|s| !s.is_empty()));
    let findings = result["findings"].as_array().unwrap();
    assert_eq!(result["totalHits"].as_u64().unwrap(), findings.len() as u64);
    for f in findings {
        for field in [
            "findingId",
            "severity",
            "category",
            "title",
            "detail",
            "sourceUrl",
            "sourceName",
        ] {
            assert!(f[field].is_string(), "finding field {field}: {f}");
        }
        assert!(["MEDIUM", "HIGH", "CRITICAL"].contains(&f["severity"].as_str().unwrap()));
        assert!(f["articleDate"].is_string() || f["articleDate"].is_null());
        let c = f["confidence"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&c));
        assert!(!f["confirmedBy"].as_array().unwrap().is_empty());
    }
    let exposures = result["exposuresByCategory"].as_object().unwrap();
    let categories = [
        "financial_crime",
        "terrorism",
        "regulatory",
        "political",
        "organized_crime",
        "violent_crime",
        "criminal_legal",
        "reputational",
        "court_records",
    ];
    assert_eq!(exposures.len(), 9);
    for c in categories {
        let e = &exposures[c];
        let articles = e["articles"].as_array().unwrap();
        assert_eq!(e["hits"].as_u64().unwrap(), articles.len() as u64);
        for a in articles {
            assert!(a["headline"].is_string());
            assert!(a["timestamp"].is_string() || a["timestamp"].is_null());
            assert!(a["sourceLink"].is_string() || a["sourceLink"].is_null());
            assert!(
                ["news", "court-records", "watchlist-database"]
                    .contains(&a["source"].as_str().unwrap())
            );
        }
    }
}

#[test]
fn validation_errors_are_400() {
    let m = MockServer::start_background(MockConfig::instant()).unwrap();
    let good = person("Jane", "Doe");
    let with = |field: &str, value: Value| {
        let mut b = good.clone();
        b[field] = value;
        b
    };
    let without = |field: &str| {
        let mut b = good.clone();
        b.as_object_mut().unwrap().remove(field);
        b
    };
    let cases = vec![
        without("email"),
        with("email", json!("not-an-email")),
        with("email", json!(42)),
        without("firstName"),
        with("firstName", json!("")),
        with("lastName", json!("x".repeat(256))),
        without("dateOfBirth"),
        with("dateOfBirth", json!("1990-02-30")),
        with("dateOfBirth", json!("1990-1-1")),
        with("dateOfBirth", json!("12/04/1985")),
        with("country", json!("CAN")),
        with("country", json!("ca")),
        json!([1, 2]),
    ];
    for body in cases {
        let r = post_screening(m.addr(), &body, Some(KEY), None);
        assert_eq!(r.status, 400, "{body}: {}", r.text());
        assert_eq!(r.json()["code"], "VALIDATION_ERROR");
        assert!(r.json()["message"].is_string());
    }
    // not JSON at all
    let r = send(
        m.addr(),
        "POST",
        "/v1/screening/adverse-media",
        &[("x-api-key", KEY)],
        Some(b"{nope"),
    )
    .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "VALIDATION_ERROR");
    // 255 characters (multi-byte) is fine, and country is optional
    let mut ok = with("lastName", json!("é".repeat(255)));
    ok.as_object_mut().unwrap().remove("country");
    assert_eq!(post_screening(m.addr(), &ok, Some(KEY), None).status, 202);
    // leap day is a real date
    assert_eq!(
        post_screening(
            m.addr(),
            &with("dateOfBirth", json!("2000-02-29")),
            Some(KEY),
            None
        )
        .status,
        202
    );
    // nothing invalid created a job: only the two valid POSTs got 202
    let created = m.requests().iter().filter(|r| r.status == 202).count();
    assert_eq!(created, 2);
}

#[test]
fn idempotency_key_replays_per_org() {
    let m = two_orgs(MockConfig::default());
    let body = person("Jane", "Doe");
    let a = post_screening(m.addr(), &body, Some("sk_test_a"), Some("key-1"));
    assert_eq!(a.status, 202);
    let id = a.json()["jobId"].as_str().unwrap().to_owned();
    assert_eq!(a.json()["status"], "pending");

    let replay = post_screening(m.addr(), &body, Some("sk_test_a"), Some("key-1"));
    assert_eq!(replay.status, 200);
    assert_eq!(replay.json()["jobId"], id.as_str());

    let other_key = post_screening(m.addr(), &body, Some("sk_test_a"), Some("key-2"));
    assert_eq!(other_key.status, 202);
    assert_ne!(other_key.json()["jobId"], id.as_str());

    let other_org = post_screening(m.addr(), &body, Some("sk_test_b"), Some("key-1"));
    assert_eq!(other_org.status, 202);
    assert_ne!(other_org.json()["jobId"], id.as_str());

    let no_key_1 = post_screening(m.addr(), &body, Some("sk_test_a"), None);
    let no_key_2 = post_screening(m.addr(), &body, Some("sk_test_a"), None);
    assert_eq!((no_key_1.status, no_key_2.status), (202, 202));
    assert_ne!(no_key_1.json()["jobId"], no_key_2.json()["jobId"]);

    let too_long = "k".repeat(256);
    assert_eq!(
        post_screening(m.addr(), &body, Some("sk_test_a"), Some(&too_long)).status,
        400
    );
    assert_eq!(
        post_screening(m.addr(), &body, Some("sk_test_a"), Some(&"k".repeat(255))).status,
        202
    );
    let r = send(
        m.addr(),
        "POST",
        "/v1/screening/adverse-media",
        &[("x-api-key", "sk_test_a"), ("idempotency-key", "")],
        Some(serde_json::to_vec(&body).unwrap().as_slice()),
    )
    .unwrap();
    assert_eq!(r.status, 400);
}

#[test]
fn replay_reports_the_current_status() {
    let m = MockServer::start_background(MockConfig {
        pending: Duration::from_millis(100),
        processing: Duration::from_millis(100),
        ..MockConfig::default()
    })
    .unwrap();
    let body = person("Jane", "Doe");
    let first = post_screening(m.addr(), &body, Some(KEY), Some("idem"));
    assert_eq!(first.json()["status"], "pending");
    sleep(Duration::from_millis(300));
    let replay = post_screening(m.addr(), &body, Some(KEY), Some("idem"));
    assert_eq!(replay.status, 200);
    assert_eq!(replay.json()["status"], "ready");
    assert_eq!(replay.json()["jobId"], first.json()["jobId"]);
}

#[test]
fn authentication_and_organizations() {
    let m = two_orgs(MockConfig::instant());
    let r = post_screening(m.addr(), &person("Jane", "Doe"), None, None);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["message"], "Missing API key");
    let r = get(
        m.addr(),
        "/v1/async-jobs/job_000000000000000000000000",
        None,
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["message"], "Missing API key");

    let r = post_screening(m.addr(), &person("Jane", "Doe"), Some("sk_test_nope"), None);
    assert_eq!(r.status, 401);
    assert!(r.json()["message"].is_string());
    // the default key is not accepted once keys are configured
    assert_eq!(
        post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), None).status,
        401
    );

    let id =
        post_screening(m.addr(), &person("Jane", "Doe"), Some("sk_test_a"), None).json()["jobId"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(get_job(m.addr(), &id, "sk_test_a").status, 200);
    let r = get_job(m.addr(), &id, "sk_test_b");
    assert_eq!(r.status, 403);
    assert!(r.json()["message"].is_string());
    assert_eq!(get_job(m.addr(), &id, "sk_test_nope").status, 401);
}

#[test]
fn job_id_errors() {
    let m = MockServer::start_background(MockConfig::instant()).unwrap();
    for bad in ["bad.id", "a%2Fb", "a%20b", "../x", "x/y"] {
        let r = get(m.addr(), &format!("/v1/async-jobs/{bad}"), Some(KEY));
        assert_eq!(r.status, 400, "{bad}");
    }
    let long = "a".repeat(129);
    assert_eq!(get_job(m.addr(), &long, KEY).status, 400);
    let r = get_job(m.addr(), &"a".repeat(128), KEY);
    assert_eq!(r.status, 404);
    assert!(r.json()["message"].is_string());
    assert_eq!(
        get_job(m.addr(), "job_0123456789abcdef01234567", KEY).status,
        404
    );
    assert_eq!(
        get_job(m.addr(), "9b2e8c1e-3c4f-4a8e-9b1d-2f3a4b5c6d7e", KEY).status,
        404
    );
}

#[test]
fn expiry_on_demand_and_through_ttl() {
    let m = MockServer::start_background(MockConfig {
        ttl: Duration::from_millis(200),
        ..MockConfig::instant()
    })
    .unwrap();
    let a = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), None).json()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = post_screening(m.addr(), &person("John", "Roe"), Some(KEY), None).json()["jobId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(get_job(m.addr(), &a, KEY).status, 200);
    m.expire(&a);
    assert_eq!(get_job(m.addr(), &a, KEY).status, 404);
    assert_eq!(get_job(m.addr(), &b, KEY).status, 200);
    sleep(Duration::from_millis(300));
    assert_eq!(get_job(m.addr(), &b, KEY).status, 404);
    m.expire("job_unknown"); // ignored, no panic
}

#[test]
fn expired_jobs_are_dropped_so_memory_tracks_live_jobs() {
    let m = MockServer::start_background(MockConfig {
        ttl: Duration::ZERO,
        ..MockConfig::instant()
    })
    .unwrap();
    let live = m.insert_job(JobSpec {
        pending: Some(Duration::from_secs(3600)),
        ..JobSpec::default()
    });
    // 2 047 jobs that expire the moment they are made (ready at once, no TTL)
    let mut last = String::new();
    for _ in 0..2047 {
        last = m.insert_job(JobSpec::default());
    }
    assert!(m.job_count() <= 1024, "{} jobs held", m.job_count());
    assert_eq!(
        get_job(m.addr(), &live, KEY).status,
        200,
        "a live job is kept"
    );
    assert_eq!(
        get_job(m.addr(), &last, KEY).status,
        404,
        "an expired one answers 404"
    );
}

#[test]
fn routes_and_methods() {
    let m = MockServer::start_background(MockConfig::instant()).unwrap();
    let r = get(m.addr(), "/v1/screening/adverse-media", Some(KEY));
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("POST"));
    assert!(r.header("x-request-id").is_some());
    let r = send(
        m.addr(),
        "DELETE",
        "/v1/async-jobs/job_x",
        &[("x-api-key", KEY)],
        None,
    )
    .unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET"));
    let r = get(m.addr(), "/v2/nothing", Some(KEY));
    assert_eq!(r.status, 404);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.json()["message"].is_string());
}

#[test]
fn request_ids_are_unique_and_keep_alive_works() {
    let m = MockServer::start_background(MockConfig::instant()).unwrap();
    let mut conn = Conn::open(m.addr());
    let mut ids = HashSet::new();
    for _ in 0..50 {
        let r = conn
            .send(
                "GET",
                "/v1/async-jobs/job_missing",
                &[("x-api-key", KEY)],
                None,
            )
            .unwrap();
        assert_eq!(r.status, 404);
        assert!(ids.insert(r.header("x-request-id").unwrap().to_owned()));
    }
    assert_eq!(ids.len(), 50);
}

#[test]
fn lifecycle_follows_the_configured_timings() {
    let m = MockServer::start_background(MockConfig {
        pending: Duration::from_millis(300),
        processing: Duration::from_millis(300),
        ..MockConfig::default()
    })
    .unwrap();
    let t0 = Instant::now();
    let started = post_screening(m.addr(), &person("Jane", "Doe"), Some(KEY), None);
    assert_eq!(started.status, 202);
    assert_eq!(started.json()["status"], "pending");
    let id = started.json()["jobId"].as_str().unwrap().to_owned();

    let pending = get_job(m.addr(), &id, KEY).json();
    if t0.elapsed() < Duration::from_millis(280) {
        assert_eq!(pending["status"], "pending");
        assert!(pending.get("result").is_none() && pending.get("error").is_none());
    }
    sleep(Duration::from_millis(450).saturating_sub(t0.elapsed()));
    let processing = get_job(m.addr(), &id, KEY).json();
    if t0.elapsed() < Duration::from_millis(580) {
        assert_eq!(processing["status"], "processing");
        assert!(processing.get("result").is_none());
        assert_ne!(processing["updatedAt"], pending["updatedAt"]);
    }
    sleep(Duration::from_millis(750).saturating_sub(t0.elapsed()));
    let ready = get_job(m.addr(), &id, KEY).json();
    assert_eq!(ready["status"], "ready");
    assert!(ready["result"].is_object());
    assert_eq!(ready["createdAt"], pending["createdAt"]);
}

#[test]
fn results_are_deterministic_across_servers() {
    let result_of = |m: &MockServer, body: &Value| {
        let id = post_screening(m.addr(), body, Some(KEY), None).json()["jobId"]
            .as_str()
            .unwrap()
            .to_owned();
        get_job(m.addr(), &id, KEY).json()["result"].clone()
    };
    let m1 = MockServer::start_background(MockConfig::instant()).unwrap();
    let m2 = MockServer::start_background(MockConfig::instant()).unwrap();
    let jane = person("Jane", "Doe");
    let r1 = result_of(&m1, &jane);
    let r2 = result_of(&m2, &jane);
    assert_eq!(r1, r2);
    // normalization: case and surrounding spaces do not matter
    let mut shouting = jane.clone();
    shouting["firstName"] = json!("  JANE ");
    shouting["email"] = json!("JANE.DOE@EXAMPLE.COM");
    let r3 = result_of(&m2, &shouting);
    // the same hits (names in the text are echoed as given)
    assert_eq!(r3["riskScore"], r1["riskScore"]);
    assert_eq!(r3["totalHits"], r1["totalHits"]);
    let ids = |r: &Value| {
        r["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["findingId"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&r3), ids(&r1));
    // a different person gets a different result
    let mut bodies = HashSet::new();
    for first in ["Ann", "Bob", "Cid", "Dee", "Eve"] {
        bodies.insert(result_of(&m1, &person(first, "Smith")).to_string());
    }
    assert!(bodies.len() >= 4, "results should vary with the input");
}

#[test]
fn magic_inputs() {
    let m = MockServer::start_background(MockConfig::instant()).unwrap();
    let job = |first: &str, last: &str| {
        let id = post_screening(m.addr(), &person(first, last), Some(KEY), None).json()["jobId"]
            .as_str()
            .unwrap()
            .to_owned();
        get_job(m.addr(), &id, KEY).json()
    };
    for last in ["Fail", "fail", "FAIL"] {
        let failed = job("Jane", last);
        assert_eq!(failed["status"], "failed");
        assert!(failed["error"].as_str().is_some_and(|e| e.len() > 10));
        assert!(failed.get("result").is_none());
    }
    let clean = job("Jane", "Clean");
    assert_eq!(clean["status"], "ready");
    assert_eq!(clean["result"]["riskLevel"], "LOW");
    assert_eq!(clean["result"]["totalHits"], 0);
    assert_eq!(clean["result"]["findings"].as_array().unwrap().len(), 0);
    assert_eq!(
        clean["result"]["exposuresByCategory"]
            .as_object()
            .unwrap()
            .len(),
        9
    );
    let many = job("Many", "Doe");
    let n = many["result"]["findings"].as_array().unwrap().len();
    assert_eq!(n, 50);
    assert_eq!(many["result"]["totalHits"], 50);
    assert_eq!(many["result"]["riskLevel"], "CRITICAL");
}

#[test]
fn insert_job_directly() {
    let m = MockServer::start_background(MockConfig::default()).unwrap();
    let ready = m.insert_job(JobSpec {
        pending: Some(Duration::ZERO),
        processing: Some(Duration::ZERO),
        ..JobSpec::default()
    });
    assert!(is_job_id(&ready));
    let r = get_job(m.addr(), &ready, KEY).json();
    assert_eq!(r["status"], "ready");
    assert!(r["result"]["riskLevel"].is_string());

    let failed = m.insert_job(JobSpec {
        outcome: Outcome::Failed("boom".into()),
        pending: Some(Duration::ZERO),
        processing: Some(Duration::ZERO),
        id: Some("my-failed-job".into()),
        ..JobSpec::default()
    });
    assert_eq!(failed, "my-failed-job");
    let r = get_job(m.addr(), &failed, KEY).json();
    assert_eq!(r["status"], "failed");
    assert_eq!(r["error"], "boom");

    // default timings come from the config: still pending
    let slow = m.insert_job(JobSpec::default());
    assert_eq!(get_job(m.addr(), &slow, KEY).json()["status"], "pending");

    let other = m.insert_job(JobSpec {
        org: Some("org_other".into()),
        ..JobSpec::default()
    });
    assert_eq!(get_job(m.addr(), &other, KEY).status, 403);
    assert_ne!(DEFAULT_ORG, "org_other");
}

#[test]
fn requests_are_recorded_in_order() {
    let m = MockServer::start_background(MockConfig::instant()).unwrap();
    let body = person("Jane", "Doe");
    post_screening(m.addr(), &body, Some(KEY), Some("k1"));
    get(m.addr(), "/v1/async-jobs/job_none?x=1", Some(KEY));
    post_admin(m.addr(), "/__mock/jobs", &json!({}));
    let recorded = m.requests();
    assert_eq!(recorded.len(), 2, "admin routes are not recorded");
    assert_eq!(recorded[0].method, "POST");
    assert_eq!(recorded[0].path, "/v1/screening/adverse-media");
    assert_eq!(recorded[0].status, 202);
    assert_eq!(recorded[0].header("idempotency-key"), Some("k1"));
    assert_eq!(recorded[0].header("X-Api-Key"), Some(KEY));
    assert_eq!(
        serde_json::from_slice::<Value>(&recorded[0].body).unwrap(),
        body
    );
    assert_eq!(recorded[1].method, "GET");
    assert_eq!(recorded[1].path, "/v1/async-jobs/job_none?x=1");
    assert_eq!(recorded[1].status, 404);
    m.clear_requests();
    assert!(m.requests().is_empty());
}

#[test]
fn shutdown_closes_the_listener() {
    let m = MockServer::start_background(MockConfig::instant()).unwrap();
    let addr = m.addr();
    assert_eq!(get(addr, "/v1/async-jobs/job_x", Some(KEY)).status, 404);
    m.shutdown();
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_on_the_callers_runtime() {
    let m = MockServer::start(MockConfig::instant(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    assert_ne!(m.addr().port(), 0);
    let addr = m.addr();
    let r = tokio::task::spawn_blocking(move || {
        post_screening(addr, &person("Jane", "Doe"), Some(KEY), None)
    })
    .await
    .unwrap();
    assert_eq!(r.status, 202);
    assert_eq!(m.requests().len(), 1);
    // a background server can be created and dropped from async code too
    let b = MockServer::start_background(MockConfig::instant()).unwrap();
    drop(b);
}
