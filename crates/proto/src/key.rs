//! A node's pinnable identity key as it appears in network files and
//! configs (the key pair itself, and TLS, live in `sanctuary-net`).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

use crate::ProtoError;

/// Prefix of the textual form of a [`PublicKey`].
pub const PUBLIC_KEY_PREFIX: &str = "ed25519:";

/// A node's Ed25519 public key: what other nodes pin in their configuration.
///
/// Its text form is `ed25519:` followed by the standard base64 (with padding)
/// of the raw 32-byte key, e.g. `ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=`.
/// It serialises (serde) as that string.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key from its raw 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        PublicKey(bytes)
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality (the comparison against pinned keys).
    pub fn ct_eq(&self, other: &PublicKey) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_KEY_PREFIX}{}", B64.encode(self.0))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

impl FromStr for PublicKey {
    type Err = ProtoError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ProtoError::BadPublicKey {
            input: s.chars().take(80).collect(),
        };
        let b64 = s.trim().strip_prefix(PUBLIC_KEY_PREFIX).ok_or_else(bad)?;
        let raw = B64.decode(b64).map_err(|_| bad())?;
        let bytes: [u8; 32] = raw.as_slice().try_into().map_err(|_| bad())?;
        Ok(PublicKey(bytes))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
