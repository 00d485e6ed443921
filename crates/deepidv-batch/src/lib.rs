//! Bulk screening on the deepidv API: a whole customer base, resumable, at a rate.
//!
//! Every person of the input is a row in a [`Store`] before any request is made
//! for them, with a deterministic `Idempotency-Key` (derived from the batch and the
//! row's identity). A run claims unfinished rows, creates their screenings at the
//! allowed rate, waits for each and records the outcome. A process killed at any
//! moment, `kill -9` included, loses nothing: running again continues, and a
//! creation that was in flight is replayed by the API (same key), never billed
//! twice.
//!
//! - [`SqliteStore`]: an embedded file (created with mode 0600: it holds personal
//!   data), one process at a time.
//! - [`PostgresStore`]: the same schema in PostgreSQL; any number of worker
//!   processes share one batch, claiming rows under leases. TLS to the database
//!   is not supported yet.
//!
//! The API key is never stored.
//!
//! ```no_run
//! use std::sync::Arc;
//! use deepidv_batch::{Input, Progress, RunOptions, SqliteStore, prepare, run};
//!
//! # async fn go() -> Result<(), deepidv_batch::Error> {
//! let client = deepidv_reqwest::Client::from_env()?;   // DEEPIDV_API_KEY
//! let input = Input::open("people.csv")?;
//! let store = Arc::new(SqliteStore::open("batch.db")?);
//! prepare(&*store, &input, false).await?;              // validates and loads, or resumes
//! let options = RunOptions { rate: Some(10.0), ..RunOptions::default() };
//! let counts = run(store.clone(), client, options, Arc::new(Progress::default())).await?;
//! println!("{} ready, {} failed", counts.ready, counts.failed);
//! deepidv_batch::export(&*store, deepidv_batch::ExportFormat::JsonLines, std::io::stdout()).await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod input;
mod postgres;
mod run;
mod store;

use std::hash::{BuildHasher as _, RandomState};
use std::io::Write;

use deepidv_core::IdempotencyKey;
use sha2::{Digest as _, Sha256};

pub use input::{COLUMNS, Format, Input, MAX_REF_CHARS, Person, RowError, Rows, Validation};
pub use postgres::{PostgresStore, redact_url};
pub use run::{DEFAULT_CONCURRENCY, DEFAULT_LEASE, Limiter, Progress, RunOptions, run};
pub use store::{Counts, Finished, Item, Meta, NewRow, Record, SqliteStore, Store, Update};

/// The environment variable naming the PostgreSQL database of a batch.
pub const DATABASE_URL_ENV: &str = "DEEPIDV_BATCH_DATABASE_URL";

/// Where one person stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Status {
    /// In the store; no job known yet.
    #[default]
    Queued,
    /// The job exists; its outcome is not known yet.
    Created,
    /// The job is ready; the result is stored.
    Ready,
    /// The job failed.
    Failed,
    /// An invalid input row, skipped (`--skip-invalid`).
    Skipped,
    /// Given up: the API refused this person, or the job expired or never finished.
    GaveUp,
}

impl Status {
    /// The name stored and exported.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Created => "created",
            Self::Ready => "ready",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
            Self::GaveUp => "gave_up",
        }
    }

    /// Reads a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => Self::Queued,
            "created" => Self::Created,
            "ready" => Self::Ready,
            "failed" => Self::Failed,
            "skipped" => Self::Skipped,
            "gave_up" => Self::GaveUp,
            _ => return None,
        })
    }
}

/// What went wrong, as one line. [`Error::code`] is the CLI's exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input cannot be read as a whole (missing file, missing columns).
    #[error("{0}")]
    InvalidInput(String),
    /// Some rows are invalid (and `skip_invalid` was not given).
    #[error("{input}: {} invalid row{}, nothing sent (first: {}); fix them or pass --skip-invalid", rows.len(), if rows.len() == 1 { "" } else { "s" }, rows.first().map(ToString::to_string).unwrap_or_default())]
    InvalidRows {
        /// The input file.
        input: String,
        /// Every bad row, in input order.
        rows: Vec<RowError>,
    },
    /// The state cannot be used: unreadable, in use, from another batch, or the
    /// database is unreachable. Nothing was sent.
    #[error("{0}")]
    State(String),
    /// The store failed during a run (state kept: run again to continue).
    #[error("{0}")]
    Store(String),
    /// The API stopped the run (unavailable past the retries, or a bad key).
    #[error("{}", .0.message())]
    Api(#[from] deepidv_core::Error),
    /// A bug.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub(crate) fn input(path: &std::path::Path, e: std::io::Error) -> Self {
        Self::InvalidInput(format!("cannot read input {}: {e}", path.display()))
    }

    /// The outcome code: 2 for bad input or state (nothing sent), 7 when the API or
    /// the store became unavailable (state kept), the API error's own code otherwise.
    pub fn code(&self) -> u8 {
        match self {
            Self::InvalidInput(_) | Self::InvalidRows { .. } | Self::State(_) => 2,
            Self::Store(_) => 7,
            Self::Api(e) => e.code(),
            Self::Internal(_) => 9,
        }
    }
}

