use std::fmt::Debug;
use std::ops::{BitAnd, BitXor, Not, Shl, Shr};

use rand::Rng;

/// The ring `Z_2^k` for `k = Self::BITS`, represented by an unsigned integer
/// with wrapping arithmetic.
///
/// The same type also serves as a `k`-bit word of XOR-shared bits, which is why
/// the bit operations are part of the trait.
pub trait Ring:
    Copy
    + Eq
    + Debug
    + Send
    + Sync
    + 'static
    + bytemuck::Pod
    + BitAnd<Output = Self>
    + BitXor<Output = Self>
    + Not<Output = Self>
    + Shl<u32, Output = Self>
    + Shr<u32, Output = Self>
{
    /// Bit width `k`.
    const BITS: u32;
    /// Additive identity.
    const ZERO: Self;
    /// Multiplicative identity.
    const ONE: Self;

    /// `a + b mod 2^k`.
    fn add(self, rhs: Self) -> Self;
    /// `a - b mod 2^k`.
    fn sub(self, rhs: Self) -> Self;
    /// `a * b mod 2^k`.
    fn mul(self, rhs: Self) -> Self;
    /// `-a mod 2^k`.
    fn neg(self) -> Self;
    /// Embeds a signed integer (reduced mod `2^k`).
    fn from_i64(v: i64) -> Self;
    /// The two's-complement signed value in `[-2^(k-1), 2^(k-1))`.
    fn to_i64(self) -> i64;
    /// The most significant bit: the sign in the two's-complement reading.
    fn msb(self) -> bool {
        (self >> (Self::BITS - 1)) & Self::ONE == Self::ONE
    }
    /// A uniformly random element.
    fn random<G: Rng + ?Sized>(rng: &mut G) -> Self;
}

macro_rules! impl_ring {
    ($t:ty, $s:ty) => {
        impl Ring for $t {
            const BITS: u32 = <$t>::BITS;
            const ZERO: Self = 0;
            const ONE: Self = 1;

            #[inline(always)]
            fn add(self, rhs: Self) -> Self {
                self.wrapping_add(rhs)
            }
            #[inline(always)]
            fn sub(self, rhs: Self) -> Self {
                self.wrapping_sub(rhs)
            }
            #[inline(always)]
            fn mul(self, rhs: Self) -> Self {
                self.wrapping_mul(rhs)
            }
            #[inline(always)]
            fn neg(self) -> Self {
                self.wrapping_neg()
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                // Truncation is reduction mod 2^k: intended.
                v as $t
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as $s as i64
            }
            fn random<G: Rng + ?Sized>(rng: &mut G) -> Self {
                rng.random()
            }
        }
    };
}

impl_ring!(u16, i16);
impl_ring!(u32, i32);
impl_ring!(u64, i64);

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip<R: Ring>() {
        let max = i64::MAX >> (64 - R::BITS);
        for v in [-5i64, -1, 0, 1, 1000, max, -max - 1] {
            assert_eq!(R::from_i64(v).to_i64(), v, "{} bits", R::BITS);
            assert_eq!(R::from_i64(v).msb(), v < 0);
        }
        assert_eq!(R::from_i64(3).mul(R::from_i64(-4)).to_i64(), -12);
        assert_eq!(R::from_i64(3).sub(R::from_i64(5)).to_i64(), -2);
        assert_eq!(R::from_i64(7).neg().to_i64(), -7);
    }

    #[test]
    fn signed_embedding_roundtrips_for_every_width() {
        roundtrip::<u16>();
        roundtrip::<u32>();
        roundtrip::<u64>();
    }
}
