//! Identity Weaving end to end in one process: the dealer ceremony, FROST
//! issuance by two of three key holders, threads, presentations and
//! festival check-in, with the attacks the design must stop.

use std::collections::BTreeMap;

use ed25519_dalek::{Signature, SigningKey, Verifier, VerifyingKey};
use sanctuary_consent::{NetworkId, Wallet};
use sanctuary_weave::request::SignRequest;
use sanctuary_weave::threshold;
use sanctuary_weave::*;
use time::OffsetDateTime;

const NET: &str = "weave-test";

fn now() -> i64 {
    unix_now()
}

/// The holder's coordinator role, with nodes `a` and `b` in-process.
fn threshold_sign(
    keys: &[NodeKeys; 3],
    public: &WeavePublic,
    a: usize,
    b: usize,
    input: &str,
) -> [u8; 64] {
    let (na, ca) = threshold::commit(&keys[a]);
    let (nb, cb) = threshold::commit(&keys[b]);
    let mut commitments = BTreeMap::new();
    commitments.insert(*keys[a].frost.identifier(), ca);
    commitments.insert(*keys[b].frost.identifier(), cb);
    let package = threshold::signing_package(commitments, input);
    let mut shares = BTreeMap::new();
    shares.insert(
        *keys[a].frost.identifier(),
        threshold::sign(&keys[a], &package, &na).expect("share"),
    );
    shares.insert(
        *keys[b].frost.identifier(),
        threshold::sign(&keys[b], &package, &nb).expect("share"),
    );
    threshold::aggregate(&package, &shares, public).expect("aggregate")
}

fn personhood(keys: &[NodeKeys; 3], public: &WeavePublic) -> (String, SigningKey) {
    let holder = fresh_key();
    let d = draft_personhood(NET, &holder.verifying_key(), now(), 86_400).expect("draft");
    let sig = threshold_sign(keys, public, 0, 2, d.signing_input());
    (d.finish(&sig), holder)
}

#[test]
fn group_signature_verifies_with_plain_ed25519() {
    let (keys, public) = dealer_ceremony().expect("ceremony");
    let (cred, _) = personhood(&keys, &public);
    let jws = cred.split('~').next().expect("jws");
    let (input, sig) = jws.rsplit_once('.').expect("dot");
    use base64::Engine;
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .expect("b64");
    let group: [u8; 32] = hex::decode(&public.group_key)
        .expect("hex")
        .try_into()
        .expect("32");
    let vk = VerifyingKey::from_bytes(&group).expect("key");
    let sig = Signature::from_slice(&sig).expect("64 bytes");
    vk.verify(input.as_bytes(), &sig)
        .expect("plain Ed25519 accepts the group signature");
    vk.verify_strict(input.as_bytes(), &sig)
        .expect("strict too");
    // Any two nodes give a valid signature.
    let d = draft_personhood(NET, &fresh_key().verifying_key(), now(), 60).expect("draft");
    for (a, b) in [(0, 1), (1, 2)] {
        let s = threshold_sign(&keys, &public, a, b, d.signing_input());
        vk.verify_strict(d.signing_input().as_bytes(), &Signature::from_bytes(&s))
            .expect("valid");
    }
}

#[test]
fn credential_signed_by_one_node_alone_is_rejected() {
    let (keys, public) = dealer_ceremony().expect("ceremony");
    let group = public.group_key().expect("key");
    let holder = fresh_key();
    let d = draft_personhood(NET, &holder.verifying_key(), now(), 86_400).expect("draft");
    for k in &keys {
        let forged = d
            .finish(&threshold::single_node_forgery(k, d.signing_input().as_bytes()).expect("sig"));
        let p = present(&forged, &holder, &[], "bank", "n1", now()).expect("present");
        let e = verify(&p, Issuer::Network(&group), "bank", "n1", now()).unwrap_err();
        assert!(matches!(e, WeaveError::BadSignature { .. }), "{e}");
    }
    // FROST itself refuses to aggregate a single share.
    let (n0, c0) = threshold::commit(&keys[0]);
    let package = threshold::signing_package(
        BTreeMap::from([(*keys[0].frost.identifier(), c0)]),
        d.signing_input(),
    );
    assert!(threshold::sign(&keys[0], &package, &n0).is_err());
}

