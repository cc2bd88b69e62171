//! Identifiers and key wrappers shared by every module.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use subtle::ConstantTimeEq;

/// The subject's Ed25519 public key: the identity an enrollment is bound to, the
/// root key of every consent token the subject issues.
///
/// Serialised as 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectPublicKey([u8; 32]);

impl SubjectPublicKey {
    /// Parses and validates (the bytes must decode to a curve point).
    pub fn from_bytes(bytes: [u8; 32]) -> Result<Self, InvalidKey> {
        VerifyingKey::from_bytes(&bytes).map_err(|_| InvalidKey)?;
        Ok(Self(bytes))
    }

    /// The raw 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub(crate) fn verifying_key(&self) -> VerifyingKey {
        // Invariant: every constructor validated the bytes with `VerifyingKey::from_bytes`.
        #[allow(clippy::expect_used)]
        VerifyingKey::from_bytes(&self.0).expect("validated at construction")
    }

    /// The audience string a subject uses when issuing a token to itself
    /// (e.g. to learn its own enrollment): `subject:<hex>`.
    pub fn as_self_audience(&self) -> RelyingPartyId {
        RelyingPartyId(format!("subject:{}", self.to_hex()))
    }
}

impl fmt::Debug for SubjectPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectPublicKey({})", self.to_hex())
    }
}

impl fmt::Display for SubjectPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The bytes are not a valid Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid Ed25519 public key")]
pub struct InvalidKey;

impl FromStr for SubjectPublicKey {
    type Err = InvalidKey;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = [0u8; 32];
        hex::decode_to_slice(s, &mut b).map_err(|_| InvalidKey)?;
        Self::from_bytes(b)
    }
}

impl Serialize for SubjectPublicKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for SubjectPublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A consent token's unique id (128 random bits), used for replay/use counting
/// and revocation. Serialised as 32 lowercase hex characters.
///
/// Equality is constant-time (ordering, used by map keys, is not).
#[derive(Clone, Copy)]
pub struct TokenId([u8; 16]);

impl TokenId {
    /// A fresh random id.
    pub fn random() -> Self {
        let mut b = [0u8; 16];
        rand::Rng::fill(&mut rand::rng(), &mut b);
        Self(b)
    }

    /// From raw bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Raw bytes.
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0
    }

    /// Lowercase hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl PartialEq for TokenId {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}
impl Eq for TokenId {}

// Consistent with `PartialEq`: both compare the same bytes.
impl std::hash::Hash for TokenId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl PartialOrd for TokenId {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for TokenId {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({})", self.to_hex())
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The string is not a 32-hex-digit token id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid token id")]
pub struct InvalidTokenId;

impl FromStr for TokenId {
    type Err = InvalidTokenId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut b = [0u8; 16];
        hex::decode_to_slice(s, &mut b).map_err(|_| InvalidTokenId)?;
        Ok(Self(b))
    }
}

impl Serialize for TokenId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for TokenId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Maximum length of a network or relying-party identifier.
const MAX_ID_LEN: usize = 128;

fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_ID_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'/'))
}

/// The given identifier is empty, too long or has characters outside
/// `[A-Za-z0-9._:/-]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid identifier {0:?}: 1-128 characters of [A-Za-z0-9._:/-]")]
pub struct InvalidId(pub String);

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Validates: 1-128 characters of `[A-Za-z0-9._:/-]`.
            pub fn new(s: impl Into<String>) -> Result<Self, InvalidId> {
                let s = s.into();
                if valid_id(&s) { Ok(Self(s)) } else { Err(InvalidId(s)) }
            }

            /// The identifier.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// Identifier of a trust network (deployment), e.g. `sanctuary-demo`.
    NetworkId
);
string_id!(
    /// Identifier of a relying party (audience of a consent token), e.g.
    /// `festival.example` or `site:harbour-1`.
    RelyingPartyId
);

/// What a consent token may be used for. Closed list: a new purpose is a code
/// change, reviewed, not a string a relying party makes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Purpose {
    /// 1:N "is this person already enrolled?" answered only yes/no.
    Dedupe,
    /// Withdraw: delete one's enrollment (carried by a signed deletion request).
    Delete,
    /// Enroll a template (carried by a signed enrollment statement).
    Enroll,
    /// Festival check-in: "unique person, not yet checked in".
    FestivalCheckin,
    /// Open 1:N identification ("who is this?"). Exists only so that requests for
    /// it can be named and refused: a wallet never issues it and no policy allows it.
    Identify,
    /// The subject learns which enrollment is its own (only to the subject itself).
    RevealOwnEnrollment,
    /// 1:1 "is this the person who enrolled?".
    Verify,
}

impl Purpose {
    /// The snake_case name used in tokens, policy files and receipts.
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Delete => "delete",
            Purpose::Dedupe => "dedupe",
            Purpose::Enroll => "enroll",
            Purpose::FestivalCheckin => "festival_checkin",
            Purpose::Identify => "identify",
            Purpose::RevealOwnEnrollment => "reveal_own_enrollment",
            Purpose::Verify => "verify",
        }
    }

    /// All purposes, for listing.
    pub const ALL: [Purpose; 7] = [
        Purpose::Delete,
        Purpose::Dedupe,
        Purpose::Enroll,
        Purpose::FestivalCheckin,
        Purpose::Identify,
        Purpose::RevealOwnEnrollment,
        Purpose::Verify,
    ];
}

impl fmt::Display for Purpose {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Unknown purpose name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown purpose {0:?}")]
pub struct UnknownPurpose(pub String);

impl FromStr for Purpose {
    type Err = UnknownPurpose;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPurpose(s.to_owned()))
    }
}
