//! Blinded audit tags: how a subject finds their own entries.
//!
//! ```text
//!   wallet: audit_key (32 random bytes, never leaves the wallet)
//!   per operation: nonce <- 16 random bytes
//!                  tag    = HMAC-SHA256(audit_key, "sanctuary/log/v1/audit-tag" || nonce)
//!   request carries AuditTag { nonce, tag }; the node copies it into the entry
//! ```
//!
//! Without the key, a tag is a PRF output on a fresh nonce: it is
//! indistinguishable from random and two tags of one subject cannot be linked.
//! The node never sees the key: it only stores what the requester supplied.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::hash::{hex_encode, parse_lower_hex};

/// Domain label prefixed to the nonce in the tag's HMAC input.
pub const AUDIT_TAG_DOMAIN: &[u8] = b"sanctuary/log/v1/audit-tag";

/// Length of a tag nonce in bytes.
pub const NONCE_LEN: usize = 16;

/// A subject's secret audit key, held in their wallet.
///
/// Zeroized on drop; `Debug` prints `<redacted>`. There is deliberately no
/// `Default`, `Clone` is explicit (`clone_secret`), and no serde: the wallet
/// exports it with [`AuditKey::to_bytes`] into its own encrypted storage.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct AuditKey([u8; 32]);

impl AuditKey {
    /// A fresh random key.
    pub fn generate<R: RngCore + CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        AuditKey(k)
    }

    /// Wraps key bytes (e.g. read back from the wallet).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        AuditKey(bytes)
    }

    /// The key bytes, for the wallet's encrypted storage (wiped on drop).
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0)
    }

    /// An explicit copy of the secret.
    pub fn clone_secret(&self) -> Self {
        AuditKey(self.0)
    }

    /// A new tag for one operation, with a fresh random nonce. Call once per
    /// request; never reuse a tag.
    pub fn new_tag<R: RngCore + CryptoRng + ?Sized>(&self, rng: &mut R) -> AuditTag {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        AuditTag {
            nonce,
            tag: self.mac(&nonce),
        }
    }

    /// Whether `tag` was made with this key (constant-time comparison).
    pub fn owns(&self, tag: &AuditTag) -> bool {
        self.mac(&tag.nonce).ct_eq(&tag.tag).into()
    }

    fn mac(&self, nonce: &[u8; NONCE_LEN]) -> [u8; 32] {
        // Invariant: HMAC accepts keys of any length.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(AUDIT_TAG_DOMAIN);
        mac.update(nonce);
        mac.finalize().into_bytes().into()
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}

/// A blinded tag: `nonce` and `tag = HMAC-SHA256(audit_key, domain || nonce)`.
///
/// Serialised as `{"nonce":"<32 hex>","tag":"<64 hex>"}` (lowercase hex only).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AuditTag {
    /// Fresh random nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The HMAC output.
    pub tag: [u8; 32],
}

impl fmt::Debug for AuditTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AuditTag({}:{})",
            hex_encode(&self.nonce),
            hex_encode(&self.tag)
        )
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditTagRepr {
    nonce: String,
    tag: String,
}

impl Serialize for AuditTag {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        AuditTagRepr {
            nonce: hex_encode(&self.nonce),
            tag: hex_encode(&self.tag),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for AuditTag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = AuditTagRepr::deserialize(d)?;
        let bad = |what| {
            serde::de::Error::custom(format_args!(
                "audit tag {what} is not lowercase hex of the right length"
            ))
        };
        Ok(AuditTag {
            nonce: parse_lower_hex(&r.nonce).ok_or_else(|| bad("nonce"))?,
            tag: parse_lower_hex(&r.tag).ok_or_else(|| bad("tag"))?,
        })
    }
}
