//! Keys and configs for a network: `network init` (one machine makes every
//! node's keys: a convenience, and a trusted dealer), or `node keygen` on
//! each operator's machine, `network assemble` of the public parts, and
//! `node configure` (no secret ever leaves its operator).

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

/// [`init_network_with`] with `https://` API URLs.
pub fn init_network(
    dir: &Path,
    hosts: [&str; 3],
    network: &str,
    matching: MatchingConfig,
) -> Result<PathBuf, NodeError> {
    init_network_with(dir, hosts, network, matching, false)
}

/// Fixed default ports, so firewall rules can be planned: the client API
/// (HTTPS) and the peer links (mutual TLS). A loopback network on one
/// machine picks free ports instead (three nodes cannot share one port).
pub const DEFAULT_API_PORT: u16 = 7443;
/// See [`DEFAULT_API_PORT`].
pub const DEFAULT_PEER_PORT: u16 = 7444;

/// The public part of one node, which its operator hands to whoever
/// assembles `network.toml` (`public.toml`, written by `node keygen`).
/// Nothing in it is secret.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePublic {
    /// Network name.
    pub network: String,
    /// Its party id.
    pub party: PartyId,
    /// Where clients reach its API (`https://host:port`).
    pub api_url: String,
    /// Where the other nodes reach its peer links (`host:port`).
    pub peer_addr: String,
    /// Its TLS identity key.
    pub key: sanctuary_proto::PublicKey,
    /// Its X25519 key that shares are sealed to.
    pub seal_key: String,
    /// Its transparency-log verifier key.
    pub log_key: sanctuary_log::NoteVerifierKey,
}

/// Generates one node's secrets in `data_dir` (which must not hold keys
/// yet), mode 0600, and returns its public part.
fn make_node_keys(
    data_dir: &Path,
    network: &str,
    party: PartyId,
    api_url: String,
    peer_addr: String,
) -> Result<NodePublic, NodeError> {
    let key = NodeKey::generate()?;
    key.save(sanctuary_net::default_key_path(data_dir))?;
    let seal = SealKey::generate();
    write_secret(&data_dir.join("seal-key.bin"), seal.to_bytes().as_slice())?;
    let log_key = sanctuary_log::NoteSigningKey::generate(
        &crate::translog::log_key_name(network, party),
        &mut rand::rng(),
    )
    .map_err(|e| NodeError::Config {
        path: data_dir.to_owned(),
        message: format!("network name not usable as a log key name: {e}"),
    })?;
    write_secret(
        &data_dir.join(crate::translog::LOG_KEY_FILE),
        log_key.to_skey().as_bytes(),
    )?;
    Ok(NodePublic {
        network: network.to_owned(),
        party,
        api_url,
        peer_addr,
        key: key.public_key(),
        seal_key: seal.public(),
        log_key: log_key.verifier(),
    })
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_advertised_host(host: &str) -> Result<(), NodeError> {
    if host.is_empty() || host == "0.0.0.0" || host == "::" || host == "[::]" {
        return Err(NodeError::Config {
            path: PathBuf::from(host),
            message: "not an address clients and peers can reach: give each node's own \
                      host name or address (the node listens on all interfaces anyway)"
                .into(),
        });
    }
    Ok(())
}

/// The TOML text of `cfg`, with a header saying what the file is.
fn node_toml(cfg: &NodeConfig) -> Result<String, NodeError> {
    let body = toml::to_string(cfg).map_err(|e| NodeError::Config {
        path: cfg.data_dir.clone(),
        message: e.to_string(),
    })?;
    Ok(format!(
        "# Node {party} of network {network:?}. Relative paths are relative to this file.\n\
         # api_listen / peer_listen: where this node listens; peers[].peer_addr and the\n\
         # network file's api_url: where others reach it. `storage` may be a\n\
         # postgres:// URL (one database per operator); default: node.db here.\n\
         # Start with: sanctuary node --config node.toml\n\n{body}",
        party = cfg.party,
        network = cfg.network,
    ))
}

fn node_config(
    network: &str,
    me: &NodePublic,
    listen: (String, String),
    all: &[NodePublic],
    matching: MatchingConfig,
    insecure_http: bool,
) -> NodeConfig {
    NodeConfig {
        network: network.to_owned(),
        party: me.party,
        data_dir: PathBuf::from("."),
        api_listen: listen.0,
        peer_listen: listen.1,
        storage: None,
        peers: all
            .iter()
            .filter(|p| p.party != me.party)
            .map(|p| PeerEntry {
                party: p.party,
                peer_addr: p.peer_addr.clone(),
                key: p.key,
                log_key: p.log_key.clone(),
            })
            .collect(),
        matching,
        max_body_bytes: 64 << 20,
        peer_timeout_s: 30,
        policy: PathBuf::from(POLICY_FILE),
        insecure_http,
    }
}

/// The policy file's name inside each node's directory.
pub const POLICY_FILE: &str = "policy.toml";
/// The public part's file name inside a node directory (`node keygen`).
pub const PUBLIC_FILE: &str = "public.toml";

/// Builds a directory in a temporary sibling and renames it into place, so
/// a failure part-way leaves nothing behind and a rerun starts clean.
fn atomically<T>(
    target: &Path,
    build: impl FnOnce(&Path) -> Result<T, NodeError>,
) -> Result<T, NodeError> {
    if target.exists() {
        return Err(NodeError::Config {
            path: target.to_owned(),
            message: "already exists; choose another directory (nothing was written)".into(),
        });
    }
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|source| NodeError::ConfigIo {
        path: parent.clone(),
        source,
    })?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dir".into());
    let tmp = parent.join(format!(".{name}.partial-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(|source| NodeError::ConfigIo {
        path: tmp.clone(),
        source,
    })?;
    let out = build(&tmp).and_then(|v| {
        std::fs::rename(&tmp, target).map_err(|source| NodeError::ConfigIo {
            path: target.to_owned(),
            source,
        })?;
        Ok(v)
    });
    if out.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    out
}

