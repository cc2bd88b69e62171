//! The ethics policy every node loads and publishes.
//!
//! Two parts:
//! * the **policy file** (TOML, version 1, `deny_unknown_fields`): which purposes
//!   this node serves, retention, rate limits, statement freshness;
//! * **structural rules**, fixed in code because no operator may switch them off
//!   (see [`Rule`]): above all, no open 1:N identification for anyone; dedupe
//!   answers only "already enrolled"; a subject learns which enrollment is theirs
//!   only by proving it (a token signed by the enrollment's key, addressed to
//!   itself).
//!
//! # Policy file, version 1
//!
//! ```toml
//! version = 1
//! network = "sanctuary-demo"          # must match the node's network id
//! operator = "Node A (Harbour Trust)" # optional, shown when published
//!
//! [purposes]
//! # Purposes this node serves for relying parties. "identify" is never accepted.
//! # "delete" and "reveal_own_enrollment" are subject rights: always served.
//! allowed = ["enroll", "verify", "dedupe", "festival_checkin"]
//!
//! [retention]
//! days_after_last_use = 365   # enrollment deleted unless used or renewed in time
//!
//! [rate_limits.default]       # per relying party; omit a field for no limit
//! per_minute = 60
//! per_hour = 1000
//!
//! [rate_limits.relying_parties."festival.example"]
//! per_minute = 600
//! per_hour = 20000
//!
//! [statements]
//! max_age_seconds = 600       # signed enrollment/revocation/deletion freshness
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::PolicyFileError;
use crate::ids::{NetworkId, Purpose, RelyingPartyId, SubjectPublicKey};
use crate::ratelimit::{Clock, RateLimit, RateLimiter};
use crate::token::VerifiedConsent;

/// The policy file format version this build reads.
pub const POLICY_VERSION: u32 = 1;

/// A rule of the ethics policy. A refusal names the rule that forbids the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Rule {
    /// The consent was given to another relying party.
    AudienceMismatch,
    /// The consent has expired.
    ConsentExpired,
    /// The consent does not cover the purpose of the request.
    ConsentPurposeMismatch,
    /// The consent is for another trust network.
    NetworkMismatch,
    /// Structural: no open 1:N identification ("who is this?") for anyone.
    NoOpenIdentification,
    /// This node's policy does not serve the purpose.
    PurposeNotAllowed,
    /// The relying party exceeded its request rate.
    RateLimit,
    /// Structural: which enrollment matched is revealed only to the subject itself.
    RevealOnlyToSubject,
    /// A subject's request (deletion) was signed by another key than the enrollment's.
    SubjectMismatch,
}

impl Rule {
    /// Stable identifier (snake_case), as in published policies and error messages.
    pub fn id(self) -> &'static str {
        match self {
            Rule::AudienceMismatch => "audience_mismatch",
            Rule::ConsentPurposeMismatch => "consent_purpose_mismatch",
            Rule::ConsentExpired => "consent_expired",
            Rule::NetworkMismatch => "network_mismatch",
            Rule::NoOpenIdentification => "no_open_identification",
            Rule::PurposeNotAllowed => "purpose_not_allowed",
            Rule::RateLimit => "rate_limit",
            Rule::RevealOnlyToSubject => "reveal_only_to_subject",
            Rule::SubjectMismatch => "subject_mismatch",
        }
    }

    /// One-sentence statement of the rule, for publication.
    pub fn description(self) -> &'static str {
        match self {
            Rule::AudienceMismatch => {
                "a consent token is honoured only for the relying party it names"
            }
            Rule::ConsentPurposeMismatch => {
                "a consent token is honoured only for the purposes the subject granted"
            }
            Rule::ConsentExpired => "expired consent is never honoured",
            Rule::NetworkMismatch => "consent is honoured only by the network it names",
            Rule::NoOpenIdentification => {
                "no open 1:N identification (\"who is this?\") for anyone, ever; \
                 dedupe answers only \"already enrolled\""
            }
            Rule::PurposeNotAllowed => "only the purposes this node's policy lists are served",
            Rule::RateLimit => "each relying party is limited to its configured request rate",
            Rule::RevealOnlyToSubject => {
                "which enrollment matched is revealed only to the subject, who proves it \
                 with a token signed by the enrollment's key and addressed to itself"
            }
            Rule::SubjectMismatch => {
                "only the enrolled subject's key can request deletion of an enrollment"
            }
        }
    }

    /// Every rule.
    pub const ALL: [Rule; 9] = [
        Rule::AudienceMismatch,
        Rule::ConsentPurposeMismatch,
        Rule::ConsentExpired,
        Rule::NetworkMismatch,
        Rule::NoOpenIdentification,
        Rule::PurposeNotAllowed,
        Rule::RateLimit,
        Rule::RevealOnlyToSubject,
        Rule::SubjectMismatch,
    ];
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// A refusal by the ethics policy, naming the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused by ethics policy rule {rule}: {detail}")]
pub struct PolicyViolation {
    /// The rule that forbids the request.
    pub rule: Rule,
    /// Human-readable detail (no secrets).
    pub detail: String,
}

