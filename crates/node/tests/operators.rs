//! Independent operators stand up a network without a dealer: each makes
//! its own node's secrets (`keygen`), the public parts are assembled into
//! the network file, and each node checks its own entry (`configure`).

mod common;

use common::*;
use sanctuary_client::{Client, NetworkFile};
use sanctuary_consent::Wallet;
use sanctuary_node::{KeygenRequest, NodeConfig};
use sanctuary_share::PartyId;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

fn request(dir: &std::path::Path, party: PartyId) -> KeygenRequest {
    let (api, peer) = (free_port(), free_port());
    KeygenRequest {
        dir: dir.join(format!("op-{}", party.index())),
        network: "ops-net".into(),
        party,
        advertise_api: format!("127.0.0.1:{api}"),
        advertise_peer: format!("127.0.0.1:{peer}"),
        listen_api: None,
        listen_peer: None,
        insecure_http: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_operators_keygen_assemble_configure_and_serve() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let reqs: Vec<KeygenRequest> = PartyId::ALL.iter().map(|&p| request(root, p)).collect();
    let publics: Vec<_> = reqs
        .iter()
        .map(|r| sanctuary_node::keygen(r).expect("keygen"))
        .collect();
    for r in &reqs {
        use std::os::unix::fs::PermissionsExt;
        for secret in ["node-key.pem", "seal-key.bin", "log-key.txt"] {
            let mode = std::fs::metadata(r.dir.join(secret))
                .expect("secret written")
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{secret} is private to its operator");
        }
    }
    // A second keygen into the same directory changes nothing.
    assert!(sanctuary_node::keygen(&reqs[0]).is_err());
    assert_eq!(
        std::fs::read_to_string(reqs[0].dir.join("public.toml")).expect("public"),
        sanctuary_node::public_toml(&publics[0]).expect("text")
    );

    // The assembler needs only the public parts.
    let parts: Vec<_> = reqs.iter().map(|r| r.dir.join("public.toml")).collect();
    let net_path = root.join("network.toml");
    // Two copies of one node's part are refused, and nothing is written.
    let dup = vec![parts[0].clone(), parts[0].clone(), parts[2].clone()];
    assert!(sanctuary_node::assemble(&dup, &net_path, Default::default()).is_err());
    assert!(!net_path.exists());
    sanctuary_node::assemble(&parts, &net_path, Default::default()).expect("assemble");
    let net = NetworkFile::load(&net_path).expect("network file");
    assert!(net.nodes.iter().all(|n| n.api_url.starts_with("https://")));
    assert!(net.weave.is_none(), "no dealer made weaving keys");

    // A node refuses a network file whose entry for it carries other keys.
    let other = root.join("other");
    let other_net =
        sanctuary_node::init_network(&other, ["127.0.0.1"; 3], "ops-net", Default::default())
            .expect("another network");
    let err = sanctuary_node::configure(&reqs[1].dir, &other_net).expect_err("swapped file");
    assert!(err.to_string().contains("keys"), "{err}");
    assert!(!reqs[1].dir.join("node.toml").exists());

    let configs: Vec<NodeConfig> = reqs
        .iter()
        .map(|r| {
            let path = sanctuary_node::configure(&r.dir, &net_path).expect("configure");
            NodeConfig::load(&path).expect("node.toml loads")
        })
        .collect();
    let nodes: Vec<_> = configs.into_iter().map(start).collect();
    let client = Client::new(net.clone()).expect("client");
    wait_ready(&client).await;
    let params = net.matching.embedding;
    let alice = Wallet::create(time::OffsetDateTime::now_utc());
    let r = client
        .enroll(
            &template(&person(7, &params), &params),
            &alice,
            "site.example",
        )
        .await
        .expect("enroll on the assembled network");
    assert!(r.enrollment_id.is_some());
    for n in nodes {
        stop(n).await;
    }
}

#[test]
fn a_failed_init_leaves_nothing_and_a_rerun_succeeds() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("net");
    // 0.0.0.0 is not an address clients can use: refused before any file.
    let err = sanctuary_node::init_network(
        &dir,
        ["127.0.0.1", "0.0.0.0", "127.0.0.1"],
        "n",
        Default::default(),
    )
    .expect_err("unusable host");
    assert!(err.to_string().contains("0.0.0.0"), "{err}");
    assert!(!dir.exists(), "nothing written");
    // Hosts that are not on this machine are fine: fixed ports, nothing bound.
    let path = sanctuary_node::init_network(
        &dir,
        ["10.0.0.1", "10.0.0.2", "node-c.example"],
        "n",
        Default::default(),
    )
    .expect("multi-host init");
    let net = NetworkFile::load(&path).expect("network file");
    assert_eq!(net.nodes[2].api_url, "https://node-c.example:7443");
    let cfg = NodeConfig::load(&dir.join("node-2/node.toml")).expect("config");
    assert_eq!(cfg.api_listen, "0.0.0.0:7443");
    assert!(
        cfg.policy.starts_with(dir.join("node-2")),
        "the policy is inside the node directory"
    );
    // The node directory works from wherever it is copied to.
    let moved = tmp.path().join("elsewhere");
    std::fs::rename(dir.join("node-2"), &moved).expect("move");
    let cfg = NodeConfig::load(&moved.join("node.toml")).expect("config after the move");
    assert!(cfg.policy.exists() && cfg.key_path().exists());
}
