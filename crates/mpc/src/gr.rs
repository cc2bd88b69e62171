//! The Galois ring GR(2^32, 47) = Z_2^32[X] / (X^47 + X^5 + 1), where the
//! proofs of the arithmetic (dot-product) messages work.
//!
//! `Z_2^32` is not a field: an error `2^31` times any odd coefficient is
//! still `2^31`, so a random linear combination over the ring itself would
//! let such errors through half the time. Over the Galois ring a non-zero
//! polynomial of degree `t` vanishes at a uniform point with probability at
//! most `t / 2^47` (divide out the largest power of 2 of its coefficients
//! and reduce mod 2: what is left is a non-zero polynomial over GF(2^47)), and
//! `Z_2^32` is the subring of constants, so the ring's own values embed.
//! `X^47 + X^5 + 1` is irreducible over GF(2) (checked by a test).

use std::ops::{Add, Mul, Sub};

/// Degree of the extension.
pub(crate) const D: usize = 47;

/// An element: `D` coefficients in `Z_2^32`, lowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Gr(pub(crate) [u32; D]);

impl Gr {
    pub(crate) const ZERO: Gr = Gr([0; D]);

    /// The constant `c` (the embedding of `Z_2^32`).
    #[cfg(test)]
    pub(crate) fn constant(c: u32) -> Gr {
        let mut v = [0; D];
        v[0] = c;
        Gr(v)
    }

    /// `self * c` for a constant `c` of `Z_2^32`.
    #[inline]
    #[cfg(test)]
    pub(crate) fn scale(&self, c: u32) -> Gr {
        let mut out = [0u32; D];
        for (o, &a) in out.iter_mut().zip(&self.0) {
            *o = a.wrapping_mul(c);
        }
        Gr(out)
    }

    /// `self += other * c`.
    #[inline]
    pub(crate) fn add_scaled(&mut self, other: &Gr, c: u32) {
        for (o, &a) in self.0.iter_mut().zip(&other.0) {
            *o = o.wrapping_add(a.wrapping_mul(c));
        }
    }
}

impl Default for Gr {
    fn default() -> Self {
        Gr::ZERO
    }
}

impl Add for Gr {
    type Output = Gr;
    #[inline]
    fn add(mut self, rhs: Gr) -> Gr {
        for (a, &b) in self.0.iter_mut().zip(&rhs.0) {
            *a = a.wrapping_add(b);
        }
        self
    }
}

impl Sub for Gr {
    type Output = Gr;
    #[inline]
    fn sub(mut self, rhs: Gr) -> Gr {
        for (a, &b) in self.0.iter_mut().zip(&rhs.0) {
            *a = a.wrapping_sub(b);
        }
        self
    }
}

impl Mul for Gr {
    type Output = Gr;
    fn mul(self, rhs: Gr) -> Gr {
        let mut wide = [0u32; 2 * D - 1];
        for (i, &a) in self.0.iter().enumerate() {
            if a == 0 {
                continue;
            }
            for (j, &b) in rhs.0.iter().enumerate() {
                wide[i + j] = wide[i + j].wrapping_add(a.wrapping_mul(b));
            }
        }
        // X^47 = -X^5 - 1, from the top down (X^k for k >= 89 lands at
        // k - 42 >= 47 and is reduced again further down the loop).
        for k in (D..2 * D - 1).rev() {
            let c = wide[k];
            wide[k] = 0;
            wide[k - D + 5] = wide[k - D + 5].wrapping_sub(c);
            wide[k - D] = wide[k - D].wrapping_sub(c);
        }
        let mut out = [0u32; D];
        out.copy_from_slice(&wide[..D]);
        Gr(out)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Polynomials over GF(2) as bit masks (degree < 128).
    fn gf2_mulmod(a: u128, b: u128, f: u128, deg: u32) -> u128 {
        let mut acc = 0u128;
        let mut a = a;
        let mut b = b;
        while b != 0 {
            if b & 1 == 1 {
                acc ^= a;
            }
            b >>= 1;
            a <<= 1;
            if (a >> deg) & 1 == 1 {
                a ^= f;
            }
        }
        acc
    }

    #[test]
    fn the_modulus_is_irreducible_over_gf2() {
        // Degree 47 is prime: f is irreducible iff X^(2^47) = X mod f and f
        // has no root in GF(2) (the only proper subfield).
        let f: u128 = (1 << 47) | (1 << 5) | 1;
        let mut x: u128 = 2;
        for _ in 0..47 {
            x = gf2_mulmod(x, x, f, 47);
        }
        assert_eq!(x, 2, "X^(2^47) != X mod f");
        // f(0) = 1 and f(1) = 1 + 1 + 1 = 1: no roots.
        assert_eq!(f & 1, 1);
        assert_eq!((f.count_ones()) % 2, 1);
    }

    fn gr(seed: &[u32]) -> Gr {
        let mut v = [0u32; D];
        for (i, o) in v.iter_mut().enumerate() {
            *o = seed[i % seed.len()].wrapping_mul(i as u32 + 1);
        }
        Gr(v)
    }

    #[test]
    fn x_to_the_47_reduces() {
        let mut x = [0u32; D];
        x[1] = 1;
        let x = Gr(x);
        let mut p = Gr::constant(1);
        for _ in 0..D {
            p = p * x;
        }
        let mut want = [0u32; D];
        want[0] = u32::MAX; // -1
        want[5] = u32::MAX; // -X^5
        assert_eq!(p, Gr(want));
    }

    proptest! {
        #[test]
        fn a_commutative_ring_with_the_constants_inside(
            a in proptest::collection::vec(any::<u32>(), 1..5),
            b in proptest::collection::vec(any::<u32>(), 1..5),
            c in proptest::collection::vec(any::<u32>(), 1..5),
            k in any::<u32>(), l in any::<u32>(),
        ) {
            let (x, y, z) = (gr(&a), gr(&b), gr(&c));
            prop_assert_eq!(x * y, y * x);
            prop_assert_eq!((x * y) * z, x * (y * z));
            prop_assert_eq!(x * (y + z), x * y + x * z);
            prop_assert_eq!((x - y) + y, x);
            prop_assert_eq!(x * Gr::constant(k), x.scale(k));
            prop_assert_eq!(Gr::constant(k) * Gr::constant(l), Gr::constant(k.wrapping_mul(l)));
            let mut s = x;
            s.add_scaled(&y, k);
            prop_assert_eq!(s, x + y.scale(k));
        }
    }
}
