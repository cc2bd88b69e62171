//! Iris-code encoding of pre-normalised iris strips (pure Rust).
//!
//! ```text
//!  strip (e.g. 432x48 grey, angle along x, radius along y)
//!    ──► area-resample to 16 radial bands x 200 angular samples
//!    ──► per band: FFT ──► x log-Gabor (2 wavelengths) ──► inverse FFT
//!    ──► per sample and filter: 2 phase bits (sign of Re, sign of Im)
//!        + mask bits (low filter magnitude, specular highlights, dark occlusion)
//! ```
//!
//! The output layout is fixed because the MPC matcher depends on it:
//! [`IRIS_ROWS`] x [`IRIS_COLS`] x [`IRIS_BITS_PER_CELL`] bits, ordered
//! `[row][col][bit]` with `bit = 2 * filter + {0: Re >= 0, 1: Im >= 0}`,
//! one `u8` (0 or 1) per bit; the mask has the same layout (1 = usable).
//! Rotating the eye is a cyclic shift along `cols`.
//!
//! The filter is the 1-D log-Gabor of Masek's open-source iris recogniser
//! (`G(f) = exp(-(ln(f/f0))^2 / (2 ln(sigma_on_f)^2))` for `f > 0`, zero for
//! `f <= 0`, so the filtered signal is analytic and its phase is defined).

use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;
use zeroize::Zeroize;

use crate::error::CaptureError;
use crate::image_io::RgbImage;

/// Radial bands in an iris code.
pub const IRIS_ROWS: usize = 16;
/// Angular samples in an iris code.
pub const IRIS_COLS: usize = 200;
/// Bits per (row, col) cell: 2 phase bits x 2 filter wavelengths.
pub const IRIS_BITS_PER_CELL: usize = 4;
/// Total code bits (and mask bits): 12,800.
pub const IRIS_CODE_BITS: usize = IRIS_ROWS * IRIS_COLS * IRIS_BITS_PER_CELL;

/// Encoder parameters. Each field documents its default.
#[derive(Debug, Clone, PartialEq)]
pub struct IrisOptions {
    /// The two log-Gabor centre wavelengths, in code columns (1 column =
    /// 1/200 of a turn). Default `[8.0, 16.0]`.
    pub wavelengths: [f32; 2],
    /// Bandwidth parameter sigma/f0 of the log-Gabor. Default 0.5.
    pub sigma_on_f: f32,
    /// A bit pair is masked when its filter magnitude is below this fraction
    /// of the band's median magnitude for that filter. Default 0.25.
    pub weak_fraction: f32,
    /// Samples brighter than this grey level (0..255) are treated as
    /// specular reflection and masked. Default 250.
    pub reflection_level: f32,
    /// Samples darker than this grey level are treated as eyelash / eyelid
    /// shadow or padding and masked. Default 10.
    pub dark_level: f32,
}

impl Default for IrisOptions {
    fn default() -> Self {
        Self {
            wavelengths: [8.0, 16.0],
            sigma_on_f: 0.5,
            weak_fraction: 0.25,
            reflection_level: 250.0,
            dark_level: 10.0,
        }
    }
}

/// An iris code with its mask, in the fixed `[row][col][bit]` layout:
/// `sanctuary-template`'s type, so the code a capture makes is the one the
/// network matches.
pub use sanctuary_template::IrisCode;

/// The template layout of a capture's iris code (`IRIS_ROWS` x `IRIS_COLS` x
/// `IRIS_BITS_PER_CELL`, the network's default).
pub fn iris_params() -> sanctuary_template::IrisParams {
    sanctuary_template::IrisParams {
        rows: IRIS_ROWS,
        cols: IRIS_COLS,
        bits_per_cell: IRIS_BITS_PER_CELL,
        ..Default::default()
    }
}

