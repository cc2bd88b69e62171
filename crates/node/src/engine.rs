//! The node: its state (galleries in the agreed order), the coordinator's
//! sequencing of operations, and the execution of one operation, which is the
//! same code on all three nodes.
//!
//! Order: party 0 coordinates. For each operation it takes the next sequence
//! number, announces `OpStart` to the two others on the control session, and
//! all three run the operation in a session of its own. The session opens
//! with a position check (next sequence number, hash of the op-log head, and
//! a digest of the announced op); a node whose position differs stops serving
//! and says why. Operations run one at a time, so galleries change in the
//! same order everywhere and entry positions line up.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sanctuary_consent::Policy;
use sanctuary_log::{
    CheckpointPolicy, Cosigner, Hash, Log, NewEntry, Outcome as LogOutcome, RequestId, SignedNote,
};
use sanctuary_mpc::{Gallery, Scope, Session, match_gallery, open_bits};
use sanctuary_net::{MeshConfig, MeshSession, NodeKey, PeerConfig, PeerMesh};
use sanctuary_share::{PartyId, ShareVec};
use sanctuary_store::{AppliedOp, EnrollmentId, StateChange, Store, StoredEnrollment};
use sanctuary_template::TemplateKind;
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::consent::{NodeConsent, entry_fields};
use crate::seal::{SealKey, SealedBox, seal};
use crate::translog::{NodeLogStore, checkpoint_policy, load_log_key, log_origin, node_hashes};
use crate::wire::{CONTROL_SESSION, Op, OpDone, OpStart, Position, Refusal, op_digest, session_id};
use crate::{NodeConfig, NodeError};

/// Operation counters for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub(crate) ops: BTreeMap<&'static str, AtomicU64>,
    pub(crate) failures: AtomicU64,
    pub(crate) bytes_sent: AtomicU64,
}

impl Metrics {
    fn new() -> Self {
        let mut ops = BTreeMap::new();
        for name in [
            "enroll", "verify", "dedupe", "delete", "expire", "revoke", "identify", "cosign",
            "refused",
        ] {
            ops.insert(name, AtomicU64::new(0));
        }
        Self {
            ops,
            ..Default::default()
        }
    }
}

/// One kind's gallery and the ids (and bound subject keys) of its entries,
/// position by position.
#[derive(Debug)]
struct KindState {
    gallery: Gallery<u32>,
    ids: Vec<EnrollmentId>,
    subjects: Vec<Option<String>>,
    /// Last use (enrollment or verification), ms since the epoch.
    last_used: Vec<i64>,
}

/// Empty galleries for both template kinds.
fn empty_kinds(
    party: PartyId,
    m: &crate::MatchingConfig,
) -> Result<(KindState, KindState), NodeError> {
    Ok((
        KindState {
            gallery: Gallery::Embedding {
                gallery: sanctuary_mpc::EmbeddingGallery::new(party, m.embedding.dim),
                threshold: m.embedding.threshold_int(),
            },
            ids: Vec::new(),
            subjects: Vec::new(),
            last_used: Vec::new(),
        },
        KindState {
            gallery: Gallery::Iris(sanctuary_mpc::IrisGallery::new(party, m.iris)?),
            ids: Vec::new(),
            subjects: Vec::new(),
            last_used: Vec::new(),
        },
    ))
}

/// The node's replicated state: the log (the agreed order) and the
/// galleries it produced.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) log: Log<NodeLogStore>,
    cosigner: Cosigner<NodeLogStore>,
    pub(crate) next_seq: u64,
    pub(crate) root: Hash,
    embedding: KindState,
    iris: KindState,
}

impl State {
    fn kind(&mut self, kind: TemplateKind) -> &mut KindState {
        match kind {
            TemplateKind::Embedding => &mut self.embedding,
            TemplateKind::Iris => &mut self.iris,
        }
    }

    /// Fills the (empty) galleries from storage, in gallery order. Rows
    /// are streamed a page at a time and each row's share bytes are wiped
    /// and freed once its gallery row is filled, so loading holds about one
    /// copy of the shares, not two. Returns the rest of what was loaded.
    async fn load(
        &mut self,
        party: PartyId,
        store: &Store,
    ) -> Result<sanctuary_store::Loaded, NodeError> {
        let mut rejected = None;
        let loaded = store
            .load_with(|e| {
                self.push_row(party, e).map_err(|err| {
                    rejected = Some(err);
                    sanctuary_store::StoreError::Corrupt("an enrollment row the node cannot use")
                })
            })
            .await;
        match (rejected, loaded) {
            (Some(e), _) => Err(e),
            (None, r) => Ok(r?),
        }
    }

    fn push_row(&mut self, party: PartyId, e: StoredEnrollment) -> Result<(), NodeError> {
        let kind = parse_kind(&e.kind)?;
        let ks = self.kind(kind);
        let share = share_from_bytes(party, &e.share, ks.gallery.share_len())?;
        ks.gallery.push(&share)?;
        ks.ids.push(e.id);
        ks.subjects.push(e.subject);
        ks.last_used.push(e.last_used_ms);
        Ok(())
    }

