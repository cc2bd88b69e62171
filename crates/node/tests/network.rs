//! A whole network in one test process: three nodes on loopback (free ports,
//! mutual TLS), driven through the client library. Every scenario runs once
//! per storage backend (`scenarios!` at the bottom):
//!
//! * `sqlite::*`: an SQLite file per node in a temp dir;
//! * `postgres::*`: one PostgreSQL database per node, created next to the
//!   one `SANCTUARY_TEST_POSTGRES_URL` names (`scripts/with-postgres.sh
//!   cargo test -p sanctuary-node --test network`), dropped afterwards;
//!   skipped with a message when the variable is unset.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sanctuary_node::wire::EnrollStatus;
use sanctuary_node::{Client, NetworkFile, NodeConfig, NodeError};
use sanctuary_share::PartyId;
use sanctuary_template::{Embedding, EmbeddingParams, Template};
use sqlx::Connection;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), NodeError>>,
}

fn start(cfg: NodeConfig) -> Running {
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // A restarted node may find its ports still held for a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut rx = rx;
        loop {
            let (tx2, rx2) = oneshot::channel::<()>();
            let shutdown = async move {
                let _ = rx2.await;
            };
            let serve = sanctuary_node::serve(cfg.clone(), shutdown);
            tokio::pin!(serve);
            tokio::select! {
                r = &mut serve => {
                    match r {
                        Err(NodeError::Net(_)) | Err(NodeError::Config { .. }) if Instant::now() < deadline => {
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                        other => {
                            if let Err(e) = &other {
                                eprintln!("node {} stopped with error: {e:?}", cfg.party);
                            }
                            return other;
                        }
                    }
                }
                _ = &mut rx => {
                    let _ = tx2.send(());
                    return serve.await;
                }
            }
        }
    });
    Running { stop, task }
}

async fn stop(r: Running) {
    let _ = r.stop.send(());
    let _ = r.task.await;
}

/// Where the three nodes keep their data.
#[derive(Debug, Clone)]
enum Backend {
    Sqlite,
    /// A PostgreSQL URL; each node gets a fresh database on its server.
    Postgres(String),
}

impl Backend {
    /// PostgreSQL from `SANCTUARY_TEST_POSTGRES_URL`, or `None` (with a
    /// message: the test is skipped).
    fn postgres() -> Option<Backend> {
        match std::env::var("SANCTUARY_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Backend::Postgres(url)),
            _ => {
                eprintln!(
                    "skipping: SANCTUARY_TEST_POSTGRES_URL is unset \
                     (run under scripts/with-postgres.sh)"
                );
                None
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

/// `url` with its database name replaced by `db`.
fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
    match query {
        Some(q) => format!("{server}/{db}?{q}"),
        None => format!("{server}/{db}"),
    }
}

/// A network's files and, on PostgreSQL, its three databases.
struct TestNet {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    net: NetworkFile,
    backend: Backend,
    /// Per node: the storage URL (`None`: the default SQLite file).
    storage: Vec<Option<String>>,
}

impl TestNet {
    /// Keys and configs for three nodes; on PostgreSQL, creates a database
    /// per node named after `scenario`.
    async fn new(backend: Backend, scenario: &str) -> TestNet {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().to_owned();
        let net_path =
            sanctuary_node::init_network(&dir, ["127.0.0.1"; 3], "test-net", Default::default())
                .expect("init");
        let net = NetworkFile::load(&net_path).expect("network file");
        let storage = match &backend {
            Backend::Sqlite => vec![None; 3],
            Backend::Postgres(url) => {
                let mut admin = sqlx::PgConnection::connect(url)
                    .await
                    .expect("connect to SANCTUARY_TEST_POSTGRES_URL");
                let mut urls = Vec::new();
                for i in 0..3 {
                    let db = format!("sanctuary_{scenario}_{}_{i}", std::process::id());
                    sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS \"{db}\""
                    )))
                    .execute(&mut admin)
                    .await
                    .expect("drop stale database");
                    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{db}\"")))
                        .execute(&mut admin)
                        .await
                        .expect("create database");
                    urls.push(Some(with_database(url, &db)));
                }
                urls
            }
        };
        TestNet {
            _tmp: tmp,
            dir,
            net,
            backend,
            storage,
        }
    }

    fn client(&self) -> Client {
        Client::new(self.net.clone()).expect("client")
    }

    fn config(&self, i: usize) -> NodeConfig {
        let mut cfg =
            NodeConfig::load(&self.dir.join(format!("node-{i}/node.toml"))).expect("config");
        if let Some(url) = &self.storage[i] {
            cfg.storage = Some(url.clone());
        }
        cfg
    }

    /// Every node reports this network's backend.
    async fn assert_backend(&self, client: &Client) {
        for p in PartyId::ALL {
            let h = client.health(p).await.expect("health");
            assert_eq!(h["storage"], self.backend.name(), "{p}");
        }
    }

    /// Drops the PostgreSQL databases (nodes stopped).
    async fn finish(self) {
        if let Backend::Postgres(url) = &self.backend {
            let mut admin = sqlx::PgConnection::connect(url).await.expect("connect");
            for u in self.storage.iter().flatten() {
                let db = u.rsplit('/').next().unwrap_or_default();
                let db = db.split('?').next().unwrap_or_default();
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"
                )))
                .execute(&mut admin)
                .await
                .expect("drop database");
            }
        }
    }
}

