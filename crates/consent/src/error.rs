//! One error enum for the crate, with one sub-enum per cause.

use std::io;

use crate::policy::PolicyViolation;

/// Every error this crate returns.
///
/// Who acts on what:
/// * [`Error::Token`] and [`Error::Policy`]: the node refuses the request and tells
///   the relying party *which* check failed (they contain no secrets);
/// * [`Error::Statement`]: a signed statement (enrollment, revocation, deletion)
///   was malformed or forged; refuse it;
/// * [`Error::Wallet`]: shown to the subject (wrong passphrase, corrupt file, I/O);
/// * [`Error::PolicyFile`]: the operator's policy file is wrong; the node must not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The ethics policy forbids the request.
    #[error("{0}")]
    Policy(#[from] PolicyViolation),
    /// The ethics policy file is invalid.
    #[error("policy file: {0}")]
    PolicyFile(#[from] PolicyFileError),
    /// A signed statement was refused.
    #[error("signed statement refused: {0}")]
    Statement(#[from] StatementError),
    /// The consent token was refused.
    #[error("consent token refused: {0}")]
    Token(#[from] TokenError),
    /// The wallet could not be created, read or written.
    #[error("wallet: {0}")]
    Wallet(#[from] WalletError),
}

impl Error {
    /// A stable machine-readable code for a refusal: the policy rule's id, or
    /// `token_<why>` / `statement_<why>`. It names the check, never the
    /// subject, so it may go into the transparency log and API errors.
    pub fn code(&self) -> String {
        match self {
            Error::Policy(v) => v.rule.id().to_owned(),
            Error::PolicyFile(_) => "policy_file".into(),
            Error::Token(t) => format!(
                "token_{}",
                match t {
                    TokenError::AttenuationCheckFailed { .. } => "attenuation_check_failed",
                    TokenError::AudienceMismatch { .. } => "wrong_audience",
                    TokenError::Expired => "expired",
                    TokenError::Forged => "forged",
                    TokenError::Malformed { .. } => "malformed",
                    TokenError::NetworkMismatch => "wrong_network",
                    TokenError::NotYetValid => "not_yet_valid",
                    TokenError::PurposeMismatch { .. } => "wrong_purpose",
                    TokenError::Revoked => "revoked",
                    TokenError::UsedUp { .. } => "replayed",
                }
            ),
            Error::Statement(e) => format!(
                "statement_{}",
                match e {
                    StatementError::Forged => "forged",
                    StatementError::Malformed { .. } => "malformed",
                    StatementError::NetworkMismatch => "wrong_network",
                    StatementError::Replayed => "replayed",
                    StatementError::Stale => "stale",
                    StatementError::WrongSubject => "wrong_subject",
                }
            ),
            Error::Wallet(_) => "wallet".into(),
        }
    }
}

/// Why a consent token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// A check added by an attenuation block failed and it is none of the known kinds.
    #[error("an attenuation check failed: {rule}")]
    AttenuationCheckFailed {
        /// The Datalog text of the failed check.
        rule: String,
    },
    /// The token was issued for a different relying party.
    #[error("token was issued to a different audience (expected {expected:?})")]
    AudienceMismatch {
        /// The relying party that presented the token.
        expected: String,
    },
    /// The token's (possibly attenuated) expiry has passed.
    #[error("token expired")]
    Expired,
    /// Signature does not verify against the subject's key: forged, tampered, or
    /// signed by someone other than the enrolled subject.
    #[error("token signature does not verify against the subject's key")]
    Forged,
    /// The token cannot be decoded or lacks required claims.
    #[error("malformed token: {reason}")]
    Malformed {
        /// What is wrong (never contains secret material).
        reason: String,
    },
    /// The token is for another trust network.
    #[error("token is for a different network")]
    NetworkMismatch,
    /// The token was issued in the future (beyond allowed clock skew).
    #[error("token is not valid yet")]
    NotYetValid,
    /// The token does not grant the requested purpose.
    #[error("token does not grant purpose {requested}")]
    PurposeMismatch {
        /// The purpose the request needs.
        requested: String,
    },
    /// The subject revoked this token (by id, or all tokens issued before a time).
    #[error("token revoked by the subject")]
    Revoked,
    /// The token's use count is exhausted (a single-use token presented again).
    #[error("token already used {uses} time(s), its limit")]
    UsedUp {
        /// The token's use limit.
        uses: u32,
    },
}

/// Why a signed statement (enrollment, revocation, deletion) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StatementError {
    /// The signature does not verify against the claimed subject key.
    #[error("statement signature does not verify")]
    Forged,
    /// The statement could not be decoded.
    #[error("malformed statement: {reason}")]
    Malformed {
        /// What is wrong.
        reason: String,
    },
    /// The statement is for another network.
    #[error("statement is for a different network")]
    NetworkMismatch,
    /// This statement (its nonce) was already used.
    #[error("statement already used (replayed)")]
    Replayed,
    /// The statement's timestamp is outside the accepted window.
    #[error("statement timestamp outside the accepted window")]
    Stale,
    /// The statement was signed by another subject than the enrollment's.
    #[error("statement signed by a different subject than the enrollment's")]
    WrongSubject,
}

/// Wallet errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalletError {
    /// The file is not a Sanctuary wallet or is truncated.
    #[error("not a Sanctuary wallet file or corrupt: {reason}")]
    Corrupt {
        /// What is wrong.
        reason: String,
    },
    /// An empty passphrase was given for saving.
    #[error("the wallet passphrase must not be empty")]
    EmptyPassphrase,
    /// Reading or writing the wallet file failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// A token could not be built (biscuit error text).
    #[error("could not issue token: {reason}")]
    Issue {
        /// What failed.
        reason: String,
    },
    /// KDF parameters out of the accepted range.
    #[error("key-derivation parameters rejected: {reason}")]
    KdfParams {
        /// What is wrong.
        reason: String,
    },
    /// The file's format version is not supported by this build.
    #[error("unsupported wallet format version {0}")]
    UnsupportedVersion(u8),
    /// Decryption failed: the passphrase is wrong (or the ciphertext was altered;
    /// the AEAD cannot tell these apart).
    #[error("wrong passphrase (or the wallet file was altered)")]
    WrongPassphrase,
}

/// Errors in the ethics policy file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyFileError {
    /// The file parsed but its content is not acceptable.
    #[error("invalid policy: {reason}")]
    Invalid {
        /// What is wrong.
        reason: String,
    },
    /// Reading the file failed.
    #[error("I/O error reading policy file: {0}")]
    Io(#[from] io::Error),
    /// TOML syntax error, unknown field, or wrong type (the message names the field).
    #[error("invalid policy file: {0}")]
    Parse(#[from] toml::de::Error),
    /// Policy format version not supported.
    #[error("unsupported policy version {0} (this build reads version 1)")]
    UnsupportedVersion(u32),
}
