//! The [`Store`]: one code path over SQLite and PostgreSQL.
//!
//! Every query is written once with `$n` placeholders (SQLite accepts them
//! too) and run through [`on_pool!`], which expands the same body for each
//! driver. Only the DDL differs per backend.

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use zeroize::Zeroizing;

use crate::error::StoreError;
use crate::types::{
    AppliedOp, Backend, ConsentWrite, EnrollmentId, Loaded, OpRecord, RevocationRow, StateChange,
    StoredEnrollment, TokenUse,
};
use crate::url::redact_url;

/// The schema version this build writes and accepts. Version 2: the op log
/// is the Merkle transparency log (no hash chain), consent state is stored.
/// Version 3: log leaves commit to salted entry bodies (which erasure may
/// replace), and the subject's signed consent is kept per enrollment.
pub const SCHEMA_VERSION: i64 = 3;

/// Rows fetched per round trip by [`Store::load`].
const LOAD_PAGE: i64 = 4096;

const SQLITE_SCHEMA: &[&str] = &[
    // `INTEGER PRIMARY KEY` makes seq the rowid: the table is stored in seq
    // order, so reading a range is a sequential scan.
    "CREATE TABLE oplog (seq INTEGER PRIMARY KEY, entry BLOB NOT NULL)",
    "CREATE TABLE log_hashes (level INTEGER NOT NULL, idx INTEGER NOT NULL,
        hash BLOB NOT NULL CHECK (length(hash) = 32), PRIMARY KEY (level, idx))",
    "CREATE TABLE enrollments (
        enrolled_seq INTEGER PRIMARY KEY,
        id BLOB NOT NULL UNIQUE CHECK (length(id) = 16),
        kind TEXT NOT NULL,
        share BLOB NOT NULL,
        subject TEXT,
        last_used_ms INTEGER NOT NULL)",
    "CREATE TABLE token_uses (subject TEXT NOT NULL, token BLOB NOT NULL, uses INTEGER NOT NULL,
        expires_ms INTEGER NOT NULL, PRIMARY KEY (subject, token))",
    "CREATE TABLE revocations (seq INTEGER NOT NULL, subject TEXT NOT NULL, token BLOB,
        before_ms INTEGER)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE consent_records (id BLOB PRIMARY KEY CHECK (length(id) = 16),
        seq INTEGER NOT NULL, record BLOB NOT NULL)",
];

const PG_SCHEMA: &[&str] = &[
    "CREATE TABLE oplog (seq BIGINT PRIMARY KEY, entry BYTEA NOT NULL)",
    "CREATE TABLE log_hashes (level SMALLINT NOT NULL, idx BIGINT NOT NULL,
        hash BYTEA NOT NULL CHECK (length(hash) = 32), PRIMARY KEY (level, idx))",
    "CREATE TABLE enrollments (
        enrolled_seq BIGINT PRIMARY KEY,
        id BYTEA NOT NULL UNIQUE CHECK (length(id) = 16),
        kind TEXT NOT NULL,
        share BYTEA NOT NULL,
        subject TEXT,
        last_used_ms BIGINT NOT NULL)",
    // Shares are uniformly random: do not try to compress them, store them
    // out of line in the TOAST table as they are.
    "ALTER TABLE enrollments ALTER COLUMN share SET STORAGE EXTERNAL",
    "CREATE TABLE token_uses (subject TEXT NOT NULL, token BYTEA NOT NULL, uses BIGINT NOT NULL,
        expires_ms BIGINT NOT NULL, PRIMARY KEY (subject, token))",
    "CREATE TABLE revocations (seq BIGINT NOT NULL, subject TEXT NOT NULL, token BYTEA,
        before_ms BIGINT)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL)",
    "CREATE TABLE consent_records (id BYTEA PRIMARY KEY CHECK (length(id) = 16),
        seq BIGINT NOT NULL, record BYTEA NOT NULL)",
];

/// Runs the same body against whichever pool the store holds.
macro_rules! on_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            Pool::Postgres($p) => $body,
            Pool::Sqlite($p) => $body,
        }
    };
}

