//! Biometric template kinds, their validation, their encoding as ring vectors
//! for the MPC matcher, and the plaintext reference matcher that every MPC
//! decision is tested against.
//!
//! Two kinds share one MPC core (dot products and a comparison with a public
//! threshold):
//!
//! * [`Embedding`]: a float vector (default 512-d), L2-normalised and quantised
//!   to signed 8-bit ([`QuantizedEmbedding`]); match iff the integer dot product
//!   is at least [`EmbeddingParams::threshold_int`] (the cosine threshold
//!   times `scale^2`, rounded up).
//! * [`IrisCode`]: code bits plus mask bits (default 16 x 200 x 4 = 12,800 of
//!   each); fractional Hamming distance over the common mask, minimum over
//!   column rotations; match iff some rotation has a non-empty common mask and
//!   `HD <= threshold`. With `v = mask * (1 - 2 code)` in {-1, 0, 1}, the common
//!   mask size is `M = <m_a, m_b>` and the disagreement count is
//!   `D = (M - <v_a, v_b>) / 2`, so the test `q*D <= p*M` (threshold `p/q`) is
//!   linear in two dot products: exactly what MPC can evaluate.
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]
#![warn(missing_docs)]

mod embedding;
mod error;
mod file;
mod iris;

// The public interface is:
pub use embedding::{Embedding, EmbeddingParams, QuantizedEmbedding};
pub use error::TemplateError;
pub use file::{Template, TemplateFile};
pub use iris::{IrisCode, IrisParams, THRESHOLD_DENOMINATOR};

/// Which kind of template a gallery holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateKind {
    /// Fixed-length float embeddings (faces).
    Embedding,
    /// Iris codes with masks.
    Iris,
}

impl std::fmt::Display for TemplateKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TemplateKind::Embedding => "embedding",
            TemplateKind::Iris => "iris",
        })
    }
}
