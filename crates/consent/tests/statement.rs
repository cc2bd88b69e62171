//! Signed statements: enrollment binding, deletion, revocation.

mod common;

use common::*;
use sanctuary_consent::{
    AcceptedTerms, DeletionRequest, Digest32, Disclosure, EnrollmentStatement, Error, Purpose,
    Revocation, SignedStatement, StatementError, Wallet, sign_enrollment,
};
use time::Duration;

#[test]
fn enrollment_statement_binds_to_subject_key() {
    let f = fixture();
    let stmt = EnrollmentStatement::new(network(), [42; 32], T0);
    let signed = sign_enrollment(&f.wallet, &stmt);
    // Wire round trip.
    let wire = signed.to_json();
    let back = SignedStatement::<EnrollmentStatement>::from_json(&wire).unwrap();
    let (verified, checked) = f.gate.admit_enrollment(&back, &rp("site.example")).unwrap();
    assert_eq!(verified.subject(), &f.wallet.subject());
    assert_eq!(verified.statement().template_commitment, [42; 32]);
    assert_eq!(checked.purpose(), Purpose::Enroll);
    assert_eq!(checked.disclosure(), Disclosure::Nothing);
    assert_eq!(checked.retain_until(), Some(T0 + Duration::days(30)));
}

#[test]
fn tampered_enrollment_statement_is_forged() {
    let f = fixture();
    let stmt = EnrollmentStatement::new(network(), [42; 32], T0);
    let mut signed = sign_enrollment(&f.wallet, &stmt);
    signed.statement.template_commitment[0] ^= 1;
    assert!(matches!(
        signed.verify(&network(), T0, Duration::minutes(10)),
        Err(StatementError::Forged)
    ));
    // Claiming another subject's key.
    let mut signed = sign_enrollment(&f.wallet, &stmt);
    signed.subject = Wallet::create(T0).subject();
    assert!(matches!(
        f.gate.admit_enrollment(&signed, &rp("site.example")),
        Err(Error::Statement(StatementError::Forged))
    ));
}

#[test]
fn statement_network_and_freshness_are_checked() {
    let f = fixture();
    let other = sanctuary_consent::NetworkId::new("other-net").unwrap();
    let signed = sign_enrollment(&f.wallet, &EnrollmentStatement::new(other, [1; 32], T0));
    assert!(matches!(
        signed.verify(&network(), T0, Duration::minutes(10)),
        Err(StatementError::NetworkMismatch)
    ));
    let signed = sign_enrollment(
        &f.wallet,
        &EnrollmentStatement::new(network(), [1; 32], T0 - Duration::hours(1)),
    );
    assert!(matches!(
        signed.verify(&network(), T0, Duration::minutes(10)),
        Err(StatementError::Stale)
    ));
    let signed = sign_enrollment(
        &f.wallet,
        &EnrollmentStatement::new(network(), [1; 32], T0 + Duration::hours(1)),
    );
    assert!(matches!(
        signed.verify(&network(), T0, Duration::minutes(10)),
        Err(StatementError::Stale)
    ));
}

#[test]
fn malformed_statement_json_is_refused() {
    for bad in [
        "{}",
        "not json",
        r#"{"statement":{"network":"sanctuary-test","template_commitment":"zz","timestamp":"2026-11-25T12:00:00Z","nonce":"00"},"subject":"00","signature":"00"}"#,
    ] {
        assert!(matches!(
            SignedStatement::<EnrollmentStatement>::from_json(bad),
            Err(StatementError::Malformed { .. })
        ));
    }
}

#[test]
fn statement_types_are_domain_separated() {
    // The same fields signed as a deletion do not verify as an enrollment.
    let f = fixture();
    let del = SignedStatement::sign(
        &f.wallet,
        DeletionRequest::new(network(), Some([9; 32]), T0),
    );
    let enr = SignedStatement {
        statement: EnrollmentStatement {
            network: network(),
            template_commitment: [9; 32],
            timestamp: del.statement.timestamp,
            nonce: del.statement.nonce,
            accepted: Default::default(),
        },
        subject: del.subject,
        signature: del.signature,
    };
    assert!(matches!(
        enr.verify(&network(), T0, Duration::minutes(10)),
        Err(StatementError::Forged)
    ));
}

