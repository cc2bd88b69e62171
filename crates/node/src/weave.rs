//! Identity Weaving on the node: the FROST signing rounds and the festival
//! PRF evaluation (handlers) and the node's weaving key files. The holder's
//! side, which acts as the FROST coordinator, is `sanctuary_client::WeaveClient`.
//!
//! A node takes part only for a request signed by the subject key of an
//! enrollment it holds (the `subject` column of its store), and only for a
//! draft whose every claim it can check ([`sanctuary_weave::check_sign_request`]).
//! Each signature share and PRF evaluation is logged at info level under the
//! target `sanctuary::weave::audit` with the subject key and, for festivals,
//! the event: nodes learn and record "this subject asked for this".
//!
//! Key files in the node directory (written by `network init`):
//! `frost-key.json` and `prf-key.json` (secret, mode 0600) and
//! `weave-public.json` (the network's [`WeavePublic`]). A node without them
//! (a network created before Identity Weaving) serves everything else and
//! answers the weaving endpoints with an error naming the missing file.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use sanctuary_consent::NetworkId;
use sanctuary_share::PartyId;
use sanctuary_store::{Store, StoreOptions};
use sanctuary_weave::frost_ed25519::round1::SigningNonces;
use sanctuary_weave::prf::Evaluation;
use sanctuary_weave::{
    CommitResponse, DraftKind, EvaluateRequest, NodeKeys, SignRequest, SignResponse, WeaveError,
    WeavePublic, threshold,
};
use time::OffsetDateTime;

use crate::engine::Node;
use crate::{NodeConfig, NodeError};

/// Round-1 nonces are kept this long for round 2.
const NONCE_TTL: Duration = Duration::from_secs(120);
/// At most this many round-1 sessions are pending (oldest dropped first).
const MAX_PENDING: usize = 4096;

/// File names in the node directory.
pub const FROST_KEY_FILE: &str = "frost-key.json";
/// The PRF key share file.
pub const PRF_KEY_FILE: &str = "prf-key.json";
/// The public weaving keys file.
pub const WEAVE_PUBLIC_FILE: &str = "weave-public.json";

struct Keys {
    keys: NodeKeys,
    public: WeavePublic,
    network: NetworkId,
    store: Store,
}

/// The node's weaving keys and its pending round-1 nonces.
pub(crate) struct WeaveState {
    keys: Result<Keys, String>,
    pending: std::sync::Mutex<BTreeMap<String, (Instant, SigningNonces)>>,
    /// (subject, event) check-ins recorded in the transparency log, with
    /// when: a pseudonym share is evaluated only for a recorded one.
    recorded: std::sync::Mutex<BTreeMap<(String, String), Instant>>,
}

/// How long a recorded check-in authorises evaluations.
const RECORD_TTL: Duration = Duration::from_secs(600);

impl WeaveState {
    /// Notes that the log recorded `subject`'s check-in at `event`.
    pub(crate) fn record_checkin(&self, subject: &str, event: &str) {
        if let Ok(mut r) = self.recorded.lock() {
            r.retain(|_, t| t.elapsed() < RECORD_TTL);
            r.insert((subject.to_owned(), event.to_owned()), Instant::now());
        }
    }

    fn checkin_recorded(&self, subject: &str, event: &str) -> bool {
        self.recorded.lock().is_ok_and(|r| {
            r.get(&(subject.to_owned(), event.to_owned()))
                .is_some_and(|t| t.elapsed() < RECORD_TTL)
        })
    }
}

impl std::fmt::Debug for WeaveState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeaveState")
            .field("configured", &self.keys.is_ok())
            .field("keys", &"<redacted>")
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<zeroize::Zeroizing<String>, NodeError> {
    std::fs::read_to_string(path)
        .map(zeroize::Zeroizing::new)
        .map_err(|source| NodeError::ConfigIo {
            path: path.to_owned(),
            source,
        })
}

