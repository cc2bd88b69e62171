//! What a holder hands a verifier: an optional personhood credential and any
//! number of threads, each an SD-JWT with its own key-binding JWT for the
//! same verifier and nonce.

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};

use crate::WeaveError;
use crate::credential::VCT_PERSONHOOD;
use crate::present::{Issuer, Verified, verify};

/// The presentation bundle (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// A personhood credential presentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential: Option<String>,
    /// Thread presentations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<String>,
}

/// What a verifier learned from a bundle.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleReport {
    /// The network vouches that the holder is a unique enrolled person.
    pub unique_person: bool,
    /// Each thread, with its issuer key and the disclosed claims.
    pub threads: Vec<Verified>,
}

/// Verifies every part of `bundle` for verifier `aud` and `nonce`; any part
/// failing fails the whole bundle (a verifier should not act on a partial
/// story). `group` is the network's group key.
pub fn verify_bundle(
    bundle: &Bundle,
    group: &VerifyingKey,
    aud: &str,
    nonce: &str,
    now: i64,
) -> Result<BundleReport, WeaveError> {
    let unique_person = match &bundle.credential {
        Some(p) => {
            let v = verify(p, Issuer::Network(group), aud, nonce, now)?;
            if v.vct != VCT_PERSONHOOD {
                return Err(WeaveError::malformed(
                    "presentation",
                    "the credential is not a personhood credential",
                ));
            }
            true
        }
        None => false,
    };
    let threads = bundle
        .threads
        .iter()
        .map(|t| verify(t, Issuer::SelfCertified, aud, nonce, now))
        .collect::<Result<_, _>>()?;
    Ok(BundleReport {
        unique_person,
        threads,
    })
}
