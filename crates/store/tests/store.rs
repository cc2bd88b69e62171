//! Store behaviour, each body run once per backend (SQLite in a temp dir;
//! PostgreSQL when `SANCTUARY_TEST_POSTGRES_URL` is set, e.g. through
//! `scripts/with-postgres.sh`).

use std::path::PathBuf;
use std::time::Duration;

use rand::Rng;
use sanctuary_store::{
    AppliedOp, Backend, ConsentWrite, EnrollmentId, ErasedRow, Loaded, NodeHash, RevocationRow,
    StateChange, Store, StoreError, StoreOptions, TokenUse, error_chain,
};
use sqlx::{AssertSqlSafe, Connection};
use zeroize::Zeroizing;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Postgres,
    Sqlite,
}

/// One fresh database for one test.
struct Fixture {
    kind: Kind,
    url: String,
    /// SQLite: the temp dir holding the file.
    dir: Option<tempfile::TempDir>,
    /// PostgreSQL: (admin URL, database name) to drop afterwards.
    pg: Option<(String, String)>,
}

impl Fixture {
    async fn new(kind: Kind, name: &str) -> Option<Self> {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("node.db").display());
                Some(Self {
                    kind,
                    url,
                    dir: Some(dir),
                    pg: None,
                })
            }
            Kind::Postgres => {
                let Ok(base) = std::env::var("SANCTUARY_TEST_POSTGRES_URL") else {
                    println!("skipping PostgreSQL: SANCTUARY_TEST_POSTGRES_URL not set");
                    return None;
                };
                let db = format!("st_{}_{:08x}", name, rand::random::<u32>());
                let mut admin = sqlx::PgConnection::connect(&base)
                    .await
                    .expect("connect admin");
                sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {db}")))
                    .execute(&mut admin)
                    .await
                    .expect("create database");
                admin.close().await.expect("close");
                let url = with_database(&base, &db);
                Some(Self {
                    kind,
                    url,
                    dir: None,
                    pg: Some((base, db)),
                })
            }
        }
    }

    async fn open(&self) -> Store {
        let store = Store::open(&self.url).await.expect("open store");
        let expected = match self.kind {
            Kind::Postgres => Backend::Postgres,
            Kind::Sqlite => Backend::Sqlite,
        };
        assert_eq!(store.backend(), expected);
        store
    }

    fn sqlite_path(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("node.db"))
    }

    async fn cleanup(self) {
        if let Some((base, db)) = &self.pg {
            let mut admin = sqlx::PgConnection::connect(base)
                .await
                .expect("connect admin");
            sqlx::raw_sql(AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {db} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .expect("drop database");
        }
    }
}

/// Replaces the database name in a postgres URL.
fn with_database(base: &str, db: &str) -> String {
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (base, None),
    };
    let after_scheme = head.find("://").map_or(0, |i| i + 3);
    let root = match head[after_scheme..].find('/') {
        Some(i) => &head[..after_scheme + i],
        None => head,
    };
    match query {
        Some(q) => format!("{root}/{db}?{q}"),
        None => format!("{root}/{db}"),
    }
}

macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(f) = super::Fixture::new(super::Kind::Sqlite, stringify!($name)).await {
                        super::$name(&f).await;
                        f.cleanup().await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    if let Some(f) = super::Fixture::new(super::Kind::Postgres, stringify!($name)).await {
                        super::$name(&f).await;
                        f.cleanup().await;
                    }
                }
            )*
        }
    };
}

backend_tests!(
    round_trip_preserves_order_and_bytes,
    out_of_order_is_refused_and_writes_nothing,
    duplicate_and_missing_are_refused_and_write_nothing,
    hashes_and_consent_state_round_trip,
    committed_data_survives_reopen_and_half_applied_tx_does_not,
    delete_removes_the_share,
    erasure_rewrites_earlier_rows_all_or_nothing,
    newer_schema_is_refused,
);

// ---------------------------------------------------------------- helpers

fn random_share(len: usize) -> Zeroizing<Vec<u8>> {
    let mut v = vec![0u8; len];
    rand::rng().fill(&mut v[..]);
    Zeroizing::new(v)
}

