//! Why a node refused an operation: one stable code per check, written to
//! the log, sent to the client and counted in metrics. The text of each code
//! is part of the API and never changes.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! refusal_codes {
    ($($(#[$doc:meta])* $variant:ident => $text:literal,)*) => {
        /// A refusal's stable code.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum RefusalCode {
            $($(#[$doc])* $variant,)*
        }

        impl RefusalCode {
            /// Every code, in declaration order.
            pub const ALL: &'static [RefusalCode] = &[$(RefusalCode::$variant,)*];

            /// The stable text (`token_expired`, `no_open_identification`, ...).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RefusalCode::$variant => $text,)*
                }
            }
        }

        impl FromStr for RefusalCode {
            type Err = UnknownRefusalCode;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(RefusalCode::$variant),)*
                    _ => Err(UnknownRefusalCode(s.chars().take(64).collect())),
                }
            }
        }
    };
}

refusal_codes! {
    /// The enrollment matches an existing one.
    AlreadyEnrolled => "already_enrolled",
    /// Policy: a token is honoured only for the relying party it names.
    AudienceMismatch => "audience_mismatch",
    /// The relying party id is not a valid id.
    BadRelyingParty => "bad_relying_party",
    /// The subject key named is not an Ed25519 key.
    BadSubject => "bad_subject",
    /// The coordinator's clock differs from this node's by over a minute.
    ClockSkew => "clock_skew",
    /// Policy: expired consent is never honoured.
    ConsentExpired => "consent_expired",
    /// Policy: a token is honoured only for the purposes granted.
    ConsentPurposeMismatch => "consent_purpose_mismatch",
    /// An erasure names an entry that is not the subject's (its tag is not
    /// of the revealed audit key), is already erased, or is out of range.
    EraseNotOwned => "erase_not_owned",
    /// Policy: consent is honoured only by the network it names.
    NetworkMismatch => "network_mismatch",
    /// Policy: open 1:N identification is never performed.
    NoOpenIdentification => "no_open_identification",
    /// The requesting key has no enrollment on this node.
    NotEnrolled => "not_enrolled",
    /// The enrollment's stored subject key is unusable.
    NoSubjectBinding => "no_subject_binding",
    /// The node's policy file is invalid.
    PolicyFile => "policy_file",
    /// The enrollment statement does not accept this node's policy (its
    /// digest is not the one the subject signed for this node).
    PolicyNotAccepted => "policy_not_accepted",
    /// Policy: the purpose is not allowed.
    PurposeNotAllowed => "purpose_not_allowed",
    /// Policy: a relying party exceeded its rate limit.
    RateLimit => "rate_limit",
    /// An expiry was proposed for an enrollment used within its retention.
    RetentionNotExpired => "retention_not_expired",
    /// The enrollment's retention ran out by this node's own clock and
    /// policy: it is no longer used, whatever the other nodes say.
    RetentionExpired => "retention_expired",
    /// Policy: identities are revealed only to their subject.
    RevealOnlyToSubject => "reveal_only_to_subject",
    /// The node will not carry out a subject's right (deletion, withdrawal
    /// of consent). Recorded; the other nodes carry it out anyway.
    RightRefused => "right_refused",
    /// A node's sealed share is not the one the client made (its digest or
    /// its binding to the client's key does not match).
    ShareNotBound => "share_not_bound",
    /// A signed statement does not verify.
    StatementForged => "statement_forged",
    /// A signed statement cannot be parsed.
    StatementMalformed => "statement_malformed",
    /// A signed statement was already used.
    StatementReplayed => "statement_replayed",
    /// A signed statement is too old or from the future.
    StatementStale => "statement_stale",
    /// A signed statement names another network.
    StatementWrongNetwork => "statement_wrong_network",
    /// A signed statement was signed for another request.
    StatementWrongRequest => "statement_wrong_request",
    /// A signed statement is signed by a key other than the enrollment's.
    StatementWrongSubject => "statement_wrong_subject",
    /// Policy: the token's subject is not the enrollment's.
    SubjectMismatch => "subject_mismatch",
    /// A token's attenuation check failed.
    TokenAttenuationCheckFailed => "token_attenuation_check_failed",
    /// A token expired.
    TokenExpired => "token_expired",
    /// A token's signature does not verify.
    TokenForged => "token_forged",
    /// A token cannot be parsed.
    TokenMalformed => "token_malformed",
    /// A token is not yet valid.
    TokenNotYetValid => "token_not_yet_valid",
    /// A token's uses are used up.
    TokenReplayed => "token_replayed",
    /// A token was revoked by its subject.
    TokenRevoked => "token_revoked",
    /// A token is for another relying party.
    TokenWrongAudience => "token_wrong_audience",
    /// A token is for another network.
    TokenWrongNetwork => "token_wrong_network",
    /// A token is for another purpose.
    TokenWrongPurpose => "token_wrong_purpose",
    /// The enrollment does not exist.
    UnknownEnrollment => "unknown_enrollment",
    /// A wallet error surfaced in a check.
    Wallet => "wallet",
    /// A weaving request was refused.
    WeaveRequestRefused => "weave_request_refused",
}

/// A code that is not one of [`RefusalCode`]'s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown refusal code {0:?}")]
pub struct UnknownRefusalCode(String);

impl RefusalCode {
    /// The code of a consent or policy check's failure.
    pub fn of(e: &sanctuary_consent::Error) -> RefusalCode {
        // `code()` is the consent crate's stable text; every text it can
        // produce is a variant here (tested), so the fallback is unreachable
        // in practice and refuses rather than approves.
        e.code().parse().unwrap_or(RefusalCode::StatementMalformed)
    }
}

impl PartialEq<str> for RefusalCode {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for RefusalCode {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RefusalCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RefusalCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_text_and_json() {
        for &c in RefusalCode::ALL {
            assert_eq!(c.as_str().parse::<RefusalCode>(), Ok(c));
            let j = serde_json::to_string(&c).unwrap();
            assert_eq!(j, format!("\"{}\"", c.as_str()));
            assert_eq!(serde_json::from_str::<RefusalCode>(&j).unwrap(), c);
        }
        assert!("not_a_code".parse::<RefusalCode>().is_err());
    }

    #[test]
    fn every_policy_rule_has_a_code() {
        for r in sanctuary_consent::Rule::ALL {
            assert!(
                r.id().parse::<RefusalCode>().is_ok(),
                "rule {} has no refusal code",
                r.id()
            );
        }
    }
}
