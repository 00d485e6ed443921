//! `deepidv batch run | status | export`: bulk screening over `deepidv-batch`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use deepidv_batch::{
    Counts, DATABASE_URL_ENV, Error, ExportFormat, Input, PostgresStore, Progress, RunOptions,
    SqliteStore, Store,
};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::args::{Cli, LateKey, Output};
use deepidv_core::parse_duration;

/// `batch …`.
#[derive(Subcommand, Debug)]
pub enum BatchCommand {
    /// Screen every person of a CSV or JSON-lines file; run it again after any crash to continue.
    ///
    /// Exit codes: 0 every person ready, 1 some jobs failed or were given up (see the export),
    /// 2 bad input (nothing sent), 7 the API stayed unavailable (state kept: run again).
    Run(RunArgs),
    /// Count the people per state: queued, created, ready, failed, skipped, gave up.
    Status(StoreArgs),
    /// Write one line per person: ref, the input, job id, status, risk, hits, the raw result, any error.
    Export(ExportArgs),
}

/// Where the batch is kept.
#[derive(Args, Debug, Clone)]
pub struct StoreArgs {
    /// The state file (SQLite, created with mode 0600): one process at a time. Wins over --database.
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// A PostgreSQL database (postgres://…, no TLS yet) shared by any number of workers.
    #[arg(long, value_name = "URL", env = DATABASE_URL_ENV, hide_env_values = true)]
    pub database: Option<String>,
}

/// `batch run` flags.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// The people: CSV with a header row (firstName, lastName, email, dateOfBirth, country, ref), or JSON lines.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Creations per second for this process, e.g. `50/s` (default: no limit but the API's 429s).
    #[arg(long, value_name = "N/s", value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Jobs in flight at once.
    #[arg(long, value_name = "N", default_value_t = deepidv_batch::DEFAULT_CONCURRENCY, value_parser = clap::value_parser!(usize))]
    pub concurrency: usize,
    /// Store invalid rows as skipped and screen the others (default: refuse to start).
    #[arg(long)]
    pub skip_invalid: bool,
    /// How long a worker's claim on a row lasts without renewal (PostgreSQL), e.g. `30s`.
    #[arg(long, value_name = "DUR", value_parser = parse_duration, default_value = "30s")]
    pub lease: Duration,
    #[command(flatten)]
    pub key: LateKey,
}

/// `batch export` flags.
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The format.
    #[arg(long, value_enum)]
    pub format: ExportKind,
}

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ExportKind {
    /// One JSON object per line, the raw result embedded.
    Jsonl,
    /// A header row, then one row per person.
    Csv,
}

/// Reads `50/s`, `50` or `2.5/s`.
fn parse_rate(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let n = t.strip_suffix("/s").unwrap_or(t).trim();
    match n.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "expected a rate like 50/s (creations per second), not {t:?}"
        )),
    }
}

/// The API key of a run, from `--api-key` (either place) or the environment.
pub fn late_key(cmd: &BatchCommand) -> Option<&str> {
    match cmd {
        BatchCommand::Run(r) => r.key.api_key.as_deref(),
        _ => None,
    }
}

enum Which {
    Sqlite(PathBuf),
    Postgres(String),
}

fn which(args: &StoreArgs) -> Result<Which, Error> {
    match (&args.state, &args.database) {
        (Some(path), _) => Ok(Which::Sqlite(path.clone())),
        (None, Some(url)) if !url.trim().is_empty() => Ok(Which::Postgres(url.clone())),
        _ => Err(Error::State(format!(
            "say where the batch is kept: --state FILE, or --database postgres://… (or {DATABASE_URL_ENV})"
        ))),
    }
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs a `batch` command; returns the exit code.
pub fn main(cli: &Cli, cmd: &BatchCommand, stderr_tty: bool, secret: Option<&str>) -> u8 {
    let say = |e: &Error| {
        let text = deepidv_core::sanitize::terminal_safe(&e.to_string(), secret);
        eprintln!("error: {text}");
        e.code()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return say(&Error::Internal(format!("cannot start the runtime: {e}"))),
    };
    let outcome = runtime.block_on(async {
        match cmd {
            BatchCommand::Run(args) => run(cli, args, stderr_tty, secret).await,
            BatchCommand::Status(args) => status(cli.output, args).await,
            BatchCommand::Export(args) => export(args).await,
        }
    });
    // Tasks still parked on the API (after an error) are dropped, not awaited.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match outcome {
        Ok(code) => code,
        Err(e) => say(&e),
    }
}

async fn run(
    cli: &Cli,
    args: &RunArgs,
    stderr_tty: bool,
    secret: Option<&str>,
) -> Result<u8, Error> {
    // Every check before anything is read or stored.
    let key = args
        .key
        .api_key
        .as_deref()
        .or(cli.api_key.as_deref())
        .filter(|k| !k.trim().is_empty())
        .ok_or_else(|| {
            Error::InvalidInput("no API key: set DEEPIDV_API_KEY or pass --api-key".to_owned())
        })?;
    let config = crate::config(cli, key, "cli batch")?;
    if args.concurrency == 0 {
        return Err(Error::InvalidInput(
            "--concurrency must be at least 1".to_owned(),
        ));
    }
    let client = deepidv_reqwest::Client::new(config)?;
    let input = Input::open(&args.input)?;
    let options = RunOptions {
        rate: args.rate,
        concurrency: args.concurrency,
        lease: args.lease,
        ..RunOptions::default()
    };
    match which(&args.store)? {
        Which::Sqlite(path) => {
            let store = Arc::new(SqliteStore::open(&path)?);
            let prepared = deepidv_batch::prepare(&*store, &input, args.skip_invalid).await;
            let prepared = match prepared {
                Ok(p) => p,
                Err(e) => {
                    if store.created() {
                        // Nothing was stored: leave no empty state file behind.
                        drop(store);
                        remove_state(&path);
                    }
                    return Err(list_rows(e, secret));
                }
            };
            report_skipped(&prepared, secret);
            execute(store, client, options, stderr_tty, cli.output).await
        }
        Which::Postgres(url) => {
            let store = Arc::new(PostgresStore::connect(&url, CONNECT_TIMEOUT).await?);
            let prepared = deepidv_batch::prepare(&*store, &input, args.skip_invalid)
                .await
                .map_err(|e| list_rows(e, secret))?;
            report_skipped(&prepared, secret);
            execute(store, client, options, stderr_tty, cli.output).await
        }
    }
}

