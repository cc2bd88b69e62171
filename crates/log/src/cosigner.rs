//! A node's checkpoint cosigner: signs only append-only growth.

use sanctuary_share::PartyId;

use crate::checkpoint::Checkpoint;
use crate::error::{CosignError, Error};
use crate::note::{NoteSignature, NoteSigningKey, NoteVerifierKey};
use crate::store::CosignerStore;
use crate::verify::ConsistencyProof;

/// One node's cosigner.
///
/// Flow (one round, run by whichever node proposes):
///
/// ```text
///  proposer: cp = log.checkpoint()                      (unsigned tree head)
///  each node: last = cosigner.last_signed()             (size it last signed)
///  proposer: proof = log.consistency_proof(last.size, cp.size)
///  each node: sig = cosigner.cosign(&cp, &proof)        (refuses forks/rollbacks)
///  proposer: note = SignedNote::new(cp.to_text(), sigs)
///            log.publish(&policy, &note)                (checks the threshold)
/// ```
///
/// A node holding its own replica can equally take `proof` from its own
/// [`Log`](crate::Log): the cosigner only requires that *some* valid proof
/// links its last signed head to the proposal. A node that does keep a
/// replica should also check `proposed.root()` against its own
/// [`Log::root_at`](crate::Log::root_at) before calling [`Cosigner::cosign`]:
/// the consistency proof protects the past, the replica check also vouches
/// for the new entries.
///
/// Trust on first use: a cosigner with no signed head yet signs any proposal
/// (it extends the empty tree). Provision nodes together from an empty log, or
/// seed the store with the last head they should continue from.
#[derive(Debug)]
pub struct Cosigner<S> {
    party: PartyId,
    origin: String,
    key: NoteSigningKey,
    store: S,
}

impl<S: CosignerStore> Cosigner<S> {
    /// The cosigner of node `party` for log `origin`, signing with `key` and
    /// remembering its last signed head in `store`.
    pub fn new(party: PartyId, origin: &str, key: NoteSigningKey, store: S) -> Self {
        Cosigner {
            party,
            origin: origin.to_owned(),
            key,
            store,
        }
    }

    /// This node's id.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// The public key other nodes and clients configure for this node.
    pub fn verifier(&self) -> NoteVerifierKey {
        self.key.verifier()
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The last checkpoint this node signed (`None` before its first).
    pub async fn last_signed(&self) -> Result<Option<Checkpoint>, Error> {
        Ok(self.store.last_signed().await?)
    }

    /// Signs `proposed` if it is an append-only extension of the last
    /// checkpoint this node signed, as shown by `proof` (which must be for
    /// sizes `last.size() -> proposed.size()`; with no previous checkpoint any
    /// proof from size 0 is accepted). The new head is persisted before the
    /// signature is returned. Re-signing the same head is allowed.
    ///
    /// Takes `&mut self` so that two rounds cannot interleave on one node.
    pub async fn cosign(
        &mut self,
        proposed: &Checkpoint,
        proof: &ConsistencyProof,
    ) -> Result<NoteSignature, Error> {
        if proposed.origin() != self.origin {
            return Err(CosignError::Origin {
                expected: self.origin.clone(),
                found: proposed.origin().to_owned(),
            }
            .into());
        }
        let (last_size, last_root) = match self.store.last_signed().await? {
            Some(last) => (last.size(), *last.root()),
            None => (0, crate::Hash::EMPTY_ROOT),
        };
        if proposed.size() < last_size {
            return Err(CosignError::Rollback {
                last_signed: last_size,
                proposed: proposed.size(),
            }
            .into());
        }
        if proof.old_size != last_size || proof.new_size != proposed.size() {
            return Err(CosignError::ProofSizes {
                proof_old: proof.old_size,
                proof_new: proof.new_size,
                last_signed: last_size,
                proposed: proposed.size(),
            }
            .into());
        }
        proof
            .verify(&last_root, proposed.root())
            .map_err(|source| CosignError::NotAnExtension {
                last_signed: last_size,
                proposed: proposed.size(),
                source,
            })?;
        self.store.put_last_signed(proposed).await?;
        Ok(proposed.sign(&self.key))
    }
}
