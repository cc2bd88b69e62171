//! Messages of the client API (JSON over HTTP) and of the node-to-node
//! control channel. Every struct refuses unknown fields, so a request with a
//! misspelt field fails loudly instead of being half-understood.

use sanctuary_store::EnrollmentId;
use sanctuary_template::TemplateKind;
use serde::{Deserialize, Serialize};

use crate::seal::SealedBox;

/// `POST /v1/enroll`: shares of a new template, each sealed to its node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// Client-chosen unique id (32 hex characters); binds the sealed boxes.
    pub request_id: String,
    /// Template kind.
    pub kind: TemplateKind,
    /// One sealed share per party, in party order.
    pub shares: Vec<SealedBox>,
    /// Optional opaque subject handle (e.g. the subject's public key).
    #[serde(default)]
    pub subject: Option<String>,
}

/// Result of an enrollment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnrollStatus {
    /// Stored on all three nodes.
    Enrolled,
    /// Refused: the template matches an existing enrollment.
    AlreadyEnrolled,
}

/// Response to `POST /v1/enroll`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollResponse {
    /// Outcome.
    pub status: EnrollStatus,
    /// The new enrollment's id (when enrolled).
    pub enrollment_id: Option<EnrollmentId>,
    /// Sequence number of the operation in the network's order.
    pub seq: u64,
}

/// `POST /v1/verify` (1:1) and `POST /v1/dedupe` (1:N).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchRequest {
    /// Client-chosen unique id (32 hex characters).
    pub request_id: String,
    /// Template kind.
    pub kind: TemplateKind,
    /// For verify: the enrollment to compare with. Absent for dedupe.
    #[serde(default)]
    pub enrollment_id: Option<EnrollmentId>,
    /// One sealed probe share per party.
    pub shares: Vec<SealedBox>,
    /// The client's X25519 key (base64): each node seals its share of the
    /// decision bit to it, so only the client learns the decision.
    pub client_key: String,
}

/// Response to a match: each node's sealed share of the decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchResponse {
    /// Sequence number of the operation.
    pub seq: u64,
    /// Sealed decision shares, in party order.
    pub results: Vec<SealedBox>,
}

/// `POST /v1/delete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// Client-chosen unique id.
    pub request_id: String,
    /// The enrollment to delete.
    pub enrollment_id: EnrollmentId,
}

/// Response to `POST /v1/delete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteResponse {
    /// Sequence number of the operation.
    pub seq: u64,
    /// True: the shares are gone from all three nodes.
    pub deleted: bool,
}

/// An API error body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code.
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
}

/// An operation as the coordinator announces it to the other nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Op {
    /// Dedupe, then store if unique.
    Enroll {
        /// Kind.
        kind: TemplateKind,
        /// Id the enrollment gets.
        enrollment_id: EnrollmentId,
        /// Optional subject handle.
        subject: Option<String>,
    },
    /// 1:1 comparison with one enrollment.
    Verify {
        /// Kind.
        kind: TemplateKind,
        /// The enrollment.
        enrollment_id: EnrollmentId,
    },
    /// 1:N "already enrolled?".
    Dedupe {
        /// Kind.
        kind: TemplateKind,
    },
    /// Removal of an enrollment's shares.
    Delete {
        /// The enrollment.
        enrollment_id: EnrollmentId,
    },
}

impl Op {
    /// Short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Enroll { .. } => "enroll",
            Op::Verify { .. } => "verify",
            Op::Dedupe { .. } => "dedupe",
            Op::Delete { .. } => "delete",
        }
    }
}

/// Control message from the coordinator: run operation `seq`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpStart {
    /// Position in the network's order.
    pub seq: u64,
    /// Client request id.
    pub request_id: String,
    /// Coordinator's clock (ms since the epoch), recorded in the op log.
    pub time_ms: u64,
    /// The operation.
    pub op: Op,
    /// The recipient node's sealed share, if the op carries one.
    pub share: Option<SealedBox>,
    /// Where decision shares are sealed to.
    pub client_key: Option<String>,
}

/// First message of every operation session: each node's position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Next sequence number.
    pub next_seq: u64,
    /// Hash of the last applied op (hex).
    pub head: String,
    /// The op this node is about to run (hex hash of its OpStart), so a
    /// node given a different op by a faulty coordinator is caught.
    pub op_digest: String,
}

/// Last message of an operation: a follower's result, to the coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpDone {
    /// The sealed decision share, for match ops.
    pub result: Option<SealedBox>,
}

/// What the op log records for an operation (no template data).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogRecord {
    /// Record format version.
    pub version: u32,
    /// Sequence number.
    pub seq: u64,
    /// Coordinator time (ms).
    pub time_ms: u64,
    /// The operation.
    pub op: Op,
    /// Outcome in words ("enrolled", "already_enrolled", "matched-shares-sent", "deleted").
    pub outcome: String,
}
