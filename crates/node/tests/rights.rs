//! A subject's rights that no single operator can block, and a log that
//! can forget, on an in-process three-node network:
//!
//! * a node that refuses a deletion (and keeps its share) is overruled: the
//!   other two delete theirs, the entry records the refusal, and the
//!   component only they held is gone, so what the refusing node kept is
//!   two of three random components, not a template;
//! * the same for a withdrawal of consent: the revoked token stops working;
//! * a deletion can erase the bodies of the subject's earlier log entries
//!   on every node, while checkpoints, proofs and audits still verify;
//! * free text with personal data is refused and never reaches the log.

mod common;

use common::*;
use sanctuary_client::{Client, ClientError, Consent, NetworkFile};
use sanctuary_consent::{NetworkId, Purpose, RelyingPartyId, Revocation, TokenRequest, Wallet};
use sanctuary_log::{Leaf, Outcome};
use sanctuary_node::Faults;
use sanctuary_share::PartyId;
use sanctuary_store::Store;
use time::{Duration, OffsetDateTime};

const NET: &str = "rights-net";
const BANK: &str = "bank.example";

fn network() -> (tempfile::TempDir, NetworkFile, Client) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = sanctuary_node::init_network(tmp.path(), ["127.0.0.1"; 3], NET, Default::default())
        .expect("init");
    let net = NetworkFile::load(&path).expect("network file");
    let client = Client::new(net.clone()).expect("client");
    (tmp, net, client)
}

fn consent(w: &mut Wallet, relying_party: &str) -> Consent {
    let now = OffsetDateTime::now_utc();
    let issued = w
        .issue_token(
            &TokenRequest {
                network: NetworkId::new(NET).expect("id"),
                audience: RelyingPartyId::new(BANK).expect("id"),
                purposes: vec![Purpose::Verify],
                expires_at: now + Duration::minutes(30),
                max_uses: None,
            },
            now,
        )
        .expect("issue");
    Consent {
        relying_party: relying_party.into(),
        token: issued.token,
    }
}

