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

mod common;

use common::*;
use sanctuary_client::{Client, ClientError, Consent, NetworkFile};
use sanctuary_consent::{NetworkId, Purpose, RelyingPartyId, TokenRequest, Wallet};
use sanctuary_node::NodeConfig;
use sanctuary_proto::wire::EnrollStatus;
use sanctuary_share::PartyId;
use sqlx::Connection;

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

/// A consent token from `w` for `audience` and one purpose.
fn consent(w: &mut Wallet, network: &str, audience: &str, purpose: Purpose) -> Consent {
    let now = time::OffsetDateTime::now_utc();
    let issued = w
        .issue_token(
            &TokenRequest {
                network: NetworkId::new(network).expect("network id"),
                audience: RelyingPartyId::new(audience).expect("audience"),
                purposes: vec![purpose],
                expires_at: now + time::Duration::minutes(30),
                max_uses: None,
            },
            now,
        )
        .expect("issue");
    Consent {
        relying_party: audience.into(),
        token: issued.token,
    }
}

async fn enroll_verify_dedupe_delete_restart_and_failures(backend: Backend) {
    let tn = TestNet::new(backend, "evddr").await;
    let params = tn.net.matching.embedding;
    let client = tn.client();
    let mut nodes: Vec<Option<Running>> = (0..3).map(|i| Some(start(tn.config(i)))).collect();
    wait_ready(&client).await;
    tn.assert_backend(&client).await;

    let network = tn.net.network.clone();
    let now = time::OffsetDateTime::now_utc();
    let (mut alice_w, mut bob_w) = (Wallet::create(now), Wallet::create(now));
    let site = "site.example";
    let alice = person(1, &params);
    let bob = person(2, &params);
    let r = client
        .enroll(&template(&alice, &params), &alice_w, site)
        .await
        .expect("enroll alice");
    assert_eq!(r.status, EnrollStatus::Enrolled);
    let alice_id = r.enrollment_id.expect("id");
    let r = client
        .enroll(&template(&bob, &params), &bob_w, site)
        .await
        .expect("enroll bob");
    let bob_id = r.enrollment_id.expect("id");
    // A fresh capture of Alice is refused, whatever key she presents.
    let r = client
        .enroll(
            &template(&noisy(&alice, 9), &params),
            &Wallet::create(now),
            site,
        )
        .await
        .expect("enroll again");
    assert_eq!(r.status, EnrollStatus::AlreadyEnrolled);
    assert!(r.enrollment_id.is_none());

    let bank = consent(&mut alice_w, &network, "bank.example", Purpose::Verify);
    assert!(
        client
            .verify(alice_id, &template(&noisy(&alice, 3), &params), &bank)
            .await
            .expect("verify")
    );
    assert!(
        !client
            .verify(alice_id, &template(&bob, &params), &bank)
            .await
            .expect("verify")
    );
    let check = consent(&mut bob_w, &network, site, Purpose::Dedupe);
    assert!(
        client
            .dedupe(
                &template(&noisy(&bob, 4), &params),
                &check,
                &bob_w.subject()
            )
            .await
            .expect("dedupe")
    );
    let mut carol_w = Wallet::create(now);
    let check = consent(&mut carol_w, &network, site, Purpose::Dedupe);
    assert!(
        !client
            .dedupe(
                &template(&person(3, &params), &params),
                &check,
                &carol_w.subject()
            )
            .await
            .expect("dedupe")
    );
    assert!(enrolled_counts(&client).await.iter().all(|&(n, _)| n == 2));

    // Restart a node between operations: nothing lost, nothing duplicated.
    stop(nodes[2].take().expect("running")).await;
    nodes[2] = Some(start(tn.config(2)));
    wait_ready(&client).await;
    let bank = consent(&mut bob_w, &network, "bank.example", Purpose::Verify);
    assert!(
        client
            .verify(bob_id, &template(&noisy(&bob, 5), &params), &bank)
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
        .enroll(
            &template(&person(4, &params), &params),
            &Wallet::create(now),
            site,
        )
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
    client.delete(alice_id, &alice_w).await.expect("delete");
    let check = consent(&mut alice_w, &network, site, Purpose::Dedupe);
    assert!(
        !client
            .dedupe(&template(&alice, &params), &check, &alice_w.subject())
            .await
            .expect("dedupe")
    );
    assert!(enrolled_counts(&client).await.iter().all(|&(n, _)| n == 1));
    // Gone from every node's storage (SQLite file or PostgreSQL database).
    for i in 0..3 {
        let store = sanctuary_store::Store::open(&tn.config(i).storage_url())
            .await
            .expect("open store");
        assert!(
            !store.has_share(&alice_id).await.expect("has_share"),
            "node {i}"
        );
        store.close().await;
    }
    let err = client
        .delete(alice_id, &alice_w)
        .await
        .expect_err("already deleted");
    assert!(
        matches!(&err, ClientError::Refused { code, .. } if code == "unknown_enrollment"),
        "{err}"
    );

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
    // The client's HTTP client pinned to P0's key (the API is HTTPS).
    let (http, _) = client.pinned_http(sanctuary_share::PartyId::P0);
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
    // A consented request whose shares do not open (sealed to nobody) is
    // refused by the nodes, and nothing is stored.
    let junk: sanctuary_proto::seal::SealedBox = serde_json::from_str(
        r#"{"epk":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","nonce":"AAAAAAAAAAAAAAAA","ct":"AAAA"}"#,
    )
    .expect("box");
    let rid = "00000000000000000000000000000001";
    let kind = sanctuary_template::TemplateKind::Embedding;
    let wallet = Wallet::create(time::OffsetDateTime::now_utc());
    let statement = sanctuary_consent::EnrollmentStatement::new(
        NetworkId::new(&tn.net.network).expect("id"),
        sanctuary_proto::wire::enrollment_commitment(rid, kind, &[junk.digest(); 3], &[[7; 32]; 3]),
        time::OffsetDateTime::now_utc(),
    );
    let req = sanctuary_proto::wire::EnrollRequest {
        request_id: rid.into(),
        kind,
        shares: vec![junk.clone(), junk.clone(), junk],
        site: "site.example".into(),
        statement: sanctuary_consent::SignedStatement::sign(&wallet, statement),
        audit_tag: None,
        components: vec![hex::encode([7u8; 32]); 3],
    };
    let r = post("/v1/enroll", serde_json::to_string(&req).expect("json"))
        .await
        .expect("http");
    // Each node checks its own box before anything runs: the boxes do not
    // open, so the request is refused (and logged), naming the check.
    assert_eq!(r.status(), reqwest::StatusCode::FORBIDDEN);
    let body: serde_json::Value = r.json().await.expect("json body");
    assert_eq!(body["error"], "share_not_bound", "{body}");
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
