//! The crate's error type.

use std::error::Error as StdError;

use sanctuary_share::PartyId;

use crate::merkle::NodeIndex;

/// Every error of `sanctuary-log`, grouped by cause.
///
/// Who acts on what:
/// * [`Error::Proof`], [`Error::Checkpoint`] and [`Error::Audit`] mean that data
///   from another party (a log server, a node) failed verification: treat the
///   sender as misbehaving, never retry the same data.
/// * [`Error::Format`] means bytes or text do not parse under this crate's
///   formats.
/// * [`Error::Cosign`] is a cosigner refusing to sign a proposed tree head.
/// * [`Error::Config`] and [`Error::Usage`] are the caller's mistake.
/// * [`Error::Storage`] comes from a [`LogStore`](crate::LogStore) backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An inclusion or consistency proof did not verify.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// Text or bytes are malformed.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A signed checkpoint failed verification.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// A cosigner refused to sign.
    #[error(transparent)]
    Cosign(#[from] CosignError),
    /// A subject audit failed.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Invalid configuration (keys, threshold, origin).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The API was called with arguments that cannot be valid.
    #[error(transparent)]
    Usage(#[from] UsageError),
    /// The storage backend failed.
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// A Merkle proof failed verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf index {index} is not in a tree of size {size}")]
    IndexOutOfRange {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The inclusion proof does not lead to the expected root.
    #[error("inclusion proof of leaf {index} in tree of size {size} does not verify")]
    Inclusion {
        /// Leaf index.
        index: u64,
        /// Tree size.
        size: u64,
    },
    /// The consistency proof does not link the two roots.
    #[error("consistency proof from size {old_size} to size {new_size} does not verify")]
    Consistency {
        /// Size of the older tree.
        old_size: u64,
        /// Size of the newer tree.
        new_size: u64,
    },
    /// The "older" tree is bigger than the "newer" one.
    #[error("tree of size {old_size} cannot be a prefix of a tree of size {new_size}")]
    SizeOrder {
        /// Size of the older tree.
        old_size: u64,
        /// Size of the newer tree.
        new_size: u64,
    },
}

/// Malformed text or bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// A log entry's JSON does not decode.
    #[error("log entry does not decode")]
    EntryJson(#[source] serde_json::Error),
    /// A log entry decodes but is not in canonical form.
    #[error("log entry is not canonically encoded")]
    EntryNotCanonical,
    /// A log entry's format version is not supported.
    #[error("log entry format version {found} is not supported (expected {expected})")]
    EntryVersion {
        /// The version found.
        found: u64,
        /// The version this crate writes.
        expected: u64,
    },
    /// A signed note is malformed (c2sp.org/signed-note).
    #[error("malformed signed note: {0}")]
    Note(NoteFormat),
    /// A checkpoint body is malformed (c2sp.org/tlog-checkpoint).
    #[error("malformed checkpoint: {0}")]
    Checkpoint(CheckpointFormat),
    /// A verifier or signer key string is malformed.
    #[error("malformed note key: {0}")]
    Key(KeyFormat),
    /// Base64 in a note, checkpoint or key does not decode.
    #[error("invalid base64 in {what}")]
    Base64 {
        /// Which field.
        what: &'static str,
        /// The decoder's error.
        #[source]
        source: base64::DecodeError,
    },
}

/// What is wrong with a signed note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NoteFormat {
    /// The note text does not end in a newline.
    #[error("text does not end with a newline")]
    MissingFinalNewline,
    /// The text contains a control character other than newline.
    #[error("text contains a control character")]
    ControlCharacter,
    /// No blank line separates text and signatures.
    #[error("no blank line before the signatures")]
    MissingSignatureBlock,
    /// The note carries no signature line.
    #[error("note has no signatures")]
    NoSignatures,
    /// A signature line is not `— <name> <base64>\n`.
    #[error("signature line is malformed")]
    SignatureLine,
    /// A signature decodes to fewer than 5 bytes.
    #[error("signature is too short")]
    SignatureTooShort,
    /// More signature lines than the format allows.
    #[error("more than {max} signatures")]
    TooManySignatures {
        /// The limit.
        max: usize,
    },
    /// The key name is empty, contains whitespace or `+`.
    #[error("invalid key name")]
    KeyName,
}

/// What is wrong with a checkpoint body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointFormat {
    /// Fewer than three lines.
    #[error("fewer than three lines")]
    TooShort,
    /// The origin line is empty.
    #[error("empty origin line")]
    EmptyOrigin,
    /// The size line is not a canonical decimal u64.
    #[error("tree size is not a canonical decimal number")]
    Size,
    /// The root hash line is not base64 of 32 bytes.
    #[error("root hash is not base64 of 32 bytes")]
    RootHash,
    /// An extension line is empty.
    #[error("empty extension line")]
    EmptyExtensionLine,
    /// A line contains a character the format forbids.
    #[error("forbidden character")]
    Character,
}

