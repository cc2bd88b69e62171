//! Sanctuary's transparency log: an append-only RFC 9162 Merkle log of every
//! operation, co-signed checkpoints, proofs, and audits.
//!
//! ```text
//!  requester (wallet)          node (Log + Cosigner)               client / auditor
//!  ------------------          ---------------------               ----------------
//!  tag = audit_key.new_tag()
//!  request{.., tag} ---------> log.append(NewEntry{.., tag})
//!                              cp = log.checkpoint()
//!                              cosigner.cosign(cp, proof)  x 3 nodes
//!                              log.publish(policy, note) -------> policy.verify(note)
//!                              log.consistency_proof(..) -------> audit_consistency(..)
//!                              log.entries(0..n) ---------------> subject_audit(key, ..)
//! ```
//!
//! The log is also the network's agreed order of operations: an entry's
//! sequence number is its leaf index, the proposing node sequences it
//! ([`Log::append`]) and the others append the same entry
//! ([`Log::append_entry`], which refuses any other sequence number), then
//! apply state changes in sequence order.
//!
//! # Exact formats and hash inputs
//!
//! Every hash and MAC in this crate, with its domain separation:
//!
//! | use | input |
//! |---|---|
//! | Merkle leaf | `SHA-256(0x00 \|\| entry_bytes)` (RFC 9162 2.1.1) |
//! | Merkle node | `SHA-256(0x01 \|\| left \|\| right)` (RFC 9162 2.1.1) |
//! | empty tree | `SHA-256("")` |
//! | audit tag | `HMAC-SHA256(key = audit_key, msg = "sanctuary/log/v1/audit-tag" \|\| nonce)`, nonce = 16 fresh random bytes, tag = all 32 output bytes |
//! | note key id | `SHA-256(key_name \|\| 0x0A \|\| 0x01 \|\| ed25519_public_key)[0..4]` (c2sp.org/signed-note) |
//! | note signature | `Ed25519(checkpoint_text)` (RFC 8032, verified strictly) |
//!
//! The leaf and node hashes are separated by their RFC 9162 prefix byte;
//! `entry_bytes` additionally begin with the constant field
//! `{"type":"sanctuary.log.entry","version":1,` so a Sanctuary leaf cannot be
//! mistaken for another format's. The HMAC is keyed by the subject's own key
//! and carries its own label. Signed texts are checkpoints, whose first line
//! is the log's origin.
//!
//! **Entries** ([`Entry`]) are compact JSON with a fixed field order and a
//! version field; decoding accepts only the canonical bytes (re-encoding must
//! reproduce the input), rejects unknown fields and other versions, so all
//! nodes hash identical bytes:
//!
//! ```text
//! {"type":"sanctuary.log.entry","version":1,"seq":0,"time_ms":1700000000000,
//!  "proposer":0,"operation":"enroll","outcome":"performed",
//!  "relying_party":"aid-org","purpose":"dedupe",
//!  "request":"<32 hex>","audit_tag":{"nonce":"<32 hex>","tag":"<64 hex>"}}
//! ```
//! (one line, no spaces). `outcome` is `"performed"` or
//! `{"refused":{"reason":"<code>"}}`; absent options are `null`.
//!
//! **Checkpoints** (c2sp.org/tlog-checkpoint) are signed notes
//! (c2sp.org/signed-note):
//!
//! ```text
//! sanctuary.example/log
//! 8
//! XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=
//!
//! — sanctuary.example/node0 <base64(key id || Ed25519 signature)>
//! — sanctuary.example/node1 <base64(key id || Ed25519 signature)>
//! ```
//!
//! A checkpoint is valid under a [`CheckpointPolicy`] when at least
//! `threshold` (default 2) distinct configured nodes signed it; unknown keys
//! are ignored, a node's repeated signature counts once, and a signature that
//! claims a known key but does not verify rejects the note.
//!
//! # Audit tags
//!
//! The requester (the subject's wallet) makes the tag with
//! [`AuditKey::new_tag`] and sends only the [`AuditTag`]; the node copies it
//! into the entry and never sees the key. The subject downloads the entries
//! and a co-signed checkpoint and calls [`subject_audit`]. A tag reveals
//! nothing without the key and tags of one subject are unlinkable (fresh
//! nonce, PRF output). Limitation: a tag is not bound to the entry's other
//! fields, so a rogue requester or node could copy a subject's tag into
//! another entry; the subject would then see an entry they did not cause,
//! which is visible rather than hidden misuse.
//!
//! # Storage
//!
//! [`LogStore`] and [`CosignerStore`] are async traits (see [`store`]);
//! [`MemoryStore`] implements both. Interior node hashes are stored, so an
//! append and every proof cost O(log n) reads.
//!
//! # Example
//!
//! ```
//! use std::collections::BTreeMap;
//! use sanctuary_log::*;
//! use sanctuary_share::PartyId;
//! # tokio_test_block_on(async {
//! let mut rng = rand::rng();
//! let origin = "sanctuary.example/log";
//! let mut log = Log::new(origin, MemoryStore::new())?;
//!
//! // The subject's wallet makes a tag; the node never sees the key.
//! let audit_key = AuditKey::generate(&mut rng);
//! let tag = audit_key.new_tag(&mut rng);
//! log.append(NewEntry {
//!     time_ms: 1_700_000_000_000,
//!     proposer: PartyId::P0,
//!     operation: Operation::Enroll,
//!     outcome: Outcome::Performed,
//!     relying_party: Some("aid-org".into()),
//!     purpose: Some("dedupe".into()),
//!     request: RequestId([7; 16]),
//!     audit_tag: Some(tag),
//!     share_commitments: None,
//!     salt: Salt::random(&mut rng),
//!     erases: None,
//! }).await?;
//!
//! // Three nodes cosign the tree head.
//! let mut cosigners = Vec::new();
//! let mut keys = BTreeMap::new();
//! for p in PartyId::ALL {
//!     let key = NoteSigningKey::generate(&format!("sanctuary.example/node{}", p.index()), &mut rng)?;
//!     keys.insert(p, key.verifier());
//!     cosigners.push(Cosigner::new(p, origin, key, MemoryStore::new()));
//! }
//! let policy = CheckpointPolicy::new(origin, keys, DEFAULT_THRESHOLD)?;
//! let cp = log.checkpoint().await?;
//! let mut sigs = Vec::new();
//! for c in &mut cosigners {
//!     let last = c.last_signed().await?.map_or(0, |l| l.size());
//!     let proof = log.consistency_proof(last, cp.size()).await?;
//!     sigs.push(c.cosign(&cp, &proof).await?);
//! }
//! let note = SignedNote::new(cp.to_text(), sigs)?;
//! let verified = log.publish(&policy, &note).await?;
//!
//! // The subject finds exactly their entry.
//! let entries = log.entries(0..verified.size()).await?;
//! let mine = subject_audit(&audit_key, &entries, &verified)?;
//! assert_eq!(mine.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
//! #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]
#![warn(missing_docs)]