/// Writes `DIR/network.toml` and `DIR/node-<i>/{node.toml, policy.toml,
/// keys}` for three nodes on `hosts` (one per node). On loopback each node
/// gets free ports; on other hosts the fixed defaults
/// ([`DEFAULT_API_PORT`], [`DEFAULT_PEER_PORT`]), listening on every
/// interface. API URLs are `https://`. All of it is built in a temporary
/// directory and renamed into place: a failure leaves nothing.
///
/// This is a single-machine convenience and a trusted dealer: whoever runs
/// it holds every node's secrets. Independent operators use
/// [`keygen`] on their own machines and [`assemble`] instead.
pub fn init_network_with(
    dir: &Path,
    hosts: [&str; 3],
    network: &str,
    matching: MatchingConfig,
    insecure_http: bool,
) -> Result<PathBuf, NodeError> {
    let scheme = if insecure_http { "http" } else { "https" };
    for name in ["network.toml", "node-0", "node-1", "node-2"] {
        if dir.join(name).exists() {
            return Err(NodeError::Config {
                path: dir.join(name),
                message: "a network already exists here; choose another directory".into(),
            });
        }
    }
    // Addresses first: nothing is written if one cannot be used.
    let mut addrs = Vec::new();
    for host in hosts {
        check_advertised_host(host)?;
        if is_loopback(host) {
            let (api, peer) = (free_port(host)?, free_port(host)?);
            addrs.push((
                format!("{host}:{api}"),
                format!("{host}:{peer}"),
                (format!("{host}:{api}"), format!("{host}:{peer}")),
            ));
        } else {
            let h = if host.contains(':') && !host.starts_with('[') {
                format!("[{host}]")
            } else {
                host.to_owned()
            };
            addrs.push((
                format!("{h}:{DEFAULT_API_PORT}"),
                format!("{h}:{DEFAULT_PEER_PORT}"),
                (
                    format!("0.0.0.0:{DEFAULT_API_PORT}"),
                    format!("0.0.0.0:{DEFAULT_PEER_PORT}"),
                ),
            ));
        }
    }
    // Fail now, not at node start, if the network name makes a bad policy.
    let policy_text = default_policy(network);
    toml::from_str::<toml::Value>(&policy_text).map_err(|e| NodeError::Config {
        path: PathBuf::from(POLICY_FILE),
        message: e.to_string(),
    })?;
    let existed = dir.exists();
    let build = |root: &Path| -> Result<(), NodeError> {
        let mut publics = Vec::new();
        for (party, (api, peer, _)) in PartyId::ALL.into_iter().zip(&addrs) {
            let data_dir = root.join(format!("node-{}", party.index()));
            std::fs::create_dir_all(&data_dir).map_err(|source| NodeError::ConfigIo {
                path: data_dir.clone(),
                source,
            })?;
            publics.push(make_node_keys(
                &data_dir,
                network,
                party,
                format!("{scheme}://{api}"),
                peer.clone(),
            )?);
            let policy_path = data_dir.join(POLICY_FILE);
            write(&policy_path, &policy_text)?;
            sanctuary_consent::Policy::load(&policy_path).map_err(|source| NodeError::Policy {
                path: policy_path.clone(),
                source,
            })?;
        }
        // Identity Weaving keys: a dealer ceremony (see `sanctuary_weave::ceremony`).
        let dirs: Vec<PathBuf> = (0..3).map(|i| root.join(format!("node-{i}"))).collect();
        let weave = crate::weave::write_ceremony(&dirs, write_secret)?;
        for (me, (_, _, listen)) in publics.iter().zip(&addrs) {
            let cfg = node_config(
                network,
                me,
                listen.clone(),
                &publics,
                matching,
                insecure_http,
            );
            write(
                &root
                    .join(format!("node-{}", me.party.index()))
                    .join("node.toml"),
                &node_toml(&cfg)?,
            )?;
        }
        let net = network_file(network, &publics, matching, Some(weave), insecure_http);
        write(&root.join("network.toml"), &network_toml(&net)?)
    };
    if existed {
        // An existing (empty or unrelated) directory: build beside, then
        // move the pieces in.
        let staging = dir.join(format!(".init.partial-{}", std::process::id()));
        atomically(&staging, build)?;
        let mut moved = Vec::new();
        for name in ["node-0", "node-1", "node-2", "network.toml"] {
            if dir.join(name).exists() {
                let _ = std::fs::remove_dir_all(&staging);
                for m in moved {
                    let _ = std::fs::remove_dir_all(dir.join(m));
                }
                return Err(NodeError::Config {
                    path: dir.join(name),
                    message: "already exists; choose another directory (nothing was written)"
                        .into(),
                });
            }
            std::fs::rename(staging.join(name), dir.join(name)).map_err(|source| {
                NodeError::ConfigIo {
                    path: dir.join(name),
                    source,
                }
            })?;
            moved.push(name);
        }
        let _ = std::fs::remove_dir_all(&staging);
    } else {
        atomically(dir, build)?;
    }
    Ok(dir.join("network.toml"))
}