/// What is wrong with a key string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFormat {
    /// Not `name+hex8+base64` (or `PRIVATE+KEY+name+hex8+base64`).
    #[error("not of the form name+keyid+key")]
    Layout,
    /// The algorithm byte is not Ed25519 (0x01).
    #[error("algorithm {0:#04x} is not Ed25519")]
    Algorithm(u8),
    /// The key bytes have the wrong length or are not a valid point.
    #[error("invalid Ed25519 key bytes")]
    KeyBytes,
    /// The key id in the string does not match the key.
    #[error("key id does not match the key")]
    KeyId,
    /// Invalid key name.
    #[error("invalid key name")]
    Name,
}

/// A signed checkpoint failed verification against the configured nodes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The checkpoint belongs to another log.
    #[error("checkpoint origin {found:?} is not this log's origin {expected:?}")]
    Origin {
        /// The configured origin.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
    /// A signature claiming to be from a known node does not verify: the
    /// checkpoint is forged or corrupted.
    #[error("signature of node {signer} does not verify")]
    BadSignature {
        /// The node whose key the signature claims.
        signer: PartyId,
        /// The signature library's error.
        #[source]
        source: ed25519_dalek::SignatureError,
    },
    /// Fewer distinct known nodes signed than the threshold requires.
    #[error("checkpoint has valid signatures of {} known nodes ({signers:?}), {threshold} required", signers.len())]
    BelowThreshold {
        /// The known nodes whose signatures verified.
        signers: Vec<PartyId>,
        /// The configured threshold.
        threshold: usize,
    },
    /// The note's signature text is not a checkpoint.
    #[error("note text is not a checkpoint")]
    NotACheckpoint(#[source] Box<FormatError>),
}

/// A cosigner refused to sign a proposed checkpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CosignError {
    /// The proposed tree is smaller than the last one this node signed.
    #[error("proposed tree size {proposed} is smaller than the last signed size {last_signed}")]
    Rollback {
        /// Size of the last signed tree.
        last_signed: u64,
        /// Size of the proposed tree.
        proposed: u64,
    },
    /// The proposed tree is not an append-only extension of the last signed one.
    #[error(
        "proposed tree of size {proposed} is not an extension of the last signed tree of size {last_signed}"
    )]
    NotAnExtension {
        /// Size of the last signed tree.
        last_signed: u64,
        /// Size of the proposed tree.
        proposed: u64,
        /// Why the consistency proof failed.
        #[source]
        source: ProofError,
    },
    /// The consistency proof is for other sizes than the two tree heads.
    #[error(
        "consistency proof is for sizes {proof_old}..{proof_new}, expected {last_signed}..{proposed}"
    )]
    ProofSizes {
        /// The proof's old size.
        proof_old: u64,
        /// The proof's new size.
        proof_new: u64,
        /// Size of the last signed tree.
        last_signed: u64,
        /// Size of the proposed tree.
        proposed: u64,
    },
    /// The proposed checkpoint names another log.
    #[error("proposed checkpoint origin {found:?} is not {expected:?}")]
    Origin {
        /// The cosigner's origin.
        expected: String,
        /// The proposed origin.
        found: String,
    },
}

