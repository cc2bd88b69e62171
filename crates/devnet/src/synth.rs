//! Generated populations for the bench and the demo: random face-like
//! embeddings and iris codes, and "genuine" probes derived from them.

use rand::Rng;
use sanctuary_template::{Embedding, EmbeddingParams, IrisCode, IrisParams, QuantizedEmbedding};

fn gaussian(rng: &mut impl Rng) -> f32 {
    // Box-Muller: two uniforms give one standard normal.
    let u1: f64 = rng.random_range(f64::MIN_POSITIVE..1.0);
    let u2: f64 = rng.random();
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// A random direction in `dim` dimensions.
pub(crate) fn embedding(rng: &mut impl Rng, dim: usize) -> Embedding {
    Embedding::new((0..dim).map(|_| gaussian(rng)).collect())
}

/// `base` plus isotropic noise: cosine to `base` is about `1/sqrt(1+noise^2)`.
pub(crate) fn genuine_embedding(rng: &mut impl Rng, base: &Embedding, noise: f32) -> Embedding {
    let norm = base.values().iter().map(|v| v * v).sum::<f32>().sqrt();
    let sd = noise * norm / (base.values().len() as f32).sqrt();
    Embedding::new(
        base.values()
            .iter()
            .map(|&v| v + sd * gaussian(rng))
            .collect(),
    )
}

/// Quantises with the given parameters; generated vectors are always valid.
pub(crate) fn quantize(e: &Embedding, p: &EmbeddingParams) -> anyhow::Result<QuantizedEmbedding> {
    Ok(e.quantize(p)?)
}

/// A random iris code whose mask hides a band of rows (eyelids) and a few
/// scattered bits (reflections), about 80% usable.
pub(crate) fn iris(rng: &mut impl Rng, p: &IrisParams) -> anyhow::Result<IrisCode> {
    let n = p.code_bits();
    let code: Vec<u8> = (0..n).map(|_| rng.random_range(0..2)).collect();
    let row_len = p.cols * p.bits_per_cell;
    let lid_start = rng.random_range(0..p.cols);
    let lid_len = rng.random_range(0..p.cols / 4);
    let mask: Vec<u8> = (0..n)
        .map(|i| {
            let col = (i % row_len) / p.bits_per_cell;
            let row = i / row_len;
            let in_lid =
                row >= p.rows.saturating_sub(3) && (col + p.cols - lid_start) % p.cols < lid_len;
            u8::from(!in_lid && rng.random_bool(0.9))
        })
        .collect();
    Ok(IrisCode::new(code, mask, p)?)
}

/// The iris code of "person `seed`": the same seed always gives the same
/// eye (for tests that enroll one person in several modalities).
pub fn iris_of(seed: u64, p: &IrisParams) -> anyhow::Result<IrisCode> {
    use rand::SeedableRng as _;
    iris(&mut rand::rngs::StdRng::seed_from_u64(seed), p)
}

/// A second capture of the same eye: rotated by `shift` columns, with
/// `flip_rate` of the bits changed and its own mask.
pub(crate) fn genuine_iris(
    rng: &mut impl Rng,
    base: &IrisCode,
    p: &IrisParams,
    shift: isize,
    flip_rate: f64,
) -> anyhow::Result<IrisCode> {
    let code: Vec<u8> = p
        .rotate(base.code(), shift)
        .into_iter()
        .map(|b| b ^ u8::from(rng.random_bool(flip_rate)))
        .collect();
    let mask: Vec<u8> = p
        .rotate(base.mask(), shift)
        .into_iter()
        .map(|m| m & u8::from(rng.random_bool(0.95)))
        .collect();
    Ok(IrisCode::new(code, mask, p)?)
}