fn enroll(seq: u64, id: EnrollmentId, share: &[u8], subject: Option<&str>) -> AppliedOp {
    AppliedOp {
        seq,
        time_ms: 1_000 + seq as i64,
        entry: format!("enroll {id} at {seq}").into_bytes(),
        hashes: Vec::new(),
        consent: Vec::new(),
        erase: Vec::new(),
        change: StateChange::Enroll {
            id,
            kind: if seq.is_multiple_of(2) {
                "embedding".into()
            } else {
                "iris".into()
            },
            share: Zeroizing::new(share.to_vec()),
            subject: subject.map(str::to_owned),
        },
    }
}

fn delete(seq: u64, id: EnrollmentId) -> AppliedOp {
    AppliedOp {
        change: StateChange::Delete { id },
        ..AppliedOp::log_only(
            seq,
            0,
            format!("delete {id} at {seq}").into_bytes(),
            Vec::new(),
        )
    }
}

fn noop(seq: u64) -> AppliedOp {
    AppliedOp::log_only(seq, 0, format!("verify at {seq}").into_bytes(), Vec::new())
}

fn id(n: u8) -> EnrollmentId {
    let mut b = [0u8; 16];
    b[0] = n;
    b[15] = 0xA5;
    EnrollmentId(b)
}

/// A comparable summary of a load: (id, kind, share, subject, enrolled_seq) rows + length.
type Summary = (Vec<Row>, u64);
type Row = (EnrollmentId, String, Vec<u8>, Option<String>, u64);

fn summary(l: &Loaded) -> Summary {
    (
        l.enrollments
            .iter()
            .map(|e| {
                (
                    e.id,
                    e.kind.clone(),
                    e.share.to_vec(),
                    e.subject.clone(),
                    e.enrolled_seq,
                )
            })
            .collect(),
        l.next_seq,
    )
}

/// Snapshot of everything observable: load summary plus the whole op log.
async fn snapshot(store: &Store) -> (Summary, Vec<(u64, Vec<u8>)>) {
    let loaded = store.load().await.expect("load");
    let ops = store
        .ops(0, u64::MAX)
        .await
        .expect("ops")
        .into_iter()
        .map(|r| (r.seq, r.entry))
        .collect();
    (summary(&loaded), ops)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------- bodies

async fn round_trip_preserves_order_and_bytes(f: &Fixture) {
    let store = f.open().await;
    let empty = store.load().await.expect("load");
    assert!(empty.enrollments.is_empty());
    assert_eq!(empty.next_seq, 0);

    let shares: Vec<_> = (0..5).map(|i| random_share(4096 + i)).collect();
    // Ids deliberately not in seq order, so ordering by id would be caught.
    let ops = vec![
        enroll(0, id(9), &shares[0], Some("alice")),
        noop(1),
        enroll(2, id(3), &shares[1], None),
        enroll(3, id(7), &shares[2], Some("carol")),
        delete(4, id(3)),
        enroll(5, id(1), &shares[3], None),
        noop(6),
    ];
    for op in &ops {
        store.apply(op).await.expect("apply");
    }
    let expected: Vec<Row> = vec![
        (
            id(9),
            "embedding".into(),
            shares[0].to_vec(),
            Some("alice".into()),
            0,
        ),
        (
            id(7),
            "iris".into(),
            shares[2].to_vec(),
            Some("carol".into()),
            3,
        ),
        (id(1), "iris".into(), shares[3].to_vec(), None, 5),
    ];
    let loaded = store.load().await.expect("load");
    assert_eq!(summary(&loaded).0, expected);
    assert_eq!(loaded.next_seq, 7);
    assert_eq!(store.next_seq().await.expect("next_seq"), 7);

    let log = store.ops(0, 100).await.expect("ops");
    assert_eq!(
        log.iter().map(|r| r.seq).collect::<Vec<_>>(),
        (0..7).collect::<Vec<_>>()
    );
    for (rec, op) in log.iter().zip(&ops) {
        assert_eq!(rec.entry, op.entry);
    }
    let mid = store.ops(2, 4).await.expect("ops");
    assert_eq!(mid.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3]);
    assert!(store.ops(4, 4).await.expect("ops").is_empty());
    assert!(store.ops(5, 2).await.expect("ops").is_empty());

    // A batch behaves like consecutive applies, and reopening changes nothing.
    store
        .apply_batch(&[enroll(7, id(2), &shares[4], None), delete(8, id(9))])
        .await
        .expect("batch");
    let before = snapshot(&store).await;
    assert_eq!(
        before.0.0.iter().map(|e| (e.0, e.4)).collect::<Vec<_>>(),
        vec![(id(7), 3), (id(1), 5), (id(2), 7)]
    );
    store.close().await;
    drop(store);
    let store = f.open().await;
    assert_eq!(snapshot(&store).await, before);
    store.close().await;
}

