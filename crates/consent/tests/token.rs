//! Consent token issuance, verification, attenuation, revocation and use counting.

mod common;

use common::*;
use sanctuary_consent::{
    Attenuation, ConsentToken, Error, Purpose, Request, Revocation, Rule, SignedStatement,
    TokenError, Wallet,
};
use time::Duration;

fn verify_req(rp_id: &str) -> Request {
    Request::Verify {
        relying_party: rp(rp_id),
    }
}

fn token_err(r: Result<sanctuary_consent::ConsentChecked, Error>) -> TokenError {
    match r {
        Err(Error::Token(e)) => e,
        other => panic!("expected a token error, got {other:?}"),
    }
}

#[test]
fn valid_token_is_admitted_with_proof() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let checked = f
        .gate
        .admit(&token, &subject, &verify_req("bank.example"))
        .unwrap();
    assert_eq!(checked.subject(), &subject);
    assert_eq!(checked.purpose(), Purpose::Verify);
    assert_eq!(checked.relying_party(), &rp("bank.example"));
    assert_eq!(
        checked.disclosure(),
        sanctuary_consent::Disclosure::VerifyBit
    );
    assert_eq!(checked.use_number(), Some(1));
    assert_eq!(checked.retain_until(), Some(T0 + Duration::days(30)));
    assert_eq!(f.wallet.receipts().len(), 1);
}

#[test]
fn expired_token_is_refused() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    f.clock.advance(Duration::hours(1) + Duration::seconds(1));
    let e = token_err(f.gate.admit(&token, &subject, &verify_req("bank.example")));
    assert_eq!(e, TokenError::Expired);
}

#[test]
fn token_for_another_audience_is_refused() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let e = token_err(
        f.gate
            .admit(&token, &subject, &verify_req("merchant.example")),
    );
    assert!(matches!(e, TokenError::AudienceMismatch { .. }), "{e:?}");
}

#[test]
fn token_for_another_purpose_is_refused() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "site.example", &[Purpose::Verify], None);
    let e = token_err(f.gate.admit(
        &token,
        &subject,
        &Request::Dedupe {
            site: rp("site.example"),
        },
    ));
    assert_eq!(
        e,
        TokenError::PurposeMismatch {
            requested: "dedupe".into()
        }
    );
}

#[test]
fn single_use_token_used_twice_is_refused() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], Some(1));
    f.gate
        .admit(&token, &subject, &verify_req("bank.example"))
        .unwrap();
    let e = token_err(f.gate.admit(&token, &subject, &verify_req("bank.example")));
    assert_eq!(e, TokenError::UsedUp { uses: 1 });
}

#[test]
fn use_count_allows_exactly_max_uses() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], Some(3));
    for n in 1..=3 {
        let c = f
            .gate
            .admit(&token, &subject, &verify_req("bank.example"))
            .unwrap();
        assert_eq!(c.use_number(), Some(n));
    }
    let e = token_err(f.gate.admit(&token, &subject, &verify_req("bank.example")));
    assert_eq!(e, TokenError::UsedUp { uses: 3 });
}

#[test]
fn refused_request_does_not_use_up_token() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], Some(1));
    // Wrong audience: refused, not counted.
    assert!(
        f.gate
            .admit(&token, &subject, &verify_req("other.example"))
            .is_err()
    );
    f.gate
        .admit(&token, &subject, &verify_req("bank.example"))
        .unwrap();
}

#[test]
fn malformed_tokens_are_refused() {
    let f = fixture();
    let subject = f.wallet.subject();
    for bad in ["not a token!!", "AAAA", "EiAK"] {
        let token = ConsentToken::from_base64(bad).unwrap();
        let e = token_err(f.gate.admit(&token, &subject, &verify_req("bank.example")));
        assert!(matches!(e, TokenError::Malformed { .. }), "{bad}: {e:?}");
    }
    assert!(matches!(
        ConsentToken::from_base64(""),
        Err(TokenError::Malformed { .. })
    ));
}