fn network_file(
    network: &str,
    publics: &[NodePublic],
    matching: MatchingConfig,
    weave: Option<sanctuary_weave::WeavePublic>,
    insecure_http: bool,
) -> NetworkFile {
    NetworkFile {
        network: network.to_owned(),
        nodes: publics
            .iter()
            .map(|p| NodeEntry {
                party: p.party,
                api_url: p.api_url.clone(),
                key: p.key,
                seal_key: p.seal_key.clone(),
                log_key: p.log_key.clone(),
                peer_addr: Some(p.peer_addr.clone()),
            })
            .collect(),
        matching,
        weave,
        insecure_http,
    }
}

fn network_toml(net: &NetworkFile) -> Result<String, NodeError> {
    let body = toml::to_string(net).map_err(|e| NodeError::Config {
        path: PathBuf::from("network.toml"),
        message: e.to_string(),
    })?;
    Ok(format!(
        "# Network {:?}: the public description clients and nodes load. Nothing in it\n\
         # is secret; every node's key is pinned here, so hand it out intact.\n\n{body}",
        net.network
    ))
}

/// What `node keygen` is asked for.
#[derive(Debug, Clone)]
pub struct KeygenRequest {
    /// The new node directory (must not exist).
    pub dir: PathBuf,
    /// Network name.
    pub network: String,
    /// This node's party id.
    pub party: PartyId,
    /// `host:port` clients use for the API.
    pub advertise_api: String,
    /// `host:port` peers use for the peer links.
    pub advertise_peer: String,
    /// Listen address of the API (default `0.0.0.0:<advertised port>`).
    pub listen_api: Option<String>,
    /// Listen address of the peer links.
    pub listen_peer: Option<String>,
    /// Plain-HTTP API (local experiments only).
    pub insecure_http: bool,
}

