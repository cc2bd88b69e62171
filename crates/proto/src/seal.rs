//! Sealed boxes: how a client sends each node only its own share, and how a
//! node returns its share of a decision to the client, through a coordinator
//! that must not read them.
//!
//! `seal(recipient, context, plaintext)`: a fresh X25519 key pair, the shared
//! secret with the recipient's static key, HKDF-SHA256 (salt
//! `sanctuary-seal-v1`, info = recipient key || ephemeral key || context) to a
//! ChaCha20-Poly1305 key, a random nonce, and `context` as associated data,
//! so a box opened under another request or for another party fails.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

/// A sealed payload.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SealedBox {
    /// Sender's ephemeral X25519 public key (base64).
    pub epk: String,
    /// Nonce (base64, 12 bytes).
    pub nonce: String,
    /// Ciphertext with tag (base64).
    pub ct: String,
}

impl SealedBox {
    /// A digest that names this box (all three fields, domain-separated):
    /// what a subject signs and a node checks to know the box it received
    /// is the one the client made.
    pub fn digest(&self) -> [u8; 32] {
        use sha2::Digest as _;
        Sha256::new()
            .chain_update(b"sanctuary/sealed-box/v1\0")
            .chain_update(self.epk.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.nonce.as_bytes())
            .chain_update(b"\0")
            .chain_update(self.ct.as_bytes())
            .finalize()
            .into()
    }
}

impl fmt::Debug for SealedBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedBox({} bytes)", self.ct.len())
    }
}

/// Why a box could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Not valid base64 or wrong field sizes.
    #[error("sealed box is malformed: {0}")]
    Malformed(&'static str),
    /// Wrong recipient, wrong context, or altered ciphertext.
    #[error("sealed box does not open: wrong recipient or context, or it was altered")]
    Open,
}

/// A static X25519 key for receiving sealed boxes. Wiped on drop.
pub struct SealKey(StaticSecret);

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealKey(<redacted>)")
    }
}

impl SealKey {
    /// A fresh key.
    pub fn generate() -> Self {
        let mut b = Zeroizing::new([0u8; 32]);
        rand::rng().fill_bytes(b.as_mut());
        Self(StaticSecret::from(*b))
    }

    /// From stored bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(StaticSecret::from(b))
    }

    /// The secret bytes, for saving to a 0600 file.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.0.to_bytes())
    }

    /// The public key as base64.
    pub fn public(&self) -> String {
        B64.encode(PublicKey::from(&self.0).as_bytes())
    }

    /// Opens a box sealed to this key under `context`.
    pub fn open(&self, b: &SealedBox, context: &[u8]) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let epk: [u8; 32] = decode(&b.epk)?
            .try_into()
            .map_err(|_| SealError::Malformed("epk"))?;
        let nonce: [u8; 12] = decode(&b.nonce)?
            .try_into()
            .map_err(|_| SealError::Malformed("nonce"))?;
        let ct = decode(&b.ct)?;
        let epk = PublicKey::from(epk);
        let shared = self.0.diffie_hellman(&epk);
        let own = PublicKey::from(&self.0);
        let cipher = cipher(shared.as_bytes(), own.as_bytes(), epk.as_bytes(), context);
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &ct,
                    aad: context,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Open)
    }
}

fn decode(s: &str) -> Result<Vec<u8>, SealError> {
    B64.decode(s).map_err(|_| SealError::Malformed("base64"))
}

fn cipher(
    shared: &[u8; 32],
    recipient: &[u8; 32],
    epk: &[u8; 32],
    context: &[u8],
) -> ChaCha20Poly1305 {
    let hk = Hkdf::<Sha256>::new(Some(b"sanctuary-seal-v1"), shared);
    let mut info = Vec::with_capacity(64 + context.len());
    info.extend_from_slice(recipient);
    info.extend_from_slice(epk);
    info.extend_from_slice(context);
    let mut key = Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's output limit.
    if hk.expand(&info, key.as_mut()).is_err() {
        unreachable!("HKDF-SHA256 can expand 32 bytes");
    }
    ChaCha20Poly1305::new(&Key::from(*key))
}

/// Seals `plaintext` to the X25519 public key `recipient` (base64).
pub fn seal(recipient: &str, context: &[u8], plaintext: &[u8]) -> Result<SealedBox, SealError> {
    let rk: [u8; 32] = decode(recipient)?
        .try_into()
        .map_err(|_| SealError::Malformed("recipient key"))?;
    let rk = PublicKey::from(rk);
    let eph = SealKey::generate();
    let epk = PublicKey::from(&eph.0);
    let shared = eph.0.diffie_hellman(&rk);
    let mut nonce = [0u8; 12];
    rand::rng().fill_bytes(&mut nonce);
    let c = cipher(shared.as_bytes(), rk.as_bytes(), epk.as_bytes(), context);
    let ct = c
        .encrypt(
            &Nonce::from(nonce),
            Payload {
                msg: plaintext,
                aad: context,
            },
        )
        .map_err(|_| SealError::Malformed("plaintext too long"))?;
    Ok(SealedBox {
        epk: B64.encode(epk.as_bytes()),
        nonce: B64.encode(nonce),
        ct: B64.encode(ct),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_binding() {
        let k = SealKey::generate();
        let b = seal(&k.public(), b"req-1/P0", b"share bytes").expect("seal");
        assert_eq!(
            k.open(&b, b"req-1/P0").expect("open").as_slice(),
            b"share bytes"
        );
        assert_eq!(k.open(&b, b"req-2/P0"), Err(SealError::Open));
        let other = SealKey::generate();
        assert_eq!(other.open(&b, b"req-1/P0"), Err(SealError::Open));
        let mut tampered = b.clone();
        tampered.ct = B64.encode([0u8; 27]);
        assert_eq!(k.open(&tampered, b"req-1/P0"), Err(SealError::Open));
        assert!(format!("{k:?}").contains("redacted"));
    }
}
