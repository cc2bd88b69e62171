//! The JOSE pieces SD-JWT needs here: base64url, compact EdDSA JWS (RFC 7515
//! with RFC 8037 `alg: "EdDSA"`), Ed25519 JWKs for `cnf`, and the SHA-256
//! disclosure hasher.
//!
//! Signatures are checked on the exact bytes received (`header.payload` as
//! sent), never on a re-serialisation, and with `verify_strict` (no
//! malleable or small-order encodings).

use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sd_jwt_payload::{Hasher, JsonObject, JwsSigner};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::WeaveError;

/// `alg` of every JWS this crate makes or accepts.
pub(crate) const ALG: &str = "EdDSA";

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn unb64(what: &'static str, s: &str) -> Result<Vec<u8>, WeaveError> {
    URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|e| WeaveError::malformed(what, e))
}

/// base64url(SHA-256(s)): `sd_hash` and disclosure digests.
pub(crate) fn sha256_b64(s: &str) -> String {
    b64(&Sha256::digest(s.as_bytes()))
}

/// The SD-JWT disclosure hasher (`_sd_alg: "sha-256"`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sha256Hasher;

impl Hasher for Sha256Hasher {
    fn digest(&self, input: &[u8]) -> Vec<u8> {
        Sha256::digest(input).to_vec()
    }

    fn alg_name(&self) -> &str {
        "sha-256"
    }
}

fn signing_input(header: &JsonObject, payload: &JsonObject) -> Result<String, WeaveError> {
    let h = serde_json::to_vec(header).map_err(|e| WeaveError::malformed("JWS header", e))?;
    let p = serde_json::to_vec(payload).map_err(|e| WeaveError::malformed("JWS payload", e))?;
    Ok(format!("{}.{}", b64(&h), b64(&p)))
}

/// Signs JWSs with one Ed25519 key (holder binding keys, thread keys).
pub(crate) struct KeySigner<'a>(pub(crate) &'a SigningKey);

#[async_trait::async_trait]
impl JwsSigner for KeySigner<'_> {
    type Error = WeaveError;

    async fn sign(&self, header: &JsonObject, payload: &JsonObject) -> Result<Vec<u8>, WeaveError> {
        let input = signing_input(header, payload)?;
        let sig = self.0.sign(input.as_bytes());
        Ok(format!("{input}.{}", b64(&sig.to_bytes())).into_bytes())
    }
}

/// Records the signing input and returns a JWS with an all-zero signature:
/// the real signature comes later from the threshold of nodes.
#[derive(Default)]
pub(crate) struct CaptureSigner(Mutex<Option<String>>);

impl CaptureSigner {
    pub(crate) fn take(&self) -> Option<String> {
        self.0.lock().ok().and_then(|mut g| g.take())
    }
}

#[async_trait::async_trait]
impl JwsSigner for CaptureSigner {
    type Error = WeaveError;

    async fn sign(&self, header: &JsonObject, payload: &JsonObject) -> Result<Vec<u8>, WeaveError> {
        let input = signing_input(header, payload)?;
        if let Ok(mut g) = self.0.lock() {
            *g = Some(input.clone());
        }
        Ok(format!("{input}.{}", b64(&[0u8; 64])).into_bytes())
    }
}

/// Runs a future that never waits (the SD-JWT builders are `async` only
/// because their signer trait is; every signer here is synchronous).
pub(crate) fn ready<F: Future>(f: F) -> Result<F::Output, WeaveError> {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => Ok(v),
        Poll::Pending => Err(WeaveError::malformed(
            "signer",
            "a synchronous signer returned Pending",
        )),
    }
}

/// A parsed compact JWS whose signature was verified.
#[derive(Debug, Clone)]
pub(crate) struct VerifiedJws {
    pub(crate) header: JsonObject,
    pub(crate) payload: JsonObject,
}