    /// Every enrollment id held.
    pub(crate) fn all_ids(&self) -> std::collections::BTreeSet<EnrollmentId> {
        self.embedding
            .ids
            .iter()
            .chain(&self.iris.ids)
            .copied()
            .collect()
    }

    /// Enrolled count per kind.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.embedding.ids.len(), self.iris.ids.len())
    }

    /// Enrollments whose retention ran out by `now`, by `policy`.
    fn expired(&self, policy: &Policy, now: time::OffsetDateTime) -> Vec<EnrollmentId> {
        [&self.embedding, &self.iris]
            .into_iter()
            .flat_map(|ks| ks.ids.iter().zip(&ks.last_used))
            .filter(|(_, ms)| {
                let t =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(**ms) * 1_000_000)
                        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                policy.retention_expired(t, now)
            })
            .map(|(id, _)| *id)
            .collect()
    }
}

impl crate::consent::Enrollments for State {
    fn enrollment(&self, id: &EnrollmentId) -> Option<(Option<String>, i64)> {
        [&self.embedding, &self.iris].into_iter().find_map(|ks| {
            ks.ids.iter().position(|i| i == id).map(|p| {
                (
                    ks.subjects.get(p).cloned().flatten(),
                    ks.last_used.get(p).copied().unwrap_or(0),
                )
            })
        })
    }

    fn subject_enrolled(&self, subject: &str) -> bool {
        [&self.embedding, &self.iris]
            .into_iter()
            .any(|ks| ks.subjects.iter().any(|s| s.as_deref() == Some(subject)))
    }
}

/// A running node.
#[derive(Debug)]
pub struct Node {
    pub(crate) cfg: NodeConfig,
    pub(crate) mesh: PeerMesh,
    pub(crate) store: Arc<Store>,
    seal: SealKey,
    consent: NodeConsent,
    pub(crate) checkpoints: CheckpointPolicy,
    pub(crate) state: Mutex<State>,
    control: Mutex<Option<MeshSession>>,
    pub(crate) halted: std::sync::Mutex<Option<String>>,
    pub(crate) metrics: Metrics,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// This node, for the background work it starts from `&self`.
    me: std::sync::OnceLock<std::sync::Weak<Node>>,
    /// A catch-up is running.
    catching_up: std::sync::atomic::AtomicBool,
    /// Identity Weaving keys and pending signing rounds (`weave.rs`).
    pub(crate) weave: crate::weave::WeaveState,
}

/// Parses a party's share bytes (`own || next`, little-endian u32).
pub(crate) fn share_from_bytes(
    party: PartyId,
    bytes: &[u8],
    len: usize,
) -> Result<ShareVec<u32>, NodeError> {
    if bytes.len() != 2 * 4 * len {
        return Err(NodeError::BadRequest(format!(
            "share has {} bytes, expected {} for this template kind",
            bytes.len(),
            8 * len
        )));
    }
    let words: Zeroizing<Vec<u32>> = Zeroizing::new(bytemuck::pod_collect_to_vec(bytes));
    let (own, next) = words.split_at(len);
    ShareVec::from_parts(party, own.to_vec(), next.to_vec())
        .map_err(|e| NodeError::BadRequest(e.to_string()))
}

/// Serialises a share as `own || next`.
pub fn share_to_bytes(s: &ShareVec<u32>) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(Vec::with_capacity(8 * s.len()));
    v.extend_from_slice(bytemuck::cast_slice(s.own()));
    v.extend_from_slice(bytemuck::cast_slice(s.next()));
    v
}

