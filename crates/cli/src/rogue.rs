//! A rogue coordinator, for the demo's veto scene: a program holding node
//! P0's identity key, with every consent and policy check removed, that
//! announces forbidden operations to the two other nodes. It shows that one
//! operator cannot make the network compute what the policy forbids: each
//! honest node checks the op itself, refuses, records the attempt in its
//! log, and never enters the MPC the rogue would need.
//!
//! It speaks the real node-to-node protocol (`sanctuary_node::wire`) over
//! the real pinned mutual-TLS mesh; it is not part of the node.

use std::time::Duration;

use anyhow::{Context, bail};
use sanctuary_mpc::{Session, Transport};
use sanctuary_net::{MeshConfig, NodeKey, PeerConfig, PeerMesh};
use sanctuary_node::wire::{CONTROL_SESSION, Op, OpStart, Position, op_digest, session_id};
use sanctuary_node::{Client, NodeConfig};
use sanctuary_share::PartyId;

/// What the honest nodes did with one forbidden op.
#[derive(Debug)]
pub(crate) struct RogueAttempt {
    /// The op's name.
    pub(crate) op: &'static str,
    /// Each follower's refusal code (`None`: it did not refuse).
    pub(crate) refusals: Vec<(PartyId, Option<String>)>,
    /// Whether the rogue could start the MPC session it needs (it must not).
    pub(crate) computed: bool,
}

/// Runs the rogue P0 (node 0 must be stopped: its ports and key are used)
/// and announces `ops` one by one.
pub(crate) async fn attempt(
    node0: &NodeConfig,
    client: &Client,
    ops: Vec<Op>,
) -> anyhow::Result<Vec<RogueAttempt>> {
    let key = NodeKey::load(node0.key_path()).context("rogue: node 0's key")?;
    let peers = node0
        .peers
        .iter()
        .map(|p| PeerConfig {
            party: p.party,
            addr: p.peer_addr.clone(),
            key: p.key,
        })
        .collect();
    let mut cfg = MeshConfig::new(PartyId::P0, peers);
    cfg.io_timeout = Duration::from_secs(3);
    let mesh = PeerMesh::bind(cfg, key, &node0.peer_listen)
        .await
        .context("rogue: cannot take node 0's peer address")?;
    mesh.wait_connected(Duration::from_secs(10)).await?;
    // Let the followers notice the new link and reopen their control channel.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut control = mesh.session(CONTROL_SESSION)?;
    let mut out = Vec::new();
    for op in ops {
        let health = client.health(PartyId::P1).await?;
        let (Some(seq), Some(root)) = (health["next_seq"].as_u64(), health["log_root"].as_str())
        else {
            bail!("rogue: P1's health has no log position");
        };
        let request_id = hex_id();
        let start = OpStart {
            seq,
            request_id: request_id.clone(),
            time_ms: now_ms(),
            op: op.clone(),
            share: None,
            client_key: None,
        };
        let msg = serde_json::to_vec(&start)?;
        for p in [PartyId::P1, PartyId::P2] {
            control.send(p, msg.clone()).await?;
        }
        let mut session = mesh.session(session_id(seq, &request_id))?;
        // The rogue claims to approve; its own checks are switched off.
        let mine = Position {
            next_seq: seq,
            head: root.to_owned(),
            op_digest: op_digest(&start),
            refusal: None,
        };
        let bytes = serde_json::to_vec(&mine)?;
        for p in [PartyId::P1, PartyId::P2] {
            session.send(p, bytes.clone()).await?;
        }
        let mut refusals = Vec::new();
        for p in [PartyId::P1, PartyId::P2] {
            let b = session.recv(p).await?;
            let pos: Position = serde_json::from_slice(&b)?;
            refusals.push((p, pos.refusal.map(|r| r.code)));
        }
        // Try to go on to the computation anyway.
        let computed = matches!(
            tokio::time::timeout(Duration::from_secs(1), Session::setup(session)).await,
            Ok(Ok(_))
        );
        out.push(RogueAttempt {
            op: op.name(),
            refusals,
            computed,
        });
    }
    Ok(out)
}

fn hex_id() -> String {
    rand::random::<[u8; 16]>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}
