use std::fmt;

use sanctuary_share::Ring;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::TemplateError;

/// Matching parameters for embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingParams {
    /// Vector length. Default 512.
    pub dim: usize,
    /// Quantisation scale: `q_k = clamp(round(scale * v_k), -127, 127)` for the
    /// unit vector `v`. Default 400: components of a 512-d unit vector rarely
    /// exceed 0.3, so this keeps about 5 significant bits per component.
    pub scale: f32,
    /// Cosine similarity at or above which two embeddings match. Default 0.5.
    pub threshold: f32,
}

impl Default for EmbeddingParams {
    fn default() -> Self {
        Self {
            dim: 512,
            scale: 400.0,
            threshold: 0.5,
        }
    }
}

impl EmbeddingParams {
    /// Largest supported dimension: `dim * 127^2` must stay below `2^31` so
    /// that every score is exact in `Z_2^32`.
    pub const MAX_DIM: usize = 100_000;

    /// Checks the parameters.
    pub fn validate(&self) -> Result<(), TemplateError> {
        if self.dim == 0 || self.dim > Self::MAX_DIM {
            return Err(TemplateError::InvalidParams(
                "embedding dimension must be between 1 and 100000",
            ));
        }
        if !(self.scale.is_finite() && self.scale >= 1.0 && self.scale <= 10_000.0) {
            return Err(TemplateError::InvalidParams(
                "embedding scale must be between 1 and 10000",
            ));
        }
        if !(self.threshold.is_finite() && (-1.0..=1.0).contains(&self.threshold)) {
            return Err(TemplateError::InvalidThreshold {
                value: self.threshold.into(),
                range: "[-1, 1] (cosine similarity)",
            });
        }
        Ok(())
    }

    /// The integer threshold on quantised dot products:
    /// `ceil(threshold * scale^2)`, computed exactly in `f64` from the `f32`
    /// parameters.
    ///
    /// Rounded up, never to nearest: for an integer score `s`,
    /// `s >= threshold_int()` holds exactly when `s >= threshold * scale^2`,
    /// so the quantised matcher (and MPC) never accepts a score that lies
    /// below the cosine threshold scaled to the integer domain. (Rounding to
    /// nearest accepted scores up to half a unit below it, which showed up
    /// as quantisation flips on ORL.)
    pub fn threshold_int(&self) -> i64 {
        // f32 * f32 * f32 is exact in f64 up to one rounding of the 72-bit
        // product, far below one unit at |threshold * scale^2| <= 10^8.
        (f64::from(self.threshold) * f64::from(self.scale) * f64::from(self.scale)).ceil() as i64
    }
}

/// A raw float embedding as produced by a feature extractor. Wiped on drop.
#[derive(Clone, PartialEq, Zeroize, ZeroizeOnDrop)]
pub struct Embedding(Vec<f32>);

impl fmt::Debug for Embedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Embedding(dim={}, <redacted>)", self.0.len())
    }
}

impl Embedding {
    /// Wraps raw values (validated by [`Embedding::quantize`]).
    pub fn new(values: Vec<f32>) -> Self {
        Self(values)
    }

    /// Validates and L2-normalises `values` (a feature extractor's
    /// output): unit length, every value finite. The rejected input is
    /// wiped.
    pub fn normalized(mut values: Vec<f32>) -> Result<Self, TemplateError> {
        if let Some((index, &value)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            values.zeroize();
            return Err(TemplateError::NonFinite { index, value });
        }
        let norm = values.iter().map(|v| v * v).sum::<f32>().sqrt();
        if !norm.is_finite() || norm <= f32::EPSILON {
            values.zeroize();
            return Err(TemplateError::ZeroVector);
        }
        values.iter_mut().for_each(|v| *v /= norm);
        Ok(Self(values))
    }

    /// The raw values.
    pub fn values(&self) -> &[f32] {
        &self.0
    }

    /// Cosine similarity: the dot product divided by both norms (the dot
    /// product itself for [`Embedding::normalized`] vectors).
    pub fn cosine(&self, other: &Embedding) -> f32 {
        let dot: f32 = self.0.iter().zip(&other.0).map(|(a, b)| a * b).sum();
        let na = self.0.iter().map(|v| v * v).sum::<f32>().sqrt();
        let nb = other.0.iter().map(|v| v * v).sum::<f32>().sqrt();
        if na <= f32::EPSILON || nb <= f32::EPSILON {
            0.0
        } else {
            dot / (na * nb)
        }
    }

    /// Validates, L2-normalises and quantises to signed 8-bit.
    pub fn quantize(&self, params: &EmbeddingParams) -> Result<QuantizedEmbedding, TemplateError> {
        params.validate()?;
        if self.0.len() != params.dim {
            return Err(TemplateError::WrongDimension {
                what: "embedding",
                expected: params.dim,
                found: self.0.len(),
            });
        }
        if let Some((index, &value)) = self.0.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(TemplateError::NonFinite { index, value });
        }
        let norm = self
            .0
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            .sqrt();
        if !(norm > 1e-12 && norm.is_finite()) {
            return Err(TemplateError::ZeroVector);
        }
        let k = f64::from(params.scale) / norm;
        let q = self
            .0
            .iter()
            .map(|&v| (f64::from(v) * k).round().clamp(-127.0, 127.0) as i8)
            .collect();
        Ok(QuantizedEmbedding(q))
    }
}

/// An L2-normalised, quantised embedding. Wiped on drop.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct QuantizedEmbedding(Vec<i8>);

impl fmt::Debug for QuantizedEmbedding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "QuantizedEmbedding(dim={}, <redacted>)", self.0.len())
    }
}

