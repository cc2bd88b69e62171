//! The node's single entry point for consent: rate limit, token verification,
//! policy, use counting; and the [`ConsentChecked`] proof that all of it passed.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::error::{Error, StatementError};
use crate::ids::{Purpose, RelyingPartyId, SubjectPublicKey, TokenId};
use crate::policy::{Allowed, Disclosure, Policy, Request};
use crate::ratelimit::{Clock, RateLimiter};
use crate::statement::{
    DeletionRequest, EnrollmentStatement, Revocation, SignedStatement, Verified,
};
use crate::stores::{ReplayGuard, RevocationStore};
use crate::token::{self, ConsentToken, VerifiedConsent, VerifyContext};

/// Proof that a request passed consent verification, the ethics policy and use
/// counting. Only this crate can build it ([`ConsentGate`]); matching and release
/// functions take it as an argument, by value: it is deliberately not `Clone`, so
/// one admitted request authorises one operation.
#[derive(Debug, PartialEq, Eq)]
pub struct ConsentChecked {
    subject: SubjectPublicKey,
    token_id: Option<TokenId>,
    purpose: Purpose,
    relying_party: RelyingPartyId,
    allowed: Allowed,
    use_number: Option<u32>,
    checked_at: OffsetDateTime,
    audit_tag: Option<sanctuary_log::AuditTag>,
    expires_at: OffsetDateTime,
    max_uses: Option<u32>,
}

impl ConsentChecked {
    /// The consenting subject.
    pub fn subject(&self) -> &SubjectPublicKey {
        &self.subject
    }
    /// The consent token's id (`None` when consent came from a signed statement).
    pub fn token_id(&self) -> Option<TokenId> {
        self.token_id
    }
    /// The purpose checked.
    pub fn purpose(&self) -> Purpose {
        self.purpose
    }
    /// Who may receive the result.
    pub fn relying_party(&self) -> &RelyingPartyId {
        &self.relying_party
    }
    /// What may be disclosed to them.
    pub fn disclosure(&self) -> Disclosure {
        self.allowed.disclosure
    }
    /// The new retention deadline of the enrollment, if the request uses it.
    pub fn retain_until(&self) -> Option<OffsetDateTime> {
        self.allowed.retain_until
    }
    /// Which use of the token this is (1-based), for tokens.
    pub fn use_number(&self) -> Option<u32> {
        self.use_number
    }
    /// When the checks ran.
    pub fn checked_at(&self) -> OffsetDateTime {
        self.checked_at
    }
    /// The blinded audit tag from the token, for the transparency log.
    pub fn audit_tag(&self) -> Option<sanctuary_log::AuditTag> {
        self.audit_tag
    }
    /// When the consent expires.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.expires_at
    }
    /// The token's use limit.
    pub fn max_uses(&self) -> Option<u32> {
        self.max_uses
    }
}

/// Consent enforcement for one node: its policy, rate limiter, revocations and
/// use counts.
pub struct ConsentGate {
    policy: Policy,
    limiter: RateLimiter<Arc<dyn Clock>>,
    clock: Arc<dyn Clock>,
    revocations: Arc<dyn RevocationStore>,
    replay: Arc<dyn ReplayGuard>,
}

impl std::fmt::Debug for ConsentGate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConsentGate")
            .field("network", self.policy.network())
            .finish_non_exhaustive()
    }
}

