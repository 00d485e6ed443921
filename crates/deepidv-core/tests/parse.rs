//! Parsing what servers send: the reference example, legacy forms, and hostile input.

use deepidv_core::{
    Category, CreatedAt, ErrorKind, Job, JobId, JobState, JobStatus, RiskLevel, Severity, Source,
};

const REFERENCE: &str = r#"{
  "jobId": "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
  "status": "ready",
  "createdAt": 1717593600000,
  "updatedAt": "2026-06-05T12:00:00.000Z",
  "result": {
    "totalHits": 2,
    "riskLevel": "MEDIUM",
    "riskScore": 45,
    "summary": "Two adverse-media findings corroborated by court records.",
    "findings": [],
    "exposuresByCategory": {}
  }
}"#;

#[test]
fn the_reference_example() {
    let job = Job::from_json(REFERENCE.as_bytes()).unwrap();
    assert_eq!(job.job_id, "a1b2c3d4-e5f6-7890-abcd-ef1234567890");
    assert_eq!(job.status(), JobStatus::Ready);
    assert!(job.is_terminal());
    assert_eq!(job.created_at.unix_millis(), Some(1_717_593_600_000));
    assert_eq!(
        job.updated_at_timestamp().unwrap().as_millisecond(),
        1_780_660_800_000
    );
    let r = job.result().unwrap().adverse_media().unwrap();
    assert_eq!(r.total_hits, 2);
    assert_eq!(r.risk_level, Some(RiskLevel::Medium));
    assert_eq!(r.risk_score, Some(45.0));
    assert!(r.summary.starts_with("Two adverse-media"));
    assert_eq!(
        r.exposure(&Category::Terrorism).hits,
        0,
        "a missing category reads as zero"
    );
}

#[test]
fn a_full_result_with_new_enum_values_is_kept_whole() {
    let body = r#"{"jobId":"j","status":"ready","createdAt":1717593600,"updatedAt":"not a date",
      "result":{"totalHits":3,"riskLevel":"SEVERE","riskScore":88,"summary":"s","newField":{"x":1},
        "findings":[{"findingId":"f1","severity":"HIGH","category":"financial_crime","title":"t","detail":"d",
           "sourceUrl":"https://n.example/a","sourceName":"N","articleDate":null,"confidence":0.93,
           "confirmedBy":["news","court-records","carrier-pigeon"]},
          {"findingId":"f2","severity":"APOCALYPTIC","category":"cyber","title":"t2","detail":"d2",
           "sourceUrl":null,"sourceName":"M","articleDate":"2024-01-01","confidence":1,"confirmedBy":null}],
        "exposuresByCategory":{"financial_crime":{"hits":1,"articles":[{"timestamp":null,"headline":"h",
           "sourceLink":null,"source":"watchlist-database"}]},"cyber":{"hits":2,"articles":[]}}}}"#;
    let job = Job::from_json(body.as_bytes()).unwrap();
    assert_eq!(
        job.created_at.unix_millis(),
        Some(1_717_593_600_000),
        "seconds read as seconds"
    );
    assert!(job.updated_at_timestamp().is_none());
    assert_eq!(
        job.updated_at.as_deref(),
        Some("not a date"),
        "kept as sent"
    );
    let result = job.result().unwrap();
    assert!(
        result.raw_json().contains(r#""newField":{"x":1}"#),
        "unknown fields survive in the raw JSON"
    );
    let r = result.adverse_media().unwrap();
    assert_eq!(r.risk_level, Some(RiskLevel::Other("SEVERE".into())));
    assert_eq!(r.findings.len(), 2);
    let f = &r.findings[0];
    assert_eq!(f.severity, Some(Severity::High));
    assert_eq!(f.category, Some(Category::FinancialCrime));
    assert_eq!(
        f.confirmed_by,
        [
            Source::News,
            Source::CourtRecords,
            Source::Other("carrier-pigeon".into())
        ]
    );
    assert_eq!(
        r.findings[1].severity,
        Some(Severity::Other("APOCALYPTIC".into()))
    );
    assert!(r.findings[1].confirmed_by.is_empty());
    assert_eq!(
        r.exposure(&Category::FinancialCrime).articles[0].source,
        Some(Source::WatchlistDatabase)
    );
    assert_eq!(r.exposure(&Category::Other("cyber".into())).hits, 2);
}

