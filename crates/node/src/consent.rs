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
    ConsentGate, InMemoryReplayGuard, InMemoryRevocationStore, Policy, RelyingPartyId,
    SubjectPublicKey, SystemClock, TokenId,
};
use sanctuary_proto::{EnrollmentId, RefusalCode};
use sanctuary_store::{ConsentWrite, Loaded, RevocationRow, TokenUse};
use time::OffsetDateTime;

use sanctuary_proto::wire::Refusal;

/// What the checks need to know of the node's enrollments.
pub(crate) trait Enrollments {
    /// The key an enrollment is bound to (`None` inside: bound to none) and
    /// its last use (ms); `None` if there is no such enrollment.
    fn enrollment(&self, id: &EnrollmentId) -> Option<(Option<String>, i64)>;
    /// Whether any enrollment is bound to `subject` (hex key).
    fn subject_enrolled(&self, subject: &str) -> bool;
    /// Whether an enrollment of `kind` is bound to `subject` (hex key).
    fn subject_enrolled_kind(&self, subject: &str, kind: sanctuary_template::TemplateKind) -> bool;
}

/// A node's consent state: its gate (policy, rate limits) and the
/// revocations and use counts, restored from its database at start.
pub(crate) struct NodeConsent {
    gate: ConsentGate,
    revocations: Arc<InMemoryRevocationStore>,
    replay: Arc<InMemoryReplayGuard>,
}

impl std::fmt::Debug for NodeConsent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeConsent")
            .field("network", self.gate.policy().network())
            .finish_non_exhaustive()
    }
}

pub(crate) fn ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

pub(crate) fn from_ms(ms: i64) -> OffsetDateTime {
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

/// A consent or policy check's failure as a refusal.
pub(crate) fn refuse(e: sanctuary_consent::Error) -> Refusal {
    Refusal {
        code: RefusalCode::of(&e),
        message: e.to_string(),
    }
}

/// A refusal of the node's own.
pub(crate) fn refusal(code: RefusalCode, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

/// A relying party id, or the refusal naming why it is not one.
pub(crate) fn rp(id: &str) -> Result<RelyingPartyId, Refusal> {
    RelyingPartyId::new(id)
        .map_err(|e| refusal(RefusalCode::BadRelyingParty, format!("relying party: {e}")))
}

/// The key enrollment `id` is bound to.
pub(crate) fn bound_subject(
    view: &dyn Enrollments,
    id: &EnrollmentId,
) -> Result<SubjectPublicKey, Refusal> {
    match view.enrollment(id).map(|(s, _)| s) {
        None => Err(refusal(
            RefusalCode::UnknownEnrollment,
            format!("no enrollment {id}"),
        )),
        Some(None) => Err(refusal(
            RefusalCode::NoSubjectBinding,
            format!("enrollment {id} is bound to no subject key"),
        )),
        Some(Some(hex_key)) => parse_subject(&hex_key).ok_or_else(|| {
            refusal(
                RefusalCode::NoSubjectBinding,
                "stored subject key is invalid",
            )
        }),
    }
}

/// The use of a checked token to record with the op (none for tokens
/// without a use limit).
pub(crate) fn token_use(checked: &sanctuary_consent::ConsentChecked) -> Option<ConsentWrite> {
    checked.token_id().map(|id| {
        ConsentWrite::TokenUse(TokenUse {
            subject: checked.subject().to_hex(),
            token: id.to_bytes(),
            uses: checked.use_number().unwrap_or(1),
            expires_ms: ms(checked.expires_at()),
        })
    })
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
        Self {
            gate,
            revocations,
            replay,
        }
    }

    /// Takes in the consent bookkeeping of an operation just committed (on
    /// every node alike): token uses and revocations count from here, not
    /// from the verdict, so a vetoed or failed operation changes nothing.
    pub(crate) fn commit(&self, writes: &[ConsentWrite]) {
        for w in writes {
            match w {
                ConsentWrite::TokenUse(u) => {
                    if let Some(s) = parse_subject(&u.subject) {
                        self.replay.restore(
                            s,
                            TokenId::from_bytes(u.token),
                            u.uses,
                            from_ms(u.expires_ms),
                        );
                    }
                }
                ConsentWrite::Revocation(r) => restore(&self.revocations, [r]),
                ConsentWrite::Touch { .. } | ConsentWrite::Record { .. } => {}
            }
        }
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

    /// The gate that checks tokens and statements.
    pub(crate) fn gate(&self) -> &ConsentGate {
        &self.gate
    }

    /// The record of a signed statement's nonce, kept until the statement
    /// could no longer be accepted, so it cannot be replayed.
    pub(crate) fn nonce_use(&self, subject: &SubjectPublicKey, nonce: [u8; 16]) -> ConsentWrite {
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
}