fn remove_state(path: &Path) {
    let _ = std::fs::remove_file(path);
    for suffix in ["-wal", "-shm"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// Bad rows are listed on stderr (at most 100), one per line, before the error line.
fn list_rows(e: Error, secret: Option<&str>) -> Error {
    if let Error::InvalidRows { rows, .. } = &e {
        for row in rows.iter().take(100) {
            eprintln!(
                "  {}",
                deepidv_core::sanitize::terminal_safe(&row.to_string(), secret)
            );
        }
        if rows.len() > 100 {
            eprintln!("  … and {} more", rows.len() - 100);
        }
    }
    e
}

fn report_skipped(prepared: &deepidv_batch::Prepared, secret: Option<&str>) {
    for row in prepared.skipped.iter().take(100) {
        eprintln!(
            "skipped {}",
            deepidv_core::sanitize::terminal_safe(&row.to_string(), secret)
        );
    }
    if prepared.skipped.len() > 100 {
        eprintln!("skipped … and {} more", prepared.skipped.len() - 100);
    }
}

async fn execute<S: Store>(
    store: Arc<S>,
    client: deepidv_reqwest::Client,
    options: RunOptions,
    stderr_tty: bool,
    output: Output,
) -> Result<u8, Error> {
    let progress = Arc::new(Progress::default());
    let bar = stderr_tty.then(|| show_progress(Arc::clone(&store), Arc::clone(&progress)));
    let outcome = deepidv_batch::run(store, client, options, progress).await;
    if let Some((bar, ticker)) = bar {
        ticker.abort();
        bar.finish_and_clear();
    }
    let counts = outcome?;
    print_counts(output, &counts);
    Ok(if counts.failed + counts.gave_up > 0 || counts.open() > 0 {
        1
    } else {
        0
    })
}

/// A bar of the whole batch (every worker's people, from the store), with this
/// process's own counts beside it.
fn show_progress<S: Store>(
    store: Arc<S>,
    progress: Arc<Progress>,
) -> (ProgressBar, tokio::task::JoinHandle<()>) {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{bar:30} {pos}/{len} {msg} ({per_sec}, ETA {eta})")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    let shown = bar.clone();
    let ticker = tokio::spawn(async move {
        loop {
            if let Ok(c) = store.counts().await {
                shown.set_length(c.total() - c.skipped);
                shown.set_position(c.ready + c.failed + c.gave_up);
            }
            shown.set_message(format!(
                "created {}, ready {}, failed {}, gave up {}",
                progress.created.load(Ordering::Relaxed),
                progress.ready.load(Ordering::Relaxed),
                progress.failed.load(Ordering::Relaxed),
                progress.gave_up.load(Ordering::Relaxed),
            ));
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    (bar, ticker)
}

fn print_counts(output: Output, c: &Counts) {
    let text = match output {
        Output::Json => format!(
            "{}\n",
            serde_json::json!({
                "queued": c.queued,
                "created": c.created,
                "ready": c.ready,
                "failed": c.failed,
                "skipped": c.skipped,
                "gaveUp": c.gave_up,
                "total": c.total(),
            })
        ),
        Output::Text => format!(
            "queued   {}\ncreated  {}\nready    {}\nfailed   {}\nskipped  {}\ngave up  {}\ntotal    {}\n",
            c.queued,
            c.created,
            c.ready,
            c.failed,
            c.skipped,
            c.gave_up,
            c.total()
        ),
    };
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

async fn status(output: Output, args: &StoreArgs) -> Result<u8, Error> {
    let counts = match which(args)? {
        Which::Sqlite(path) => SqliteStore::open_read(&path)?.counts().await?,
        Which::Postgres(url) => {
            PostgresStore::connect(&url, CONNECT_TIMEOUT)
                .await?
                .counts()
                .await?
        }
    };
    print_counts(output, &counts);
    Ok(0)
}

async fn export(args: &ExportArgs) -> Result<u8, Error> {
    let format = match args.format {
        ExportKind::Jsonl => ExportFormat::JsonLines,
        ExportKind::Csv => ExportFormat::Csv,
    };
    let stdout = std::io::stdout();
    match which(&args.store)? {
        Which::Sqlite(path) => {
            let store = SqliteStore::open_read(&path)?;
            deepidv_batch::export(&store, format, stdout.lock()).await?;
        }
        Which::Postgres(url) => {
            let store = PostgresStore::connect(&url, CONNECT_TIMEOUT).await?;
            deepidv_batch::export(&store, format, stdout.lock()).await?;
        }
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::parse_rate;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("50/s"), Ok(50.0));
        assert_eq!(parse_rate("2.5"), Ok(2.5));
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("-1/s").is_err());
    }
}
