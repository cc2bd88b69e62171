//! A log that can forget: erasing an entry's body at the subject's request
//! keeps every checkpoint, inclusion and consistency proof valid, leaves
//! nothing of the body, and is visible to the subject's audit.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sanctuary_log::{
    AuditKey, CheckpointPolicy, Cosigner, Error, Leaf, Log, MemoryStore, NewEntry, NoteSigningKey,
    Operation, Outcome, RequestId, Salt, SignedNote, UsageError, erased_for_subject, subject_audit,
};
use sanctuary_share::PartyId;

const ORIGIN: &str = "sanctuary.example/log";

fn entry(rng: &mut StdRng, key: &AuditKey, op: Operation, erases: Option<Vec<u64>>) -> NewEntry {
    NewEntry {
        time_ms: 1_700_000_000_000,
        proposer: PartyId::P0,
        operation: op,
        outcome: Outcome::Performed,
        relying_party: Some("shop.example".into()),
        purpose: Some("door-access".into()),
        request: RequestId(rng.random()),
        audit_tag: Some(key.new_tag(rng)),
        share_commitments: None,
        salt: Salt::random(rng),
        erases,
    }
}

async fn cosign(log: &Log<MemoryStore>, cosigners: &mut [Cosigner<MemoryStore>]) -> SignedNote {
    let cp = log.checkpoint().await.expect("checkpoint");
    let mut sigs = Vec::new();
    for c in cosigners.iter_mut() {
        let last = c
            .last_signed()
            .await
            .expect("state")
            .map_or(0, |l| l.size());
        let proof = log.consistency_proof(last, cp.size()).await.expect("proof");
        sigs.push(c.cosign(&cp, &proof).await.expect("signs"));
    }
    SignedNote::new(cp.to_text(), sigs).expect("note")
}

#[tokio::test]
async fn erased_bodies_are_gone_and_every_proof_still_verifies() {
    let mut rng = StdRng::seed_from_u64(11);
    let alice = AuditKey::generate(&mut rng);
    let bob = AuditKey::generate(&mut rng);
    let mut keys = BTreeMap::new();
    let mut cosigners = Vec::new();
    for p in PartyId::ALL {
        let k = NoteSigningKey::generate(&format!("sanctuary.example/node{}", p.index()), &mut rng)
            .expect("key");
        keys.insert(p, k.verifier());
        cosigners.push(Cosigner::new(p, ORIGIN, k, MemoryStore::new()));
    }
    let policy = CheckpointPolicy::new(ORIGIN, keys, 2).expect("policy");
    let mut log = Log::new(ORIGIN, MemoryStore::new()).expect("log");
    // Alice: 0 enroll, 2 verify; Bob: 1 enroll, 3 verify.
    for (k, op) in [
        (&alice, Operation::Enroll),
        (&bob, Operation::Enroll),
        (&alice, Operation::Verify),
        (&bob, Operation::Verify),
    ] {
        log.append(entry(&mut rng, k, op, None))
            .await
            .expect("append");
    }
    let before = cosign(&log, &mut cosigners).await;
    let before = log.publish(&policy, &before).await.expect("published");
    let old_bodies: Vec<Vec<u8>> = log
        .entries(0..4)
        .await
        .expect("entries")
        .iter()
        .map(Leaf::to_bytes)
        .collect();

    // Alice deletes and erases her two entries (the deletion is entry 4).
    log.append(entry(&mut rng, &alice, Operation::Delete, Some(vec![0, 2])))
        .await
        .expect("append");
    let erased = log.erase(&[0, 2], 4).await.expect("erased");
    assert_eq!(erased.len(), 2);
    let after = cosign(&log, &mut cosigners).await;
    let after = log.publish(&policy, &after).await.expect("still publishes");

    let leaves = log.entries(0..5).await.expect("entries");
    for seq in [0usize, 2] {
        let Leaf::Erased(e) = &leaves[seq] else {
            panic!("entry {seq} still has its body");
        };
        assert_eq!(e.erased_by, 4);
        // Nothing of the body or its salt is left in what is stored.
        let stored = String::from_utf8(leaves[seq].to_bytes()).expect("utf8");
        let old: serde_json::Value = serde_json::from_slice(&old_bodies[seq]).expect("json");
        for field in ["salt", "request", "audit_tag"] {
            let v = old[field].to_string();
            assert!(!stored.contains(v.trim_matches('"')), "{field} survived");
        }
        assert!(!stored.contains("shop.example"));
    }
    assert!(matches!(leaves[1], Leaf::Entry(_)) && matches!(leaves[3], Leaf::Entry(_)));

    // Checkpoints, inclusion and consistency proofs still verify, for erased
    // leaves too; the old checkpoint's root is unchanged.
    assert_eq!(log.root_at(4).await.expect("root"), *before.root());
    let proof = log.consistency_proof(4, 5).await.expect("proof");
    proof
        .verify(before.root(), after.root())
        .expect("consistent");
    for l in &leaves {
        let p = log.inclusion_proof(l.seq(), 5).await.expect("proof");
        p.verify(&l.leaf_hash(), after.root()).expect("included");
    }

    // The subject's audit: Bob sees his entries as before; Alice sees her
    // deletion, and that it erased her two entries.
    let bobs = subject_audit(&bob, &leaves, &after).expect("audit");
    assert_eq!(bobs.iter().map(|a| a.entry.seq).collect::<Vec<_>>(), [1, 3]);
    let alices = subject_audit(&alice, &leaves, &after).expect("audit");
    assert_eq!(alices.iter().map(|a| a.entry.seq).collect::<Vec<_>>(), [4]);
    let gone: Vec<u64> = erased_for_subject(&alice, &leaves)
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(gone, [0, 2]);
    assert!(erased_for_subject(&bob, &leaves).is_empty());

    // An erased leaf cannot be "re-erased", and later entries cannot be.
    assert!(matches!(
        log.erase(&[0], 4).await,
        Err(Error::Usage(UsageError::AlreadyErased { seq: 0 }))
    ));
    assert!(matches!(
        log.erase(&[4], 4).await,
        Err(Error::Usage(UsageError::EraseOutOfRange { seq: 4, by: 4 }))
    ));
    // A server swapping an erased leaf's commitment is caught by the audit.
    let mut forged = leaves.clone();
    if let Leaf::Erased(e) = &mut forged[0] {
        e.commitment = sanctuary_log::Hash([7; 32]);
    }
    assert!(subject_audit(&bob, &forged, &after).is_err());
}

#[test]
fn the_commitment_hides_the_body_behind_its_salt() {
    // Two entries equal but for the salt commit differently, so a guess at
    // an erased body cannot be checked without the salt.
    let mut rng = StdRng::seed_from_u64(12);
    let key = AuditKey::generate(&mut rng);
    let mut a = entry(&mut rng, &key, Operation::Verify, None);
    let mut b = a.clone();
    a.salt = Salt([1; 32]);
    b.salt = Salt([2; 32]);
    let (a, b) = (a.with_seq(0), b.with_seq(0));
    assert_ne!(a.commitment(), b.commitment());
    assert_ne!(a.leaf_hash(), b.leaf_hash());
    assert_eq!(a.erased(5).leaf_hash(), a.leaf_hash());
}
