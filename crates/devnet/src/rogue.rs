//! The rogue operator of the demo's veto scene: node P0's operator runs the
//! real engine with its own consent and policy checks switched off
//! ([`sanctuary_node::Faults`]) and proposes forbidden operations. Each
//! honest node checks the op itself, refuses, records the attempt in its
//! log, and never enters the computation the rogue would need.

use std::time::Duration;

use anyhow::Context;
use sanctuary_node::{Faults, Node, NodeConfig, NodeError};
use sanctuary_proto::RefusalCode;
use sanctuary_proto::wire::Op;
use sanctuary_share::PartyId;

/// What the honest nodes did with one forbidden op.
#[derive(Debug)]
pub struct RogueAttempt {
    /// The op's name.
    pub op: &'static str,
    /// Each honest node's refusal code (`None`: it did not refuse).
    pub refusals: Vec<(PartyId, Option<RefusalCode>)>,
    /// Whether the op was computed (it must not be).
    pub computed: bool,
}

/// Starts the rogue P0 on node 0's config (node 0 must be stopped: its
/// ports, keys and database are used) and proposes `ops` one by one.
pub async fn attempt(node0: NodeConfig, ops: Vec<Op>) -> anyhow::Result<Vec<RogueAttempt>> {
    let node = Node::start_with_faults(node0, Faults::approve_everything())
        .await
        .context("rogue: cannot start node 0's engine")?;
    node.wait_peers(Duration::from_secs(10))
        .await
        .context("rogue: the honest nodes did not connect")?;
    // Let the followers notice the new link and reopen their control channel.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut out = Vec::new();
    for op in ops {
        let name = op.name();
        let computed = match node.propose(op).await {
            Ok(_) => true,
            Err(NodeError::Refused { .. }) => false,
            Err(e) => return Err(e).context("rogue: proposing an op"),
        };
        let refusals = node
            .verdicts_seen()
            .pop()
            .map(|(_, v)| v)
            .unwrap_or_default();
        out.push(RogueAttempt {
            op: name,
            refusals,
            computed,
        });
    }
    node.stop();
    node.close().await;
    Ok(out)
}
