//! A cosigning round: every node signs its tree head (its cosigner
//! refuses a head that does not extend the last one it signed), the
//! signatures are exchanged, and the note is published once 2 of 3 signed
//! it. It runs after the position check and is not an entry of the log.

use std::sync::atomic::Ordering;

use sanctuary_log::{Operation, SignedNote};
use sanctuary_mpc::Transport;
use sanctuary_net::MeshSession;
use sanctuary_proto::wire::{CosignOp, Refusal};
use sanctuary_store::ConsentWrite;

use super::{Done, EntryFields, RunCx, VerdictCx};
use crate::NodeError;
use crate::engine::Node;
use crate::state::State;

pub(super) fn verdict(_op: &CosignOp, _cx: &VerdictCx<'_>) -> Result<Vec<ConsentWrite>, Refusal> {
    Ok(Vec::new())
}

pub(super) fn entry(_op: &CosignOp) -> EntryFields {
    EntryFields {
        operation: Operation::PolicyChange,
        relying_party: None,
        purpose: None,
        audit_tag: None,
        share_commitments: None,
        erases: None,
    }
}

pub(super) async fn run(_op: &CosignOp, _cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    // The engine runs the round itself, before the veto: it has no entry.
    Err(NodeError::Internal(
        "a cosigning round is not a logged operation",
    ))
}

/// A cosigning round: sign this node's tree head (the cosigner refuses a
/// head that does not extend the last one it signed), exchange
/// signatures, and publish the note once the threshold signed it.
pub(crate) async fn cosign(
    node: &Node,
    st: &mut State,
    transport: &mut MeshSession,
) -> Result<SignedNote, NodeError> {
    let party = node.party();
    let size = st.next_seq;
    let cp = st.log.checkpoint_at(size).await?;
    let last = st.cosigner.last_signed().await?.map_or(0, |c| c.size());
    let proof = st.log.consistency_proof(last, size).await?;
    let sig = st.cosigner.cosign(&cp, &proof).await?;
    let text = cp.to_text();
    let mine = SignedNote::new(text.clone(), vec![sig]).map_err(sanctuary_log::Error::from)?;
    for p in [party.next(), party.prev()] {
        transport.send(p, mine.to_string().into_bytes()).await?;
    }
    let mut sigs = mine.signatures().to_vec();
    for p in [party.next(), party.prev()] {
        let b = transport.recv(p).await?;
        let Ok(note) = std::str::from_utf8(&b).map(SignedNote::parse) else {
            tracing::warn!(%party, peer = %p, "peer sent a non-UTF-8 cosignature");
            continue;
        };
        let Some(key) = node.checkpoints.nodes().get(&p) else {
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
    st.log.publish(&node.checkpoints, &note).await?;
    if let Some(m) = node.metrics.ops.get("cosign") {
        m.fetch_add(1, Ordering::Relaxed);
    }
    Ok(note)
}