/// The context a share or a result is sealed under: request id and party.
pub(crate) fn seal_context(request_id: &str, party: PartyId, what: &str) -> Vec<u8> {
    format!("{what}/{request_id}/{party}").into_bytes()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Marker in a [`Position`] sent by the coordinator to call an op off.
const ABORT: &str = "abort";

impl Node {
    /// Loads keys, policy and storage, rebuilds the galleries, and starts
    /// the peer links. Followers start listening for the coordinator; the
    /// coordinator starts its cosigning loop.
    pub async fn start(cfg: NodeConfig) -> Result<Arc<Node>, NodeError> {
        let party = cfg.party;
        let key = NodeKey::load(cfg.key_path())?;
        let seal = load_seal_key(&cfg)?;
        let policy = Policy::load(&cfg.policy).map_err(|source| NodeError::Policy {
            path: cfg.policy.clone(),
            source,
        })?;
        if policy.network().as_str() != cfg.network {
            return Err(NodeError::Config {
                path: cfg.policy.clone(),
                message: format!(
                    "policy is for network {:?}, this node is in {:?}",
                    policy.network().as_str(),
                    cfg.network
                ),
            });
        }
        let log_key = load_log_key(&cfg.log_key_path())?;
        let mut log_keys = std::collections::BTreeMap::new();
        log_keys.insert(party, log_key.verifier());
        for p in &cfg.peers {
            log_keys.insert(p.party, p.log_key.clone());
        }
        let checkpoints = checkpoint_policy(&cfg.network, log_keys)?;
        let store = Arc::new(Store::open(&cfg.storage_url()).await?);
        let origin = log_origin(&cfg.network);
        let log = Log::new(&origin, NodeLogStore(store.clone()))?;
        let cosigner = Cosigner::new(party, &origin, log_key, NodeLogStore(store.clone()));
        let root = log.root().await?;
        let (embedding, iris) = empty_kinds(party, &cfg.matching)?;
        let mut state = State {
            log,
            cosigner,
            next_seq: 0,
            root,
            embedding,
            iris,
        };
        let loaded = state.load(party, &store).await?;
        state.next_seq = loaded.next_seq;
        let consent = NodeConsent::new(policy, &loaded);
        let enrolled = state.all_ids().len();
        let peers = cfg
            .peers
            .iter()
            .map(|p| PeerConfig {
                party: p.party,
                addr: p.peer_addr.clone(),
                key: p.key,
            })
            .collect();
        let mut mesh_cfg = MeshConfig::new(party, peers);
        mesh_cfg.io_timeout = Duration::from_secs(cfg.peer_timeout_s);
        let mesh = PeerMesh::bind(mesh_cfg, key, &cfg.peer_listen).await?;
        tracing::info!(%party, enrolled, log_size = loaded.next_seq, "node started");
        let weave = crate::weave::WeaveState::load(&cfg).await?;
        let node = Arc::new(Node {
            cfg,
            mesh,
            store,
            seal,
            consent,
            checkpoints,
            state: Mutex::new(state),
            control: Mutex::new(None),
            halted: std::sync::Mutex::new(None),
            metrics: Metrics::new(),
            tasks: std::sync::Mutex::new(Vec::new()),
            me: std::sync::OnceLock::new(),
            catching_up: std::sync::atomic::AtomicBool::new(false),
            weave,
        });
        let _ = node.me.set(Arc::downgrade(&node));
        let mut background = Vec::new();
        for p in [party.next(), party.prev()] {
            background.push(tokio::spawn(crate::catchup::serve(
                Arc::downgrade(&node),
                p,
            )));
        }
        let task = if party == PartyId::P0 {
            tokio::spawn(cosign_loop(Arc::downgrade(&node)))
        } else {
            tokio::spawn(follow(Arc::clone(&node)))
        };
        if let Ok(mut t) = node.tasks.lock() {
            t.push(task);
            t.extend(background);
        }
        Ok(node)
    }

    /// Stops the background loops so the node (and its peer links) can be
    /// dropped; used on shutdown.
    pub fn stop(&self) {
        if let Ok(mut t) = self.tasks.lock() {
            for h in t.drain(..) {
                h.abort();
            }
        }
    }

    /// Closes the database cleanly (after [`Node::stop`]).
    pub async fn close(&self) {
        self.store.close().await;
    }

    /// A read-only view of this node's log (proofs, checkpoints) that does
    /// not wait for the op in progress.
    pub(crate) fn reader(&self) -> Result<Log<NodeLogStore>, NodeError> {
        Ok(Log::new(
            &log_origin(&self.cfg.network),
            NodeLogStore(self.store.clone()),
        )?)
    }

    /// The ethics policy this node enforces.
    pub fn policy(&self) -> &Policy {
        self.consent.policy()
    }

    /// This node's party.
    pub fn party(&self) -> PartyId {
        self.cfg.party
    }

    /// The X25519 key clients seal shares to (base64).
    pub fn seal_public(&self) -> String {
        self.seal.public()
    }

    /// The storage backend name.
    pub fn storage(&self) -> String {
        self.store.backend().to_string()
    }

    fn check_halted(&self) -> Result<(), NodeError> {
        match self.halted.lock().map(|h| h.clone()) {
            Ok(Some(reason)) => Err(NodeError::Halted(reason)),
            Ok(None) => Ok(()),
            Err(_) => Err(NodeError::Halted("state lock poisoned".into())),
        }
    }

    /// Coordinator: runs `op` on all three nodes and returns the sealed
    /// decision shares (match ops) and the outcome.
    pub(crate) async fn coordinate(
        &self,
        request_id: &str,
        op: Op,
        shares: Option<Vec<SealedBox>>,
        client_key: Option<String>,
    ) -> Result<(u64, Outcome, Vec<SealedBox>), NodeError> {
        if self.party() != PartyId::P0 {
            return Err(NodeError::NotCoordinator(self.party()));
        }
        self.check_halted()?;
        let mut st = self.state.lock().await;
        let seq = st.next_seq;
        let time_ms = now_ms();
        let start_for = |p: PartyId| OpStart {
            seq,
            request_id: request_id.to_owned(),
            time_ms,
            op: op.clone(),
            share: shares.as_ref().and_then(|s| s.get(p.index()).cloned()),
            client_key: client_key.clone(),
        };
        if let Err(e) = self.announce(&start_for).await {
            self.abort_announced(&start_for(PartyId::P0)).await;
            return Err(e);
        }
        let own = start_for(PartyId::P0);
        let (outcome, result, mut transport) = self.run_op(&mut st, &own).await?;
        let mut results = Vec::new();
        if let Some(r) = result {
            results.push(r);
        }
        for p in [PartyId::P1, PartyId::P2] {
            let bytes = sanctuary_mpc::Transport::recv(&mut transport, p).await?;
            let done: OpDone = serde_json::from_slice(&bytes)
                .map_err(|e| NodeError::OutOfStep(format!("{p} sent a bad result: {e}")))?;
            if let Some(r) = done.result {
                results.push(r);
            }
        }
        Ok((seq, outcome, results))
    }

    /// Sends `OpStart` to both followers on the control session. The control
    /// session is tied to the links that were up when it opened, so after a
    /// peer restarted the first send finds it closed: reopen it once and
    /// resend to that peer only.
    async fn announce(
        &self,
        start_for: &(dyn Fn(PartyId) -> OpStart + Sync),
    ) -> Result<(), NodeError> {
        let mut control = self.control.lock().await;
        for p in [PartyId::P1, PartyId::P2] {
            let msg = serde_json::to_vec(&start_for(p))
                .map_err(|e| NodeError::BadRequest(e.to_string()))?;
            let mut last = None;
            for attempt in 0..2 {
                if control.is_none() || attempt > 0 {
                    *control = None;
                    if attempt > 0 {
                        let _ = self.mesh.wait_connected(Duration::from_secs(2)).await;
                    }
                    *control = Some(self.mesh.session(CONTROL_SESSION)?);
                }
                let Some(ctl) = control.as_mut() else {
                    continue;
                };
                match sanctuary_mpc::Transport::send(ctl, p, msg.clone()).await {
                    Ok(()) => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            if let Some(e) = last {
                *control = None;
                return Err(e.into());
            }
        }
        Ok(())
    }

    /// Tells followers that already received an `OpStart` that the op is
    /// off, so they do not wait for it until their timeout.
    async fn abort_announced(&self, start: &OpStart) {
        let Ok(mut s) = self.mesh.session(session_id(start.seq, &start.request_id)) else {
            return;
        };
        let abort = Position {
            next_seq: start.seq,
            head: String::new(),
            op_digest: ABORT.into(),
            refusal: None,
        };
        if let Ok(bytes) = serde_json::to_vec(&abort) {
            for p in [PartyId::P1, PartyId::P2] {
                let _ = sanctuary_mpc::Transport::send(&mut s, p, bytes.clone()).await;
            }
        }
    }

    /// This node's verdict on an op: `Ok` with what to persist, or its refusal.
    fn verdict(
        &self,
        st: &State,
        start: &OpStart,
    ) -> Result<Vec<sanctuary_store::ConsentWrite>, Refusal> {
        self.consent
            .check(&start.op, &start.request_id, start.time_ms, st)
    }

    /// Runs one operation as this party (all three nodes run this).
    async fn run_op(
        &self,
        st: &mut State,
        start: &OpStart,
    ) -> Result<(Outcome, Option<SealedBox>, MeshSession), NodeError> {
        let party = self.party();
        let mut transport = self
            .mesh
            .session(session_id(start.seq, &start.request_id))?;
        let verdict = self.verdict(st, start);
        // Position check, with each node's verdict.
        let mine = Position {
            next_seq: st.next_seq,
            head: st.root.to_hex(),
            op_digest: op_digest(start),
            refusal: verdict.as_ref().err().cloned(),
        };
        let bytes = serde_json::to_vec(&mine).map_err(|e| NodeError::BadRequest(e.to_string()))?;
        for p in [party.next(), party.prev()] {
            sanctuary_mpc::Transport::send(&mut transport, p, bytes.clone()).await?;
        }
        let mut theirs = Vec::new();
        // The coordinator first: an aborted op is then dropped at once.
        let order = if party == PartyId::P0 {
            [party.next(), party.prev()]
        } else {
            [
                PartyId::P0,
                if party == PartyId::P1 {
                    PartyId::P2
                } else {
                    PartyId::P1
                },
            ]
        };
        for p in order {
            let b = sanctuary_mpc::Transport::recv(&mut transport, p).await?;
            let pos: Position = serde_json::from_slice(&b)
                .map_err(|e| NodeError::OutOfStep(format!("{p} sent a bad position: {e}")))?;
            if p == PartyId::P0 && pos.op_digest == ABORT {
                return Err(NodeError::PeerUnavailable {
                    peer: PartyId::P0,
                    reason: "the coordinator aborted the operation".into(),
                });
            }
            theirs.push((p, pos));
        }
        if start.seq != st.next_seq || theirs.iter().any(|(_, p)| !p.same_place(&mine)) {
            let detail = format!(
                "op {} announced; {party} at seq {} head {}; {}",
                start.seq,
                mine.next_seq,
                &mine.head[..12],
                theirs
                    .iter()
                    .map(|(p, pos)| format!(
                        "{p} at seq {} head {}",
                        pos.next_seq,
                        &pos.head[..12.min(pos.head.len())]
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            // The two peers agree with each other but not with us: we are the
            // one out of step, so stop serving until an operator intervenes.
            if theirs[0].1.same_place(&theirs[1].1) && !theirs[0].1.same_place(&mine) {
                let lagging = theirs[0].1.next_seq > mine.next_seq;
                if let Ok(mut h) = self.halted.lock() {
                    *h = Some(if lagging {
                        format!("behind the other nodes, catching up: {detail}")
                    } else {
                        detail.clone()
                    });
                }
                if lagging {
                    self.start_catch_up();
                } else {
                    tracing::error!(%party, %detail, "out of step: halting");
                }
            }
            return Err(NodeError::OutOfStep(detail));
        }
        if let Op::Cosign = start.op {
            let note = self.cosign(st, &mut transport).await?;
            return Ok((Outcome::Cosigned(note), None, transport));
        }
        // One refusal vetoes the op everywhere; the first in party order is
        // the one recorded, so all logs say the same.
        let mut verdicts: Vec<(PartyId, Option<Refusal>)> = theirs
            .iter()
            .map(|(p, pos)| (*p, pos.refusal.clone()))
            .collect();
        verdicts.push((party, mine.refusal.clone()));
        verdicts.sort_by_key(|(p, _)| p.index());
        if let Some((by, refusal)) = verdicts.into_iter().find_map(|(p, r)| r.map(|r| (p, r))) {
            self.append(
                st,
                start,
                LogOutcome::Refused {
                    reason: refusal.code.clone(),
                },
                StateChange::None,
                Vec::new(),
            )
            .await?;
            if let Some(m) = self.metrics.ops.get("refused") {
                m.fetch_add(1, Ordering::Relaxed);
            }
            tracing::info!(%party, seq = start.seq, op = start.op.name(), by = %by, code = %refusal.code, "operation refused");
            return Err(NodeError::Refused {
                party: by,
                code: refusal.code,
                message: refusal.message,
            });
        }
        let consent_writes = verdict.unwrap_or_default();
        let metric = self.metrics.ops.get(start.op.name());
        let mut sess = Session::setup(transport).await?;
        let context = |what| seal_context(&start.request_id, party, what);
        let open_share = |st: &mut State, kind: TemplateKind| -> Result<ShareVec<u32>, NodeError> {
            let sealed = start
                .share
                .as_ref()
                .ok_or_else(|| NodeError::BadRequest("missing share".into()))?;
            let bytes = self
                .seal
                .open(sealed, &context("share"))
                .map_err(|e| NodeError::BadRequest(format!("share for {party}: {e}")))?;
            share_from_bytes(party, &bytes, st.kind(kind).gallery.share_len())
        };
        let seal_result = |bits: &sanctuary_mpc::BitShares| -> Result<SealedBox, NodeError> {
            let key = start
                .client_key
                .as_ref()
                .ok_or_else(|| NodeError::BadRequest("missing client_key".into()))?;
            let w = bits.words();
            let mut bytes = Zeroizing::new(Vec::new());
            bytes.extend_from_slice(bytemuck::cast_slice(w.own()));
            bytes.extend_from_slice(bytemuck::cast_slice(w.next()));
            seal(key, &context("result"), &bytes).map_err(|e| NodeError::BadRequest(e.to_string()))
        };
        let (outcome, change, result) = match &start.op {
            Op::Enroll {
                kind,
                enrollment_id,
                statement,
                ..
            } => {
                let share = open_share(st, *kind)?;
                let ks = st.kind(*kind);
                let duplicate = if ks.gallery.is_empty() {
                    false
                } else {
                    let n = ks.gallery.len();
                    let bits = match_gallery(
                        &mut sess,
                        &ks.gallery,
                        0..n,
                        std::slice::from_ref(&share),
                        Scope::Any,
                    )
                    .await?;
                    // The nodes themselves must learn "duplicate or not" to
                    // decide whether to store; nothing else is opened.
                    open_bits(&mut sess, &bits)
                        .await?
                        .first()
                        .copied()
                        .unwrap_or(false)
                };
                if duplicate {
                    (Outcome::AlreadyEnrolled, StateChange::None, None)
                } else {
                    let change = StateChange::Enroll {
                        id: *enrollment_id,
                        kind: kind.to_string(),
                        share: share_to_bytes(&share),
                        subject: Some(statement.subject.to_hex()),
                    };
                    (Outcome::Enrolled(*enrollment_id), change, None)
                }
            }
            Op::Verify {
                kind,
                enrollment_id,
                ..
            } => {
                let share = open_share(st, *kind)?;
                let ks = st.kind(*kind);
                let idx = ks
                    .ids
                    .iter()
                    .position(|i| i == enrollment_id)
                    .ok_or_else(|| NodeError::NotFound(enrollment_id.to_string()))?;
                let bits = match_gallery(
                    &mut sess,
                    &ks.gallery,
                    idx..idx + 1,
                    std::slice::from_ref(&share),
                    Scope::Any,
                )
                .await?;
                (
                    Outcome::Matched,
                    StateChange::None,
                    Some(seal_result(&bits)?),
                )
            }
            Op::Dedupe { kind, .. } => {
                let share = open_share(st, *kind)?;
                let ks = st.kind(*kind);
                let bits = if ks.gallery.is_empty() {
                    // A sharing of "no match": all-zero components.
                    sanctuary_mpc::BitShares::from_words(
                        ShareVec::from_parts(party, vec![0u64], vec![0u64])
                            .map_err(sanctuary_mpc::MpcError::from)?,
                        1,
                    )?
                } else {
                    let n = ks.gallery.len();
                    match_gallery(
                        &mut sess,
                        &ks.gallery,
                        0..n,
                        std::slice::from_ref(&share),
                        Scope::Any,
                    )
                    .await?
                };
                (
                    Outcome::Matched,
                    StateChange::None,
                    Some(seal_result(&bits)?),
                )
            }
            Op::Delete { enrollment_id, .. } | Op::Expire { enrollment_id } => (
                Outcome::Deleted,
                StateChange::Delete { id: *enrollment_id },
                None,
            ),
            Op::Revoke { .. } => (Outcome::Recorded, StateChange::None, None),
            Op::FestivalCheckin {
                event,
                authorization,
                ..
            } => {
                self.weave
                    .record_checkin(&authorization.subject.to_hex(), event);
                (Outcome::Recorded, StateChange::None, None)
            }
            // Refused by every honest node's verdict above; a node never
            // reaches here for them.
            Op::Identify { .. } | Op::Cosign => {
                return Err(NodeError::BadRequest(format!(
                    "{} is not an operation that runs",
                    start.op.name()
                )));
            }
        };
        let log_outcome = match outcome {
            Outcome::AlreadyEnrolled => LogOutcome::Refused {
                reason: "already_enrolled".into(),
            },
            _ => LogOutcome::Performed,
        };
        let consent_writes = if outcome == Outcome::AlreadyEnrolled {
            Vec::new()
        } else {
            consent_writes
        };
        self.append(st, start, log_outcome, change, consent_writes)
            .await?;
        if let Some(m) = metric {
            m.fetch_add(1, Ordering::Relaxed);
        }
        self.metrics
            .bytes_sent
            .fetch_add(sess.stats().bytes_sent, Ordering::Relaxed);
        Ok((outcome, result, sess.into_transport()))
    }

    /// Appends op `start`'s log entry and applies its state change and
    /// consent bookkeeping, in one database transaction, then updates the
    /// in-memory state.
    async fn append(
        &self,
        st: &mut State,
        start: &OpStart,
        outcome: LogOutcome,
        change: StateChange,
        consent: Vec<sanctuary_store::ConsentWrite>,
    ) -> Result<(), NodeError> {
        let fields = entry_fields(&start.op);
        let request = RequestId(
            hex::decode(&start.request_id)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| NodeError::BadRequest("request_id must be 32 hex".into()))?,
        );
        let entry = NewEntry {
            time_ms: start.time_ms,
            proposer: PartyId::P0,
            operation: fields.operation,
            outcome,
            relying_party: fields.relying_party,
            purpose: fields.purpose,
            request,
            audit_tag: fields.audit_tag,
        }
        .with_seq(start.seq);
        let prepared = st.log.prepare(entry).await?;
        let record = prepared.record();
        let applied = AppliedOp {
            seq: start.seq,
            time_ms: i64::try_from(start.time_ms).unwrap_or(i64::MAX),
            entry: record.canonical.to_vec(),
            hashes: node_hashes(&record),
            change,
            consent,
        };
        self.store.apply(&applied).await?;
        st.next_seq = start.seq + 1;
        st.root = st.log.root().await?;
        match applied.change {
            StateChange::Enroll {
                id,
                ref share,
                ref kind,
                ref subject,
            } => {
                let kind = parse_kind(kind)?;
                let party = self.party();
                let ks = st.kind(kind);
                let s = share_from_bytes(party, share, ks.gallery.share_len())?;
                ks.gallery.push(&s)?;
                ks.ids.push(id);
                ks.subjects.push(subject.clone());
                ks.last_used.push(applied.time_ms);
            }
            StateChange::Delete { id } => {
                for k in [TemplateKind::Embedding, TemplateKind::Iris] {
                    let ks = st.kind(k);
                    if let Some(idx) = ks.ids.iter().position(|i| *i == id) {
                        ks.gallery.remove(idx)?;
                        ks.ids.remove(idx);
                        ks.subjects.remove(idx);
                        ks.last_used.remove(idx);
                    }
                }
            }
            StateChange::None => {}
        }
        for w in &applied.consent {
            if let sanctuary_store::ConsentWrite::Touch { id, time_ms } = w {
                for k in [TemplateKind::Embedding, TemplateKind::Iris] {
                    let ks = st.kind(k);
                    if let Some(idx) = ks.ids.iter().position(|i| i == id) {
                        ks.last_used[idx] = *time_ms;
                    }
                }
            }
        }
        Ok(())
    }

    /// A cosigning round: sign this node's tree head (the cosigner refuses a
    /// head that does not extend the last one it signed), exchange
    /// signatures, and publish the note once the threshold signed it.
    async fn cosign(
        &self,
        st: &mut State,
        transport: &mut MeshSession,
    ) -> Result<SignedNote, NodeError> {
        let party = self.party();
        let size = st.next_seq;
        let cp = st.log.checkpoint_at(size).await?;
        let last = st.cosigner.last_signed().await?.map_or(0, |c| c.size());
        let proof = st.log.consistency_proof(last, size).await?;
        let sig = st.cosigner.cosign(&cp, &proof).await?;
        let text = cp.to_text();
        let mine = SignedNote::new(text.clone(), vec![sig]).map_err(sanctuary_log::Error::from)?;
        for p in [party.next(), party.prev()] {
            sanctuary_mpc::Transport::send(transport, p, mine.to_string().into_bytes()).await?;
        }
        let mut sigs = mine.signatures().to_vec();
        for p in [party.next(), party.prev()] {
            let b = sanctuary_mpc::Transport::recv(transport, p).await?;
            let Ok(note) = std::str::from_utf8(&b).map(SignedNote::parse) else {
                tracing::warn!(%party, peer = %p, "peer sent a non-UTF-8 cosignature");
                continue;
            };
            let Some(key) = self.checkpoints.nodes().get(&p) else {
                continue;
            };
            match note {
                Ok(n) if n.text() == text => {
                    // Keep only this peer's own valid signatures: a bad one
                    // would make the whole note invalid.
                    for s in n.signatures() {
                        if key.claims(s) && key.verify(&text, s).is_ok() {
                            sigs.push(s.clone());
                        } else {
                            tracing::warn!(%party, peer = %p, "peer sent an invalid cosignature");
                        }
                    }
                }
                Ok(_) => tracing::warn!(%party, peer = %p, "peer signed a different tree head"),
                Err(e) => tracing::warn!(%party, peer = %p, error = %e, "bad cosignature note"),
            }
        }
        let note = SignedNote::new(text, sigs).map_err(sanctuary_log::Error::from)?;
        st.log.publish(&self.checkpoints, &note).await?;
        if let Some(m) = self.metrics.ops.get("cosign") {
            m.fetch_add(1, Ordering::Relaxed);
        }
        Ok(note)
    }

    /// Starts catching up with the peers in the background (once at a time);
    /// the node serves again when it is done.
    fn start_catch_up(&self) {
        use std::sync::atomic::Ordering as O;
        if self.catching_up.swap(true, O::AcqRel) {
            return;
        }
        let Some(node) = self.me.get().and_then(std::sync::Weak::upgrade) else {
            self.catching_up.store(false, O::Release);
            return;
        };
        tokio::spawn(async move {
            let party = node.party();
            match crate::catchup::catch_up(&node).await {
                Ok(n) => {
                    if let Ok(mut h) = node.halted.lock() {
                        *h = None;
                    }
                    tracing::info!(%party, ops = n, "caught up; serving again");
                }
                Err(e) => {
                    if let Ok(mut h) = node.halted.lock() {
                        *h = Some(format!("out of step and could not catch up: {e}"));
                    }
                    tracing::error!(%party, error = %e, "catch-up failed: halting");
                }
            }
            node.catching_up.store(false, O::Release);
        });
    }

    /// After a catch-up: rebuild the galleries from storage and take the
    /// missed revocations into the consent state.
    pub(crate) async fn reload(
        &self,
        st: &mut State,
        revocations: &[(u64, sanctuary_store::RevocationRow)],
    ) -> Result<(), NodeError> {
        let party = self.party();
        let (embedding, iris) = empty_kinds(party, &self.cfg.matching)?;
        st.embedding = embedding;
        st.iris = iris;
        let loaded = st.load(party, &self.store).await?;
        st.next_seq = loaded.next_seq;
        st.root = st.log.root().await?;
        self.consent
            .restore_revocations(revocations.iter().map(|(_, r)| r));
        Ok(())
    }

    /// A halted node's answer to an announced op: a position that matches
    /// nobody's, naming why, so the op fails at once everywhere and nothing
    /// is appended.
    async fn refuse_halted(&self, start: &OpStart, reason: &str) {
        let Ok(mut s) = self.mesh.session(session_id(start.seq, &start.request_id)) else {
            return;
        };
        let (next_seq, head) = {
            let st = self.state.lock().await;
            (st.next_seq, st.root.to_hex())
        };
        let pos = Position {
            next_seq,
            head,
            op_digest: format!("halted: {reason}"),
            refusal: None,
        };
        if let Ok(bytes) = serde_json::to_vec(&pos) {
            let party = self.party();
            for p in [party.next(), party.prev()] {
                let _ = sanctuary_mpc::Transport::send(&mut s, p, bytes.clone()).await;
            }
        }
    }

    /// Coordinator: runs a cosigning round now and returns the co-signed
    /// checkpoint of the whole log.
    pub async fn cosign_now(&self) -> Result<SignedNote, NodeError> {
        let request_id = hex::encode(rand::random::<[u8; 16]>());
        match self.coordinate(&request_id, Op::Cosign, None, None).await? {
            (_, Outcome::Cosigned(note), _) => Ok(note),
            _ => Err(NodeError::OutOfStep("cosign round returned no note".into())),
        }
    }
}

/// Coordinator housekeeping, once a second: delete enrollments whose
/// retention ran out, and get new entries' tree head co-signed so that
/// audits find a recent checkpoint.
async fn cosign_loop(node: std::sync::Weak<Node>) {
    loop {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let Some(node) = node.upgrade() else {
            return;
        };
        if node.check_halted().is_err() {
            continue;
        }
        let published = match node.store.meta("log.latest_checkpoint").await {
            Ok(Some(b)) => String::from_utf8(b)
                .ok()
                .and_then(|t| SignedNote::parse(&t).ok())
                .and_then(|n| sanctuary_log::Checkpoint::parse(n.text()).ok())
                .map_or(0, |c| c.size()),
            Ok(None) => 0,
            Err(_) => continue,
        };
        // Retention: delete what expired, one agreed op each; every node
        // checks the expiry itself.
        let due = node
            .state
            .lock()
            .await
            .expired(node.policy(), time::OffsetDateTime::now_utc());
        for id in due {
            let request_id = hex::encode(rand::random::<[u8; 16]>());
            match node
                .coordinate(&request_id, Op::Expire { enrollment_id: id }, None, None)
                .await
            {
                Ok(_) => {
                    tracing::info!(enrollment = %id, "retention period over: deleted on all nodes")
                }
                Err(e) => {
                    tracing::warn!(enrollment = %id, error = %e, "retention deletion failed; retrying later")
                }
            }
        }
        let size = node.state.lock().await.next_seq;
        if size > published
            && let Err(e) = node.cosign_now().await
        {
            tracing::debug!(error = %e, "cosigning round failed; retrying later");
        }
    }
}

/// What an operation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Enrolled(EnrollmentId),
    AlreadyEnrolled,
    Matched,
    Deleted,
    Recorded,
    Cosigned(SignedNote),
}

fn parse_kind(s: &str) -> Result<TemplateKind, NodeError> {
    match s {
        "embedding" => Ok(TemplateKind::Embedding),
        "iris" => Ok(TemplateKind::Iris),
        other => Err(NodeError::OutOfStep(format!(
            "stored enrollment has unknown kind {other:?}"
        ))),
    }
}

fn load_seal_key(cfg: &NodeConfig) -> Result<SealKey, NodeError> {
    let path = cfg.seal_key_path();
    let bytes = Zeroizing::new(std::fs::read(&path).map_err(|e| NodeError::Key {
        path: path.clone(),
        message: e.to_string(),
    })?);
    let arr: [u8; 32] = bytes.as_slice().try_into().map_err(|_| NodeError::Key {
        path: path.clone(),
        message: format!("expected 32 bytes, found {}", bytes.len()),
    })?;
    Ok(SealKey::from_bytes(arr))
}

/// Follower loop: runs each operation the coordinator announces, in order.
async fn follow(node: Arc<Node>) {
    let party = node.party();
    let mut control: Option<MeshSession> = None;
    loop {
        if control.is_none() {
            if node
                .mesh
                .wait_connected(Duration::from_secs(5))
                .await
                .is_err()
            {
                continue;
            }
            match node.mesh.session(CONTROL_SESSION) {
                Ok(s) => control = Some(s),
                Err(e) => {
                    tracing::warn!(%party, error = %e, "cannot open the control session");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        let Some(ctl) = control.as_mut() else {
            continue;
        };
        let bytes = match sanctuary_mpc::Transport::recv(ctl, PartyId::P0).await {
            Ok(b) => b,
            Err(sanctuary_mpc::TransportError::Timeout { .. }) => continue,
            Err(e) => {
                // The link to the coordinator dropped: reopen once it is back.
                tracing::debug!(%party, error = %e, "control channel closed; reopening");
                control = None;
                continue;
            }
        };
        let start: OpStart = match serde_json::from_slice(&bytes) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(%party, error = %e, "malformed control message ignored");
                continue;
            }
        };
        if let Err(e) = node.check_halted() {
            // Say so at once in the op's session, so the others fail fast
            // (out of step) instead of waiting for a timeout.
            node.refuse_halted(&start, &e.to_string()).await;
            continue;
        }
        let mut st = node.state.lock().await;
        match node.run_op(&mut st, &start).await {
            Ok((_, result, mut transport)) => {
                let done = OpDone { result };
                match serde_json::to_vec(&done) {
                    Ok(msg) => {
                        if let Err(e) =
                            sanctuary_mpc::Transport::send(&mut transport, PartyId::P0, msg).await
                        {
                            tracing::warn!(%party, seq = start.seq, error = %e, "could not return result");
                        }
                    }
                    Err(e) => tracing::warn!(%party, error = %e, "could not encode result"),
                }
            }
            Err(e) => {
                node.metrics.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%party, seq = start.seq, op = start.op.name(), error = %e, "operation failed");
            }
        }
    }
}
