//! Secret-sharing primitives of Sanctuary's three-party MPC.
//!
//! Everything here is synchronous arithmetic with no I/O, so it can be reasoned
//! about (and tested) without a network:
//!
//! ```text
//!   secret x  --deal-->  x = x0 + x1 + x2  (mod 2^k)
//!                         party P0 holds (x0, x1)
//!                         party P1 holds (x1, x2)
//!                         party P2 holds (x2, x0)
//! ```
//!
//! Each additive component `x_j` is held by two parties (`P_j` as its *own*
//! component and `P_{j-1}` as its *next* component), which is what lets
//! [`reconstruct`] detect a party that altered its copy.
//!
//! The same layout carries boolean (XOR) sharings: the components are then
//! combined with `^` instead of `+`.
//!
//! Correlated randomness ([`CorrelatedRng`]) comes from pairwise AES-CTR keys:
//! key `K_j` is known to `P_j` and `P_{j-1}`, so every party can produce its
//! part of a sharing of zero without sending a message.
//!
//! ```
//! use sanctuary_share::{deal, reconstruct};
//! let mut rng = rand::rng();
//! let shares = deal::<u32>(&[7, 0xdead_beef], &mut rng);
//! assert_eq!(reconstruct(&shares).unwrap(), vec![7, 0xdead_beef]);
//! ```
#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used)]
#![warn(missing_docs)]

mod error;
mod party;
mod prf;
mod replicated;
mod ring;

// The public interface is:
pub use error::ShareError;
pub use party::{InvalidPartyId, PartyId};
pub use prf::{CorrelatedRng, PrfKey};
pub use replicated::{ShareVec, deal, deal_bool, reconstruct, reconstruct_bool};
pub use ring::Ring;
