//! The batch in PostgreSQL: any number of worker processes, on any number of
//! machines, share one batch. Each claims rows with `SELECT … FOR UPDATE SKIP
//! LOCKED` under a lease it renews while it lives; a dead worker's leases expire
//! and the others take its rows over.
//!
//! One batch per database (or per schema: put `options=-csearch_path%3Dname` in
//! the URL). The connection is plain TCP or a Unix socket: TLS to the database is
//! not supported yet.

use std::time::Duration;

use tokio_postgres::{Client, NoTls, Row};

use crate::input::Person;
use crate::store::{
    Counts, Finished, ITEM_COLUMNS, Item, Meta, NewRow, RECORD_COLUMNS, Record, SCHEMA, Store,
    Update, line_i64, now_ms,
};
use crate::{Error, Status};

/// The advisory lock that makes loading a batch exclusive ("deepidv" in ASCII).
const LOAD_LOCK: i64 = 0x0064_6565_7069_6476;

/// Serializes creating the tables: concurrent `CREATE TABLE IF NOT EXISTS` race in
/// PostgreSQL (a unique violation on `pg_type`) when workers start together.
const SCHEMA_LOCK: i64 = LOAD_LOCK + 1;

/// The database's clock in milliseconds: leases are compared on one clock, the server's.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// A batch in PostgreSQL: any number of worker processes, on any number of
/// machines, share it. Each claims rows with `SELECT … FOR UPDATE SKIP LOCKED`
/// under a lease it renews while it lives; a dead worker's leases expire and the
/// others take its rows over.
///
/// One batch per database (or per schema: put `options=-csearch_path%3Dname` in
/// the URL). The connection is plain TCP or a Unix socket: TLS to the database is
/// not supported yet.
#[derive(Debug)]
pub struct PostgresStore {
    client: Client,
}

/// `url` with any password replaced by `***`, for messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url
            .split_whitespace()
            .map(|kv| {
                if kv.to_ascii_lowercase().starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.find("password=") {
        Some(i) => {
            let end = tail[i..].find('&').map_or(tail.len(), |e| i + e);
            format!("{}password=***{}", &tail[..i], &tail[end..])
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

fn db_error(e: &tokio_postgres::Error) -> Error {
    Error::Store(format!(
        "database: {}",
        crate::input::one_line(&error_text(e))
    ))
}

fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                let t = s.to_string();
                if !text.contains(&t) {
                    text.push_str(": ");
                    text.push_str(&t);
                }
                source = s.source();
            }
            text
        }
    }
}

impl PostgresStore {
    /// Connects (without TLS), within `timeout`, and creates the tables if missing.
    /// Call it inside a tokio runtime.
    pub async fn connect(url: &str, timeout: Duration) -> Result<Self, Error> {
        let shown = redact_url(url);
        let fail = |why: String| {
            Error::State(format!(
                "cannot connect to the database at {shown}: {}",
                crate::input::one_line(&why)
            ))
        };
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| fail(error_text(&e)))?;
        config.connect_timeout(timeout);
        config.application_name("deepidv batch");
        let (client, connection) = tokio::time::timeout(timeout, config.connect(NoTls))
            .await
            .map_err(|_| fail(format!("no answer within {timeout:?}")))?
            .map_err(|e| fail(error_text(&e)))?;
        tokio::spawn(async move {
            // Its error reaches the queries too (as "connection closed").
            let _ = connection.await;
        });
        client
            .batch_execute(&format!(
                "SET client_min_messages = warning; BEGIN; SELECT pg_advisory_xact_lock({SCHEMA_LOCK}); \
                 {SCHEMA} COMMIT;"
            ))
            .await
            .map_err(|e| fail(error_text(&e)))?;
        Ok(Self { client })
    }

    async fn read_meta(&self) -> Result<Option<Meta>, Error> {
        let row = self
            .client
            .query_opt(
                "SELECT batch_id, fingerprint, input_name, loaded FROM deepidv_batch_meta WHERE id = 1",
                &[],
            )
            .await
            .map_err(|e| db_error(&e))?;
        Ok(row.map(|r| Meta {
            batch_id: r.get(0),
            fingerprint: r.get(1),
            input_name: r.get(2),
            loaded: r.get::<_, i64>(3) != 0,
        }))
    }
}

