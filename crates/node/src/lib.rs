//! A Sanctuary operator node: the client API, the sequencing of operations,
//! the consent and policy checks, MPC over the peer mesh, storage and the
//! transparency log. (The client library is `sanctuary-client`; the
//! messages both speak are `sanctuary-proto`.)
//!
//! ```text
//!  client ──HTTP/JSON──▶ P0 (coordinator) ──control──▶ P1, P2
//!    │  shares sealed to each node   │        mutual TLS, pinned keys
//!    ◀── decision shares sealed to the client (only it learns the bit)
//! ```
//!
//! The node keeps its shares in memory for matching and in its database
//! (`sanctuary-store`) for durability; every state change is applied in the
//! coordinator's order, checked at the start of each operation.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![warn(missing_docs)]

mod api;
mod catchup;
mod compute;
mod config;
mod consent;
mod engine;
mod erasure;
mod error;
mod https;
mod init;
mod openapi;
mod ops;
mod position;
mod record;
mod state;
pub mod translog;
mod veto;
pub mod weave;

use std::sync::Arc;

// The public interface is:
pub use api::router;
pub use config::{NodeConfig, PeerEntry};
pub use engine::{Faults, Node, Verdicts};
pub use error::NodeError;
pub use init::{
    DEFAULT_API_PORT, DEFAULT_PEER_PORT, KeygenRequest, NodePublic, POLICY_FILE, PUBLIC_FILE,
    assemble, configure, default_policy, init_network, init_network_with, keygen, public_toml,
};
pub use record::Preload;
pub use veto::Approved;

/// Runs a node until `shutdown` completes: peer links, follower loop and the
/// client API (HTTPS with the node's pinned key; plain HTTP only where the
/// config says `insecure_http = true`).
pub async fn serve(
    cfg: NodeConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    serve_with(cfg, Faults::none(), shutdown).await
}

/// [`serve`] for a node that deviates as `faults` says (the devnet's rogue
/// operator).
pub async fn serve_with(
    cfg: NodeConfig,
    faults: Faults,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), NodeError> {
    let listen = cfg.api_listen.clone();
    let insecure = cfg.insecure_http;
    let tls = if insecure {
        None
    } else {
        let key = sanctuary_net::NodeKey::load(cfg.key_path())?;
        let name = format!("node{}.{}", cfg.party.index(), cfg.network);
        Some(sanctuary_net::tls::NodeTls::new(key, &name)?.api_server_config()?)
    };
    // Bind first: a node that cannot take its API port must not start its
    // peer links and background work and be left running.
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|e| NodeError::Config {
            path: listen.clone().into(),
            message: format!("cannot listen for the client API: {e}"),
        })?;
    let node: Arc<Node> = Node::start_with_faults(cfg, faults).await?;
    let scheme = if insecure { "http (insecure)" } else { "https" };
    tracing::info!(party = %node.party(), api = %listen, %scheme, "client API listening");
    let app = router(Arc::clone(&node));
    let served = match tls {
        Some(config) => {
            axum::serve(https::TlsListener::new(listener, config), app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
    .map_err(|e| NodeError::Config {
        path: listen.into(),
        message: e.to_string(),
    });
    // Stop the follower loop so the node, and with it the peer links and
    // their listening socket, is dropped here.
    node.stop();
    node.close().await;
    tracing::info!(party = %node.party(), "node stopped");
    served
}
