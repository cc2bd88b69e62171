//! Catch-up of a node that missed operations: it was killed during an
//! operation after the two others had applied it (so the client saw a
//! failure, but the op is on two nodes), or it was down while they ran.
//!
//! The lagging node Pi asks both peers, over the pinned mesh, for what it
//! missed since its log length: the log entries (public anyway), the set of
//! current enrollment ids, the enrollments made since, and the revocations.
//! Share components come one from each peer, and reveal nothing Pi did not
//! hold before: Pi's share is (x_i, x_{i+1}); P(i+1) holds x_{i+1} as its own
//! component, P(i-1) holds x_i as its "next" one. Pi checks that both peers
//! sent the same entries and that appending them to its own log gives the
//! root both report (its log must be a prefix of theirs), checks each
//! component against the commitment the subject signed (carried by the
//! enrollment's entry), then commits everything in one transaction and
//! reloads its galleries.
//!
//! Not covered: a node *ahead* of the two others (it applied an op they did
//! not, both having crashed in the same window); it stays halted for an
//! operator, since rolling back a log entry is a rewrite.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Weak;
use std::time::Duration;

use base64::Engine;
use sanctuary_log::merkle::{self, HashReader, NodeIndex};
use sanctuary_log::{Entry, Hash, Leaf, StoreError as LogStoreError};
use sanctuary_mpc::{Transport, TransportError};
use sanctuary_net::MeshSession;
use sanctuary_proto::EnrollmentId;
use sanctuary_share::PartyId;
use sanctuary_store::{AppliedOp, NodeHash, RevocationRow, StoredEnrollment};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::NodeError;
use crate::engine::Node;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The mesh session on which `requester` asks for catch-up (above every
/// op session id, which are below 2^62).
fn session(requester: PartyId) -> u64 {
    (1 << 62) + requester.index() as u64
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    nonce: u64,
    from: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEnrollment {
    enrolled_seq: u64,
    id: EnrollmentId,
    kind: String,
    subject: Option<String>,
    last_used_ms: i64,
    /// The requester's share component this peer holds (base64); checked
    /// against the commitment in the enrollment's log entry.
    #[serde(default)]
    component: String,
    /// The subject's signed consent to the enrollment (the statement, as
    /// kept by the peer), so the lagging node keeps it too.
    #[serde(default)]
    consent: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Revoked {
    seq: u64,
    subject: String,
    token: Option<String>,
    before_ms: Option<i64>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Response {
    nonce: u64,
    size: u64,
    root: String,
    entries: Vec<String>,
    ids: Vec<(u64, EnrollmentId)>,
    enrollments: Vec<NewEnrollment>,
    revocations: Vec<Revoked>,
}

/// Serves catch-up requests from `requester` (one task per other party).
pub(crate) async fn serve(node: Weak<Node>, requester: PartyId) {
    let mut sess: Option<MeshSession> = None;
    loop {
        let Some(n) = node.upgrade() else {
            return;
        };
        if sess.is_none() {
            if n.mesh.wait_connected(Duration::from_secs(5)).await.is_err() {
                continue;
            }
            match n.mesh.session(session(requester)) {
                Ok(s) => sess = Some(s),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            }
        }
        let Some(s) = sess.as_mut() else {
            continue;
        };
        let bytes = match s.recv(requester).await {
            Ok(b) => b,
            Err(TransportError::Timeout { .. }) => continue,
            Err(_) => {
                sess = None;
                continue;
            }
        };
        let reply = match serde_json::from_slice::<Request>(&bytes) {
            Ok(req) => answer(&n, requester, &req).await,
            Err(e) => Err(NodeError::BadRequest(format!("bad catch-up request: {e}"))),
        };
        match reply {
            Ok(r) => match serde_json::to_vec(&r) {
                Ok(b) => {
                    if s.send(requester, b).await.is_err() {
                        sess = None;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot encode a catch-up answer"),
            },
            Err(e) => tracing::warn!(peer = %requester, error = %e, "catch-up request not served"),
        }
    }
}

async fn answer(node: &Node, requester: PartyId, req: &Request) -> Result<Response, NodeError> {
    let me = node.party();
    let size = node.store.next_seq().await?;
    let entries = node
        .store
        .ops(req.from, size)
        .await?
        .into_iter()
        .map(|r| String::from_utf8_lossy(&r.entry).into_owned())
        .collect();
    let root = node.reader()?.root_at(size).await?.to_hex();
    let ids = node.store.enrollment_ids().await?;
    let mut enrollments = Vec::new();
    for e in node.store.enrollments_from(req.from).await? {
        let half = e.share.len() / 2;
        // Our share is own || next. The requester's "next" is our own when
        // we follow it; its "own" is our next when we precede it.
        let component = if me == requester.next() {
            &e.share[..half]
        } else {
            &e.share[half..]
        };
        enrollments.push(NewEnrollment {
            enrolled_seq: e.enrolled_seq,
            id: e.id,
            kind: e.kind.clone(),
            subject: e.subject.clone(),
            last_used_ms: e.last_used_ms,
            component: B64.encode(component),
            consent: node
                .store
                .consent_record(&e.id)
                .await?
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
        });
    }
    let revocations = node
        .store
        .revocations_from(req.from)
        .await?
        .into_iter()
        .map(|(seq, r)| match r {
            RevocationRow::Token { subject, token } => Revoked {
                seq,
                subject,
                token: Some(hex::encode(token)),
                before_ms: None,
            },
            RevocationRow::IssuedBefore { subject, before_ms } => Revoked {
                seq,
                subject,
                token: None,
                before_ms: Some(before_ms),
            },
        })
        .collect();
    Ok(Response {
        nonce: req.nonce,
        size,
        root,
        entries,
        ids,
        enrollments,
        revocations,
    })
}

/// Whether `text` is a signed enrollment statement by `subject` (hex) for
/// this node's network. Its freshness is not checked: it is as old as the
/// enrollment.
fn check_consent_record(node: &Node, text: &str, subject: Option<&str>) -> Result<(), String> {
    use sanctuary_consent::{EnrollmentStatement, SignedStatement};
    let s: SignedStatement<EnrollmentStatement> =
        serde_json::from_str(text).map_err(|e| format!("not a signed statement: {e}"))?;
    if subject != Some(s.subject.to_hex().as_str()) {
        return Err("signed by another key than the enrollment's".into());
    }
    let at = s.statement.timestamp;
    s.verify(node.policy().network(), at, time::Duration::days(36_500))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Stored and newly computed Merkle hashes, to compute the root the catch-up
/// would produce before committing it.
struct MapReader(BTreeMap<NodeIndex, Hash>);

impl HashReader for MapReader {
    fn read(&self, idx: NodeIndex) -> Result<Hash, LogStoreError> {
        self.0
            .get(&idx)
            .copied()
            .ok_or(LogStoreError::MissingHash(idx))
    }
}

fn behind(msg: impl Into<String>) -> NodeError {
    NodeError::OutOfStep(format!("catch-up: {}", msg.into()))
}

/// Asks both peers and waits for their answers to this `nonce`.
async fn ask(node: &Node, from: u64) -> Result<(Response, Response), NodeError> {
    let me = node.party();
    let mut sess = node.mesh.session(session(me))?;
    let nonce: u64 = rand::random();
    let req = serde_json::to_vec(&Request { nonce, from })
        .map_err(|e| NodeError::BadRequest(e.to_string()))?;
    let mut out = Vec::new();
    for p in [me.next(), me.prev()] {
        sess.send(p, req.clone()).await?;
        loop {
            let b = sess.recv(p).await?;
            let r: Response = serde_json::from_slice(&b)
                .map_err(|e| behind(format!("{p} sent a bad answer: {e}")))?;
            if r.nonce == nonce {
                out.push(r);
                break;
            }
        }
    }
    let prev = out.pop().ok_or_else(|| behind("no answer"))?;
    let next = out.pop().ok_or_else(|| behind("no answer"))?;
    Ok((next, prev))
}

/// Brings this node up to its peers; returns how many ops it caught up.
pub(crate) async fn catch_up(node: &Node) -> Result<u64, NodeError> {
    let me = node.party();
    let mut st = node.state.lock().await;
    let from = st.next_seq;
    let (next, prev) = ask(node, from).await?;
    let strip = |v: &[NewEnrollment]| -> Vec<NewEnrollment> {
        v.iter()
            .map(|e| NewEnrollment {
                component: String::new(),
                ..e.clone()
            })
            .collect()
    };
    if next.size != prev.size
        || next.root != prev.root
        || next.entries != prev.entries
        || next.ids != prev.ids
        || next.revocations != prev.revocations
        || strip(&next.enrollments) != strip(&prev.enrollments)
    {
        return Err(behind("the two peers disagree; an operator must look"));
    }
    if next.size <= from || next.entries.len() as u64 != next.size - from {
        return Err(behind(format!(
            "peers at {} entries, this node at {from}: nothing to catch up",
            next.size
        )));
    }
    // The missed entries, their Merkle hashes, and the root they give.
    let leaves_in: Vec<Leaf> = next
        .entries
        .iter()
        .map(|t| Leaf::from_bytes(t.as_bytes()))
        .collect::<Result<_, _>>()
        .map_err(|e| behind(format!("malformed entry from the peers: {e}")))?;
    let leaves: Vec<Hash> = leaves_in.iter().map(Leaf::leaf_hash).collect();
    // Erased leaves keep their hash; what the missed ops say comes from the
    // entries that still have their bodies.
    let entries: Vec<Entry> = leaves_in.iter().filter_map(Leaf::entry).cloned().collect();
    let wanted = merkle::frontier(from);
    let indices: Vec<(u8, u64)> = wanted.iter().map(|i| (i.level, i.index)).collect();
    let frontier: Vec<Hash> = node
        .store
        .read_hashes(&indices)
        .await?
        .into_iter()
        .map(Hash)
        .collect();
    let hashes = merkle::hashes_for_batch(from, &frontier, &leaves)
        .map_err(|e| behind(format!("own log: {e}")))?;
    let mut map: BTreeMap<NodeIndex, Hash> = wanted.into_iter().zip(frontier).collect();
    for h in hashes.iter().flatten() {
        map.insert(h.0, h.1);
    }
    let root =
        merkle::tree_root(&MapReader(map), next.size).map_err(|e| behind(format!("root: {e}")))?;
    if root.to_hex() != next.root {
        return Err(behind(
            "this node's log is not a prefix of its peers' (it diverged); an operator must look",
        ));
    }
    let mut ops = Vec::with_capacity(leaves_in.len());
    for ((l, text), h) in leaves_in.iter().zip(&next.entries).zip(&hashes) {
        if l.seq() != from + ops.len() as u64 {
            return Err(behind("entries out of order"));
        }
        ops.push(AppliedOp::log_only(
            l.seq(),
            l.entry()
                .map_or(0, |e| i64::try_from(e.time_ms).unwrap_or(i64::MAX)),
            text.as_bytes().to_vec(),
            h.iter()
                .map(|(i, h)| NodeHash {
                    level: i.level,
                    index: i.index,
                    hash: h.0,
                })
                .collect(),
        ));
    }
    // A missed deletion that erased entries this node already holds: erase
    // them here too, in that op's row of the same transaction (later ones
    // came from the peers already erased; the root check covered both).
    for (op, e) in ops.iter_mut().zip(&leaves_in) {
        let Some(erases) = e.entry().and_then(|e| e.erases.as_ref()) else {
            continue;
        };
        let mut own = Vec::new();
        for &s in erases.iter().filter(|s| **s < from) {
            // (One already erased here stays as it is.)
            if let Ok(l) = st.log.entries(s..s + 1).await
                && matches!(l.first(), Some(Leaf::Entry(_)))
            {
                own.push(s);
            }
        }
        if !own.is_empty() {
            op.erase = crate::erasure::rows(&st.log, &own, op.seq).await?;
        }
    }
    // Enrollments: ours must become exactly the peers' set.
    let theirs: BTreeSet<EnrollmentId> = next.ids.iter().map(|(_, id)| *id).collect();
    let mine = st.all_ids();
    let delete: Vec<EnrollmentId> = mine.difference(&theirs).copied().collect();
    let mut insert = Vec::new();
    for (n, p) in next.enrollments.iter().zip(&prev.enrollments) {
        if mine.contains(&n.id) {
            continue;
        }
        // From P(i+1): our next component; from P(i-1): our own.
        let decode = |s: &str| {
            B64.decode(s)
                .map(Zeroizing::new)
                .map_err(|e| behind(format!("bad share component: {e}")))
        };
        let (next_c, own_c) = (decode(&n.component)?, decode(&p.component)?);
        if next_c.len() != own_c.len() || next_c.is_empty() {
            return Err(behind("share components of different lengths"));
        }
        // Each component comes from one peer only: check it against the
        // commitment the subject signed, which the (agreed, root-checked)
        // enrollment entry carries. A peer that sends another component is
        // named, and nothing is written.
        let entry = entries
            .iter()
            .find(|e| e.seq == n.enrolled_seq)
            .ok_or_else(|| {
                behind(format!(
                    "enrollment {} has no entry in the missed ops",
                    n.id
                ))
            })?;
        let committed = entry
            .share_commitments
            .as_deref()
            .and_then(sanctuary_proto::wire::parse_components)
            .ok_or_else(|| {
                behind(format!(
                    "the entry of enrollment {} carries no share commitments",
                    n.id
                ))
            })?;
        let request = hex::encode(entry.request.0);
        for (peer, j, c) in [(me.prev(), me, &own_c), (me.next(), me.next(), &next_c)] {
            if sanctuary_proto::wire::component_commitment(&request, j, c) != committed[j.index()] {
                return Err(behind(format!(
                    "{peer} sent a share component of enrollment {} that is not the one the subject committed to; nothing was written",
                    n.id
                )));
            }
        }
        // The consent record: the subject's own signature over it, for the
        // key the enrollment is bound to (both peers sent the same one).
        if let Some(text) = &n.consent {
            check_consent_record(node, text, n.subject.as_deref())
                .map_err(|e| behind(format!("consent record of enrollment {}: {e}", n.id)))?;
            let op = ops
                .iter_mut()
                .find(|o| o.seq == n.enrolled_seq)
                .ok_or_else(|| behind("an enrollment outside the missed ops"))?;
            op.consent.push(sanctuary_store::ConsentWrite::Record {
                id: n.id,
                record: text.as_bytes().to_vec(),
            });
        }
        let mut share = Zeroizing::new(Vec::with_capacity(2 * own_c.len()));
        share.extend_from_slice(&own_c);
        share.extend_from_slice(&next_c);
        insert.push(StoredEnrollment {
            id: n.id,
            kind: n.kind.clone(),
            share,
            subject: n.subject.clone(),
            enrolled_seq: n.enrolled_seq,
            last_used_ms: n.last_used_ms,
        });
    }
    let revocations: Vec<(u64, RevocationRow)> = next
        .revocations
        .iter()
        .map(|r| {
            let row = match (&r.token, r.before_ms) {
                (Some(t), None) => RevocationRow::Token {
                    subject: r.subject.clone(),
                    token: hex::decode(t)
                        .ok()
                        .and_then(|b| b.try_into().ok())
                        .ok_or_else(|| behind("bad revoked token id"))?,
                },
                (None, Some(before_ms)) => RevocationRow::IssuedBefore {
                    subject: r.subject.clone(),
                    before_ms,
                },
                _ => return Err(behind("bad revocation")),
            };
            Ok((r.seq, row))
        })
        .collect::<Result<_, _>>()?;
    // Each revocation goes in with the op that recorded it.
    for (seq, row) in &revocations {
        let op = ops
            .iter_mut()
            .find(|o| o.seq == *seq)
            .ok_or_else(|| behind("a revocation outside the missed ops"))?;
        op.consent
            .push(sanctuary_store::ConsentWrite::Revocation(row.clone()));
    }
    node.store.catch_up(&ops, &insert, &delete).await?;
    node.reload(&mut st, &revocations).await?;
    tracing::info!(party = %me, from, to = next.size, inserted = insert.len(), deleted = delete.len(), "caught up with the peers");
    Ok(next.size - from)
}
