//! Parsing a large ready adverse-media job (50 findings, all 9 categories), beside its
//! baselines: `serde_json::Value`, and a bare `#[derive(Deserialize)]` struct of the
//! same shape. Two levels: the envelope only (the result kept as raw JSON, as
//! `Job::from_json` does) and envelope + typed result (`result().adverse_media()`).
//!
//! `cargo bench -p deepidv-core --bench parse -- --quick`

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use deepidv_core::Job;
use serde::Deserialize;
use serde_json::value::RawValue;

const FIXTURE: &[u8] = include_bytes!("fixtures/adverse_media_many.json");

/// The envelope with the result left raw: what `Job::from_json` keeps.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // fields are read only by the deserializer
struct BareEnvelope {
    job_id: String,
    status: String,
    created_at: u64,
    updated_at: Option<String>,
    result: Option<Box<RawValue>>,
    error: Option<String>,
}

/// The whole job, typed, the way a bare hand-written client would declare it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // fields are read only by the deserializer
struct BareJob {
    job_id: String,
    status: String,
    created_at: u64,
    updated_at: Option<String>,
    result: Option<BareResult>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // fields are read only by the deserializer
struct BareResult {
    total_hits: u64,
    risk_level: String,
    risk_score: f64,
    summary: String,
    findings: Vec<BareFinding>,
    exposures_by_category: BTreeMap<String, BareExposure>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // fields are read only by the deserializer
struct BareFinding {
    finding_id: String,
    severity: String,
    category: String,
    title: String,
    detail: String,
    source_url: Option<String>,
    source_name: Option<String>,
    article_date: Option<String>,
    confidence: Option<f64>,
    confirmed_by: Vec<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)] // fields are read only by the deserializer
struct BareExposure {
    hits: u64,
    articles: Vec<BareArticle>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // fields are read only by the deserializer
struct BareArticle {
    timestamp: Option<String>,
    headline: String,
    source_link: Option<String>,
    source: String,
}

fn check_fixture() {
    let job = Job::from_json(FIXTURE).expect("fixture parses");
    let am = job
        .result()
        .and_then(|r| r.adverse_media())
        .expect("typed result");
    assert_eq!(am.findings.len(), 50, "fixture: 50 findings");
    assert_eq!(
        am.exposures_by_category.len(),
        9,
        "fixture: all 9 categories"
    );
    let bare: BareJob = serde_json::from_slice(FIXTURE).expect("bare struct parses");
    assert_eq!(bare.result.map(|r| r.findings.len()), Some(50));
}

fn envelope(c: &mut Criterion) {
    check_fixture();
    let mut g = c.benchmark_group("parse_envelope");
    g.throughput(Throughput::Bytes(FIXTURE.len() as u64));
    g.bench_function("deepidv_job_from_json", |b| {
        b.iter(|| {
            let job = Job::from_json(black_box(FIXTURE)).unwrap();
            black_box(job.status_str().len())
        })
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(FIXTURE)).unwrap();
            black_box(v)
        })
    });
    g.bench_function("bare_struct_raw_result", |b| {
        b.iter(|| {
            let v: BareEnvelope = serde_json::from_slice(black_box(FIXTURE)).unwrap();
            black_box(v)
        })
    });
    g.finish();
}

fn typed(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_typed");
    g.throughput(Throughput::Bytes(FIXTURE.len() as u64));
    g.bench_function("deepidv_job_from_json_adverse_media", |b| {
        b.iter(|| {
            let job = Job::from_json(black_box(FIXTURE)).unwrap();
            let am = job.result().and_then(|r| r.adverse_media()).unwrap();
            black_box((job, am))
        })
    });
    g.bench_function("serde_json_value", |b| {
        b.iter(|| {
            let v: serde_json::Value = serde_json::from_slice(black_box(FIXTURE)).unwrap();
            black_box(v)
        })
    });
    g.bench_function("bare_struct_typed", |b| {
        b.iter(|| {
            let v: BareJob = serde_json::from_slice(black_box(FIXTURE)).unwrap();
            black_box(v)
        })
    });
    g.finish();
}

criterion_group!(benches, envelope, typed);
criterion_main!(benches);