enum Pool {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

// Identity Weaving's read of the subject column (its own file, its own `impl Store`).
#[path = "subjects.rs"]
mod subjects;

/// Options for [`Store::open_with`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StoreOptions {
    /// How long to wait for a database connection (and, on SQLite, for a
    /// lock) before failing. By default, 10 seconds.
    pub connect_timeout: Duration,
    /// Pool size. By default, 4. (An in-memory SQLite database always uses 1.)
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(10),
            max_connections: 4,
        }
    }
}

impl StoreOptions {
    /// Sets [`StoreOptions::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`StoreOptions::max_connections`] (at least 1).
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }
}

/// A node's durable storage: the op log and its current enrollments.
///
/// One process should own a store: [`Store::apply`] calls are serialized
/// within the process, and the seq check inside each transaction (plus the
/// op log's primary key) refuses anything another writer slipped in.
pub struct Store {
    pool: Pool,
    /// Serializes writers so that the read-head-then-insert in `apply` never
    /// races another `apply` of this process.
    write_lock: tokio::sync::Mutex<()>,
    /// A delete was committed but its scrub has not completed yet.
    scrub_pending: AtomicBool,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Deliberately no URL: it may carry a password.
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `url` with default options.
    ///
    /// * `sqlite://PATH` (or `sqlite:PATH`, `sqlite::memory:`): the file is
    ///   created if missing and opened with `journal_mode=WAL`,
    ///   `synchronous=FULL` and `secure_delete=ON` (deleted content is
    ///   overwritten with zeros in the file).
    /// * `postgres://USER[:PASSWORD]@HOST:PORT/DB` (or `postgresql://`).
    ///
    /// Creates the schema if absent; refuses a database whose
    /// `schema_version` is newer than [`SCHEMA_VERSION`] with
    /// [`StoreError::Schema`].
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, &StoreOptions::default()).await
    }

    /// [`Store::open`] with explicit options.
    pub async fn open_with(url: &str, options: &StoreOptions) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open {
            url_redacted: redact_url(url),
            source,
        };
        let pool = if url.starts_with("sqlite:") {
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let connect = SqliteConnectOptions::from_str(url)
                .map_err(open_err)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .pragma("secure_delete", "ON")
                .busy_timeout(options.connect_timeout);
            let mut pool = SqlitePoolOptions::new()
                .max_connections(if memory { 1 } else { options.max_connections })
                .acquire_timeout(options.connect_timeout);
            if memory {
                // An in-memory database lives exactly as long as its one connection.
                pool = pool
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None);
            }
            Pool::Sqlite(pool.connect_with(connect).await.map_err(open_err)?)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let connect = PgConnectOptions::from_str(url).map_err(open_err)?;
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections)
                .acquire_timeout(options.connect_timeout)
                .connect_with(connect)
                .await
                .map_err(open_err)?;
            Pool::Postgres(pool)
        } else {
            return Err(StoreError::UnsupportedUrl {
                url_redacted: redact_url(url),
            });
        };
        let store = Self {
            pool,
            write_lock: tokio::sync::Mutex::new(()),
            scrub_pending: AtomicBool::new(false),
        };
        store.init_schema().await.map_err(|e| match e {
            StoreError::Database(source) => open_err(source),
            other => other,
        })?;
        Ok(store)
    }

    /// Which database this store runs on.
    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Postgres(_) => Backend::Postgres,
            Pool::Sqlite(_) => Backend::Sqlite,
        }
    }

    async fn init_schema(&self) -> Result<(), StoreError> {
        let ddl = match self.backend() {
            Backend::Postgres => PG_SCHEMA,
            Backend::Sqlite => SQLITE_SCHEMA,
        };
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            sqlx::query("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
                .execute(&mut *tx)
                .await?;
            let found: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_version")
                .fetch_one(&mut *tx)
                .await?;
            match found {
                None => {
                    for stmt in ddl {
                        sqlx::query(*stmt).execute(&mut *tx).await?;
                    }
                    sqlx::query("INSERT INTO schema_version (version) VALUES ($1)")
                        .bind(SCHEMA_VERSION)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                }
                Some(SCHEMA_VERSION) => tx.rollback().await?,
                Some(found) => {
                    tx.rollback().await?;
                    return Err(StoreError::Schema {
                        found,
                        supported: SCHEMA_VERSION,
                    });
                }
            }
        });
        Ok(())
    }

    /// Everything a node needs at start-up: the enrollments in gallery order,
    /// the log length and the consent state, read from one consistent snapshot.
    pub async fn load(&self) -> Result<Loaded, StoreError> {
        let mut enrollments = Vec::new();
        let mut loaded = self
            .load_with(|e| {
                enrollments.push(e);
                Ok(())
            })
            .await?;
        loaded.enrollments = enrollments;
        Ok(loaded)
    }

    /// [`Store::load`], handing each enrollment to `each` as its page is
    /// read instead of collecting them (the returned `enrollments` is
    /// empty): a node filling its galleries this way holds one page of rows
    /// at a time, not a second copy of every share. An `Err` from `each`
    /// stops the load and is returned.
    pub async fn load_with(
        &self,
        mut each: impl FnMut(StoredEnrollment) -> Result<(), StoreError> + Send,
    ) -> Result<Loaded, StoreError> {
        let begin = match self.backend() {
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            Backend::Sqlite => "BEGIN",
        };
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin_with(begin).await?;
            let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM oplog")
                .fetch_one(&mut *tx)
                .await?;
            let next_seq = next_from_max(last)?;
            let mut after: i64 = -1;
            loop {
                let rows: Vec<EnrollmentTuple> = sqlx::query_as(
                    "SELECT enrolled_seq, id, kind, share, subject, last_used_ms FROM enrollments
                     WHERE enrolled_seq > $1 ORDER BY enrolled_seq LIMIT $2",
                )
                .bind(after)
                .bind(LOAD_PAGE)
                .fetch_all(&mut *tx)
                .await?;
                let page = rows.len();
                for t in rows {
                    after = t.0;
                    each(enrollment_from(t)?)?;
                }
                if page < LOAD_PAGE as usize {
                    break;
                }
            }
            let rows = sqlx::query("SELECT subject, token, uses, expires_ms FROM token_uses")
                .fetch_all(&mut *tx)
                .await?;
            let mut token_uses = Vec::with_capacity(rows.len());
            for row in &rows {
                let token: &[u8] = row.try_get(1)?;
                let uses: i64 = row.try_get(2)?;
                token_uses.push(TokenUse {
                    subject: row.try_get(0)?,
                    token: token
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("token id length"))?,
                    uses: u32::try_from(uses).map_err(|_| StoreError::Corrupt("token uses"))?,
                    expires_ms: row.try_get(3)?,
                });
            }
            let rows: Vec<RevocationTuple> = sqlx::query_as(
                "SELECT seq, subject, token, before_ms FROM revocations ORDER BY seq",
            )
            .fetch_all(&mut *tx)
            .await?;
            let revocations = rows
                .into_iter()
                .map(|t| revocation_from(t).map(|(_, r)| r))
                .collect::<Result<_, _>>()?;
            tx.rollback().await?;
            Ok(Loaded {
                enrollments: Vec::new(),
                next_seq,
                token_uses,
                revocations,
            })
        })
    }

    /// The op-log length: the seq the next op must carry.
    pub async fn next_seq(&self) -> Result<u64, StoreError> {
        on_pool!(&self.pool, |p| {
            let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM oplog")
                .fetch_one(p)
                .await?;
            next_from_max(last)
        })
    }

    /// Applies op `op.seq` atomically: inserts its log entry and Merkle node
    /// hashes, performs its state change and its consent bookkeeping, in one
    /// transaction.
    ///
    /// Refuses with [`StoreError::OutOfOrder`] unless `op.seq` is the next
    /// seq, [`StoreError::Duplicate`] for an enroll of an existing id and
    /// [`StoreError::NotFound`] for a delete of a missing id; nothing is
    /// written then: an `Err` always means the store is unchanged.
    ///
    /// After a committed `Delete` the deleted bytes are scrubbed (see
    /// [`Store::scrub`]). If the scrub does not complete, the op still counts
    /// as applied (`Ok`); [`Store::scrub_pending`] turns true and the scrub is
    /// retried after every later `apply` until it completes.
    pub async fn apply(&self, op: &AppliedOp) -> Result<(), StoreError> {
        self.apply_batch(std::slice::from_ref(op)).await
    }

    /// Applies consecutive ops in one transaction: all of them or none.
    /// Same checks as [`Store::apply`] for each op; meant for bulk import.
    pub async fn apply_batch(&self, ops: &[AppliedOp]) -> Result<(), StoreError> {
        self.apply_batch_with(ops, &[], &[]).await
    }

    /// Brings a lagging node up to its peers in one transaction: appends the
    /// log entries it missed (`ops`, consecutive from its length, with the
    /// revocations they recorded as consent writes), inserts the enrollments
    /// it lacks (with their original `enrolled_seq`), and deletes those its
    /// peers no longer hold. All or nothing, like [`Store::apply`].
    pub async fn catch_up(
        &self,
        ops: &[AppliedOp],
        insert: &[StoredEnrollment],
        delete: &[EnrollmentId],
    ) -> Result<(), StoreError> {
        self.apply_batch_with(ops, insert, delete).await
    }

    /// [`Store::apply_batch`], then `insert` and `delete` enrollments, in
    /// the same transaction.
    async fn apply_batch_with(
        &self,
        ops: &[AppliedOp],
        insert: &[StoredEnrollment],
        delete: &[EnrollmentId],
    ) -> Result<(), StoreError> {
        if ops.is_empty() && insert.is_empty() && delete.is_empty() {
            return Ok(());
        }
        let writer = self.write_lock.lock().await;
        let mut deleted = false;
        on_pool!(&self.pool, |p| {
            let mut tx = p.begin().await?;
            let last: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM oplog")
                .fetch_one(&mut *tx)
                .await?;
            let mut next = next_from_max(last)?;
            for op in ops {
                if op.seq != next {
                    tx.rollback().await?;
                    return Err(StoreError::OutOfOrder {
                        expected: next,
                        got: op.seq,
                    });
                }
                let seq = to_i64(op.seq)?;
                sqlx::query("INSERT INTO oplog (seq, entry) VALUES ($1, $2)")
                    .bind(seq)
                    .bind(op.entry.as_slice())
                    .execute(&mut *tx)
                    .await?;
                for h in &op.hashes {
                    sqlx::query("INSERT INTO log_hashes (level, idx, hash) VALUES ($1, $2, $3)")
                        .bind(i16::from(h.level))
                        .bind(to_i64(h.index)?)
                        .bind(h.hash.as_slice())
                        .execute(&mut *tx)
                        .await?;
                }
                match &op.change {
                    StateChange::None => {}
                    StateChange::Enroll {
                        id,
                        kind,
                        share,
                        subject,
                    } => {
                        let exists: i64 =
                            sqlx::query_scalar("SELECT COUNT(*) FROM enrollments WHERE id = $1")
                                .bind(id.0.as_slice())
                                .fetch_one(&mut *tx)
                                .await?;
                        if exists != 0 {
                            tx.rollback().await?;
                            return Err(StoreError::Duplicate { id: *id });
                        }
                        sqlx::query(
                            "INSERT INTO enrollments (enrolled_seq, id, kind, share, subject, last_used_ms)
                             VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(seq)
                        .bind(id.0.as_slice())
                        .bind(kind.as_str())
                        .bind(share.as_slice())
                        .bind(subject.as_deref())
                        .bind(op.time_ms)
                        .execute(&mut *tx)
                        .await?;
                    }
                    StateChange::Delete { id } => {
                        let done = sqlx::query("DELETE FROM enrollments WHERE id = $1")
                            .bind(id.0.as_slice())
                            .execute(&mut *tx)
                            .await?;
                        if done.rows_affected() == 0 {
                            tx.rollback().await?;
                            return Err(StoreError::NotFound { id: *id });
                        }
                        sqlx::query("DELETE FROM consent_records WHERE id = $1")
                            .bind(id.0.as_slice())
                            .execute(&mut *tx)
                            .await?;
                        deleted = true;
                    }
                }
                // Erasure: earlier entries' bodies replaced by what is left
                // of them (the leaf hashes stay).
                for e in &op.erase {
                    if e.seq >= op.seq {
                        tx.rollback().await?;
                        return Err(StoreError::EraseNotEarlier {
                            seq: e.seq,
                            by: op.seq,
                        });
                    }
                    let done = sqlx::query("UPDATE oplog SET entry = $1 WHERE seq = $2")
                        .bind(e.entry.as_slice())
                        .bind(to_i64(e.seq)?)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 0 {
                        tx.rollback().await?;
                        return Err(StoreError::EraseNotEarlier {
                            seq: e.seq,
                            by: op.seq,
                        });
                    }
                    deleted = true;
                }
                for w in &op.consent {
                    match w {
                        ConsentWrite::TokenUse(u) => {
                            sqlx::query(
                                "INSERT INTO token_uses (subject, token, uses, expires_ms)
                                 VALUES ($1, $2, $3, $4)
                                 ON CONFLICT (subject, token) DO UPDATE SET uses = excluded.uses",
                            )
                            .bind(u.subject.as_str())
                            .bind(u.token.as_slice())
                            .bind(i64::from(u.uses))
                            .bind(u.expires_ms)
                            .execute(&mut *tx)
                            .await?;
                        }
                        ConsentWrite::Revocation(RevocationRow::Token { subject, token }) => {
                            sqlx::query(
                                "INSERT INTO revocations (seq, subject, token, before_ms)
                                 VALUES ($1, $2, $3, NULL)",
                            )
                            .bind(seq)
                            .bind(subject.as_str())
                            .bind(token.as_slice())
                            .execute(&mut *tx)
                            .await?;
                        }
                        ConsentWrite::Revocation(RevocationRow::IssuedBefore {
                            subject,
                            before_ms,
                        }) => {
                            sqlx::query(
                                "INSERT INTO revocations (seq, subject, token, before_ms)
                                 VALUES ($1, $2, NULL, $3)",
                            )
                            .bind(seq)
                            .bind(subject.as_str())
                            .bind(*before_ms)
                            .execute(&mut *tx)
                            .await?;
                        }
                        ConsentWrite::Touch { id, time_ms } => {
                            sqlx::query("UPDATE enrollments SET last_used_ms = $1 WHERE id = $2")
                                .bind(*time_ms)
                                .bind(id.0.as_slice())
                                .execute(&mut *tx)
                                .await?;
                        }
                        ConsentWrite::Record { id, record } => {
                            sqlx::query(
                                "INSERT INTO consent_records (id, seq, record) VALUES ($1, $2, $3)",
                            )
                            .bind(id.0.as_slice())
                            .bind(seq)
                            .bind(record.as_slice())
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
                next = op.seq + 1; // op.seq <= i64::MAX: no overflow
            }
            for e in insert {
                sqlx::query(
                    "INSERT INTO enrollments (enrolled_seq, id, kind, share, subject, last_used_ms)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(to_i64(e.enrolled_seq)?)
                .bind(e.id.0.as_slice())
                .bind(e.kind.as_str())
                .bind(e.share.as_slice())
                .bind(e.subject.as_deref())
                .bind(e.last_used_ms)
                .execute(&mut *tx)
                .await?;
            }
            for id in delete {
                for table in [
                    "DELETE FROM enrollments WHERE id = $1",
                    "DELETE FROM consent_records WHERE id = $1",
                ] {
                    sqlx::query(table)
                        .bind(id.0.as_slice())
                        .execute(&mut *tx)
                        .await?;
                }
                deleted = true;
            }
            tx.commit().await?;
        });
        drop(writer);
        if deleted || self.scrub_pending.load(Ordering::Acquire) {
            // The ops are committed whatever happens here: a scrub that does
            // not complete is remembered and retried, never reported as a
            // failed apply (callers treat Err as "nothing written").
            let done = matches!(self.scrub_inner().await, Ok(true));
            self.scrub_pending.store(!done, Ordering::Release);
        }
        Ok(())
    }

    /// Overwrites the bytes of deleted rows on disk as far as the backend
    /// allows; [`Store::apply`] runs it after every `Delete`. Returns whether
    /// it completed (`false`: SQLite readers blocked the checkpoint; retry).
    ///
    /// * SQLite: `secure_delete=ON` zeroes deleted content in the pages the
    ///   delete writes to the WAL; `PRAGMA wal_checkpoint(TRUNCATE)` copies
    ///   them into the database file and truncates the WAL, so neither file
    ///   holds the share afterwards.
    /// * PostgreSQL: `VACUUM enrollments` and `oplog` (and their TOAST tables) reclaim the
    ///   dead tuples, so their space is overwritten as pages are reused.
    ///   Limitation: until reuse, and in WAL segments / archives / base
    ///   backups, the old bytes remain; see the crate docs.
    pub async fn scrub(&self) -> Result<bool, StoreError> {
        let result = self.scrub_inner().await;
        self.scrub_pending
            .store(!matches!(result, Ok(true)), Ordering::Release);
        Ok(result?)
    }

    /// Whether a committed delete still awaits a completed [`Store::scrub`]
    /// (a node can report this in its health output and call `scrub`).
    pub fn scrub_pending(&self) -> bool {
        self.scrub_pending.load(Ordering::Acquire)
    }

    async fn scrub_inner(&self) -> Result<bool, sqlx::Error> {
        match &self.pool {
            Pool::Postgres(p) => {
                sqlx::raw_sql("VACUUM enrollments").execute(p).await?;
                // Erased log bodies are updated rows: their old versions
                // are dead tuples too.
                sqlx::raw_sql("VACUUM oplog").execute(p).await?;
                sqlx::raw_sql("VACUUM consent_records").execute(p).await?;
                Ok(true)
            }
            Pool::Sqlite(p) => {
                let (busy, _log, _checkpointed): (i64, i64, i64) =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(p)
                        .await?;
                Ok(busy == 0)
            }
        }
    }

    /// The subject's signed consent kept for enrollment `id` (what they
    /// accepted), if this node holds the enrollment.
    pub async fn consent_record(&self, id: &EnrollmentId) -> Result<Option<Vec<u8>>, StoreError> {
        on_pool!(&self.pool, |p| {
            Ok(
                sqlx::query_scalar("SELECT record FROM consent_records WHERE id = $1")
                    .bind(id.0.as_slice())
                    .fetch_optional(p)
                    .await?,
            )
        })
    }

    /// Op-log rows with `from <= seq < to`, in seq order.
    pub async fn ops(&self, from: u64, to: u64) -> Result<Vec<OpRecord>, StoreError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let clamp = |x: u64| i64::try_from(x).unwrap_or(i64::MAX);
        on_pool!(&self.pool, |p| {
            let rows = sqlx::query(
                "SELECT seq, entry FROM oplog WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            )
            .bind(clamp(from))
            .bind(clamp(to))
            .fetch_all(p)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(OpRecord {
                        seq: to_u64(row.try_get(0)?)?,
                        entry: row.try_get(1)?,
                    })
                })
                .collect()
        })
    }

    /// The stored Merkle node hashes at `(level, index)` positions, in the
    /// order asked for; a position not stored is left out (the caller checks
    /// the count).
    pub async fn read_hashes(&self, wanted: &[(u8, u64)]) -> Result<Vec<[u8; 32]>, StoreError> {
        let mut out = Vec::with_capacity(wanted.len());
        on_pool!(&self.pool, |p| {
            let mut conn = p.acquire().await?;
            for &(level, index) in wanted {
                let h: Option<Vec<u8>> =
                    sqlx::query_scalar("SELECT hash FROM log_hashes WHERE level = $1 AND idx = $2")
                        .bind(i16::from(level))
                        .bind(to_i64(index)?)
                        .fetch_optional(&mut *conn)
                        .await?;
                if let Some(h) = h {
                    out.push(
                        h.as_slice()
                            .try_into()
                            .map_err(|_| StoreError::Corrupt("log hash length"))?,
                    );
                }
            }
        });
        Ok(out)
    }

    /// A small named value (checkpoints, cosigner state).
    pub async fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        on_pool!(&self.pool, |p| {
            Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = $1")
                .bind(key)
                .fetch_optional(p)
                .await?)
        })
    }

    /// Sets a small named value durably.
    pub async fn set_meta(&self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        on_pool!(&self.pool, |p| {
            sqlx::query(
                "INSERT INTO meta (key, value) VALUES ($1, $2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .bind(key)
            .bind(value)
            .execute(p)
            .await?;
        });
        Ok(())
    }

    /// `(enrolled_seq, id)` of every current enrollment, in gallery order
    /// (what a lagging node compares its own set with).
    pub async fn enrollment_ids(&self) -> Result<Vec<(u64, EnrollmentId)>, StoreError> {
        on_pool!(&self.pool, |p| {
            let rows =
                sqlx::query("SELECT enrolled_seq, id FROM enrollments ORDER BY enrolled_seq")
                    .fetch_all(p)
                    .await?;
            rows.iter()
                .map(|row| {
                    let id: &[u8] = row.try_get(1)?;
                    Ok((
                        to_u64(row.try_get(0)?)?,
                        EnrollmentId(
                            id.try_into()
                                .map_err(|_| StoreError::Corrupt("enrollment id length"))?,
                        ),
                    ))
                })
                .collect()
        })
    }

    /// Current enrollments made by ops `seq >= from`, with this node's share
    /// bytes, in gallery order.
    pub async fn enrollments_from(&self, from: u64) -> Result<Vec<StoredEnrollment>, StoreError> {
        let from = to_i64(from)?;
        let rows: Vec<EnrollmentTuple> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT enrolled_seq, id, kind, share, subject, last_used_ms FROM enrollments
                 WHERE enrolled_seq >= $1 ORDER BY enrolled_seq",
            )
            .bind(from)
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(enrollment_from).collect()
    }

    /// Revocations recorded by ops `seq >= from`, in order.
    pub async fn revocations_from(
        &self,
        from: u64,
    ) -> Result<Vec<(u64, RevocationRow)>, StoreError> {
        let from = to_i64(from)?;
        let rows: Vec<RevocationTuple> = on_pool!(&self.pool, |p| {
            sqlx::query_as(
                "SELECT seq, subject, token, before_ms FROM revocations WHERE seq >= $1 ORDER BY seq",
            )
            .bind(from)
            .fetch_all(p)
            .await?
        });
        rows.into_iter().map(revocation_from).collect()
    }

    /// Does any row of the store still hold this enrollment's share?
    pub async fn has_share(&self, enrollment: &EnrollmentId) -> Result<bool, StoreError> {
        on_pool!(&self.pool, |p| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enrollments WHERE id = $1")
                .bind(enrollment.0.as_slice())
                .fetch_one(p)
                .await?;
            Ok(n != 0)
        })
    }

    /// Closes all connections, waiting for them to finish.
    pub async fn close(&self) {
        on_pool!(&self.pool, |p| p.close().await)
    }
}