/// A subject audit failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Fewer entries were given than the checkpoint covers.
    #[error("checkpoint covers {size} entries, {given} given")]
    MissingEntries {
        /// Tree size of the checkpoint.
        size: u64,
        /// Entries given.
        given: u64,
    },
    /// Entry at position `position` carries sequence number `seq`.
    #[error("entry at position {position} has sequence number {seq}")]
    OutOfOrder {
        /// Position in the given list.
        position: u64,
        /// Its sequence number.
        seq: u64,
    },
    /// The entries do not hash to the checkpoint's root.
    #[error("entries do not hash to the checkpoint root")]
    RootMismatch,
    /// An entry handed in as the subject's does not carry the subject's tag.
    #[error("entry {seq} is not the subject's")]
    NotSubjectEntry {
        /// Its sequence number.
        seq: u64,
    },
    /// An entry's inclusion proof failed.
    #[error("entry {seq} is not included in the checkpoint")]
    NotIncluded {
        /// Its sequence number.
        seq: u64,
        /// Why.
        #[source]
        source: ProofError,
    },
}

/// Invalid configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Threshold 0 or above the number of nodes.
    #[error("threshold {threshold} is not in 1..={nodes}")]
    Threshold {
        /// The configured threshold.
        threshold: usize,
        /// Number of configured nodes.
        nodes: usize,
    },
    /// Two nodes share a key name and key id.
    #[error("nodes {first} and {second} have the same key name and id")]
    DuplicateKey {
        /// First node.
        first: PartyId,
        /// Second node.
        second: PartyId,
    },
    /// The origin is empty or contains a newline.
    #[error("invalid log origin")]
    Origin,
}

/// An API call with arguments that can never be valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UsageError {
    /// A tree size beyond the log's current size.
    #[error("tree size {requested} exceeds the log size {size}")]
    SizeBeyondLog {
        /// Requested size.
        requested: u64,
        /// Current size.
        size: u64,
    },
    /// Publishing a checkpoint smaller than the one already published.
    #[error("checkpoint of size {size} is older than the published one of size {latest}")]
    StaleCheckpoint {
        /// Size of the published checkpoint.
        latest: u64,
        /// Size of the offered checkpoint.
        size: u64,
    },
    /// A checkpoint does not match this log's own tree at its size.
    #[error("checkpoint of size {size} does not match this log's root at that size")]
    ForeignCheckpoint {
        /// The checkpoint's size.
        size: u64,
    },
    /// Erasing an entry that is not earlier than the erasing deletion.
    #[error("entry {seq} cannot be erased by entry {by}: only earlier entries can")]
    EraseOutOfRange {
        /// The entry to erase.
        seq: u64,
        /// The deletion erasing it.
        by: u64,
    },
    /// Erasing an entry whose body is already gone.
    #[error("entry {seq} is already erased")]
    AlreadyErased {
        /// The entry.
        seq: u64,
    },
}

/// Errors of a [`LogStore`](crate::LogStore) or
/// [`CosignerStore`](crate::CosignerStore) backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// An append whose sequence number is not the current tree size (a
    /// concurrent or replayed append).
    #[error("append of sequence number {got}, the log size is {expected}")]
    SequenceMismatch {
        /// The log's size.
        expected: u64,
        /// The entry's sequence number.
        got: u64,
    },
    /// A Merkle node the tree should contain is missing.
    #[error("Merkle node {0:?} is missing from storage")]
    MissingHash(NodeIndex),
    /// A read past the end of the log.
    #[error("entries {start}..{end} requested, log size is {size}")]
    OutOfRange {
        /// Start of the range.
        start: u64,
        /// End of the range.
        end: u64,
        /// The log's size.
        size: u64,
    },
    /// A batched hash read returned the wrong number of hashes.
    #[error("asked the store for {expected} hashes, got {got}")]
    ShortRead {
        /// Hashes asked for.
        expected: usize,
        /// Hashes returned.
        got: usize,
    },
    /// The backend itself failed (I/O, database, corrupted row).
    #[error("storage backend failed")]
    Backend(#[source] Box<dyn StdError + Send + Sync + 'static>),
}
