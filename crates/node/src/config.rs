//! Node and network configuration files (TOML), parsed in two layers: serde
//! structs with no I/O, then checks that name the bad field.

use std::path::{Path, PathBuf};

use sanctuary_proto::{MatchingConfig, PublicKey};
use sanctuary_share::PartyId;
use serde::{Deserialize, Serialize};

use crate::NodeError;

/// Another node as this node knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerEntry {
    /// Its party id.
    pub party: PartyId,
    /// Its peer-link address (`host:port`).
    pub peer_addr: String,
    /// Its pinned identity key (`ed25519:...`).
    pub key: PublicKey,
    /// Its transparency-log signing key (signed-note verifier key).
    pub log_key: sanctuary_log::NoteVerifierKey,
}

/// One operator's node configuration (`node.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Network name; every node and client must agree.
    pub network: String,
    /// This node's party id (no default: a missing id is an error, never P0).
    pub party: PartyId,
    /// Directory for the node's keys and default database.
    pub data_dir: PathBuf,
    /// Client API listen address (`host:port`).
    pub api_listen: String,
    /// Peer-link listen address (`host:port`).
    pub peer_listen: String,
    /// Storage URL: `sqlite://PATH` (default `sqlite://<data_dir>/node.db`) or
    /// `postgres://...`.
    #[serde(default)]
    pub storage: Option<String>,
    /// The two other nodes.
    pub peers: Vec<PeerEntry>,
    /// Matching parameters (defaults: 512-d embeddings at cosine 0.5; iris
    /// 16x200x4 with +-15 rotations at HD 0.345).
    #[serde(default)]
    pub matching: MatchingConfig,
    /// Largest request body accepted, in bytes (default 64 MiB).
    #[serde(default = "default_body_limit")]
    pub max_body_bytes: usize,
    /// Seconds a node waits for a peer inside an operation (default 30).
    #[serde(default = "default_peer_timeout")]
    pub peer_timeout_s: u64,
    /// The network's ethics policy file (TOML), which this node enforces
    /// and publishes at `/v1/policy`. Required: a node without a policy
    /// does not start.
    pub policy: PathBuf,
    /// Serve the client API as plain HTTP instead of HTTPS (default false;
    /// only for local experiments: clients then cannot authenticate the
    /// node, and refuse it unless their network file allows it too).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_http: bool,
}

fn default_body_limit() -> usize {
    64 << 20
}

fn default_peer_timeout() -> u64 {
    30
}

impl NodeConfig {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Self, NodeError> {
        let text = std::fs::read_to_string(path).map_err(|source| NodeError::ConfigIo {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg: NodeConfig = toml::from_str(&text).map_err(|e| NodeError::Config {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        // Relative paths are relative to the file, so a node directory can
        // be copied to another host or path as a whole.
        let base = path.parent().unwrap_or(Path::new("."));
        for p in [&mut cfg.data_dir, &mut cfg.policy] {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        }
        cfg.check().map_err(|message| NodeError::Config {
            path: path.to_owned(),
            message,
        })?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        if self.peers.len() != 2 {
            return Err(format!(
                "`peers` must list the 2 other nodes, found {}",
                self.peers.len()
            ));
        }
        if self.peers.iter().any(|p| p.party == self.party)
            || self.peers[0].party == self.peers[1].party
        {
            return Err("`peers` must be the two parties other than this one".into());
        }
        self.matching
            .embedding
            .validate()
            .map_err(|e| format!("matching.embedding: {e}"))?;
        self.matching
            .iris
            .validate()
            .map_err(|e| format!("matching.iris: {e}"))?;
        if self.max_body_bytes < 1024 {
            return Err("`max_body_bytes` must be at least 1024".into());
        }
        Ok(())
    }

    /// The storage URL in force.
    pub fn storage_url(&self) -> String {
        self.storage
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("node.db").display()))
    }

    /// Path of the identity key.
    pub fn key_path(&self) -> PathBuf {
        sanctuary_net::default_key_path(&self.data_dir)
    }

    /// The transparency-log signing key file.
    pub fn log_key_path(&self) -> PathBuf {
        self.data_dir.join(crate::translog::LOG_KEY_FILE)
    }

    /// Path of the X25519 key that opens sealed shares.
    pub fn seal_key_path(&self) -> PathBuf {
        self.data_dir.join("seal-key.bin")
    }
}
