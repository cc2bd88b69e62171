//! A coordinator that cheats on the client's path, played by the real engine
//! with a fault hook, on an in-process three-node network; and a
//! man-in-the-middle on the client's TLS connection. Each attack is refused
//! and no decision the client accepts comes out of it:
//!
//! * substituting its own result key for the client's (to open every node's
//!   decision share): the honest nodes' shares are sealed to the client's
//!   key, so they do not open for the substituted one: refused before any
//!   computation, and logged;
//! * replacing a node's share of a template being enrolled: the subject
//!   signed the three shares' digests, so that node refuses;
//! * replacing a node's share of a probe: the honest nodes sign what they
//!   computed on, so the client refuses the decision;
//! * a TLS endpoint with another key in front of a node: the client refuses
//!   it, naming the node; plain HTTP is refused unless the network file
//!   allows it.

mod common;

use std::time::Duration;

use common::*;
use sanctuary_client::{Client, ClientError, Consent, NetworkFile};
use sanctuary_consent::{NetworkId, Purpose, RelyingPartyId, TokenRequest, Wallet};
use sanctuary_log::Outcome;
use sanctuary_node::Faults;
use sanctuary_proto::seal::SealKey;
use sanctuary_share::PartyId;
use time::OffsetDateTime;

const NET: &str = "rogue-net";
const BANK: &str = "bank.example";

fn consent(w: &mut Wallet) -> Consent {
    let now = OffsetDateTime::now_utc();
    let issued = w
        .issue_token(
            &TokenRequest {
                network: NetworkId::new(NET).expect("id"),
                audience: RelyingPartyId::new(BANK).expect("id"),
                purposes: vec![Purpose::Verify],
                expires_at: now + time::Duration::minutes(30),
                max_uses: None,
            },
            now,
        )
        .expect("issue");
    Consent {
        relying_party: BANK.into(),
        token: issued.token,
    }
}

struct Net {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    net: NetworkFile,
    client: Client,
}

fn network() -> Net {
    network_with(Default::default())
}