fn thread_fixture() -> (SigningKey, String) {
    let holder = fresh_key();
    let voucher = fresh_key();
    let claims = BTreeMap::from([
        ("met_at".to_owned(), "Harbour festival 2026".to_owned()),
        ("member_of".to_owned(), "Weavers' collective".to_owned()),
        ("nickname".to_owned(), "Wren".to_owned()),
    ]);
    let vouch = issue_thread(
        &voucher,
        &holder.verifying_key(),
        ThreadKind::Vouch,
        &claims,
        now(),
    )
    .expect("vouch");
    (holder, vouch)
}

#[test]
fn only_chosen_claims_are_revealed() {
    let (holder, vouch) = thread_fixture();
    let p = present(&vouch, &holder, &["met_at"], "gallery", "n", now()).expect("present");
    assert!(!p.contains("Weavers"));
    let v = verify(&p, Issuer::SelfCertified, "gallery", "n", now()).expect("verifies");
    assert_eq!(v.disclosed, vec!["met_at".to_owned()]);
    assert_eq!(v.claims["met_at"], "Harbour festival 2026");
    assert!(!v.claims.contains_key("member_of") && !v.claims.contains_key("nickname"));
    assert_eq!(v.vct, "vouch");
    // Nothing disclosed at all is also a valid presentation.
    let p = present(&vouch, &holder, &[], "gallery", "n", now()).expect("present");
    assert!(
        verify(&p, Issuer::SelfCertified, "gallery", "n", now())
            .expect("ok")
            .disclosed
            .is_empty()
    );
}

/// A key-binding JWT made by hand (RFC 9901 §4.3) over `covered`.
fn kb_jwt(holder: &SigningKey, covered: &str, aud: &str, nonce: &str) -> String {
    use base64::Engine;
    use ed25519_dalek::Signer;
    use sha2::Digest;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let h = b64.encode(r#"{"alg":"EdDSA","typ":"kb+jwt"}"#);
    let sd_hash = b64.encode(sha2::Sha256::digest(covered.as_bytes()));
    let p = b64.encode(
        serde_json::json!({"iat": now(), "aud": aud, "nonce": nonce, "sd_hash": sd_hash})
            .to_string(),
    );
    let sig = holder.sign(format!("{h}.{p}").as_bytes());
    format!("{h}.{p}.{}", b64.encode(sig.to_bytes()))
}

#[test]
fn tampered_disclosure_is_rejected() {
    let (holder, vouch) = thread_fixture();
    // A disclosure altered by the holder after issuance, with a fresh KB-JWT
    // over the altered form: the digest is not in the signed payload.
    let p = present(&vouch, &holder, &["met_at"], "gallery", "n", now()).expect("present");
    let parts: Vec<&str> = p.split('~').collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut disc: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).expect("b64")).expect("json");
    disc[2] = "Royal gala 2026".into();
    let altered = b64.encode(disc.to_string());
    let covered = format!("{}~{}~", parts[0], altered);
    let p2 = format!("{covered}{}", kb_jwt(&holder, &covered, "gallery", "n"));
    let e = verify(&p2, Issuer::SelfCertified, "gallery", "n", now()).unwrap_err();
    assert!(matches!(e, WeaveError::Tampered(_)), "{e}");
    // The same hand-made KB-JWT over the genuine disclosure is accepted, so
    // the refusal above is the disclosure's doing.
    let genuine = format!("{}~{}~", parts[0], parts[1]);
    let ok = format!("{genuine}{}", kb_jwt(&holder, &genuine, "gallery", "n"));
    verify(&ok, Issuer::SelfCertified, "gallery", "n", now()).expect("genuine accepted");
    // Swapping the disclosure inside a presentation breaks the key binding.
    let swapped = format!("{}~{}~{}", parts[0], altered, parts[2]);
    let e = verify(&swapped, Issuer::SelfCertified, "gallery", "n", now()).unwrap_err();
    assert!(matches!(e, WeaveError::KeyBinding(_)), "{e}");
    // Dropping the KB-JWT is refused.
    let bare = format!("{}~{}~", parts[0], parts[1]);
    assert!(matches!(
        verify(&bare, Issuer::SelfCertified, "gallery", "n", now()),
        Err(WeaveError::KeyBinding(_))
    ));
}

