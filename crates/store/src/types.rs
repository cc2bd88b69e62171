//! The values the store reads and writes.

use std::fmt;

use zeroize::Zeroizing;

pub use sanctuary_proto::EnrollmentId;

/// Which database a [`crate::Store`] runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// PostgreSQL (production: one database per operator).
    Postgres,
    /// An embedded SQLite file (the default for a one-machine network).
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Postgres => "postgres",
            Self::Sqlite => "sqlite",
        })
    }
}

/// What a node needs at start-up.
#[derive(Debug)]
pub struct Loaded {
    /// Current enrollments in gallery order (ascending `enrolled_seq`).
    pub enrollments: Vec<StoredEnrollment>,
    /// The seq the next applied op must carry (the op-log length).
    pub next_seq: u64,
    /// Recorded consent-token uses.
    pub token_uses: Vec<TokenUse>,
    /// Recorded revocations, in the order they were applied.
    pub revocations: Vec<RevocationRow>,
}

/// One current enrollment with this node's share bytes.
pub struct StoredEnrollment {
    /// The enrollment id.
    pub id: EnrollmentId,
    /// Template kind, `"embedding"` or `"iris"` (not interpreted by the store).
    pub kind: String,
    /// This node's share bytes; wiped on drop.
    pub share: Zeroizing<Vec<u8>>,
    /// Optional subject handle (not interpreted by the store).
    pub subject: Option<String>,
    /// Seq of the op that enrolled it; the gallery order.
    pub enrolled_seq: u64,
    /// Time of the last use (enrollment or verification), ms since the epoch:
    /// retention counts from it.
    pub last_used_ms: i64,
}

impl fmt::Debug for StoredEnrollment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredEnrollment")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field(
                "share",
                &format_args!("<redacted {} bytes>", self.share.len()),
            )
            .field("subject", &self.subject)
            .field("enrolled_seq", &self.enrolled_seq)
            .field("last_used_ms", &self.last_used_ms)
            .finish()
    }
}

/// A stored Merkle-tree node hash of the op log: the hash of the complete
/// subtree `index << level .. (index + 1) << level` (level 0: leaf hashes).
/// The store keeps them opaque; the log crate does the arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeHash {
    /// Height above the leaves.
    pub level: u8,
    /// Position within the level.
    pub index: u64,
    /// The hash.
    pub hash: [u8; 32],
}

/// How many times a subject's consent token was used (replay protection
/// that survives restarts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenUse {
    /// The subject's key (hex).
    pub subject: String,
    /// The token id.
    pub token: [u8; 16],
    /// Uses recorded so far.
    pub uses: u32,
    /// When the token expires (ms since the epoch); the row may be pruned after.
    pub expires_ms: i64,
}

/// A subject's revocation of one token or of all tokens issued before a time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevocationRow {
    /// One token.
    Token {
        /// The subject's key (hex).
        subject: String,
        /// The token id.
        token: [u8; 16],
    },
    /// Every token issued before `before_ms`.
    IssuedBefore {
        /// The subject's key (hex).
        subject: String,
        /// Cut-off, ms since the epoch.
        before_ms: i64,
    },
}

/// Consent bookkeeping an op writes in the same transaction as its log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsentWrite {
    /// Sets a token's use count (insert or update).
    TokenUse(TokenUse),
    /// Records a revocation.
    Revocation(RevocationRow),
    /// Marks an enrollment used at `time_ms` (renews its retention).
    Touch {
        /// The enrollment.
        id: EnrollmentId,
        /// When, ms since the epoch.
        time_ms: i64,
    },
    /// Keeps the subject's signed consent to enrollment `id` (deleted with
    /// the enrollment).
    Record {
        /// The enrollment.
        id: EnrollmentId,
        /// The signed statement (JSON).
        record: Vec<u8>,
    },
}

/// One op in the agreed order, as the node applies it.
pub struct AppliedOp {
    /// Position in the op log: 0, 1, 2, ... with no gaps.
    pub seq: u64,
    /// When the op ran (ms since the epoch, the coordinator's clock).
    pub time_ms: i64,
    /// Canonical bytes of the log entry. Must not contain share bytes: the
    /// op log is only ever rewritten by erasure ([`AppliedOp::erase`]).
    pub entry: Vec<u8>,
    /// Merkle node hashes this entry completes (leaf first).
    pub hashes: Vec<NodeHash>,
    /// The state change the op makes, if any.
    pub change: StateChange,
    /// Consent bookkeeping.
    pub consent: Vec<ConsentWrite>,
    /// Earlier log rows this op erases: each replaced by its erased form,
    /// in the same transaction.
    pub erase: Vec<ErasedRow>,
}

/// An earlier op-log row and what replaces it when its body is erased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasedRow {
    /// The row's sequence number (below the erasing op's).
    pub seq: u64,
    /// The erased leaf's canonical bytes.
    pub entry: Vec<u8>,
}

impl AppliedOp {
    /// An op that only appends a log entry.
    pub fn log_only(seq: u64, time_ms: i64, entry: Vec<u8>, hashes: Vec<NodeHash>) -> Self {
        Self {
            seq,
            time_ms,
            entry,
            hashes,
            change: StateChange::None,
            consent: Vec::new(),
            erase: Vec::new(),
        }
    }
}

impl fmt::Debug for AppliedOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppliedOp")
            .field("seq", &self.seq)
            .field("time_ms", &self.time_ms)
            .field("entry", &format_args!("<{} bytes>", self.entry.len()))
            .field("hashes", &self.hashes.len())
            .field("change", &self.change)
            .field("consent", &self.consent)
            .field("erase", &self.erase.len())
            .finish()
    }
}

/// The change an op makes to the enrollments.
pub enum StateChange {
    /// Read-only op (verify, dedupe, ...): only logged.
    None,
    /// Adds an enrollment; refused with [`crate::StoreError::Duplicate`] if the id exists.
    Enroll {
        /// New enrollment id.
        id: EnrollmentId,
        /// Template kind, `"embedding"` or `"iris"`.
        kind: String,
        /// This node's share bytes.
        share: Zeroizing<Vec<u8>>,
        /// Optional subject handle.
        subject: Option<String>,
    },
    /// Removes an enrollment and scrubs its share; refused with
    /// [`crate::StoreError::NotFound`] if the id is not enrolled.
    Delete {
        /// The enrollment to delete.
        id: EnrollmentId,
    },
}

impl fmt::Debug for StateChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Enroll {
                id,
                kind,
                share,
                subject,
            } => f
                .debug_struct("Enroll")
                .field("id", id)
                .field("kind", kind)
                .field("share", &format_args!("<redacted {} bytes>", share.len()))
                .field("subject", subject)
                .finish(),
            Self::Delete { id } => f.debug_struct("Delete").field("id", id).finish(),
        }
    }
}

/// One op-log row.
#[derive(Clone, PartialEq, Eq)]
pub struct OpRecord {
    /// The op's seq.
    pub seq: u64,
    /// The entry's canonical bytes.
    pub entry: Vec<u8>,
}

impl fmt::Debug for OpRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpRecord")
            .field("seq", &self.seq)
            .field("entry", &format_args!("<{} bytes>", self.entry.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_shares() {
        let c = StateChange::Enroll {
            id: EnrollmentId([7; 16]),
            kind: "iris".into(),
            share: Zeroizing::new(vec![0xAB; 4]),
            subject: None,
        };
        let d = format!("{c:?}");
        assert!(d.contains("redacted 4 bytes"), "{d}");
        assert!(!d.contains("171"), "{d}");
    }
}
