//! Node identity keys and the pinned mutual-TLS transport between the three
//! Sanctuary nodes.
//!
//! * [`NodeKey`]: a node's Ed25519 identity (PKCS#8 PEM file, mode 0600) and
//!   its pinnable [`PublicKey`] string (`ed25519:<base64>`).
//! * [`tls`]: rustls configurations (ring, TLS 1.3, Ed25519) whose verifiers
//!   accept exactly the pinned peer keys.
//! * [`PeerMesh`]: one TLS link per pair of nodes, re-established when a
//!   peer restarts, carrying many concurrent sessions; [`PeerMesh::session`]
//!   gives a [`MeshSession`], which implements
//!   [`sanctuary_mpc::transport::Transport`]. The [`mesh`] module documents
//!   who dials whom, the frame format, heartbeats and session semantics.
//!
//! ```no_run
//! # async fn demo(p1_key: sanctuary_net::PublicKey, p2_key: sanctuary_net::PublicKey)
//! # -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use sanctuary_net::{MeshConfig, NodeKey, PeerConfig, PeerMesh};
//! use sanctuary_share::PartyId;
//!
//! let key = NodeKey::load_or_generate("/var/lib/sanctuary/node-key.pem")?;
//! let config = MeshConfig::new(PartyId::P0, vec![
//!     PeerConfig { party: PartyId::P1, addr: "10.0.0.2:7100".into(), key: p1_key },
//!     PeerConfig { party: PartyId::P2, addr: "10.0.0.3:7100".into(), key: p2_key },
//! ]);
//! let mesh = PeerMesh::bind(config, key, "0.0.0.0:7100").await?;
//! mesh.wait_connected(Duration::from_secs(30)).await?;
//! let mut session = mesh.session(42)?; // all three nodes open session 42
//! # Ok(()) }
//! ```
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![warn(missing_docs)]

mod error;
mod key;
pub mod mesh;
pub mod tls;

pub use error::NetError;
pub use key::{NodeKey, PUBLIC_KEY_PREFIX, PublicKey, default_key_path};
pub use mesh::{
    DEFAULT_MAX_FRAME_LEN, FRAME_HEADER_LEN, FRAME_VERSION, HEARTBEAT_SESSION, LinkStatus,
    MeshConfig, MeshSession, PeerConfig, PeerMesh,
};
