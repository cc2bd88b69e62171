//! Client-side audits: log consistency (forks) and a subject's own entries.
//!
//! Nothing here touches storage: the inputs are checkpoints, proofs and
//! entries that a client downloaded.

use std::fmt;

use crate::audit::AuditKey;
use crate::checkpoint::VerifiedCheckpoint;
use crate::entry::{Entry, Erased, Leaf};
use crate::error::{AuditError, Error, ProofError};
use crate::merkle::MemoryTree;
use crate::note::SignedNote;
use crate::verify::{ConsistencyProof, InclusionProof};

/// What kind of inconsistency a [`ForkEvidence`] shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ForkKind {
    /// Two validly co-signed checkpoints of the same size with different
    /// roots: self-contained proof that the signers equivocated.
    SameSizeDifferentRoots,
    /// The consistency proof offered between the two co-signed checkpoints
    /// does not verify. Proof of a fork only if no node can produce a valid
    /// proof: ask the other nodes before treating it as one.
    ConsistencyProofFailed,
}

/// Evidence of a fork: both co-signed notes, printable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkEvidence {
    /// What is inconsistent.
    pub kind: ForkKind,
    /// The smaller (or, for equal sizes, the first given) checkpoint.
    pub first: SignedNote,
    /// The other checkpoint.
    pub second: SignedNote,
    /// The failed proof, for [`ForkKind::ConsistencyProofFailed`].
    pub proof: Option<ConsistencyProof>,
}

impl fmt::Display for ForkEvidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ForkKind::SameSizeDifferentRoots => {
                "two co-signed checkpoints of the same size with different roots"
            }
            ForkKind::ConsistencyProofFailed => {
                "co-signed checkpoints not linked by a valid consistency proof"
            }
        };
        writeln!(f, "FORK EVIDENCE: {what}")?;
        writeln!(f, "--- checkpoint 1")?;
        write!(f, "{}", self.first)?;
        writeln!(f, "--- checkpoint 2")?;
        write!(f, "{}", self.second)?;
        if let Some(p) = &self.proof {
            writeln!(f, "--- consistency proof {} -> {}", p.old_size, p.new_size)?;
            for h in &p.path {
                writeln!(f, "{h}")?;
            }
        }
        Ok(())
    }
}

/// The result of comparing two co-signed checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditOutcome {
    /// The larger tree extends the smaller one.
    Consistent,
    /// They are inconsistent.
    Fork(Box<ForkEvidence>),
}

/// Two co-signed checkpoints of equal size and different roots, if that is
/// what `a` and `b` are.
pub fn detect_fork(a: &VerifiedCheckpoint, b: &VerifiedCheckpoint) -> Option<ForkEvidence> {
    (a.size() == b.size() && a.root() != b.root()).then(|| ForkEvidence {
        kind: ForkKind::SameSizeDifferentRoots,
        first: a.note().clone(),
        second: b.note().clone(),
        proof: None,
    })
}

/// Checks a saved checkpoint against a newer one with a consistency proof
/// between their sizes (the order of `saved` and `newer` may be either).
///
/// Returns an error only when `proof` is for other sizes than the two
/// checkpoints (a useless proof, not evidence).
pub fn audit_consistency(
    saved: &VerifiedCheckpoint,
    newer: &VerifiedCheckpoint,
    proof: &ConsistencyProof,
) -> Result<AuditOutcome, Error> {
    if let Some(e) = detect_fork(saved, newer) {
        return Ok(AuditOutcome::Fork(Box::new(e)));
    }
    let (old, new) = if saved.size() <= newer.size() {
        (saved, newer)
    } else {
        (newer, saved)
    };
    if proof.old_size != old.size() || proof.new_size != new.size() {
        return Err(ProofError::Consistency {
            old_size: old.size(),
            new_size: new.size(),
        }
        .into());
    }
    Ok(match proof.verify(old.root(), new.root()) {
        Ok(()) => AuditOutcome::Consistent,
        Err(_) => AuditOutcome::Fork(Box::new(ForkEvidence {
            kind: ForkKind::ConsistencyProofFailed,
            first: old.note().clone(),
            second: new.note().clone(),
            proof: Some(proof.clone()),
        })),
    })
}