impl PolicyViolation {
    /// A violation of `rule`.
    pub fn new(rule: Rule, detail: impl Into<String>) -> Self {
        Self {
            rule,
            detail: detail.into(),
        }
    }
}

/// A request to the network, as the node layer models it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Request {
    /// "Is this person already enrolled?" asked by an enrollment site; answer is one bit.
    Dedupe {
        /// The enrollment site asking.
        site: RelyingPartyId,
    },
    /// Delete the enrollment(s) bound to `subject` (subject right; needs a signed
    /// [`crate::DeletionRequest`]).
    Delete {
        /// The subject the enrollment is bound to.
        subject: SubjectPublicKey,
    },
    /// Enroll a template (needs a signed [`crate::EnrollmentStatement`]).
    Enroll {
        /// The enrollment site.
        site: RelyingPartyId,
    },
    /// "Unique person, not yet checked in" for an event.
    FestivalCheckin {
        /// The festival (relying party).
        festival: RelyingPartyId,
        /// Event id within the festival.
        event: String,
    },
    /// Open 1:N identification: always refused.
    Identify {
        /// Whoever asks.
        relying_party: RelyingPartyId,
    },
    /// Reveal which enrollment matched (only to the subject itself).
    RevealMatchIndex {
        /// Who asks; must be the subject's self-audience (`subject:<hex key>`).
        requester: RelyingPartyId,
    },
    /// 1:1 "is this the person who enrolled?".
    Verify {
        /// The relying party asking.
        relying_party: RelyingPartyId,
    },
}

impl Request {
    /// The purpose this request needs consent for.
    pub fn purpose(&self) -> Purpose {
        match self {
            Request::Delete { .. } => Purpose::Delete,
            Request::Dedupe { .. } => Purpose::Dedupe,
            Request::Enroll { .. } => Purpose::Enroll,
            Request::FestivalCheckin { .. } => Purpose::FestivalCheckin,
            Request::Identify { .. } => Purpose::Identify,
            Request::RevealMatchIndex { .. } => Purpose::RevealOwnEnrollment,
            Request::Verify { .. } => Purpose::Verify,
        }
    }

    /// Who asks: the relying party (audience a token must name). For `Delete`, the
    /// subject's self-audience.
    pub fn relying_party(&self) -> RelyingPartyId {
        match self {
            Request::Delete { subject } => subject.as_self_audience(),
            Request::Dedupe { site } | Request::Enroll { site } => site.clone(),
            Request::FestivalCheckin { festival, .. } => festival.clone(),
            Request::Identify { relying_party } | Request::Verify { relying_party } => {
                relying_party.clone()
            }
            Request::RevealMatchIndex { requester } => requester.clone(),
        }
    }
}

/// What the matching layer may disclose for an allowed request, and to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Disclosure {
    /// One bit to the festival: unique person and not yet checked in.
    CheckinBit,
    /// One bit to the enrollment site: already enrolled or not. Never which
    /// enrollment, never a score.
    MembershipBit,
    /// Nothing is disclosed (enrollment, deletion: the node only acts).
    Nothing,
    /// The subject's own enrollment reference, to the subject only.
    OwnEnrollmentToSubject,
    /// One bit to the relying party: match or no match. Never a score.
    VerifyBit,
}

