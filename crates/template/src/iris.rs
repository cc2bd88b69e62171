use std::fmt;

use sanctuary_share::Ring;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::TemplateError;

/// Thresholds are applied as the exact rational `p / THRESHOLD_DENOMINATOR`
/// (precision 1e-4), so the MPC matcher and the plaintext matcher evaluate the
/// same integer inequality.
pub const THRESHOLD_DENOMINATOR: i64 = 10_000;

/// Layout and matching parameters of iris codes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrisParams {
    /// Rows of the normalised iris (radial direction). Default 16.
    pub rows: usize,
    /// Columns (angular direction); rotations shift along them. Default 200.
    pub cols: usize,
    /// Code bits per (row, column) cell: 2 phase bits x 2 filters. Default 4.
    pub bits_per_cell: usize,
    /// Rotations tried: shifts `-rotations..=rotations` columns. Default 15.
    pub rotations: usize,
    /// Fractional Hamming distance at or below which codes match. Default 0.345.
    pub threshold: f64,
}

impl Default for IrisParams {
    fn default() -> Self {
        Self {
            rows: 16,
            cols: 200,
            bits_per_cell: 4,
            rotations: 15,
            threshold: 0.345,
        }
    }
}

impl IrisParams {
    /// Largest supported code length: `|A| <= 4 * 10^4 * len` must stay below
    /// `2^31` for the comparison in `Z_2^32` to be exact.
    pub const MAX_BITS: usize = 50_000;

    /// Code length in bits (`rows * cols * bits_per_cell`).
    pub fn code_bits(&self) -> usize {
        self.rows * self.cols * self.bits_per_cell
    }

    /// Number of rotations tried per comparison.
    pub fn rotation_count(&self) -> usize {
        2 * self.rotations + 1
    }

    /// The shifts tried, in order.
    pub fn shifts(&self) -> impl Iterator<Item = isize> + use<> {
        let r = self.rotations as isize;
        -r..=r
    }

    /// The threshold numerator `p` with `threshold = p / THRESHOLD_DENOMINATOR`.
    pub fn threshold_num(&self) -> i64 {
        (self.threshold * THRESHOLD_DENOMINATOR as f64).round() as i64
    }

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), TemplateError> {
        if self.rows == 0 || self.cols == 0 || self.bits_per_cell == 0 {
            return Err(TemplateError::InvalidParams(
                "iris dimensions must be positive",
            ));
        }
        if self.code_bits() > Self::MAX_BITS {
            return Err(TemplateError::InvalidParams(
                "iris code longer than 50000 bits: scores would overflow Z_2^32",
            ));
        }
        if 2 * self.rotations >= self.cols {
            return Err(TemplateError::InvalidParams(
                "iris rotations must be fewer than half the columns",
            ));
        }
        if !(self.threshold.is_finite() && self.threshold > 0.0 && self.threshold < 1.0) {
            return Err(TemplateError::InvalidThreshold {
                value: self.threshold,
                range: "(0, 1) (fractional Hamming distance)",
            });
        }
        Ok(())
    }

    /// Rotates a code-shaped vector by `shift` columns:
    /// `out[row][col][b] = data[row][(col + shift) mod cols][b]`.
    /// Rotating shares rotates the shared value, so the MPC matcher uses this
    /// same function on its shares.
    pub fn rotate<T: Copy>(&self, data: &[T], shift: isize) -> Vec<T> {
        let cell = self.bits_per_cell;
        let row_len = self.cols * cell;
        let s = shift.rem_euclid(self.cols as isize) as usize * cell;
        let mut out = Vec::with_capacity(data.len());
        for row in data.chunks_exact(row_len) {
            out.extend_from_slice(&row[s..]);
            out.extend_from_slice(&row[..s]);
        }
        out
    }
}

/// An iris code with its mask, one bit per byte (0 or 1). Wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct IrisCode {
    code: Vec<u8>,
    mask: Vec<u8>,
}

