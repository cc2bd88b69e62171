//! The right to erasure in the public log: a deletion may carry the
//! subject's request to erase the bodies of their earlier entries. Every
//! node checks, alone, that each listed entry carries a tag of the revealed
//! audit key (so nobody erases someone else's record), and the deletion's
//! transaction replaces each body by its erased leaf, whose hash is the
//! same: checkpoints and proofs keep verifying.

use sanctuary_log::{Leaf, Log, LogStore};
use sanctuary_proto::RefusalCode;
use sanctuary_proto::wire::{Erasure, MAX_ERASE, Refusal};
use sanctuary_store::ErasedRow;

use crate::NodeError;
use crate::consent::refusal;

/// Whether `erase`, in the deletion at `seq`, names only the subject's own
/// entries, still with their bodies, ascending and without repeats.
pub(crate) async fn check<S: LogStore>(
    log: &Log<S>,
    erase: &Erasure,
    seq: u64,
) -> Result<(), Refusal> {
    let bad = |m: String| refusal(RefusalCode::EraseNotOwned, m);
    if erase.seqs.is_empty() || erase.seqs.len() > MAX_ERASE {
        return Err(bad(format!(
            "an erasure names 1 to {MAX_ERASE} entries, not {}",
            erase.seqs.len()
        )));
    }
    if erase.seqs.windows(2).any(|w| w[0] >= w[1]) {
        return Err(bad(
            "the entries to erase must be ascending, without repeats".into(),
        ));
    }
    let last = erase.seqs[erase.seqs.len() - 1];
    if last >= seq {
        return Err(bad(format!("entry {last} is not before this deletion")));
    }
    let key = erase.audit_key.key();
    for &s in &erase.seqs {
        let leaf = log
            .entries(s..s + 1)
            .await
            .map_err(|e| bad(format!("entry {s}: {e}")))?;
        match leaf.first() {
            Some(Leaf::Entry(e)) if e.audit_tag.as_ref().is_some_and(|t| key.owns(t)) => {}
            Some(Leaf::Erased(_)) => return Err(bad(format!("entry {s} is already erased"))),
            _ => return Err(bad(format!("entry {s} is not the subject's"))),
        }
    }
    Ok(())
}

/// The erased rows replacing entries `seqs` in the deletion at `by`
/// (checked by [`check`] in the same op).
pub(crate) async fn rows<S: LogStore>(
    log: &Log<S>,
    seqs: &[u64],
    by: u64,
) -> Result<Vec<ErasedRow>, NodeError> {
    Ok(log
        .erasures(seqs, by)
        .await?
        .into_iter()
        .map(|e| ErasedRow {
            seq: e.seq,
            entry: Leaf::Erased(e).to_bytes(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_log::{AuditKey, MemoryStore, NewEntry, Operation, Outcome, RequestId, Salt};
    use sanctuary_proto::wire::RevealedAuditKey;
    use sanctuary_share::PartyId;

    async fn log_of(owners: &[&AuditKey]) -> Log<MemoryStore> {
        let mut log = Log::new("t.example/log", MemoryStore::new()).expect("log");
        let mut rng = rand::rng();
        for k in owners {
            log.append(NewEntry {
                time_ms: 1,
                proposer: PartyId::P0,
                operation: Operation::Verify,
                outcome: Outcome::Performed,
                relying_party: None,
                purpose: None,
                request: RequestId([1; 16]),
                audit_tag: Some(k.new_tag(&mut rng)),
                share_commitments: None,
                salt: Salt::random(&mut rng),
                erases: None,
            })
            .await
            .expect("append");
        }
        log
    }

    fn erasure(key: &AuditKey, seqs: &[u64]) -> Erasure {
        Erasure {
            audit_key: RevealedAuditKey::reveal(key),
            seqs: seqs.to_vec(),
        }
    }

    #[tokio::test]
    async fn only_the_subjects_own_earlier_entries_can_be_erased() {
        let mut rng = rand::rng();
        let (alice, bob) = (AuditKey::generate(&mut rng), AuditKey::generate(&mut rng));
        let log = log_of(&[&alice, &bob, &alice]).await;
        assert!(check(&log, &erasure(&alice, &[0, 2]), 3).await.is_ok());
        for (why, e, at) in [
            ("someone else's entry", erasure(&bob, &[0]), 3),
            ("a mix", erasure(&alice, &[0, 1]), 3),
            ("not ascending", erasure(&alice, &[2, 0]), 3),
            ("a repeat", erasure(&alice, &[0, 0]), 3),
            ("nothing", erasure(&alice, &[]), 3),
            ("not before the deletion", erasure(&alice, &[2]), 2),
            ("beyond the log", erasure(&alice, &[7]), 9),
        ] {
            let r = check(&log, &e, at).await.expect_err(why);
            assert_eq!(r.code, RefusalCode::EraseNotOwned, "{why}");
        }
        // Once erased, an entry cannot be erased again.
        log.erase(&[0], 3).await.expect("erase");
        assert!(check(&log, &erasure(&alice, &[0]), 3).await.is_err());
        assert_eq!(rows(&log, &[2], 3).await.expect("rows").len(), 1);
    }
}
