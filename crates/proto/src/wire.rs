//! Messages of the client API (JSON over HTTP) and of the node-to-node
//! control channel. Every struct refuses unknown fields, so a request with a
//! misspelt field fails loudly instead of being half-understood. Control
//! messages carry [`CONTROL_VERSION`]; a node refuses a message of another
//! version by name rather than misreading it.

use crate::EnrollmentId;
use sanctuary_consent::{
    AuditTag, DeletionRequest, EnrollmentStatement, Revocation, SignedStatement,
};
use sanctuary_template::TemplateKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::seal::SealedBox;

/// `POST /v1/enroll`: shares of a new template, each sealed to its node,
/// with the subject's signed consent to be enrolled.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// Client-chosen unique id (32 hex characters); binds the sealed boxes.
    pub request_id: String,
    /// Template kind.
    pub kind: TemplateKind,
    /// One sealed share per party, in party order.
    pub shares: Vec<SealedBox>,
    /// The enrollment site (relying party id).
    pub site: String,
    /// The subject's signed enrollment statement; its template commitment
    /// must be [`enrollment_commitment`] of this request. The enrollment is
    /// bound to the statement's key.
    pub statement: SignedStatement<EnrollmentStatement>,
    /// The subject's blinded audit tag for the log entry.
    #[serde(default)]
    pub audit_tag: Option<AuditTag>,
    /// [`component_commitment`] of each share component `x_0, x_1, x_2`
    /// (64 hex each, component order). Covered by the statement's template
    /// commitment and written to the log entry, so every node checks the
    /// two components it was given, and a node rebuilding its share later
    /// (catch-up) checks the components its peers send.
    pub components: Vec<String>,
}

/// The template commitment an enrollment statement must carry: it binds the
/// subject's signature to this one request, to the three sealed shares
/// ([`SealedBox::digest`], in party order) and to the three share
/// components ([`component_commitment`]), so neither the coordinator, nor
/// anyone on the path, nor a peer serving a catch-up can replace a node's
/// share of the template (the nodes cannot see the template itself).
pub fn enrollment_commitment(
    request_id: &str,
    kind: TemplateKind,
    share_digests: &[[u8; 32]],
    components: &[[u8; 32]],
) -> [u8; 32] {
    let mut h = Sha256::new()
        .chain_update(b"sanctuary/enroll/v3\0")
        .chain_update(request_id.as_bytes())
        .chain_update(b"\0")
        .chain_update(kind.to_string().as_bytes());
    for d in share_digests {
        h.update(b"\0");
        h.update(d);
    }
    h.update(b"\0components");
    for c in components {
        h.update(b"\0");
        h.update(c);
    }
    h.finalize().into()
}

/// Commitment to share component `x_j` (its bytes as in
/// [`crate::share_to_bytes`], one half of a share) of enrollment request
/// `request_id`. A component alone is uniformly random, so its hash reveals
/// nothing about the template; it is public in the log entry.
pub fn component_commitment(
    request_id: &str,
    component: sanctuary_share::PartyId,
    bytes: &[u8],
) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"sanctuary/share-component/v1\0")
        .chain_update(request_id.as_bytes())
        .chain_update([0, component.index() as u8])
        .chain_update(bytes)
        .finalize()
        .into()
}

/// Parses the three hex component commitments of an enrollment.
pub fn parse_components(hexes: &[String]) -> Option<[[u8; 32]; 3]> {
    let parsed: Vec<[u8; 32]> = hexes
        .iter()
        .map(|h| hex::decode(h).ok().and_then(|b| b.try_into().ok()))
        .collect::<Option<_>>()?;
    parsed.try_into().ok()
}

/// A node's decision share for the client, sealed to the client's key and
/// signed by the node's identity key (pinned in the network file) over
/// [`result_message`], so a share re-sealed or forged on the way is
/// rejected by the client, naming the node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedResult {
    /// The node.
    pub party: sanctuary_share::PartyId,
    /// Its decision share, sealed to the client's key.
    pub sealed: SealedBox,
    /// Ed25519 signature (base64) over [`result_message`].
    pub signature: String,
}