impl fmt::Debug for IrisCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IrisCode(bits={}, <redacted>)", self.code.len())
    }
}

impl IrisCode {
    /// Validates a code and mask (`1` in the mask = usable bit).
    pub fn new(code: Vec<u8>, mask: Vec<u8>, params: &IrisParams) -> Result<Self, TemplateError> {
        params.validate()?;
        let n = params.code_bits();
        for (what, v) in [("iris code", &code), ("iris mask", &mask)] {
            if v.len() != n {
                return Err(TemplateError::WrongDimension {
                    what,
                    expected: n,
                    found: v.len(),
                });
            }
        }
        for (what, v) in [("code", &code), ("mask", &mask)] {
            if let Some((index, &value)) = v.iter().enumerate().find(|(_, b)| **b > 1) {
                return Err(TemplateError::NotABit { what, index, value });
            }
        }
        if mask.iter().all(|&m| m == 0) {
            return Err(TemplateError::EmptyMask);
        }
        Ok(Self { code, mask })
    }

    /// Code bits.
    pub fn code(&self) -> &[u8] {
        &self.code
    }

    /// Mask bits.
    pub fn mask(&self) -> &[u8] {
        &self.mask
    }

    /// Fraction of usable (unmasked) bits.
    pub fn usable_fraction(&self) -> f64 {
        self.mask.iter().map(|&b| usize::from(b)).sum::<usize>() as f64 / self.mask.len() as f64
    }

    /// `v = mask * (1 - 2 code)`: +1 / -1 for usable bits, 0 for masked ones.
    pub fn signed(&self) -> Vec<i8> {
        self.code
            .iter()
            .zip(&self.mask)
            .map(|(&c, &m)| if m == 0 { 0 } else { 1 - 2 * c as i8 })
            .collect()
    }

    /// The ring encoding the MPC matcher shares: `[v | mask]`, length `2 * bits`.
    pub fn to_ring<R: Ring>(&self) -> Vec<R> {
        self.signed()
            .into_iter()
            .map(|v| R::from_i64(v.into()))
            .chain(self.mask.iter().map(|&m| R::from_i64(m.into())))
            .collect()
    }

    /// Disagreeing bits and common mask size with `other`, after rotating
    /// `self` by `shift` columns.
    pub fn counts(&self, other: &IrisCode, params: &IrisParams, shift: isize) -> (i64, i64) {
        let code = params.rotate(&self.code, shift);
        let mask = params.rotate(&self.mask, shift);
        let mut d = 0i64;
        let mut m = 0i64;
        for k in 0..code.len() {
            let common = i64::from(mask[k] & other.mask[k]);
            m += common;
            d += common * i64::from(code[k] ^ other.code[k]);
        }
        (d, m)
    }

    /// Minimum fractional Hamming distance over the rotations, or `None` when
    /// no rotation has a common mask bit.
    pub fn distance(&self, other: &IrisCode, params: &IrisParams) -> Option<f64> {
        params
            .shifts()
            .filter_map(|s| {
                let (d, m) = self.counts(other, params, s);
                (m > 0).then(|| d as f64 / m as f64)
            })
            .min_by(f64::total_cmp)
    }