/// An iris code from raw bits (each 0 or 1), `IRIS_CODE_BITS` of each, with
/// at least one usable bit.
pub fn code_from_bits(code: Vec<u8>, mask: Vec<u8>) -> Result<IrisCode, CaptureError> {
    IrisCode::new(code, mask, &iris_params()).map_err(|e| match e {
        sanctuary_template::TemplateError::EmptyMask => {
            CaptureError::InvalidArgument("iris mask has no usable bit")
        }
        sanctuary_template::TemplateError::NotABit { .. } => {
            CaptureError::InvalidArgument("iris bits must be 0 or 1")
        }
        _ => CaptureError::InvalidArgument("iris code and mask must have 12,800 bits each"),
    })
}

/// Encodes iris strips. Holds FFT plans; reuse it.
pub struct IrisEncoder {
    options: IrisOptions,
    fft: std::sync::Arc<dyn rustfft::Fft<f32>>,
    ifft: std::sync::Arc<dyn rustfft::Fft<f32>>,
    filters: [Vec<f32>; 2],
}

impl std::fmt::Debug for IrisEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IrisEncoder")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl IrisEncoder {
    /// Build an encoder.
    pub fn new(options: IrisOptions) -> Result<Self, CaptureError> {
        let ok = options
            .wavelengths
            .iter()
            .all(|&w| w.is_finite() && w >= 2.0)
            && options.sigma_on_f > 0.0
            && options.sigma_on_f < 1.0
            && options.weak_fraction >= 0.0;
        if !ok {
            return Err(CaptureError::InvalidArgument(
                "iris options out of range (wavelengths >= 2, 0 < sigma_on_f < 1)",
            ));
        }
        let mut planner = FftPlanner::new();
        let fft = planner.plan_fft_forward(IRIS_COLS);
        let ifft = planner.plan_fft_inverse(IRIS_COLS);
        let filters = options
            .wavelengths
            .map(|w| log_gabor(IRIS_COLS, 1.0 / w, options.sigma_on_f));
        Ok(Self {
            options,
            fft,
            ifft,
            filters,
        })
    }

    /// The options in force.
    pub fn options(&self) -> &IrisOptions {
        &self.options
    }

    /// Encode a normalised strip (angle along x, radius along y; colour is
    /// converted to grey). Any size of at least 16 rows and 200 columns is
    /// area-resampled to the code grid.
    pub fn encode(&self, strip: &RgbImage) -> Result<IrisCode, CaptureError> {
        let (w, h) = (strip.width() as usize, strip.height() as usize);
        if w < IRIS_COLS / 2 || h < IRIS_ROWS || w < h {
            return Err(CaptureError::ImageDimensions {
                width: strip.width(),
                height: strip.height(),
            });
        }
        let mut grid = resample_grey(strip, IRIS_COLS, IRIS_ROWS);
        let mut code = vec![0u8; IRIS_CODE_BITS];
        let mut mask = vec![0u8; IRIS_CODE_BITS];
        let mut buf = vec![Complex32::new(0.0, 0.0); IRIS_COLS];
        let mut spec = vec![Complex32::new(0.0, 0.0); IRIS_COLS];
        let mut mags = vec![0.0f32; IRIS_COLS];
        for r in 0..IRIS_ROWS {
            let band = &grid[r * IRIS_COLS..(r + 1) * IRIS_COLS];
            for (b, &v) in buf.iter_mut().zip(band) {
                *b = Complex32::new(v, 0.0);
            }
            self.fft.process(&mut buf);
            for (f, filter) in self.filters.iter().enumerate() {
                for ((s, &b), &g) in spec.iter_mut().zip(&buf).zip(filter) {
                    *s = b * g;
                }
                self.ifft.process(&mut spec);
                for (m, s) in mags.iter_mut().zip(&spec) {
                    *m = s.norm();
                }
                let floor = median(&mags) * self.options.weak_fraction;
                for c in 0..IRIS_COLS {
                    let i = (r * IRIS_COLS + c) * IRIS_BITS_PER_CELL + 2 * f;
                    let s = spec[c];
                    code[i] = u8::from(s.re >= 0.0);
                    code[i + 1] = u8::from(s.im >= 0.0);
                    let v = band[c];
                    let usable = mags[c] >= floor
                        && mags[c] > 0.0
                        && v <= self.options.reflection_level
                        && v >= self.options.dark_level;
                    mask[i] = u8::from(usable);
                    mask[i + 1] = u8::from(usable);
                }
            }
        }
        grid.zeroize();
        for c in buf.iter_mut().chain(spec.iter_mut()) {
            c.re.zeroize();
            c.im.zeroize();
        }
        mags.zeroize();
        code_from_bits(code, mask)
    }

    /// Read and encode a strip image file.
    pub fn encode_path(&self, path: impl AsRef<std::path::Path>) -> Result<IrisCode, CaptureError> {
        let img = RgbImage::open(path)?;
        self.encode(&img)
    }
}