impl QuantizedEmbedding {
    /// Wraps already-quantised values (synthetic data, tests). Values of
    /// -128 are refused so that the symmetric range bound holds.
    pub fn from_values(values: Vec<i8>) -> Result<Self, TemplateError> {
        if values.is_empty() {
            return Err(TemplateError::ZeroVector);
        }
        if values.contains(&i8::MIN) {
            return Err(TemplateError::InvalidParams(
                "quantised values must lie in [-127, 127]",
            ));
        }
        if values.iter().all(|&v| v == 0) {
            return Err(TemplateError::ZeroVector);
        }
        Ok(Self(values))
    }

    /// The quantised values.
    pub fn values(&self) -> &[i8] {
        &self.0
    }

    /// Plaintext score: the integer dot product.
    pub fn score(&self, other: &QuantizedEmbedding) -> i64 {
        self.0
            .iter()
            .zip(&other.0)
            .map(|(&a, &b)| i64::from(a) * i64::from(b))
            .sum()
    }

    /// Plaintext reference decision: `score >= threshold`.
    pub fn matches(&self, other: &QuantizedEmbedding, threshold: i64) -> bool {
        self.score(other) >= threshold
    }

    /// The ring encoding the MPC matcher shares.
    pub fn to_ring<R: Ring>(&self) -> Vec<R> {
        self.0.iter().map(|&v| R::from_i64(v.into())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_embeddings_get_specific_errors() {
        let p = EmbeddingParams {
            dim: 4,
            ..Default::default()
        };
        assert_eq!(
            Embedding::new(vec![1.0; 3]).quantize(&p),
            Err(TemplateError::WrongDimension {
                what: "embedding",
                expected: 4,
                found: 3
            })
        );
        assert!(matches!(
            Embedding::new(vec![1.0, f32::NAN, 0.0, 0.0]).quantize(&p),
            Err(TemplateError::NonFinite { index: 1, .. })
        ));
        assert!(matches!(
            Embedding::new(vec![1.0, 0.0, f32::INFINITY, 0.0]).quantize(&p),
            Err(TemplateError::NonFinite { index: 2, .. })
        ));
        assert_eq!(
            Embedding::new(vec![0.0; 4]).quantize(&p),
            Err(TemplateError::ZeroVector)
        );
        let bad = EmbeddingParams {
            threshold: 1.5,
            ..p
        };
        assert!(matches!(
            Embedding::new(vec![1.0; 4]).quantize(&bad),
            Err(TemplateError::InvalidThreshold { .. })
        ));
    }

    #[test]
    fn quantisation_is_scale_invariant_and_bounded() {
        let p = EmbeddingParams {
            dim: 3,
            ..Default::default()
        };
        let a = Embedding::new(vec![3.0, -4.0, 0.0])
            .quantize(&p)
            .expect("valid");
        let b = Embedding::new(vec![30.0, -40.0, 0.0])
            .quantize(&p)
            .expect("valid");
        assert_eq!(a, b);
        assert_eq!(a.values(), &[127, -127, 0]); // 0.6*400 and -0.8*400 clamp
        let ring: Vec<u32> = a.to_ring();
        assert_eq!(ring[1], (-127i32) as u32);
    }

    #[test]
    fn cosine_and_integer_threshold_agree_roughly() {
        let p = EmbeddingParams {
            dim: 2,
            scale: 100.0,
            threshold: 0.5,
        };
        assert_eq!(p.threshold_int(), 5000);
        let a = Embedding::new(vec![1.0, 0.0]).quantize(&p).expect("valid");
        let b = Embedding::new(vec![0.6, 0.8]).quantize(&p).expect("valid");
        assert_eq!(a.score(&b), 6000);
        assert!(a.matches(&b, p.threshold_int()));
    }

    #[test]
    fn integer_threshold_rounds_up() {
        // 0.50001 * 100^2 = 5000.1: a score of 5000 lies below the cosine
        // threshold and must be refused (rounding to nearest accepted it).
        let p = EmbeddingParams {
            dim: 2,
            scale: 100.0,
            threshold: 0.50001,
        };
        assert_eq!(p.threshold_int(), 5001);
        let a = QuantizedEmbedding::from_values(vec![100, 0]).expect("valid");
        let at = QuantizedEmbedding::from_values(vec![50, 0]).expect("valid");
        let above = QuantizedEmbedding::from_values(vec![51, 0]).expect("valid");
        assert_eq!(a.score(&at), 5000);
        assert!(!a.matches(&at, p.threshold_int()));
        assert!(a.matches(&above, p.threshold_int()));
        // An exact product stays put; negative thresholds round up too.
        let exact = EmbeddingParams {
            threshold: 0.5,
            ..p
        };
        assert_eq!(exact.threshold_int(), 5000);
        let neg = EmbeddingParams {
            threshold: -0.50001,
            ..p
        };
        assert_eq!(neg.threshold_int(), -5000);
    }

    #[test]
    fn integer_decision_equals_real_decision_near_the_boundary() {
        // For every integer score near the boundary, the integer comparison
        // agrees with the comparison against the real threshold * scale^2.
        for scale in [1.0f32, 7.0, 100.0, 127.0, 400.0, 1000.0] {
            for k in -1000..=1000 {
                let threshold = k as f32 / 1000.0 + 0.000_37;
                if threshold.abs() > 1.0 {
                    continue;
                }
                let p = EmbeddingParams {
                    dim: 512,
                    scale,
                    threshold,
                };
                let t = p.threshold_int();
                let real = f64::from(threshold) * f64::from(scale) * f64::from(scale);
                for s in t - 3..=t + 3 {
                    assert_eq!(
                        s >= t,
                        s as f64 >= real,
                        "scale {scale}, threshold {threshold}, score {s}"
                    );
                }
            }
        }
    }
}
