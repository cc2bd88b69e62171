//! Signed-note and checkpoint formats, byte-exact.

use std::collections::BTreeMap;

use sanctuary_log::{
    Checkpoint, CheckpointError, CheckpointFormat, CheckpointPolicy, Error, FormatError, Hash,
    KeyFormat, NoteFormat, NoteSigningKey, NoteVerifierKey, SignedNote, ed25519_key_id,
};
use sanctuary_share::PartyId;

// Reference vector from golang.org/x/mod/sumdb/note (note.go package docs and
// note_test.go): Ed25519 is deterministic, so signing must reproduce it.
const GO_SKEY: &str =
    "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const GO_TEXT: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n";
const GO_NOTE: &str = "If you think cryptography is the answer to your problem,\n\
                       then you don't know what your problem is.\n\
                       \n\
                       \u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

#[test]
fn go_reference_note_is_reproduced_byte_for_byte() {
    let sk = NoteSigningKey::from_skey(GO_SKEY).expect("skey parses");
    assert_eq!(sk.key_id(), 0xc74f20a3);
    assert_eq!(sk.verifier().to_string(), GO_VKEY);
    assert_eq!(sk.to_skey().as_str(), GO_SKEY);
    let note = SignedNote::new(GO_TEXT.to_owned(), vec![sk.sign(GO_TEXT)]).expect("valid note");
    assert_eq!(note.to_string(), GO_NOTE);

    let vk = NoteVerifierKey::parse(GO_VKEY).expect("vkey parses");
    assert_eq!(vk.to_string(), GO_VKEY);
    let parsed = SignedNote::parse(GO_NOTE).expect("note parses");
    assert_eq!(parsed.text(), GO_TEXT);
    assert_eq!(parsed.to_string(), GO_NOTE);
    assert!(vk.claims(&parsed.signatures()[0]));
    vk.verify(parsed.text(), &parsed.signatures()[0])
        .expect("Go signature verifies");
    assert!(vk.verify("other text\n", &parsed.signatures()[0]).is_err());
    assert_eq!(
        ed25519_key_id("PeterNeumann", vk.public_key().as_bytes()),
        0xc74f20a3
    );
}