/// Fractional Hamming distance of two codes over their common mask, with
/// `b` cyclically shifted by `shift` columns. `None` when no bit is usable
/// in both.
pub fn hamming_distance_at(a: &IrisCode, b: &IrisCode, shift: i32) -> Option<f64> {
    let cell = IRIS_BITS_PER_CELL;
    let mut diff = 0usize;
    let mut valid = 0usize;
    for r in 0..IRIS_ROWS {
        for c in 0..IRIS_COLS {
            let cb = (c as i64 + i64::from(shift)).rem_euclid(IRIS_COLS as i64) as usize;
            let ia = (r * IRIS_COLS + c) * cell;
            let ib = (r * IRIS_COLS + cb) * cell;
            for k in 0..cell {
                let m = a.mask()[ia + k] & b.mask()[ib + k];
                valid += usize::from(m);
                diff += usize::from(m & (a.code()[ia + k] ^ b.code()[ib + k]));
            }
        }
    }
    (valid > 0).then(|| diff as f64 / valid as f64)
}

/// Minimum fractional Hamming distance over shifts `-max_shift..=max_shift`
/// (the matcher's score; lower = more similar). `1.0` when no shift has a
/// usable bit in common.
pub fn hamming_distance(a: &IrisCode, b: &IrisCode, max_shift: u32) -> f64 {
    let m = max_shift as i32;
    (-m..=m)
        .filter_map(|s| hamming_distance_at(a, b, s))
        .fold(1.0, f64::min)
}

/// The default rotation range: ±15 columns.
pub const DEFAULT_MAX_SHIFT: u32 = 15;

fn log_gabor(n: usize, f0: f32, sigma_on_f: f32) -> Vec<f32> {
    let denom = 2.0 * sigma_on_f.ln().powi(2);
    (0..n)
        .map(|k| {
            // Positive frequencies only (k in 1..n/2): the output is analytic.
            if k == 0 || k > n / 2 {
                0.0
            } else {
                let f = k as f32 / n as f32;
                (-(f / f0).ln().powi(2) / denom).exp()
            }
        })
        .collect()
}

/// Area-average a strip down (or bilinear up) to `cols` x `rows` grey values,
/// treating x as cyclic.
fn resample_grey(img: &RgbImage, cols: usize, rows: usize) -> Vec<f32> {
    let (w, h) = (img.width() as f32, img.height() as f32);
    let (sx, sy) = (w / cols as f32, h / rows as f32);
    let mut out = vec![0.0f32; cols * rows];
    for r in 0..rows {
        for c in 0..cols {
            let p = img.area(
                c as f32 * sx,
                r as f32 * sy,
                (c + 1) as f32 * sx,
                (r + 1) as f32 * sy,
                [0.0; 3],
            );
            out[r * cols + c] = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
        }
    }
    out
}

fn median(v: &[f32]) -> f32 {
    let mut s = v.to_vec();
    s.sort_by(f32::total_cmp);
    s.get(s.len() / 2).copied().unwrap_or(0.0)
}

#[cfg(test)]
mod tests;
