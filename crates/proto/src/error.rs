use std::path::PathBuf;

/// Errors of the shared wire formats: a network file, a pinned key, a
/// share encoding.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtoError {
    /// A network file could not be read.
    #[error("cannot read {path}")]
    NetworkFileIo {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A network file is invalid.
    #[error("{path}: {message}")]
    NetworkFile {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A pinned public key string could not be parsed.
    #[error(
        "invalid pinned public key {input:?}: expected `ed25519:` followed by 44 base64 characters"
    )]
    BadPublicKey {
        /// The offending input, truncated.
        input: String,
    },
    /// Share bytes of the wrong length for the template kind.
    #[error("share has {found} bytes, expected {expected} for this template kind")]
    ShareLength {
        /// Bytes received.
        found: usize,
        /// Bytes a share of this kind has.
        expected: usize,
    },
    /// Share components that do not form a share.
    #[error("invalid share")]
    Share(#[source] sanctuary_share::ShareError),
}