async fn out_of_order_is_refused_and_writes_nothing(f: &Fixture) {
    let store = f.open().await;
    store.apply(&noop(0)).await.expect("apply 0");
    store
        .apply(&enroll(1, id(1), &random_share(64), None))
        .await
        .expect("apply 1");
    let before = snapshot(&store).await;

    for bad in [3u64, 1, 0, u64::MAX] {
        let err = store
            .apply(&enroll(bad, id(2), &random_share(64), None))
            .await
            .expect_err("out of order must be refused");
        assert!(
            matches!(err, StoreError::OutOfOrder { expected: 2, got } if got == bad),
            "{err:?}"
        );
    }
    // A batch with a gap in the middle is refused as a whole.
    let err = store
        .apply_batch(&[enroll(2, id(2), &random_share(64), None), noop(4)])
        .await
        .expect_err("gap in batch");
    assert!(
        matches!(
            err,
            StoreError::OutOfOrder {
                expected: 3,
                got: 4
            }
        ),
        "{err:?}"
    );
    assert!(!store.has_share(&id(2)).await.expect("has_share"));
    assert_eq!(snapshot(&store).await, before);

    store
        .apply(&noop(2))
        .await
        .expect("the right seq still applies");
    assert_eq!(store.load().await.expect("load").next_seq, 3);
    store.close().await;
}

async fn duplicate_and_missing_are_refused_and_write_nothing(f: &Fixture) {
    let store = f.open().await;
    let original = random_share(4096);
    store
        .apply(&enroll(0, id(1), &original, Some("s")))
        .await
        .expect("enroll");
    let before = snapshot(&store).await;

    let err = store
        .apply(&enroll(1, id(1), &random_share(4096), None))
        .await
        .expect_err("duplicate");
    assert!(
        matches!(err, StoreError::Duplicate { id: d } if d == id(1)),
        "{err:?}"
    );
    assert_eq!(
        snapshot(&store).await,
        before,
        "duplicate enroll wrote something"
    );

    let err = store.apply(&delete(1, id(2))).await.expect_err("missing");
    assert!(
        matches!(err, StoreError::NotFound { id: d } if d == id(2)),
        "{err:?}"
    );
    assert_eq!(
        snapshot(&store).await,
        before,
        "delete of a missing id wrote something"
    );

    // In a batch, the earlier (valid) ops are rolled back too.
    let err = store
        .apply_batch(&[
            noop(1),
            enroll(2, id(3), &random_share(16), None),
            delete(3, id(4)),
        ])
        .await
        .expect_err("batch with missing delete");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(
        snapshot(&store).await,
        before,
        "failed batch wrote something"
    );
    assert!(!store.has_share(&id(3)).await.expect("has_share"));

    // The original share is intact and seq 1 is still free.
    store
        .apply(&delete(1, id(1)))
        .await
        .expect("delete existing");
    assert!(store.load().await.expect("load").enrollments.is_empty());
    store.close().await;
}