/// 16 bytes from the OS CSPRNG; should the OS have none to give, the clocks (these ids only need to differ
/// between batches and workers, not to be secret).
fn random_bytes() -> [u8; 16] {
    let mut b = [0u8; 16];
    if getrandom::fill(&mut b).is_err() {
        let a = RandomState::new().hash_one(std::time::Instant::now());
        let c = RandomState::new().hash_one(std::time::SystemTime::now());
        b = ((u128::from(a) << 64) | u128::from(c)).to_be_bytes();
    }
    b
}

/// A fresh batch id (UUID-like).
pub(crate) fn new_batch_id() -> String {
    IdempotencyKey::from_random(random_bytes())
        .as_str()
        .to_owned()
}

/// A fresh worker name.
pub fn new_worker_id() -> String {
    format!("w-{}", input::hex(&random_bytes()[..8]))
}

/// The `Idempotency-Key` of a person in a batch: a SHA-256 of the batch id and the
/// row's identity (its `ref`, or its line when it has none), written like a UUID
/// (version 8, RFC 9562's custom layout). The same person of the same batch always
/// gets the same key, so a creation repeated after a crash is a replay.
pub fn idempotency_key(batch_id: &str, person: &Person) -> String {
    let identity = match &person.reference {
        Some(r) => format!("ref:{r}"),
        None => format!("line:{}", person.line),
    };
    let digest = Sha256::new()
        .chain_update(batch_id.as_bytes())
        .chain_update([0u8])
        .chain_update(identity.as_bytes())
        .finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    IdempotencyKey::from_uuid_bytes(b).as_str().to_owned()
}

/// What [`prepare`] did.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The batch.
    pub meta: Meta,
    /// The store held this batch already (nothing was read but the input's hash).
    pub resumed: bool,
    /// Rows stored as skipped (only with `skip_invalid`).
    pub skipped: Vec<RowError>,
}

/// Makes `store` hold `input`'s batch: when it already does, that is all (a
/// resume); when it holds another batch, an error; otherwise every row is
/// validated first (nothing is stored if any is bad, unless `skip_invalid`: then
/// they are stored as skipped), then loaded.
pub async fn prepare<S: Store>(
    store: &S,
    input: &Input,
    skip_invalid: bool,
) -> Result<Prepared, Error> {
    let fingerprint = input.fingerprint()?;
    let name = input.path().display().to_string();
    let other = |meta: &Meta| {
        Error::State(format!(
            "the state holds another batch (batch {}, from input {}), not {name}: pass that \
             input to resume it, or a new state to start a new batch",
            meta.batch_id, meta.input_name
        ))
    };
    if let Some(meta) = store.meta().await?
        && meta.loaded
    {
        if meta.fingerprint != fingerprint {
            return Err(other(&meta));
        }
        return Ok(Prepared {
            meta,
            resumed: true,
            skipped: Vec::new(),
        });
    }
    let validation = input.validate()?;
    if !validation.invalid.is_empty() && !skip_invalid {
        return Err(Error::InvalidRows {
            input: name,
            rows: validation.invalid,
        });
    }
    let meta = store.begin_load(&fingerprint, &name).await?;
    if meta.loaded {
        // Another worker loaded it meanwhile.
        if meta.fingerprint != fingerprint {
            return Err(other(&meta));
        }
        return Ok(Prepared {
            meta,
            resumed: true,
            skipped: Vec::new(),
        });
    }
    let mut chunk = Vec::with_capacity(1000);
    for row in input.rows()? {
        let new = match row {
            Ok(person) => NewRow {
                idempotency_key: idempotency_key(&meta.batch_id, &person),
                person,
                status: Status::Queued,
                error: None,
            },
            Err(e) => {
                let person = Person {
                    line: e.line,
                    reference: e.reference.clone(),
                    first_name: String::new(),
                    last_name: String::new(),
                    email: String::new(),
                    date_of_birth: String::new(),
                    country: None,
                };
                NewRow {
                    idempotency_key: idempotency_key(&meta.batch_id, &person),
                    person,
                    status: Status::Skipped,
                    error: Some(e.reason),
                }
            }
        };
        chunk.push(new);
        if chunk.len() == chunk.capacity() {
            store.insert(std::mem::take(&mut chunk)).await?;
            chunk.reserve(1000);
        }
    }
    if !chunk.is_empty() {
        store.insert(chunk).await?;
    }
    store.finish_load().await?;
    Ok(Prepared {
        meta: Meta {
            loaded: true,
            ..meta
        },
        resumed: false,
        skipped: validation.invalid,
    })
}

/// Formats of [`export`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON object per person, the raw result embedded as JSON.
    JsonLines,
    /// A header row, then one row per person; the raw result as a JSON string.
    Csv,
}

