//! Real faces for `sanctuary demo`: a labelled face folder (ORL where
//! `../shared/data` is present) embedded with the capture pipeline, plus the
//! synthetic embeddings that fill the rest of the population.
//!
//! Person `k < real` is a real identity: its first image is enrolled, its
//! other images are fresh captures (genuine probes, re-enrolment attempts).
//! Person `k >= real` is a generated direction whose captures add noise.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use rand::Rng;
use sanctuary_capture::eval::Dataset;
use sanctuary_capture::{FaceOptions, FacePipeline, ModelsDir};
use sanctuary_template::{Embedding, EmbeddingParams, QuantizedEmbedding};

use crate::synth;

/// Credit line the ORL licence asks for.
pub(crate) const ORL_CREDIT: &str =
    "ORL face images: The Database of Faces, AT&T Laboratories Cambridge";

/// The credit line to print for faces from `dir`: ORL's where the folder is
/// ORL (named `orl`), none otherwise.
pub(crate) fn credit(dir: &Path) -> Option<&'static str> {
    let name = dir.file_name()?.to_str()?;
    name.eq_ignore_ascii_case("orl").then_some(ORL_CREDIT)
}

/// Where the demo looks for faces when `--faces` is not given: the
/// project's data folder next to the repository, relative to the working
/// directory (the README runs from the repository root) and then to the
/// source tree this binary was built from.
pub(crate) fn default_dirs() -> Vec<PathBuf> {
    vec![
        PathBuf::from("../shared/data/faces/orl"),
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/faces/orl"),
    ]
}

/// The first default folder that exists.
pub(crate) fn find_default() -> Option<PathBuf> {
    default_dirs().into_iter().find(|d| d.is_dir())
}

/// One real identity: quantised templates of its images, in file order.
pub(crate) struct RealPerson {
    pub(crate) identity: String,
    /// `images[0]` is enrolled; the others are fresh captures. At least 2.
    pub(crate) images: Vec<QuantizedEmbedding>,
}

/// A face folder, embedded.
pub(crate) struct RealFaces {
    pub(crate) dir: PathBuf,
    pub(crate) people: Vec<RealPerson>,
    /// Images embedded (including any that failed).
    pub(crate) images: usize,
    /// Images the pipeline could not embed (skipped).
    pub(crate) failed: usize,
    /// Wall-clock seconds for model loading and embedding.
    pub(crate) seconds: f64,
}

