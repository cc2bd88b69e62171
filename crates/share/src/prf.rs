use std::fmt;

use aes::Aes128;
use aes::cipher::{Array, BlockCipherEncrypt, KeyInit};
use rand::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{PartyId, Ring, ShareVec};

/// A 128-bit PRF key shared by two neighbouring parties.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrfKey([u8; 16]);

impl PrfKey {
    /// A fresh random key.
    pub fn random<G: Rng + ?Sized>(rng: &mut G) -> Self {
        Self(rng.random())
    }

    /// The key bytes, to send to the neighbour that shares this key (over an
    /// encrypted link only).
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0
    }

    /// Rebuilds a key received from the neighbour.
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for PrfKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrfKey(<redacted>)")
    }
}

/// Correlated randomness of one party: AES-128 in counter mode under the key
/// `K_i` it shares with its previous party and the key `K_{i+1}` it shares with
/// its next party.
///
/// Every party keeps one counter and the protocol makes the same calls in the
/// same order on every party, so the two holders of a key always evaluate it
/// at the same points. That is why all methods take `&mut self`.
pub struct CorrelatedRng {
    party: PartyId,
    own: Aes128,
    next: Aes128,
    counter: u128,
}

impl fmt::Debug for CorrelatedRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CorrelatedRng")
            .field("party", &self.party)
            .field("counter", &self.counter)
            .field("keys", &"<redacted>")
            .finish()
    }
}

/// Fills `out` with AES_k(counter), AES_k(counter+1), ... read as ring elements.
fn fill<R: Ring>(cipher: &Aes128, counter: u128, out: &mut Vec<R>, n: usize) -> u128 {
    let elems_per_block = 16 / size_of::<R>();
    let blocks = n.div_ceil(elems_per_block);
    out.clear();
    out.resize(blocks * elems_per_block, R::ZERO);
    let raw: &mut [[u8; 16]] = bytemuck::cast_slice_mut(out.as_mut_slice());
    for (i, block) in raw.iter_mut().enumerate() {
        *block = (counter + i as u128).to_le_bytes();
    }
    cipher.encrypt_blocks(Array::cast_slice_from_core_mut(raw));
    out.truncate(n);
    blocks as u128
}

impl CorrelatedRng {
    /// Builds the generator of `party` from the key it shares with its previous
    /// party (`own`, i.e. `K_i`) and the key it shares with its next party
    /// (`next`, i.e. `K_{i+1}`).
    pub fn new(party: PartyId, own: &PrfKey, next: &PrfKey) -> Self {
        Self {
            party,
            own: Aes128::new(&own.0.into()),
            next: Aes128::new(&next.0.into()),
            counter: 0,
        }
    }

    /// Keys for all three parties at once (tests and single-process benches).
    pub fn setup_local<G: Rng + ?Sized>(rng: &mut G) -> [CorrelatedRng; 3] {
        let keys = [
            PrfKey::random(rng),
            PrfKey::random(rng),
            PrfKey::random(rng),
        ];
        PartyId::ALL.map(|p| Self::new(p, &keys[p.index()], &keys[p.next().index()]))
    }

    /// The party this generator belongs to.
    pub fn party(&self) -> PartyId {
        self.party
    }

    /// The two PRF streams at the current counter: `(F(K_i), F(K_{i+1}))`.
    fn pair<R: Ring>(&mut self, n: usize) -> (Vec<R>, Vec<R>) {
        let mut a = Vec::new();
        let mut b = Vec::new();
        let used = fill(&self.own, self.counter, &mut a, n);
        fill(&self.next, self.counter, &mut b, n);
        self.counter += used;
        (a, b)
    }

    /// The next `n` elements of both streams, `(own key's, next key's)`:
    /// the own stream is shared with the previous party (its next stream),
    /// the next stream with the next party (its own stream). Protocols that
    /// must later prove what they sent (`sanctuary-mpc`'s malicious mode)
    /// keep the two apart.
    pub fn streams<R: Ring>(&mut self, n: usize) -> (Vec<R>, Vec<R>) {
        self.pair(n)
    }

    /// This party's part of an additive sharing of zero:
    /// `alpha_i = F(K_i) - F(K_{i+1})`, so that `alpha_0 + alpha_1 + alpha_2 = 0`.
    pub fn zero_share<R: Ring>(&mut self, n: usize) -> Vec<R> {
        let (mut a, b) = self.pair::<R>(n);
        for (x, y) in a.iter_mut().zip(&b) {
            *x = x.sub(*y);
        }
        a
    }

    /// This party's part of an XOR sharing of zero.
    pub fn zero_share_bool<R: Ring>(&mut self, n: usize) -> Vec<R> {
        let (mut a, b) = self.pair::<R>(n);
        for (x, y) in a.iter_mut().zip(&b) {
            *x = *x ^ *y;
        }
        a
    }

    /// A replicated sharing of a random value nobody knows: component `j` is
    /// `F(K_j)`, which exactly its two holders can compute. Used to re-randomise
    /// stored shares (refresh) without any message.
    pub fn random_share<R: Ring>(&mut self, n: usize) -> ShareVec<R> {
        let (a, b) = self.pair::<R>(n);
        // Lengths are equal by construction.
        match ShareVec::from_parts(self.party, a, b) {
            Ok(s) => s,
            Err(_) => unreachable!("both PRF streams have length n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{reconstruct, reconstruct_bool};

    #[test]
    fn zero_shares_sum_to_zero() {
        let mut rngs = CorrelatedRng::setup_local(&mut rand::rng());
        for n in [0usize, 1, 7, 8, 100] {
            let parts: Vec<Vec<u32>> = rngs.iter_mut().map(|r| r.zero_share(n)).collect();
            for ((a, b), c) in parts[0].iter().zip(&parts[1]).zip(&parts[2]) {
                assert_eq!(a.add(*b).add(*c), 0);
            }
            let parts: Vec<Vec<u16>> = rngs.iter_mut().map(|r| r.zero_share_bool(n)).collect();
            for ((a, b), c) in parts[0].iter().zip(&parts[1]).zip(&parts[2]) {
                assert_eq!(a ^ b ^ c, 0);
            }
            if n > 4 {
                // The parts themselves are not zero (they are pseudorandom).
                assert!(parts[0].iter().any(|&v| v != 0));
            }
        }
    }

    #[test]
    fn random_shares_are_consistent_and_fresh() {
        let mut rngs = CorrelatedRng::setup_local(&mut rand::rng());
        let a: [ShareVec<u32>; 3] = [
            rngs[0].random_share(16),
            rngs[1].random_share(16),
            rngs[2].random_share(16),
        ];
        let b: [ShareVec<u32>; 3] = [
            rngs[0].random_share(16),
            rngs[1].random_share(16),
            rngs[2].random_share(16),
        ];
        let va = reconstruct(&a).expect("copies agree");
        let vb = reconstruct_bool(&b).expect("copies agree");
        assert_ne!(va, vb);
        assert_ne!(a[0].own(), b[0].own(), "the counter must advance");
    }

    #[test]
    fn key_debug_is_redacted() {
        let k = PrfKey::from_bytes([0xab; 16]);
        assert_eq!(format!("{k:?}"), "PrfKey(<redacted>)");
    }
}
