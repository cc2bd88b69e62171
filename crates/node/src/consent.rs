//! Consent and ethics-policy enforcement on every node.
//!
//! Each node checks every op itself, from the material the op carries (the
//! subject's token or signed statement) and its own state (the key each
//! enrollment is bound to, revocations, use counts). The verdicts are
//! exchanged at the start of the op session; one refusal vetoes the op on
//! all three nodes, and the refusal is what the log records. So a node whose
//! checks are switched off (a rogue operator) still cannot get a forbidden
//! op computed: the two others refuse to take part.

use std::sync::Arc;

use sanctuary_consent::{
    ConsentGate, ConsentToken, InMemoryReplayGuard, InMemoryRevocationStore, Policy,
    PolicyViolation, RelyingPartyId, Request, RevocationScope, Rule, SubjectPublicKey, SystemClock,
    TokenId,
};
use sanctuary_log::{AuditTag, Operation};
use sanctuary_store::{ConsentWrite, EnrollmentId, Loaded, RevocationRow, TokenUse};
use time::OffsetDateTime;

use crate::wire::{Op, Refusal, deletion_commitment, enrollment_commitment};

/// What the checks need to know of the node's enrollments.
pub(crate) trait Enrollments {
    /// The key an enrollment is bound to (`None` inside: bound to none) and
    /// its last use (ms); `None` if there is no such enrollment.
    fn enrollment(&self, id: &EnrollmentId) -> Option<(Option<String>, i64)>;
    /// Whether any enrollment is bound to `subject` (hex key).
    fn subject_enrolled(&self, subject: &str) -> bool;
}

/// A node's consent state: its gate (policy, rate limits) and the
/// revocations and use counts, restored from its database at start.
pub(crate) struct NodeConsent {
    gate: ConsentGate,
    revocations: Arc<InMemoryRevocationStore>,
}

impl std::fmt::Debug for NodeConsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConsent")
            .field("network", self.gate.policy().network())
            .finish_non_exhaustive()
    }
}

fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Puts stored revocations into the in-memory store the gate reads.
fn restore<'a>(store: &InMemoryRevocationStore, rows: impl IntoIterator<Item = &'a RevocationRow>) {
    for r in rows {
        match r {
            RevocationRow::Token { subject, token } => {
                if let Some(s) = parse_subject(subject) {
                    store.restore_token(s, TokenId::from_bytes(*token));
                }
            }
            RevocationRow::IssuedBefore { subject, before_ms } => {
                if let Some(s) = parse_subject(subject) {
                    store.restore_issued_before(s, from_ms(*before_ms));
                }
            }
        }
    }
}

/// Parses a subject key from hex.
pub(crate) fn parse_subject(hex_key: &str) -> Option<SubjectPublicKey> {
    let bytes: [u8; 32] = hex::decode(hex_key).ok()?.try_into().ok()?;
    SubjectPublicKey::from_bytes(bytes).ok()
}

fn refuse(e: sanctuary_consent::Error) -> Refusal {
    Refusal {
        code: e.code(),
        message: e.to_string(),
    }
}

fn refusal(code: &str, message: impl Into<String>) -> Refusal {
    Refusal {
        code: code.into(),
        message: message.into(),
    }
}

fn rp(id: &str) -> Result<RelyingPartyId, Refusal> {
    RelyingPartyId::new(id).map_err(|e| refusal("bad_relying_party", format!("relying party: {e}")))
}

/// What the log entry of an op says, derived from the op alone so that all
/// nodes write identical entries whatever their verdicts.
pub(crate) struct EntryFields {
    pub operation: Operation,
    pub relying_party: Option<String>,
    pub purpose: Option<String>,
    pub audit_tag: Option<AuditTag>,
}

pub(crate) fn entry_fields(op: &Op) -> EntryFields {
    let f = |operation, rp: Option<&str>, purpose: &str, audit_tag| EntryFields {
        operation,
        relying_party: rp.map(str::to_owned),
        purpose: Some(purpose.to_owned()),
        audit_tag,
    };
    match op {
        Op::Enroll {
            site, audit_tag, ..
        } => f(Operation::Enroll, Some(site), "enroll", *audit_tag),
        Op::Verify {
            relying_party,
            token,
            ..
        } => f(
            Operation::Verify,
            Some(relying_party),
            "verify",
            claimed_tag(token),
        ),
        Op::Dedupe {
            relying_party,
            token,
            ..
        } => f(
            Operation::Dedupe,
            Some(relying_party),
            "dedupe",
            claimed_tag(token),
        ),
        Op::Delete { audit_tag, .. } => f(Operation::Delete, None, "delete", *audit_tag),
        Op::Expire { .. } => f(Operation::Delete, None, "retention", None),
        Op::FestivalCheckin {
            event, audit_tag, ..
        } => f(
            Operation::FestivalCheckin,
            Some(event),
            "festival_checkin",
            *audit_tag,
        ),
        Op::Revoke { audit_tag, .. } => {
            f(Operation::RevokeConsent, None, "revoke_consent", *audit_tag)
        }
        Op::Identify { relying_party } => {
            f(Operation::Identify, Some(relying_party), "identify", None)
        }
        Op::Cosign => EntryFields {
            operation: Operation::PolicyChange,
            relying_party: None,
            purpose: None,
            audit_tag: None,
        },
    }
}