async fn hashes_and_consent_state_round_trip(f: &Fixture) {
    let store = f.open().await;
    let h = |level: u8, index: u64| NodeHash {
        level,
        index,
        hash: [level * 16 + index as u8; 32],
    };
    store
        .apply(&enroll(0, id(1), &random_share(64), Some("ab")))
        .await
        .expect("enroll");
    let use1 = TokenUse {
        subject: "ab".into(),
        token: [3; 16],
        uses: 1,
        expires_ms: 99,
    };
    let mut op = AppliedOp::log_only(1, 5_000, b"verify".to_vec(), vec![h(0, 1), h(1, 0)]);
    op.consent = vec![
        ConsentWrite::TokenUse(use1.clone()),
        ConsentWrite::Touch {
            id: id(1),
            time_ms: 5_000,
        },
    ];
    store.apply(&op).await.expect("verify");
    let mut op = AppliedOp::log_only(2, 6_000, b"revoke".to_vec(), vec![h(0, 2)]);
    let revoked = vec![
        RevocationRow::Token {
            subject: "ab".into(),
            token: [4; 16],
        },
        RevocationRow::IssuedBefore {
            subject: "cd".into(),
            before_ms: 42,
        },
    ];
    op.consent = revoked
        .iter()
        .cloned()
        .map(ConsentWrite::Revocation)
        .chain([ConsentWrite::TokenUse(TokenUse {
            uses: 2,
            ..use1.clone()
        })])
        .collect();
    store.apply(&op).await.expect("revoke");
    // A failed op writes no hash and no consent row.
    let mut bad = AppliedOp::log_only(3, 7_000, b"bad".to_vec(), vec![h(0, 3), h(2, 0)]);
    bad.change = StateChange::Delete { id: id(9) };
    bad.consent = vec![ConsentWrite::TokenUse(TokenUse {
        uses: 7,
        ..use1.clone()
    })];
    assert!(store.apply(&bad).await.is_err());

    store.close().await;
    drop(store);
    let store = f.open().await;
    let got = store
        .read_hashes(&[(1, 0), (0, 2), (0, 1), (0, 3), (2, 0)])
        .await
        .expect("hashes");
    assert_eq!(got, vec![h(1, 0).hash, h(0, 2).hash, h(0, 1).hash]);
    let loaded = store.load().await.expect("load");
    assert_eq!(loaded.next_seq, 3);
    assert_eq!(loaded.token_uses, vec![TokenUse { uses: 2, ..use1 }]);
    assert_eq!(loaded.revocations, revoked);
    assert_eq!(loaded.enrollments[0].last_used_ms, 5_000);
    // Named values survive too.
    assert_eq!(store.meta("cp").await.expect("meta"), None);
    store.set_meta("cp", b"one").await.expect("set");
    store.set_meta("cp", b"two").await.expect("set");
    assert_eq!(store.meta("cp").await.expect("meta"), Some(b"two".to_vec()));
    store.close().await;
}

/// Simulates a node dying mid-`apply`: a connection inserts the op row and
/// the enrollment inside a transaction and is dropped without committing.
async fn half_apply(f: &Fixture, seq: i64, share: &[u8]) {
    macro_rules! run {
        ($conn:expr) => {{
            let mut c = $conn;
            sqlx::raw_sql("BEGIN").execute(&mut c).await.expect("begin");
            sqlx::query("INSERT INTO oplog (seq, entry) VALUES ($1, $2)")
                .bind(seq)
                .bind(b"half".as_slice())
                .execute(&mut c)
                .await
                .expect("insert op");
            sqlx::query(
                "INSERT INTO enrollments (enrolled_seq, id, kind, share, subject, last_used_ms) VALUES ($1, $2, 'iris', $3, NULL, 0)",
            )
            .bind(seq)
            .bind(id(200).0.as_slice())
            .bind(share)
            .execute(&mut c)
            .await
            .expect("insert enrollment");
            drop(c); // no COMMIT: the server / file sees the client vanish
        }};
    }
    match f.kind {
        Kind::Sqlite => run!(
            sqlx::SqliteConnection::connect(&f.url)
                .await
                .expect("connect")
        ),
        Kind::Postgres => run!(sqlx::PgConnection::connect(&f.url).await.expect("connect")),
    }
}