/// The policy's approval of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowed {
    /// What may be disclosed.
    pub disclosure: Disclosure,
    /// For requests that use the enrollment: the new retention deadline
    /// (last use + retention days). `None` for deletion.
    pub retain_until: Option<OffsetDateTime>,
}

// ----- the file -----

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    network: NetworkId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operator: Option<String>,
    purposes: PurposesSection,
    retention: RetentionSection,
    #[serde(default)]
    rate_limits: RateLimitsSection,
    #[serde(default)]
    statements: StatementsSection,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PurposesSection {
    allowed: Vec<Purpose>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    days_after_last_use: Option<u32>,
    /// The same in seconds, for short-lived deployments (a pop-up
    /// enrollment site keeping enrollments for hours). Exactly one of the two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seconds_after_last_use: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateLimitsSection {
    #[serde(default)]
    default: RateLimit,
    #[serde(default)]
    relying_parties: BTreeMap<RelyingPartyId, RateLimit>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementsSection {
    max_age_seconds: u32,
}

impl Default for StatementsSection {
    fn default() -> Self {
        Self {
            max_age_seconds: 600,
        }
    }
}

/// A node's published policy: the file as loaded, what it serves, and every rule.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedPolicy {
    /// The policy file content.
    #[serde(flatten)]
    policy: PolicyFile,
    /// Purposes served (the file's list plus the subject rights).
    pub served_purposes: Vec<Purpose>,
    /// Every rule, with its description.
    pub rules: Vec<PublishedRule>,
    /// [`Policy::digest`], hex.
    pub digest: String,
    /// [`Policy::notice`].
    pub notice: String,
}

/// One published rule.
#[derive(Debug, Clone, Serialize)]
pub struct PublishedRule {
    /// Stable id.
    pub id: Rule,
    /// What it says.
    pub description: &'static str,
}

/// Longest accepted retention: 3 years after the last use. Illinois BIPA
/// (740 ILCS 14/15(a)) requires destruction within three years of the
/// individual's last interaction at the latest; no policy may promise more.
pub const MAX_RETENTION_DAYS: u32 = 1095;

/// A validated ethics policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    file: PolicyFile,
    allowed: BTreeSet<Purpose>,
}

/// Purposes that are the subject's own rights and always served.
const SUBJECT_RIGHTS: [Purpose; 2] = [Purpose::Delete, Purpose::RevealOwnEnrollment];

impl Policy {
    /// Parses and validates a policy file's text.
    pub fn from_toml(text: &str) -> Result<Self, PolicyFileError> {
        // Read the version first so an old/new file gets a version error rather
        // than a confusing field error.
        #[derive(Deserialize)]
        struct VersionOnly {
            version: Option<toml::Value>,
        }
        if let Ok(VersionOnly {
            version: Some(toml::Value::Integer(v)),
        }) = toml::from_str::<VersionOnly>(text)
            && v != i64::from(POLICY_VERSION)
        {
            return Err(PolicyFileError::UnsupportedVersion(
                u32::try_from(v).unwrap_or(u32::MAX),
            ));
        }
        let file: PolicyFile = toml::from_str(text)?;
        Self::validate(file)
    }

    /// Reads and validates a policy file.
    pub fn load(path: &Path) -> Result<Self, PolicyFileError> {
        Self::from_toml(&std::fs::read_to_string(path)?)
    }

    fn validate(file: PolicyFile) -> Result<Self, PolicyFileError> {
        let invalid = |reason: String| Err(PolicyFileError::Invalid { reason });
        if file.version != POLICY_VERSION {
            return Err(PolicyFileError::UnsupportedVersion(file.version));
        }
        if file.purposes.allowed.contains(&Purpose::Identify) {
            return invalid(format!(
                "purpose \"identify\" can never be allowed (structural rule {}: {})",
                Rule::NoOpenIdentification,
                Rule::NoOpenIdentification.description()
            ));
        }
        match (
            file.retention.days_after_last_use,
            file.retention.seconds_after_last_use,
        ) {
            (Some(d), None) if (1..=MAX_RETENTION_DAYS).contains(&d) => {}
            (Some(_), None) => {
                return invalid(format!(
                    "retention.days_after_last_use must be 1..={MAX_RETENTION_DAYS}"
                ));
            }
            (None, Some(s)) if (1..=u64::from(MAX_RETENTION_DAYS) * 86_400).contains(&s) => {}
            (None, Some(_)) => {
                return invalid(format!(
                    "retention.seconds_after_last_use must be 1..={}",
                    u64::from(MAX_RETENTION_DAYS) * 86_400
                ));
            }
            _ => {
                return invalid(
                    "retention needs exactly one of days_after_last_use, seconds_after_last_use"
                        .to_owned(),
                );
            }
        }
        if file.statements.max_age_seconds == 0 {
            return invalid("statements.max_age_seconds must be positive".to_owned());
        }
        let mut allowed: BTreeSet<Purpose> = file.purposes.allowed.iter().copied().collect();
        allowed.extend(SUBJECT_RIGHTS);
        Ok(Self { file, allowed })
    }

