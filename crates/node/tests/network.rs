//! A whole network in one test process: three nodes on loopback (free ports,
//! mutual TLS, SQLite in a temp dir), driven through the client library.

use std::path::Path;
use std::time::{Duration, Instant};

use sanctuary_node::wire::EnrollStatus;
use sanctuary_node::{Client, NetworkFile, NodeConfig, NodeError};
use sanctuary_share::PartyId;
use sanctuary_template::{Embedding, EmbeddingParams, Template};
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

fn config(dir: &Path, i: usize) -> NodeConfig {
    NodeConfig::load(&dir.join(format!("node-{i}/node.toml"))).expect("config")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_verify_dedupe_delete_restart_and_failures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_path =
        sanctuary_node::init_network(dir, ["127.0.0.1"; 3], "test-net", Default::default())
            .expect("init");
    let net = NetworkFile::load(&net_path).expect("network file");
    let params = net.matching.embedding;
    let client = Client::new(net).expect("client");
    let mut nodes: Vec<Option<Running>> = (0..3).map(|i| Some(start(config(dir, i)))).collect();
    wait_ready(&client).await;

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
    nodes[2] = Some(start(config(dir, 2)));
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
    nodes[1] = Some(start(config(dir, 1)));
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
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_4xx_and_change_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_path =
        sanctuary_node::init_network(dir, ["127.0.0.1"; 3], "test-net", Default::default())
            .expect("init");
    let net = NetworkFile::load(&net_path).expect("network file");
    let leader = net.leader().api_url.clone();
    let client = Client::new(net).expect("client");
    let nodes: Vec<Running> = (0..3).map(|i| start(config(dir, i))).collect();
    wait_ready(&client).await;
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
    // Oversized bodies are refused.
    let big = format!(r#"{{"request_id":"{}"}}"#, "a".repeat(70 << 20));
    let r = post("/v1/enroll", big).await.expect("http");
    assert_eq!(r.status(), reqwest::StatusCode::PAYLOAD_TOO_LARGE);
    assert!(enrolled_counts(&client).await.iter().all(|&(n, _)| n == 0));
    for n in nodes {
        stop(n).await;
    }
}
