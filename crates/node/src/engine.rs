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
    CheckpointPolicy, Cosigner, Log, Outcome as LogOutcome, RequestId, SignedNote,
};
use sanctuary_mpc::Transport;
use sanctuary_net::{MeshConfig, MeshSession, NodeKey, PeerConfig, PeerMesh};
use sanctuary_proto::EnrollmentId;
use sanctuary_proto::RefusalCode;
use sanctuary_proto::seal::{SealKey, SealedBox};
use sanctuary_proto::wire::{
    CONTROL_SESSION, CONTROL_VERSION, CosignOp, DeleteOp, ExpireOp, Op, OpDone, OpStart, Refusal,
    SignedResult, session_id,
};
use sanctuary_share::{PartyId, ShareVec};
use sanctuary_store::{StateChange, Store};
use tokio::sync::Mutex;
use zeroize::Zeroizing;

use crate::consent::NodeConsent;
use crate::state::{State, empty_kinds};
use crate::translog::{NodeLogStore, checkpoint_policy, load_log_key, log_origin};
use crate::{NodeConfig, NodeError, ops, position, veto};

/// Deviations the real engine can be asked to make, so that the devnet's
/// rogue operator is this engine and not a second implementation of the
/// protocol. (A rogue operator can run any code it likes; the hook adds no
/// power, it only lets tests and the demo play one.)
#[derive(Debug, Default)]
pub struct Faults {
    /// Skip this node's own consent and policy checks: approve every op.
    approve_everything: bool,
    /// As coordinator, announce this client key (base64 X25519) instead of
    /// the client's, to read every node's decision share.
    substitute_client_key: Option<String>,
    /// As coordinator, hand this party (whose seal key is given) a share
    /// box of its own making instead of the client's, and announce its
    /// digest in place of the client's.
    replace_share_of: Option<(PartyId, String)>,
    /// The peers' verdicts seen in each op session, by seq.
    verdicts_seen: std::sync::Mutex<Vec<(u64, Verdicts<Refusal>)>>,
    /// In every op's MPC, deviate at this reshare with this xor mask
    /// (`sanctuary_mpc::Session::deviate_at`).
    pub(crate) mpc_deviation: Option<(u64, u64)>,
    /// Refuse every deletion and withdrawal of consent, and keep the data
    /// anyway: the operator who would rather not honour a subject's rights.
    refuse_rights: bool,
}

/// The peers' verdicts in one op session: `None` where a peer approved.
pub type Verdicts<R> = Vec<(PartyId, Option<R>)>;

impl Faults {
    /// The shares and client key a (rogue) coordinator announces.
    fn rewrite(
        &self,
        request_id: &str,
        shares: Option<Vec<SealedBox>>,
        client_key: Option<String>,
    ) -> (Option<Vec<SealedBox>>, Option<String>) {
        let client_key = match (&self.substitute_client_key, client_key) {
            (Some(k), Some(_)) => Some(k.clone()),
            (_, k) => k,
        };
        let mut shares = shares;
        if let (Some((p, seal_key)), Some(boxes)) = (&self.replace_share_of, shares.as_mut()) {
            // A share of the right length, of the rogue's choosing (zeros).
            use base64::Engine as _;
            let len = boxes
                .first()
                .and_then(|b| base64::engine::general_purpose::STANDARD.decode(&b.ct).ok())
                .map_or(0, |ct| ct.len());
            let chosen = vec![0u8; len.saturating_sub(16)];
            let ctx = sanctuary_proto::seal_context(
                sanctuary_proto::SealLabel::Share,
                request_id,
                *p,
                client_key.as_deref(),
            );
            if let (Ok(b), Some(slot)) = (
                sanctuary_proto::seal::seal(seal_key, &ctx, &chosen),
                boxes.get_mut(p.index()),
            ) {
                *slot = b;
            }
        }
        (shares, client_key)
    }

    /// A node that skips its own consent and policy checks and approves
    /// every op (and records the peers' verdicts, for reports).
    pub fn approve_everything() -> Self {
        Self {
            approve_everything: true,
            ..Self::default()
        }
    }

