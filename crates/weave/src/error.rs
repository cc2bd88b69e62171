//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while issuing, holding, presenting or
/// checking Identity Weaving artefacts.
///
/// Who acts on what:
/// * [`WeaveError::Malformed`], [`WeaveError::BadSignature`],
///   [`WeaveError::KeyBinding`], [`WeaveError::Expired`] and
///   [`WeaveError::Tampered`] are refusals of something presented: a verifier
///   answers "not accepted" and changes nothing.
/// * [`WeaveError::PayloadRefused`] and [`WeaveError::BadPrfProof`] are a
///   node refusing to take part (or a client refusing a node's answer).
/// * [`WeaveError::AlreadyCheckedIn`] is the festival's one-person-once rule.
/// * [`WeaveError::Frost`], [`WeaveError::Io`] are failures for the operator.
///
/// No variant carries key material; messages name the artefact and the check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WeaveError {
    /// The pseudonym was already admitted to this event.
    #[error("pseudonym {pseudonym} already checked in to {event}")]
    AlreadyCheckedIn {
        /// The event.
        event: String,
        /// The pseudonym seen twice.
        pseudonym: String,
    },
    /// A signature does not verify under the key it must verify under.
    #[error("signature of the {what} does not verify")]
    BadSignature {
        /// Which artefact (credential, vouch, key-binding JWT, request).
        what: &'static str,
    },
    /// A node's PRF evaluation share has no valid DLEQ proof.
    #[error("PRF evaluation from node {index} has an invalid proof")]
    BadPrfProof {
        /// The node's share index (1-based).
        index: u16,
    },
    /// Outside its validity window (or issued in the future).
    #[error("{what} is expired or not yet valid")]
    Expired {
        /// Which artefact.
        what: &'static str,
    },
    /// Threshold signing failed (names the culprits when a share is bad).
    #[error("threshold signing failed")]
    Frost(#[source] frost_ed25519::Error),
    /// A file could not be read or written.
    #[error("{path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key-binding JWT is missing, for another verifier or nonce, stale,
    /// or does not cover this presentation.
    #[error("key binding refused: {0}")]
    KeyBinding(String),
    /// Not well-formed (encoding, JSON, required claim missing).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which artefact.
        what: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A node refuses to sign or evaluate: the request is not one it may
    /// serve (wrong issuer or type, unexpected claim, lifetime too long,
    /// subject not enrolled here, wrong pseudonym).
    #[error("refused: {0}")]
    PayloadRefused(String),
    /// A disclosure does not belong to the credential (altered or foreign).
    #[error("disclosures do not match the credential: {0}")]
    Tampered(String),
}

impl WeaveError {
    pub(crate) fn malformed(what: &'static str, reason: impl std::fmt::Display) -> Self {
        WeaveError::Malformed {
            what,
            reason: reason.to_string(),
        }
    }
}
