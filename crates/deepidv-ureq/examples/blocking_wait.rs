//! Creates an adverse-media screening and waits for it, printing each status
//! change, with the blocking client.
//!
//! ```sh
//! cargo run -p deepidv-ureq --example blocking_wait               # against a local simulator
//! DEEPIDV_API_KEY=sk_test_… DEEPIDV_BASE_URL=https://api.deepidv.com \
//!     cargo run -p deepidv-ureq --example blocking_wait           # against a real server
//! ```

use std::time::{Duration, Instant};

use deepidv_ureq::{AdverseMediaRequest, ApiKey, BaseUrl, Client, Config, Error};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(i32::from(e.code()));
    }
}

fn run() -> Result<(), Error> {
    // No DEEPIDV_BASE_URL: start the simulator in this process, so this runs offline.
    let (client, _mock) = match std::env::var("DEEPIDV_BASE_URL") {
        Ok(url) if !url.trim().is_empty() => (Client::from_env()?, None),
        _ => {
            let mock = deepidv_mock::MockServer::start_background(Default::default())
                .map_err(|e| Error::new(deepidv_ureq::ErrorKind::Internal, e.to_string()))?;
            println!(
                "no DEEPIDV_BASE_URL: using a local simulator at {}",
                mock.url()
            );
            let mut config = Config::new(ApiKey::new(deepidv_mock::DEFAULT_API_KEY)?)
                .with_base_url(BaseUrl::parse(&mock.url())?);
            // The simulator's jobs take under two seconds: poll often enough to see each step.
            config.poll.interval = Duration::from_millis(300);
            config.poll.max_interval = Duration::from_secs(1);
            (Client::new(config)?, Some(mock))
        }
    };

    let person = AdverseMediaRequest::new(
        "Ada",
        "Lovelace",
        "ada@example.com",
        "1815-12-10",
        Some("GB"),
    )?;
    let created = client.create_adverse_media(&person, None)?;
    println!("created job {} ({})", created.job_id, created.status);

    let started = Instant::now();
    let mut last = None;
    for item in client.watch(&created.id()?) {
        let job = item?;
        println!("{:>7.2?}  {}", started.elapsed(), job.status());
        last = Some(job);
    }
    match last.as_ref().and_then(|job| job.result()) {
        Some(result) => match result.adverse_media() {
            Some(r) => println!(
                "risk {} (score {}), {} hits: {}",
                r.risk_level
                    .map_or_else(|| "?".to_owned(), |l| l.to_string()),
                r.risk_score.unwrap_or_default(),
                r.total_hits,
                r.summary
            ),
            None => println!("{}", result.raw_json()),
        },
        None => {
            if let Some(reason) = last.as_ref().and_then(|job| job.error()) {
                println!("failed: {reason}");
            }
        }
    }
    Ok(())
}