#[test]
fn token_signed_by_another_key_is_forged() {
    let f = fixture();
    let mut mallory = Wallet::create(T0);
    // Mallory issues a token and presents it as the enrolled subject's consent.
    let token = issue(&mut mallory, "bank.example", &[Purpose::Verify], None);
    let e = token_err(
        f.gate
            .admit(&token, &f.wallet.subject(), &verify_req("bank.example")),
    );
    assert_eq!(e, TokenError::Forged);
}

#[test]
fn tampered_token_is_forged_or_malformed() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let mut raw = token.as_base64().as_bytes().to_vec();
    // Flip a character in the middle of the signed payload.
    let mid = raw.len() / 3;
    raw[mid] = if raw[mid] == b'A' { b'B' } else { b'A' };
    let tampered = ConsentToken::from_base64(String::from_utf8(raw).unwrap()).unwrap();
    let e = token_err(
        f.gate
            .admit(&tampered, &subject, &verify_req("bank.example")),
    );
    assert!(
        matches!(e, TokenError::Forged | TokenError::Malformed { .. }),
        "{e:?}"
    );
}

#[test]
fn token_revoked_by_id_is_refused() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let issued = f
        .wallet
        .issue_token(&request("bank.example", &[Purpose::Verify], None), T0)
        .unwrap();
    let rev = SignedStatement::sign(&f.wallet, Revocation::token(network(), issued.id, T0));
    f.gate.apply_revocation(&rev).unwrap();
    let e = token_err(
        f.gate
            .admit(&issued.token, &subject, &verify_req("bank.example")),
    );
    assert_eq!(e, TokenError::Revoked);
}

#[test]
fn revoke_all_before_time_withdraws_older_tokens_only() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let old = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let rev = SignedStatement::sign(
        &f.wallet,
        Revocation::issued_before(network(), T0 + Duration::seconds(1), T0),
    );
    f.gate.apply_revocation(&rev).unwrap();
    let new = f
        .wallet
        .issue_token(
            &request("bank.example", &[Purpose::Verify], None),
            T0 + Duration::seconds(2),
        )
        .unwrap()
        .token;
    f.clock.advance(Duration::seconds(3));
    let e = token_err(f.gate.admit(&old, &subject, &verify_req("bank.example")));
    assert_eq!(e, TokenError::Revoked);
    f.gate
        .admit(&new, &subject, &verify_req("bank.example"))
        .unwrap();
}

#[test]
fn another_subject_cannot_revoke_my_token() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let issued = f
        .wallet
        .issue_token(&request("bank.example", &[Purpose::Verify], None), T0)
        .unwrap();
    let mallory = Wallet::create(T0);
    let rev = SignedStatement::sign(&mallory, Revocation::token(network(), issued.id, T0));
    f.gate.apply_revocation(&rev).unwrap(); // valid statement, but only about mallory's tokens
    f.gate
        .admit(&issued.token, &subject, &verify_req("bank.example"))
        .unwrap();
}

#[test]
fn token_for_another_network_is_refused() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let mut req = request("bank.example", &[Purpose::Verify], None);
    req.network = sanctuary_consent::NetworkId::new("other-net").unwrap();
    let token = f.wallet.issue_token(&req, T0).unwrap().token;
    let e = token_err(f.gate.admit(&token, &subject, &verify_req("bank.example")));
    assert_eq!(e, TokenError::NetworkMismatch);
}

#[test]
fn token_issued_in_the_future_is_not_yet_valid() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let mut req = request("bank.example", &[Purpose::Verify], None);
    req.expires_at = T0 + Duration::days(1);
    let token = f
        .wallet
        .issue_token(&req, T0 + Duration::hours(1))
        .unwrap()
        .token;
    let e = token_err(f.gate.admit(&token, &subject, &verify_req("bank.example")));
    assert_eq!(e, TokenError::NotYetValid);
}

