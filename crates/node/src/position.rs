//! The position check that opens every operation session: each node sends
//! its next sequence number, its log root, the digest of the op it was
//! announced, and its verdict. A node whose position differs from two
//! peers that agree with each other is the one out of step: it halts (and
//! catches up when it is behind), so galleries never diverge.

use sanctuary_mpc::Transport;
use sanctuary_net::MeshSession;
use sanctuary_proto::wire::{CONTROL_VERSION, OpStart, Position, Refusal, op_digest, session_id};
use sanctuary_share::PartyId;

use crate::NodeError;
use crate::engine::Node;
use crate::state::State;

/// Marker in a [`Position`] sent by the coordinator to call an op off.
const ABORT: &str = "abort";

/// This node's position for `start`, with its verdict.
pub(crate) fn mine(st: &State, start: &OpStart, refusal: Option<Refusal>) -> Position {
    Position {
        v: CONTROL_VERSION,
        next_seq: st.next_seq,
        head: st.root.to_hex(),
        op_digest: op_digest(start),
        refusal,
    }
}

/// Sends `mine` to both peers and receives theirs (the coordinator's
/// first, so an aborted op is dropped at once). Fails, halting this node
/// where it is the one out of step, unless all three stand at the same
/// place for the same op.
pub(crate) async fn exchange(
    node: &Node,
    start: &OpStart,
    mine: &Position,
    transport: &mut MeshSession,
) -> Result<Vec<(PartyId, Position)>, NodeError> {
    let party = node.party();
    let bytes = serde_json::to_vec(mine).map_err(NodeError::Encode)?;
    for p in [party.next(), party.prev()] {
        transport.send(p, bytes.clone()).await?;
    }
    let order = if party == PartyId::P0 {
        [party.next(), party.prev()]
    } else {
        let other = if party == PartyId::P1 {
            PartyId::P2
        } else {
            PartyId::P1
        };
        [PartyId::P0, other]
    };
    let mut theirs = Vec::new();
    for p in order {
        let b = transport.recv(p).await?;
        let pos: Position = serde_json::from_slice(&b)
            .map_err(|e| NodeError::OutOfStep(format!("{p} sent a bad position: {e}")))?;
        if p == PartyId::P0 && pos.op_digest == ABORT {
            return Err(NodeError::PeerUnavailable {
                peer: PartyId::P0,
                reason: "the coordinator aborted the operation".into(),
            });
        }
        if pos.v != CONTROL_VERSION {
            return Err(NodeError::OutOfStep(format!(
                "{p} speaks control protocol v{}, this node v{CONTROL_VERSION}",
                pos.v
            )));
        }
        theirs.push((p, pos));
    }
    if start.seq != mine.next_seq || theirs.iter().any(|(_, p)| !p.same_place(mine)) {
        let detail = format!(
            "op {} announced; {party} at seq {} head {}; {}",
            start.seq,
            mine.next_seq,
            &mine.head[..12.min(mine.head.len())],
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
        // one out of step, so stop serving until we caught up (behind) or
        // an operator intervenes (ahead).
        if theirs[0].1.same_place(&theirs[1].1) && !theirs[0].1.same_place(mine) {
            let lagging = theirs[0].1.next_seq > mine.next_seq;
            node.halt(if lagging {
                format!("behind the other nodes, catching up: {detail}")
            } else {
                detail.clone()
            });
            if lagging {
                node.start_catch_up();
            } else {
                tracing::error!(%party, %detail, "out of step: halting");
            }
        }
        return Err(NodeError::OutOfStep(detail));
    }
    Ok(theirs)
}

/// Tells followers that already received an `OpStart` that the op is off,
/// so they do not wait for it until their timeout.
pub(crate) async fn abort_announced(node: &Node, start: &OpStart) {
    let Ok(mut s) = node.mesh.session(session_id(start.seq, &start.request_id)) else {
        return;
    };
    let abort = Position {
        v: CONTROL_VERSION,
        next_seq: start.seq,
        head: String::new(),
        op_digest: ABORT.into(),
        refusal: None,
    };
    if let Ok(bytes) = serde_json::to_vec(&abort) {
        for p in [PartyId::P1, PartyId::P2] {
            let _ = s.send(p, bytes.clone()).await;
        }
    }
}

/// A halted node's answer to an announced op: a position that matches
/// nobody's, naming why, so the op fails at once everywhere and nothing is
/// appended.
pub(crate) async fn refuse_halted(node: &Node, start: &OpStart, reason: &str) {
    let Ok(mut s) = node.mesh.session(session_id(start.seq, &start.request_id)) else {
        return;
    };
    let (next_seq, head) = {
        let st = node.state.lock().await;
        (st.next_seq, st.root.to_hex())
    };
    let pos = Position {
        v: CONTROL_VERSION,
        next_seq,
        head,
        op_digest: format!("halted: {reason}"),
        refusal: None,
    };
    if let Ok(bytes) = serde_json::to_vec(&pos) {
        let party = node.party();
        for p in [party.next(), party.prev()] {
            let _ = s.send(p, bytes.clone()).await;
        }
    }
}