/// The CSV export's columns.
pub const EXPORT_COLUMNS: [&str; 15] = [
    "ref",
    "line",
    "firstName",
    "lastName",
    "email",
    "dateOfBirth",
    "country",
    "jobId",
    "status",
    "riskLevel",
    "riskScore",
    "hits",
    "error",
    "attempts",
    "result",
];

/// Writes one line per person, in input order, read from the store a page at a
/// time. Returns how many were written.
///
/// A reader that goes away (`| head`) ends the export quietly: `Ok` with the
/// count written so far.
pub async fn export<S: Store, W: Write>(
    store: &S,
    format: ExportFormat,
    out: W,
) -> Result<u64, Error> {
    let mut n = 0;
    match export_to(store, format, out, &mut n).await {
        Ok(()) => Ok(n),
        Err(Stop::Store(e)) => Err(e),
        Err(Stop::Write(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(n),
        Err(Stop::Write(e)) => Err(Error::InvalidInput(format!("cannot write the export: {e}"))),
    }
}

enum Stop {
    Store(Error),
    Write(std::io::Error),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Self {
        Self::Store(e)
    }
}

async fn export_to<S: Store, W: Write>(
    store: &S,
    format: ExportFormat,
    out: W,
    n: &mut u64,
) -> Result<(), Stop> {
    let io = |e: std::io::Error| Stop::Write(e);
    let out = std::io::BufWriter::with_capacity(256 * 1024, out);
    let (mut csv, mut json) = match format {
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(EXPORT_COLUMNS).map_err(|e| io(e.into()))?;
            (Some(w), None)
        }
        ExportFormat::JsonLines => (None, Some(out)),
    };
    let mut after = 0;
    loop {
        let page = store.records(after, 1000).await?;
        let Some(last) = page.last() else { break };
        after = last.person.line;
        for r in page {
            *n += 1;
            let o = &r.outcome;
            if let Some(w) = &mut csv {
                let text = |v: &Option<String>| v.clone().unwrap_or_default();
                w.write_record([
                    text(&r.person.reference),
                    r.person.line.to_string(),
                    r.person.first_name.clone(),
                    r.person.last_name.clone(),
                    r.person.email.clone(),
                    r.person.date_of_birth.clone(),
                    text(&r.person.country),
                    text(&r.job_id),
                    r.status.as_str().to_owned(),
                    text(&o.risk_level),
                    o.risk_score.map(|s| s.to_string()).unwrap_or_default(),
                    o.hits.map(|h| h.to_string()).unwrap_or_default(),
                    text(&o.error),
                    r.attempts.to_string(),
                    text(&o.result),
                ])
                .map_err(|e| io(e.into()))?;
            }
            if let Some(out) = &mut json {
                let result = o
                    .result
                    .as_deref()
                    .and_then(|s| serde_json::value::RawValue::from_string(s.to_owned()).ok());
                let line = serde_json::json!({
                    "ref": r.person.reference,
                    "line": r.person.line,
                    "firstName": r.person.first_name,
                    "lastName": r.person.last_name,
                    "email": r.person.email,
                    "dateOfBirth": r.person.date_of_birth,
                    "country": r.person.country,
                    "idempotencyKey": r.idempotency_key,
                    "jobId": r.job_id,
                    "status": r.status.as_str(),
                    "riskLevel": o.risk_level,
                    "riskScore": o.risk_score,
                    "hits": o.hits,
                    "error": o.error,
                    "attempts": r.attempts,
                    "result": result,
                });
                serde_json::to_writer(&mut *out, &line).map_err(|e| io(e.into()))?;
                out.write_all(b"\n").map_err(io)?;
            }
        }
    }
    if let Some(w) = &mut csv {
        w.flush().map_err(io)?;
    }
    if let Some(out) = &mut json {
        out.flush().map_err(io)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(line: u64, reference: Option<&str>) -> Person {
        Person {
            line,
            reference: reference.map(str::to_owned),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            date_of_birth: "1815-12-10".into(),
            country: None,
        }
    }

    #[test]
    fn keys_are_deterministic_per_batch_and_identity() {
        let a = idempotency_key("b1", &person(2, Some("c-1")));
        assert_eq!(a, idempotency_key("b1", &person(9, Some("c-1"))));
        assert_ne!(a, idempotency_key("b2", &person(2, Some("c-1"))));
        assert_ne!(a, idempotency_key("b1", &person(2, Some("c-2"))));
        assert_ne!(
            idempotency_key("b1", &person(2, None)),
            idempotency_key("b1", &person(3, None))
        );
        assert_eq!(a.len(), 36);
        assert!(deepidv_core::IdempotencyKey::new(a).is_ok());
    }

    #[test]
    fn statuses_round_trip() {
        for s in [
            Status::Queued,
            Status::Created,
            Status::Ready,
            Status::Failed,
            Status::Skipped,
            Status::GaveUp,
        ] {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("nope"), None);
    }
}
