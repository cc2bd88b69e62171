//! Accuracy evaluation over a labelled folder of images.
//!
//! Layouts understood ([`Dataset::scan`]):
//! * one sub-folder per identity: `s1/1.pgm`, `s1/2.pgm`, … (ORL as shipped
//!   by AT&T);
//! * flat files `ID_K.ext`: identity = the name before the last `_`
//!   (`s1_1.pgm`, IITD `001_1.bmp`).
//!
//! Every pair of distinct images is scored once: same identity = genuine,
//! different = impostor. Face pairs score by cosine similarity of the
//! embeddings; iris pairs by the minimum fractional Hamming distance over
//! rotations ±`max_shift` columns. The operating threshold is the one at
//! FMR = 1e-3 (see [`metrics`]); EER and FNMR at FMR = 1e-2 are reported too.

pub mod metrics;
mod plot;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::CaptureError;
use crate::face::{Embedding, FaceOptions, FacePipeline};
use crate::image_io::RgbImage;
use crate::iris::{self, IrisCode, IrisEncoder, IrisOptions};
use crate::models::ModelsDir;
pub use metrics::{OperatingPoint, ScoreKind, decide};

const IMAGE_EXTENSIONS: [&str; 7] = ["pgm", "ppm", "pnm", "bmp", "png", "jpg", "jpeg"];

/// Which biometric a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Modality {
    /// Face images.
    Face,
    /// Pre-normalised iris strips.
    Iris,
}

impl Modality {
    /// How this modality's scores are oriented.
    pub fn score_kind(self) -> ScoreKind {
        match self {
            Self::Face => ScoreKind::Similarity,
            Self::Iris => ScoreKind::Distance,
        }
    }

    /// Guess from the first image: an image at least 3x wider than tall is
    /// an iris strip, anything else a face.
    pub fn detect(dataset: &Dataset) -> Result<Self, CaptureError> {
        let first = dataset.samples.first().ok_or(CaptureError::Dataset {
            path: dataset.root.clone(),
            what: "no images",
        })?;
        let img = RgbImage::open(&first.0)?;
        Ok(if img.width() >= 3 * img.height() {
            Self::Iris
        } else {
            Self::Face
        })
    }
}

/// A labelled list of image files, sorted by (identity, path).
#[derive(Debug, Clone)]
pub struct Dataset {
    root: PathBuf,
    samples: Vec<(PathBuf, String)>,
}

impl Dataset {
    /// Scan a folder (see the module docs for the layouts).
    pub fn scan(root: impl AsRef<Path>) -> Result<Self, CaptureError> {
        let root = root.as_ref().to_path_buf();
        let io = |source| CaptureError::Io {
            path: root.clone(),
            source,
        };
        let mut samples = Vec::new();
        for entry in std::fs::read_dir(&root).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.is_dir() {
                let Some(identity) = path.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                let sub = std::fs::read_dir(&path).map_err(|source| CaptureError::Io {
                    path: path.clone(),
                    source,
                })?;
                for e in sub {
                    let p = e
                        .map_err(|source| CaptureError::Io {
                            path: path.clone(),
                            source,
                        })?
                        .path();
                    if is_image(&p) {
                        samples.push((p, identity.to_owned()));
                    }
                }
            } else if is_image(&path) {
                let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
                if let Some((identity, _)) = stem.rsplit_once('_')
                    && !identity.is_empty()
                {
                    samples.push((path.clone(), identity.to_owned()));
                }
            }
        }
        if samples.is_empty() {
            return Err(CaptureError::Dataset {
                path: root,
                what: "no labelled images (expected ID/K.ext folders or ID_K.ext files)",
            });
        }
        samples.sort_by(|a, b| {
            (natural_id(&a.1), natural_key(&a.0)).cmp(&(natural_id(&b.1), natural_key(&b.0)))
        });
        Ok(Self { root, samples })
    }

    /// Keep at most `identities` identities (in sorted order) and at most
    /// `per_identity` images of each.
    pub fn subset(mut self, identities: Option<usize>, per_identity: Option<usize>) -> Self {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        self.samples.retain(|(_, id)| {
            let known = counts.len();
            let c = counts.entry(id.clone()).or_insert(0);
            if *c == 0 && identities.is_some_and(|max| known >= max) {
                counts.remove(id);
                return false;
            }
            *c += 1;
            per_identity.is_none_or(|max| *c <= max)
        });
        self
    }

    /// The folder scanned.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// (path, identity) pairs.
    pub fn samples(&self) -> &[(PathBuf, String)] {
        &self.samples
    }

    /// Number of distinct identities.
    pub fn identities(&self) -> usize {
        let ids: std::collections::BTreeSet<&str> =
            self.samples.iter().map(|(_, i)| i.as_str()).collect();
        ids.len()
    }
}

