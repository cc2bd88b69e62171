//! End-to-end behaviour of the log: sequencing, cosigning, rogue nodes,
//! auditors and subject audits.

use std::collections::BTreeMap;
use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sanctuary_log::{
    AuditError, AuditKey, AuditOutcome, CheckpointPolicy, CosignError, Cosigner, Entry, Error,
    ForkKind, FormatError, Leaf, Log, MemoryStore, MemoryTree, NewEntry, NoteSigningKey, Operation,
    Outcome, RequestId, Salt, SignedNote, StoreError, VerifiedCheckpoint, audit_consistency,
    detect_fork, subject_audit, verify_subject_entries,
};
use sanctuary_share::PartyId;

const ORIGIN: &str = "sanctuary.example/log";

fn new_entry(rng: &mut StdRng, key: Option<&AuditKey>, rp: &str) -> NewEntry {
    NewEntry {
        time_ms: 1_700_000_000_000 + rng.random_range(0..1_000_000),
        proposer: PartyId::P0,
        operation: Operation::Verify,
        outcome: Outcome::Performed,
        relying_party: Some(rp.to_owned()),
        purpose: Some("door-access".to_owned()),
        request: RequestId(rng.random()),
        audit_tag: key.map(|k| k.new_tag(rng)),
        share_commitments: None,
        salt: Salt(rng.random()),
        erases: None,
    }
}

struct Network {
    keys: Vec<NoteSigningKey>,
    cosigners: Vec<Cosigner<Arc<MemoryStore>>>,
    policy: CheckpointPolicy,
}

fn node_key(p: PartyId) -> NoteSigningKey {
    NoteSigningKey::from_seed(
        &format!("sanctuary.example/node{}", p.index()),
        &[p.index() as u8 + 10; 32],
    )
    .expect("valid name")
}

fn network() -> Network {
    let keys: Vec<_> = PartyId::ALL.iter().map(|p| node_key(*p)).collect();
    let nodes: BTreeMap<_, _> = PartyId::ALL
        .into_iter()
        .zip(keys.iter().map(|k| k.verifier()))
        .collect();
    let policy = CheckpointPolicy::new(ORIGIN, nodes, 2).expect("valid");
    let cosigners = PartyId::ALL
        .iter()
        .map(|p| Cosigner::new(*p, ORIGIN, node_key(*p), Arc::new(MemoryStore::new())))
        .collect();
    Network {
        keys,
        cosigners,
        policy,
    }
}

/// One cosigning round over `log`'s current head with all three nodes.
async fn cosign_round(
    net: &mut Network,
    log: &mut Log<MemoryStore>,
) -> Result<VerifiedCheckpoint, Error> {
    let cp = log.checkpoint().await?;
    let mut sigs = Vec::new();
    for c in &mut net.cosigners {
        let last = c.last_signed().await?.map_or(0, |l| l.size());
        let proof = log.consistency_proof(last, cp.size()).await?;
        sigs.push(c.cosign(&cp, &proof).await?);
    }
    let note = SignedNote::new(cp.to_text(), sigs)?;
    log.publish(&net.policy, &note).await
}

async fn log_with(rng: &mut StdRng, n: usize) -> (Log<MemoryStore>, Vec<Entry>) {
    let mut log = Log::new(ORIGIN, MemoryStore::new()).expect("valid origin");
    let mut v = Vec::new();
    for i in 0..n {
        v.push(
            log.append(new_entry(rng, None, &format!("rp{i}")))
                .await
                .expect("append"),
        );
    }
    (log, v)
}

#[tokio::test]
async fn sequence_numbers_are_leaf_indices_and_replicas_agree() {
    let mut rng = StdRng::seed_from_u64(1);
    let (leader, entries) = log_with(&mut rng, 37).await;
    let mut replica = Log::new(ORIGIN, MemoryStore::new()).expect("valid");
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e.seq, i as u64);
        replica.append_entry(e).await.expect("in order");
    }
    assert_eq!(
        leader.root().await.expect("root"),
        replica.root().await.expect("root")
    );
    // Out-of-order or replayed entries are refused.
    let err = replica.append_entry(&entries[3]).await.expect_err("replay");
    assert!(matches!(
        err,
        Error::Storage(StoreError::SequenceMismatch {
            expected: 37,
            got: 3
        })
    ));
    let far = new_entry(&mut rng, None, "x").with_seq(40);
    assert!(matches!(
        replica.append_entry(&far).await,
        Err(Error::Storage(StoreError::SequenceMismatch {
            expected: 37,
            got: 40
        }))
    ));
    assert_eq!(replica.size().await.expect("size"), 37);
    let got: Vec<Entry> = leader
        .entries(5..7)
        .await
        .expect("range")
        .iter()
        .map(entry)
        .collect();
    assert_eq!(got, entries[5..7]);
}