async fn committed_data_survives_reopen_and_half_applied_tx_does_not(f: &Fixture) {
    let store = f.open().await;
    for seq in 0..3 {
        store
            .apply(&enroll(seq, id(seq as u8), &random_share(4096), None))
            .await
            .expect("apply");
    }
    let before = snapshot(&store).await;
    drop(store); // no close(): as if the process went away after the commit

    half_apply(f, 3, &random_share(4096)).await;

    let store = f.open().await;
    assert_eq!(
        snapshot(&store).await,
        before,
        "half-applied transaction is visible"
    );
    assert!(!store.has_share(&id(200)).await.expect("has_share"));
    store.apply(&noop(3)).await.expect("seq 3 is still free");
    store.close().await;
}

async fn delete_removes_the_share(f: &Fixture) {
    let store = f.open().await;
    let secret = random_share(4096);
    store
        .apply(&enroll(0, id(1), &random_share(4096), None))
        .await
        .expect("enroll");
    store
        .apply(&enroll(1, id(2), &secret, Some("deleteme")))
        .await
        .expect("enroll");
    store
        .apply(&enroll(2, id(3), &random_share(4096), None))
        .await
        .expect("enroll");
    assert!(store.has_share(&id(2)).await.expect("has_share"));

    // Control: before deletion the share's bytes are findable in the files,
    // so the check below is able to fail.
    if let Some(path) = f.sqlite_path() {
        assert!(store.scrub().await.expect("checkpoint"));
        let bytes = std::fs::read(&path).expect("read db");
        assert!(
            contains(&bytes, &secret[..64]),
            "control: share not found before delete"
        );
    }

    store.apply(&delete(3, id(2))).await.expect("delete");
    assert!(!store.scrub_pending());
    assert!(!store.has_share(&id(2)).await.expect("has_share"));
    assert!(store.has_share(&id(1)).await.expect("has_share"));
    let loaded = store.load().await.expect("load");
    assert_eq!(
        loaded.enrollments.iter().map(|e| e.id).collect::<Vec<_>>(),
        vec![id(1), id(3)]
    );

    if f.kind == Kind::Postgres {
        // The delete was followed by a VACUUM of the enrollments table.
        let mut c = sqlx::PgConnection::connect(&f.url).await.expect("connect");
        let vacuums: i64 = sqlx::query_scalar(
            "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'enrollments'",
        )
        .fetch_one(&mut c)
        .await
        .expect("pg_stat_user_tables");
        assert!(
            vacuums >= 1,
            "enrollments was not vacuumed after the delete"
        );
        c.close().await.expect("close");
    }
    if let Some(path) = f.sqlite_path() {
        let mut files = vec![path.clone()];
        let wal = PathBuf::from(format!("{}-wal", path.display()));
        if wal.exists() {
            files.push(wal);
        }
        for file in files {
            let bytes = std::fs::read(&file).expect("read");
            for chunk in secret.chunks(32) {
                assert!(
                    !contains(&bytes, chunk),
                    "{} still holds bytes of the deleted share",
                    file.display()
                );
            }
        }
    }
    store.close().await;
}

async fn erasure_rewrites_earlier_rows_all_or_nothing(f: &Fixture) {
    let store = f.open().await;
    let body = b"verify by shop.example for alice, salt 0123456789abcdef".to_vec();
    store
        .apply(&AppliedOp::log_only(0, 0, body.clone(), Vec::new()))
        .await
        .expect("op 0");
    store.apply(&noop(1)).await.expect("op 1");
    let erase = |seq| ErasedRow {
        seq,
        entry: format!("erased {seq}").into_bytes(),
    };
    // An erasure of a row that is not earlier writes nothing, not even the
    // op carrying it.
    let bad = AppliedOp {
        erase: vec![erase(0), erase(2)],
        ..noop(2)
    };
    assert!(matches!(
        store.apply(&bad).await,
        Err(StoreError::EraseNotEarlier { seq: 2, by: 2 })
    ));
    assert_eq!(store.next_seq().await.expect("size"), 2);
    assert_eq!(store.ops(0, 1).await.expect("ops")[0].entry, body);
    // A good one replaces the row in the op's transaction.
    let good = AppliedOp {
        erase: vec![erase(0)],
        ..noop(2)
    };
    store.apply(&good).await.expect("erases");
    let rows = store.ops(0, 3).await.expect("ops");
    assert_eq!(rows[0].entry, b"erased 0");
    assert_eq!(rows[1].entry, noop(1).entry);
    assert!(!store.scrub_pending());
    if let Some(path) = f.sqlite_path() {
        let bytes = std::fs::read(&path).expect("read db");
        assert!(!contains(&bytes, b"for alice, salt"), "erased body on disk");
    }
    store.close().await;
}