mod audit;
mod auditor;
mod checkpoint;
mod cosigner;
mod entry;
mod error;
mod hash;
mod log;
pub mod merkle;
mod note;
pub mod store;
pub mod verify;

// The public interface is:
pub use audit::{AUDIT_TAG_DOMAIN, AuditKey, AuditTag, NONCE_LEN};
pub use auditor::{
    AuditOutcome, AuditedEntry, ForkEvidence, ForkKind, audit_consistency, detect_fork,
    erased_for_subject, subject_audit, verify_subject_entries,
};
pub use checkpoint::{Checkpoint, CheckpointPolicy, DEFAULT_THRESHOLD, VerifiedCheckpoint};
pub use cosigner::Cosigner;
pub use entry::{
    ENTRY_COMMITMENT_DOMAIN, ENTRY_VERSION, Entry, Erased, Leaf, NewEntry, Operation, Outcome,
    RequestId, Salt,
};
pub use error::{
    AuditError, CheckpointError, CheckpointFormat, ConfigError, CosignError, Error, FormatError,
    KeyFormat, NoteFormat, ProofError, StoreError, UsageError,
};
pub use hash::{Hash, leaf_hash, node_hash};
pub use log::{Log, PreparedAppend};
pub use merkle::{MemoryTree, NodeIndex};
pub use note::{
    ALG_ED25519, MAX_SIGNATURES, NoteSignature, NoteSigningKey, NoteVerifierKey, SignedNote,
    ed25519_key_id,
};
pub use store::{AppendRecord, CosignerStore, LogStore, MemoryStore};
pub use verify::{ConsistencyProof, InclusionProof, verify_consistency, verify_inclusion};