#[test]
fn wallet_refuses_to_issue_identify_or_empty_tokens() {
    let mut w = Wallet::create(T0);
    let e = w
        .issue_token(&request("x.example", &[Purpose::Identify], None), T0)
        .unwrap_err();
    assert!(
        matches!(&e, Error::Policy(v) if v.rule == Rule::NoOpenIdentification),
        "{e:?}"
    );
    assert!(w.issue_token(&request("x.example", &[], None), T0).is_err());
    assert!(
        w.issue_token(&request("x.example", &[Purpose::Verify], Some(0)), T0)
            .is_err()
    );
}

#[test]
fn policy_violation_is_reported_for_purpose_node_does_not_serve() {
    // The token grants reveal... no: grant a purpose the node's policy lists as not
    // served: use a policy without "verify".
    let text = common::POLICY.replace(
        r#"allowed = ["enroll", "verify", "dedupe", "festival_checkin"]"#,
        r#"allowed = ["enroll", "dedupe"]"#,
    );
    let policy = sanctuary_consent::Policy::from_toml(&text).unwrap();
    let mut f = fixture();
    let gate = sanctuary_consent::ConsentGate::new(
        policy,
        f.clock.clone(),
        f.revocations.clone(),
        f.replay.clone(),
    );
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    match gate.admit(&token, &subject, &verify_req("bank.example")) {
        Err(Error::Policy(v)) => assert_eq!(v.rule, Rule::PurposeNotAllowed),
        other => panic!("{other:?}"),
    }
}

// ----- attenuation -----

#[test]
fn attenuation_narrows_purpose() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(
        &mut f.wallet,
        "site.example",
        &[Purpose::Verify, Purpose::Dedupe],
        None,
    );
    let narrowed = token
        .attenuate(&Attenuation {
            purposes: Some(vec![Purpose::Dedupe]),
            expires_at: None,
        })
        .unwrap();
    // The original token still allows verify...
    f.gate
        .admit(&token, &subject, &verify_req("site.example"))
        .unwrap();
    // ...the attenuated one does not.
    let e = token_err(
        f.gate
            .admit(&narrowed, &subject, &verify_req("site.example")),
    );
    assert_eq!(
        e,
        TokenError::PurposeMismatch {
            requested: "verify".into()
        }
    );
    f.gate
        .admit(
            &narrowed,
            &subject,
            &Request::Dedupe {
                site: rp("site.example"),
            },
        )
        .unwrap();
}

#[test]
fn attenuation_narrows_expiry() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let narrowed = token
        .attenuate(&Attenuation {
            purposes: None,
            expires_at: Some(T0 + Duration::minutes(10)),
        })
        .unwrap();
    f.clock.advance(Duration::minutes(11));
    f.gate
        .admit(&token, &subject, &verify_req("bank.example"))
        .unwrap();
    let e = token_err(
        f.gate
            .admit(&narrowed, &subject, &verify_req("bank.example")),
    );
    assert_eq!(e, TokenError::Expired);
}

#[test]
fn attenuation_cannot_widen_expiry() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let widened = token
        .attenuate(&Attenuation {
            purposes: None,
            expires_at: Some(T0 + Duration::days(365)),
        })
        .unwrap();
    f.clock.advance(Duration::hours(2));
    let e = token_err(
        f.gate
            .admit(&widened, &subject, &verify_req("bank.example")),
    );
    assert_eq!(e, TokenError::Expired);
}

