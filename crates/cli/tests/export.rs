//! The subject's rights through the `sanctuary` binary against three node
//! processes: the wallet records its enrollments; `wallet export
//! --everything` lists what the wallet and the log hold about the subject
//! (compared with what the nodes serve); `delete --erase-log` erases the
//! subject's log bodies, and the export then shows them as erased.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{PASS, ok, s};

use sanctuary_client::{Client, NetworkFile};
use sanctuary_consent::{KdfParams, Wallet};
use sanctuary_devnet::Nodes;
use sanctuary_log::Leaf;
use sanctuary_share::PartyId;

fn template_file(dir: &Path, seed: u64, dim: usize) -> std::path::PathBuf {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let values: Vec<f32> = (0..dim)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 2001) as f32 / 1000.0 - 1.0
        })
        .collect();
    let path = dir.join(format!("t{seed}.json"));
    std::fs::write(
        &path,
        serde_json::json!({"kind": "embedding", "values": values}).to_string(),
    )
    .expect("write template");
    path
}

#[test]
fn export_everything_lists_what_the_wallet_and_the_log_hold_and_erasure_shows() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_dir = dir.join("net");
    ok(&[
        "network",
        "init",
        "--dir",
        s(&net_dir),
        "--name",
        "cli-export",
    ]);
    let net_file = net_dir.join("network.toml");
    let net = s(&net_file).to_owned();
    let nodes =
        Nodes::start(env!("CARGO_BIN_EXE_sanctuary").as_ref(), &net_dir).expect("start nodes");
    let network = NetworkFile::load(&net_file).expect("network file");
    let dim = network.matching.embedding.dim;
    let client = Client::new(network).expect("client");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(sanctuary_devnet::wait_ready(
        &client,
        Duration::from_secs(60),
    ))
    .expect("nodes ready");
    let wallet_path = dir.join("alice.wallet");
    Wallet::create(time::OffsetDateTime::now_utc())
        .save_new(&wallet_path, PASS, KdfParams::MINIMUM)
        .expect("save wallet");
    let wallet = s(&wallet_path);
    let t = template_file(dir, 21, dim);
    let out = ok(&[
        "enroll",
        "--network",
        &net,
        "--wallet",
        wallet,
        "--template",
        s(&t),
        "--json",
        "--accept-notice",
    ]);
    let enrolled: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let id = enrolled["enrollment_id"].as_str().expect("id").to_owned();
    rt.block_on(client.cosign()).expect("cosign");

    // The export: the wallet's enrollment record, and the log entries the
    // nodes serve for this subject (here: the enrollment).
    let export = |node: &str| -> serde_json::Value {
        let text = ok(&[
            "wallet",
            "export",
            "--wallet",
            wallet,
            "--everything",
            "--network",
            &net,
            "--node",
            node,
        ]);
        serde_json::from_str(&text).expect("export is JSON")
    };
    let everything = export("1");
    assert_eq!(everything["format"], "sanctuary.export/v1");
    let enrollments = everything["enrollments"].as_array().expect("enrollments");
    assert_eq!(enrollments.len(), 1, "{everything}");
    assert_eq!(enrollments[0]["id"], id.as_str());
    assert!(enrollments[0]["deleted_at"].is_null());
    // The receipt of what was accepted: each node's policy digest.
    let digests = enrollments[0]["accepted"]["policy_digests"]
        .as_array()
        .expect("digests");
    for (i, d) in digests.iter().enumerate() {
        let policy = rt.block_on(client.policy(PartyId::ALL[i])).expect("policy");
        assert_eq!(d, &policy["digest"], "node {i}");
    }
    let entries = everything["log"]["entries"].as_array().expect("entries");
    let seqs: Vec<u64> = entries
        .iter()
        .map(|e| e["entry"]["seq"].as_u64().expect("seq"))
        .collect();
    assert_eq!(seqs, [enrolled["seq"].as_u64().expect("seq")]);
    // Exactly what the node serves at that position.
    let size = everything["log"]["checkpoint_size"].as_u64().expect("size");
    let leaves = rt
        .block_on(client.entries(PartyId::P1, 0, size))
        .expect("entries");
    let served: serde_json::Value =
        serde_json::from_slice(&leaves[seqs[0] as usize].to_bytes()).expect("json");
    assert_eq!(entries[0]["entry"], served);
    assert!(entries[0]["inclusion_proof"]["path"].is_array());

    // Deleting with erasure: the export then shows the entry as erased.
    let out = ok(&[
        "delete",
        "--network",
        &net,
        "--enrollment",
        &id,
        "--wallet",
        wallet,
        "--erase-log",
    ]);
    assert!(out.contains("erased the bodies of 1"), "{out}");
    rt.block_on(client.cosign()).expect("cosign");
    let after = export("2");
    let erased = after["log"]["erased_at_your_request"]
        .as_array()
        .expect("erased");
    assert_eq!(erased.len(), 1, "{after}");
    assert_eq!(erased[0]["seq"].as_u64(), Some(seqs[0]));
    assert!(after["enrollments"][0]["deleted_at"].is_string(), "{after}");
    let leaf = rt
        .block_on(client.entries(PartyId::P2, seqs[0], seqs[0] + 1))
        .expect("entries")
        .remove(0);
    assert!(matches!(leaf, Leaf::Erased(_)));
    drop(nodes);
}