/// What a node signs for one decision share: the request, the node, the
/// client key it sealed to, the digests of the three probe shares the
/// computation used (as announced, party order), and the box. A client
/// accepts a decision only if every node's signature names its own key and
/// the boxes it made: a coordinator that swapped either is caught.
pub fn result_message(
    request_id: &str,
    party: sanctuary_share::PartyId,
    client_key: &str,
    share_digests: &[String],
    sealed: &SealedBox,
) -> Vec<u8> {
    let mut m = b"sanctuary/result/v1\0".to_vec();
    m.extend_from_slice(request_id.as_bytes());
    m.push(0);
    m.extend_from_slice(party.to_string().as_bytes());
    m.push(0);
    m.extend_from_slice(client_key.as_bytes());
    for d in share_digests {
        m.push(0);
        m.extend_from_slice(d.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&sealed.digest());
    m
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

/// The template commitment a deletion request for one enrollment carries.
pub fn deletion_commitment(id: &EnrollmentId) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"sanctuary/delete/v1\0")
        .chain_update(id.0)
        .finalize()
        .into()
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
    /// The relying party asking (the consent token's audience).
    pub relying_party: String,
    /// The subject's consent token (Biscuit, base64).
    pub token: String,
    /// Dedupe only: the subject's public key (hex) the token is checked
    /// against. (Verify uses the key the enrollment is bound to.)
    #[serde(default)]
    pub subject: Option<String>,
}

/// Response to a match: each node's sealed share of the decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchResponse {
    /// Sequence number of the operation.
    pub seq: u64,
    /// Each node's signed, sealed decision share, in party order.
    pub results: Vec<SignedResult>,
}

/// `POST /v1/delete`: the subject's signed deletion request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRequest {
    /// Client-chosen unique id.
    pub request_id: String,
    /// The enrollment to delete.
    pub enrollment_id: EnrollmentId,
    /// Signed by the key the enrollment is bound to.
    pub statement: SignedStatement<DeletionRequest>,
    /// The subject's blinded audit tag for the log entry.
    #[serde(default)]
    pub audit_tag: Option<AuditTag>,
    /// Erase the bodies of these earlier log entries of the subject's along
    /// with the enrollment (the right to erasure reaches the public log).
    #[serde(default)]
    pub erase: Option<Erasure>,
}

/// The digest of the notice a subject is shown before enrollment: each
/// node's notice text, party order,
/// `SHA-256("sanctuary/notice/v1" || (u32 length || text) x3)`.
pub fn notice_digest(texts: &[String]) -> [u8; 32] {
    let mut h = Sha256::new().chain_update(b"sanctuary/notice/v1");
    for t in texts {
        let len = u32::try_from(t.len()).unwrap_or(u32::MAX);
        h.update(len.to_be_bytes());
        h.update(t.as_bytes());
    }
    h.finalize().into()
}

/// Most log entries one deletion erases.
pub const MAX_ERASE: usize = 10_000;

/// A subject's request to erase the bodies of their earlier log entries.
///
/// The wallet reveals its audit key so that each node can check, alone,
/// that every listed entry carries a tag of that key: nobody can erase
/// someone else's record. Revealing it lets the nodes link the subject's
/// entries, which are being erased; the key is used for this check only
/// and never stored or logged.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Erasure {
    /// The wallet's audit key.
    pub audit_key: RevealedAuditKey,
    /// Sequence numbers of the entries to erase, ascending, no repeats, at
    /// most [`MAX_ERASE`].
    pub seqs: Vec<u64>,
}

/// An audit key revealed for an erasure: 64 lowercase hex on the wire,
/// wiped on drop, `<redacted>` in debug output.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct RevealedAuditKey([u8; 32]);

impl RevealedAuditKey {
    /// Reveals `key`.
    pub fn reveal(key: &sanctuary_log::AuditKey) -> Self {
        RevealedAuditKey(*key.to_bytes())
    }

    /// The key, to check tags with.
    pub fn key(&self) -> sanctuary_log::AuditKey {
        sanctuary_log::AuditKey::from_bytes(self.0)
    }
}

impl std::fmt::Debug for RevealedAuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RevealedAuditKey(<redacted>)")
    }
}

