//! Log entries and their canonical encoding.

use std::fmt;

use sanctuary_share::PartyId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::audit::AuditTag;
use crate::error::FormatError;
use crate::hash::{Hash, hex_encode, leaf_hash, parse_lower_hex};

/// The entry format version this crate writes and accepts.
pub const ENTRY_VERSION: u64 = 2;

/// Domain label of an entry's body commitment (the Merkle leaf data).
pub const ENTRY_COMMITMENT_DOMAIN: &[u8] = b"sanctuary/log/v2/entry-commitment";

/// What kind of operation an entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    /// 1:N deduplication query.
    Dedupe,
    /// Deletion of an enrollment (all shares destroyed).
    Delete,
    /// New enrollment.
    Enroll,
    /// A unique person's festival check-in: the nodes evaluated their
    /// per-event pseudonym.
    FestivalCheckin,
    /// An open 1:N identification attempt ("who is this?"); policy refuses
    /// every one, and the refusal is recorded.
    Identify,
    /// Change of a node's ethics policy or of network configuration.
    PolicyChange,
    /// Proactive share refresh.
    Refresh,
    /// Revocation of a consent token.
    RevokeConsent,
    /// 1:1 verification.
    Verify,
}

/// Whether the operation ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Outcome {
    /// The operation was carried out.
    Performed,
    /// A subject's right (deletion, withdrawal of consent) that one node
    /// refused was carried out by the others anyway: a right needs no
    /// unanimity. The refusing node is recorded so that everyone sees it.
    PerformedOverRefusal {
        /// The node that refused.
        refused_by: PartyId,
        /// Its machine-readable reason code.
        reason: String,
    },
    /// The operation was refused (no consent, policy veto, ...).
    Refused {
        /// Machine-readable reason code, e.g. `consent_expired`, chosen by the
        /// node layer; must not identify the subject.
        reason: String,
    },
}

/// An opaque 16-byte request id linking an entry to the node-layer operation
/// (e.g. the MPC session). It must be random, never derived from the subject.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub [u8; 16]);

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", hex_encode(&self.0))
    }
}

impl Serialize for RequestId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex_encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for RequestId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_lower_hex(&s)
            .map(RequestId)
            .ok_or_else(|| serde::de::Error::custom("request id is not 32 lowercase hex digits"))
    }
}

/// What a new entry says, before the log gives it a sequence number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    /// Milliseconds since the Unix epoch, from the proposing node's clock.
    pub time_ms: u64,
    /// The node that proposed (and sequenced) the entry.
    pub proposer: PartyId,
    /// What happened.
    pub operation: Operation,
    /// Whether it ran.
    pub outcome: Outcome,
    /// Relying party on whose behalf it ran, if any.
    pub relying_party: Option<String>,
    /// Declared purpose (from the consent token), if any.
    pub purpose: Option<String>,
    /// Request id.
    pub request: RequestId,
    /// The subject's blinded tag, supplied by the requester; `None` for
    /// operations without a subject (refresh, policy changes).
    pub audit_tag: Option<AuditTag>,
    /// For an enrollment: the commitments to the three share components
    /// (64 hex each, component order) that the subject signed, so a node
    /// rebuilding its share later can check what its peers send.
    pub share_commitments: Option<Vec<String>>,
    /// Random bytes hashed with the body, so that the leaf (a hash of the
    /// body) says nothing about an erased body. Agreed by the three nodes
    /// (the coordinator draws it for each operation).
    pub salt: Salt,
    /// For a deletion that erased the subject's earlier entries: their
    /// sequence numbers, ascending.
    pub erases: Option<Vec<u64>>,
}

impl NewEntry {
    /// The entry with sequence number `seq`.
    pub fn with_seq(self, seq: u64) -> Entry {
        Entry {
            kind: EntryKind::Entry,
            version: Version(ENTRY_VERSION),
            seq,
            time_ms: self.time_ms,
            proposer: self.proposer,
            operation: self.operation,
            outcome: self.outcome,
            relying_party: self.relying_party,
            purpose: self.purpose,
            request: self.request,
            audit_tag: self.audit_tag,
            salt: self.salt,
            share_commitments: self.share_commitments,
            erases: self.erases,
        }
    }
}

/// An entry's salt: 32 random bytes, 64 lowercase hex on the wire. Public
/// while the body is; dropped with it on erasure.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Salt(pub [u8; 32]);

