//! Wallet file: round trip, wrong passphrase, corruption, permissions, redaction.

mod common;

use common::*;
use sanctuary_consent::{KdfParams, Purpose, Wallet, WalletError};

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "sanctuary-consent-{name}-{}-{}",
        std::process::id(),
        sanctuary_consent::TokenId::random()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn wallet_round_trips_through_file() {
    let dir = tmpdir("roundtrip");
    let path = dir.join("wallet.sct");
    let mut w = Wallet::create(T0);
    w.credentials
        .push(serde_json::json!({"kind": "unique_person", "sig": "abc"}));
    w.threads
        .push(serde_json::json!({"text": "met at the Harbour festival, 2026"}));
    issue(&mut w, "bank.example", &[Purpose::Verify], Some(1));
    w.save(&path, "correct horse battery staple", KdfParams::MINIMUM)
        .unwrap();

    let back = Wallet::open(&path, "correct horse battery staple").unwrap();
    assert_eq!(back.subject(), w.subject());
    assert_eq!(*back.audit_key().to_bytes(), *w.audit_key().to_bytes());
    assert_eq!(back.created_at(), w.created_at());
    assert_eq!(back.credentials, w.credentials);
    assert_eq!(back.threads, w.threads);
    assert_eq!(back.receipts(), w.receipts());
    assert_eq!(back.export_public(), w.export_public());

    // Same key: a signature by the reopened wallet verifies as the original subject.
    let stmt = sanctuary_consent::EnrollmentStatement::new(network(), [7; 32], T0);
    let signed = sanctuary_consent::sign_enrollment(&back, &stmt);
    assert_eq!(signed.subject, w.subject());
    signed
        .verify(&network(), T0, time::Duration::minutes(10))
        .unwrap();

    // Saving again replaces atomically and leaves no temp files.
    back.save(&path, "new passphrase", KdfParams::MINIMUM)
        .unwrap();
    assert!(Wallet::open(&path, "new passphrase").is_ok());
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn wrong_passphrase_is_a_specific_error() {
    let dir = tmpdir("wrongpass");
    let path = dir.join("wallet.sct");
    Wallet::create(T0)
        .save(&path, "right", KdfParams::MINIMUM)
        .unwrap();
    let e = Wallet::open(&path, "wrong").unwrap_err();
    assert!(matches!(e, WalletError::WrongPassphrase), "{e:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[cfg(unix)]
#[test]
fn wallet_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tmpdir("mode");
    let path = dir.join("wallet.sct");
    Wallet::create(T0)
        .save(&path, "pw", KdfParams::MINIMUM)
        .unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tampered_header_or_body_is_detected() {
    let w = Wallet::create(T0);
    let bytes = w.to_encrypted_bytes("pw", KdfParams::MINIMUM).unwrap();
    // Body bit flip.
    let mut b = bytes.clone();
    let last = b.len() - 1;
    b[last] ^= 1;
    assert!(matches!(
        Wallet::from_encrypted_bytes(&b, "pw"),
        Err(WalletError::WrongPassphrase)
    ));
    // Salt change (authenticated header): decryption fails.
    let mut b = bytes.clone();
    b[30] ^= 1;
    assert!(matches!(
        Wallet::from_encrypted_bytes(&b, "pw"),
        Err(WalletError::WrongPassphrase)
    ));
    // Lowering the KDF cost below the floor is refused before any work.
    let mut b = bytes.clone();
    b[10..14].copy_from_slice(&8u32.to_be_bytes());
    assert!(matches!(
        Wallet::from_encrypted_bytes(&b, "pw"),
        Err(WalletError::KdfParams { .. })
    ));
    // A huge KDF cost is refused (no memory exhaustion from a crafted file).
    let mut b = bytes.clone();
    b[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(matches!(
        Wallet::from_encrypted_bytes(&b, "pw"),
        Err(WalletError::KdfParams { .. })
    ));
    // Bad magic, unknown version, truncated.
    let mut b = bytes.clone();
    b[0] = b'X';
    assert!(matches!(
        Wallet::from_encrypted_bytes(&b, "pw"),
        Err(WalletError::Corrupt { .. })
    ));
    let mut b = bytes.clone();
    b[8] = 9;
    assert!(matches!(
        Wallet::from_encrypted_bytes(&b, "pw"),
        Err(WalletError::UnsupportedVersion(9))
    ));
    assert!(matches!(
        Wallet::from_encrypted_bytes(&bytes[..40], "pw"),
        Err(WalletError::Corrupt { .. })
    ));
    // Unchanged bytes still open.
    Wallet::from_encrypted_bytes(&bytes, "pw").unwrap();
}

#[test]
fn fresh_salt_and_nonce_on_every_save() {
    let w = Wallet::create(T0);
    let a = w.to_encrypted_bytes("pw", KdfParams::MINIMUM).unwrap();
    let b = w.to_encrypted_bytes("pw", KdfParams::MINIMUM).unwrap();
    assert_ne!(a[22..62], b[22..62]);
    assert_ne!(a, b);
}

#[test]
fn kdf_params_are_range_checked() {
    assert!(KdfParams::new(1024, 1, 1).is_err());
    assert!(KdfParams::new(64 * 1024, 0, 1).is_err());
    assert!(KdfParams::new(64 * 1024, 3, 0).is_err());
    assert!(KdfParams::new(64 * 1024, 3, 1).is_ok());
    assert_eq!(KdfParams::default(), KdfParams::DEFAULT);
}

#[test]
fn secrets_are_not_in_debug_output() {
    let w = Wallet::create(T0);
    let dbg = format!("{w:?}");
    let audit_hex = hex_of(&*w.audit_key().to_bytes());
    assert!(dbg.contains("<redacted>"), "{dbg}");
    assert!(!dbg.contains(&audit_hex), "{dbg}");
    assert_eq!(format!("{:?}", w.audit_key()), "AuditKey(<redacted>)");
    // The encrypted file does not contain the audit key in clear either.
    let bytes = w.to_encrypted_bytes("pw", KdfParams::MINIMUM).unwrap();
    assert!(
        !bytes
            .windows(32)
            .any(|win| win == *w.audit_key().to_bytes())
    );
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn receipts_export_as_json() {
    let mut w = Wallet::create(T0);
    let issued = w
        .issue_token(&request("bank.example", &[Purpose::Verify], Some(1)), T0)
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&w.export_receipts_json()).unwrap();
    let r = &json[0];
    assert_eq!(r["consentReceiptId"], issued.id.to_hex());
    assert_eq!(r["legalBasis"], "consent");
    assert_eq!(r["relyingParty"], "bank.example");
    assert_eq!(r["network"], "sanctuary-test");
    assert_eq!(r["piiPrincipalId"], w.subject().to_hex());
    assert_eq!(r["purposes"][0]["purpose"], "verify");
    assert_eq!(r["purposes"][0]["termination"], "2026-11-25T13:00:00Z");
    assert_eq!(r["consentTimestamp"], "2026-11-25T12:00:00Z");
    assert_eq!(r["maxUses"], 1);
    assert_eq!(r["sensitive"], true);
    // And back.
    let back: sanctuary_consent::ConsentReceipt =
        serde_json::from_str(&issued.receipt.to_json()).unwrap();
    assert_eq!(back, issued.receipt);
}

#[test]
fn export_public_has_no_secrets() {
    let w = Wallet::create(T0);
    let json = serde_json::to_string(&w.export_public()).unwrap();
    assert!(json.contains(&w.subject().to_hex()));
    assert!(!json.contains(&hex_of(&*w.audit_key().to_bytes())));
}

#[test]
fn save_new_refuses_to_overwrite_and_empty_passphrase_is_refused() {
    let dir = tmpdir("savenew");
    let path = dir.join("wallet.sct");
    let w = Wallet::create(T0);
    w.save_new(&path, "pw", KdfParams::MINIMUM).unwrap();
    let e = Wallet::create(T0)
        .save_new(&path, "pw", KdfParams::MINIMUM)
        .unwrap_err();
    assert!(
        matches!(&e, WalletError::Io(io) if io.kind() == std::io::ErrorKind::AlreadyExists),
        "{e:?}"
    );
    assert_eq!(Wallet::open(&path, "pw").unwrap().subject(), w.subject());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
    assert!(matches!(
        w.save(&path, "", KdfParams::MINIMUM),
        Err(WalletError::EmptyPassphrase)
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