/// An `enrollments` row: enrolled_seq, id, kind, share, subject, last_used_ms.
type EnrollmentTuple = (i64, Vec<u8>, String, Vec<u8>, Option<String>, i64);

fn enrollment_from(t: EnrollmentTuple) -> Result<StoredEnrollment, StoreError> {
    let (seq, id, kind, share, subject, last_used_ms) = t;
    Ok(StoredEnrollment {
        id: EnrollmentId(
            id.as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt("enrollment id length"))?,
        ),
        kind,
        share: Zeroizing::new(share),
        subject,
        enrolled_seq: to_u64(seq)?,
        last_used_ms,
    })
}

/// A `revocations` row: seq, subject, token, before_ms.
type RevocationTuple = (i64, String, Option<Vec<u8>>, Option<i64>);

fn revocation_from(t: RevocationTuple) -> Result<(u64, RevocationRow), StoreError> {
    let (seq, subject, token, before) = t;
    let row = match (token, before) {
        (Some(t), None) => RevocationRow::Token {
            subject,
            token: t
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt("token id length"))?,
        },
        (None, Some(before_ms)) => RevocationRow::IssuedBefore { subject, before_ms },
        _ => return Err(StoreError::Corrupt("revocation row")),
    };
    Ok((to_u64(seq)?, row))
}

fn next_from_max(last: Option<i64>) -> Result<u64, StoreError> {
    match last {
        None => Ok(0),
        Some(seq) => to_u64(seq)?
            .checked_add(1)
            .ok_or(StoreError::Corrupt("op seq")),
    }
}

fn to_i64(seq: u64) -> Result<i64, StoreError> {
    i64::try_from(seq).map_err(|_| StoreError::SeqOutOfRange(seq))
}

fn to_u64(seq: i64) -> Result<u64, StoreError> {
    u64::try_from(seq).map_err(|_| StoreError::Corrupt("negative seq"))
}
