//! Consent enforcement and the transparency log, end to end on an
//! in-process three-node network: every refusal kind with its own code and
//! its own log entry; revocation; deletion proven in every node's storage;
//! the log identical on all nodes, co-signed, consistent over time; each
//! subject finds exactly their own entries; a rewritten entry is caught.

mod common;

use common::*;
use sanctuary_client::{Client, ClientError, Consent, NetworkFile};
use sanctuary_consent::{
    ConsentToken, NetworkId, Purpose, RelyingPartyId, Revocation, TokenRequest, Wallet,
};
use sanctuary_log::{AuditOutcome, Operation, Outcome};
use sanctuary_proto::wire::EnrollStatus;
use sanctuary_share::PartyId;
use time::{Duration, OffsetDateTime};

const NET: &str = "consent-net";
const BANK: &str = "bank.example";

fn token(
    w: &mut Wallet,
    audience: &str,
    purposes: &[Purpose],
    lifetime: Duration,
    max_uses: Option<u32>,
) -> Consent {
    let now = OffsetDateTime::now_utc();
    let issued = w
        .issue_token(
            &TokenRequest {
                network: NetworkId::new(NET).expect("id"),
                audience: RelyingPartyId::new(audience).expect("id"),
                purposes: purposes.to_vec(),
                expires_at: now + lifetime,
                max_uses,
            },
            now,
        )
        .expect("issue");
    Consent {
        relying_party: audience.into(),
        token: issued.token,
    }
}

/// A revocation of every token issued until now.
fn revoke_all_until_now() -> Revocation {
    let now = OffsetDateTime::now_utc();
    Revocation::issued_before(
        NetworkId::new(NET).expect("id"),
        now + Duration::seconds(1),
        now,
    )
}