#[test]
fn replay_to_another_verifier_or_nonce_fails() {
    let (keys, public) = dealer_ceremony().expect("ceremony");
    let group = public.group_key().expect("key");
    let (cred, holder) = personhood(&keys, &public);
    let p = present(&cred, &holder, &[], "bank.example", "nonce-1", now()).expect("present");
    let v = verify(
        &p,
        Issuer::Network(&group),
        "bank.example",
        "nonce-1",
        now(),
    )
    .expect("accepted");
    assert_eq!(v.vct, "unique-person");
    assert!(matches!(
        verify(
            &p,
            Issuer::Network(&group),
            "shop.example",
            "nonce-1",
            now()
        ),
        Err(WeaveError::KeyBinding(_))
    ));
    assert!(matches!(
        verify(
            &p,
            Issuer::Network(&group),
            "bank.example",
            "nonce-2",
            now()
        ),
        Err(WeaveError::KeyBinding(_))
    ));
    assert!(matches!(
        verify(
            &p,
            Issuer::Network(&group),
            "bank.example",
            "nonce-1",
            now() + 3600
        ),
        Err(WeaveError::KeyBinding(_))
    ));
    // Another network's key does not accept it.
    let (_, other) = dealer_ceremony().expect("ceremony");
    assert!(matches!(
        verify(
            &p,
            Issuer::Network(&other.group_key().expect("k")),
            "bank.example",
            "nonce-1",
            now()
        ),
        Err(WeaveError::BadSignature { .. })
    ));
    // Someone holding the credential but not its binding key cannot present it.
    let thief = fresh_key();
    let p = present(&cred, &thief, &[], "bank.example", "nonce-1", now())
        .expect("signs with the wrong key");
    assert!(matches!(
        verify(
            &p,
            Issuer::Network(&group),
            "bank.example",
            "nonce-1",
            now()
        ),
        Err(WeaveError::BadSignature { .. })
    ));
}

#[test]
fn batch_credentials_share_no_identifier() {
    let (keys, public) = dealer_ceremony().expect("ceremony");
    let (a, _) = personhood(&keys, &public);
    let (b, _) = personhood(&keys, &public);
    let claims = |c: &str| -> serde_json::Value {
        use base64::Engine;
        let p = c.split('.').nth(1).expect("payload");
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .expect("b64"),
        )
        .expect("json")
    };
    assert_ne!(claims(&a)["cnf"], claims(&b)["cnf"]);
    assert_ne!(a.split('.').nth(2), b.split('.').nth(2));
}

fn wallet_request(
    wallet: &Wallet,
    keys: &[NodeKeys; 3],
    public: &WeavePublic,
    input: &str,
    evaluations: Vec<sanctuary_weave::prf::Evaluation>,
) -> SignRequest {
    let (_, c0) = threshold::commit(&keys[0]);
    let (_, c1) = threshold::commit(&keys[1]);
    let _ = public;
    SignRequest {
        session: "s".into(),
        signing_package: threshold::signing_package(
            BTreeMap::from([
                (*keys[0].frost.identifier(), c0),
                (*keys[1].frost.identifier(), c1),
            ]),
            input,
        ),
        authorization: authorize(
            wallet,
            &NetworkId::new(NET).expect("id"),
            "sign",
            &sign_target(input),
            OffsetDateTime::now_utc(),
        ),
        evaluations,
    }
}

