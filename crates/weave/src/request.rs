//! What the holder sends the nodes, and the nodes' checks.
//!
//! The holder is the FROST coordinator: it asks two nodes for round-1
//! commitments, builds the signing package over its draft's signing input,
//! asks the same two for signature shares, and aggregates. Every sign and
//! evaluate request carries a [`WeaveRequest`] statement signed with the
//! subject's wallet key (the key the enrollment is bound to), in the
//! `sanctuary-consent` signed-statement format:
//!
//! ```text
//! WeaveRequest fields (after the statement prefix, domain and subject key):
//!   lp(network) || lp(timestamp i64 BE) || lp(action: "sign" | "evaluate") || lp(target)
//! target = hex(SHA-256(signing input)) for "sign", the event name for "evaluate"
//! ```
//!
//! A node serves the request only if the statement verifies, is fresh
//! ([`MAX_REQUEST_AGE`]), names this network, the action and the exact
//! target, and its subject has an enrollment on this node (checked by the
//! node against its store).

use frost_ed25519::SigningPackage;
use frost_ed25519::round1::SigningCommitments;
use frost_ed25519::round2::SignatureShare;
use sanctuary_consent::{NetworkId, SignedStatement, Statement, Wallet};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};

use crate::credential::{DraftKind, check_draft};
use crate::prf::Evaluation;
use crate::{WeaveError, WeavePublic};

/// How old a request statement may be: 2 minutes.
pub const MAX_REQUEST_AGE: Duration = Duration::minutes(2);

/// The holder's signed request to a node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeaveRequest {
    /// The network addressed.
    pub network: NetworkId,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// `sign` or `evaluate`.
    pub action: String,
    /// What exactly: see the module docs.
    pub target: String,
}

impl Statement for WeaveRequest {
    const DOMAIN: &'static str = "sanctuary/weave/request/v1";

    fn encode(&self, enc: &mut sanctuary_consent::statement::Encoder) {
        enc.field(self.network.as_str().as_bytes())
            .time(self.timestamp)
            .field(self.action.as_bytes())
            .field(self.target.as_bytes());
    }

    fn network(&self) -> &NetworkId {
        &self.network
    }

    fn timestamp(&self) -> OffsetDateTime {
        self.timestamp
    }
}

/// `sign` target of a signing input.
pub fn sign_target(signing_input: &str) -> String {
    hex::encode(Sha256::digest(signing_input.as_bytes()))
}

/// Signs a request with the subject's wallet.
pub fn authorize(
    wallet: &Wallet,
    network: &NetworkId,
    action: &str,
    target: &str,
    now: OffsetDateTime,
) -> SignedStatement<WeaveRequest> {
    SignedStatement::sign(
        wallet,
        WeaveRequest {
            network: network.clone(),
            timestamp: now,
            action: action.to_owned(),
            target: target.to_owned(),
        },
    )
}

/// Round 1 answer of a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitResponse {
    /// Opaque id of the nonces the node keeps for round 2.
    pub session: String,
    /// The node's share index (1..=3).
    pub index: u16,
    /// The node's nonce commitments.
    pub commitments: SigningCommitments,
}

/// Round 2 request to a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignRequest {
    /// The session from round 1.
    pub session: String,
    /// Commitments of the signers and the message (the draft's signing input).
    pub signing_package: SigningPackage,
    /// The subject's signed request (`action` = `sign`).
    pub authorization: SignedStatement<WeaveRequest>,
    /// For an admission: PRF evaluations from at least two nodes, so the
    /// node can check the pseudonym.
    #[serde(default)]
    pub evaluations: Vec<Evaluation>,
}

/// Round 2 answer of a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignResponse {
    /// The node's share index.
    pub index: u16,
    /// Its signature share.
    pub share: SignatureShare,
}

/// PRF evaluation request to a node.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluateRequest {
    /// The event.
    pub event: String,
    /// The subject's signed request (`action` = `evaluate`, `target` = event).
    pub authorization: SignedStatement<WeaveRequest>,
}

/// A subject whose request statement verified; still to be checked against
/// the node's enrollments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestSubject(pub String);

fn check_authorization(
    auth: &SignedStatement<WeaveRequest>,
    network: &NetworkId,
    action: &str,
    target: &str,
    now: OffsetDateTime,
) -> Result<RequestSubject, WeaveError> {
    let v = auth
        .verify(network, now, MAX_REQUEST_AGE)
        .map_err(|e| WeaveError::PayloadRefused(format!("request statement: {e}")))?;
    if v.statement().action != action || v.statement().target != target {
        return Err(WeaveError::PayloadRefused(
            "request statement is for another action or target".into(),
        ));
    }
    Ok(RequestSubject(auth.subject.to_hex()))
}

/// The node's check of a round-2 request, before it looks up the subject's
/// enrollment: the authorization, then the draft ([`check_draft`]), then for
/// an admission the pseudonym against the PRF evaluations of (event, subject).
pub fn check_sign_request(
    req: &SignRequest,
    network: &NetworkId,
    public: &WeavePublic,
    now: OffsetDateTime,
) -> Result<(RequestSubject, DraftKind), WeaveError> {
    let input = std::str::from_utf8(req.signing_package.message())
        .map_err(|_| WeaveError::PayloadRefused("message is not a JWS signing input".into()))?;
    let subject = check_authorization(
        &req.authorization,
        network,
        "sign",
        &sign_target(input),
        now,
    )?;
    let kind = check_draft(input, network.as_str(), now.unix_timestamp())?;
    if let DraftKind::Admission { event, pseudonym } = &kind {
        let expect = public.prf.pseudonym(event, &subject.0, &req.evaluations)?;
        if &expect != pseudonym {
            return Err(WeaveError::PayloadRefused(
                "pseudonym is not this subject's for this event".into(),
            ));
        }
    }
    Ok((subject, kind))
}

/// The node's check of an evaluate request (before the enrollment lookup).
pub fn check_evaluate_request(
    req: &EvaluateRequest,
    network: &NetworkId,
    now: OffsetDateTime,
) -> Result<RequestSubject, WeaveError> {
    if req.event.is_empty() || req.event.len() > crate::credential::MAX_EVENT_LEN {
        return Err(WeaveError::PayloadRefused(
            "event must be 1..=128 bytes".into(),
        ));
    }
    check_authorization(&req.authorization, network, "evaluate", &req.event, now)
}