    /// A node that follows the protocol.
    pub fn none() -> Self {
        Self::default()
    }

    /// As coordinator, also announce `key` (base64 X25519) as the client's
    /// result key instead of the client's own, to read every decision share.
    pub fn substituting_client_key(mut self, key: String) -> Self {
        self.substitute_client_key = Some(key);
        self
    }

    /// In every op's computation, send a wrong value at reshare `reshare`
    /// (xor `mask` into the first element), consistently, as a node whose
    /// operator changed its code would.
    pub fn deviating_in_mpc(mut self, reshare: u64, mask: u64) -> Self {
        self.mpc_deviation = Some((reshare, mask));
        self
    }

    /// Refuse every deletion and consent withdrawal, and keep this node's
    /// share and consent state as they were (its copy survives; the others
    /// still delete theirs).
    pub fn refusing_rights(mut self) -> Self {
        self.refuse_rights = true;
        self
    }

    /// As coordinator, also hand `party` (whose seal key is `seal_key`) a
    /// share of its own making instead of the client's, and announce that
    /// box's digest in place of the client's.
    pub fn replacing_share_of(mut self, party: PartyId, seal_key: String) -> Self {
        self.replace_share_of = Some((party, seal_key));
        self
    }
}

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

/// A running node.
#[derive(Debug)]
pub struct Node {
    pub(crate) cfg: NodeConfig,
    pub(crate) mesh: PeerMesh,
    pub(crate) store: Arc<Store>,
    pub(crate) seal: SealKey,
    /// The identity key, for signing decision shares.
    pub(crate) signer: NodeKey,
    pub(crate) consent: NodeConsent,
    pub(crate) checkpoints: CheckpointPolicy,
    pub(crate) state: Mutex<State>,
    control: Mutex<Option<MeshSession>>,
    pub(crate) faults: Faults,
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

/// Parses a party's share bytes of a template kind (`own || next`).
pub(crate) fn share_from_bytes(
    party: PartyId,
    bytes: &[u8],
    len: usize,
) -> Result<ShareVec<u32>, NodeError> {
    sanctuary_proto::share_from_bytes(party, bytes, len)
        .map_err(|e| NodeError::BadRequest(e.to_string()))
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Node {
    /// Loads keys, policy and storage, rebuilds the galleries, and starts
    /// the peer links. Followers start listening for the coordinator; the
    /// coordinator starts its cosigning loop.
    pub async fn start(cfg: NodeConfig) -> Result<Arc<Node>, NodeError> {
        Self::start_with_faults(cfg, Faults::default()).await
    }

    /// [`Node::start`] for a node that deviates as `faults` says.
    pub async fn start_with_faults(
        cfg: NodeConfig,
        faults: Faults,
    ) -> Result<Arc<Node>, NodeError> {
        let party = cfg.party;
        let key = NodeKey::load(cfg.key_path())?;
        // A second handle on the identity key: the mesh takes one, and
        // decision shares are signed with the same (pinned) key.
        let signer = NodeKey::load(cfg.key_path())?;
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
            signer,
            consent,
            checkpoints,
            state: Mutex::new(state),
            control: Mutex::new(None),
            faults,
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

    /// Stops serving, keeping `reason` for `/v1/health`.
    pub(crate) fn halt(&self, reason: String) {
        if let Ok(mut h) = self.halted.lock() {
            *h = Some(reason);
        }
    }

    /// The peers' refusal codes seen in each op session (`None`: approved),
    /// by seq; recorded for every op.
    pub fn verdicts_seen(&self) -> Vec<(u64, Verdicts<RefusalCode>)> {
        self.faults
            .verdicts_seen
            .lock()
            .map(|v| {
                v.iter()
                    .map(|(seq, vs)| {
                        (
                            *seq,
                            vs.iter()
                                .map(|(p, r)| (*p, r.as_ref().map(|r| r.code)))
                                .collect(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until the links to both peers are up.
    pub async fn wait_peers(&self, limit: Duration) -> Result<(), NodeError> {
        Ok(self.mesh.wait_connected(limit).await?)
    }

    /// Checks that the share this node was handed is one of the boxes the
    /// client made ([`OpStart::share_digests`]) and opens under the
    /// client's key; returns the digests. A coordinator that replaced the
    /// box or the client's key is refused here, before anything runs.
    fn check_share(&self, st: &mut State, start: &OpStart) -> Result<Vec<[u8; 32]>, Refusal> {
        let bad = |m: &str| Refusal {
            code: RefusalCode::ShareNotBound,
            message: m.to_owned(),
        };
        let digests = start
            .share_digests
            .iter()
            .map(|d| {
                hex::decode(d)
                    .ok()
                    .and_then(|b| <[u8; 32]>::try_from(b).ok())
                    .ok_or_else(|| bad("a share digest is not 32 bytes of hex"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let Some(sealed) = &start.share else {
            return if digests.is_empty() {
                Ok(digests)
            } else {
                Err(bad("share digests announced without a share"))
            };
        };
        let party = self.party();
        if digests.len() != 3 || digests[party.index()] != sealed.digest() {
            return Err(bad(
                "this node's sealed share is not the one the client's request names",
            ));
        }
        let ctx = sanctuary_proto::seal_context(
            sanctuary_proto::SealLabel::Share,
            &start.request_id,
            party,
            start.client_key.as_deref(),
        );
        let Ok(bytes) = self.seal.open(sealed, &ctx) else {
            return Err(bad(
                "this node's sealed share does not open for this request and client key",
            ));
        };
        // A share of the wrong size would fail inside the computation and
        // stall the others: refuse it now.
        let want = ops::probe_kind(&start.op).map(|k| 8 * st.kind(k).gallery.share_len());
        if want.is_some_and(|w| w != bytes.len()) {
            return Err(bad(
                "this node's share has the wrong size for the template kind",
            ));
        }
        // An enrollment's two components must be the ones the subject
        // committed to: what a peer later sends in a catch-up is checked
        // against the same commitments.
        if let Op::Enroll(op) = &start.op {
            let Some(c) = sanctuary_proto::wire::parse_components(&op.components) else {
                return Err(bad("the enrollment carries no share component commitments"));
            };
            let (own, next) = bytes.split_at(bytes.len() / 2);
            let ok = |j: PartyId, half: &[u8]| {
                sanctuary_proto::wire::component_commitment(&start.request_id, j, half)
                    == c[j.index()]
            };
            if !ok(party, own) || !ok(party.next(), next) {
                return Err(bad(
                    "this node's share does not match the share component commitments the subject signed",
                ));
            }
        }
        Ok(digests)
    }

    /// Coordinator: proposes `op` (without shares) to the network, as the
    /// client API does for the requests it accepts; returns its seq.
    pub async fn propose(&self, op: Op) -> Result<u64, NodeError> {
        let request_id = hex::encode(rand::random::<[u8; 16]>());
        Ok(self.coordinate(&request_id, op, None, None).await?.0)
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
    ) -> Result<(u64, Outcome, Vec<SignedResult>), NodeError> {
        if self.party() != PartyId::P0 {
            return Err(NodeError::NotCoordinator(self.party()));
        }
        self.check_halted()?;
        let (shares, client_key) = self.faults.rewrite(request_id, shares, client_key);
        let mut st = self.state.lock().await;
        let seq = st.next_seq;
        let time_ms = now_ms();
        let log_salt = sanctuary_log::Salt::random(&mut rand::rng());
        let share_digests: Vec<String> = shares
            .iter()
            .flatten()
            .map(|b| hex::encode(b.digest()))
            .collect();
        let start_for = |p: PartyId| OpStart {
            v: CONTROL_VERSION,
            seq,
            request_id: request_id.to_owned(),
            time_ms,
            op: op.clone(),
            share: shares.as_ref().and_then(|s| s.get(p.index()).cloned()),
            share_digests: share_digests.clone(),
            client_key: client_key.clone(),
            log_salt,
        };
        if let Err(e) = self.announce(&start_for).await {
            position::abort_announced(self, &start_for(PartyId::P0)).await;
            return Err(e);
        }
        let own = start_for(PartyId::P0);
        let (outcome, result, mut transport) = self.run_op(&mut st, &own).await?;
        let mut results = Vec::new();
        if let Some(r) = result {
            results.push(r);
        }
        for p in [PartyId::P1, PartyId::P2] {
            let bytes = transport.recv(p).await?;
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
            let msg = serde_json::to_vec(&start_for(p)).map_err(NodeError::Encode)?;
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
                match ctl.send(p, msg.clone()).await {
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

    /// Runs one operation as this party (all three nodes run this): the
    /// position check with every node's verdict, the veto, the op's
    /// computation, and its log entry with its state change.
    async fn run_op(
        &self,
        st: &mut State,
        start: &OpStart,
    ) -> Result<(Outcome, Option<SignedResult>, MeshSession), NodeError> {
        let party = self.party();
        let mut transport = self
            .mesh
            .session(session_id(start.seq, &start.request_id))?;
        let mut verdict = self.check_share(st, start).and_then(|digests| {
            let cx = ops::VerdictCx {
                party,
                consent: &self.consent,
                request_id: &start.request_id,
                time_ms: start.time_ms,
                share_digests: &digests,
                view: &*st,
            };
            ops::verdict(&start.op, &cx)
        });
        if verdict.is_ok()
            && let Op::Delete(DeleteOp {
                erase: Some(erase), ..
            }) = &start.op
            && let Err(r) = crate::erasure::check(&st.log, erase, start.seq).await
        {
            verdict = Err(r);
        }
        if self.faults.approve_everything {
            verdict = Ok(Vec::new());
        }
        let right = is_right(&start.op);
        if self.faults.refuse_rights && right {
            verdict = Err(Refusal {
                code: RefusalCode::RightRefused,
                message: "this node does not honour deletions or withdrawals".into(),
            });
        }
        let mine = position::mine(st, start, verdict.as_ref().err().cloned());
        let theirs = position::exchange(self, start, &mine, &mut transport).await?;
        if let Op::Cosign(_) = start.op {
            let note = ops::cosign(self, st, &mut transport).await?;
            return Ok((Outcome::Cosigned(note), None, transport));
        }
        if self.faults.approve_everything
            && let Ok(mut seen) = self.faults.verdicts_seen.lock()
        {
            seen.push((
                start.seq,
                theirs
                    .iter()
                    .map(|(p, pos)| (*p, pos.refusal.clone()))
                    .collect(),
            ));
        }
        let verdicts = theirs
            .iter()
            .map(|(p, pos)| (*p, pos.refusal.clone()))
            .chain([(party, mine.refusal.clone())]);
        let decided = if right {
            veto::decide_right(&mine.op_digest, verdicts)
        } else {
            veto::decide(&mine.op_digest, verdicts).map(|a| (a, None))
        };
        let (approved, overruled) = match decided {
            Ok(a) => a,
            Err((by, refusal)) => {
                self.append(
                    st,
                    start,
                    LogOutcome::Refused {
                        reason: refusal.code.to_string(),
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
        };
        let consent_writes = verdict.unwrap_or_default();
        let mut cx = ops::RunCx::new(approved, self, st, start, transport);
        let mut done = ops::run(&mut cx).await?;
        let bytes_sent = cx.bytes_sent();
        let transport = cx.into_transport()?;
        let (log_outcome, consent_writes) = match (&done.outcome, overruled) {
            // A refused enrollment consumes nothing.
            (Outcome::AlreadyEnrolled, _) => (
                LogOutcome::Refused {
                    reason: RefusalCode::AlreadyEnrolled.to_string(),
                },
                Vec::new(),
            ),
            (_, Some((by, refusal))) => {
                tracing::warn!(%party, seq = start.seq, op = start.op.name(), refused_by = %by, code = %refusal.code, "a subject's right was refused by one node and carried out by the others");
                (
                    LogOutcome::PerformedOverRefusal {
                        refused_by: by,
                        reason: refusal.code.to_string(),
                    },
                    consent_writes,
                )
            }
            (_, None) => (LogOutcome::Performed, consent_writes),
        };
        if self.faults.refuse_rights && right {
            // The rogue keeps its share (and its consent state), but writes
            // the agreed entry like everyone else.
            done.change = StateChange::None;
        }
        self.append(st, start, log_outcome, done.change, consent_writes)
            .await?;
        if let Some(m) = self.metrics.ops.get(start.op.name()) {
            m.fetch_add(1, Ordering::Relaxed);
        }
        self.metrics
            .bytes_sent
            .fetch_add(bytes_sent, Ordering::Relaxed);
        Ok((done.outcome, done.result, transport))
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
        let request = RequestId(
            hex::decode(&start.request_id)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(NodeError::Internal("an announced request id is not 32 hex"))?,
        );
        let mut fields = ops::entry_fields(&start.op);
        let mut erase = Vec::new();
        if let Op::Delete(DeleteOp { erase: Some(e), .. }) = &start.op
            && !matches!(outcome, LogOutcome::Refused { .. })
        {
            erase = crate::erasure::rows(&st.log, &e.seqs, start.seq).await?;
            fields.erases = Some(e.seqs.clone());
        }
        let (mut applied, _) = crate::record::build(
            &st.log,
            start.seq,
            start.time_ms,
            request,
            fields,
            outcome,
            change,
            consent,
            start.log_salt,
        )
        .await?;
        applied.erase = erase;
        self.store.apply(&applied).await?;
        self.consent.commit(&applied.consent);
        st.next_seq = start.seq + 1;
        st.root = st.log.root().await?;
        st.apply(self.party(), &applied.change, applied.time_ms)?;
        for w in &applied.consent {
            if let sanctuary_store::ConsentWrite::Touch { id, time_ms } = w {
                st.touch(id, *time_ms);
            }
        }
        Ok(())
    }

    /// Starts catching up with the peers in the background (once at a time);
    /// the node serves again when it is done.
    pub(crate) fn start_catch_up(&self) {
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
                        *h = Some(format!(
                            "out of step and could not catch up: {}",
                            sanctuary_store::error_chain(&e)
                        ));
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

    /// Coordinator: runs a cosigning round now and returns the co-signed
    /// checkpoint of the whole log.
    pub async fn cosign_now(&self) -> Result<SignedNote, NodeError> {
        let request_id = hex::encode(rand::random::<[u8; 16]>());
        match self
            .coordinate(&request_id, Op::Cosign(CosignOp {}), None, None)
            .await?
        {
            (_, Outcome::Cosigned(note), _) => Ok(note),
            _ => Err(NodeError::OutOfStep("cosign round returned no note".into())),
        }
    }
}

/// Whether `op` is one of the subject's rights, which need no unanimity:
/// deletion and the withdrawal of consent. (Retention expiry is each
/// node's own duty and never vetoed by a peer's consent check either.)
fn is_right(op: &Op) -> bool {
    matches!(op, Op::Delete(_) | Op::Revoke(_) | Op::Expire(_))
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
                .coordinate(
                    &request_id,
                    Op::Expire(ExpireOp { enrollment_id: id }),
                    None,
                    None,
                )
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
        let bytes = match ctl.recv(PartyId::P0).await {
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
            position::refuse_halted(&node, &start, &e.to_string()).await;
            continue;
        }
        let mut st = node.state.lock().await;
        match node.run_op(&mut st, &start).await {
            Ok((_, result, mut transport)) => {
                let done = OpDone {
                    v: CONTROL_VERSION,
                    result,
                };
                match serde_json::to_vec(&done) {
                    Ok(msg) => {
                        if let Err(e) = transport.send(PartyId::P0, msg).await {
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