#[test]
fn deletion_by_the_subject_is_admitted() {
    let f = fixture();
    let req = SignedStatement::sign(&f.wallet, DeletionRequest::new(network(), None, T0));
    let (v, checked) = f.gate.admit_deletion(&req, &f.wallet.subject()).unwrap();
    assert_eq!(v.statement().template_commitment, None);
    assert_eq!(checked.purpose(), Purpose::Delete);
    assert_eq!(checked.retain_until(), None);
}

#[test]
fn deletion_by_someone_else_is_refused() {
    let f = fixture();
    let mallory = Wallet::create(T0);
    let req = SignedStatement::sign(&mallory, DeletionRequest::new(network(), None, T0));
    assert!(matches!(
        f.gate.admit_deletion(&req, &f.wallet.subject()),
        Err(Error::Statement(StatementError::WrongSubject))
    ));
}

#[test]
fn revocation_statement_round_trips_as_json() {
    let f = fixture();
    let id = sanctuary_consent::TokenId::random();
    let rev = SignedStatement::sign(&f.wallet, Revocation::token(network(), id, T0));
    let back = SignedStatement::<Revocation>::from_json(&rev.to_json()).unwrap();
    assert_eq!(back.signed_bytes(), rev.signed_bytes());
    let v = f.gate.apply_revocation(&back).unwrap();
    assert_eq!(
        v.statement().scope,
        sanctuary_consent::RevocationScope::Token(id)
    );
    let rev = SignedStatement::sign(&f.wallet, Revocation::issued_before(network(), T0, T0));
    let back = SignedStatement::<Revocation>::from_json(&rev.to_json()).unwrap();
    f.gate.apply_revocation(&back).unwrap();
}

#[test]
fn replayed_enrollment_or_deletion_is_refused() {
    let f = fixture();
    let signed = sign_enrollment(&f.wallet, &EnrollmentStatement::new(network(), [3; 32], T0));
    f.gate
        .admit_enrollment(&signed, &rp("site.example"))
        .unwrap();
    assert!(matches!(
        f.gate.admit_enrollment(&signed, &rp("site.example")),
        Err(Error::Statement(StatementError::Replayed))
    ));
    let del = SignedStatement::sign(&f.wallet, DeletionRequest::new(network(), None, T0));
    f.gate.admit_deletion(&del, &f.wallet.subject()).unwrap();
    assert!(matches!(
        f.gate.admit_deletion(&del, &f.wallet.subject()),
        Err(Error::Statement(StatementError::Replayed))
    ));
}

/// Pins the canonical signed bytes: changing them breaks every signature in the
/// field, so it must be a deliberate, versioned change.
#[test]
fn canonical_encoding_is_pinned() {
    // RFC 8032 test vector 1 public key.
    let subject: sanctuary_consent::SubjectPublicKey =
        "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
            .parse()
            .unwrap();
    let s = SignedStatement {
        statement: EnrollmentStatement {
            network: network(),
            template_commitment: [0xab; 32],
            timestamp: T0,
            nonce: [0x01; 16],
            accepted: AcceptedTerms {
                policy_digests: vec![Digest32([0xc1; 32]), Digest32([0xc2; 32])],
                notice_digest: Digest32([0xd0; 32]),
            },
        },
        subject,
        signature: [0; 64],
    };
    let mut expected = b"sanctuary/signed-statement/v1\0".to_vec();
    let mut lp = |b: &[u8]| {
        expected.extend_from_slice(&(b.len() as u32).to_be_bytes());
        expected.extend_from_slice(b);
    };
    lp(b"sanctuary/consent/enrollment/v2");
    lp(&subject.to_bytes());
    lp(b"sanctuary-test");
    lp(&[0xab; 32]);
    lp(&T0.unix_timestamp().to_be_bytes());
    lp(&[0x01; 16]);
    lp(&2u32.to_be_bytes());
    lp(&[0xc1; 32]);
    lp(&[0xc2; 32]);
    lp(&[0xd0; 32]);
    assert_eq!(s.signed_bytes(), expected);
    assert_eq!(
        s.to_json(),
        format!(
            r#"{{"statement":{{"network":"sanctuary-test","template_commitment":"{}","timestamp":"2026-11-25T12:00:00Z","nonce":"01010101010101010101010101010101","accepted":{{"policy_digests":["{c1}","{c2}"],"notice_digest":"{d0}"}}}},"subject":"d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a","signature":"{}"}}"#,
            "ab".repeat(32),
            "00".repeat(64),
            c1 = "c1".repeat(32),
            c2 = "c2".repeat(32),
            d0 = "d0".repeat(32),
        )
    );
}