impl ConsentGate {
    /// A gate over `policy`, reading time from `clock`.
    pub fn new(
        policy: Policy,
        clock: Arc<dyn Clock>,
        revocations: Arc<dyn RevocationStore>,
        replay: Arc<dyn ReplayGuard>,
    ) -> Self {
        let limiter = policy.rate_limiter(clock.clone());
        Self {
            policy,
            limiter,
            clock,
            revocations,
            replay,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Checks a request carrying a consent token, in this order: structural rules
    /// that need no token (identify), rate limit of the asking party (counts
    /// refused attempts too), token verification (signature against `subject`,
    /// expiry, revocation, audience, purpose, attenuations), policy, and finally
    /// use counting (only requests that passed everything use up the token).
    pub fn admit(
        &self,
        token: &ConsentToken,
        subject: &SubjectPublicKey,
        request: &Request,
    ) -> Result<ConsentChecked, Error> {
        self.admit_with(token, subject, request, true)
    }

    /// [`ConsentGate::admit`] without recording the use: the use number is
    /// the one the token would get. For a node that records the use only
    /// when the operation is committed on every node
    /// ([`ReplayGuard`] then gets it from the caller), so a vetoed or failed
    /// operation uses nothing up.
    pub fn check(
        &self,
        token: &ConsentToken,
        subject: &SubjectPublicKey,
        request: &Request,
    ) -> Result<ConsentChecked, Error> {
        self.admit_with(token, subject, request, false)
    }

    fn admit_with(
        &self,
        token: &ConsentToken,
        subject: &SubjectPublicKey,
        request: &Request,
        record: bool,
    ) -> Result<ConsentChecked, Error> {
        let now = self.clock.now();
        let rp = request.relying_party();
        if let Request::Identify { relying_party } = request {
            return Err(crate::policy::PolicyViolation::new(
                crate::policy::Rule::NoOpenIdentification,
                format!("{relying_party} asked \"who is this?\"; open 1:N identification is never performed"),
            )
            .into());
        }
        self.limiter.check(&rp)?;
        let ctx = VerifyContext {
            subject,
            network: self.policy.network(),
            audience: &rp,
            purpose: request.purpose(),
            now,
        };
        let consent = token::verify(token, &ctx, self.revocations.as_ref())?;
        let allowed = self.policy.check(request, &consent, now)?;
        let use_number = match consent.token_id() {
            Some(id) if record => Some(self.replay.consume(
                consent.subject(),
                &id,
                consent.max_uses(),
                consent.expires_at(),
            )?),
            Some(id) => Some(
                self.replay
                    .peek(consent.subject(), &id, consent.max_uses())?,
            ),
            None => None,
        };
        Ok(ConsentChecked {
            subject: *consent.subject(),
            token_id: consent.token_id(),
            purpose: consent.purpose(),
            relying_party: rp,
            allowed,
            use_number,
            checked_at: now,
            audit_tag: consent.audit_tag(),
            expires_at: consent.expires_at(),
            max_uses: consent.max_uses(),
        })
    }

    /// Checks a signed enrollment statement presented by enrollment site `site`.
    /// Returns the verified statement (to bind the enrollment to its key) and the
    /// proof. The node should also refuse a statement nonce it has seen before.
    pub fn admit_enrollment(
        &self,
        statement: &SignedStatement<EnrollmentStatement>,
        site: &RelyingPartyId,
    ) -> Result<(Verified<EnrollmentStatement>, ConsentChecked), Error> {
        let now = self.clock.now();
        self.limiter.check(site)?;
        let v = statement.verify(self.policy.network(), now, self.policy.statement_max_age())?;
        let consent_nonce = v.statement().nonce;
        let consent = VerifiedConsent::from_statement(
            *v.subject(),
            self.policy.network().clone(),
            site.clone(),
            Purpose::Enroll,
            v.statement().timestamp,
            now,
        );
        let request = Request::Enroll { site: site.clone() };
        let allowed = self.policy.check(&request, &consent, now)?;
        self.consume_nonce(v.subject(), consent_nonce, v.statement().timestamp)?;
        let checked = ConsentChecked {
            subject: *v.subject(),
            token_id: None,
            purpose: Purpose::Enroll,
            relying_party: site.clone(),
            allowed,
            use_number: None,
            checked_at: now,
            audit_tag: None,
            expires_at: consent.expires_at(),
            max_uses: consent.max_uses(),
        };
        Ok((v, checked))
    }

    /// Checks a signed deletion request against the key the enrollment is bound to.
    /// Deletion is a subject right: the policy cannot forbid it, but the signature,
    /// network, freshness and subject must be right.
    pub fn admit_deletion(
        &self,
        request: &SignedStatement<DeletionRequest>,
        enrolled_subject: &SubjectPublicKey,
    ) -> Result<(Verified<DeletionRequest>, ConsentChecked), Error> {
        let now = self.clock.now();
        let v = request
            .verify(self.policy.network(), now, self.policy.statement_max_age())
            .map_err(Error::from)?;
        if v.subject() != enrolled_subject {
            return Err(StatementError::WrongSubject.into());
        }
        let self_aud = v.subject().as_self_audience();
        self.limiter.check(&self_aud)?;
        let consent = VerifiedConsent::from_statement(
            *v.subject(),
            self.policy.network().clone(),
            self_aud.clone(),
            Purpose::Delete,
            v.statement().timestamp,
            now,
        );
        let req = Request::Delete {
            subject: *enrolled_subject,
        };
        let allowed = self.policy.check(&req, &consent, now)?;
        self.consume_nonce(v.subject(), v.statement().nonce, v.statement().timestamp)?;
        let checked = ConsentChecked {
            subject: *v.subject(),
            token_id: None,
            purpose: Purpose::Delete,
            relying_party: self_aud,
            allowed,
            use_number: None,
            checked_at: now,
            audit_tag: None,
            expires_at: consent.expires_at(),
            max_uses: consent.max_uses(),
        };
        Ok((v, checked))
    }

    /// Refuses a second use of a statement's nonce (a replayed enrollment or
    /// deletion request). Nonces share the [`ReplayGuard`] with token ids; both are
    /// 128 random bits chosen by the same subject, and the guard is keyed by subject.
    fn consume_nonce(
        &self,
        subject: &SubjectPublicKey,
        nonce: [u8; 16],
        signed_at: OffsetDateTime,
    ) -> Result<(), Error> {
        let until = signed_at + self.policy.statement_max_age() + crate::statement::MAX_FUTURE_SKEW;
        self.replay
            .consume(subject, &TokenId::from_bytes(nonce), Some(1), until)
            .map(|_| ())
            .map_err(|_| StatementError::Replayed.into())
    }

    /// Verifies a signed revocation and records it (idempotent: replaying a
    /// revocation changes nothing).
    pub fn apply_revocation(
        &self,
        revocation: &SignedStatement<Revocation>,
    ) -> Result<Verified<Revocation>, Error> {
        let v = self.check_revocation(revocation)?;
        self.revocations.apply(&v);
        Ok(v)
    }

    /// Verifies a signed revocation without recording it (the node records
    /// it with the committed operation).
    pub fn check_revocation(
        &self,
        revocation: &SignedStatement<Revocation>,
    ) -> Result<Verified<Revocation>, Error> {
        let now = self.clock.now();
        Ok(revocation.verify(self.policy.network(), now, self.policy.statement_max_age())?)
    }
}

impl VerifiedConsent {
    /// Consent carried by a verified signed statement (enrollment, deletion): valid
    /// for one purpose, for the statement's freshness window.
    pub(crate) fn from_statement(
        subject: SubjectPublicKey,
        network: crate::ids::NetworkId,
        audience: RelyingPartyId,
        purpose: Purpose,
        signed_at: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            subject,
            token_id: None,
            network,
            audience,
            granted: vec![purpose],
            purpose,
            issued_at: signed_at,
            // The statement's own freshness window was checked by `verify`; the
            // consent it carries is for this moment only.
            expires_at: now.max(signed_at),
            max_uses: Some(1),
            audit_tag: None,
        }
    }
}
