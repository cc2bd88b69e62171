//! Sanctuary's three-party matching protocols.
//!
//! Templates are held as replicated secret shares ([`sanctuary_share`]); this
//! crate computes on them without reconstructing them:
//!
//! ```text
//!  query shares ─┐
//!                ├─ dot products (local) ─ reshare (1 ring element / party / score)
//!  gallery rows ─┘        │
//!                         ▼
//!          score - threshold  (arithmetic shares)
//!                         │  A2B: carry-save + Kogge-Stone prefix adder,
//!                         ▼  log2(k)+2 rounds whatever the batch size
//!            sign bit per score (XOR shares, packed)
//!                         │  OR-tree over rotations / entries
//!                         ▼
//!       decision bits ── opened only to whoever is entitled
//! ```
//!
//! Protocol steps are async functions over a [`Session`], whose only contact
//! with the network is the two-method [`Transport`] trait. The arithmetic
//! kernels inside are synchronous.
#![deny(clippy::unwrap_used)]
#![deny(
    clippy::iter_over_hash_type,
    reason = "iteration order must be identical on every party"
)]
#![warn(missing_docs)]

mod bits;
mod dzkp;
mod error;
mod gf64;
mod gr;
mod kernels;
mod matching;
mod protocol;
mod session;
#[cfg(test)]
mod testutil;
pub mod transport;

// The public interface is:
pub use bits::BitShares;
pub use error::MpcError;
pub use kernels::{Kernel, dot_i8};
pub use matching::{
    EmbeddingGallery, Gallery, IrisGallery, IrisQuery, Scope, match_embedding, match_gallery,
    match_iris, prepare_embedding_query, prepare_iris_query,
};
pub use protocol::{and_bits, msb_bits, not_bits, open_bits, or_reduce_groups};
pub use session::{Security, Session, SessionStats};
pub use transport::{LocalTransport, Transport, TransportError};