#[tokio::test]
async fn store_backed_proofs_equal_in_memory_tree_proofs() {
    let mut rng = StdRng::seed_from_u64(2);
    let (log, entries) = log_with(&mut rng, 70).await;
    let mut t = MemoryTree::new();
    for e in &entries {
        t.push(e.leaf_hash());
    }
    for size in [1u64, 2, 3, 7, 8, 9, 31, 32, 33, 64, 70] {
        assert_eq!(
            log.root_at(size).await.expect("root"),
            t.root_at(size).expect("root")
        );
        for idx in [0, size / 2, size - 1] {
            let p = log.inclusion_proof(idx, size).await.expect("proof");
            assert_eq!(Some(&p), t.inclusion_proof(idx, size).as_ref());
            p.verify(
                &entries[idx as usize].leaf_hash(),
                &t.root_at(size).expect("root"),
            )
            .expect("verifies");
        }
        for old in [0, 1, size / 3, size - 1, size] {
            let c = log.consistency_proof(old, size).await.expect("proof");
            assert_eq!(Some(&c), t.consistency_proof(old, size).as_ref());
            c.verify(
                &t.root_at(old).expect("root"),
                &t.root_at(size).expect("root"),
            )
            .expect("verifies");
        }
    }
    assert!(log.inclusion_proof(70, 70).await.is_err());
    assert!(log.consistency_proof(3, 71).await.is_err());
}