fn claimed_tag(token: &str) -> Option<AuditTag> {
    ConsentToken::from_base64(token)
        .ok()
        .and_then(|t| t.claimed_audit_tag())
}

impl NodeConsent {
    /// The gate over `policy`, with the state `loaded` from the database.
    pub(crate) fn new(policy: Policy, loaded: &Loaded) -> Self {
        let revocations = Arc::new(InMemoryRevocationStore::new());
        let replay = Arc::new(InMemoryReplayGuard::new());
        for u in &loaded.token_uses {
            if let Some(s) = parse_subject(&u.subject) {
                replay.restore(
                    s,
                    TokenId::from_bytes(u.token),
                    u.uses,
                    from_ms(u.expires_ms),
                );
            }
        }
        restore(&revocations, &loaded.revocations);
        let gate = ConsentGate::new(
            policy,
            Arc::new(SystemClock),
            revocations.clone(),
            replay.clone(),
        );
        Self { gate, revocations }
    }

    /// Takes in revocations stored by a catch-up.
    pub(crate) fn restore_revocations<'a>(
        &self,
        rows: impl IntoIterator<Item = &'a RevocationRow>,
    ) {
        restore(&self.revocations, rows);
    }

    /// The policy.
    pub(crate) fn policy(&self) -> &Policy {
        self.gate.policy()
    }

    fn nonce_use(&self, subject: &SubjectPublicKey, nonce: [u8; 16]) -> ConsentWrite {
        let keep = OffsetDateTime::now_utc()
            + self.gate.policy().statement_max_age()
            + time::Duration::days(1);
        ConsentWrite::TokenUse(TokenUse {
            subject: subject.to_hex(),
            token: nonce,
            uses: 1,
            expires_ms: ms(keep),
        })
    }

    /// Checks `op` for `request_id`; `subject_of` gives the key an existing
    /// enrollment is bound to. On success, returns what the op must persist
    /// with its log entry (use counts, revocations, last use).
    pub(crate) fn check(
        &self,
        op: &Op,
        request_id: &str,
        time_ms: u64,
        view: &dyn Enrollments,
    ) -> Result<Vec<ConsentWrite>, Refusal> {
        let enrollment = |id: &EnrollmentId| view.enrollment(id);
        let enrolled = |subject: &str| view.subject_enrolled(subject);
        let subject_of = |id: &EnrollmentId| enrollment(id).map(|(s, _)| s);
        let bound = |id: &EnrollmentId| -> Result<SubjectPublicKey, Refusal> {
            match subject_of(id) {
                None => Err(refusal("unknown_enrollment", format!("no enrollment {id}"))),
                Some(None) => Err(refusal(
                    "no_subject_binding",
                    format!("enrollment {id} is bound to no subject key"),
                )),
                Some(Some(hex_key)) => parse_subject(&hex_key)
                    .ok_or_else(|| refusal("no_subject_binding", "stored subject key is invalid")),
            }
        };
        let token_use = |checked: &sanctuary_consent::ConsentChecked| {
            checked.token_id().map(|id| {
                ConsentWrite::TokenUse(TokenUse {
                    subject: checked.subject().to_hex(),
                    token: id.to_bytes(),
                    uses: checked.use_number().unwrap_or(1),
                    expires_ms: ms(checked.expires_at()),
                })
            })
        };
        match op {
            Op::Enroll {
                kind,
                site,
                statement,
                ..
            } => {
                let site = rp(site)?;
                if statement.statement.template_commitment
                    != enrollment_commitment(request_id, *kind)
                {
                    return Err(refusal(
                        "statement_wrong_request",
                        "the enrollment statement was signed for another request",
                    ));
                }
                let (v, _) = self
                    .gate
                    .admit_enrollment(statement, &site)
                    .map_err(refuse)?;
                Ok(vec![self.nonce_use(v.subject(), v.statement().nonce)])
            }
            Op::Verify {
                enrollment_id,
                relying_party,
                token,
                ..
            } => {
                let subject = bound(enrollment_id)?;
                let token = ConsentToken::from_base64(token.clone())
                    .map_err(|e| refuse(e.into()))?;
                let req = Request::Verify {
                    relying_party: rp(relying_party)?,
                };
                let checked = self.gate.admit(&token, &subject, &req).map_err(refuse)?;
                let mut w: Vec<ConsentWrite> = token_use(&checked).into_iter().collect();
                w.push(ConsentWrite::Touch {
                    id: *enrollment_id,
                    time_ms: i64::try_from(time_ms).unwrap_or(i64::MAX),
                });
                Ok(w)
            }
            Op::Dedupe {
                relying_party,
                subject,
                token,
                ..
            } => {
                let subject = parse_subject(subject)
                    .ok_or_else(|| refusal("bad_subject", "subject is not a hex Ed25519 key"))?;
                let token = ConsentToken::from_base64(token.clone())
                    .map_err(|e| refuse(e.into()))?;
                let req = Request::Dedupe {
                    site: rp(relying_party)?,
                };
                let checked = self.gate.admit(&token, &subject, &req).map_err(refuse)?;
                Ok(token_use(&checked).into_iter().collect())
            }
            Op::Delete {
                enrollment_id,
                statement,
                ..
            } => {
                let subject = bound(enrollment_id)?;
                if statement
                    .statement
                    .template_commitment
                    .is_some_and(|c| c != deletion_commitment(enrollment_id))
                {
                    return Err(refusal(
                        "statement_wrong_request",
                        "the deletion request was signed for another enrollment",
                    ));
                }
                let (v, _) = self
                    .gate
                    .admit_deletion(statement, &subject)
                    .map_err(refuse)?;
                Ok(vec![self.nonce_use(v.subject(), v.statement().nonce)])
            }
            Op::FestivalCheckin {
                event,
                authorization,
                ..
            } => {
                let req = sanctuary_weave::EvaluateRequest {
                    event: event.clone(),
                    authorization: authorization.clone(),
                };
                let subject = sanctuary_weave::check_evaluate_request(
                    &req,
                    self.gate.policy().network(),
                    OffsetDateTime::now_utc(),
                )
                .map_err(|e| refusal("weave_request_refused", e.to_string()))?;
                if !enrolled(&subject.0) {
                    return Err(refusal(
                        "not_enrolled",
                        "festival check-in needs an enrollment bound to the requesting key",
                    ));
                }
                Ok(Vec::new())
            }
            Op::Expire { enrollment_id } => {
                let Some((_, last_used_ms)) = enrollment(enrollment_id) else {
                    return Err(refusal(
                        "unknown_enrollment",
                        format!("no enrollment {enrollment_id}"),
                    ));
                };
                let now = from_ms(i64::try_from(time_ms).unwrap_or(i64::MAX));
                let local = OffsetDateTime::now_utc();
                // Judge by the later of the coordinator's and this node's
                // clocks only if they agree within a minute: a coordinator
                // cannot expire enrollments early by lying about the time.
                if (now - local).abs() > time::Duration::minutes(1) {
                    return Err(refusal(
                        "clock_skew",
                        "the coordinator's clock differs from this node's by more than a minute",
                    ));
                }
                if self
                    .gate
                    .policy()
                    .retention_expired(from_ms(last_used_ms), now.min(local))
                {
                    Ok(Vec::new())
                } else {
                    Err(refusal(
                        "retention_not_expired",
                        format!("enrollment {enrollment_id} was used within the retention period"),
                    ))
                }
            }
            Op::Revoke { statement, .. } => {
                let v = self.gate.apply_revocation(statement).map_err(refuse)?;
                let subject = v.subject().to_hex();
                let row = match &v.statement().scope {
                    RevocationScope::Token(id) => RevocationRow::Token {
                        subject,
                        token: id.to_bytes(),
                    },
                    RevocationScope::IssuedBefore(t) => RevocationRow::IssuedBefore {
                        subject,
                        before_ms: ms(*t),
                    },
                };
                Ok(vec![ConsentWrite::Revocation(row)])
            }
            Op::Identify { relying_party } => Err(refuse(
                PolicyViolation::new(
                    Rule::NoOpenIdentification,
                    format!(
                        "{relying_party} asked \"who is this?\"; open 1:N identification is never performed"
                    ),
                )
                .into(),
            )),
            Op::Cosign => Ok(Vec::new()),
        }
    }
}