/// One of the subject's entries with its verified inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditedEntry {
    /// The entry.
    pub entry: Entry,
    /// Its inclusion proof in the checkpoint's tree (verified).
    pub proof: InclusionProof,
}

/// The subject's entries in a co-signed checkpoint, found by scanning all of
/// its entries (the private mode: the server learns nothing about which
/// entries are the subject's).
///
/// `entries` must start at sequence number 0 and cover at least the
/// checkpoint's size (later entries are ignored); erased leaves count in
/// the tree like the entries they were. The function rebuilds the tree
/// (O(n) hashes), checks its root against the checkpoint, and returns
/// exactly the entries whose tag `key` owns, each with an inclusion proof
/// verified against the checkpoint's root.
pub fn subject_audit(
    key: &AuditKey,
    entries: &[Leaf],
    checkpoint: &VerifiedCheckpoint,
) -> Result<Vec<AuditedEntry>, Error> {
    let size = checkpoint.size();
    let covered = entries
        .get(..usize::try_from(size).unwrap_or(usize::MAX))
        .ok_or(AuditError::MissingEntries {
            size,
            given: entries.len() as u64,
        })?;
    let mut tree = MemoryTree::new();
    for (i, e) in covered.iter().enumerate() {
        if e.seq() != i as u64 {
            return Err(AuditError::OutOfOrder {
                position: i as u64,
                seq: e.seq(),
            }
            .into());
        }
        tree.push(e.leaf_hash());
    }
    if tree.root() != *checkpoint.root() {
        return Err(AuditError::RootMismatch.into());
    }
    let mut out = Vec::new();
    for e in covered.iter().filter_map(Leaf::entry) {
        if !e.audit_tag.as_ref().is_some_and(|t| key.owns(t)) {
            continue;
        }
        let proof = tree
            .inclusion_proof(e.seq, size)
            .ok_or(AuditError::MissingEntries { size, given: size })?;
        proof
            .verify(&e.leaf_hash(), checkpoint.root())
            .map_err(|source| AuditError::NotIncluded { seq: e.seq, source })?;
        out.push(AuditedEntry {
            entry: e.clone(),
            proof,
        });
    }
    Ok(out)
}

/// The erased leaves among `entries` whose erasure the subject asked for:
/// those erased by a deletion entry that carries the subject's tag and
/// lists them. (An erased leaf has no tag left; the deletion that erased it
/// is what ties it to the subject.) Check the leaves against a checkpoint
/// with [`subject_audit`] first.
pub fn erased_for_subject<'a>(key: &AuditKey, entries: &'a [Leaf]) -> Vec<&'a Erased> {
    entries
        .iter()
        .filter_map(|l| match l {
            Leaf::Erased(e) => Some(e),
            Leaf::Entry(_) => None,
        })
        .filter(|e| {
            entries
                .get(usize::try_from(e.erased_by).unwrap_or(usize::MAX))
                .and_then(Leaf::entry)
                .is_some_and(|d| {
                    d.seq == e.erased_by
                        && d.audit_tag.as_ref().is_some_and(|t| key.owns(t))
                        && d.erases.as_ref().is_some_and(|s| s.contains(&e.seq))
                })
        })
        .collect()
}

/// Verifies entries the subject fetched one by one with their inclusion
/// proofs (the light mode: cheaper, but the server sees which entries were
/// asked for). Every item must carry the subject's tag and verify against
/// `checkpoint`.
pub fn verify_subject_entries(
    key: &AuditKey,
    items: Vec<(Entry, InclusionProof)>,
    checkpoint: &VerifiedCheckpoint,
) -> Result<Vec<AuditedEntry>, Error> {
    items
        .into_iter()
        .map(|(entry, proof)| {
            let seq = entry.seq;
            if !entry.audit_tag.as_ref().is_some_and(|t| key.owns(t)) {
                return Err(AuditError::NotSubjectEntry { seq }.into());
            }
            if proof.index != seq || proof.size != checkpoint.size() {
                return Err(AuditError::NotIncluded {
                    seq,
                    source: ProofError::Inclusion {
                        index: proof.index,
                        size: proof.size,
                    },
                }
                .into());
            }
            proof
                .verify(&entry.leaf_hash(), checkpoint.root())
                .map_err(|source| AuditError::NotIncluded { seq, source })?;
            Ok(AuditedEntry { entry, proof })
        })
        .collect()
}