fn refused_code<T: std::fmt::Debug>(r: Result<T, ClientError>) -> String {
    match r {
        Err(ClientError::Refused { code, .. }) => code.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_is_enforced_and_every_use_is_logged_and_auditable() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_path =
        sanctuary_node::init_network(dir, ["127.0.0.1"; 3], NET, Default::default()).expect("init");
    let net = NetworkFile::load(&net_path).expect("network file");
    let params = net.matching.embedding;
    let client = Client::new(net).expect("client");
    let mut nodes: Vec<Option<Running>> = (0..3).map(|i| Some(start(config(dir, i)))).collect();
    wait_ready(&client).await;
    let now = OffsetDateTime::now_utc();
    let long = Duration::minutes(30);

    // Every node publishes the policy it enforces, with the structural rules
    // and the key credentials verify under.
    for p in PartyId::ALL {
        let published = client.policy(p).await.expect("policy");
        assert_eq!(published["network"], NET);
        assert!(
            published["rules"]
                .to_string()
                .contains("no_open_identification")
        );
        assert_eq!(
            published["weave_group_key"].as_str(),
            client
                .network()
                .weave
                .as_ref()
                .map(|w| w.group_key.as_str())
        );
    }

    // Alice and Bob enroll, each with their own wallet.
    let (mut alice, mut bob) = (Wallet::create(now), Wallet::create(now));
    let a_face = person(1, &params);
    let alice_id = client
        .enroll(&template(&a_face, &params), &alice, "site.example")
        .await
        .expect("enroll alice")
        .enrollment_id
        .expect("id");
    let r = client
        .enroll(
            &template(&person(2, &params), &params),
            &bob,
            "site.example",
        )
        .await
        .expect("enroll bob");
    assert_eq!(r.status, EnrollStatus::Enrolled);
    let probe = template(&a_face, &params);

    // With consent: verified.
    let ok = token(&mut alice, BANK, &[Purpose::Verify], long, None);
    assert!(client.verify(alice_id, &probe, &ok).await.expect("verify"));

    // Each kind of refusal has its own code.
    let expiring = token(
        &mut alice,
        BANK,
        &[Purpose::Verify],
        Duration::seconds(1),
        None,
    );
    let wrong_rp = Consent {
        relying_party: "insurer.example".into(),
        token: ok.token.clone(),
    };
    assert_eq!(
        refused_code(client.verify(alice_id, &probe, &wrong_rp).await),
        "token_wrong_audience"
    );
    let dedupe_only = token(&mut alice, BANK, &[Purpose::Dedupe], long, None);
    assert_eq!(
        refused_code(client.verify(alice_id, &probe, &dedupe_only).await),
        "token_wrong_purpose"
    );
    let once = token(&mut alice, BANK, &[Purpose::Verify], long, Some(1));
    client
        .verify(alice_id, &probe, &once)
        .await
        .expect("first use");
    assert_eq!(
        refused_code(client.verify(alice_id, &probe, &once).await),
        "token_replayed"
    );
    let bobs = token(&mut bob, BANK, &[Purpose::Verify], long, None);
    assert_eq!(
        refused_code(client.verify(alice_id, &probe, &bobs).await),
        "token_forged"
    );
    let junk = Consent {
        relying_party: BANK.into(),
        token: ConsentToken::from_base64("bm90IGEgdG9rZW4").expect("wrap"),
    };
    assert_eq!(
        refused_code(client.verify(alice_id, &probe, &junk).await),
        "token_malformed"
    );
    assert_eq!(
        refused_code(client.identify("data-merchant.example").await),
        "no_open_identification"
    );
    assert_eq!(
        refused_code(client.delete(alice_id, &bob).await),
        "statement_wrong_subject"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        refused_code(client.verify(alice_id, &probe, &expiring).await),
        "token_expired"
    );

    // Revocation: as easy as giving consent, effective on every node, and
    // it survives a restart of a node (stored, not only in memory).
    let revoked = token(&mut alice, BANK, &[Purpose::Verify], long, None);
    client
        .revoke(&alice, revoke_all_until_now())
        .await
        .expect("revoke all");
    stop(nodes[1].take().expect("running")).await;
    nodes[1] = Some(start(config(dir, 1)));
    wait_ready(&client).await;
    let err = client.verify(alice_id, &probe, &revoked).await;
    assert!(
        matches!(&err, Err(ClientError::Refused { code, .. }) if code == "token_revoked"),
        "{err:?}"
    );

    // The log: identical on all nodes; co-signed; consistent over time.
    let cp1 = client.cosign().await.expect("cosign");
    let policy = client.checkpoint_policy().expect("policy");
    let v1 = policy.verify(&cp1).expect("co-signed checkpoint verifies");
    assert!(v1.signers().len() >= 2);
    let leaves = client
        .entries(PartyId::P0, 0, v1.size())
        .await
        .expect("entries");
    for p in [PartyId::P1, PartyId::P2] {
        assert_eq!(
            client.entries(p, 0, v1.size()).await.expect("entries"),
            leaves,
            "{p}'s log differs"
        );
    }
    let entries: Vec<_> = leaves
        .iter()
        .map(|l| l.entry().expect("nothing erased").clone())
        .collect();
    // Refused attempts are recorded with their reason, and no entry names
    // a subject.
    let refused: Vec<_> = entries
        .iter()
        .filter_map(|e| match &e.outcome {
            Outcome::Refused { reason } => Some((e.operation, reason.as_str())),
            _ => None,
        })
        .collect();
    for want in [
        (Operation::Verify, "token_wrong_audience"),
        (Operation::Verify, "token_forged"),
        (Operation::Identify, "no_open_identification"),
        (Operation::Delete, "statement_wrong_subject"),
        (Operation::Verify, "token_revoked"),
    ] {
        assert!(refused.contains(&want), "{want:?} not logged: {refused:?}");
    }
    let text =
        String::from_utf8(entries.iter().flat_map(|e| e.to_bytes()).collect()).expect("utf8");
    assert!(!text.contains(&alice.subject().to_hex()));
    assert!(!text.contains(&alice_id.to_string()));

    // Subjects see exactly their own operations. Alice: enroll, verify,
    // wrong audience, wrong purpose, 2 single-use, revoke, revoked = 8;
    // the expired token's use is hers too (9). Bob: enroll, the token he
    // forged against Alice, the deletion he tried = 3.
    let a = client
        .audit_subject(PartyId::P2, alice.audit_key())
        .await
        .expect("alice's audit");
    assert_eq!(a.entries.len(), 9, "{:#?}", a.entries);
    let b = client
        .audit_subject(PartyId::P1, bob.audit_key())
        .await
        .expect("bob's audit");
    assert_eq!(b.entries.len(), 3, "{:#?}", b.entries);
    let stranger = Wallet::create(now);
    let s = client
        .audit_subject(PartyId::P0, stranger.audit_key())
        .await
        .expect("audit");
    assert!(s.entries.is_empty());

    // Deletion by the subject: shares gone from every node's storage.
    client.delete(alice_id, &alice).await.expect("delete");
    for i in 0..3 {
        let url = config(dir, i).storage_url();
        let store = sanctuary_store::Store::open(&url).await.expect("open");
        assert!(
            !store.has_share(&alice_id).await.expect("has_share"),
            "node {i}"
        );
        store.close().await;
    }

    // Consistency: the later checkpoint extends the earlier one.
    let cp2 = client.cosign().await.expect("cosign");
    let log = client.audit_log(Some(&cp1), true).await.expect("audit log");
    assert_eq!(log.checkpoints.len(), 3);
    assert!(log.forks.is_empty() && log.tampered.is_empty(), "{log:?}");
    let v2 = policy.verify(&cp2).expect("verifies");
    let proof = client
        .consistency_proof(PartyId::P1, v1.size(), v2.size())
        .await
        .expect("proof");
    assert_eq!(
        sanctuary_log::audit_consistency(&v1, &v2, &proof).expect("audit"),
        AuditOutcome::Consistent
    );

    // A node whose operator rewrites a past entry is caught: its entries no
    // longer hash to the co-signed root.
    stop(nodes[2].take().expect("running")).await;
    let db = dir.join("node-2/node.db");
    let mut bytes = std::fs::read(&db).expect("db");
    let needle = b"\"relying_party\":\"insurer.example\"";
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("entry in the database file");
    bytes[at + 17] = b'X';
    std::fs::write(&db, &bytes).expect("write db");
    nodes[2] = Some(start(config(dir, 2)));
    wait_ready(&client).await;
    assert!(
        client
            .audit_subject(PartyId::P2, alice.audit_key())
            .await
            .is_err(),
        "audit against the rewritten copy must fail"
    );
    client
        .audit_subject(PartyId::P0, alice.audit_key())
        .await
        .expect("honest node still audits");
    let log = client.audit_log(Some(&cp1), true).await.expect("audit log");
    assert_eq!(
        log.tampered.iter().map(|(p, _)| *p).collect::<Vec<_>>(),
        vec![PartyId::P2]
    );

    for n in nodes.into_iter().flatten() {
        stop(n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_a_valid_policy_does_not_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    sanctuary_node::init_network(dir, ["127.0.0.1"; 3], NET, Default::default()).expect("init");
    std::fs::write(
        dir.join("node-1/policy.toml"),
        "version = 1\nnetwork = \"other\"\n",
    )
    .expect("write");
    let err = sanctuary_node::Node::start(config(dir, 1))
        .await
        .expect_err("must refuse");
    assert!(err.to_string().contains("policy"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_unused_enrollments_by_itself() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_path =
        sanctuary_node::init_network(dir, ["127.0.0.1"; 3], NET, Default::default()).expect("init");
    // A pop-up site's policy: enrollments kept 3 s after their last use.
    // Every node loads its own copy; all three get the same policy.
    for i in 0..3 {
        let path = dir.join(format!("node-{i}/policy.toml"));
        let policy = std::fs::read_to_string(&path).expect("policy");
        let policy = policy.replace("days_after_last_use = 365", "seconds_after_last_use = 3");
        std::fs::write(&path, policy).expect("write policy");
    }
    let net = NetworkFile::load(&net_path).expect("network file");
    let params = net.matching.embedding;
    let client = Client::new(net).expect("client");
    let nodes: Vec<Running> = (0..3).map(|i| start(config(dir, i))).collect();
    wait_ready(&client).await;
    let alice = Wallet::create(OffsetDateTime::now_utc());
    let id = client
        .enroll(
            &template(&person(1, &params), &params),
            &alice,
            "site.example",
        )
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut held = 0;
        for p in PartyId::ALL {
            held += client.health(p).await.expect("health")["enrolled"]["embedding"]
                .as_u64()
                .unwrap_or(1);
        }
        if held == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not deleted by retention"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for i in 0..3 {
        let store = sanctuary_store::Store::open(&config(dir, i).storage_url())
            .await
            .expect("open");
        assert!(!store.has_share(&id).await.expect("has_share"), "node {i}");
        store.close().await;
    }
    let size = client.health(PartyId::P0).await.expect("health")["next_seq"]
        .as_u64()
        .expect("size");
    let entries = client.entries(PartyId::P1, 0, size).await.expect("entries");
    assert!(
        entries
            .iter()
            .filter_map(|l| l.entry())
            .any(|e| e.operation == Operation::Delete
                && e.purpose.as_deref() == Some("retention")
                && e.outcome == Outcome::Performed),
        "{entries:?}"
    );
    for n in nodes {
        stop(n).await;
    }
}

/// Three nodes with Alice, then Bob enrolled: what the catch-up tests start
/// from. `missed_from` is the log size after Alice's enrollment, where P2
/// will be rolled back to (so it misses Bob's).
struct Enrolled {
    tmp: tempfile::TempDir,
    client: Client,
    nodes: Vec<Option<Running>>,
    params: sanctuary_template::EmbeddingParams,
    alice: Wallet,
    bob: Wallet,
    bob_id: sanctuary_proto::EnrollmentId,
    missed_from: i64,
}

async fn alice_and_bob_enrolled() -> Enrolled {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_path =
        sanctuary_node::init_network(dir, ["127.0.0.1"; 3], NET, Default::default()).expect("init");
    let net = NetworkFile::load(&net_path).expect("network file");
    let params = net.matching.embedding;
    let client = Client::new(net).expect("client");
    let nodes: Vec<Option<Running>> = (0..3).map(|i| Some(start(config(dir, i)))).collect();
    wait_ready(&client).await;
    let now = OffsetDateTime::now_utc();
    let (alice, bob) = (Wallet::create(now), Wallet::create(now));
    client
        .enroll(
            &template(&person(1, &params), &params),
            &alice,
            "site.example",
        )
        .await
        .expect("enroll alice");
    let missed_from = client.health(PartyId::P2).await.expect("health")["next_seq"]
        .as_i64()
        .expect("size");
    let bob_id = client
        .enroll(
            &template(&person(2, &params), &params),
            &bob,
            "site.example",
        )
        .await
        .expect("enroll bob")
        .enrollment_id
        .expect("id");
    Enrolled {
        tmp,
        client,
        nodes,
        params,
        alice,
        bob,
        bob_id,
        missed_from,
    }
}

/// A peer that serves a lagging node another share component than the one
/// it holds (here: P1's stored share altered in its database) is caught by
/// the commitment in the enrollment's log entry, named, and nothing is
/// written: P2 halts rather than rebuild a corrupted share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_share_component_in_a_catch_up_is_caught_and_named() {
    let Enrolled {
        tmp,
        client,
        mut nodes,
        params,
        alice: _,
        mut bob,
        bob_id,
        missed_from,
    } = alice_and_bob_enrolled().await;
    let dir = tmp.path();
    stop(nodes[2].take().expect("running")).await;
    roll_back(dir, 2, missed_from).await;
    // P1 (P2's previous party) serves P2 its own component x2: the second
    // half of P1's stored share. One bit of it changes.
    stop(nodes[1].take().expect("running")).await;
    {
        use sqlx::Connection;
        let url = format!("sqlite://{}", dir.join("node-1/node.db").display());
        let mut c = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("connect");
        let (mut share,): (Vec<u8>,) =
            sqlx::query_as("SELECT share FROM enrollments WHERE id = $1")
                .bind(bob_id.0.to_vec())
                .fetch_one(&mut c)
                .await
                .expect("bob's share on P1");
        let last = share.len() - 1;
        share[last] ^= 1;
        sqlx::query("UPDATE enrollments SET share = $1 WHERE id = $2")
            .bind(share)
            .bind(bob_id.0.to_vec())
            .execute(&mut c)
            .await
            .expect("alter");
        c.close().await.expect("close");
    }
    nodes[1] = Some(start(config(dir, 1)));
    nodes[2] = Some(start(config(dir, 2)));
    wait_ready(&client).await;

    // An op makes P2 notice it is behind; its catch-up must fail, naming P1.
    let consent = token(
        &mut bob,
        BANK,
        &[Purpose::Verify],
        Duration::minutes(30),
        None,
    );
    let probe = template(&noisy(&person(2, &params), 5), &params);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let halted = loop {
        let _ = client.verify(bob_id, &probe, &consent).await;
        let h = client.health(PartyId::P2).await.expect("health");
        if let Some(why) = h["halted"].as_str() {
            break why.to_owned();
        }
        assert!(std::time::Instant::now() < deadline, "P2 never halted: {h}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert!(
        halted.contains("P1 sent a share component") && halted.contains(&bob_id.to_string()),
        "{halted}"
    );
    for n in nodes.iter_mut() {
        if let Some(n) = n.take() {
            stop(n).await;
        }
    }
    let store = sanctuary_store::Store::open(&config(dir, 2).storage_url())
        .await
        .expect("open");
    assert!(
        !store.has_share(&bob_id).await.expect("has_share"),
        "the corrupted share was written"
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_ops_catches_up_from_its_peers() {
    let Enrolled {
        tmp,
        client,
        mut nodes,
        params,
        alice,
        mut bob,
        bob_id,
        missed_from,
    } = alice_and_bob_enrolled().await;
    let dir = tmp.path();
    let long = Duration::minutes(30);
    // What P2 will also have missed (after Bob's enrollment): Alice's revocation.
    client
        .revoke(&alice, revoke_all_until_now())
        .await
        .expect("revoke");
    stop(nodes[2].take().expect("running")).await;
    roll_back(dir, 2, missed_from).await;
    nodes[2] = Some(start(config(dir, 2)));
    wait_ready(&client).await;

    // The next op finds P2 behind; it catches up and the op goes through on
    // a retry. Bob's verification needs P2's rebuilt share to be right.
    let consent = token(&mut bob, BANK, &[Purpose::Verify], long, None);
    let probe = template(&noisy(&person(2, &params), 5), &params);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let matched = loop {
        match client.verify(bob_id, &probe, &consent).await {
            Ok(m) => break m,
            Err(e) => {
                assert!(std::time::Instant::now() < deadline, "not caught up: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
        }
    };
    assert!(
        matched,
        "P2's rebuilt share of Bob's enrollment does not match"
    );
    let h: Vec<_> = {
        let mut v = Vec::new();
        for p in PartyId::ALL {
            let h = client.health(p).await.expect("health");
            v.push((
                h["next_seq"].clone(),
                h["log_root"].clone(),
                h["enrolled"].clone(),
            ));
        }
        v
    };
    assert!(h.iter().all(|x| *x == h[0]), "{h:?}");
    let size = h[0].0.as_u64().expect("size");
    assert_eq!(
        client.entries(PartyId::P2, 0, size).await.expect("entries"),
        client.entries(PartyId::P0, 0, size).await.expect("entries")
    );
    // P2 holds Bob's share and took in the revocation it missed.
    stop(nodes[2].take().expect("running")).await;
    let store = sanctuary_store::Store::open(&config(dir, 2).storage_url())
        .await
        .expect("open");
    assert!(store.has_share(&bob_id).await.expect("has_share"));
    // ... and Bob's signed consent, as its peers keep it.
    let record = store
        .consent_record(&bob_id)
        .await
        .expect("read")
        .expect("kept");
    assert!(String::from_utf8_lossy(&record).contains(&bob.subject().to_hex()));
    assert_eq!(
        store.load().await.expect("load").revocations.len(),
        1,
        "the missed revocation"
    );
    store.close().await;
    for n in nodes.into_iter().flatten() {
        stop(n).await;
    }
}

/// A token's uses are counted when the operation is committed, the same on
/// every node: an operation one node vetoes uses nothing up, on any node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vetoed_operation_uses_up_nothing_on_any_node() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_path =
        sanctuary_node::init_network(dir, ["127.0.0.1"; 3], NET, Default::default()).expect("init");
    // P2's operator stops serving verification for a while.
    let p2_policy = dir.join("node-2/policy.toml");
    let served = std::fs::read_to_string(&p2_policy).expect("policy");
    let no_verify = served.replace(
        r#"allowed = ["enroll", "verify", "dedupe", "festival_checkin"]"#,
        r#"allowed = ["enroll", "dedupe", "festival_checkin"]"#,
    );
    assert_ne!(no_verify, served);
    std::fs::write(&p2_policy, &no_verify).expect("write policy");
    let net = NetworkFile::load(&net_path).expect("network file");
    let params = net.matching.embedding;
    let client = Client::new(net).expect("client");
    let mut nodes: Vec<Option<Running>> = (0..3).map(|i| Some(start(config(dir, i)))).collect();
    wait_ready(&client).await;
    let mut alice = Wallet::create(OffsetDateTime::now_utc());
    let face = person(11, &params);
    let id = client
        .enroll(&template(&face, &params), &alice, "site.example")
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let once = token(
        &mut alice,
        BANK,
        &[Purpose::Verify],
        Duration::minutes(30),
        Some(1),
    );
    let probe = template(&noisy(&face, 2), &params);
    assert_eq!(
        refused_code(client.verify(id, &probe, &once).await),
        "purpose_not_allowed"
    );
    // P2 serves verification again; the single-use token is still unused
    // everywhere, so it works once, and only once.
    stop(nodes[2].take().expect("running")).await;
    std::fs::write(&p2_policy, &served).expect("write policy");
    nodes[2] = Some(start(config(dir, 2)));
    wait_ready(&client).await;
    assert!(client.verify(id, &probe, &once).await.expect("first use"));
    assert_eq!(
        refused_code(client.verify(id, &probe, &once).await),
        "token_replayed"
    );
    for n in nodes.into_iter().flatten() {
        stop(n).await;
    }
}