#[test]
fn nodes_sign_only_what_they_can_check() {
    let (keys, public) = dealer_ceremony().expect("ceremony");
    let net = NetworkId::new(NET).expect("id");
    let t = OffsetDateTime::now_utc();
    let wallet = Wallet::create(t);
    let holder = fresh_key().verifying_key();

    let good = draft_personhood(NET, &holder, now(), 86_400).expect("draft");
    let req = wallet_request(&wallet, &keys, &public, good.signing_input(), vec![]);
    let (subject, kind) = check_sign_request(&req, &net, &public, t).expect("accepted");
    assert_eq!(subject.0, wallet.subject().to_hex());
    assert_eq!(kind, DraftKind::Personhood);

    // Authorization for another signing input is refused.
    let other = draft_personhood(NET, &holder, now(), 60).expect("draft");
    let mut r = wallet_request(&wallet, &keys, &public, good.signing_input(), vec![]);
    r.signing_package =
        wallet_request(&wallet, &keys, &public, other.signing_input(), vec![]).signing_package;
    assert!(matches!(
        check_sign_request(&r, &net, &public, t),
        Err(WeaveError::PayloadRefused(_))
    ));

    // Drafts a node cannot vouch for.
    for bad in [
        draft_personhood("other-net", &holder, now(), 86_400),
        draft_personhood(NET, &holder, now(), 365 * 86_400),
        draft_personhood(NET, &holder, now() - 86_400, 60),
    ] {
        let bad = bad.expect("draft");
        let r = wallet_request(&wallet, &keys, &public, bad.signing_input(), vec![]);
        assert!(matches!(
            check_sign_request(&r, &net, &public, t),
            Err(WeaveError::PayloadRefused(_))
        ));
    }
    // Extra claims (e.g. an identifier smuggled in) are refused.
    let thread = issue_thread(
        &fresh_key(),
        &holder,
        ThreadKind::Vouch,
        &BTreeMap::from([("name".to_owned(), "x".to_owned())]),
        now(),
    )
    .expect("t");
    let input = thread
        .split('~')
        .next()
        .expect("jws")
        .rsplit_once('.')
        .expect("dot")
        .0
        .to_owned();
    assert!(check_draft(&input, NET, now()).is_err());

    // Admission: the pseudonym must be this subject's at this event.
    let subject = wallet.subject().to_hex();
    let evals = vec![
        keys[0].prf.evaluate("harbour", &subject),
        keys[2].prf.evaluate("harbour", &subject),
    ];
    let right = public
        .prf
        .pseudonym("harbour", &subject, &evals)
        .expect("pseudonym");
    let adm = draft_admission(NET, "harbour", &right, &holder, now(), 3600).expect("draft");
    let r = wallet_request(&wallet, &keys, &public, adm.signing_input(), evals.clone());
    assert!(matches!(
        check_sign_request(&r, &net, &public, t),
        Ok((_, DraftKind::Admission { .. }))
    ));
    let someone_else = Wallet::create(t);
    let r = wallet_request(
        &someone_else,
        &keys,
        &public,
        adm.signing_input(),
        evals.clone(),
    );
    assert!(
        check_sign_request(&r, &net, &public, t).is_err(),
        "another subject cannot reuse the pseudonym"
    );
    let wrong =
        draft_admission(NET, "harbour", &"ab".repeat(32), &holder, now(), 3600).expect("draft");
    let r = wallet_request(&wallet, &keys, &public, wrong.signing_input(), evals);
    assert!(matches!(
        check_sign_request(&r, &net, &public, t),
        Err(WeaveError::PayloadRefused(_))
    ));
}