impl Serialize for RevealedAuditKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for RevealedAuditKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = zeroize::Zeroizing::new(String::deserialize(d)?);
        let mut b = zeroize::Zeroizing::new([0u8; 32]);
        if s.len() != 64
            || s.bytes().any(|c| c.is_ascii_uppercase())
            || hex::decode_to_slice(s.as_bytes(), &mut b[..]).is_err()
        {
            return Err(serde::de::Error::custom(
                "audit key is not 64 lowercase hex digits",
            ));
        }
        Ok(RevealedAuditKey(*b))
    }
}

/// Response to `POST /v1/delete`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteResponse {
    /// Sequence number of the operation.
    pub seq: u64,
    /// True: the shares are gone from every node that honours the request
    /// (at least two of three; the log entry names a node that refused).
    pub deleted: bool,
    /// The log entries whose bodies were erased with it.
    #[serde(default)]
    pub erased: Vec<u64>,
}

/// `POST /v1/revoke`: the subject's signed revocation of one token or of all
/// tokens issued before a time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// Client-chosen unique id.
    pub request_id: String,
    /// The signed revocation.
    pub statement: SignedStatement<Revocation>,
    /// The subject's blinded audit tag for the log entry.
    #[serde(default)]
    pub audit_tag: Option<AuditTag>,
}

/// `POST /v1/festival/record`: record a festival check-in in the log before
/// the nodes evaluate the pseudonym.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FestivalRecordRequest {
    /// Client-chosen unique id.
    pub request_id: String,
    /// The event.
    pub event: String,
    /// The subject's signed request (`action` = `evaluate`, `target` = event).
    pub authorization: SignedStatement<sanctuary_weave::WeaveRequest>,
    /// The subject's blinded audit tag.
    #[serde(default)]
    pub audit_tag: Option<AuditTag>,
}

/// `POST /v1/identify`: open 1:N identification ("who is this?"). Exists so
/// that such a request is refused by policy, with the rule named, and the
/// attempt recorded in the log; it never runs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifyRequest {
    /// Client-chosen unique id.
    pub request_id: String,
    /// Who asks.
    pub relying_party: String,
}

/// Response of an operation that only records (revocation).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeqResponse {
    /// Sequence number of the operation.
    pub seq: u64,
}

/// `GET /v1/log/entries`: entries as their canonical JSON text (hash these
/// bytes, not a re-encoding).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesResponse {
    /// First sequence number.
    pub start: u64,
    /// Canonical entry texts, in order.
    pub entries: Vec<String>,
}

/// An API error body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Machine-readable code (for refusals: the policy rule or token check).
    pub error: String,
    /// Human-readable explanation.
    pub message: String,
    /// For refusals: the node that refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<sanctuary_share::PartyId>,
}

/// An operation as the coordinator announces it to the other nodes. It
/// carries everything each node needs to check consent and policy itself
/// (tokens, signed statements), so one honest node can veto it. Each kind
/// is its own struct, so the node can give each one a module of its own.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Dedupe, then store if unique.
    Enroll(EnrollOp),
    /// 1:1 comparison with one enrollment.
    Verify(VerifyOp),
    /// 1:N "already enrolled?".
    Dedupe(DedupeOp),
    /// Removal of an enrollment's shares at its subject's request.
    Delete(DeleteOp),
    /// Deletion of an enrollment whose retention period ran out.
    Expire(ExpireOp),
    /// A festival check-in, recorded before any node evaluates it.
    FestivalCheckin(FestivalCheckinOp),
    /// A subject's revocation of consent tokens.
    Revoke(RevokeOp),
    /// Open identification: always refused, recorded.
    Identify(IdentifyOp),
    /// A cosigning round: every node signs the current tree head. Not an
    /// entry of the log.
    Cosign(CosignOp),
}

/// Dedupe, then store if unique.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollOp {
    /// Kind.
    pub kind: TemplateKind,
    /// Id the enrollment gets.
    pub enrollment_id: EnrollmentId,
    /// The enrollment site.
    pub site: String,
    /// The subject's signed statement.
    pub statement: SignedStatement<EnrollmentStatement>,
    /// Audit tag for the entry.
    pub audit_tag: Option<AuditTag>,
    /// Commitments to the three share components (see
    /// [`EnrollRequest::components`]).
    pub components: Vec<String>,
}

