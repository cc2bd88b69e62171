//! Log entries and their canonical encoding.

use std::fmt;

use sanctuary_share::PartyId;
use serde::{Deserialize, Serialize};

use crate::audit::AuditTag;
use crate::error::FormatError;
use crate::hash::{Hash, hex_encode, leaf_hash, parse_lower_hex};

/// The entry format version this crate writes and accepts.
pub const ENTRY_VERSION: u64 = 1;

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
            share_commitments: self.share_commitments,
        }
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
/// {"type":"sanctuary.log.entry","version":1,"seq":0,"time_ms":1700000000000,
///  "proposer":0,"operation":"enroll","outcome":"performed",
///  "relying_party":"aid-org","purpose":"dedupe","request":"<32 hex>",
///  "audit_tag":{"nonce":"<32 hex>","tag":"<64 hex>"}}
/// ```
///
/// Enrollment entries end with `"share_commitments":["<64 hex>" x3]`;
/// other entries omit the field (a `null` there is not canonical).
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
    /// Enrollments only: commitments to the three share components. Absent
    /// (not `null`) on every other entry, so their encoding is unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share_commitments: Option<Vec<String>>,
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

    /// The canonical bytes (the Merkle leaf data).
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

    /// `SHA-256(0x00 || to_bytes())`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.to_bytes())
    }
}