async fn newer_schema_is_refused(f: &Fixture) {
    let store = f.open().await;
    store.apply(&noop(0)).await.expect("apply");
    store.close().await;
    drop(store);
    macro_rules! bump {
        ($conn:expr) => {{
            let mut c = $conn;
            sqlx::raw_sql("UPDATE schema_version SET version = 99")
                .execute(&mut c)
                .await
                .expect("bump");
            c.close().await.expect("close");
        }};
    }
    match f.kind {
        Kind::Sqlite => bump!(
            sqlx::SqliteConnection::connect(&f.url)
                .await
                .expect("connect")
        ),
        Kind::Postgres => bump!(sqlx::PgConnection::connect(&f.url).await.expect("connect")),
    }
    let err = Store::open(&f.url)
        .await
        .expect_err("newer schema must be refused");
    assert!(
        matches!(
            err,
            StoreError::Schema {
                found: 99,
                supported: sanctuary_store::SCHEMA_VERSION
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

// ---------------------------------------------------------------- backend-independent

#[tokio::test]
async fn bad_urls_give_clear_errors_without_passwords() {
    let quick = StoreOptions::default().connect_timeout(Duration::from_secs(1));
    // Nothing listens on port 1.
    let err = Store::open_with(
        "postgres://alice:s3cretpw@127.0.0.1:1/nodedb?password=s3cretpw",
        &quick,
    )
    .await
    .expect_err("unreachable server");
    let shown = format!("{} | {:?} | {}", err, err, error_chain(&err));
    assert!(matches!(err, StoreError::Open { .. }), "{shown}");
    assert!(!shown.contains("s3cretpw"), "password leaked: {shown}");
    assert!(
        shown.contains("postgres://alice:***@127.0.0.1:1/nodedb"),
        "{shown}"
    );

    let err = Store::open("mysql://bob:hunter2@db/x")
        .await
        .expect_err("unsupported");
    let shown = format!("{err} | {err:?}");
    assert!(matches!(err, StoreError::UnsupportedUrl { .. }), "{shown}");
    assert!(!shown.contains("hunter2"), "{shown}");
    assert!(
        shown.contains("expected sqlite://PATH or postgres://"),
        "{shown}"
    );

    let err = Store::open("sqlite:///nonexistent-dir-for-sanctuary/x/node.db")
        .await
        .expect_err("missing directory");
    assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
    assert!(
        err.to_string().contains("nonexistent-dir-for-sanctuary"),
        "{err}"
    );
}

#[tokio::test]
async fn in_memory_sqlite_works() {
    let store = Store::open("sqlite::memory:").await.expect("open");
    store
        .apply(&enroll(0, id(1), &random_share(32), None))
        .await
        .expect("apply");
    store
        .apply(&enroll(1, id(2), &random_share(32), None))
        .await
        .expect("apply");
    assert_eq!(store.load().await.expect("load").enrollments.len(), 2);
}

#[tokio::test]
async fn store_debug_shows_no_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("secretname.db").display());
    let store = Store::open(&url).await.expect("open");
    let d = format!("{store:?}");
    assert!(d.contains("Sqlite") && !d.contains("secretname"), "{d}");
    assert_eq!(store.backend().to_string(), "sqlite");
}

// ---------------------------------------------------------------- real crash (SQLite)

const CRASH_ENV: &str = "SANCTUARY_STORE_CRASH_CHILD_URL";

/// Child half of `sqlite_process_crash_mid_transaction`; does nothing unless
/// the parent set `SANCTUARY_STORE_CRASH_CHILD_URL`. Writes ops 3.. inside a
/// transaction with a tiny page cache (so uncommitted pages spill into the
/// WAL file) and then aborts the process without committing.
#[test]
fn sqlite_crash_child() {
    let Ok(url) = std::env::var(CRASH_ENV) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut c = sqlx::SqliteConnection::connect(&url).await.expect("connect");
        sqlx::raw_sql("PRAGMA cache_size = 4; BEGIN").execute(&mut c).await.expect("begin");
        for seq in 3..203i64 {
            sqlx::query("INSERT INTO oplog (seq, entry) VALUES ($1, x'00')")
                .bind(seq)
                .execute(&mut c)
                .await
                .expect("insert op");
            sqlx::query(
                "INSERT INTO enrollments (enrolled_seq, id, kind, share, subject, last_used_ms) VALUES ($1, $2, 'iris', $3, NULL, 0)",
            )
            .bind(seq)
            .bind(id((seq % 256) as u8).0.map(|b| b ^ 0x5A).as_slice())
            .bind(random_share(4096).as_slice())
            .execute(&mut c)
            .await
            .expect("insert enrollment");
        }
        // The crash: the process dies with the transaction open.
        std::process::abort();
    });
}