    /// Plaintext reference decision: some rotation has `M > 0` and
    /// `q * D <= p * M`, evaluated exactly in integers.
    pub fn matches(&self, other: &IrisCode, params: &IrisParams) -> bool {
        let p = params.threshold_num();
        params.shifts().any(|s| {
            let (d, m) = self.counts(other, params, s);
            m > 0 && THRESHOLD_DENOMINATOR * d <= p * m
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> IrisParams {
        IrisParams {
            rows: 2,
            cols: 8,
            bits_per_cell: 2,
            rotations: 2,
            threshold: 0.25,
        }
    }

    #[test]
    fn malformed_codes_get_specific_errors() {
        let p = small();
        let n = p.code_bits();
        assert!(matches!(
            IrisCode::new(vec![0; n - 1], vec![1; n], &p),
            Err(TemplateError::WrongDimension {
                what: "iris code",
                ..
            })
        ));
        assert!(matches!(
            IrisCode::new(vec![0; n], vec![1; n + 1], &p),
            Err(TemplateError::WrongDimension {
                what: "iris mask",
                ..
            })
        ));
        let mut bad = vec![0; n];
        bad[3] = 2;
        assert_eq!(
            IrisCode::new(bad, vec![1; n], &p),
            Err(TemplateError::NotABit {
                what: "code",
                index: 3,
                value: 2
            })
        );
        assert_eq!(
            IrisCode::new(vec![0; n], vec![0; n], &p),
            Err(TemplateError::EmptyMask)
        );
        let wide = IrisParams { rotations: 4, ..p };
        assert!(matches!(
            IrisCode::new(vec![0; n], vec![1; n], &wide),
            Err(TemplateError::InvalidParams(_))
        ));
    }

    #[test]
    fn rotation_moves_whole_cells_within_rows() {
        let p = small();
        let data: Vec<usize> = (0..p.code_bits()).collect();
        let r = p.rotate(&data, 1);
        assert_eq!(&r[..4], &[2, 3, 4, 5]);
        assert_eq!(&r[14..16], &[0, 1]);
        assert_eq!(&r[16..18], &[18, 19]);
        assert_eq!(p.rotate(&r, -1), data);
    }

    #[test]
    fn rotated_copy_matches_at_distance_zero() {
        let p = small();
        let n = p.code_bits();
        let code: Vec<u8> = (0..n).map(|i| ((i * 7 + i / 3) % 2) as u8).collect();
        let a = IrisCode::new(code.clone(), vec![1; n], &p).expect("valid");
        let b = IrisCode::new(p.rotate(&code, 2), vec![1; n], &p).expect("valid");
        assert_eq!(a.distance(&b, &p), Some(0.0));
        assert!(a.matches(&b, &p));
        let inv: Vec<u8> = code.iter().map(|c| 1 - c).collect();
        let c = IrisCode::new(inv, vec![1; n], &p).expect("valid");
        assert!(!a.matches(&c, &p));
    }

    #[test]
    fn disjoint_masks_never_match() {
        let p = IrisParams {
            rotations: 0,
            ..small()
        };
        let n = p.code_bits();
        let m1: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
        let m2: Vec<u8> = m1.iter().map(|m| 1 - m).collect();
        let a = IrisCode::new(vec![0; n], m1, &p).expect("valid");
        let b = IrisCode::new(vec![0; n], m2, &p).expect("valid");
        assert_eq!(a.distance(&b, &p), None);
        assert!(!a.matches(&b, &p));
    }

    #[test]
    fn signed_encoding_gives_hamming_distance_by_dot_products() {
        let p = IrisParams {
            rotations: 0,
            ..small()
        };
        let n = p.code_bits();
        let a = IrisCode::new(
            (0..n).map(|i| (i % 2) as u8).collect(),
            (0..n).map(|i| u8::from(i % 5 != 0)).collect(),
            &p,
        )
        .expect("valid");
        let b = IrisCode::new(
            (0..n).map(|i| (i % 3 == 0) as u8).collect(),
            (0..n).map(|i| u8::from(i % 7 != 0)).collect(),
            &p,
        )
        .expect("valid");
        let (d, m) = a.counts(&b, &p, 0);
        let (va, vb) = (a.signed(), b.signed());
        let dot_v: i64 = va.iter().zip(&vb).map(|(&x, &y)| i64::from(x * y)).sum();
        let dot_m: i64 = a
            .mask()
            .iter()
            .zip(b.mask())
            .map(|(&x, &y)| i64::from(x * y))
            .sum();
        assert_eq!(dot_m, m);
        assert_eq!(m - dot_v, 2 * d);
    }
}