/// Each node's stored share of `id` (none once deleted), read through a
/// second handle on its database.
async fn shares(dir: &std::path::Path, id: sanctuary_proto::EnrollmentId) -> Vec<Option<Vec<u8>>> {
    let mut out = Vec::new();
    for i in 0..3 {
        let store = Store::open(&config(dir, i).storage_url())
            .await
            .expect("open");
        let loaded = store.load().await.expect("load");
        out.push(
            loaded
                .enrollments
                .iter()
                .find(|e| e.id == id)
                .map(|e| e.share.to_vec()),
        );
        store.close().await;
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Every file of node `i`'s database (main file and WAL).
fn db_bytes(dir: &std::path::Path, i: usize) -> Vec<u8> {
    let url = config(dir, i).storage_url();
    let path = url.trim_start_matches("sqlite://").to_owned();
    let mut bytes = std::fs::read(&path).expect("db");
    if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
        bytes.extend(wal);
    }
    bytes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deletion_refused_by_one_node_still_takes_effect_on_the_others() {
    let (tmp, net, client) = network();
    let dir = tmp.path();
    let params = net.matching.embedding;
    let nodes = vec![
        start(config(dir, 0)),
        start(config(dir, 1)),
        start_with(config(dir, 2), || Faults::none().refusing_rights()),
    ];
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
    // P_i holds components (x_i, x_{i+1}); x1 is held by P0 and P1 only.
    let before = shares(dir, id).await;
    let p0 = before[0].clone().expect("P0 holds a share");
    let x1 = p0[p0.len() / 2..].to_vec();
    assert!(contains(before[1].as_ref().expect("P1 holds a share"), &x1));
    assert!(!contains(
        before[2].as_ref().expect("P2 holds a share"),
        &x1
    ));

    let done = client
        .delete(id, &alice)
        .await
        .expect("the deletion is not blocked");
    assert!(done.deleted);
    for p in PartyId::ALL {
        let e = last_entry(&client, p).await;
        assert_eq!(
            e.outcome,
            Outcome::PerformedOverRefusal {
                refused_by: PartyId::P2,
                reason: "right_refused".into()
            },
            "{p}'s entry"
        );
    }
    for n in nodes {
        stop(n).await;
    }
    let after = shares(dir, id).await;
    assert!(
        after[0].is_none() && after[1].is_none(),
        "honest nodes deleted"
    );
    let kept = after[2].as_ref().expect("the refusing node kept its share");
    assert!(!contains(kept, &x1));
    // What the refusing node kept, with everything the honest nodes still
    // store, does not hold the third component: the template is gone.
    for i in 0..2 {
        for chunk in x1.chunks(32) {
            assert!(
                !contains(&db_bytes(dir, i), chunk),
                "x1 still on P{i}'s disk"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_refused_by_one_node_still_takes_effect() {
    let (tmp, net, client) = network();
    let dir = tmp.path();
    let params = net.matching.embedding;
    let nodes = vec![
        start(config(dir, 0)),
        start_with(config(dir, 1), || Faults::none().refusing_rights()),
        start(config(dir, 2)),
    ];
    wait_ready(&client).await;
    let mut alice = Wallet::create(OffsetDateTime::now_utc());
    let face = person(2, &params);
    let id = client
        .enroll(&template(&face, &params), &alice, "site.example")
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let token = consent(&mut alice, BANK);
    assert!(
        client
            .verify(id, &template(&face, &params), &token)
            .await
            .expect("verify")
    );
    let now = OffsetDateTime::now_utc();
    client
        .revoke(
            &alice,
            Revocation::issued_before(
                NetworkId::new(NET).expect("id"),
                now + Duration::seconds(1),
                now,
            ),
        )
        .await
        .expect("the withdrawal is not blocked");
    assert_eq!(
        last_entry(&client, PartyId::P0).await.outcome,
        Outcome::PerformedOverRefusal {
            refused_by: PartyId::P1,
            reason: "right_refused".into()
        }
    );
    // The honest nodes no longer honour the token.
    let err = client
        .verify(id, &template(&face, &params), &token)
        .await
        .expect_err("revoked");
    assert!(
        matches!(&err, ClientError::Refused { code, .. } if *code == "token_revoked"),
        "{err:?}"
    );
    for n in nodes {
        stop(n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erased_log_bodies_are_gone_from_every_node_and_proofs_still_verify() {
    let (tmp, net, client) = network();
    let dir = tmp.path();
    let params = net.matching.embedding;
    let nodes: Vec<_> = (0..3).map(|i| start(config(dir, i))).collect();
    wait_ready(&client).await;
    let mut alice = Wallet::create(OffsetDateTime::now_utc());
    let bob = Wallet::create(OffsetDateTime::now_utc());
    let face = person(3, &params);
    let id = client
        .enroll(&template(&face, &params), &alice, "site.example")
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let token = consent(&mut alice, BANK);
    assert!(
        client
            .verify(id, &template(&face, &params), &token)
            .await
            .expect("verify")
    );
    client
        .enroll(
            &template(&person(4, &params), &params),
            &bob,
            "site.example",
        )
        .await
        .expect("enroll bob");
    client.cosign().await.expect("cosign");
    let before = client
        .audit_subject(PartyId::P1, alice.audit_key())
        .await
        .expect("audit");
    let mine: Vec<u64> = before.entries.iter().map(|a| a.entry.seq).collect();
    assert_eq!(mine.len(), 2, "enroll and verify");
    let salts: Vec<String> = before
        .entries
        .iter()
        .map(|a| a.entry.salt.to_hex())
        .collect();
    let bob_before = client
        .audit_subject(PartyId::P1, bob.audit_key())
        .await
        .expect("audit");

    let done = client.delete_and_erase(id, &alice).await.expect("delete");
    assert_eq!(done.erased, mine);
    let note = client.cosign().await.expect("cosign after erasure");
    let cp = client
        .checkpoint_policy()
        .expect("policy")
        .verify(&note)
        .expect("verifies");
    for p in PartyId::ALL {
        let leaves = client.entries(p, 0, cp.size()).await.expect("entries");
        for &s in &mine {
            assert!(
                matches!(&leaves[s as usize], Leaf::Erased(e) if e.erased_by == done.seq),
                "{p} still serves entry {s}"
            );
        }
        // The subject's audit: the deletion, and what it erased.
        let a = client
            .audit_subject(p, alice.audit_key())
            .await
            .expect("audit");
        assert_eq!(
            a.entries.iter().map(|e| e.entry.seq).collect::<Vec<_>>(),
            [done.seq]
        );
        assert_eq!(a.erased.iter().map(|e| e.seq).collect::<Vec<_>>(), mine);
        // Everyone else's audit is unchanged.
        let b = client
            .audit_subject(p, bob.audit_key())
            .await
            .expect("audit");
        let bodies = |a: &sanctuary_client::SubjectAudit| {
            a.entries
                .iter()
                .map(|e| e.entry.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(bodies(&b), bodies(&bob_before), "{p}");
        for e in &mine {
            let proof = client
                .inclusion_proof(p, *e, cp.size())
                .await
                .expect("proof");
            proof
                .verify(&leaves[*e as usize].leaf_hash(), cp.root())
                .expect("an erased leaf is still included");
        }
    }
    // The auditor's full check: every node's entries hash to its root.
    let audit = client.audit_log(None, true).await.expect("audit");
    assert!(
        audit.tampered.is_empty() && audit.forks.is_empty(),
        "{audit:?}"
    );
    for n in nodes {
        stop(n).await;
    }
    for i in 0..3 {
        let bytes = db_bytes(dir, i);
        for salt in &salts {
            assert!(
                !contains(&bytes, salt.as_bytes()),
                "an erased body's salt is on P{i}'s disk"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relying_party_with_personal_data_never_reaches_the_log() {
    let (tmp, net, client) = network();
    let dir = tmp.path();
    let params = net.matching.embedding;
    let nodes: Vec<_> = (0..3).map(|i| start(config(dir, i))).collect();
    wait_ready(&client).await;
    let mut alice = Wallet::create(OffsetDateTime::now_utc());
    let face = person(5, &params);
    let id = client
        .enroll(&template(&face, &params), &alice, "site.example")
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let injected = "Jane Doe, born 1980-01-01\n<script>";
    let token = consent(&mut alice, injected);
    let err = client
        .verify(id, &template(&face, &params), &token)
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, ClientError::Refused { code, .. } if *code == "bad_relying_party"),
        "{err:?}"
    );
    let size = client.health(PartyId::P0).await.expect("health")["next_seq"]
        .as_u64()
        .expect("size");
    for p in PartyId::ALL {
        let e = last_entry(&client, p).await;
        assert!(matches!(e.outcome, Outcome::Refused { .. }));
        assert_eq!(e.relying_party, None, "{p}");
        let all: Vec<u8> = client
            .entries(p, 0, size)
            .await
            .expect("entries")
            .iter()
            .flat_map(Leaf::to_bytes)
            .collect();
        assert!(!contains(&all, b"Jane"), "{p} logged the text");
    }
    for n in nodes {
        stop(n).await;
    }
}

/// A node that missed an erasing deletion erases its own copies of the
/// bodies when it catches up (its root then still matches its peers').
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_an_erasure_erases_when_it_catches_up() {
    let (tmp, net, client) = network();
    let dir = tmp.path();
    let params = net.matching.embedding;
    let mut nodes: Vec<_> = (0..3).map(|i| Some(start(config(dir, i)))).collect();
    wait_ready(&client).await;
    let alice = Wallet::create(OffsetDateTime::now_utc());
    let mut bob = Wallet::create(OffsetDateTime::now_utc());
    let id = client
        .enroll(
            &template(&person(6, &params), &params),
            &alice,
            "site.example",
        )
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let bob_face = person(7, &params);
    let bob_id = client
        .enroll(&template(&bob_face, &params), &bob, "site.example")
        .await
        .expect("enroll bob")
        .enrollment_id
        .expect("id");
    client.cosign().await.expect("cosign");
    let p2_row0 = {
        let store = Store::open(&config(dir, 2).storage_url())
            .await
            .expect("open");
        let rows = store.ops(0, 1).await.expect("ops");
        store.close().await;
        rows[0].entry.clone()
    };
    let done = client.delete_and_erase(id, &alice).await.expect("delete");
    assert_eq!(done.erased, [0]);
    // P2 goes back to before the deletion (its body of entry 0 included),
    // as if it had been down for it.
    stop(nodes[2].take().expect("running")).await;
    roll_back(dir, 2, i64::try_from(done.seq).expect("seq")).await;
    {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&config(dir, 2).storage_url())
            .await
            .expect("connect");
        assert!(matches!(Leaf::from_bytes(&p2_row0), Ok(Leaf::Entry(_))));
        let done = sqlx::query("UPDATE oplog SET entry = $1 WHERE seq = 0")
            .bind(p2_row0)
            .execute(&mut c)
            .await
            .expect("restore");
        assert_eq!(done.rows_affected(), 1);
        c.close().await.expect("close");
    }
    let body = client.entries(PartyId::P0, 0, 1).await.expect("entries");
    assert!(matches!(body[0], Leaf::Erased(_)), "P0 erased it");
    nodes[2] = Some(start(config(dir, 2)));
    wait_ready(&client).await;
    let token = consent(&mut bob, BANK);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let _ = client
            .verify(bob_id, &template(&bob_face, &params), &token)
            .await;
        let h = client.health(PartyId::P2).await.expect("health");
        if h["next_seq"].as_u64() > Some(done.seq) && h["halted"].is_null() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "P2 never caught up: {h}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let leaf = client
        .entries(PartyId::P2, 0, 1)
        .await
        .expect("entries")
        .remove(0);
    assert!(
        matches!(leaf, Leaf::Erased(ref e) if e.erased_by == done.seq),
        "{leaf:?}"
    );
    let audit = client.audit_log(None, true).await.expect("audit");
    assert!(audit.tampered.is_empty(), "{audit:?}");
    for n in nodes.into_iter().flatten() {
        stop(n).await;
    }
}

/// Retention is each node's own: with the coordinator promising a year and
/// the two others three seconds, the coordinator never sweeps, yet the
/// others refuse every use once their retention has run out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_enrollment_is_refused_by_each_node_alone() {
    let (tmp, net, client) = network();
    let dir = tmp.path();
    for i in 1..3 {
        let path = dir.join(format!("node-{i}/policy.toml"));
        let policy = std::fs::read_to_string(&path).expect("policy");
        assert!(policy.contains("days_after_last_use = 365"));
        let policy = policy.replace("days_after_last_use = 365", "seconds_after_last_use = 3");
        std::fs::write(&path, policy).expect("write policy");
    }
    let params = net.matching.embedding;
    let nodes: Vec<_> = (0..3).map(|i| start(config(dir, i))).collect();
    wait_ready(&client).await;
    let mut alice = Wallet::create(OffsetDateTime::now_utc());
    let face = person(8, &params);
    let id = client
        .enroll(&template(&face, &params), &alice, "site.example")
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let token = consent(&mut alice, BANK);
    tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
    let err = client
        .verify(id, &template(&face, &params), &token)
        .await
        .expect_err("past retention");
    assert!(
        matches!(&err, ClientError::Refused { party: PartyId::P1, code, .. } if *code == "retention_expired"),
        "{err:?}"
    );
    for n in nodes {
        stop(n).await;
    }
}

/// Demonstrable consent: each node keeps the subject's signed acceptance of
/// its own policy and of the notice shown, refuses an enrollment that
/// accepted another policy, and forgets the record with the enrollment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_node_keeps_the_signed_consent_to_its_own_policy_until_deletion() {
    let (tmp, net, client) = network();
    let dir = tmp.path();
    let params = net.matching.embedding;
    let nodes: Vec<_> = (0..3).map(|i| start(config(dir, i))).collect();
    wait_ready(&client).await;
    let alice = Wallet::create(OffsetDateTime::now_utc());
    let notice = client.notice().await.expect("notice");
    assert!(
        notice
            .texts
            .iter()
            .all(|t| t.contains("deleted") && t.contains("days"))
    );
    // A notice naming another policy for P1 (say, one it has since
    // changed) is refused by P1, and nothing is enrolled.
    let mut stale = notice.clone();
    stale.digests[1].0[0] ^= 1;
    let err = client
        .enroll_accepting(
            &template(&person(9, &params), &params),
            &alice,
            "site.example",
            &stale,
        )
        .await
        .expect_err("stale policy");
    assert!(
        matches!(&err, ClientError::Refused { party: PartyId::P1, code, .. } if *code == "policy_not_accepted"),
        "{err:?}"
    );
    let id = client
        .enroll_accepting(
            &template(&person(9, &params), &params),
            &alice,
            "site.example",
            &notice,
        )
        .await
        .expect("enroll")
        .enrollment_id
        .expect("id");
    let terms = notice.terms();
    let records = |dir: std::path::PathBuf| async move {
        let mut out = Vec::new();
        for i in 0..3 {
            let store = Store::open(&config(&dir, i).storage_url())
                .await
                .expect("open");
            out.push(store.consent_record(&id).await.expect("record"));
            store.close().await;
        }
        out
    };
    for (i, r) in records(dir.to_owned()).await.into_iter().enumerate() {
        let signed: sanctuary_consent::SignedStatement<sanctuary_consent::EnrollmentStatement> =
            serde_json::from_slice(&r.expect("kept")).expect("a signed statement");
        assert_eq!(signed.subject, alice.subject());
        assert_eq!(signed.statement.accepted, terms, "P{i}");
        let policy = sanctuary_consent::Policy::load(&dir.join(format!("node-{i}/policy.toml")))
            .expect("policy");
        assert_eq!(
            signed.statement.accepted.policy_digests[i].0,
            policy.digest()
        );
        signed
            .verify(
                &sanctuary_consent::NetworkId::new(NET).expect("id"),
                OffsetDateTime::now_utc(),
                Duration::hours(1),
            )
            .expect("the record's signature verifies");
    }
    client.delete(id, &alice).await.expect("delete");
    assert!(
        records(dir.to_owned()).await.iter().all(Option::is_none),
        "records outlive the enrollment"
    );
    for n in nodes {
        stop(n).await;
    }
}