/// Evaluation settings. Each field documents its default.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    /// Modality; `None` = guess with [`Modality::detect`]. Default `None`.
    pub modality: Option<Modality>,
    /// Where the face models are. Default [`ModelsDir::default_location`].
    pub models_dir: ModelsDir,
    /// Face options. Default: [`FaceOptions::default`] with
    /// `assume_cropped = true`, because evaluation datasets such as ORL are
    /// tightly cropped; the report counts how often it was used.
    pub face: FaceOptions,
    /// Iris encoder options. Default [`IrisOptions::default`].
    pub iris: IrisOptions,
    /// Iris rotation search, in columns. Default 15.
    pub max_shift: u32,
    /// Use only the first N identities. Default all.
    pub max_identities: Option<usize>,
    /// Use only the first N images per identity. Default all.
    pub max_per_identity: Option<usize>,
    /// Folder for `det.svg` and `histogram.svg`; `None` = no plots. Default `None`.
    pub plot_dir: Option<PathBuf>,
}

impl Default for EvalOptions {
    fn default() -> Self {
        Self {
            modality: None,
            models_dir: ModelsDir::default_location(),
            face: FaceOptions {
                assume_cropped: true,
                ..FaceOptions::default()
            },
            iris: IrisOptions::default(),
            max_shift: iris::DEFAULT_MAX_SHIFT,
            max_identities: None,
            max_per_identity: None,
            plot_dir: None,
        }
    }
}

/// The summary of one evaluation run (serialisable for `--json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// The dataset folder.
    pub dataset: PathBuf,
    /// Face or iris.
    pub modality: Modality,
    /// Score orientation (similarity: match iff score >= threshold;
    /// distance: match iff score <= threshold).
    pub score_kind: ScoreKind,
    /// Images with a template.
    pub images: usize,
    /// Images that failed extraction (excluded from all pairs).
    pub failed_images: usize,
    /// Faces for which no face was detected and the whole frame was used.
    pub whole_frame_fallbacks: usize,
    /// Distinct identities.
    pub identities: usize,
    /// Same-identity pairs.
    pub genuine_pairs: usize,
    /// Different-identity pairs.
    pub impostor_pairs: usize,
    /// Equal error rate.
    pub eer: f64,
    /// Threshold at the EER.
    pub eer_threshold: f64,
    /// FNMR at FMR = 1e-3.
    #[serde(rename = "fnmr_at_fmr_1e-3")]
    pub fnmr_at_fmr_1e_3: f64,
    /// FNMR at FMR = 1e-2.
    #[serde(rename = "fnmr_at_fmr_1e-2")]
    pub fnmr_at_fmr_1e_2: f64,
    /// Threshold at FMR = 1e-2.
    #[serde(rename = "threshold_at_fmr_1e-2")]
    pub threshold_at_fmr_1e_2: f64,
    /// The operating threshold: the one at FMR = 1e-3.
    pub threshold: f64,
    /// How `threshold` was chosen.
    pub threshold_rule: String,
    /// FMR reached at `threshold`.
    pub fmr_at_threshold: f64,
    /// Whether the dataset has enough impostor pairs (>= 1000) to resolve
    /// FMR = 1e-3.
    pub fmr_1e_3_resolvable: bool,
    /// Mean genuine score.
    pub genuine_mean: f64,
    /// Mean impostor score.
    pub impostor_mean: f64,
    /// Wall-clock extraction time per image (file read, decode, template;
    /// model loading excluded), in ms. Depends on the build profile.
    pub ms_per_image: f64,
    /// The DET curve SVG, if written.
    pub det_plot: Option<PathBuf>,
    /// The score histogram SVG, if written.
    pub histogram_plot: Option<PathBuf>,
}

/// A template extracted during evaluation.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Template {
    /// A face embedding.
    Face(Embedding),
    /// An iris code.
    Iris(IrisCode),
}

/// One labelled image and its template.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The image file.
    pub path: PathBuf,
    /// The identity label.
    pub identity: String,
    /// The template.
    pub template: Template,
}

/// One scored pair, indices into [`Evaluation::samples`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ScoredPair {
    /// First sample (a < b).
    pub a: usize,
    /// Second sample.
    pub b: usize,
    /// Same identity.
    pub genuine: bool,
    /// Plaintext score.
    pub score: f64,
}

