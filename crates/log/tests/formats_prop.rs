//! Property tests of the decoders: round trips and no panics on garbage.

use proptest::prelude::*;
use sanctuary_log::{
    AuditKey, Checkpoint, Entry, Hash, Leaf, NewEntry, NoteSigningKey, Operation, Outcome,
    RequestId, Salt, SignedNote,
};
use sanctuary_share::PartyId;

fn arb_entry() -> impl Strategy<Value = Entry> {
    (
        any::<u64>(),
        any::<u64>(),
        0u8..3,
        prop::sample::select(vec![
            Operation::Dedupe,
            Operation::Delete,
            Operation::Enroll,
            Operation::PolicyChange,
            Operation::Refresh,
            Operation::RevokeConsent,
            Operation::Verify,
        ]),
        prop::option::of("\\PC{0,20}"),
        prop::option::of("[ -~\n\"\\\\]{0,20}"),
        any::<[u8; 16]>(),
        prop::option::of(any::<[u8; 32]>()),
        prop::option::of("[a-z_]{1,12}"),
        any::<[u8; 32]>(),
        prop::option::of(prop::collection::vec(any::<u64>(), 0..4)),
    )
        .prop_map(
            |(seq, time_ms, p, operation, rp, purpose, request, key, refused, salt, erases)| {
                let mut rng = rand::rng();
                NewEntry {
                    time_ms,
                    proposer: PartyId::try_from(p).expect("0..3"),
                    operation,
                    outcome: refused
                        .map_or(Outcome::Performed, |reason| Outcome::Refused { reason }),
                    relying_party: rp,
                    purpose,
                    request: RequestId(request),
                    audit_tag: key.map(|k| AuditKey::from_bytes(k).new_tag(&mut rng)),
                    share_commitments: None,
                    salt: Salt(salt),
                    erases,
                }
                .with_seq(seq)
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn entries_round_trip(e in arb_entry()) {
        let b = e.to_bytes();
        prop_assert_eq!(Entry::from_bytes(&b).expect("canonical"), e);
    }

    #[test]
    fn entry_decoder_never_panics(b in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = Entry::from_bytes(&b);
        let _ = Leaf::from_bytes(&b);
    }

    #[test]
    fn leaves_round_trip_and_erasure_keeps_the_leaf_hash(e in arb_entry(), by in any::<u64>()) {
        let whole = Leaf::Entry(e.clone());
        prop_assert_eq!(Leaf::from_bytes(&whole.to_bytes()).expect("canonical"), whole.clone());
        let erased = Leaf::Erased(e.erased(by));
        prop_assert_eq!(Leaf::from_bytes(&erased.to_bytes()).expect("canonical"), erased.clone());
        prop_assert_eq!(erased.leaf_hash(), whole.leaf_hash());
        prop_assert_eq!(erased.seq(), e.seq);
    }

    #[test]
    fn checkpoints_round_trip(origin in "[!-~]{1,40}", size in any::<u64>(), root in any::<[u8; 32]>()) {
        let cp = Checkpoint::new(&origin, size, Hash(root)).expect("valid");
        let text = cp.to_text();
        let back = Checkpoint::parse(&text).expect("parses");
        prop_assert_eq!(back.to_text(), text);
        prop_assert_eq!(back, cp);
    }

    #[test]
    fn note_and_checkpoint_parsers_never_panic(s in "(\\PC|\n|\u{2014}| ){0,200}") {
        if let Ok(n) = SignedNote::parse(&s) {
            // Whatever parses prints back to the same bytes.
            prop_assert_eq!(n.to_string(), s.clone());
        }
        let _ = Checkpoint::parse(&s);
    }

    #[test]
    fn signed_notes_round_trip(origin in "[!-~]{1,30}", size in any::<u64>(), seeds in prop::collection::vec(any::<[u8; 32]>(), 1..5)) {
        let text = Checkpoint::new(&origin, size, Hash([7; 32])).expect("valid").to_text();
        let sigs = seeds
            .iter()
            .enumerate()
            .map(|(i, s)| NoteSigningKey::from_seed(&format!("k{i}.example"), s).expect("name").sign(&text))
            .collect();
        let note = SignedNote::new(text, sigs).expect("valid");
        let printed = note.to_string();
        let back = SignedNote::parse(&printed).expect("parses");
        prop_assert_eq!(back.to_string(), printed);
        prop_assert_eq!(back, note);
    }
}
