//! GF(2^64), the field the AND-gate proofs ([`crate::dzkp`]) work in.
//!
//! Elements are polynomials over GF(2) of degree < 64, bit `l` the
//! coefficient of `X^l`, reduced modulo the irreducible
//! `X^64 + X^4 + X^3 + X + 1`. GF(2) is the subfield {0, 1}, so an AND of
//! bits is a product of field elements, and a 64-bit word of bits read as
//! a field element is a GF(2)-linear, injective image of the word: a word
//! that is not zero stays non-zero.

use std::ops::{Add, AddAssign, Mul, Sub};

/// An element of GF(2^64).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Gf64(pub(crate) u64);

/// The low terms of the modulus: `X^64 = X^4 + X^3 + X + 1`.
const REDUCTION: u64 = 0b1_1011;

impl Gf64 {
    pub(crate) const ZERO: Gf64 = Gf64(0);
    #[cfg(test)]
    pub(crate) const ONE: Gf64 = Gf64(1);

    /// `self * X`.
    #[inline]
    pub(crate) fn mul_x(self) -> Gf64 {
        let carry = self.0 >> 63;
        Gf64((self.0 << 1) ^ (carry.wrapping_neg() & REDUCTION))
    }
}

/// Carry-less product of two 64-bit polynomials, as (high, low) words.
/// Written with 4-bit windows: a table of the 16 multiples of `a`, then one
/// shift-and-xor per nibble of `b`. The fallback where the CPU has no
/// carry-less multiply instruction.
#[inline]
fn clmul_soft(a: u64, b: u64) -> (u64, u64) {
    let mut table = [0u128; 16];
    let a = u128::from(a);
    for i in 1..16usize {
        table[i] = if i % 2 == 0 {
            table[i / 2] << 1
        } else {
            table[i - 1] ^ a
        };
    }
    let mut acc = 0u128;
    for k in (0..16).rev() {
        acc = (acc << 4) ^ table[((b >> (4 * k)) & 0xf) as usize];
    }
    ((acc >> 64) as u64, acc as u64)
}

/// The same with the CPU's carry-less multiply (`pclmulqdq`): measured with
/// `sanctuary bench --security malicious` (docs/PERFORMANCE.md), where
/// field multiplications are the prover's whole cost.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
fn clmul_hw(a: u64, b: u64) -> (u64, u64) {
    use std::arch::x86_64::{
        _mm_clmulepi64_si128, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_unpackhi_epi64,
    };
    let p = _mm_clmulepi64_si128::<0x00>(_mm_set_epi64x(0, a as i64), _mm_set_epi64x(0, b as i64));
    (
        _mm_cvtsi128_si64(_mm_unpackhi_epi64(p, p)) as u64,
        _mm_cvtsi128_si64(p) as u64,
    )
}

#[inline]
#[allow(
    unsafe_code,
    reason = "one call of a target-feature function after the feature check"
)]
fn clmul(a: u64, b: u64) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("pclmulqdq") {
            // SAFETY: the CPU was just checked to have `pclmulqdq`, the only
            // feature `clmul_hw` is compiled for; it touches no memory.
            return unsafe { clmul_hw(a, b) };
        }
    }
    clmul_soft(a, b)
}

/// `x * (X^4 + X^3 + X + 1)` as (bits above 64, low 64 bits).
#[inline]
fn times_reduction(x: u64) -> (u64, u64) {
    (
        (x >> 63) ^ (x >> 61) ^ (x >> 60),
        x ^ (x << 1) ^ (x << 3) ^ (x << 4),
    )
}

/// Reduces `hi * X^64 + lo` modulo the field polynomial.
#[inline]
fn reduce(hi: u64, lo: u64) -> u64 {
    // hi * X^64 = hi * (X^4 + X^3 + X + 1); the part of that above X^64
    // (at most 4 bits) is folded once more.
    let (h2, l2) = times_reduction(hi);
    let (_, l3) = times_reduction(h2);
    lo ^ l2 ^ l3
}

// Addition in characteristic 2 is XOR.
#[allow(clippy::suspicious_arithmetic_impl)]
impl Add for Gf64 {
    type Output = Gf64;
    #[inline]
    fn add(self, rhs: Gf64) -> Gf64 {
        Gf64(self.0 ^ rhs.0)
    }
}

#[allow(clippy::suspicious_arithmetic_impl)]
impl Sub for Gf64 {
    type Output = Gf64;
    #[inline]
    fn sub(self, rhs: Gf64) -> Gf64 {
        Gf64(self.0 ^ rhs.0)
    }
}

#[allow(clippy::suspicious_op_assign_impl)]
impl AddAssign for Gf64 {
    #[inline]
    fn add_assign(&mut self, rhs: Gf64) {
        self.0 ^= rhs.0;
    }
}

impl Mul for Gf64 {
    type Output = Gf64;
    #[inline]
    fn mul(self, rhs: Gf64) -> Gf64 {
        // Half the operands of a proof's first rounds are bits (0 or 1).
        if rhs.0 <= 1 {
            return if rhs.0 == 1 { self } else { Gf64::ZERO };
        }
        let (hi, lo) = clmul(self.0, rhs.0);
        Gf64(reduce(hi, lo))
    }
}

/// `sum_k a[k] * b[k]`.
#[cfg(test)]
pub(crate) fn inner(a: &[Gf64], b: &[Gf64]) -> Gf64 {
    a.iter().zip(b).fold(Gf64::ZERO, |s, (&x, &y)| s + x * y)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Bit-by-bit reference: shift-and-add with reduction at every step.
    fn slow_mul(a: u64, b: u64) -> u64 {
        let mut acc = Gf64::ZERO;
        let mut t = Gf64(a);
        for l in 0..64 {
            if (b >> l) & 1 == 1 {
                acc += t;
            }
            t = t.mul_x();
        }
        acc.0
    }

    #[test]
    fn the_instruction_and_the_fallback_agree() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..10_000 {
            let y = x.rotate_left(17) ^ 0xdead_beef;
            assert_eq!(clmul(x, y), clmul_soft(x, y));
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        }
        assert_eq!(clmul(u64::MAX, u64::MAX), clmul_soft(u64::MAX, u64::MAX));
    }

    #[test]
    fn x_to_the_64_is_the_reduction_polynomial() {
        let x63 = Gf64(1 << 63);
        assert_eq!(x63.mul_x(), Gf64(REDUCTION));
        assert_eq!(x63 * Gf64(2), Gf64(REDUCTION));
        assert_eq!(x63 * x63, Gf64(slow_mul(1 << 63, 1 << 63)));
    }

    proptest! {
        #[test]
        fn multiplication_matches_the_reference_and_is_a_field(
            a in any::<u64>(), b in any::<u64>(), c in any::<u64>(),
        ) {
            let (x, y, z) = (Gf64(a), Gf64(b), Gf64(c));
            prop_assert_eq!((x * y).0, slow_mul(a, b));
            prop_assert_eq!(x * y, y * x);
            prop_assert_eq!((x * y) * z, x * (y * z));
            prop_assert_eq!(x * (y + z), x * y + x * z);
            prop_assert_eq!(x * Gf64::ONE, x);
            // No zero divisors: a product of non-zero elements is non-zero.
            if a != 0 && b != 0 {
                prop_assert_ne!(x * y, Gf64::ZERO);
            }
        }
    }
}