async fn wait_ready(client: &Client) {
    let deadline = Instant::now() + Duration::from_secs(30);
    for p in PartyId::ALL {
        loop {
            if let Ok(h) = client.health(p).await
                && h["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "{p} did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn person(seed: u64, params: &EmbeddingParams) -> Embedding {
    // A deterministic pseudo-random direction.
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Embedding::new(
        (0..params.dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect(),
    )
}

fn template(e: &Embedding, params: &EmbeddingParams) -> Template {
    Template::Embedding(e.quantize(params).expect("valid"))
}

fn noisy(e: &Embedding, seed: u64) -> Embedding {
    let mut x = seed | 1;
    Embedding::new(
        e.values()
            .iter()
            .map(|v| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v + ((x % 201) as f32 / 1000.0 - 0.1)
            })
            .collect(),
    )
}

async fn enrolled_counts(client: &Client) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for p in PartyId::ALL {
        let h = client.health(p).await.expect("health");
        out.push((
            h["enrolled"]["embedding"].as_u64().unwrap_or(99),
            h["next_seq"].as_u64().unwrap_or(99),
        ));
    }
    out
}

async fn enroll_verify_dedupe_delete_restart_and_failures(backend: Backend) {
    let tn = TestNet::new(backend, "evddr").await;
    let params = tn.net.matching.embedding;
    let client = tn.client();
    let mut nodes: Vec<Option<Running>> = (0..3).map(|i| Some(start(tn.config(i)))).collect();
    wait_ready(&client).await;
    tn.assert_backend(&client).await;

    let alice = person(1, &params);
    let bob = person(2, &params);
    let r = client
        .enroll(&template(&alice, &params), None)
        .await
        .expect("enroll alice");
    assert_eq!(r.status, EnrollStatus::Enrolled);
    let alice_id = r.enrollment_id.expect("id");
    let r = client
        .enroll(&template(&bob, &params), None)
        .await
        .expect("enroll bob");
    let bob_id = r.enrollment_id.expect("id");
    // A fresh capture of Alice is refused.
    let r = client
        .enroll(&template(&noisy(&alice, 9), &params), None)
        .await
        .expect("enroll again");
    assert_eq!(r.status, EnrollStatus::AlreadyEnrolled);
    assert!(r.enrollment_id.is_none());

    assert!(
        client
            .verify(alice_id, &template(&noisy(&alice, 3), &params))
            .await
            .expect("verify")
    );
    assert!(
        !client
            .verify(alice_id, &template(&bob, &params))
            .await
            .expect("verify")
    );
    assert!(
        client
            .dedupe(&template(&noisy(&bob, 4), &params))
            .await
            .expect("dedupe")
    );
    assert!(
        !client
            .dedupe(&template(&person(3, &params), &params))
            .await
            .expect("dedupe")
    );
    assert!(enrolled_counts(&client).await.iter().all(|&(n, _)| n == 2));

    // Restart a node between operations: nothing lost, nothing duplicated.
    stop(nodes[2].take().expect("running")).await;
    nodes[2] = Some(start(tn.config(2)));
    wait_ready(&client).await;
    assert!(
        client
            .verify(bob_id, &template(&noisy(&bob, 5), &params))
            .await
            .expect("verify after restart")
    );
    let counts = enrolled_counts(&client).await;
    assert!(
        counts.iter().all(|c| *c == counts[0] && c.0 == 2),
        "{counts:?}"
    );

    // A node down: the request fails fast naming it, and nothing is stored anywhere.
    stop(nodes[1].take().expect("running")).await;
    let t = Instant::now();
    let err = client
        .enroll(&template(&person(4, &params), &params), None)
        .await
        .expect_err("P1 is down");
    assert!(err.to_string().contains("P1"), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "failed slowly: {:?}",
        t.elapsed()
    );
    nodes[1] = Some(start(tn.config(1)));
    wait_ready(&client).await;
    let counts = enrolled_counts(&client).await;
    assert!(
        counts.iter().all(|c| *c == counts[0] && c.0 == 2),
        "all-or-nothing: {counts:?}"
    );

    // Deletion: the shares are gone everywhere; Alice is no longer found.
    client.delete(alice_id).await.expect("delete");
    assert!(
        !client
            .dedupe(&template(&alice, &params))
            .await
            .expect("dedupe")
    );
    assert!(enrolled_counts(&client).await.iter().all(|&(n, _)| n == 1));
    let err = client.delete(alice_id).await.expect_err("already deleted");
    assert!(err.to_string().contains("404"), "{err}");

    for n in nodes.into_iter().flatten() {
        stop(n).await;
    }
    tn.finish().await;
}

async fn malformed_requests_get_4xx_and_change_nothing(backend: Backend) {
    let tn = TestNet::new(backend, "malformed").await;
    let leader = tn.net.leader().api_url.clone();
    let client = tn.client();
    let nodes: Vec<Running> = (0..3).map(|i| start(tn.config(i))).collect();
    wait_ready(&client).await;
    tn.assert_backend(&client).await;
    let http = reqwest::Client::new();
    let post = |path: &str, body: String| {
        http.post(format!("{leader}{path}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let cases = [
        ("/v1/enroll", "{not json".to_string()),
        ("/v1/enroll", r#"{"request_id":"xyz","kind":"embedding","shares":[]}"#.to_string()),
        ("/v1/enroll", r#"{"request_id":"00000000000000000000000000000000","kind":"embedding","shares":[]}"#.to_string()),
        ("/v1/enroll", r#"{"request_id":"00000000000000000000000000000000","kind":"face","shares":[]}"#.to_string()),
        ("/v1/verify", r#"{"request_id":"00000000000000000000000000000000","kind":"embedding","shares":[],"client_key":"x","extra":1}"#.to_string()),
        ("/v1/delete", r#"{"request_id":"00000000000000000000000000000000","enrollment_id":"nothex"}"#.to_string()),
    ];
    for (path, body) in cases {
        let r = post(path, body.clone()).await.expect("http");
        assert!(
            r.status().is_client_error(),
            "{path} {body}: {}",
            r.status()
        );
    }
    // Shares that do not open (sealed to nobody) are refused by the nodes.
    let junk = r#"{"epk":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","nonce":"AAAAAAAAAAAAAAAA","ct":"AAAA"}"#;
    let body = format!(
        r#"{{"request_id":"00000000000000000000000000000001","kind":"embedding","shares":[{junk},{junk},{junk}]}}"#
    );
    let r = post("/v1/enroll", body).await.expect("http");
    assert_eq!(r.status(), reqwest::StatusCode::BAD_REQUEST);
    // Oversized bodies are refused: 413, or, when the node answers and
    // closes before the client has finished writing (a race on a loaded
    // machine), a broken pipe while sending the body.
    let big = format!(r#"{{"request_id":"{}"}}"#, "a".repeat(70 << 20));
    match post("/v1/enroll", big).await {
        Ok(r) => assert_eq!(r.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE),
        Err(e) => {
            let chain = format!("{e:?}");
            assert!(
                e.is_request() && (chain.contains("BodyWrite") || chain.contains("BrokenPipe")),
                "oversized body: {chain}"
            );
        }
    }
    assert!(enrolled_counts(&client).await.iter().all(|&(n, _)| n == 0));
    for n in nodes {
        stop(n).await;
    }
    tn.finish().await;
}

/// Runs each scenario once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = super::Backend::postgres() {
                        super::$name(backend).await;
                    }
                }
            )*
        }
    };
}

scenarios!(
    enroll_verify_dedupe_delete_restart_and_failures,
    malformed_requests_get_4xx_and_change_nothing,
);