/// A full evaluation: the report plus everything needed to re-run the same
/// decisions elsewhere (for instance through MPC).
#[derive(Debug)]
pub struct Evaluation {
    /// The summary.
    pub report: EvalReport,
    /// Every image with a template, sorted by (identity, file).
    pub samples: Vec<Sample>,
    /// Every pair, in (a, b) lexicographic order.
    pub pairs: Vec<ScoredPair>,
    /// Images that failed, with the error.
    pub failures: Vec<(PathBuf, CaptureError)>,
}

impl Evaluation {
    /// The plaintext decision (match / no match) for each pair, in
    /// [`Evaluation::pairs`] order, at the report's operating threshold.
    pub fn decisions(&self) -> Vec<bool> {
        plaintext_decisions(&self.pairs, self.report.threshold, self.report.score_kind)
    }
}

/// The plaintext decision for each pair at `threshold`.
pub fn plaintext_decisions(pairs: &[ScoredPair], threshold: f64, kind: ScoreKind) -> Vec<bool> {
    pairs
        .iter()
        .map(|p| decide(p.score, threshold, kind))
        .collect()
}

/// The plaintext score of two templates of the same kind (cosine for faces,
/// min Hamming distance over ±`max_shift` for irises). `None` for mixed kinds.
pub fn score(a: &Template, b: &Template, max_shift: u32) -> Option<f64> {
    match (a, b) {
        (Template::Face(x), Template::Face(y)) => Some(f64::from(x.cosine(y))),
        (Template::Iris(x), Template::Iris(y)) => Some(iris::hamming_distance(x, y, max_shift)),
        _ => None,
    }
}

/// Scan `dir`, extract every template, score every pair and summarise.
pub fn evaluate(dir: impl AsRef<Path>, options: &EvalOptions) -> Result<Evaluation, CaptureError> {
    let dataset = Dataset::scan(dir)?.subset(options.max_identities, options.max_per_identity);
    evaluate_dataset(&dataset, options)
}

/// [`evaluate`] on an already scanned dataset.
pub fn evaluate_dataset(
    dataset: &Dataset,
    options: &EvalOptions,
) -> Result<Evaluation, CaptureError> {
    let modality = match options.modality {
        Some(m) => m,
        None => Modality::detect(dataset)?,
    };
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    let mut whole_frame_fallbacks = 0;
    let started = Instant::now();
    match modality {
        Modality::Face => {
            let pipeline = FacePipeline::load(&options.models_dir, options.face.clone())?;
            // Model loading is excluded from the per-image time.
            let started = Instant::now();
            for (path, identity) in &dataset.samples {
                match pipeline.extract_path(path) {
                    Ok(c) => {
                        whole_frame_fallbacks += usize::from(c.used_whole_frame);
                        samples.push(Sample {
                            path: path.clone(),
                            identity: identity.clone(),
                            template: Template::Face(c.embedding.clone()),
                        });
                    }
                    Err(e) => failures.push((path.clone(), e)),
                }
            }
            return finish(
                dataset,
                options,
                modality,
                samples,
                failures,
                whole_frame_fallbacks,
                started,
            );
        }
        Modality::Iris => {
            let encoder = IrisEncoder::new(options.iris.clone())?;
            for (path, identity) in &dataset.samples {
                match encoder.encode_path(path) {
                    Ok(code) => samples.push(Sample {
                        path: path.clone(),
                        identity: identity.clone(),
                        template: Template::Iris(code),
                    }),
                    Err(e) => failures.push((path.clone(), e)),
                }
            }
        }
    }
    finish(
        dataset,
        options,
        modality,
        samples,
        failures,
        whole_frame_fallbacks,
        started,
    )
}

