//! The public description of a network (`network.toml`): what every client
//! and node of one network agrees on.

use std::collections::BTreeMap;
use std::path::Path;

use sanctuary_share::PartyId;
use sanctuary_template::{EmbeddingParams, IrisParams, TemplateKind};
use serde::{Deserialize, Serialize};

use sanctuary_log::CheckpointPolicy;

use crate::{ProtoError, PublicKey};

/// The adversary the nodes' computations defend against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MpcSecurity {
    /// Honest-but-curious nodes (fast; a node that sends wrong values can
    /// change a decision, not learn a template).
    #[default]
    SemiHonest,
    /// One node may deviate: every message of a computation is proven to
    /// the two other nodes before anything is opened or sealed to a client
    /// (about 100x slower today, embeddings only: docs/ARCHITECTURE.md).
    Malicious,
}

impl MpcSecurity {
    fn is_default(&self) -> bool {
        *self == MpcSecurity::default()
    }
}

/// Matching parameters: identical on every node and client of a network.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchingConfig {
    /// Embedding layout and threshold.
    #[serde(default)]
    pub embedding: EmbeddingParams,
    /// Iris layout, rotations and threshold.
    #[serde(default)]
    pub iris: IrisParams,
    /// `security = "malicious"` in `[matching]`; semi-honest when absent.
    #[serde(default, skip_serializing_if = "MpcSecurity::is_default")]
    pub security: MpcSecurity,
    /// `personhood = ["embedding", "iris"]`: the modalities a subject must
    /// have enrolled (each deduplicated in its own gallery) before the
    /// nodes issue a "unique person" credential or a festival admission.
    /// Default: every modality, so one person cannot get a credential per
    /// modality under two wallets.
    #[serde(default, skip_serializing_if = "Modalities::is_all")]
    pub personhood: Modalities,
}

/// A set of template kinds (written as a list in `network.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modalities {
    embedding: bool,
    iris: bool,
}

impl Default for Modalities {
    fn default() -> Self {
        Modalities {
            embedding: true,
            iris: true,
        }
    }
}

impl Modalities {
    /// Every kind.
    pub fn is_all(&self) -> bool {
        *self == Modalities::default()
    }

    /// Only `kind`.
    pub fn only(kind: TemplateKind) -> Self {
        Modalities {
            embedding: kind == TemplateKind::Embedding,
            iris: kind == TemplateKind::Iris,
        }
    }

    /// Whether `kind` is in the set.
    pub fn contains(&self, kind: TemplateKind) -> bool {
        match kind {
            TemplateKind::Embedding => self.embedding,
            TemplateKind::Iris => self.iris,
        }
    }

    /// The kinds, in a fixed order.
    pub fn kinds(&self) -> Vec<TemplateKind> {
        [TemplateKind::Embedding, TemplateKind::Iris]
            .into_iter()
            .filter(|k| self.contains(*k))
            .collect()
    }
}

impl Serialize for Modalities {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.kinds().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Modalities {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let kinds = Vec::<TemplateKind>::deserialize(d)?;
        if kinds.is_empty() {
            return Err(serde::de::Error::custom(
                "personhood needs at least one modality",
            ));
        }
        let mut m = Modalities {
            embedding: false,
            iris: false,
        };
        for k in kinds {
            match k {
                TemplateKind::Embedding => m.embedding = true,
                TemplateKind::Iris => m.iris = true,
            }
        }
        Ok(m)
    }
}

/// A node as clients see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeEntry {
    /// Party id.
    pub party: PartyId,
    /// Client API base URL, e.g. `http://127.0.0.1:7100`.
    pub api_url: String,
    /// Identity key (pinned by peers).
    pub key: PublicKey,
    /// X25519 public key (base64) that shares are sealed to.
    pub seal_key: String,
    /// Its transparency-log verifier key: checkpoints need 2 of the 3.
    pub log_key: sanctuary_log::NoteVerifierKey,
    /// Where the other nodes reach its peer links (`host:port`); read by
    /// `node configure`, unused by clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_addr: Option<String>,
}

/// The public description of a network (`network.toml`) that clients load.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFile {
    /// Network name.
    pub network: String,
    /// The three nodes, by party.
    pub nodes: Vec<NodeEntry>,
    /// Matching parameters.
    #[serde(default)]
    pub matching: MatchingConfig,
    /// Identity Weaving public keys: the FROST group key that signs
    /// credentials and the PRF verification shares (absent in networks
    /// created before Identity Weaving).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weave: Option<sanctuary_weave::WeavePublic>,
    /// Plain-HTTP API URLs are allowed (a local experiment made with
    /// `network init --insecure-http`). Otherwise every `api_url` must be
    /// `https://` and clients refuse anything else.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure_http: bool,
}

impl NetworkFile {
    /// Reads and checks a network file.
    pub fn load(path: &Path) -> Result<Self, ProtoError> {
        let text = std::fs::read_to_string(path).map_err(|source| ProtoError::NetworkFileIo {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|message| ProtoError::NetworkFile {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses and checks a network file's text; the error names the field.
    pub fn parse(text: &str) -> Result<Self, String> {
        let net: NetworkFile = toml::from_str(text).map_err(|e| e.to_string())?;
        for (i, p) in PartyId::ALL.iter().enumerate() {
            if net.nodes.get(i).map(|n| n.party) != Some(*p) {
                return Err("`nodes` must list parties 0, 1, 2 in order".into());
            }
        }
        for n in &net.nodes {
            let https = n.api_url.starts_with("https://");
            let http = n.api_url.starts_with("http://");
            let allowed = https || (http && net.insecure_http);
            if !allowed {
                return Err(if http {
                    format!(
                        "node {}'s api_url {} is plain HTTP, which is refused (its traffic and \
                         node key would be unauthenticated); use https://, or set \
                         `insecure_http = true` for a local experiment",
                        n.party, n.api_url
                    )
                } else {
                    format!(
                        "node {}'s api_url {} is not an https:// URL",
                        n.party, n.api_url
                    )
                });
            }
        }
        Ok(net)
    }

    /// The node entry of `party`.
    pub fn node(&self, party: PartyId) -> &NodeEntry {
        // `load`/`parse` checked that `nodes` lists the three parties in order.
        &self.nodes[party.index()]
    }

    /// The node coordinating operations (party 0).
    pub fn leader(&self) -> &NodeEntry {
        &self.nodes[0]
    }
}

impl NetworkFile {
    /// The checkpoint policy of this network: its three nodes' log keys,
    /// 2 of 3 signatures.
    pub fn checkpoint_policy(&self) -> Result<CheckpointPolicy, sanctuary_log::Error> {
        checkpoint_policy(
            &self.network,
            self.nodes
                .iter()
                .map(|n| (n.party, n.log_key.clone()))
                .collect(),
        )
    }
}

/// The origin line of a network's transparency log checkpoints.
pub fn log_origin(network: &str) -> String {
    format!("{network}/log")
}

/// The note key name of a node.
pub fn log_key_name(network: &str, party: PartyId) -> String {
    format!("{network}/node{}", party.index())
}

/// The checkpoint policy: these three node keys, 2 distinct signers
/// ([`sanctuary_log::DEFAULT_THRESHOLD`]).
pub fn checkpoint_policy(
    network: &str,
    keys: BTreeMap<PartyId, sanctuary_log::NoteVerifierKey>,
) -> Result<CheckpointPolicy, sanctuary_log::Error> {
    Ok(CheckpointPolicy::new(
        &log_origin(network),
        keys,
        sanctuary_log::DEFAULT_THRESHOLD,
    )?)
}
