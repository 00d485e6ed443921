//! Where a batch lives: one row per person, written before any request is made
//! for them. [`Store`] is the interface; [`SqliteStore`] (an embedded file, one
//! process) and [`PostgresStore`](crate::PostgresStore) (many workers) keep the
//! same schema.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::input::Person;
use crate::{Error, Status};

/// The tables, the same in SQLite and PostgreSQL (types both understand).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS deepidv_batch_meta (
    id BIGINT PRIMARY KEY,
    batch_id TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    input_name TEXT NOT NULL,
    loaded BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS deepidv_batch_person (
    line BIGINT PRIMARY KEY,
    reference TEXT,
    first_name TEXT,
    last_name TEXT,
    email TEXT,
    date_of_birth TEXT,
    country TEXT,
    idempotency_key TEXT NOT NULL,
    status TEXT NOT NULL,
    job_id TEXT,
    attempts BIGINT NOT NULL DEFAULT 0,
    risk_level TEXT,
    risk_score DOUBLE PRECISION,
    hits BIGINT,
    result TEXT,
    error TEXT,
    lease_owner TEXT,
    lease_until BIGINT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS deepidv_batch_person_open
    ON deepidv_batch_person (line) WHERE status IN ('queued', 'created');
";

/// What ties a store to its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Meta {
    /// A random id made when the batch was loaded; idempotency keys derive from it.
    pub batch_id: String,
    /// SHA-256 of the input file ([`Input::fingerprint`](crate::Input::fingerprint)).
    pub fingerprint: String,
    /// The input's file name, for messages.
    pub input_name: String,
    /// Every row of the input is in the store.
    pub loaded: bool,
}

/// A row to insert when loading.
#[derive(Debug, Clone)]
pub struct NewRow {
    /// The person (for a skipped row: what could be read of it).
    pub person: Person,
    /// Its Idempotency-Key, derived from the batch and the row's identity.
    pub idempotency_key: String,
    /// [`Status::Queued`], or [`Status::Skipped`] for an invalid row.
    pub status: Status,
    /// Why a row was skipped.
    pub error: Option<String>,
}

/// A row claimed for work.
#[derive(Debug, Clone)]
pub struct Item {
    /// The person.
    pub person: Person,
    /// Its Idempotency-Key.
    pub idempotency_key: String,
    /// The job, once created.
    pub job_id: Option<String>,
}

/// How a person's screening ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Finished {
    /// [`Status::Ready`], [`Status::Failed`] or [`Status::GaveUp`].
    pub status: Status,
    /// The job id, if one was created.
    pub job_id: Option<String>,
    /// The result's risk level.
    pub risk_level: Option<String>,
    /// The result's risk score.
    pub risk_score: Option<f64>,
    /// The result's hit count.
    pub hits: Option<i64>,
    /// The raw result JSON.
    pub result: Option<String>,
    /// Why it failed or was given up.
    pub error: Option<String>,
}

/// A change to one row.
#[derive(Debug, Clone)]
pub enum Update {
    /// The job was created (or replayed).
    Created {
        /// The row.
        line: u64,
        /// The job id.
        job_id: String,
    },
    /// The screening ended.
    Finished {
        /// The row.
        line: u64,
        /// How.
        outcome: Finished,
    },
    /// The worker lets go of the row unfinished (another worker, or the next run, takes it).
    Released {
        /// The row.
        line: u64,
    },
}

/// How many people are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Not created yet.
    pub queued: u64,
    /// Created, not finished.
    pub created: u64,
    /// Ready, with a result.
    pub ready: u64,
    /// The job failed.
    pub failed: u64,
    /// Invalid input row (with `--skip-invalid`).
    pub skipped: u64,
    /// Given up (rejected by the API, expired, or never finished).
    pub gave_up: u64,
}

impl Counts {
    /// Every person.
    pub fn total(&self) -> u64 {
        self.queued + self.created + self.ready + self.failed + self.skipped + self.gave_up
    }

    /// People still to finish.
    pub fn open(&self) -> u64 {
        self.queued + self.created
    }

    pub(crate) fn add(&mut self, status: &str, n: u64) {
        match Status::parse(status) {
            Some(Status::Queued) => self.queued += n,
            Some(Status::Created) => self.created += n,
            Some(Status::Ready) => self.ready += n,
            Some(Status::Failed) => self.failed += n,
            Some(Status::Skipped) => self.skipped += n,
            Some(Status::GaveUp) => self.gave_up += n,
            None => {}
        }
    }
}