fn port_of(addr: &str) -> Result<u16, NodeError> {
    addr.rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .ok_or_else(|| NodeError::Config {
            path: PathBuf::from(addr),
            message: "expected host:port".into(),
        })
}

/// `sanctuary node keygen`: one operator makes its own node's secrets on
/// its own machine. Writes `DIR/` (keys mode 0600, `policy.toml`,
/// `listen.toml` with where it listens, and `public.toml`: the part to
/// hand to whoever assembles the network). Atomic: a failure leaves no
/// directory. Identity Weaving keys are not made here (they need a
/// distributed key generation; such a network runs without weaving).
pub fn keygen(req: &KeygenRequest) -> Result<NodePublic, NodeError> {
    for addr in [&req.advertise_api, &req.advertise_peer] {
        let host = addr.rsplit_once(':').map(|(h, _)| h).unwrap_or("");
        check_advertised_host(host)?;
        port_of(addr)?;
    }
    let listen_api = match &req.listen_api {
        Some(a) => a.clone(),
        None => format!("0.0.0.0:{}", port_of(&req.advertise_api)?),
    };
    let listen_peer = match &req.listen_peer {
        Some(a) => a.clone(),
        None => format!("0.0.0.0:{}", port_of(&req.advertise_peer)?),
    };
    let scheme = if req.insecure_http { "http" } else { "https" };
    atomically(&req.dir, |tmp| {
        let public = make_node_keys(
            tmp,
            &req.network,
            req.party,
            format!("{scheme}://{}", req.advertise_api),
            req.advertise_peer.clone(),
        )?;
        write(&tmp.join(POLICY_FILE), &default_policy(&req.network))?;
        let listen = toml::to_string(&Listen {
            api_listen: listen_api.clone(),
            peer_listen: listen_peer.clone(),
            insecure_http: req.insecure_http,
        })
        .map_err(|e| NodeError::Config {
            path: tmp.join(LISTEN_FILE),
            message: e.to_string(),
        })?;
        write(
            &tmp.join(LISTEN_FILE),
            &format!("# Where this node listens (edit before `node configure`).\n{listen}"),
        )?;
        write(&tmp.join(PUBLIC_FILE), &public_toml(&public)?)?;
        Ok(public)
    })
}

const LISTEN_FILE: &str = "listen.toml";

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Listen {
    api_listen: String,
    peer_listen: String,
    #[serde(default)]
    insecure_http: bool,
}

/// The text of a `public.toml`.
pub fn public_toml(p: &NodePublic) -> Result<String, NodeError> {
    let body = toml::to_string(p).map_err(|e| NodeError::Config {
        path: PathBuf::from(PUBLIC_FILE),
        message: e.to_string(),
    })?;
    Ok(format!(
        "# The public part of node {} of {:?}: give it to whoever runs\n\
         # `sanctuary network assemble`. Nothing in it is secret.\n\n{body}",
        p.party, p.network
    ))
}

