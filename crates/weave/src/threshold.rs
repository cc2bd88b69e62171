//! FROST (RFC 9591) Ed25519 2-of-3 signing steps, for the nodes and for the
//! holder acting as coordinator. Thin wrappers over `frost-ed25519` that fix
//! the message to a JWS signing input and return a plain 64-byte Ed25519
//! signature (`R || s`, RFC 8032 encoding), which any Ed25519 verifier
//! accepts under the group key.

use std::collections::BTreeMap;

use frost_ed25519::round1::{SigningCommitments, SigningNonces};
use frost_ed25519::round2::SignatureShare;
use frost_ed25519::{Identifier, SigningPackage};

use crate::{NodeKeys, WeaveError, WeavePublic};

/// Node, round 1: fresh nonces (kept secret, used once) and their commitments.
pub fn commit(keys: &NodeKeys) -> (SigningNonces, SigningCommitments) {
    frost_ed25519::round1::commit(keys.frost.signing_share(), &mut rand_core::OsRng)
}

/// Node, round 2: the signature share over the package's message. Call only
/// after the request was checked ([`crate::check_sign_request`]).
pub fn sign(
    keys: &NodeKeys,
    package: &SigningPackage,
    nonces: &SigningNonces,
) -> Result<SignatureShare, WeaveError> {
    frost_ed25519::round2::sign(package, nonces, &keys.frost).map_err(WeaveError::Frost)
}

/// Coordinator: the signing package for `signing_input`.
pub fn signing_package(
    commitments: BTreeMap<Identifier, SigningCommitments>,
    signing_input: &str,
) -> SigningPackage {
    SigningPackage::new(commitments, signing_input.as_bytes())
}

/// Coordinator: aggregates the shares into one Ed25519 signature, which is
/// checked against the group key (a bad share fails with the culprit named
/// in the [`frost_ed25519::Error`]).
pub fn aggregate(
    package: &SigningPackage,
    shares: &BTreeMap<Identifier, SignatureShare>,
    public: &WeavePublic,
) -> Result<[u8; 64], WeaveError> {
    let sig = frost_ed25519::aggregate(package, shares, &public.frost_public()?)
        .map_err(WeaveError::Frost)?;
    sig.serialize()
        .map_err(WeaveError::Frost)?
        .try_into()
        .map_err(|_| WeaveError::malformed("signature", "expected 64 bytes"))
}

/// What one rogue node can make on its own: a Schnorr signature with its
/// signing share used as if it were the whole key. It does not verify under
/// the group key; tests and the demo use it to show that.
pub fn single_node_forgery(keys: &NodeKeys, message: &[u8]) -> Result<[u8; 64], WeaveError> {
    let sk = frost_ed25519::SigningKey::deserialize(&keys.frost.signing_share().serialize())
        .map_err(WeaveError::Frost)?;
    sk.sign(rand_core::OsRng, message)
        .serialize()
        .map_err(WeaveError::Frost)?
        .try_into()
        .map_err(|_| WeaveError::malformed("signature", "expected 64 bytes"))
}
