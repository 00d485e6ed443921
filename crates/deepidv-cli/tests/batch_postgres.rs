//! `deepidv batch` on a real PostgreSQL server: four workers on one batch, one
//! killed mid-run. Needs a server named by the libpq variables (`PGHOST`,
//! `PGPORT`, `PGUSER`, `PGPASSWORD`; `scripts/test` runs the tests under
//! `pg_virtualenv`, which starts a throwaway cluster and sets them). Without one
//! the tests say they were skipped, unless `DEEPIDV_REQUIRE_ALL=1` (CI).

mod batch_support;

use std::process::Command;
use std::time::{Duration, Instant};

use batch_support::*;
use deepidv_mock::{MockConfig, MockServer};

/// A fresh database for `name`, as a connection string; `None` (skipped) without a server.
fn database(name: &str) -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if var("PGHOST").is_none() && var("PGPORT").is_none() {
        assert!(
            std::env::var("DEEPIDV_REQUIRE_ALL").as_deref() != Ok("1"),
            "DEEPIDV_REQUIRE_ALL=1 but no PostgreSQL server: run the tests under pg_virtualenv (scripts/test does)"
        );
        eprintln!("skipped: no PostgreSQL server (set PGHOST/PGPORT, or run under pg_virtualenv)");
        return None;
    }
    let db = format!("deepidv_{name}");
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        let out = Command::new("psql")
            .args(["-v", "ON_ERROR_STOP=1", "-d", "postgres", "-c", &sql])
            .output()
            .expect("run psql");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut url = format!("dbname={db}");
    for (var_name, key) in [
        ("PGHOST", "host"),
        ("PGPORT", "port"),
        ("PGUSER", "user"),
        ("PGPASSWORD", "password"),
    ] {
        if let Some(v) = var(var_name) {
            url.push_str(&format!(" {key}={v}"));
        }
    }
    Some(url)
}

#[test]
fn four_workers_share_a_batch_and_finish_a_killed_ones_rows() {
    let Some(url) = database("four_workers") else {
        return;
    };
    let n = 2000;
    let dir = scratch("batch-pg-workers");
    let input = people_csv(&dir, n);
    let sim = SimProcess::start(&[
        "--latency",
        "3ms",
        "--pending",
        "0ms",
        "--processing",
        "0ms",
    ]);
    let args = [
        "run",
        "--input",
        input.to_str().unwrap(),
        "--database",
        &url,
        "--lease",
        "2s",
        "--concurrency",
        "32",
    ];
    let start = Instant::now();
    let mut workers: Vec<_> = (0..4).map(|_| spawn(&sim, &args)).collect();
    // Kill one once the batch is under way (it holds leased rows then): after a
    // random tenth to a fifth of the creations, not after a fixed time, which a
    // fast machine can outrun.
    let started = Instant::now();
    let kill_at = (n as u64 / 10) + random(n as u64 / 10);
    while sim.stats().total_creations < kill_at {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the batch did not get under way: {:?}",
            sim.stats()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // The victim is a worker still running; one that already ended must have ended well.
    let mut ended = Vec::new();
    let victim = loop {
        assert!(!workers.is_empty(), "every worker ended before the kill");
        let mut w = workers.remove(0);
        if w.try_wait().unwrap().is_none() {
            break w;
        }
        ended.push(finish(w));
    };
    for done in ended {
        assert_eq!(done.code, 0, "a worker ended early: {done:#?}");
    }
    let mut victim = victim;
    victim.kill().unwrap(); // SIGKILL: its leases are never released
    let _ = victim.wait();
    for w in workers {
        let done = finish(w);
        assert_eq!(done.code, 0, "{done:#?}");
    }
    eprintln!(
        "{n} people, 4 workers (one killed): {:.1}s",
        start.elapsed().as_secs_f64()
    );
    created_once_each(&sim, n);
    all_ready(&export(&sim, &["--database", &url]), n);
    // status reads the database named by the environment too.
    let out = Command::new(env!("CARGO_BIN_EXE_deepidv"))
        .args(["batch", "status", "-o", "json"])
        .env("DEEPIDV_BATCH_DATABASE_URL", &url)
        .output()
        .unwrap();
    let counts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(counts["ready"], n, "{counts}");
    assert_eq!(counts["queued"], 0);
    assert_eq!(counts["created"], 0);
}

#[test]
fn a_database_holding_another_batch_is_refused() {
    let Some(url) = database("other_batch") else {
        return;
    };
    let dir = scratch("batch-pg-other");
    let a = people_csv(&dir, 5);
    let b = dir.join("b.csv");
    std::fs::write(
        &b,
        "firstName,lastName,email,dateOfBirth\nZed,Zee,z@example.com,1970-01-01\n",
    )
    .unwrap();
    let sim = MockServer::start_background(MockConfig::instant()).unwrap();
    let done = batch(
        &sim,
        &["run", "--input", a.to_str().unwrap(), "--database", &url],
    );
    assert_eq!(done.code, 0, "{done:#?}");
    let sent = sim.requests().len();
    let done = batch(
        &sim,
        &["run", "--input", b.to_str().unwrap(), "--database", &url],
    );
    assert_eq!(done.code, 2, "{done:#?}");
    assert!(
        done.error_line().contains("holds another batch"),
        "{done:#?}"
    );
    assert_eq!(sim.requests().len(), sent);
    assert_eq!(export(&sim, &["--database", &url]).len(), 5);
}

#[test]
fn workers_starting_together_on_a_fresh_database_all_get_in() {
    let Some(url) = database("fresh_start") else {
        return;
    };
    // Concurrent CREATE TABLE IF NOT EXISTS collide in PostgreSQL unless serialized.
    let children: Vec<_> = (0..8)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_deepidv"))
                .args(["batch", "status", "-o", "json", "--database", &url])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let counts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(counts["total"], 0);
    }
}