/// Embeds the first `per_identity` images of the first `identities`
/// identities of `dir` (`ID/K.ext` or `ID_K.ext`), on up to `threads`
/// threads. Images that fail are skipped with a message; identities left
/// with fewer than 2 images are dropped.
pub(crate) fn load(
    dir: &Path,
    identities: usize,
    per_identity: usize,
    params: &EmbeddingParams,
    quiet: bool,
) -> anyhow::Result<RealFaces> {
    if per_identity < 2 {
        bail!("--face-images must be at least 2 (one to enroll, one to verify)");
    }
    let started = Instant::now();
    let dataset = Dataset::scan(dir)
        .with_context(|| format!("cannot read the face folder {}", dir.display()))?
        .subset(Some(identities), Some(per_identity));
    let options = FaceOptions {
        // ORL images are tightly cropped; the detector misses a few.
        assume_cropped: true,
        ..FaceOptions::default()
    };
    let models = ModelsDir::default_location();
    let pipeline = FacePipeline::load(&models, options).with_context(|| {
        format!(
            "cannot load the face models from {} (set {})",
            models.path().display(),
            sanctuary_capture::MODELS_DIR_ENV
        )
    })?;
    let samples = dataset.samples();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4);
    let chunk = samples.len().div_ceil(threads).max(1);
    let embedded: Vec<Option<QuantizedEmbedding>> = std::thread::scope(|s| {
        let handles: Vec<_> = samples
            .chunks(chunk)
            .map(|part| {
                let pipeline = &pipeline;
                s.spawn(move || {
                    part.iter()
                        .map(|(path, _)| embed(pipeline, path, params, quiet))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    });
    if embedded.len() != samples.len() {
        bail!("a face embedding thread panicked");
    }
    let failed = embedded.iter().filter(|e| e.is_none()).count();
    let mut people: Vec<RealPerson> = Vec::new();
    for ((_, identity), q) in samples.iter().zip(embedded) {
        let Some(q) = q else { continue };
        match people.last_mut() {
            Some(p) if &p.identity == identity => p.images.push(q),
            _ => people.push(RealPerson {
                identity: identity.clone(),
                images: vec![q],
            }),
        }
    }
    people.retain(|p| p.images.len() >= 2);
    if people.is_empty() {
        bail!("no identity in {} has 2 usable face images", dir.display());
    }
    Ok(RealFaces {
        dir: dir.to_owned(),
        people,
        images: samples.len(),
        failed,
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn embed(
    pipeline: &FacePipeline,
    path: &Path,
    params: &EmbeddingParams,
    quiet: bool,
) -> Option<QuantizedEmbedding> {
    let quantised = pipeline
        .extract_path(path)
        .map_err(anyhow::Error::from)
        .and_then(|c| Ok(c.embedding.quantize(params)?));
    match quantised {
        Ok(q) => Some(q),
        Err(e) => {
            if !quiet {
                eprintln!("skipped {}: {e:#}", path.display());
            }
            None
        }
    }
}

/// The demo's population: real identities first, then synthetic ones.
pub(crate) struct Population {
    real: Vec<RealPerson>,
    synthetic: Vec<Embedding>,
    params: EmbeddingParams,
}

impl Population {
    /// `size` people: up to `size` real identities from `faces`, the rest
    /// generated from `rng`.
    pub(crate) fn new(
        faces: Option<RealFaces>,
        size: usize,
        params: EmbeddingParams,
        rng: &mut impl Rng,
    ) -> Self {
        let mut real = faces.map(|f| f.people).unwrap_or_default();
        real.truncate(size);
        let synthetic = (real.len()..size)
            .map(|_| synth::embedding(rng, params.dim))
            .collect();
        Self {
            real,
            synthetic,
            params,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.real.len() + self.synthetic.len()
    }

    /// Number of real identities (people `0..real_count()`).
    pub(crate) fn real_count(&self) -> usize {
        self.real.len()
    }

    /// The template person `k` enrolls with.
    pub(crate) fn enrollment(&self, k: usize) -> anyhow::Result<QuantizedEmbedding> {
        match self.real.get(k) {
            Some(p) => Ok(p.images[0].clone()),
            None => synth::quantize(&self.synthetic[k - self.real.len()], &self.params),
        }
    }

    /// A fresh capture of person `k`: another of their images, or their
    /// generated direction plus noise.
    pub(crate) fn capture(
        &self,
        rng: &mut impl Rng,
        k: usize,
    ) -> anyhow::Result<QuantizedEmbedding> {
        match self.real.get(k) {
            Some(p) => Ok(p.images[rng.random_range(1..p.images.len())].clone()),
            None => synth::quantize(
                &synth::genuine_embedding(rng, &self.synthetic[k - self.real.len()], 0.5),
                &self.params,
            ),
        }
    }

    /// Someone to check: a real identity when there are any.
    pub(crate) fn pick(&self, rng: &mut impl Rng) -> usize {
        if self.real.is_empty() {
            rng.random_range(0..self.len())
        } else {
            rng.random_range(0..self.real.len())
        }
    }

    /// Someone other than `k` (another real identity when `k` is real and
    /// there is one). Needs at least 2 people.
    pub(crate) fn other(&self, rng: &mut impl Rng, k: usize) -> usize {
        let n = if k < self.real.len() && self.real.len() >= 2 {
            self.real.len()
        } else {
            self.len()
        };
        (k + 1 + rng.random_range(0..n - 1)) % n
    }
}
