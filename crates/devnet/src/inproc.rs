//! Nodes in this process (one tokio task each), for tests that stop,
//! restart and inspect nodes without spawning processes.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use sanctuary_node::{Faults, NodeConfig, NodeError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A node serving in this process; [`stop`] it to shut it down cleanly.
#[derive(Debug)]
pub struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<Result<(), NodeError>>,
}

/// Starts the node of `cfg`. A restarted node may find its ports still held
/// for a moment: start-up is retried for up to 10 s while they are.
pub fn start(cfg: NodeConfig) -> Running {
    start_with(cfg, Faults::none)
}

/// [`start`] for a node that deviates as `faults()` says (called once per
/// start-up attempt).
pub fn start_with(cfg: NodeConfig, faults: impl Fn() -> Faults + Send + 'static) -> Running {
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut rx = rx;
        loop {
            let (tx2, rx2) = oneshot::channel::<()>();
            let shutdown = async move {
                let _ = rx2.await;
            };
            let serve = sanctuary_node::serve_with(cfg.clone(), faults(), shutdown);
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
                                tracing::warn!(party = %cfg.party, error = ?e, "node stopped with an error");
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

/// Stops a node and waits until it has closed its database and sockets.
pub async fn stop(r: Running) {
    let _ = r.stop.send(());
    let _ = r.task.await;
}

/// Node `i`'s config in a network directory written by `network init`.
pub fn config(dir: &Path, i: usize) -> anyhow::Result<NodeConfig> {
    let path = dir.join(format!("node-{i}/node.toml"));
    NodeConfig::load(&path).with_context(|| format!("node {i}'s config"))
}