/// 1:1 comparison with one enrollment.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyOp {
    /// Kind.
    pub kind: TemplateKind,
    /// The enrollment.
    pub enrollment_id: EnrollmentId,
    /// Who asks.
    pub relying_party: String,
    /// Consent token.
    pub token: String,
}

/// 1:N "already enrolled?".
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DedupeOp {
    /// Kind.
    pub kind: TemplateKind,
    /// The enrollment site asking.
    pub relying_party: String,
    /// The subject's key (hex).
    pub subject: String,
    /// Consent token.
    pub token: String,
}

/// Removal of an enrollment's shares.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteOp {
    /// The enrollment.
    pub enrollment_id: EnrollmentId,
    /// The subject's signed request.
    pub statement: SignedStatement<DeletionRequest>,
    /// Audit tag for the entry.
    pub audit_tag: Option<AuditTag>,
    /// The subject's erasure of their earlier entries, if asked for.
    #[serde(default)]
    pub erase: Option<Erasure>,
}

/// Deletion of an enrollment whose retention period ran out (the
/// coordinator's sweeper proposes it; every node checks the expiry against
/// its own record of the last use).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpireOp {
    /// The enrollment.
    pub enrollment_id: EnrollmentId,
}

/// A subject asks for their festival pseudonym for `event`: recorded in the
/// log (their audit trail) before any node evaluates it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FestivalCheckinOp {
    /// The event.
    pub event: String,
    /// The subject's signed request (the one the nodes' evaluation checks).
    pub authorization: SignedStatement<sanctuary_weave::WeaveRequest>,
    /// Audit tag for the entry.
    pub audit_tag: Option<AuditTag>,
}

/// A subject's revocation of consent tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevokeOp {
    /// The signed revocation.
    pub statement: SignedStatement<Revocation>,
    /// Audit tag for the entry.
    pub audit_tag: Option<AuditTag>,
}

/// Open identification: always refused, recorded.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentifyOp {
    /// Who asks.
    pub relying_party: String,
}

/// A cosigning round (no fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CosignOp {}

impl Op {
    /// Short name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Enroll(_) => "enroll",
            Op::Verify(_) => "verify",
            Op::Dedupe(_) => "dedupe",
            Op::Delete(_) => "delete",
            Op::Expire(_) => "expire",
            Op::FestivalCheckin(_) => "festival_checkin",
            Op::Revoke(_) => "revoke",
            Op::Identify(_) => "identify",
            Op::Cosign(_) => "cosign",
        }
    }
}

/// Version of the node-to-node control messages ([`OpStart`], [`Position`],
/// [`OpDone`]) and of the digests over them.
pub const CONTROL_VERSION: u16 = 2;

/// Control message from the coordinator: run operation `seq`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpStart {
    /// [`CONTROL_VERSION`] of the sender.
    pub v: u16,
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
    /// Digests of the three sealed shares the client sent (hex, party
    /// order; empty for ops without shares): every node sees the same list
    /// (it is in [`op_digest`]) and checks its own box against it.
    #[serde(default)]
    pub share_digests: Vec<String>,
    /// Where decision shares are sealed to.
    pub client_key: Option<String>,
    /// The salt of the op's log entry (drawn by the coordinator; the same
    /// for every node, and in [`op_digest`]).
    pub log_salt: sanctuary_log::Salt,
}

/// First message of every operation session: each node's position and its
/// own consent/policy verdict on the op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// [`CONTROL_VERSION`] of the sender.
    pub v: u16,
    /// Next sequence number (the log's size).
    pub next_seq: u64,
    /// Root of the log (hex).
    pub head: String,
    /// The op this node is about to run (hex hash of its OpStart), so a
    /// node given a different op by a faulty coordinator is caught.
    pub op_digest: String,
    /// This node's refusal, if it refuses the op.
    #[serde(default)]
    pub refusal: Option<Refusal>,
}

impl Position {
    /// Whether two nodes stand at the same place for the same op (verdicts
    /// may differ: that is a veto, not a fault).
    pub fn same_place(&self, other: &Position) -> bool {
        self.v == other.v
            && self.next_seq == other.next_seq
            && self.head == other.head
            && self.op_digest == other.op_digest
    }
}