#[tokio::test]
async fn sqlite_process_crash_mid_transaction() {
    let f = Fixture::new(Kind::Sqlite, "crash")
        .await
        .expect("sqlite fixture");
    let store = f.open().await;
    for seq in 0..3 {
        store
            .apply(&enroll(seq, id(seq as u8), &random_share(4096), None))
            .await
            .expect("apply");
    }
    let before = snapshot(&store).await;
    store.close().await;
    drop(store);

    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "sqlite_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_ENV, &f.url)
        .output()
        .expect("run child");
    assert!(!out.status.success(), "child should have aborted: {out:?}");
    let path = f.sqlite_path().expect("path");
    let wal = std::fs::metadata(format!("{}-wal", path.display()))
        .map(|m| m.len())
        .unwrap_or(0);
    assert!(
        wal > 0,
        "the crash left no uncommitted frames in the WAL; the test proves nothing"
    );

    let store = f.open().await;
    assert_eq!(
        snapshot(&store).await,
        before,
        "uncommitted data visible after the crash"
    );
    store.apply(&noop(3)).await.expect("seq 3 is still free");
    store.close().await;
}

/// A reader holding a snapshot blocks the checkpoint that scrubs a delete:
/// the delete still counts as applied, the scrub is flagged as pending and
/// completes on the next apply.
#[tokio::test]
async fn sqlite_blocked_scrub_is_retried() {
    let f = Fixture::new(Kind::Sqlite, "scrub")
        .await
        .expect("sqlite fixture");
    let opts = StoreOptions::default().connect_timeout(Duration::from_millis(300));
    let store = Store::open_with(&f.url, &opts).await.expect("open");
    let secret = random_share(4096);
    store
        .apply(&enroll(0, id(1), &secret, None))
        .await
        .expect("enroll");
    assert!(store.scrub().await.expect("checkpoint"));

    let mut reader = sqlx::SqliteConnection::connect(&f.url)
        .await
        .expect("connect");
    sqlx::raw_sql("BEGIN; SELECT COUNT(*) FROM enrollments;")
        .execute(&mut reader)
        .await
        .expect("open a read snapshot");
    store
        .apply(&delete(1, id(1)))
        .await
        .expect("delete is applied even if the scrub is blocked");
    assert!(store.scrub_pending(), "blocked checkpoint not noticed");
    assert!(!store.has_share(&id(1)).await.expect("has_share"));
    let path = f.sqlite_path().expect("path");
    let bytes = std::fs::read(&path).expect("read db");
    assert!(
        contains(&bytes, &secret[..64]),
        "control: share should still be in the main file"
    );

    sqlx::raw_sql("COMMIT")
        .execute(&mut reader)
        .await
        .expect("end snapshot");
    reader.close().await.expect("close");
    store.apply(&noop(2)).await.expect("apply");
    assert!(!store.scrub_pending(), "scrub not retried");
    let bytes = std::fs::read(&path).expect("read db");
    assert!(
        !contains(&bytes, &secret[..64]),
        "share still in the file after the retried scrub"
    );
    store.close().await;
}