impl Salt {
    /// A fresh random salt.
    pub fn random<R: rand::RngCore + rand::CryptoRng + ?Sized>(rng: &mut R) -> Salt {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        Salt(b)
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex_encode(&self.0)
    }

    /// Parses 64 lowercase hex digits.
    pub fn from_hex(s: &str) -> Option<Salt> {
        parse_lower_hex(s).map(Salt)
    }
}

impl fmt::Debug for Salt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Salt({})", hex_encode(&self.0))
    }
}

impl Serialize for Salt {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex_encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for Salt {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Salt::from_hex(&s)
            .ok_or_else(|| serde::de::Error::custom("salt is not 64 lowercase hex digits"))
    }
}

/// The constant `"type"` field: a domain label inside the leaf data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum EntryKind {
    #[serde(rename = "sanctuary.log.entry")]
    Entry,
}

/// One log entry, as hashed into the Merkle tree.
///
/// Canonical encoding ([`Entry::to_bytes`]): compact JSON (no whitespace) with
/// the fields in this order, optional fields present as `null`:
///
/// ```text
/// {"type":"sanctuary.log.entry","version":2,"seq":0,"time_ms":1700000000000,
///  "proposer":0,"operation":"enroll","outcome":"performed",
///  "relying_party":"aid-org","purpose":"dedupe","request":"<32 hex>",
///  "audit_tag":{"nonce":"<32 hex>","tag":"<64 hex>"},"salt":"<64 hex>"}
/// ```
///
/// Enrollment entries end with `"share_commitments":["<64 hex>" x3]`, and
/// deletions that erased earlier entries with `"erases":[3,7]`; other
/// entries omit the fields (a `null` there is not canonical).
///
/// The Merkle leaf is not these bytes but their salted hash
/// ([`Entry::commitment`]), so a body can be dropped later ([`Erased`])
/// while every proof still verifies.
///
/// [`Entry::from_bytes`] accepts only this form: unknown fields, other
/// versions and any non-canonical spelling (whitespace, key order, escapes)
/// are rejected, so equal entries always hash equally on every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    #[serde(rename = "type")]
    kind: EntryKind,
    version: Version,
    /// Sequence number = leaf index in the Merkle tree.
    pub seq: u64,
    /// Milliseconds since the Unix epoch, from the proposing node's clock.
    pub time_ms: u64,
    /// The node that proposed the entry.
    pub proposer: PartyId,
    /// What happened.
    pub operation: Operation,
    /// Whether it ran.
    pub outcome: Outcome,
    /// Relying party, if any.
    pub relying_party: Option<String>,
    /// Declared purpose, if any.
    pub purpose: Option<String>,
    /// Opaque request id.
    pub request: RequestId,
    /// The subject's blinded tag, if the operation has a subject.
    pub audit_tag: Option<AuditTag>,
    /// The salt hashed with the body.
    pub salt: Salt,
    /// Enrollments only: commitments to the three share components. Absent
    /// (not `null`) on every other entry, so their encoding is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_commitments: Option<Vec<String>>,
    /// Deletions with erasure only: the sequence numbers of the subject's
    /// entries whose bodies this deletion erased. Absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erases: Option<Vec<u64>>,
}

/// The version field; deserialising any other value than
/// [`ENTRY_VERSION`] fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(transparent)]
struct Version(u64);

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u64::deserialize(d)?;
        if v == ENTRY_VERSION {
            Ok(Version(v))
        } else {
            Err(serde::de::Error::custom(format_args!(
                "log entry version {v} is not supported (expected {ENTRY_VERSION})"
            )))
        }
    }
}

#[derive(Deserialize)]
struct VersionProbe {
    version: u64,
}

impl Entry {
    /// The format version (always [`ENTRY_VERSION`] for a decoded entry).
    pub fn version(&self) -> u64 {
        self.version.0
    }