/// Splits a compact JWS into (signing input, header, payload, signature).
pub(crate) fn parse_jws(
    what: &'static str,
    jws: &str,
) -> Result<(String, JsonObject, JsonObject, [u8; 64]), WeaveError> {
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(WeaveError::malformed(what, "a compact JWS has 3 parts"));
    };
    let header: JsonObject = serde_json::from_slice(&unb64(what, h)?)
        .map_err(|e| WeaveError::malformed(what, format!("header: {e}")))?;
    let payload: JsonObject = serde_json::from_slice(&unb64(what, p)?)
        .map_err(|e| WeaveError::malformed(what, format!("payload: {e}")))?;
    let sig: [u8; 64] = unb64(what, s)?
        .try_into()
        .map_err(|_| WeaveError::malformed(what, "Ed25519 signatures are 64 bytes"))?;
    if header.get("alg").and_then(Value::as_str) != Some(ALG) {
        return Err(WeaveError::malformed(what, "alg must be EdDSA"));
    }
    Ok((format!("{h}.{p}"), header, payload, sig))
}

/// Verifies a compact EdDSA JWS under `key`.
pub(crate) fn verify_jws(
    what: &'static str,
    jws: &str,
    key: &VerifyingKey,
) -> Result<VerifiedJws, WeaveError> {
    let (input, header, payload, sig) = parse_jws(what, jws)?;
    key.verify_strict(input.as_bytes(), &Signature::from_bytes(&sig))
        .map_err(|_| WeaveError::BadSignature { what })?;
    Ok(VerifiedJws { header, payload })
}

/// The `cnf` value binding a credential to `key` (RFC 7800 with an RFC 8037
/// OKP JWK).
pub(crate) fn jwk(key: &VerifyingKey) -> JsonObject {
    let mut o = JsonObject::new();
    o.insert("kty".into(), "OKP".into());
    o.insert("crv".into(), "Ed25519".into());
    o.insert("x".into(), b64(key.as_bytes()).into());
    o
}

/// The holder key in a payload's `cnf.jwk`.
pub(crate) fn cnf_key(payload: &JsonObject) -> Result<VerifyingKey, WeaveError> {
    let cnf = payload
        .get("cnf")
        .and_then(Value::as_object)
        .filter(|c| c.len() == 1)
        .ok_or_else(|| WeaveError::malformed("credential", "cnf must be exactly {jwk}"))?;
    let jwk = cnf
        .get("jwk")
        .and_then(Value::as_object)
        .ok_or_else(|| WeaveError::malformed("credential", "no cnf.jwk holder key"))?;
    if jwk.get("kty").and_then(Value::as_str) != Some("OKP")
        || jwk.get("crv").and_then(Value::as_str) != Some("Ed25519")
        || jwk.len() != 3
    {
        return Err(WeaveError::malformed(
            "credential",
            "cnf.jwk must be exactly an Ed25519 OKP key",
        ));
    }
    let x = jwk
        .get("x")
        .and_then(Value::as_str)
        .ok_or_else(|| WeaveError::malformed("credential", "cnf.jwk.x missing"))?;
    key_from_bytes("cnf.jwk", &unb64("cnf.jwk", x)?)
}

pub(crate) fn key_from_bytes(what: &'static str, b: &[u8]) -> Result<VerifyingKey, WeaveError> {
    let arr: [u8; 32] = b
        .try_into()
        .map_err(|_| WeaveError::malformed(what, "Ed25519 public keys are 32 bytes"))?;
    VerifyingKey::from_bytes(&arr).map_err(|e| WeaveError::malformed(what, e))
}

/// An Ed25519 public key from 64 hex characters.
pub fn key_from_hex(what: &'static str, s: &str) -> Result<VerifyingKey, WeaveError> {
    key_from_bytes(
        what,
        &hex::decode(s).map_err(|e| WeaveError::malformed(what, e))?,
    )
}

/// A fresh random Ed25519 key (holder binding keys, thread keys).
pub fn fresh_key() -> SigningKey {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    rand::Rng::fill(&mut rand::rng(), seed.as_mut());
    SigningKey::from_bytes(&seed)
}