#[test]
fn mangled_keys_are_rejected() {
    // Wrong key id.
    assert!(matches!(
        NoteVerifierKey::parse(
            "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        ),
        Err(FormatError::Key(KeyFormat::KeyId))
    ));
    // Other name, same key: id no longer matches.
    assert!(
        NoteVerifierKey::parse(
            "PeterNeumanN+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
        )
        .is_err()
    );
    // Unknown algorithm byte.
    assert!(matches!(
        NoteVerifierKey::parse("PeterNeumann+c74f20a3+Apc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"),
        Err(FormatError::Base64 { .. } | FormatError::Key(_))
    ));
    // Truncations.
    for i in 1..GO_VKEY.len() {
        assert!(NoteVerifierKey::parse(&GO_VKEY[..i]).is_err(), "prefix {i}");
    }
    assert!(NoteSigningKey::from_seed("has space", &[1; 32]).is_err());
    assert!(NoteSigningKey::from_seed("has+plus", &[1; 32]).is_err());
}

/// A hand-written checkpoint, checked against the c2sp.org/tlog-checkpoint rules.
const ORIGIN: &str = "sanctuary.example/log";
const HAND_CHECKPOINT: &str =
    "sanctuary.example/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n";

#[test]
fn hand_written_checkpoint_parses_and_round_trips() {
    let cp = Checkpoint::parse(HAND_CHECKPOINT).expect("parses");
    assert_eq!(cp.origin(), ORIGIN);
    assert_eq!(cp.size(), 8);
    // The RFC 6962 8-leaf root, base64 of 5dc9da79...
    assert_eq!(
        *cp.root(),
        Hash::from_hex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328")
            .expect("hex")
    );
    assert_eq!(cp.to_text(), HAND_CHECKPOINT);
    let built = Checkpoint::new(ORIGIN, 8, *cp.root()).expect("valid");
    assert_eq!(built.to_text(), HAND_CHECKPOINT);

    let with_ext = "sanctuary.example/log\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\nTimestamp: 1700000000\n";
    let cp = Checkpoint::parse(with_ext).expect("extension lines allowed");
    assert_eq!(cp.extensions(), ["Timestamp: 1700000000"]);
    assert_eq!(cp.to_text(), with_ext);
}

#[test]
fn malformed_checkpoints_are_rejected() {
    let root = "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=";
    let cases: &[(&str, &str)] = &[
        (
            "no final newline",
            "o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=",
        ),
        ("two lines", "o\n8\n"),
        ("empty origin", &format!("\n8\n{root}\n")),
        ("leading zero", &format!("o\n08\n{root}\n")),
        ("sign", &format!("o\n+8\n{root}\n")),
        ("hex size", &format!("o\n0x8\n{root}\n")),
        ("overflow", &format!("o\n18446744073709551616\n{root}\n")),
        (
            "short root",
            "o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQ==\n",
        ),
        (
            "unpadded root",
            "o\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n",
        ),
        ("empty extension", &format!("o\n8\n{root}\n\n")),
        ("tab", &format!("o\t\n8\n{root}\n")),
    ];
    for (what, text) in cases {
        assert!(Checkpoint::parse(text).is_err(), "{what} accepted");
    }
    assert!(matches!(
        Checkpoint::parse(&format!("o\n08\n{root}\n")),
        Err(FormatError::Checkpoint(CheckpointFormat::Size))
    ));
}

fn keys() -> Vec<NoteSigningKey> {
    PartyId::ALL
        .iter()
        .map(|p| {
            NoteSigningKey::from_seed(
                &format!("sanctuary.example/node{}", p.index()),
                &[p.index() as u8 + 1; 32],
            )
            .expect("valid name")
        })
        .collect()
}

fn policy(keys: &[NoteSigningKey], threshold: usize) -> CheckpointPolicy {
    let nodes: BTreeMap<_, _> = PartyId::ALL
        .into_iter()
        .zip(keys.iter().map(|k| k.verifier()))
        .collect();
    CheckpointPolicy::new(ORIGIN, nodes, threshold).expect("valid policy")
}

#[test]
fn cosigned_note_round_trips_and_meets_threshold() {
    let ks = keys();
    let cp = Checkpoint::parse(HAND_CHECKPOINT).expect("parses");
    let text = cp.to_text();
    let note =
        SignedNote::new(text.clone(), vec![ks[0].sign(&text), ks[2].sign(&text)]).expect("valid");
    let printed = note.to_string();
    // Layout: text, blank line, one line per signature.
    let lines: Vec<&str> = printed.split('\n').collect();
    assert_eq!(lines[3], "");
    assert!(lines[4].starts_with("\u{2014} sanctuary.example/node0 "));
    assert!(lines[5].starts_with("\u{2014} sanctuary.example/node2 "));
    assert_eq!(lines.len(), 7);
    let reparsed = SignedNote::parse(&printed).expect("parses");
    assert_eq!(reparsed, note);
    assert_eq!(reparsed.to_string(), printed);

    let v = policy(&ks, 2).verify_text(&printed).expect("2 of 3");
    assert_eq!(
        v.signers().iter().copied().collect::<Vec<_>>(),
        [PartyId::P0, PartyId::P2]
    );
    assert_eq!(v.checkpoint(), &cp);
    assert!(matches!(
        policy(&ks, 3).verify_text(&printed),
        Err(Error::Checkpoint(CheckpointError::BelowThreshold {
            threshold: 3,
            ..
        }))
    ));
}

#[test]
fn under_signed_duplicate_and_unknown_signers_do_not_count() {
    let ks = keys();
    let text = Checkpoint::parse(HAND_CHECKPOINT)
        .expect("parses")
        .to_text();
    let pol = policy(&ks, 2);

    let one = SignedNote::new(text.clone(), vec![ks[1].sign(&text)]).expect("valid");
    assert!(matches!(
        pol.verify(&one),
        Err(Error::Checkpoint(CheckpointError::BelowThreshold { .. }))
    ));

    // The same node twice counts once.
    let dup =
        SignedNote::new(text.clone(), vec![ks[1].sign(&text), ks[1].sign(&text)]).expect("valid");
    assert!(matches!(
        pol.verify(&dup),
        Err(Error::Checkpoint(CheckpointError::BelowThreshold { .. }))
    ));

    // An outsider's key, even under a node's name, does not count.
    let outsider = NoteSigningKey::from_seed("sanctuary.example/node2", &[99; 32]).expect("valid");
    let stranger = NoteSigningKey::from_seed("witness.example", &[98; 32]).expect("valid");
    let unk = SignedNote::new(
        text.clone(),
        vec![
            ks[1].sign(&text),
            outsider.sign(&text),
            stranger.sign(&text),
        ],
    )
    .expect("valid");
    let err = pol.verify(&unk).expect_err("only one known signer");
    assert!(
        matches!(err, Error::Checkpoint(CheckpointError::BelowThreshold { ref signers, .. }) if signers == &[PartyId::P1])
    );
    // Unknown lines are ignored when the threshold is met by known ones.
    let mut ok = unk.clone();
    ok.push_signature(ks[0].sign(&text)).expect("room");
    assert_eq!(pol.verify(&ok).expect("2 known").signers().len(), 2);
}

#[test]
fn forged_signature_is_rejected() {
    let ks = keys();
    let text = Checkpoint::parse(HAND_CHECKPOINT)
        .expect("parses")
        .to_text();
    let pol = policy(&ks, 2);
    let mut s0 = ks[0].sign(&text);
    s0.signature[10] ^= 1;
    let note = SignedNote::new(text.clone(), vec![s0, ks[1].sign(&text), ks[2].sign(&text)])
        .expect("valid");
    assert!(matches!(
        pol.verify(&note),
        Err(Error::Checkpoint(CheckpointError::BadSignature {
            signer: PartyId::P0,
            ..
        }))
    ));
    // Signatures over another tree head do not transfer.
    let other = Checkpoint::new(ORIGIN, 9, Hash([1; 32]))
        .expect("valid")
        .to_text();
    let moved = SignedNote::new(other, vec![ks[0].sign(&text), ks[1].sign(&text)]).expect("valid");
    assert!(pol.verify(&moved).is_err());
    // Another log's checkpoint is rejected even if well signed.
    let foreign = Checkpoint::new("other.example/log", 8, Hash([1; 32]))
        .expect("valid")
        .to_text();
    let fnote = SignedNote::new(
        foreign.clone(),
        vec![ks[0].sign(&foreign), ks[1].sign(&foreign)],
    )
    .expect("valid");
    assert!(matches!(
        pol.verify(&fnote),
        Err(Error::Checkpoint(CheckpointError::Origin { .. }))
    ));
}

#[test]
fn malformed_notes_are_rejected() {
    let sig_line = GO_NOTE.rsplit_once("\n\n").expect("split").1;
    let cases: Vec<(&str, String)> = vec![
        ("no blank line", format!("{GO_TEXT}{sig_line}")),
        ("no signatures", format!("{GO_TEXT}\n")),
        ("hyphen not em dash", GO_NOTE.replace('\u{2014}', "-")),
        (
            "missing final newline",
            GO_NOTE.trim_end_matches('\n').to_owned(),
        ),
        ("bad base64", GO_NOTE.replace("x08go", "x08g!")),
        ("control char", GO_NOTE.replace("problem,", "problem,\u{7}")),
        (
            "short signature",
            format!("{GO_TEXT}\n\u{2014} PeterNeumann AAAA\n"),
        ),
    ];
    for (what, n) in cases {
        assert!(SignedNote::parse(&n).is_err(), "{what} accepted");
    }
    assert!(matches!(
        SignedNote::parse(&format!("{GO_TEXT}\n")),
        Err(FormatError::Note(
            NoteFormat::SignatureLine | NoteFormat::NoSignatures
        ))
    ));
}

#[test]
fn policy_config_is_validated() {
    let ks = keys();
    let nodes: BTreeMap<_, _> = PartyId::ALL
        .into_iter()
        .zip(ks.iter().map(|k| k.verifier()))
        .collect();
    assert!(CheckpointPolicy::new(ORIGIN, nodes.clone(), 0).is_err());
    assert!(CheckpointPolicy::new(ORIGIN, nodes.clone(), 4).is_err());
    assert!(CheckpointPolicy::new("", nodes.clone(), 2).is_err());
    let mut same = nodes;
    same.insert(PartyId::P2, ks[0].verifier());
    assert!(CheckpointPolicy::new(ORIGIN, same, 2).is_err());
}

#[test]
fn secret_key_debug_is_redacted() {
    let k = NoteSigningKey::from_skey(GO_SKEY).expect("parses");
    let s = format!("{k:?}");
    assert!(s.contains("redacted") && !s.contains("AYEKFALV"), "{s}");
}

#[test]
fn notes_keys_and_checkpoints_serialise_as_their_text() {
    let n = SignedNote::parse(GO_NOTE).expect("parses");
    let j = serde_json::to_string(&n).expect("serialises");
    assert_eq!(
        serde_json::from_str::<String>(&j).expect("a string"),
        GO_NOTE
    );
    assert_eq!(serde_json::from_str::<SignedNote>(&j).expect("parses"), n);
    let vk = NoteVerifierKey::parse(GO_VKEY).expect("parses");
    assert_eq!(
        serde_json::to_string(&vk).expect("ser"),
        format!("\"{GO_VKEY}\"")
    );
    assert_eq!(
        serde_json::from_str::<NoteVerifierKey>(&format!("\"{GO_VKEY}\"")).expect("de"),
        vk
    );
    let cp = Checkpoint::parse(HAND_CHECKPOINT).expect("parses");
    let j = serde_json::to_string(&cp).expect("ser");
    assert_eq!(serde_json::from_str::<Checkpoint>(&j).expect("de"), cp);
    assert!(serde_json::from_str::<SignedNote>("\"not a note\"").is_err());
}