    /// The canonical bytes (what the body commitment hashes).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Invariant: serialising this struct cannot fail (no maps with
        // non-string keys, no failing Serialize impls).
        serde_json::to_vec(self)
            .unwrap_or_else(|_| unreachable!("entry serialisation is infallible"))
    }

    /// Parses canonical bytes; rejects anything [`Entry::to_bytes`] would not
    /// produce.
    pub fn from_bytes(bytes: &[u8]) -> Result<Entry, FormatError> {
        let probe: VersionProbe = serde_json::from_slice(bytes).map_err(FormatError::EntryJson)?;
        if probe.version != ENTRY_VERSION {
            return Err(FormatError::EntryVersion {
                found: probe.version,
                expected: ENTRY_VERSION,
            });
        }
        let entry: Entry = serde_json::from_slice(bytes).map_err(FormatError::EntryJson)?;
        if entry.to_bytes() != bytes {
            return Err(FormatError::EntryNotCanonical);
        }
        Ok(entry)
    }

    /// The body commitment: `SHA-256(ENTRY_COMMITMENT_DOMAIN || to_bytes())`.
    /// The bytes include the random salt, so once the body is gone the
    /// commitment cannot be opened by guessing it.
    pub fn commitment(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(ENTRY_COMMITMENT_DOMAIN);
        h.update(self.to_bytes());
        Hash(h.finalize().into())
    }

    /// The Merkle leaf hash: `SHA-256(0x00 || commitment())`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.commitment().0)
    }

    /// What is left of this entry once deletion `by` erased its body.
    pub fn erased(&self, by: u64) -> Erased {
        Erased {
            kind: ErasedKind::Erased,
            version: Version(ENTRY_VERSION),
            seq: self.seq,
            commitment: self.commitment(),
            erased_by: by,
        }
    }
}

/// The constant `"type"` field of an erased leaf.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum ErasedKind {
    #[serde(rename = "sanctuary.log.erased")]
    Erased,
}

/// A leaf whose body was erased at the subject's request: the commitment
/// stays (so proofs and checkpoints still verify), with the deletion that
/// erased it.
///
/// Canonical encoding:
/// `{"type":"sanctuary.log.erased","version":2,"seq":3,"commitment":"<64 hex>","erased_by":9}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erased {
    #[serde(rename = "type")]
    kind: ErasedKind,
    version: Version,
    /// Sequence number = leaf index.
    pub seq: u64,
    /// The erased entry's body commitment ([`Entry::commitment`]).
    pub commitment: Hash,
    /// The deletion entry whose subject asked for the erasure.
    pub erased_by: u64,
}

impl Erased {
    /// The Merkle leaf hash (equal to the erased entry's).
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.commitment.0)
    }
}

/// One leaf of the log as stored and served: an entry, or what is left of
/// it after erasure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Leaf {
    /// The entry, body and salt present.
    Entry(Entry),
    /// The body was erased.
    Erased(Erased),
}

#[derive(Deserialize)]
struct TypeProbe {
    #[serde(rename = "type")]
    kind: String,
}

impl Leaf {
    /// The leaf index.
    pub fn seq(&self) -> u64 {
        match self {
            Leaf::Entry(e) => e.seq,
            Leaf::Erased(e) => e.seq,
        }
    }

    /// The Merkle leaf hash.
    pub fn leaf_hash(&self) -> Hash {
        match self {
            Leaf::Entry(e) => e.leaf_hash(),
            Leaf::Erased(e) => e.leaf_hash(),
        }
    }

    /// The entry, unless it was erased.
    pub fn entry(&self) -> Option<&Entry> {
        match self {
            Leaf::Entry(e) => Some(e),
            Leaf::Erased(_) => None,
        }
    }

    /// The canonical bytes (stored and served).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Leaf::Entry(e) => e.to_bytes(),
            // Invariant: as for entries, serialising cannot fail.
            Leaf::Erased(e) => serde_json::to_vec(e)
                .unwrap_or_else(|_| unreachable!("erased leaf serialisation is infallible")),
        }
    }

    /// Parses either canonical form; rejects anything else.
    pub fn from_bytes(bytes: &[u8]) -> Result<Leaf, FormatError> {
        let probe: TypeProbe = serde_json::from_slice(bytes).map_err(FormatError::EntryJson)?;
        if probe.kind != "sanctuary.log.erased" {
            return Entry::from_bytes(bytes).map(Leaf::Entry);
        }
        let v: VersionProbe = serde_json::from_slice(bytes).map_err(FormatError::EntryJson)?;
        if v.version != ENTRY_VERSION {
            return Err(FormatError::EntryVersion {
                found: v.version,
                expected: ENTRY_VERSION,
            });
        }
        let erased: Erased = serde_json::from_slice(bytes).map_err(FormatError::EntryJson)?;
        let leaf = Leaf::Erased(erased);
        if leaf.to_bytes() != bytes {
            return Err(FormatError::EntryNotCanonical);
        }
        Ok(leaf)
    }
}