fn admission(
    keys: &[NodeKeys; 3],
    public: &WeavePublic,
    subject: &str,
    event: &str,
    pair: (usize, usize),
) -> (String, String, SigningKey) {
    let evals = vec![
        keys[pair.0].prf.evaluate(event, subject),
        keys[pair.1].prf.evaluate(event, subject),
    ];
    let pseudonym = public
        .prf
        .pseudonym(event, subject, &evals)
        .expect("pseudonym");
    let holder = fresh_key();
    let d = draft_admission(NET, event, &pseudonym, &holder.verifying_key(), now(), 3600)
        .expect("draft");
    let sig = threshold_sign(keys, public, pair.0, pair.1, d.signing_input());
    (d.finish(&sig), pseudonym, holder)
}

#[test]
fn festival_admits_once_and_pseudonyms_are_per_event() {
    let (keys, public) = dealer_ceremony().expect("ceremony");
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("harbour.json");
    let group = public.group_key().expect("key");
    let mut fest = Festival::create(&path, "harbour-2026", NET, &group).expect("create");

    let (adm, p1, holder) = admission(&keys, &public, "alice", "harbour-2026", (0, 1));
    let (adm_again, p1_again, holder_again) =
        admission(&keys, &public, "alice", "harbour-2026", (1, 2));
    let (_, p_other_event, _) = admission(&keys, &public, "alice", "weavers-2026", (0, 2));
    let (adm_bob, p_bob, holder_bob) = admission(&keys, &public, "bob", "harbour-2026", (0, 1));
    assert_eq!(
        p1, p1_again,
        "stable within one event, whichever nodes evaluate"
    );
    assert_ne!(p1, p_other_event, "unrelated across events");
    assert_ne!(p1, p_bob);

    let n = Festival::nonce();
    let pres = present(&adm, &holder, &[], "harbour-2026", &n, now()).expect("present");
    assert_eq!(
        fest.check_in(&pres, &n, now()).expect("admitted").pseudonym,
        p1
    );
    // A second admission of the same person (fresh key, fresh nonce) is refused.
    let n2 = Festival::nonce();
    let pres2 =
        present(&adm_again, &holder_again, &[], "harbour-2026", &n2, now()).expect("present");
    assert!(matches!(
        fest.check_in(&pres2, &n2, now()),
        Err(WeaveError::AlreadyCheckedIn { .. })
    ));
    // The refusal survives a restart of the organiser (file-backed).
    let mut reopened = Festival::open(&path).expect("open");
    assert!(matches!(
        reopened.check_in(&pres2, &n2, now()),
        Err(WeaveError::AlreadyCheckedIn { .. })
    ));
    let n3 = Festival::nonce();
    let pres_bob =
        present(&adm_bob, &holder_bob, &[], "harbour-2026", &n3, now()).expect("present");
    assert_eq!(
        reopened
            .check_in(&pres_bob, &n3, now())
            .expect("bob admitted")
            .pseudonym,
        p_bob
    );
    assert_eq!(reopened.checked_in(), 2);
    // An admission for another event is refused at this gate.
    let (adm_w, _, holder_w) = admission(&keys, &public, "carol", "weavers-2026", (0, 1));
    let n4 = Festival::nonce();
    let p = present(&adm_w, &holder_w, &[], "harbour-2026", &n4, now()).expect("present");
    assert!(reopened.check_in(&p, &n4, now()).is_err());
}

#[test]
fn key_files_round_trip_and_hide_secrets() {
    let (keys, public) = dealer_ceremony().expect("ceremony");
    for k in &keys {
        let back =
            NodeKeys::from_json(&k.frost_json().expect("json"), &k.prf.to_json()).expect("parse");
        assert_eq!(back.index(), k.index());
        assert!(!format!("{back:?}").contains("signing_share"));
    }
    assert!(
        NodeKeys::from_json(&keys[0].frost_json().expect("json"), &keys[1].prf.to_json()).is_err()
    );
    let text = serde_json::to_string(&public).expect("json");
    let back: WeavePublic = serde_json::from_str(&text).expect("parse");
    assert_eq!(back, public);
    back.frost_public().expect("package");
}