fn read_public(path: &Path) -> Result<NodePublic, NodeError> {
    let text = std::fs::read_to_string(path).map_err(|source| NodeError::ConfigIo {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| NodeError::Config {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// `sanctuary network assemble`: the network file from the three nodes'
/// public parts (no secret needed). Checks that they name one network and
/// parties 0, 1 and 2 once each, with distinct keys.
pub fn assemble(
    publics: &[PathBuf],
    out: &Path,
    matching: MatchingConfig,
) -> Result<NetworkFile, NodeError> {
    let mut parts: Vec<NodePublic> = publics
        .iter()
        .map(|p| read_public(p))
        .collect::<Result<_, _>>()?;
    let bad = |message: String| NodeError::Config {
        path: out.to_owned(),
        message,
    };
    if parts.len() != 3 {
        return Err(bad(format!(
            "give the public parts of exactly 3 nodes (got {})",
            parts.len()
        )));
    }
    parts.sort_by_key(|p| p.party.index());
    let name = parts[0].network.clone();
    for (want, p) in PartyId::ALL.into_iter().zip(&parts) {
        if p.party != want {
            return Err(bad(format!(
                "the parts must be parties 0, 1 and 2 once each; {want} is missing"
            )));
        }
        if p.network != name {
            return Err(bad(format!(
                "party {} is for network {:?}, party 0 for {name:?}",
                p.party, p.network
            )));
        }
    }
    let insecure = parts.iter().any(|p| p.api_url.starts_with("http://"));
    let distinct = |f: fn(&NodePublic) -> String| {
        let mut v: Vec<String> = parts.iter().map(f).collect();
        v.sort();
        v.dedup();
        v.len() == 3
    };
    if !distinct(|p| p.key.to_string()) || !distinct(|p| p.seal_key.clone()) {
        return Err(bad(
            "two parts carry the same key: each node needs its own".into()
        ));
    }
    let net = network_file(&name, &parts, matching, None, insecure);
    let text = network_toml(&net)?;
    // Parse it back as clients will, so a bad file is never written.
    NetworkFile::parse(&text).map_err(bad)?;
    if out.exists() {
        return Err(bad("already exists (nothing was written)".into()));
    }
    write(out, &text)?;
    Ok(net)
}

/// `sanctuary node configure`: writes `DIR/node.toml` from the assembled
/// network file, after checking that this node's entry is there and
/// carries this node's own keys (a swapped or stale network file is
/// refused).
pub fn configure(dir: &Path, network: &Path) -> Result<PathBuf, NodeError> {
    let net = NetworkFile::load(network).map_err(|e| NodeError::Config {
        path: network.to_owned(),
        message: e.to_string(),
    })?;
    let public = read_public(&dir.join(PUBLIC_FILE))?;
    let bad = |message: String| NodeError::Config {
        path: network.to_owned(),
        message,
    };
    if net.network != public.network {
        return Err(bad(format!(
            "is for network {:?}, this node for {:?}",
            net.network, public.network
        )));
    }
    let key = NodeKey::load(sanctuary_net::default_key_path(dir))?;
    let entry = net
        .nodes
        .iter()
        .find(|n| n.party == public.party)
        .ok_or_else(|| bad(format!("has no entry for this node ({})", public.party)))?;
    if entry.key != key.public_key() || entry.seal_key != public.seal_key {
        return Err(bad(format!(
            "its entry for {} does not carry this node's keys (a stale or swapped network file)",
            public.party
        )));
    }
    let mut all = Vec::new();
    for n in &net.nodes {
        let peer_addr = n
            .peer_addr
            .clone()
            .ok_or_else(|| bad(format!("no peer_addr for {}", n.party)))?;
        all.push(NodePublic {
            network: net.network.clone(),
            party: n.party,
            api_url: n.api_url.clone(),
            peer_addr,
            key: n.key,
            seal_key: n.seal_key.clone(),
            log_key: n.log_key.clone(),
        });
    }
    let listen_path = dir.join(LISTEN_FILE);
    let listen: Listen =
        toml::from_str(&std::fs::read_to_string(&listen_path).map_err(|source| {
            NodeError::ConfigIo {
                path: listen_path.clone(),
                source,
            }
        })?)
        .map_err(|e| NodeError::Config {
            path: listen_path.clone(),
            message: e.to_string(),
        })?;
    let cfg = node_config(
        &net.network,
        &public,
        (listen.api_listen, listen.peer_listen),
        &all,
        net.matching,
        listen.insecure_http,
    );
    let path = dir.join("node.toml");
    write(&path, &node_toml(&cfg)?)?;
    // Check it loads as `sanctuary node` will load it.
    NodeConfig::load(&path)?;
    Ok(path)
}