    /// The policy as canonical TOML (what a node publishes, with
    /// [`Policy::published_rules`]).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(&self.file).unwrap_or_default()
    }

    /// The policy's digest: `SHA-256("sanctuary/policy/v1" || to_toml())`.
    /// A subject signs each node's digest at enrollment, so every node can
    /// show which policy the subject accepted.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::new()
            .chain_update(b"sanctuary/policy/v1")
            .chain_update(self.to_toml().as_bytes())
            .finalize()
            .into()
    }

    /// The notice shown to a subject before enrollment: who operates the
    /// node, what it does with the enrollment, for how long, and how to
    /// withdraw. Made from the policy itself, so it cannot say other than
    /// what the node enforces.
    pub fn notice(&self) -> String {
        let purposes: Vec<&str> = self
            .allowed
            .iter()
            .filter(|p| !SUBJECT_RIGHTS.contains(p))
            .map(|p| p.as_str())
            .collect();
        let retention = self.retention();
        let term = if retention.whole_days() >= 1 {
            format!("{} days", retention.whole_days())
        } else {
            format!("{} seconds", retention.whole_seconds())
        };
        format!(
            "Operator: {operator}, in the network {network}.\n\
             Your biometric template is split into three random shares; this node holds one and can never see your template.\n\
             It is used only for: {purposes}, each use only with a consent token you issue, and each use is written to a public log you can audit.\n\
             It is deleted {term} after its last use, or when you ask: `sanctuary delete` (no single node can refuse it).\n\
             Open identification (\"who is this?\") is never performed.",
            operator = self.operator().unwrap_or("(operator not named)"),
            network = self.network().as_str(),
            purposes = purposes.join(", "),
        )
    }

    /// The document a node publishes: its policy file plus the structural rules
    /// this build enforces (serialise it as JSON or TOML).
    pub fn published(&self) -> PublishedPolicy {
        PublishedPolicy {
            digest: hex::encode(self.digest()),
            notice: self.notice(),
            policy: self.file.clone(),
            served_purposes: self.allowed.iter().copied().collect(),
            rules: Rule::ALL
                .iter()
                .map(|r| PublishedRule {
                    id: *r,
                    description: r.description(),
                })
                .collect(),
        }
    }

    /// The structural rules this build enforces, as `(id, description)`, for
    /// publication alongside the file.
    pub fn published_rules() -> Vec<(&'static str, &'static str)> {
        Rule::ALL
            .iter()
            .map(|r| (r.id(), r.description()))
            .collect()
    }

    /// The network this policy is for.
    pub fn network(&self) -> &NetworkId {
        &self.file.network
    }

    /// The operator's name, if given.
    pub fn operator(&self) -> Option<&str> {
        self.file.operator.as_deref()
    }

    /// Purposes served (including the subject rights).
    pub fn allowed_purposes(&self) -> &BTreeSet<Purpose> {
        &self.allowed
    }

    /// Retention period after the last use.
    pub fn retention(&self) -> Duration {
        match (
            self.file.retention.days_after_last_use,
            self.file.retention.seconds_after_last_use,
        ) {
            (Some(d), _) => Duration::days(i64::from(d)),
            // Validated: at most 10 years of seconds, which fits an i64.
            (None, Some(s)) => Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)),
            (None, None) => Duration::days(i64::from(MAX_RETENTION_DAYS)),
        }
    }

    /// When an enrollment last used (or renewed) at `last_use` expires.
    pub fn retention_deadline(&self, last_use: OffsetDateTime) -> OffsetDateTime {
        last_use + self.retention()
    }

    /// Whether an enrollment last used at `last_use` must be deleted at `now`.
    pub fn retention_expired(&self, last_use: OffsetDateTime, now: OffsetDateTime) -> bool {
        now >= self.retention_deadline(last_use)
    }

    /// Maximum age of signed statements (enrollment, revocation, deletion).
    pub fn statement_max_age(&self) -> Duration {
        Duration::seconds(i64::from(self.file.statements.max_age_seconds))
    }

    /// The default rate limit.
    pub fn default_rate_limit(&self) -> RateLimit {
        self.file.rate_limits.default
    }

    /// A rate limiter configured from this policy.
    pub fn rate_limiter<C: Clock>(&self, clock: C) -> RateLimiter<C> {
        RateLimiter::new(
            self.file.rate_limits.default,
            self.file.rate_limits.relying_parties.clone(),
            clock,
        )
    }

    /// Checks a request against the policy, given verified consent. Pure: no
    /// rate limiting or use counting (see [`crate::ConsentGate`]).
    pub fn check(
        &self,
        request: &Request,
        consent: &VerifiedConsent,
        now: OffsetDateTime,
    ) -> Result<Allowed, PolicyViolation> {
        let purpose = request.purpose();
        // Structural rules first: they hold whatever the consent says.
        if let Request::Identify { relying_party } = request {
            return Err(PolicyViolation::new(
                Rule::NoOpenIdentification,
                format!(
                    "{relying_party} asked \"who is this?\"; open 1:N identification is never performed"
                ),
            ));
        }
        if consent.network() != self.network() {
            return Err(PolicyViolation::new(
                Rule::NetworkMismatch,
                format!("consent is for network {}", consent.network()),
            ));
        }
        if !self.allowed.contains(&purpose) {
            return Err(PolicyViolation::new(
                Rule::PurposeNotAllowed,
                format!("this node does not serve purpose {purpose}"),
            ));
        }
        if consent.purpose() != purpose || !consent.granted_purposes().contains(&purpose) {
            return Err(PolicyViolation::new(
                Rule::ConsentPurposeMismatch,
                format!("consent does not cover purpose {purpose}"),
            ));
        }
        if now > consent.expires_at() {
            return Err(PolicyViolation::new(
                Rule::ConsentExpired,
                "consent expired",
            ));
        }
        let self_audience = consent.subject().as_self_audience();
        match request {
            Request::Delete { subject } => {
                if subject != consent.subject() {
                    return Err(PolicyViolation::new(
                        Rule::SubjectMismatch,
                        "deletion signed by another key than the enrollment's",
                    ));
                }
            }
            Request::RevealMatchIndex { requester } => {
                if requester != &self_audience || consent.audience() != &self_audience {
                    return Err(PolicyViolation::new(
                        Rule::RevealOnlyToSubject,
                        format!("{requester} is not the subject"),
                    ));
                }
            }
            other => {
                let rp = other.relying_party();
                if consent.audience() != &rp {
                    return Err(PolicyViolation::new(
                        Rule::AudienceMismatch,
                        format!("consent names {}, not {rp}", consent.audience()),
                    ));
                }
            }
        }
        let disclosure = match request {
            Request::Delete { .. } | Request::Enroll { .. } => Disclosure::Nothing,
            Request::Dedupe { .. } => Disclosure::MembershipBit,
            Request::FestivalCheckin { .. } => Disclosure::CheckinBit,
            Request::RevealMatchIndex { .. } => Disclosure::OwnEnrollmentToSubject,
            Request::Verify { .. } => Disclosure::VerifyBit,
            // Refused above; kept explicit so a new variant must be classified.
            Request::Identify { .. } => {
                return Err(PolicyViolation::new(
                    Rule::NoOpenIdentification,
                    "open 1:N identification is never performed",
                ));
            }
        };
        let retain_until = match request {
            Request::Delete { .. } | Request::Dedupe { .. } => None,
            _ => Some(self.retention_deadline(now)),
        };
        Ok(Allowed {
            disclosure,
            retain_until,
        })
    }
}