fn network_with(matching: sanctuary_proto::MatchingConfig) -> Net {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_owned();
    let path = sanctuary_node::init_network(&dir, ["127.0.0.1"; 3], NET, matching).expect("init");
    let net = NetworkFile::load(&path).expect("network file");
    let client = Client::new(net.clone()).expect("client");
    Net {
        _tmp: tmp,
        dir,
        net,
        client,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_that_substitutes_the_client_key_gets_nothing_computed() {
    let n = network();
    let params = n.net.matching.embedding;
    let mut nodes = vec![
        start(config(&n.dir, 0)),
        start(config(&n.dir, 1)),
        start(config(&n.dir, 2)),
    ];
    wait_ready(&n.client).await;
    let mut alice = Wallet::create(OffsetDateTime::now_utc());
    let face = person(1, &params);
    let id = n
        .client
        .enroll(&template(&face, &params), &alice, "site.example")
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let ok = consent(&mut alice);
    assert!(
        n.client
            .verify(id, &template(&face, &params), &ok)
            .await
            .expect("honest verify")
    );

    // P0's operator restarts it as a rogue that approves everything and
    // announces its own result key instead of the client's.
    stop(nodes.remove(0)).await;
    let rogue_key = SealKey::generate().public();
    let rogue = start_with(config(&n.dir, 0), move || {
        Faults::approve_everything().substituting_client_key(rogue_key.clone())
    });
    nodes.insert(0, rogue);
    wait_ready(&n.client).await;
    let err = n
        .client
        .verify(id, &template(&face, &params), &ok)
        .await
        .expect_err("a substituted key must not yield a decision");
    assert!(
        matches!(&err, ClientError::Refused { party: PartyId::P1, code, .. } if *code == "share_not_bound"),
        "{err:?}"
    );
    // Both honest nodes logged the refusal; nothing was computed.
    for p in [PartyId::P1, PartyId::P2] {
        let e = last_entry(&n.client, p).await;
        assert_eq!(
            e.outcome,
            Outcome::Refused {
                reason: "share_not_bound".into()
            },
            "{p}"
        );
    }
    for r in nodes {
        stop(r).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_share_is_refused_at_enrollment_and_caught_at_verification() {
    let n = network();
    let params = n.net.matching.embedding;
    let p1_seal = n.net.node(PartyId::P1).seal_key.clone();
    let mut nodes = vec![
        start(config(&n.dir, 0)),
        start(config(&n.dir, 1)),
        start(config(&n.dir, 2)),
    ];
    wait_ready(&n.client).await;
    let mut alice = Wallet::create(OffsetDateTime::now_utc());
    let face = person(3, &params);
    let id = n
        .client
        .enroll(&template(&face, &params), &alice, "site.example")
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let ok = consent(&mut alice);

    // The rogue coordinator hands P1 a share of its own choosing (sealed
    // properly to P1, with its digest announced in place of the client's).
    stop(nodes.remove(0)).await;
    let rogue = start_with(config(&n.dir, 0), move || {
        Faults::approve_everything().replacing_share_of(PartyId::P1, p1_seal.clone())
    });
    nodes.insert(0, rogue);
    wait_ready(&n.client).await;

    // Enrollment: the subject signed the digests of the three shares it
    // made and the commitments to their components, so P1 refuses the
    // replaced one as soon as it opens it, and nothing is stored.
    let bob = Wallet::create(OffsetDateTime::now_utc());
    let before = n.client.health(PartyId::P1).await.expect("health")["enrolled"]["embedding"]
        .as_u64()
        .expect("count");
    let err = n
        .client
        .enroll(
            &template(&person(4, &params), &params),
            &bob,
            "site.example",
        )
        .await
        .expect_err("a replaced share must not be enrolled");
    assert!(
        matches!(&err, ClientError::Refused { party: PartyId::P1, code, .. } if *code == "share_not_bound"),
        "{err:?}"
    );
    for p in PartyId::ALL {
        let h = n.client.health(p).await.expect("health");
        assert_eq!(h["enrolled"]["embedding"].as_u64(), Some(before), "{p}");
    }

    // Verification: the computation ran on the rogue's share, but every
    // node signed the share digests it computed on, which are not the
    // client's: the client refuses the decision.
    let err = n
        .client
        .verify(id, &template(&face, &params), &ok)
        .await
        .expect_err("a decision on a replaced share must be refused");
    assert!(
        matches!(&err, ClientError::ResultNotAuthentic { .. }),
        "{err:?}"
    );
    for r in nodes {
        stop(r).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_endpoint_with_another_key_is_refused_naming_the_node() {
    let n = network();
    // An endpoint in front of P0 presenting its own key (a man in the
    // middle that terminates TLS).
    let mitm_key = sanctuary_net::NodeKey::generate().expect("key");
    let tls = sanctuary_net::tls::NodeTls::new(mitm_key, "mitm")
        .expect("tls")
        .api_server_config()
        .expect("config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
    let server = tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let _ = tokio::time::timeout(Duration::from_secs(5), acceptor.accept(tcp)).await;
            });
        }
    });
    let mut net = n.net.clone();
    net.nodes[0].api_url = format!("https://{addr}");
    let client = Client::new(net).expect("client");
    let err = client
        .health(PartyId::P0)
        .await
        .expect_err("another key must be refused");
    assert!(
        matches!(
            &err,
            ClientError::WrongNodeKey {
                party: PartyId::P0,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("P0"), "{err}");
    server.abort();

    // Plain HTTP is refused unless the network file says it is allowed.
    let mut plain = n.net.clone();
    plain.nodes[1].api_url = plain.nodes[1].api_url.replace("https://", "http://");
    let err = Client::new(plain.clone()).expect_err("plain HTTP must be refused");
    assert!(
        matches!(
            &err,
            ClientError::InsecureUrl {
                party: PartyId::P1,
                ..
            }
        ),
        "{err:?}"
    );
    plain.insecure_http = true;
    assert!(Client::new(plain).is_ok());
    let text = std::fs::read_to_string(n.dir.join("network.toml")).expect("network file");
    assert!(
        text.replace("http://", "https://") == text,
        "network init writes https:// URLs only:\n{text}"
    );
    assert!(
        NetworkFile::parse(&text.replace("https://", "http://")).is_err(),
        "a network file with http:// URLs is refused unless it allows them"
    );
}

/// `security = "malicious"` in the network's matching config: the nodes
/// prove every message of enrollment dedupes and verifications before
/// opening or sealing anything, and decide as before.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_with_malicious_security_decides_as_before() {
    let n = network_with(sanctuary_proto::MatchingConfig {
        security: sanctuary_proto::MpcSecurity::Malicious,
        ..Default::default()
    });
    for file in [
        "network.toml",
        "node-0/node.toml",
        "node-1/node.toml",
        "node-2/node.toml",
    ] {
        let toml = std::fs::read_to_string(n.dir.join(file)).expect("config");
        assert!(toml.contains("security = \"malicious\""), "{file}: {toml}");
    }
    let params = n.net.matching.embedding;
    let nodes: Vec<_> = (0..3).map(|i| start(config(&n.dir, i))).collect();
    wait_ready(&n.client).await;
    let mut alice = Wallet::create(OffsetDateTime::now_utc());
    let bob = Wallet::create(OffsetDateTime::now_utc());
    let face = person(7, &params);
    let id = n
        .client
        .enroll(&template(&face, &params), &alice, "site.example")
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    // A second enrollment is a proven dedupe against the first.
    let other = n
        .client
        .enroll(
            &template(&person(8, &params), &params),
            &bob,
            "site.example",
        )
        .await
        .expect("enroll bob");
    assert!(other.enrollment_id.is_some(), "{other:?}");
    // (From a third key: one key holds one enrollment per modality.)
    let carol = Wallet::create(OffsetDateTime::now_utc());
    let again = n
        .client
        .enroll(&template(&noisy(&face, 3), &params), &carol, "site.example")
        .await
        .expect("answer");
    assert_eq!(
        again.status,
        sanctuary_proto::wire::EnrollStatus::AlreadyEnrolled,
        "{again:?}"
    );
    let ok = consent(&mut alice);
    assert!(
        n.client
            .verify(id, &template(&noisy(&face, 5), &params), &ok)
            .await
            .expect("verify genuine")
    );
    let ok = consent(&mut alice);
    assert!(
        !n.client
            .verify(id, &template(&person(9, &params), &params), &ok)
            .await
            .expect("verify impostor")
    );
    for r in nodes {
        stop(r).await;
    }
}
