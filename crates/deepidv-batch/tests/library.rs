//! The library on its own (no CLI): a batch from a JSON-lines file into SQLite,
//! run against an in-process simulator, exported.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use deepidv_batch::{
    ExportFormat, Input, Progress, RunOptions, SqliteStore, Status, Store, export, prepare, run,
};
use deepidv_core::{ApiKey, BaseUrl, Config};
use deepidv_mock::{DEFAULT_API_KEY, MockConfig, MockServer};

fn client(mock: &MockServer) -> deepidv_reqwest::Client {
    let config = Config::new(ApiKey::new(DEFAULT_API_KEY).unwrap())
        .with_base_url(BaseUrl::parse(&mock.url()).unwrap());
    deepidv_reqwest::Client::new(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_from_json_lines_runs_and_exports() {
    let dir = std::env::temp_dir().join(format!("deepidv-batch-lib-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input_path = dir.join("people.jsonl");
    let mut text = String::new();
    for i in 0..40 {
        let last = if i == 7 { "Fail" } else { "Doe" };
        text.push_str(&format!(
            "{{\"ref\":\"r{i}\",\"firstName\":\"Jo{i}\",\"lastName\":\"{last}\",\"email\":\"jo{i}@example.com\",\"dateOfBirth\":\"1980-02-0{}\"}}\n",
            1 + i % 9
        ));
    }
    std::fs::write(&input_path, text).unwrap();
    let state = dir.join("state.db");
    let _ = std::fs::remove_file(&state);

    let mock = MockServer::start_background(MockConfig::instant()).unwrap();
    let input = Input::open(&input_path).unwrap();
    let store = Arc::new(SqliteStore::open(&state).unwrap());
    let prepared = prepare(&*store, &input, false).await.unwrap();
    assert!(!prepared.resumed);
    let progress = Arc::new(Progress::default());
    let options = RunOptions {
        concurrency: 8,
        ..RunOptions::default()
    };
    let counts = run(store.clone(), client(&mock), options, progress.clone())
        .await
        .unwrap();
    assert_eq!((counts.ready, counts.failed, counts.open()), (39, 1, 0));
    assert_eq!(progress.created.load(Ordering::Relaxed), 40);
    assert_eq!(progress.finished(), 40);
    assert_eq!(mock.stats().total_creations, 40);

    // Preparing again resumes: nothing re-read but the hash, nothing re-sent.
    let again = prepare(&*store, &input, false).await.unwrap();
    assert!(again.resumed);
    assert_eq!(again.meta, prepared.meta);

    let mut out = Vec::new();
    assert_eq!(
        export(&*store, ExportFormat::JsonLines, &mut out)
            .await
            .unwrap(),
        40
    );
    let rows: Vec<serde_json::Value> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(rows[7]["status"], "failed");
    assert_eq!(rows[7]["ref"], "r7");
    assert!(rows[0]["result"]["riskLevel"].is_string());
    assert_eq!(rows[0]["riskLevel"], rows[0]["result"]["riskLevel"]);
    let records = store.records(0, 100).await.unwrap();
    assert_eq!(
        records.iter().filter(|r| r.status == Status::Ready).count(),
        39
    );
}
