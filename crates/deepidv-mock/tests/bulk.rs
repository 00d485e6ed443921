//! What bulk screening needs: a per-key rate limit on creations, server-side stats, idempotency conflicts.

mod common;

use common::*;
use deepidv_mock::{MockConfig, MockServer, Stats};
use serde_json::Value;

fn keys(rate_limit: Option<f64>) -> MockServer {
    MockServer::start_background(MockConfig {
        api_keys: vec![
            ("sk_test_a".into(), "org_a".into()),
            ("sk_test_b".into(), "org_b".into()),
        ],
        rate_limit,
        ..MockConfig::instant()
    })
    .unwrap()
}

#[test]
fn creations_beyond_the_rate_answer_429_with_retry_after() {
    // 0.5/s: a burst of one creation, then one every 2 s
    let m = keys(Some(0.5));
    let first = post_screening(m.addr(), &person("Ann", "One"), Some("sk_test_a"), None);
    assert_eq!(first.status, 202);
    let limited = post_screening(m.addr(), &person("Bob", "Two"), Some("sk_test_a"), None);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("2"));
    assert!(limited.header("x-request-id").is_some());
    assert_eq!(limited.json()["code"], "RATE_LIMITED");
    assert!(limited.json()["message"].is_string());
    // the limit is per API key
    let other = post_screening(m.addr(), &person("Bob", "Two"), Some("sk_test_b"), None);
    assert_eq!(other.status, 202);
    // polling is never limited
    let id = first.json()["jobId"].as_str().unwrap().to_owned();
    for _ in 0..5 {
        assert_eq!(get_job(m.addr(), &id, "sk_test_a").status, 200);
    }
    let stats = m.stats();
    assert_eq!(stats.total_creations, 2);
    assert_eq!(stats.rate_limited, 1);
}

#[test]
fn no_rate_limit_by_default() {
    let m = keys(None);
    for i in 0..20 {
        let r = post_screening(
            m.addr(),
            &person("Ann", &format!("N{i}")),
            Some("sk_test_a"),
            None,
        );
        assert_eq!(r.status, 202);
    }
    assert_eq!(m.stats().rate_limited, 0);
}

#[test]
fn stats_count_creations_replays_and_conflicts() {
    let m = keys(None);
    let jane = person("Jane", "Doe");
    let a = m.addr();
    assert_eq!(
        post_screening(a, &jane, Some("sk_test_a"), Some("k1")).status,
        202
    );
    assert_eq!(
        post_screening(a, &jane, Some("sk_test_a"), Some("k1")).status,
        200
    );
    assert_eq!(
        post_screening(a, &jane, Some("sk_test_a"), None).status,
        202
    );
    assert_eq!(
        post_screening(a, &person("Max", "Roe"), Some("sk_test_a"), Some("k2")).status,
        202
    );
    // k1 again with another person's body: refused, nothing created
    let conflict = post_screening(a, &person("Max", "Roe"), Some("sk_test_a"), Some("k1"));
    assert_eq!(conflict.status, 422);

    let stats = m.stats();
    assert_eq!(stats.total_creations, 3);
    assert_eq!(stats.replays, 1);
    assert_eq!(stats.idempotency_conflicts, 1);
    assert_eq!(stats.rate_limited, 0);
    assert_eq!(stats.max_creations_per_key, 1);
    assert_eq!(stats.max_creations_per_person, 2);
    assert_eq!(stats.by_idempotency_key.get("k1"), Some(&1));
    assert_eq!(stats.by_idempotency_key.get("k2"), Some(&1));
    assert_eq!(stats.by_idempotency_key.len(), 2);
    assert_eq!(
        stats
            .by_person
            .get("jane.doe@example.com|Jane|Doe|1985-04-12"),
        Some(&2)
    );

    // the admin route answers the same, in the documented JSON names
    let r = get(a, "/__mock/stats", None);
    assert_eq!(r.status, 200);
    let json: Value = r.json();
    assert_eq!(json["totalCreations"], 3);
    assert_eq!(json["idempotencyConflicts"], 1);
    assert_eq!(json["byIdempotencyKey"]["k1"], 1);
    let over_http: Stats = serde_json::from_value(json).unwrap();
    assert_eq!(over_http, stats);
}

#[test]
fn idempotency_key_with_another_body_is_refused_and_the_same_body_still_replays() {
    let m = keys(None);
    let a = m.addr();
    let first = post_screening(a, &person("Jane", "Doe"), Some("sk_test_a"), Some("idem"));
    assert_eq!(first.status, 202);
    let conflict = post_screening(a, &person("John", "Doe"), Some("sk_test_a"), Some("idem"));
    assert_eq!(conflict.status, 422);
    let body = conflict.json();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("was used with a different request body"),
        "{body}"
    );
    assert_eq!(body["code"], "IDEMPOTENCY_KEY_REUSED");
    assert!(conflict.header("x-request-id").is_some());
    let replay = post_screening(a, &person("Jane", "Doe"), Some("sk_test_a"), Some("idem"));
    assert_eq!(replay.status, 200);
    assert_eq!(replay.json()["jobId"], first.json()["jobId"]);
    assert_eq!(m.job_count(), 1);
}
