//! Identity Weaving against a whole in-process network: three nodes on
//! loopback, keys from `network init`'s dealer ceremony, a subject enrolled
//! with its wallet key, credentials issued by FROST across two nodes.

mod common;

use common::*;
use ed25519_dalek::{Signature, VerifyingKey};
use sanctuary_client::{Client, ClientError, NetworkFile, WeaveClient};
use sanctuary_consent::Wallet;
use sanctuary_proto::wire::EnrollStatus;
use sanctuary_share::PartyId;
use sanctuary_template::Template;
use sanctuary_weave::{Festival, Issuer};

/// The issuer JWS of an SD-JWT, split into (signing input, signature).
fn jws_parts(sd_jwt: &str) -> (String, Signature) {
    use base64::Engine;
    let jws = sd_jwt.split('~').next().expect("jws");
    let (input, sig) = jws.rsplit_once('.').expect("compact JWS");
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .expect("base64url");
    (
        input.to_owned(),
        Signature::from_slice(&sig).expect("64 bytes"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_issues_personhood_credentials_and_admissions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_path =
        sanctuary_node::init_network(dir, ["127.0.0.1"; 3], "weave-net", Default::default())
            .expect("init");
    // The ceremony wrote each node's key share with mode 0600.
    for i in 0..3 {
        use std::os::unix::fs::PermissionsExt;
        for f in ["frost-key.json", "prf-key.json"] {
            let m = std::fs::metadata(dir.join(format!("node-{i}/{f}"))).expect("key file");
            assert_eq!(m.permissions().mode() & 0o777, 0o600, "{f}");
        }
    }
    let net = NetworkFile::load(&net_path).expect("network file");
    let public = net
        .weave
        .clone()
        .expect("network file publishes weaving keys");
    let params = net.matching.embedding;
    let net_iris = net.matching.iris;
    let client = Client::new(net.clone()).expect("client");
    let weave = WeaveClient::new(net).expect("weave client");
    let nodes: Vec<Running> = (0..3).map(|i| start(config(dir, i))).collect();
    wait_ready(&client).await;

    let now = time::OffsetDateTime::now_utc();
    let alice = Wallet::create(now);
    let r = client
        .enroll(
            &template(&person(1, &params), &params),
            &alice,
            "enrollment-site.example",
        )
        .await
        .expect("enroll");
    assert_eq!(r.status, EnrollStatus::Enrolled);
    // A face alone is not a unique person: every modality is required.
    let e = weave.issue_personhood(&alice, 1, 86_400).await.unwrap_err();
    assert!(e.to_string().contains("lacks iris"), "{e}");
    let eye =
        |seed| Template::Iris(sanctuary_devnet::synth::iris_of(seed, &net_iris).expect("iris"));
    let r = client
        .enroll(&eye(1), &alice, "enrollment-site.example")
        .await
        .expect("enroll iris");
    assert_eq!(r.status, EnrollStatus::Enrolled);

    // Batch issuance: two credentials, each with its own holder key.
    let creds = weave
        .issue_personhood(&alice, 2, 86_400)
        .await
        .expect("issued");
    assert_eq!(creds.len(), 2);
    let group_bytes: [u8; 32] = hex::decode(&public.group_key)
        .expect("hex")
        .try_into()
        .expect("32");
    let group = VerifyingKey::from_bytes(&group_bytes).expect("group key");
    for c in &creds {
        // A plain Ed25519 verifier accepts the network's signature.
        let (input, sig) = jws_parts(&c.sd_jwt);
        group
            .verify_strict(input.as_bytes(), &sig)
            .expect("group signature");
        let now = sanctuary_weave::unix_now();
        let p = sanctuary_weave::present(&c.sd_jwt, &c.holder_key, &[], "bank", "n-1", now)
            .expect("present");
        let v = sanctuary_weave::verify(&p, Issuer::Network(&group), "bank", "n-1", now)
            .expect("verified");
        assert_eq!(v.vct, "unique-person");
        assert_eq!(v.claims["iss"], "weave-net");
    }
    assert_ne!(creds[0].sd_jwt, creds[1].sd_jwt);

    // Someone with no enrollment gets nothing: each node refuses.
    let mallory = Wallet::create(now);
    let e = weave
        .issue_personhood(&mallory, 1, 86_400)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Status { message, .. } if message.contains("no enrollment")),
        "{e}"
    );
    // ... and the network refuses to record (and log) her check-in at all.
    let e = weave.pseudonym(&mallory, "harbour").await.unwrap_err();
    assert!(e.to_string().contains("not_enrolled"), "{e}");

    // A draft with a lifetime beyond the nodes' limit is refused.
    let e = weave
        .issue_personhood(&alice, 1, 365 * 86_400)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("lifetime"), "{e}");

    // Festival: pseudonym stable within the event, admitted once.
    let (adm, pseudo) = weave
        .admission(&alice, "harbour-2026", 3_600)
        .await
        .expect("admission");
    let (adm2, pseudo2) = weave
        .admission(&alice, "harbour-2026", 3_600)
        .await
        .expect("admission");
    let (other_event, _) = weave
        .pseudonym(&alice, "weavers-2026")
        .await
        .expect("pseudonym");
    assert_eq!(pseudo, pseudo2);
    assert_ne!(pseudo, other_event);
    let fest_path = dir.join("harbour.json");
    let mut fest =
        Festival::create(&fest_path, "harbour-2026", "weave-net", &group).expect("festival");
    let now = sanctuary_weave::unix_now();
    let n = Festival::nonce();
    let p = sanctuary_weave::present(&adm.sd_jwt, &adm.holder_key, &[], "harbour-2026", &n, now)
        .expect("present");
    assert_eq!(
        fest.check_in(&p, &n, now).expect("admitted").pseudonym,
        pseudo
    );
    let n = Festival::nonce();
    let p = sanctuary_weave::present(&adm2.sd_jwt, &adm2.holder_key, &[], "harbour-2026", &n, now)
        .expect("present");
    assert!(matches!(
        fest.check_in(&p, &n, now),
        Err(sanctuary_weave::WeaveError::AlreadyCheckedIn { .. })
    ));

    // Each festival pseudonym issuance is in Alice's own audit trail (three
    // requests: two admissions at one event, one pseudonym at another), and
    // Mallory's refused attempt is not hers.
    client.cosign().await.expect("cosign");
    let audit = client
        .audit_subject(PartyId::P1, alice.audit_key())
        .await
        .expect("audit");
    let festival: Vec<_> = audit
        .entries
        .iter()
        .filter(|a| a.entry.operation == sanctuary_log::Operation::FestivalCheckin)
        .map(|a| a.entry.relying_party.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        festival,
        vec!["harbour-2026", "harbour-2026", "weavers-2026"],
        "{audit:?}"
    );

    // One person, two wallets, one modality each (the attack of issue 13):
    // neither wallet is a unique person, and completing either with the
    // other's modality is caught by that modality's deduplication.
    let fresh = || Wallet::create(time::OffsetDateTime::now_utc());
    let (face_only, iris_only) = (fresh(), fresh());
    client
        .enroll(
            &template(&person(2, &params), &params),
            &face_only,
            "enrollment-site.example",
        )
        .await
        .expect("enroll face");
    client
        .enroll(&eye(2), &iris_only, "enrollment-site.example")
        .await
        .expect("enroll iris");
    for (w, lacks) in [(&face_only, "lacks iris"), (&iris_only, "lacks embedding")] {
        let e = weave.issue_personhood(w, 1, 86_400).await.unwrap_err();
        assert!(e.to_string().contains(lacks), "{e}");
    }
    let r = client
        .enroll(&eye(2), &face_only, "enrollment-site.example")
        .await
        .expect("answered");
    assert_eq!(
        r.status,
        EnrollStatus::AlreadyEnrolled,
        "the same eye twice"
    );
    assert!(weave.issue_personhood(&face_only, 1, 86_400).await.is_err());
    // And one key holds one enrollment per modality.
    let e = client
        .enroll(
            &template(&person(3, &params), &params),
            &alice,
            "enrollment-site.example",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ClientError::Refused { code, .. } if *code == "already_enrolled"),
        "{e:?}"
    );

    // With one node down, the other two still issue.
    let mut nodes = nodes;
    let p2 = nodes.pop().expect("P2");
    stop(p2).await;
    let more = weave
        .issue_personhood(&alice, 1, 86_400)
        .await
        .expect("two nodes suffice");
    let (input, sig) = jws_parts(&more[0].sd_jwt);
    group
        .verify_strict(input.as_bytes(), &sig)
        .expect("group signature");
    for n in nodes {
        stop(n).await;
    }
}