/// A node's refusal of an op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refusal {
    /// Stable code (policy rule id or `token_*` / `statement_*`).
    pub code: crate::RefusalCode,
    /// Explanation (no secrets, no subject identity).
    pub message: String,
}

/// Last message of an operation: a follower's result, to the coordinator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpDone {
    /// [`CONTROL_VERSION`] of the sender.
    pub v: u16,
    /// The signed, sealed decision share, for match ops.
    pub result: Option<SignedResult>,
}

/// Domain label of [`op_digest`].
const OP_DIGEST_LABEL: &[u8] = b"sanctuary/op-digest/v1\0";

/// The digest of an announced op that the position check compares: the
/// parts every node sees identically (shares differ per node), under its
/// own domain label. The JSON is canonical: `serde_json`'s maps keep their
/// keys sorted, and every node encodes the same typed value.
pub fn op_digest(start: &OpStart) -> String {
    let canon = serde_json::json!({
        "v": start.v, "seq": start.seq, "request_id": start.request_id,
        "time_ms": start.time_ms, "op": start.op, "client_key": start.client_key,
        "share_digests": start.share_digests, "log_salt": start.log_salt,
    });
    let d = Sha256::new()
        .chain_update(OP_DIGEST_LABEL)
        .chain_update(canon.to_string().as_bytes())
        .finalize();
    hex::encode(d)
}

/// Session id of an operation: unique per (seq, request), never the control
/// session (0) nor the heartbeat session.
pub fn session_id(seq: u64, request_id: &str) -> u64 {
    let h = Sha256::new()
        .chain_update(b"sanctuary-session-v1")
        .chain_update(seq.to_be_bytes())
        .chain_update(request_id.as_bytes())
        .finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&h[..8]);
    (u64::from_be_bytes(b) >> 2) + 1
}

/// Session id of the coordinator's control channel.
pub const CONTROL_SESSION: u64 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ops_keep_their_v1_json_shape_and_refuse_unknown_fields() {
        let op = Op::Identify(IdentifyOp {
            relying_party: "rp.example".into(),
        });
        let j = serde_json::to_string(&op).unwrap();
        assert_eq!(j, r#"{"op":"identify","relying_party":"rp.example"}"#);
        assert!(matches!(
            serde_json::from_str::<Op>(&j).unwrap(),
            Op::Identify(_)
        ));
        let extra = r#"{"op":"identify","relying_party":"rp","sneaky":1}"#;
        assert!(serde_json::from_str::<Op>(extra).is_err());
        let cosign = serde_json::to_string(&Op::Cosign(CosignOp {})).unwrap();
        assert_eq!(cosign, r#"{"op":"cosign"}"#);
        assert!(matches!(
            serde_json::from_str::<Op>(&cosign).unwrap(),
            Op::Cosign(_)
        ));
    }

    #[test]
    fn op_digest_is_domain_separated_and_binds_every_field() {
        let start = |seq, rid: &str| OpStart {
            v: CONTROL_VERSION,
            seq,
            request_id: rid.into(),
            time_ms: 7,
            op: Op::Cosign(CosignOp {}),
            share: None,
            share_digests: Vec::new(),
            client_key: None,
            log_salt: sanctuary_log::Salt([3; 32]),
        };
        let d = op_digest(&start(1, "a"));
        assert_eq!(d, op_digest(&start(1, "a")));
        assert_ne!(d, op_digest(&start(2, "a")));
        assert_ne!(d, op_digest(&start(1, "b")));
        let mut salted = start(1, "a");
        salted.log_salt = sanctuary_log::Salt([4; 32]);
        assert_ne!(d, op_digest(&salted));
        let canon = serde_json::json!({
            "v": CONTROL_VERSION, "seq": 1, "request_id": "a", "time_ms": 7,
            "op": Op::Cosign(CosignOp {}), "client_key": null, "share_digests": [],
        });
        // Without the label the digest would be this plain hash.
        assert_ne!(d, hex::encode(Sha256::digest(canon.to_string().as_bytes())));
    }
}