#[test]
fn attenuation_cannot_widen_purpose_or_audience() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "site.example", &[Purpose::Verify], None);
    // A restriction list that names a purpose not granted has no effect.
    let listed = token
        .attenuate(&Attenuation {
            purposes: Some(vec![Purpose::Verify, Purpose::Dedupe]),
            expires_at: None,
        })
        .unwrap();
    // A block that asserts new facts (purpose, audience, expiry, token id) has no
    // effect either: the authority block's checks and the node do not trust them.
    let forged_facts = token
        .attenuate_with_datalog(
            r#"purpose("dedupe"); purpose("identify"); audience("other.example");
               expires_at(2099-01-01T00:00:00Z); max_uses(1000);"#,
        )
        .unwrap();
    for t in [&listed, &forged_facts] {
        let e = token_err(f.gate.admit(
            t,
            &subject,
            &Request::Dedupe {
                site: rp("site.example"),
            },
        ));
        assert!(matches!(e, TokenError::PurposeMismatch { .. }), "{e:?}");
        let e = token_err(f.gate.admit(t, &subject, &verify_req("other.example")));
        assert!(matches!(e, TokenError::AudienceMismatch { .. }), "{e:?}");
        f.gate
            .admit(t, &subject, &verify_req("site.example"))
            .unwrap();
    }
    f.clock.advance(Duration::hours(2));
    let e = token_err(
        f.gate
            .admit(&forged_facts, &subject, &verify_req("site.example")),
    );
    assert_eq!(e, TokenError::Expired);
}

#[test]
fn custom_attenuation_check_failure_is_reported() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let t = token
        .attenuate_with_datalog(r#"check if branch("harbour");"#)
        .unwrap();
    let e = token_err(f.gate.admit(&t, &subject, &verify_req("bank.example")));
    assert!(
        matches!(&e, TokenError::AttenuationCheckFailed { rule } if rule.contains("branch")),
        "{e:?}"
    );
}

#[test]
fn token_debug_does_not_print_the_token() {
    let mut f = fixture();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let dbg = format!("{token:?}");
    assert!(!dbg.contains(&token.as_base64()[..16]), "{dbg}");
}

#[test]
fn inspect_shows_claims() {
    let mut f = fixture();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], Some(2));
    let text = sanctuary_consent::token::inspect_unverified(&token).unwrap();
    assert!(text.contains("audience(\"bank.example\")"), "{text}");
    assert!(text.contains("max_uses(2)"), "{text}");
}

#[test]
fn token_serde_and_biscuit_revocation_ids() {
    let mut f = fixture();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let json = serde_json::to_string(&token).unwrap();
    let back: ConsentToken = serde_json::from_str(&json).unwrap();
    assert_eq!(back, token);
    assert_eq!(token.biscuit_revocation_ids().unwrap().len(), 1);
    let att = token.attenuate(&Attenuation::default()).unwrap();
    assert_eq!(att.biscuit_revocation_ids().unwrap().len(), 2);
    assert!(serde_json::from_str::<ConsentToken>("\"\"").is_err());
}

#[test]
fn token_carries_the_subjects_blinded_audit_tag() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let t1 = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let t2 = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let tag1 = f
        .gate
        .admit(&t1, &subject, &verify_req("bank.example"))
        .unwrap()
        .audit_tag()
        .expect("tag in token");
    let tag2 = f
        .gate
        .admit(&t2, &subject, &verify_req("bank.example"))
        .unwrap()
        .audit_tag()
        .expect("tag in token");
    // Only the subject's audit key recognises them, and two tokens' tags differ.
    assert!(f.wallet.audit_key().owns(&tag1));
    assert!(f.wallet.audit_key().owns(&tag2));
    assert_ne!(tag1, tag2);
    let other = Wallet::create(T0);
    assert!(!other.audit_key().owns(&tag1));
}

#[test]
fn claimed_audit_tag_reads_the_authority_block() {
    let mut f = fixture();
    let subject = f.wallet.subject();
    let token = issue(&mut f.wallet, "bank.example", &[Purpose::Verify], None);
    let verified = f
        .gate
        .admit(&token, &subject, &verify_req("bank.example"))
        .unwrap()
        .audit_tag();
    assert!(verified.is_some());
    assert_eq!(token.claimed_audit_tag(), verified);
    // Attenuation blocks cannot change what the authority block claims.
    let narrowed = token
        .attenuate_with_datalog(r#"audit_tag("00:00");"#)
        .unwrap();
    assert_eq!(narrowed.claimed_audit_tag(), verified);
}