#[test]
fn legacy_servers_are_tolerated() {
    let cases = [
        (
            r#"{"jobId":"j","status":"PENDING","createdAt":"1717593600000","error":null}"#,
            JobStatus::Pending,
        ),
        (
            r#"{"jobId":"j","status":"PROCESSING","createdAt":"2024-06-05T12:00:00Z"}"#,
            JobStatus::Processing,
        ),
        (
            r#"{"jobId":"j","status":"COMPLETED","createdAt":1,"result":{"a":1},"error":null}"#,
            JobStatus::Ready,
        ),
        (
            r#"{"jobId":"j","status":"FAILED","createdAt":1,"error":null}"#,
            JobStatus::Failed,
        ),
        (r#"{"id":"j","status":"ready"}"#, JobStatus::Ready),
    ];
    for (body, status) in cases.clone() {
        let job = Job::from_json(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(job.status(), status, "{body}");
    }
    let failed = Job::from_json(cases[3].0.as_bytes()).unwrap();
    assert_eq!(failed.error(), Some("the job failed without a reason"));
    let legacy = Job::from_json(cases[1].0.as_bytes()).unwrap();
    assert_eq!(legacy.created_at.unix_millis(), Some(1_717_588_800_000));
    let missing_result = Job::from_json(cases[4].0.as_bytes()).unwrap();
    assert_eq!(missing_result.result().unwrap().raw_json(), "null");
    assert!(missing_result.result().unwrap().adverse_media().is_none());
}

#[test]
fn unknown_statuses_are_kept_and_not_terminal() {
    let job = Job::from_json(br#"{"jobId":"j","status":"on_hold","createdAt":1}"#).unwrap();
    assert_eq!(job.state, JobState::Unknown("on_hold".into()));
    assert!(!job.is_terminal());
    assert!(!JobStatus::parse("weird").is_terminal());
    assert_eq!(job.status_str(), "on_hold");
}

#[test]
fn wrong_shapes_are_invalid_responses() {
    for body in [
        "",
        "null",
        "[]",
        "{}",
        r#"{"jobId":1,"status":"ready"}"#,
        r#"{"jobId":"j"}"#,
        "<html></html>",
        "{\"jobId\":\"j\",\"status\":\"ready\"",
    ] {
        let e = Job::from_json(body.as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}");
        assert!(!e.to_string().contains('\n'));
    }
}

#[test]
fn jobs_serialize_in_the_api_field_names_and_round_trip() {
    let job = Job::from_json(REFERENCE.as_bytes()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&job.to_json()).unwrap();
    let reference: serde_json::Value = serde_json::from_str(REFERENCE).unwrap();
    assert_eq!(v, reference);
    assert_eq!(Job::from_json(job.to_json().as_bytes()).unwrap(), job);
}

#[test]
fn created_at_units() {
    let n = |x: serde_json::Value| {
        serde_json::from_value::<CreatedAt>(x)
            .unwrap()
            .unix_millis()
    };
    assert_eq!(
        n(serde_json::json!(1717593600000u64)),
        Some(1_717_593_600_000)
    );
    assert_eq!(n(serde_json::json!(1717593600)), Some(1_717_593_600_000));
    assert_eq!(
        n(serde_json::json!(99_999_999_999u64)),
        Some(99_999_999_999_000)
    );
    assert_eq!(
        n(serde_json::json!(100_000_000_000u64)),
        Some(100_000_000_000)
    );
    assert_eq!(n(serde_json::json!(1717593600.5)), Some(1_717_593_600_500));
    assert_eq!(n(serde_json::json!("soon")), None);
    assert_eq!(n(serde_json::json!(1e300)), None);
}

#[test]
fn job_ids() {
    for ok in [
        "job_1",
        "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
        "x%y",
        "ünï",
        "...",
    ] {
        assert!(JobId::new(ok).is_ok(), "{ok}");
    }
    let long = "x".repeat(257);
    for bad in [
        "",
        ".",
        "..",
        "a/b",
        "a\\b",
        "a?b",
        "a#b",
        "a\nb",
        "a\u{0}b",
        " a",
        long.as_str(),
    ] {
        let e = JobId::new(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        assert!(!e.to_string().contains('\n') && !e.to_string().contains('\u{0}'));
    }
    assert_eq!(
        JobId::new("x%y").unwrap().path_segment().to_string(),
        "x%25y"
    );
}

#[test]
fn only_a_429_is_rate_limited() {
    let error = |code: u16| {
        deepidv_core::error_from_response(
            http::StatusCode::from_u16(code).unwrap(),
            &http::HeaderMap::new(),
            br#"{"message":"slow down"}"#,
            None,
            std::time::SystemTime::UNIX_EPOCH,
            std::time::Duration::from_secs(60),
        )
    };
    assert!(error(429).is_rate_limited());
    for code in [400, 404, 500, 503] {
        assert!(!error(code).is_rate_limited(), "{code}");
    }
}