fn key_err(path: &Path, e: impl std::fmt::Display) -> NodeError {
    NodeError::Key {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

impl WeaveState {
    /// Loads the key files of `cfg`'s node; a node without them runs with
    /// weaving disabled.
    pub(crate) async fn load(cfg: &NodeConfig) -> Result<Self, NodeError> {
        let dir = &cfg.data_dir;
        let (fk, pk, wp) = (
            dir.join(FROST_KEY_FILE),
            dir.join(PRF_KEY_FILE),
            dir.join(WEAVE_PUBLIC_FILE),
        );
        let keys = if !fk.exists() {
            tracing::info!(party = %cfg.party, "no {FROST_KEY_FILE}: Identity Weaving disabled on this node");
            Err(format!(
                "this node has no {} (network created before Identity Weaving)",
                fk.display()
            ))
        } else {
            let keys =
                NodeKeys::from_json(&read(&fk)?, &read(&pk)?).map_err(|e| key_err(&fk, e))?;
            if keys.index() != party_index(cfg.party) {
                return Err(key_err(&fk, "key share is for another party"));
            }
            let public: WeavePublic =
                serde_json::from_str(&read(&wp)?).map_err(|e| key_err(&wp, e))?;
            let network = NetworkId::new(cfg.network.clone()).map_err(|e| NodeError::Config {
                path: dir.clone(),
                message: format!("network name: {e}"),
            })?;
            // A second, small handle on the node's database: weaving only
            // reads the enrollments' subject column.
            let store = Store::open_with(
                &cfg.storage_url(),
                &StoreOptions::default().max_connections(1),
            )
            .await?;
            Ok(Keys {
                keys,
                public,
                network,
                store,
            })
        };
        Ok(Self {
            keys,
            pending: std::sync::Mutex::new(BTreeMap::new()),
            recorded: std::sync::Mutex::new(BTreeMap::new()),
        })
    }

    fn keys(&self) -> Result<&Keys, NodeError> {
        self.keys
            .as_ref()
            .map_err(|m| NodeError::BadRequest(m.clone()))
    }

    /// The network's group public key (hex Ed25519), published with the
    /// policy; `None` if this node has no weaving keys.
    pub(crate) fn group_key(&self) -> Option<&str> {
        self.keys.as_ref().ok().map(|k| k.public.group_key.as_str())
    }
}

/// FROST share index of a party: `Pi` holds index `i + 1`.
fn party_index(p: PartyId) -> u16 {
    // Invariant: three parties.
    p.index() as u16 + 1
}

fn refused(e: WeaveError) -> NodeError {
    NodeError::BadRequest(e.to_string())
}

/// A subject is a unique person to this node when it holds an enrollment
/// of every modality the network requires, each deduplicated in its own
/// gallery: so one person cannot get a credential per modality under two
/// wallets (a face under one, an iris under another).
async fn require_person(
    k: &Keys,
    required: sanctuary_proto::Modalities,
    subject: &str,
) -> Result<(), NodeError> {
    let held = k.store.subject_kinds(subject).await?;
    let missing: Vec<String> = required
        .kinds()
        .into_iter()
        .map(|kind| kind.to_string())
        .filter(|kind| !held.contains(kind))
        .collect();
    if held.is_empty() {
        Err(NodeError::BadRequest(format!(
            "subject {subject} has no enrollment on this node"
        )))
    } else if !missing.is_empty() {
        Err(NodeError::BadRequest(format!(
            "a unique person is enrolled in every modality this network requires; subject {subject} lacks {}",
            missing.join(", ")
        )))
    } else {
        Ok(())
    }
}

pub(crate) async fn commit(
    State(node): State<Arc<Node>>,
) -> Result<Json<CommitResponse>, NodeError> {
    let w = &node.weave;
    let k = w.keys()?;
    let (nonces, commitments) = threshold::commit(&k.keys);
    let session = hex::encode(rand::random::<[u8; 16]>());
    let mut pending = w
        .pending
        .lock()
        .map_err(|_| NodeError::Halted("weave state lock poisoned".into()))?;
    pending.retain(|_, (t, _)| t.elapsed() < NONCE_TTL);
    if pending.len() >= MAX_PENDING {
        // Drop the oldest: a flood of round-1 calls cannot grow memory.
        if let Some(oldest) = pending
            .iter()
            .min_by_key(|(_, (t, _))| *t)
            .map(|(s, _)| s.clone())
        {
            pending.remove(&oldest);
        }
    }
    pending.insert(session.clone(), (Instant::now(), nonces));
    Ok(Json(CommitResponse {
        session,
        index: k.keys.index(),
        commitments,
    }))
}

pub(crate) async fn sign(
    State(node): State<Arc<Node>>,
    Json(req): Json<SignRequest>,
) -> Result<Json<SignResponse>, NodeError> {
    let w = &node.weave;
    let k = w.keys()?;
    // Nonces are single use: taken out whatever happens next.
    let nonces = w
        .pending
        .lock()
        .map_err(|_| NodeError::Halted("weave state lock poisoned".into()))?
        .remove(&req.session)
        .filter(|(t, _)| t.elapsed() < NONCE_TTL)
        .map(|(_, n)| n)
        .ok_or_else(|| NodeError::BadRequest("unknown or expired signing session".into()))?;
    let (subject, kind) =
        sanctuary_weave::check_sign_request(&req, &k.network, &k.public, OffsetDateTime::now_utc())
            .map_err(refused)?;
    require_person(k, node.cfg.matching.personhood, &subject.0).await?;
    let share = threshold::sign(&k.keys, &req.signing_package, &nonces).map_err(refused)?;
    match &kind {
        DraftKind::Admission { event, .. } => tracing::info!(
            target: "sanctuary::weave::audit", party = %node.party(), subject = %subject.0, %event,
            "signed a festival admission share"),
        _ => tracing::info!(
            target: "sanctuary::weave::audit", party = %node.party(), subject = %subject.0,
            "signed a personhood credential share"),
    }
    Ok(Json(SignResponse {
        index: k.keys.index(),
        share,
    }))
}

pub(crate) async fn evaluate(
    State(node): State<Arc<Node>>,
    Json(req): Json<EvaluateRequest>,
) -> Result<Json<Evaluation>, NodeError> {
    let k = node.weave.keys()?;
    let subject =
        sanctuary_weave::check_evaluate_request(&req, &k.network, OffsetDateTime::now_utc())
            .map_err(refused)?;
    require_person(k, node.cfg.matching.personhood, &subject.0).await?;
    // The subject's audit trail must show this issuance: only a check-in the
    // network recorded in the transparency log is evaluated.
    if !node.weave.checkin_recorded(&subject.0, &req.event) {
        return Err(NodeError::BadRequest(
            "this festival check-in is not recorded in the transparency log; POST /v1/festival/record first".into(),
        ));
    }
    Ok(Json(k.keys.prf.evaluate(&req.event, &subject.0)))
}

/// Writes the dealer ceremony's output into the node directories
/// (`node-<i>/frost-key.json`, `prf-key.json` mode 0600, `weave-public.json`)
/// and returns the public part for the network file.
pub(crate) fn write_ceremony(
    node_dirs: &[std::path::PathBuf],
    write_secret: impl Fn(&Path, &[u8]) -> Result<(), NodeError>,
) -> Result<WeavePublic, NodeError> {
    let (keys, public) = sanctuary_weave::dealer_ceremony().map_err(|e| NodeError::Key {
        path: node_dirs.first().cloned().unwrap_or_default(),
        message: e.to_string(),
    })?;
    let public_json = serde_json::to_string_pretty(&public).map_err(|e| NodeError::Config {
        path: WEAVE_PUBLIC_FILE.into(),
        message: e.to_string(),
    })?;
    for (dir, k) in node_dirs.iter().zip(&keys) {
        let fk = dir.join(FROST_KEY_FILE);
        write_secret(&fk, k.frost_json().map_err(|e| key_err(&fk, e))?.as_bytes())?;
        write_secret(&dir.join(PRF_KEY_FILE), k.prf.to_json().as_bytes())?;
        let wp = dir.join(WEAVE_PUBLIC_FILE);
        std::fs::write(&wp, &public_json)
            .map_err(|source| NodeError::ConfigIo { path: wp, source })?;
    }
    Ok(public)
}