/// One person as exported.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The person as read (fields may be empty for a skipped row).
    pub person: Person,
    /// The Idempotency-Key used.
    pub idempotency_key: String,
    /// Where the person stands.
    pub status: Status,
    /// The job id, once created.
    pub job_id: Option<String>,
    /// Requests started for this person (creations and waits, across runs).
    pub attempts: i64,
    /// The outcome, once finished.
    pub outcome: Finished,
}

/// A batch's storage. Every method is one short transaction (or statement), so a
/// process killed at any moment leaves a consistent store.
pub trait Store: Send + Sync + 'static {
    /// The batch this store holds, if any.
    fn meta(&self) -> impl Future<Output = Result<Option<Meta>, Error>> + Send;

    /// Starts loading `fingerprint`'s rows, exclusively (other workers calling it
    /// wait). When the store already holds a loaded batch it is returned as is
    /// (`loaded: true`), and nothing else happens; otherwise the store is emptied,
    /// a new batch id is made, and the caller must [`Store::insert`] the rows and
    /// call [`Store::finish_load`].
    fn begin_load(
        &self,
        fingerprint: &str,
        input_name: &str,
    ) -> impl Future<Output = Result<Meta, Error>> + Send;

    /// Inserts rows (a row already there is left alone).
    fn insert(&self, rows: Vec<NewRow>) -> impl Future<Output = Result<(), Error>> + Send;

    /// Marks the batch loaded, and lets other workers in.
    fn finish_load(&self) -> impl Future<Output = Result<(), Error>> + Send;

    /// Called once before a run claims anything.
    fn start(&self, worker: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// Takes up to `limit` unfinished rows no live worker holds, leased to
    /// `worker` for `lease`, in input order.
    fn claim(
        &self,
        worker: &str,
        limit: usize,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<Item>, Error>> + Send;

    /// Extends `worker`'s leases by `lease` from now.
    fn renew(
        &self,
        worker: &str,
        lease: Duration,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Records a change. A finished row is never changed again.
    fn update(
        &self,
        worker: &str,
        update: Update,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// People per state.
    fn counts(&self) -> impl Future<Output = Result<Counts, Error>> + Send;

    /// Up to `limit` people after line `after`, in input order.
    fn records(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<Record>, Error>> + Send;
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The columns [`Record`]s are read from, in order.
pub(crate) const RECORD_COLUMNS: &str = "line, reference, first_name, last_name, email, \
    date_of_birth, country, idempotency_key, status, job_id, attempts, risk_level, risk_score, \
    hits, result, error";

/// The columns [`Item`]s are read from, in order.
pub(crate) const ITEM_COLUMNS: &str = "line, reference, first_name, last_name, email, \
    date_of_birth, country, idempotency_key, job_id";

/// The batch in an embedded SQLite file: one process at a time (a run holds a
/// lock on the file), any number of readers (`status`, `export`) beside it.
///
/// The file is created with mode 0600 (it holds personal data), in WAL mode with
/// `synchronous=NORMAL`: every committed change survives the process being killed.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<SqliteInner>,
}

#[derive(Debug)]
struct SqliteInner {
    conn: Mutex<Connection>,
    path: PathBuf,
    created: bool,
    // Declared after `conn`, so it is released after SQLite has closed the file.
    _lock: Option<std::fs::File>,
}

impl SqliteStore {
    /// Opens (or creates, mode 0600) the state file for a run: the one process
    /// writing it. Another run on the same file is refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        Self::open_with(path.as_ref(), true)
    }

    /// Opens an existing state file to read it (`status`, `export`), beside a run.
    pub fn open_read(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        if !path.exists() {
            return Err(Error::State(format!(
                "state file {} does not exist",
                path.display()
            )));
        }
        Self::open_with(path, false)
    }

    /// `true` when [`SqliteStore::open`] created the file.
    pub fn created(&self) -> bool {
        self.inner.created
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn open_with(path: &Path, run: bool) -> Result<Self, Error> {
        let bad = |e: &dyn std::fmt::Display| {
            Error::State(format!(
                "cannot use state file {}: {}",
                path.display(),
                crate::input::one_line(&e.to_string())
            ))
        };
        let mut created = false;
        if run && !path.exists() {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            options.open(path).map_err(|e| bad(&e))?;
            created = true;
        }
        if path.is_dir() {
            return Err(bad(&"it is a directory"));
        }
        let lock = if run {
            let file = std::fs::File::open(path).map_err(|e| bad(&e))?;
            match file.try_lock() {
                Ok(()) => Some(file),
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Error::State(format!(
                        "state file {} is in use by another `deepidv batch run`",
                        path.display()
                    )));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(bad(&e)),
            }
        } else {
            None
        };
        let conn = Connection::open_with_flags(
            path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| bad(&e))?;
        conn.busy_timeout(Duration::from_secs(10))
            .map_err(|e| bad(&e))?;
        // Reading the schema is what tells a database from any other file.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| bad(&e))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| bad(&e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(|e| bad(&e))?;
        if run {
            conn.execute_batch(SCHEMA).map_err(|e| bad(&e))?;
        } else {
            let tables: i64 = conn
                .query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'deepidv_batch_person'",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| bad(&e))?;
            if tables == 0 {
                return Err(bad(&"not a deepidv batch state file"));
            }
        }
        Ok(Self {
            inner: Arc::new(SqliteInner {
                conn: Mutex::new(conn),
                path: path.to_path_buf(),
                created,
                _lock: lock,
            }),
        })
    }

    /// Runs `f` on the connection, on tokio's blocking pool.
    async fn with<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        let result = tokio::task::spawn_blocking(move || {
            let mut conn = inner
                .conn
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            f(&mut conn).map_err(|e| {
                Error::Store(format!(
                    "state file {}: {}",
                    inner.path.display(),
                    crate::input::one_line(&e.to_string())
                ))
            })
        })
        .await;
        result.map_err(|e| Error::Internal(format!("the state file's task ended: {e}")))?
    }
}

fn read_meta(conn: &Connection) -> rusqlite::Result<Option<Meta>> {
    conn.query_row(
        "SELECT batch_id, fingerprint, input_name, loaded FROM deepidv_batch_meta WHERE id = 1",
        [],
        |r| {
            Ok(Meta {
                batch_id: r.get(0)?,
                fingerprint: r.get(1)?,
                input_name: r.get(2)?,
                loaded: r.get::<_, i64>(3)? != 0,
            })
        },
    )
    .optional()
}

fn person_from_sqlite(r: &rusqlite::Row<'_>) -> rusqlite::Result<Person> {
    Ok(Person {
        line: r.get::<_, i64>(0)?.try_into().unwrap_or_default(),
        reference: r.get(1)?,
        first_name: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
        last_name: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
        email: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
        date_of_birth: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
        country: r.get(6)?,
    })
}

pub(crate) fn line_i64(line: u64) -> i64 {
    i64::try_from(line).unwrap_or(i64::MAX)
}

impl Store for SqliteStore {
    async fn meta(&self) -> Result<Option<Meta>, Error> {
        self.with(|c| read_meta(c)).await
    }

    async fn begin_load(&self, fingerprint: &str, input_name: &str) -> Result<Meta, Error> {
        let (fingerprint, input_name) = (fingerprint.to_owned(), input_name.to_owned());
        self.with(move |c| {
            let tx = c.transaction()?;
            if let Some(meta) = read_meta(&tx)?
                && meta.loaded
            {
                return Ok(meta);
            }
            let meta = Meta {
                batch_id: crate::new_batch_id(),
                fingerprint,
                input_name,
                loaded: false,
            };
            tx.execute("DELETE FROM deepidv_batch_person", [])?;
            tx.execute(
                "INSERT OR REPLACE INTO deepidv_batch_meta \
                 (id, batch_id, fingerprint, input_name, loaded, created_ms) VALUES (1, ?1, ?2, ?3, 0, ?4)",
                params![meta.batch_id, meta.fingerprint, meta.input_name, now_ms()],
            )?;
            tx.commit()?;
            Ok(meta)
        })
        .await
    }

    async fn insert(&self, rows: Vec<NewRow>) -> Result<(), Error> {
        self.with(move |c| {
            let tx = c.transaction()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO deepidv_batch_person (line, reference, first_name, \
                     last_name, email, date_of_birth, country, idempotency_key, status, error, \
                     created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)",
                )?;
                let now = now_ms();
                for row in rows {
                    let p = row.person;
                    stmt.execute(params![
                        line_i64(p.line),
                        p.reference,
                        p.first_name,
                        p.last_name,
                        p.email,
                        p.date_of_birth,
                        p.country,
                        row.idempotency_key,
                        row.status.as_str(),
                        row.error,
                        now
                    ])?;
                }
            }
            tx.commit()
        })
        .await
    }

    async fn finish_load(&self) -> Result<(), Error> {
        self.with(|c| {
            c.execute("UPDATE deepidv_batch_meta SET loaded = 1 WHERE id = 1", [])
                .map(drop)
        })
        .await
    }

    async fn start(&self, _worker: &str) -> Result<(), Error> {
        // This process holds the file's lock: no lease of another run is alive.
        self.with(|c| {
            c.execute(
                "UPDATE deepidv_batch_person SET lease_owner = NULL, lease_until = NULL \
                 WHERE lease_owner IS NOT NULL",
                [],
            )
            .map(drop)
        })
        .await
    }

    async fn claim(
        &self,
        worker: &str,
        limit: usize,
        _lease: Duration,
    ) -> Result<Vec<Item>, Error> {
        let worker = worker.to_owned();
        self.with(move |c| {
            let tx = c.transaction()?;
            let items = {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {ITEM_COLUMNS} FROM deepidv_batch_person \
                     WHERE status IN ('queued', 'created') AND lease_owner IS NULL \
                     ORDER BY line LIMIT ?1"
                ))?;
                let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(1)], |r| {
                    Ok(Item {
                        person: person_from_sqlite(r)?,
                        idempotency_key: r.get(7)?,
                        job_id: r.get(8)?,
                    })
                })?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE deepidv_batch_person SET lease_owner = ?1, attempts = attempts + 1 \
                     WHERE line = ?2",
                )?;
                for item in &items {
                    stmt.execute(params![worker, line_i64(item.person.line)])?;
                }
            }
            tx.commit()?;
            Ok(items)
        })
        .await
    }

    async fn renew(&self, _worker: &str, _lease: Duration) -> Result<(), Error> {
        // One process per file: its leases last as long as it does.
        Ok(())
    }

    async fn update(&self, worker: &str, update: Update) -> Result<(), Error> {
        let worker = worker.to_owned();
        self.with(move |c| {
            let now = now_ms();
            match update {
                Update::Created { line, job_id } => c
                    .prepare_cached(
                        "UPDATE deepidv_batch_person SET status = 'created', job_id = ?1, \
                         updated_ms = ?2 WHERE line = ?3 AND status IN ('queued', 'created')",
                    )?
                    .execute(params![job_id, now, line_i64(line)])
                    .map(drop),
                Update::Finished { line, outcome } => c
                    .prepare_cached(
                        "UPDATE deepidv_batch_person SET status = ?1, job_id = coalesce(?2, job_id), \
                         risk_level = ?3, risk_score = ?4, hits = ?5, result = ?6, error = ?7, \
                         lease_owner = NULL, lease_until = NULL, updated_ms = ?8 \
                         WHERE line = ?9 AND status IN ('queued', 'created')",
                    )?
                    .execute(params![
                        outcome.status.as_str(),
                        outcome.job_id,
                        outcome.risk_level,
                        outcome.risk_score,
                        outcome.hits,
                        outcome.result,
                        outcome.error,
                        now,
                        line_i64(line)
                    ])
                    .map(drop),
                Update::Released { line } => c
                    .prepare_cached(
                        "UPDATE deepidv_batch_person SET lease_owner = NULL, lease_until = NULL \
                         WHERE line = ?1 AND lease_owner = ?2",
                    )?
                    .execute(params![line_i64(line), worker])
                    .map(drop),
            }
        })
        .await
    }

    async fn counts(&self) -> Result<Counts, Error> {
        self.with(|c| {
            let mut stmt =
                c.prepare("SELECT status, count(*) FROM deepidv_batch_person GROUP BY status")?;
            let mut counts = Counts::default();
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
            for row in rows {
                let (status, n) = row?;
                counts.add(&status, n.try_into().unwrap_or_default());
            }
            Ok(counts)
        })
        .await
    }

    async fn records(&self, after: u64, limit: usize) -> Result<Vec<Record>, Error> {
        self.with(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM deepidv_batch_person WHERE line > ?1 ORDER BY line LIMIT ?2"
            ))?;
            let rows = stmt.query_map(
                params![line_i64(after), i64::try_from(limit).unwrap_or(1)],
                |r| {
                    let status: String = r.get(8)?;
                    let status = Status::parse(&status).unwrap_or_default();
                    Ok(Record {
                        person: person_from_sqlite(r)?,
                        idempotency_key: r.get(7)?,
                        status,
                        job_id: r.get(9)?,
                        attempts: r.get(10)?,
                        outcome: Finished {
                            status,
                            job_id: r.get(9)?,
                            risk_level: r.get(11)?,
                            risk_score: r.get(12)?,
                            hits: r.get(13)?,
                            result: r.get(14)?,
                            error: r.get(15)?,
                        },
                    })
                },
            )?;
            rows.collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(line: u64) -> Person {
        Person {
            line,
            reference: Some(format!("r{line}")),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            email: "ada@example.com".into(),
            date_of_birth: "1815-12-10".into(),
            country: None,
        }
    }

    async fn loaded(path: &Path, n: u64) -> SqliteStore {
        let store = SqliteStore::open(path).unwrap();
        let meta = store.begin_load("fp", "in.csv").await.unwrap();
        assert!(!meta.loaded);
        let rows = (2..2 + n)
            .map(|line| NewRow {
                idempotency_key: crate::idempotency_key(&meta.batch_id, &person(line)),
                person: person(line),
                status: Status::Queued,
                error: None,
            })
            .collect();
        store.insert(rows).await.unwrap();
        store.finish_load().await.unwrap();
        store
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("deepidv-batch-store-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        path
    }

    #[tokio::test]
    async fn claims_never_hand_out_a_row_twice_and_finished_rows_stay_finished() {
        let path = temp("claims.db");
        let store = loaded(&path, 5).await;
        store.start("w").await.unwrap();
        let first = store.claim("w", 3, Duration::from_secs(30)).await.unwrap();
        let lines: Vec<u64> = first.iter().map(|i| i.person.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        let second = store.claim("w", 10, Duration::from_secs(30)).await.unwrap();
        let lines: Vec<u64> = second.iter().map(|i| i.person.line).collect();
        assert_eq!(lines, [5, 6], "rows in flight are not claimed again");
        assert!(
            store
                .claim("w", 10, Duration::from_secs(30))
                .await
                .unwrap()
                .is_empty()
        );

        store
            .update(
                "w",
                Update::Created {
                    line: 2,
                    job_id: "job_a".into(),
                },
            )
            .await
            .unwrap();
        let done = Finished {
            status: Status::Ready,
            result: Some("{}".into()),
            ..Finished::default()
        };
        store
            .update(
                "w",
                Update::Finished {
                    line: 2,
                    outcome: done,
                },
            )
            .await
            .unwrap();
        // A late write from a stale task never turns a finished row back.
        store
            .update(
                "w",
                Update::Created {
                    line: 2,
                    job_id: "job_b".into(),
                },
            )
            .await
            .unwrap();
        store
            .update("w", Update::Released { line: 3 })
            .await
            .unwrap();
        let counts = store.counts().await.unwrap();
        assert_eq!((counts.ready, counts.queued, counts.total()), (1, 4, 5));
        let records = store.records(0, 10).await.unwrap();
        assert_eq!(records[0].job_id.as_deref(), Some("job_a"));
        assert_eq!(records[0].status, Status::Ready);
        // The released row is claimable again; the others stay this run's.
        let again = store.claim("w", 10, Duration::from_secs(30)).await.unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].person.line, 3);
        drop(store);

        // The next run (the process died) takes every unfinished row back, once.
        let store = SqliteStore::open(&path).unwrap();
        assert!(store.meta().await.unwrap().unwrap().loaded);
        store.start("w2").await.unwrap();
        let lines: Vec<u64> = store
            .claim("w2", 10, Duration::from_secs(30))
            .await
            .unwrap()
            .iter()
            .map(|i| i.person.line)
            .collect();
        assert_eq!(lines, [3, 4, 5, 6]);
    }

    #[tokio::test]
    async fn one_run_per_state_file() {
        let path = temp("lock.db");
        let store = loaded(&path, 1).await;
        let err = SqliteStore::open(&path).unwrap_err();
        assert!(err.to_string().contains("in use by another"), "{err}");
        assert_eq!(err.code(), 2);
        // Readers are welcome beside the run.
        let reader = SqliteStore::open_read(&path).unwrap();
        assert_eq!(reader.counts().await.unwrap().queued, 1);
        drop(store);
        assert!(
            SqliteStore::open(&path).is_ok(),
            "the lock ends with the run"
        );
    }

    #[tokio::test]
    async fn a_loaded_batch_is_never_reloaded() {
        let path = temp("reload.db");
        let store = loaded(&path, 2).await;
        let before = store.meta().await.unwrap().unwrap();
        let again = store.begin_load("other", "x.csv").await.unwrap();
        assert_eq!(
            again, before,
            "begin_load on a loaded store changes nothing"
        );
        assert_eq!(store.counts().await.unwrap().total(), 2);
    }
}
