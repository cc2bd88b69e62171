//! Helpers shared by the node integration tests: an in-process three-node
//! network on loopback (free ports, mutual TLS, SQLite in a temp dir).
#![allow(dead_code)] // each test binary uses a subset

use std::path::Path;
use std::time::{Duration, Instant};

use sanctuary_node::{Client, NodeConfig, NodeError};
use sanctuary_share::PartyId;
use sanctuary_template::{Embedding, EmbeddingParams, Template};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) struct Running {
    pub(crate) stop: oneshot::Sender<()>,
    pub(crate) task: JoinHandle<Result<(), NodeError>>,
}

pub(crate) fn start(cfg: NodeConfig) -> Running {
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

pub(crate) async fn stop(r: Running) {
    let _ = r.stop.send(());
    let _ = r.task.await;
}

pub(crate) fn config(dir: &Path, i: usize) -> NodeConfig {
    NodeConfig::load(&dir.join(format!("node-{i}/node.toml"))).expect("config")
}

pub(crate) async fn wait_ready(client: &Client) {
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

pub(crate) fn person(seed: u64, params: &EmbeddingParams) -> Embedding {
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

pub(crate) fn template(e: &Embedding, params: &EmbeddingParams) -> Template {
    Template::Embedding(e.quantize(params).expect("valid"))
}

/// A fresh capture of `e`: each value moved by up to ±0.1.
pub(crate) fn noisy(e: &Embedding, seed: u64) -> Embedding {
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