fn person(r: &Row) -> Person {
    Person {
        line: r.get::<_, i64>(0).try_into().unwrap_or_default(),
        reference: r.get(1),
        first_name: r.get::<_, Option<String>>(2).unwrap_or_default(),
        last_name: r.get::<_, Option<String>>(3).unwrap_or_default(),
        email: r.get::<_, Option<String>>(4).unwrap_or_default(),
        date_of_birth: r.get::<_, Option<String>>(5).unwrap_or_default(),
        country: r.get(6),
    }
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Store for PostgresStore {
    async fn meta(&self) -> Result<Option<Meta>, Error> {
        self.read_meta().await
    }

    async fn begin_load(&self, fingerprint: &str, input_name: &str) -> Result<Meta, Error> {
        // A session lock: held until finish_load, or released by the server if this
        // worker dies while loading.
        self.client
            .execute("SELECT pg_advisory_lock($1)", &[&LOAD_LOCK])
            .await
            .map_err(|e| db_error(&e))?;
        if let Some(meta) = self.read_meta().await?
            && meta.loaded
        {
            self.finish_load().await?;
            return Ok(meta);
        }
        let meta = Meta {
            batch_id: crate::new_batch_id(),
            fingerprint: fingerprint.to_owned(),
            input_name: input_name.to_owned(),
            loaded: false,
        };
        self.client
            .execute("DELETE FROM deepidv_batch_person", &[])
            .await
            .map_err(|e| db_error(&e))?;
        self.client
            .execute(
                "INSERT INTO deepidv_batch_meta (id, batch_id, fingerprint, input_name, loaded, created_ms) \
                 VALUES (1, $1, $2, $3, 0, $4) ON CONFLICT (id) DO UPDATE SET batch_id = $1, \
                 fingerprint = $2, input_name = $3, loaded = 0, created_ms = $4",
                &[&meta.batch_id, &meta.fingerprint, &meta.input_name, &now_ms()],
            )
            .await
            .map_err(|e| db_error(&e))?;
        Ok(meta)
    }

    async fn insert(&self, rows: Vec<NewRow>) -> Result<(), Error> {
        let n = rows.len();
        let mut cols: [Vec<Option<String>>; 9] = Default::default();
        let mut lines = Vec::with_capacity(n);
        for row in rows {
            let p = row.person;
            lines.push(line_i64(p.line));
            let values = [
                p.reference,
                Some(p.first_name),
                Some(p.last_name),
                Some(p.email),
                Some(p.date_of_birth),
                p.country,
                Some(row.idempotency_key),
                Some(row.status.as_str().to_owned()),
                row.error,
            ];
            for (c, v) in cols.iter_mut().zip(values) {
                c.push(v);
            }
        }
        let [a, b, c, d, e, f, g, h, i] = &cols;
        self.client
            .execute(
                "INSERT INTO deepidv_batch_person (line, reference, first_name, last_name, email, \
                 date_of_birth, country, idempotency_key, status, error, created_ms, updated_ms) \
                 SELECT u.*, $11, $11 FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], \
                 $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]) AS u \
                 ON CONFLICT (line) DO NOTHING",
                &[&lines, a, b, c, d, e, f, g, h, i, &now_ms()],
            )
            .await
            .map_err(|e| db_error(&e))?;
        Ok(())
    }

    async fn finish_load(&self) -> Result<(), Error> {
        self.client
            .batch_execute(&format!(
                "UPDATE deepidv_batch_meta SET loaded = 1 WHERE id = 1; \
                 SELECT pg_advisory_unlock({LOAD_LOCK})"
            ))
            .await
            .map_err(|e| db_error(&e))
    }

    async fn start(&self, _worker: &str) -> Result<(), Error> {
        Ok(())
    }

    async fn claim(&self, worker: &str, limit: usize, lease: Duration) -> Result<Vec<Item>, Error> {
        let limit = i64::try_from(limit).unwrap_or(1);
        let rows = self
            .client
            .query(
                &format!(
                    "UPDATE deepidv_batch_person SET lease_owner = $1, lease_until = {NOW_MS} + $2, \
                     attempts = attempts + 1 \
                     WHERE line IN (SELECT line FROM deepidv_batch_person \
                        WHERE status IN ('queued', 'created') \
                        AND (lease_until IS NULL OR lease_until < {NOW_MS}) \
                        ORDER BY line LIMIT $3 FOR UPDATE SKIP LOCKED) \
                     RETURNING {ITEM_COLUMNS}"
                ),
                &[&worker, &ms(lease), &limit],
            )
            .await
            .map_err(|e| db_error(&e))?;
        let mut items: Vec<Item> = rows
            .iter()
            .map(|r| Item {
                person: person(r),
                idempotency_key: r.get(7),
                job_id: r.get(8),
            })
            .collect();
        items.sort_unstable_by_key(|i| i.person.line);
        Ok(items)
    }

    async fn renew(&self, worker: &str, lease: Duration) -> Result<(), Error> {
        self.client
            .execute(
                &format!(
                    "UPDATE deepidv_batch_person SET lease_until = {NOW_MS} + $2 \
                     WHERE lease_owner = $1 AND status IN ('queued', 'created')"
                ),
                &[&worker, &ms(lease)],
            )
            .await
            .map_err(|e| db_error(&e))?;
        Ok(())
    }

    async fn update(&self, worker: &str, update: Update) -> Result<(), Error> {
        let now = now_ms();
        let result = match update {
            Update::Created { line, job_id } => {
                self.client
                    .execute(
                        "UPDATE deepidv_batch_person SET status = 'created', job_id = $1, updated_ms = $2 \
                         WHERE line = $3 AND status IN ('queued', 'created')",
                        &[&job_id, &now, &line_i64(line)],
                    )
                    .await
            }
            Update::Finished { line, outcome } => {
                let Finished {
                    status,
                    job_id,
                    risk_level,
                    risk_score,
                    hits,
                    result,
                    error,
                } = outcome;
                self.client
                    .execute(
                        "UPDATE deepidv_batch_person SET status = $1, job_id = coalesce($2, job_id), \
                         risk_level = $3, risk_score = $4, hits = $5, result = $6, error = $7, \
                         lease_owner = NULL, lease_until = NULL, updated_ms = $8 \
                         WHERE line = $9 AND status IN ('queued', 'created')",
                        &[
                            &status.as_str(),
                            &job_id,
                            &risk_level,
                            &risk_score,
                            &hits,
                            &result,
                            &error,
                            &now,
                            &line_i64(line),
                        ],
                    )
                    .await
            }
            Update::Released { line } => {
                self.client
                    .execute(
                        "UPDATE deepidv_batch_person SET lease_owner = NULL, lease_until = NULL \
                         WHERE line = $1 AND lease_owner = $2",
                        &[&line_i64(line), &worker],
                    )
                    .await
            }
        };
        result.map(drop).map_err(|e| db_error(&e))
    }

    async fn counts(&self) -> Result<Counts, Error> {
        let rows = self
            .client
            .query(
                "SELECT status, count(*) FROM deepidv_batch_person GROUP BY status",
                &[],
            )
            .await
            .map_err(|e| db_error(&e))?;
        let mut counts = Counts::default();
        for r in rows {
            counts.add(r.get(0), r.get::<_, i64>(1).try_into().unwrap_or_default());
        }
        Ok(counts)
    }

    async fn records(&self, after: u64, limit: usize) -> Result<Vec<Record>, Error> {
        let rows = self
            .client
            .query(
                &format!(
                    "SELECT {RECORD_COLUMNS} FROM deepidv_batch_person WHERE line > $1 \
                     ORDER BY line LIMIT $2"
                ),
                &[&line_i64(after), &i64::try_from(limit).unwrap_or(1)],
            )
            .await
            .map_err(|e| db_error(&e))?;
        Ok(rows
            .iter()
            .map(|r| {
                let status = Status::parse(r.get(8)).unwrap_or_default();
                Record {
                    person: person(r),
                    idempotency_key: r.get(7),
                    status,
                    job_id: r.get(9),
                    attempts: r.get(10),
                    outcome: Finished {
                        status,
                        job_id: r.get(9),
                        risk_level: r.get(11),
                        risk_score: r.get(12),
                        hits: r.get(13),
                        result: r.get(14),
                        error: r.get(15),
                    },
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_never_shown() {
        assert_eq!(
            redact_url("postgres://bob:s3cret@db:5432/x?sslmode=disable"),
            "postgres://bob:***@db:5432/x?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgresql://db/x?user=a&password=s3cret&x=1"),
            "postgresql://db/x?user=a&password=***&x=1"
        );
        assert_eq!(
            redact_url("host=db password=s3cret user=a"),
            "host=db password=*** user=a"
        );
        assert_eq!(redact_url("postgres://db/x"), "postgres://db/x");
    }
}
