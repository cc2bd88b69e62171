//! Error rates from genuine and impostor score sets.
//!
//! Conventions (ISO/IEC 19795-1 vocabulary):
//! * a pair is declared a match iff `score >= threshold` for similarity
//!   scores (face cosine) and iff `score <= threshold` for distance scores
//!   (iris Hamming distance): see [`decide`];
//! * FMR(t) = share of impostor pairs declared a match;
//!   FNMR(t) = share of genuine pairs not declared a match;
//! * EER: over all thresholds at the observed scores, the point where
//!   |FMR - FNMR| is smallest; reported as (FMR + FNMR) / 2 there;
//! * threshold at a target FMR: the most permissive threshold whose FMR is
//!   at most the target (so at most `floor(target * impostors)` impostor
//!   pairs match), and the FNMR at that threshold.

use serde::{Deserialize, Serialize};

/// Whether higher scores mean "more alike" or "less alike".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScoreKind {
    /// Higher is more alike (cosine similarity); match iff score >= threshold.
    Similarity,
    /// Lower is more alike (Hamming distance); match iff score <= threshold.
    Distance,
}

impl ScoreKind {
    /// Map to similarity orientation (identity or negation).
    fn orient(self, score: f64) -> f64 {
        match self {
            Self::Similarity => score,
            Self::Distance => -score,
        }
    }
}

/// The plaintext decision for one score.
pub fn decide(score: f64, threshold: f64, kind: ScoreKind) -> bool {
    match kind {
        ScoreKind::Similarity => score >= threshold,
        ScoreKind::Distance => score <= threshold,
    }
}

/// FMR and FNMR at a threshold.
pub fn rates_at(genuine: &[f64], impostor: &[f64], threshold: f64, kind: ScoreKind) -> (f64, f64) {
    let fm = impostor
        .iter()
        .filter(|&&s| decide(s, threshold, kind))
        .count();
    let fnm = genuine
        .iter()
        .filter(|&&s| !decide(s, threshold, kind))
        .count();
    (ratio(fm, impostor.len()), ratio(fnm, genuine.len()))
}

/// Equal error rate and the threshold where it occurs. `None` when either
/// set is empty.
pub fn eer(genuine: &[f64], impostor: &[f64], kind: ScoreKind) -> Option<(f64, f64)> {
    if genuine.is_empty() || impostor.is_empty() {
        return None;
    }
    let gen_s = sorted_oriented(genuine, kind);
    let imp_s = sorted_oriented(impostor, kind);
    let mut candidates: Vec<f64> = gen_s.iter().chain(&imp_s).copied().collect();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    let mut best: Option<(f64, f64, f64)> = None; // (|diff|, eer, oriented t)
    for &t in &candidates {
        let (fmr, fnmr) = oriented_rates(&gen_s, &imp_s, t);
        let diff = (fmr - fnmr).abs();
        if best.is_none_or(|(d, _, _)| diff < d) {
            best = Some((diff, (fmr + fnmr) / 2.0, t));
        }
    }
    best.map(|(_, e, t)| (e, kind.orient(t)))
}

/// The operating point at a target FMR.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OperatingPoint {
    /// The target FMR.
    pub target_fmr: f64,
    /// The threshold (in the score's own orientation).
    pub threshold: f64,
    /// FMR actually reached at the threshold (<= target).
    pub fmr: f64,
    /// FNMR at the threshold.
    pub fnmr: f64,
    /// False when there are fewer than `1 / target` impostor pairs, so the
    /// target cannot be resolved and the threshold rejects every impostor.
    pub resolvable: bool,
}

/// The most permissive threshold with FMR <= `target_fmr`. `None` when
/// either set is empty or the target is not in (0, 1).
pub fn at_fmr(
    genuine: &[f64],
    impostor: &[f64],
    target_fmr: f64,
    kind: ScoreKind,
) -> Option<OperatingPoint> {
    if genuine.is_empty() || impostor.is_empty() || !(target_fmr > 0.0 && target_fmr < 1.0) {
        return None;
    }
    let mut imp_desc = sorted_oriented(impostor, kind);
    imp_desc.reverse();
    let allowed = (target_fmr * imp_desc.len() as f64).floor() as usize;
    // Reject the (allowed+1)-th highest impostor and everything below it.
    let oriented_t = imp_desc
        .get(allowed)
        .map_or(f64::NEG_INFINITY, |&s| s.next_up());
    let threshold = kind.orient(oriented_t);
    let (fmr, fnmr) = rates_at(genuine, impostor, threshold, kind);
    Some(OperatingPoint {
        target_fmr,
        threshold,
        fmr,
        fnmr,
        resolvable: impostor.len() as f64 * target_fmr >= 1.0,
    })
}

/// (FMR, FNMR) at every distinct observed score, for a DET curve.
pub fn det_points(genuine: &[f64], impostor: &[f64], kind: ScoreKind) -> Vec<(f64, f64)> {
    let gen_s = sorted_oriented(genuine, kind);
    let imp_s = sorted_oriented(impostor, kind);
    let mut candidates: Vec<f64> = gen_s.iter().chain(&imp_s).copied().collect();
    candidates.sort_by(f64::total_cmp);
    candidates.dedup();
    candidates
        .iter()
        .map(|&t| oriented_rates(&gen_s, &imp_s, t))
        .collect()
}

fn sorted_oriented(scores: &[f64], kind: ScoreKind) -> Vec<f64> {
    let mut v: Vec<f64> = scores.iter().map(|&s| kind.orient(s)).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Rates for ascending-sorted, similarity-oriented scores at threshold `t`.
fn oriented_rates(gen_sorted: &[f64], imp_sorted: &[f64], t: f64) -> (f64, f64) {
    let fnm = gen_sorted.partition_point(|&s| s < t);
    let fm = imp_sorted.len() - imp_sorted.partition_point(|&s| s < t);
    (ratio(fm, imp_sorted.len()), ratio(fnm, gen_sorted.len()))
}

fn ratio(n: usize, d: usize) -> f64 {
    if d == 0 { 0.0 } else { n as f64 / d as f64 }
}

#[cfg(test)]
mod tests;
