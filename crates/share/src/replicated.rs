use std::fmt;

use rand::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{PartyId, Ring, ShareError};

/// One party's replicated share of a vector: its own component `x_i` and the
/// next party's component `x_{i+1}`, element by element.
///
/// Used for arithmetic sharings (`x = x0 + x1 + x2`) and boolean sharings
/// (`x = x0 ^ x1 ^ x2`) alike; the functions that combine shares say which.
/// A single party's share is uniformly random, but it is still wiped on drop
/// and never printed: two of them reconstruct the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ShareVec<R: Ring> {
    party: PartyId,
    own: Vec<R>,
    next: Vec<R>,
}

impl<R: Ring> ShareVec<R> {
    /// Assembles a share from its two components.
    pub fn from_parts(party: PartyId, own: Vec<R>, next: Vec<R>) -> Result<Self, ShareError> {
        if own.len() != next.len() {
            return Err(ShareError::LengthMismatch {
                left: own.len(),
                right: next.len(),
            });
        }
        Ok(Self { party, own, next })
    }

    /// The party holding this share.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// Number of shared elements.
    pub fn len(&self) -> usize {
        self.own.len()
    }

    /// True when no element is shared.
    pub fn is_empty(&self) -> bool {
        self.own.is_empty()
    }

    /// The party's own component `x_i`.
    pub fn own(&self) -> &[R] {
        &self.own
    }

    /// The next party's component `x_{i+1}`, held as a copy.
    pub fn next(&self) -> &[R] {
        &self.next
    }

    /// Mutable access to both components (`(own, next)`).
    pub fn parts_mut(&mut self) -> (&mut Vec<R>, &mut Vec<R>) {
        (&mut self.own, &mut self.next)
    }

    /// Consumes the share into its components.
    pub fn into_parts(mut self) -> (Vec<R>, Vec<R>) {
        (
            std::mem::take(&mut self.own),
            std::mem::take(&mut self.next),
        )
    }
}

impl<R: Ring> Zeroize for ShareVec<R> {
    fn zeroize(&mut self) {
        // Ring types are plain integers: overwrite through their byte view.
        bytemuck::cast_slice_mut::<R, u8>(&mut self.own).zeroize();
        bytemuck::cast_slice_mut::<R, u8>(&mut self.next).zeroize();
    }
}

impl<R: Ring> Drop for ShareVec<R> {
    fn drop(&mut self) {
        self.zeroize();
    }
}

impl<R: Ring> ZeroizeOnDrop for ShareVec<R> {}

impl<R: Ring> fmt::Debug for ShareVec<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareVec")
            .field("party", &self.party)
            .field("len", &self.own.len())
            .field("values", &"<redacted>")
            .finish()
    }
}

fn deal_with<R: Ring, G: Rng + ?Sized>(
    secret: &[R],
    rng: &mut G,
    last: impl Fn(R, R, R) -> R,
) -> [ShareVec<R>; 3] {
    let n = secret.len();
    let c0: Vec<R> = (0..n).map(|_| R::random(rng)).collect();
    let c1: Vec<R> = (0..n).map(|_| R::random(rng)).collect();
    let c2: Vec<R> = secret
        .iter()
        .zip(c0.iter().zip(&c1))
        .map(|(&s, (&a, &b))| last(s, a, b))
        .collect();
    [
        ShareVec {
            party: PartyId::P0,
            own: c0.clone(),
            next: c1.clone(),
        },
        ShareVec {
            party: PartyId::P1,
            own: c1,
            next: c2.clone(),
        },
        ShareVec {
            party: PartyId::P2,
            own: c2,
            next: c0,
        },
    ]
}

/// Splits `secret` into three replicated arithmetic shares (`x = x0 + x1 + x2`),
/// indexed by party. `rng` must be a CSPRNG: the dealer is the enrollment client.
pub fn deal<R: Ring>(secret: &[R], rng: &mut (impl Rng + ?Sized)) -> [ShareVec<R>; 3] {
    deal_with(secret, rng, |s, a, b| s.sub(a).sub(b))
}

/// Splits `secret` words into three replicated boolean shares (`x = x0 ^ x1 ^ x2`).
pub fn deal_bool<R: Ring>(secret: &[R], rng: &mut (impl Rng + ?Sized)) -> [ShareVec<R>; 3] {
    deal_with(secret, rng, |s, a, b| s ^ a ^ b)
}

fn reconstruct_with<R: Ring>(
    shares: &[ShareVec<R>; 3],
    combine: impl Fn(R, R, R) -> R,
) -> Result<Vec<R>, ShareError> {
    for (share, party) in shares.iter().zip(PartyId::ALL) {
        if share.party != party {
            return Err(ShareError::WrongParty {
                expected: party,
                found: share.party,
            });
        }
    }
    let n = shares[0].len();
    for s in shares.iter().skip(1) {
        if s.len() != n {
            return Err(ShareError::LengthMismatch {
                left: n,
                right: s.len(),
            });
        }
    }
    // Component x_j is held by P_j (own) and by P_{j-1} (next).
    for party in PartyId::ALL {
        let holder = &shares[party.index()];
        let copy = &shares[party.prev().index()];
        if let Some(index) = holder.own.iter().zip(&copy.next).position(|(a, b)| a != b) {
            return Err(ShareError::Inconsistent {
                component: party,
                index,
                holder: party,
                copy_holder: party.prev(),
            });
        }
    }
    Ok((0..n)
        .map(|k| combine(shares[0].own[k], shares[1].own[k], shares[2].own[k]))
        .collect())
}

/// Reconstructs an arithmetic sharing from all three parties' shares (indexed
/// by party), checking that the two copies of every component agree.
pub fn reconstruct<R: Ring>(shares: &[ShareVec<R>; 3]) -> Result<Vec<R>, ShareError> {
    reconstruct_with(shares, |a, b, c| a.add(b).add(c))
}

/// Reconstructs a boolean (XOR) sharing, with the same consistency check.
pub fn reconstruct_bool<R: Ring>(shares: &[ShareVec<R>; 3]) -> Result<Vec<R>, ShareError> {
    reconstruct_with(shares, |a, b, c| a ^ b ^ c)
}

#[cfg(test)]
mod tests;