#[tokio::test]
async fn entry_encoding_is_canonical_and_versioned() {
    let key = AuditKey::from_bytes([5; 32]);
    let e = NewEntry {
        time_ms: 1_700_000_000_000,
        proposer: PartyId::P1,
        operation: Operation::Enroll,
        outcome: Outcome::Refused {
            reason: "consent_expired".into(),
        },
        relying_party: Some("aid-org".into()),
        purpose: None,
        request: RequestId([0xab; 16]),
        audit_tag: None,
        share_commitments: None,
        salt: Salt([0xcd; 32]),
        erases: None,
    }
    .with_seq(42);
    let b = e.to_bytes();
    let pinned = concat!(
        r#"{"type":"sanctuary.log.entry","version":2,"seq":42,"time_ms":1700000000000,"proposer":1,"#,
        r#""operation":"enroll","outcome":{"refused":{"reason":"consent_expired"}},"relying_party":"aid-org","#,
        r#""purpose":null,"request":"abababababababababababababababab","audit_tag":null,"#,
        r#""salt":"cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd"}"#
    );
    assert_eq!(String::from_utf8(b.clone()).expect("utf8"), pinned);
    assert_eq!(Entry::from_bytes(&b).expect("decodes"), e);
    let mut tagged = e.clone();
    tagged.audit_tag = Some(key.new_tag(&mut rand::rng()));
    assert_eq!(
        Entry::from_bytes(&tagged.to_bytes()).expect("decodes"),
        tagged
    );
    // Enrollment entries carry the share commitments at the end; the others
    // omit the field, and an explicit null is not canonical.
    let mut committed = e.clone();
    committed.share_commitments = Some(vec!["ab".repeat(32); 3]);
    let cb = committed.to_bytes();
    assert!(
        String::from_utf8(cb.clone())
            .expect("utf8")
            .ends_with(&format!(
                r#","share_commitments":["{0}","{0}","{0}"]}}"#,
                "ab".repeat(32)
            ))
    );
    assert_eq!(Entry::from_bytes(&cb).expect("decodes"), committed);
    assert!(
        Entry::from_bytes(
            pinned
                .replace(r#"cdcd"}"#, r#"cdcd","share_commitments":null}"#)
                .as_bytes()
        )
        .is_err(),
        "explicit null accepted"
    );

    let s = pinned;
    let rejected = [
        ("whitespace", s.replacen(",\"seq\"", ", \"seq\"", 1)),
        ("unknown field", s.replacen("cdcd\"}", "cdcd\",\"x\":1}", 1)),
        (
            "reordered",
            s.replacen(
                "\"seq\":42,\"time_ms\":1700000000000",
                "\"time_ms\":1700000000000,\"seq\":42",
                1,
            ),
        ),
        ("escaped", s.replacen("aid-org", "aid\\u002dorg", 1)),
        ("upper hex", s.replacen("abababab", "ABABABAB", 1)),
        ("party 3", s.replacen("\"proposer\":1", "\"proposer\":3", 1)),
        (
            "wrong type",
            s.replacen("sanctuary.log.entry", "other.entry", 1),
        ),
    ];
    for (what, bad) in rejected {
        assert!(
            Entry::from_bytes(bad.as_bytes()).is_err(),
            "{what} accepted"
        );
    }
    assert!(matches!(
        Entry::from_bytes(s.replacen("\"version\":2", "\"version\":1", 1).as_bytes()),
        Err(FormatError::EntryVersion { found: 1, .. })
    ));
    let v1 = s.replacen("\"version\":2", "\"version\":1", 1);
    assert!(
        serde_json::from_str::<Entry>(&v1).is_err(),
        "plain serde also rejects other versions"
    );
    assert!(matches!(
        Entry::from_bytes(s.replacen(",\"seq\"", ", \"seq\"", 1).as_bytes()),
        Err(FormatError::EntryNotCanonical)
    ));
}

#[tokio::test]
async fn cosigning_rounds_publish_valid_checkpoints() {
    let mut rng = StdRng::seed_from_u64(3);
    let mut net = network();
    let (mut log, _) = log_with(&mut rng, 5).await;
    let first = cosign_round(&mut net, &mut log).await.expect("round 1");
    assert_eq!(first.size(), 5);
    assert_eq!(first.signers().len(), 3);
    for i in 0..9 {
        log.append(new_entry(&mut rng, None, &format!("more{i}")))
            .await
            .expect("append");
    }
    let second = cosign_round(&mut net, &mut log).await.expect("round 2");
    assert_eq!(second.size(), 14);
    let latest = log
        .latest_checkpoint()
        .await
        .expect("read")
        .expect("published");
    assert_eq!(&latest, second.note());
    // Re-signing the same head is fine; the auditor sees consistency.
    cosign_round(&mut net, &mut log)
        .await
        .expect("same head again");
    let proof = log.consistency_proof(5, 14).await.expect("proof");
    assert_eq!(
        audit_consistency(&first, &second, &proof).expect("sizes match"),
        AuditOutcome::Consistent
    );
    assert_eq!(
        audit_consistency(&second, &first, &proof).expect("either order"),
        AuditOutcome::Consistent
    );
    // An older checkpoint cannot replace the published one.
    assert!(matches!(
        log.publish(&net.policy, first.note()).await,
        Err(Error::Usage(sanctuary_log::UsageError::StaleCheckpoint {
            latest: 14,
            size: 5
        }))
    ));
    // A checkpoint that is not this log's tree is not published.
    let (mut other, _) = log_with(&mut rng, 14).await;
    assert!(other.publish(&net.policy, second.note()).await.is_err());
}

/// Rebuilds a log from `entries` re-sequenced, as a rogue node rewriting its
/// history would.
async fn rogue_log(entries: Vec<NewEntry>) -> Log<MemoryStore> {
    let mut log = Log::new(ORIGIN, MemoryStore::new()).expect("valid");
    for e in entries {
        log.append(e).await.expect("append");
    }
    log
}

/// The body of a leaf that was not erased.
fn entry(l: &Leaf) -> Entry {
    l.entry().expect("not erased").clone()
}

fn as_new(e: &Entry) -> NewEntry {
    NewEntry {
        time_ms: e.time_ms,
        proposer: e.proposer,
        operation: e.operation,
        outcome: e.outcome.clone(),
        relying_party: e.relying_party.clone(),
        purpose: e.purpose.clone(),
        request: e.request,
        audit_tag: e.audit_tag,
        share_commitments: e.share_commitments.clone(),
        salt: e.salt,
        erases: e.erases.clone(),
    }
}

#[tokio::test]
async fn rewritten_or_dropped_history_is_refused_by_cosigners_and_flagged_by_auditors() {
    let mut rng = StdRng::seed_from_u64(4);
    let mut net = network();
    let (mut log, entries) = log_with(&mut rng, 10).await;
    let signed = cosign_round(&mut net, &mut log)
        .await
        .expect("honest round");
    let extra: Vec<NewEntry> = (0..5)
        .map(|i| new_entry(&mut rng, None, &format!("x{i}")))
        .collect();

    let mut rewritten: Vec<NewEntry> = entries.iter().map(as_new).collect();
    rewritten[3].relying_party = Some("data-merchant".into());
    rewritten.extend(extra.iter().cloned());
    let mut dropped: Vec<NewEntry> = entries.iter().map(as_new).collect();
    dropped.remove(3);
    dropped.extend(extra.iter().cloned());

    for (what, history) in [("rewritten", rewritten), ("dropped", dropped)] {
        let rogue = rogue_log(history).await;
        let cp = rogue.checkpoint().await.expect("head");
        let proof = rogue.consistency_proof(10, cp.size()).await.expect("proof");
        for c in &mut net.cosigners {
            let err = c.cosign(&cp, &proof).await.expect_err(what);
            assert!(
                matches!(
                    err,
                    Error::Cosign(CosignError::NotAnExtension {
                        last_signed: 10,
                        ..
                    })
                ),
                "{what}: {err}"
            );
            assert_eq!(
                c.last_signed().await.expect("read").expect("set").size(),
                10,
                "state unchanged"
            );
        }
        // If two rogue nodes co-sign it anyway, an auditor holding the honest
        // checkpoint sees that no valid proof links the two.
        let text = cp.to_text();
        let forged = SignedNote::new(
            text.clone(),
            vec![net.keys[1].sign(&text), net.keys[2].sign(&text)],
        )
        .expect("valid");
        let forged = net
            .policy
            .verify(&forged)
            .expect("2 rogue signatures meet the threshold");
        match audit_consistency(&signed, &forged, &proof).expect("sizes match") {
            AuditOutcome::Fork(ev) => {
                assert_eq!(ev.kind, ForkKind::ConsistencyProofFailed);
                assert!(ev.to_string().contains(&signed.note().to_string()));
            }
            other => panic!("{what}: expected a fork, got {other:?}"),
        }
        // The honest log cannot make a proof to the rogue head either: its own
        // proof to size 15 belongs to a different root.
    }

    // Rolling back is refused too.
    let small = log.checkpoint_at(8).await.expect("head");
    let p = log.consistency_proof(8, 8).await.expect("proof");
    assert!(matches!(
        net.cosigners[0].cosign(&small, &p).await,
        Err(Error::Cosign(CosignError::Rollback { .. }))
    ));
    // A proof for the wrong sizes is refused.
    let p = log.consistency_proof(9, 10).await.expect("proof");
    let head = log.checkpoint().await.expect("head");
    assert!(matches!(
        net.cosigners[0].cosign(&head, &p).await,
        Err(Error::Cosign(CosignError::ProofSizes { .. }))
    ));
    // The honest extension is still accepted afterwards.
    for e in extra {
        log.append(e).await.expect("append");
    }
    cosign_round(&mut net, &mut log)
        .await
        .expect("honest extension");
}

#[tokio::test]
async fn cosigner_state_survives_restart() {
    let mut rng = StdRng::seed_from_u64(5);
    let store = Arc::new(MemoryStore::new());
    let mut c = Cosigner::new(PartyId::P1, ORIGIN, node_key(PartyId::P1), store.clone());
    let (log, _) = log_with(&mut rng, 6).await;
    let cp = log.checkpoint().await.expect("head");
    c.cosign(&cp, &log.consistency_proof(0, 6).await.expect("proof"))
        .await
        .expect("first");
    drop(c);
    let mut c = Cosigner::new(PartyId::P1, ORIGIN, node_key(PartyId::P1), store);
    let (other, _) = log_with(&mut rng, 7).await;
    let cp2 = other.checkpoint().await.expect("head");
    let proof = other.consistency_proof(6, 7).await.expect("proof");
    assert!(
        c.cosign(&cp2, &proof).await.is_err(),
        "restarted cosigner forgot its head"
    );
}

#[tokio::test]
async fn equivocation_yields_printable_fork_evidence() {
    let mut rng = StdRng::seed_from_u64(6);
    let net = network();
    let (a, _) = log_with(&mut rng, 4).await;
    let (b, _) = log_with(&mut rng, 4).await;
    let sign = |text: String, who: [usize; 2]| {
        let sigs = who.iter().map(|i| net.keys[*i].sign(&text)).collect();
        net.policy
            .verify(&SignedNote::new(text, sigs).expect("valid"))
            .expect("threshold met")
    };
    let ca = sign(a.checkpoint().await.expect("head").to_text(), [0, 1]);
    let cb = sign(b.checkpoint().await.expect("head").to_text(), [1, 2]);
    let ev = detect_fork(&ca, &cb).expect("fork");
    assert_eq!(ev.kind, ForkKind::SameSizeDifferentRoots);
    let printed = ev.to_string();
    assert!(printed.contains(&ca.note().to_string()) && printed.contains(&cb.note().to_string()));
    assert!(detect_fork(&ca, &ca).is_none());
    let dummy = a.consistency_proof(4, 4).await.expect("proof");
    assert!(matches!(
        audit_consistency(&ca, &cb, &dummy),
        Ok(AuditOutcome::Fork(_))
    ));
}

#[tokio::test]
async fn subject_sees_exactly_their_own_entries() {
    let mut rng = StdRng::seed_from_u64(7);
    let mut net = network();
    let subjects: Vec<AuditKey> = (0..3).map(|_| AuditKey::generate(&mut rng)).collect();
    let mut log = Log::new(ORIGIN, MemoryStore::new()).expect("valid");
    let mut owner: Vec<Option<usize>> = Vec::new();
    for i in 0..90 {
        let who = match rng.random_range(0..4) {
            3 => None,
            s => Some(s),
        };
        log.append(new_entry(
            &mut rng,
            who.map(|s| &subjects[s]),
            &format!("rp{i}"),
        ))
        .await
        .expect("append");
        owner.push(who);
    }
    let cp = cosign_round(&mut net, &mut log).await.expect("round");
    let entries = log.entries(0..cp.size()).await.expect("entries");
    for (s, key) in subjects.iter().enumerate() {
        let mine = subject_audit(key, &entries, &cp).expect("audit");
        let got: Vec<u64> = mine.iter().map(|a| a.entry.seq).collect();
        let want: Vec<u64> = owner
            .iter()
            .enumerate()
            .filter(|(_, o)| **o == Some(s))
            .map(|(i, _)| i as u64)
            .collect();
        assert!(!want.is_empty());
        assert_eq!(got, want, "subject {s}");
        for a in &mine {
            a.proof
                .verify(&a.entry.leaf_hash(), cp.root())
                .expect("verified proof");
        }
        // Light mode: proofs fetched per entry.
        let items = mine
            .iter()
            .map(|a| (a.entry.clone(), a.proof.clone()))
            .collect();
        assert_eq!(
            verify_subject_entries(key, items, &cp)
                .expect("verifies")
                .len(),
            want.len()
        );
    }
    let stranger = AuditKey::generate(&mut rng);
    assert!(
        subject_audit(&stranger, &entries, &cp)
            .expect("audit")
            .is_empty()
    );

    // Someone else's entry handed to a subject is refused.
    let other = owner.iter().position(|o| *o == Some(1)).expect("exists") as u64;
    let p = log.inclusion_proof(other, cp.size()).await.expect("proof");
    let items = vec![(entry(&entries[other as usize]), p)];
    assert!(matches!(
        verify_subject_entries(&subjects[0], items, &cp),
        Err(Error::Audit(AuditError::NotSubjectEntry { .. }))
    ));

    // A server hiding or editing an entry is caught.
    let mut edited = entries.clone();
    let mut e10 = entry(&edited[10]);
    e10.purpose = Some("marketing".into());
    edited[10] = Leaf::Entry(e10);
    assert!(matches!(
        subject_audit(&subjects[0], &edited, &cp),
        Err(Error::Audit(AuditError::RootMismatch))
    ));
    let mut hidden = entries.clone();
    hidden.remove(10);
    assert!(subject_audit(&subjects[0], &hidden, &cp).is_err());
    assert!(matches!(
        subject_audit(&subjects[0], &entries[..50], &cp),
        Err(Error::Audit(AuditError::MissingEntries { .. }))
    ));
}

#[test]
fn tags_are_unlinkable_and_look_uniform() {
    let mut rng = StdRng::seed_from_u64(8);
    let k = AuditKey::generate(&mut rng);
    let other = AuditKey::generate(&mut rng);
    let (t1, t2) = (k.new_tag(&mut rng), k.new_tag(&mut rng));
    assert_ne!(t1.nonce, t2.nonce);
    assert_ne!(t1.tag, t2.tag);
    assert!(k.owns(&t1) && k.owns(&t2));
    assert!(!other.owns(&t1));
    let mut forged = t1;
    forged.tag[0] ^= 1;
    assert!(!k.owns(&forged));
    assert_eq!(format!("{k:?}"), "AuditKey(<redacted>)");

    // Bit frequencies of 4000 tags of one key: each of the 256 bit positions
    // is set ~Binomial(4000, 1/2) times (sd ~31.6); allow 6 sd.
    const N: usize = 4000;
    let mut ones = [0usize; 256];
    for _ in 0..N {
        let t = k.new_tag(&mut rng);
        for (i, c) in ones.iter_mut().enumerate() {
            *c += usize::from(t.tag[i / 8] >> (i % 8) & 1);
        }
    }
    let sd = (N as f64 / 4.0).sqrt();
    for (i, c) in ones.iter().enumerate() {
        let z = (*c as f64 - N as f64 / 2.0).abs() / sd;
        assert!(z < 6.0, "bit {i} set {c} of {N} times");
    }
    // Two tags of one key are unrelated: their Hamming distance averages
    // ~128 bits (a linkable scheme, e.g. a fixed per-subject tag, gives 0).
    let mut total = 0u32;
    for _ in 0..200 {
        let (t, u) = (k.new_tag(&mut rng), k.new_tag(&mut rng));
        total += t
            .tag
            .iter()
            .zip(u.tag.iter())
            .map(|(a, b)| (a ^ b).count_ones())
            .sum::<u32>();
    }
    let mean = f64::from(total) / 200.0;
    assert!(
        (118.0..138.0).contains(&mean),
        "mean Hamming distance {mean}"
    );
}

#[tokio::test]
async fn batch_appends_match_single_appends() {
    let mut rng = StdRng::seed_from_u64(9);
    let (single, entries) = log_with(&mut rng, 77).await;
    let mut batched = Log::new(ORIGIN, MemoryStore::new()).expect("valid");
    let mut replica = Log::new(ORIGIN, MemoryStore::new()).expect("valid");
    let mut at = 0;
    for chunk in [1usize, 2, 5, 8, 13, 16, 32] {
        let news: Vec<NewEntry> = entries[at..at + chunk].iter().map(as_new).collect();
        let got = batched.append_batch(news).await.expect("batch");
        assert_eq!(got, entries[at..at + chunk]);
        replica
            .append_entries(&entries[at..at + chunk])
            .await
            .expect("replica batch");
        at += chunk;
        assert_eq!(
            batched.root().await.expect("root"),
            single.root_at(at as u64).await.expect("root")
        );
    }
    assert_eq!(at, 77);
    assert_eq!(
        replica.root().await.expect("root"),
        single.root().await.expect("root")
    );
    for size in [1u64, 33, 64, 77] {
        for idx in [0, size / 2, size - 1] {
            assert_eq!(
                batched.inclusion_proof(idx, size).await.expect("proof"),
                single.inclusion_proof(idx, size).await.expect("proof")
            );
        }
    }
    // A batch with a gap is refused as a whole.
    let (_, more) = log_with(&mut rng, 80).await;
    let gap = [more[77].clone(), more[79].clone()];
    assert!(replica.append_entries(&gap).await.is_err());
    assert_eq!(replica.size().await.expect("size"), 77);
}
