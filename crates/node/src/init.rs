//! `sanctuary network init`: keys and configs for a network on one machine
//! (loopback, free ports) or, with explicit hosts, across machines.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use sanctuary_net::NodeKey;
use sanctuary_share::PartyId;

use crate::NodeError;
use crate::config::{NodeConfig, PeerEntry};
use sanctuary_proto::seal::SealKey;
use sanctuary_proto::{MatchingConfig, NetworkFile, NodeEntry};

fn free_port(host: &str) -> Result<u16, NodeError> {
    let l = TcpListener::bind((host, 0)).map_err(|e| NodeError::Config {
        path: PathBuf::from(host),
        message: format!("cannot find a free port: {e}"),
    })?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| NodeError::Config {
            path: PathBuf::from(host),
            message: e.to_string(),
        })
}

fn write(path: &Path, text: &str) -> Result<(), NodeError> {
    std::fs::write(path, text).map_err(|source| NodeError::ConfigIo {
        path: path.to_owned(),
        source,
    })
}

fn write_secret(path: &Path, bytes: &[u8]) -> Result<(), NodeError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|source| NodeError::ConfigIo {
            path: path.to_owned(),
            source,
        })?;
    f.write_all(bytes).map_err(|source| NodeError::ConfigIo {
        path: path.to_owned(),
        source,
    })
}

/// The ethics policy a new network starts with (edit `policy.toml` before
/// starting the nodes; every node must load the same file).
pub fn default_policy(network: &str) -> String {
    format!(
        r#"# Ethics policy of network {network:?}: every node loads and publishes it
# (GET /v1/policy). Structural rules (no open 1:N identification, dedupe
# answers only "already enrolled") are fixed in code and cannot be relaxed.
version = 1
network = "{network}"
operator = "local network created by sanctuary network init"

[purposes]
# "identify" is never accepted; "delete" and "reveal_own_enrollment" are
# subject rights and always served.
allowed = ["enroll", "verify", "dedupe", "festival_checkin"]

[retention]
days_after_last_use = 365

[rate_limits.default]
per_minute = 100000

# A relying party with a tight limit, to show rate limiting in the demo.
[rate_limits.relying_parties."scraper.example"]
per_minute = 2

[statements]
max_age_seconds = 600
"#
    )
}

/// Writes `DIR/network.toml` and `DIR/node-<i>/{node.toml, keys}` for three
/// nodes on `hosts` (one per node; all `127.0.0.1` for a local network),
/// with free ports and `https://` API URLs. Refuses to overwrite an
/// existing network.
pub fn init_network(
    dir: &Path,
    hosts: [&str; 3],
    network: &str,
    matching: MatchingConfig,
) -> Result<PathBuf, NodeError> {
    init_network_with(dir, hosts, network, matching, false)
}

/// [`init_network`], with plain-HTTP API URLs when `insecure_http` (a local
/// experiment: the network file and node configs then say so, and clients
/// cannot authenticate the nodes).
pub fn init_network_with(
    dir: &Path,
    hosts: [&str; 3],
    network: &str,
    matching: MatchingConfig,
    insecure_http: bool,
) -> Result<PathBuf, NodeError> {
    let scheme = if insecure_http { "http" } else { "https" };
    let net_path = dir.join("network.toml");
    if net_path.exists() {
        return Err(NodeError::Config {
            path: net_path,
            message: "a network already exists here; choose another directory".into(),
        });
    }
    std::fs::create_dir_all(dir).map_err(|source| NodeError::ConfigIo {
        path: dir.to_owned(),
        source,
    })?;
    let mut entries = Vec::new();
    let mut peers = Vec::new();
    let mut listens = Vec::new();
    for (party, host) in PartyId::ALL.into_iter().zip(hosts) {
        let data_dir = dir.join(format!("node-{}", party.index()));
        std::fs::create_dir_all(&data_dir).map_err(|source| NodeError::ConfigIo {
            path: data_dir.clone(),
            source,
        })?;
        let key = NodeKey::generate()?;
        key.save(sanctuary_net::default_key_path(&data_dir))?;
        let seal = SealKey::generate();
        write_secret(&data_dir.join("seal-key.bin"), seal.to_bytes().as_slice())?;
        let log_key = sanctuary_log::NoteSigningKey::generate(
            &crate::translog::log_key_name(network, party),
            &mut rand::rng(),
        )
        .map_err(|e| NodeError::Config {
            path: data_dir.clone(),
            message: format!("network name not usable as a log key name: {e}"),
        })?;
        write_secret(
            &data_dir.join(crate::translog::LOG_KEY_FILE),
            log_key.to_skey().as_bytes(),
        )?;
        let api = format!("{host}:{}", free_port(host)?);
        let peer = format!("{host}:{}", free_port(host)?);
        entries.push(NodeEntry {
            party,
            api_url: format!("{scheme}://{api}"),
            key: key.public_key(),
            seal_key: seal.public(),
            log_key: log_key.verifier(),
        });
        peers.push(PeerEntry {
            party,
            peer_addr: peer.clone(),
            key: key.public_key(),
            log_key: log_key.verifier(),
        });
        listens.push((data_dir, api, peer));
    }
    let policy_path = dir.join("policy.toml");
    write(&policy_path, &default_policy(network))?;
    // Fail now, not at node start, if the network name makes a bad policy.
    sanctuary_consent::Policy::load(&policy_path).map_err(|source| NodeError::Policy {
        path: policy_path.clone(),
        source,
    })?;
    // Identity Weaving keys: a dealer ceremony (see `sanctuary_weave::ceremony`).
    let dirs: Vec<PathBuf> = listens.iter().map(|(d, _, _)| d.clone()).collect();
    let weave = crate::weave::write_ceremony(&dirs, write_secret)?;
    for (party, (data_dir, api, peer)) in PartyId::ALL.into_iter().zip(listens) {
        let cfg = NodeConfig {
            network: network.to_owned(),
            party,
            data_dir: data_dir.clone(),
            api_listen: api,
            peer_listen: peer,
            storage: None,
            peers: peers.iter().filter(|p| p.party != party).cloned().collect(),
            matching,
            max_body_bytes: 64 << 20,
            peer_timeout_s: 30,
            policy: policy_path.clone(),
            insecure_http,
        };
        let text = toml::to_string(&cfg).map_err(|e| NodeError::Config {
            path: data_dir.clone(),
            message: e.to_string(),
        })?;
        write(&data_dir.join("node.toml"), &text)?;
    }
    let net = NetworkFile {
        network: network.to_owned(),
        nodes: entries,
        matching,
        weave: Some(weave),
        insecure_http,
    };
    let text = toml::to_string(&net).map_err(|e| NodeError::Config {
        path: net_path.clone(),
        message: e.to_string(),
    })?;
    write(&net_path, &text)?;
    Ok(net_path)
}