fn finish(
    dataset: &Dataset,
    options: &EvalOptions,
    modality: Modality,
    samples: Vec<Sample>,
    failures: Vec<(PathBuf, CaptureError)>,
    whole_frame_fallbacks: usize,
    started: Instant,
) -> Result<Evaluation, CaptureError> {
    let attempted = samples.len() + failures.len();
    let ms_per_image = started.elapsed().as_secs_f64() * 1e3 / attempted.max(1) as f64;
    let kind = modality.score_kind();
    let mut pairs = Vec::with_capacity(samples.len() * samples.len().saturating_sub(1) / 2);
    for a in 0..samples.len() {
        for b in a + 1..samples.len() {
            let s = score(
                &samples[a].template,
                &samples[b].template,
                options.max_shift,
            )
            .ok_or(CaptureError::InvalidArgument("mixed template kinds"))?;
            pairs.push(ScoredPair {
                a,
                b,
                genuine: samples[a].identity == samples[b].identity,
                score: s,
            });
        }
    }
    let genuine: Vec<f64> = pairs
        .iter()
        .filter(|p| p.genuine)
        .map(|p| p.score)
        .collect();
    let impostor: Vec<f64> = pairs
        .iter()
        .filter(|p| !p.genuine)
        .map(|p| p.score)
        .collect();
    let not_enough = CaptureError::Dataset {
        path: dataset.root.clone(),
        what: "need at least one genuine and one impostor pair",
    };
    let (eer, eer_threshold) = metrics::eer(&genuine, &impostor, kind).ok_or(not_enough)?;
    let op3 = metrics::at_fmr(&genuine, &impostor, 1e-3, kind).ok_or(CaptureError::Dataset {
        path: dataset.root.clone(),
        what: "need at least one genuine and one impostor pair",
    })?;
    let op2 = metrics::at_fmr(&genuine, &impostor, 1e-2, kind).ok_or(CaptureError::Dataset {
        path: dataset.root.clone(),
        what: "need at least one genuine and one impostor pair",
    })?;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let identities: std::collections::BTreeSet<&str> =
        samples.iter().map(|s| s.identity.as_str()).collect();
    let mut report = EvalReport {
        dataset: dataset.root.clone(),
        modality,
        score_kind: kind,
        images: samples.len(),
        failed_images: failures.len(),
        whole_frame_fallbacks,
        identities: identities.len(),
        genuine_pairs: genuine.len(),
        impostor_pairs: impostor.len(),
        eer,
        eer_threshold,
        fnmr_at_fmr_1e_3: op3.fnmr,
        fnmr_at_fmr_1e_2: op2.fnmr,
        threshold_at_fmr_1e_2: op2.threshold,
        threshold: op3.threshold,
        threshold_rule: "most permissive threshold with FMR <= 1e-3".to_owned(),
        fmr_at_threshold: op3.fmr,
        fmr_1e_3_resolvable: op3.resolvable,
        genuine_mean: mean(&genuine),
        impostor_mean: mean(&impostor),
        ms_per_image,
        det_plot: None,
        histogram_plot: None,
    };
    if let Some(dir) = &options.plot_dir {
        let write = |name: &str, body: String| -> Result<PathBuf, CaptureError> {
            let path = dir.join(name);
            std::fs::create_dir_all(dir)
                .and_then(|()| std::fs::write(&path, body))
                .map_err(|source| CaptureError::Write {
                    path: path.clone(),
                    source,
                })?;
            Ok(path)
        };
        let name = match modality {
            Modality::Face => "face (cosine similarity)",
            Modality::Iris => "iris (fractional Hamming distance)",
        };
        let points = metrics::det_points(&genuine, &impostor, kind);
        let marks = [
            (op3.fmr, op3.fnmr, "FMR 1e-3"),
            (op2.fmr, op2.fnmr, "FMR 1e-2"),
            (eer, eer, "EER"),
        ];
        report.det_plot = Some(write(
            "det.svg",
            plot::det_svg(
                &format!("DET, {name}, EER {:.2}%", eer * 100.0),
                &points,
                &marks,
            ),
        )?);
        report.histogram_plot = Some(write(
            "histogram.svg",
            plot::histogram_svg(
                &format!("Scores, {name}"),
                match kind {
                    ScoreKind::Similarity => "cosine similarity",
                    ScoreKind::Distance => "fractional Hamming distance",
                },
                &genuine,
                &impostor,
                op3.threshold,
            ),
        )?);
    }
    Ok(Evaluation {
        report,
        samples,
        pairs,
        failures,
    })
}

fn is_image(p: &Path) -> bool {
    p.is_file()
        && p.extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Sort key that orders identity `s10` after `s2`: (prefix, number, name).
fn natural_id(id: &str) -> (&str, u64, &str) {
    let prefix = id.trim_end_matches(|c: char| c.is_ascii_digit());
    let number = id[prefix.len()..].parse().unwrap_or(0);
    (prefix, number, id)
}

/// Sort key that orders `s2_10` after `s2_9`: (numeric suffix, name).
fn natural_key(p: &Path) -> (u64, String) {
    let stem = p.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let tail = stem.rsplit_once('_').map_or(stem, |(_, t)| t);
    (tail.parse().unwrap_or(u64::MAX), stem.to_owned())
}

#[cfg(test)]
mod tests;
