//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while capturing or evaluating a template.
///
/// Variants are grouped by who has to act: the presented sample
/// (`*Image*`, `NoFace`, `TooManyFaces`, `FaceTooSmall`, `LivenessFailed`),
/// the installation (`Model*`), or the caller (`InvalidArgument`, `Dataset`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The file could not be read from disk.
    #[error("cannot read {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not an image in a supported format (JPEG, PNG, PGM/PNM, BMP),
    /// or the image is corrupt.
    #[error("unreadable or unsupported image{}", display_path(.path))]
    ImageDecode {
        /// The file, when the image came from one.
        path: Option<PathBuf>,
        /// The decoder's error.
        #[source]
        source: image::ImageError,
    },
    /// The image has a zero or absurd size.
    #[error("image has unusable dimensions {width}x{height}")]
    ImageDimensions {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
    },
    /// The detector found no face.
    #[error("no face found in the image")]
    NoFace,
    /// The detector found several faces and the caller did not pick one.
    #[error("{count} faces found; pick one with `face_index`")]
    TooManyFaces {
        /// How many faces were found.
        count: usize,
    },
    /// `face_index` named a face that does not exist.
    #[error("face index {index} requested but only {count} faces found")]
    FaceIndexOutOfRange {
        /// The requested index.
        index: usize,
        /// How many faces were found.
        count: usize,
    },
    /// The face box is smaller than the configured minimum.
    #[error("face is {size_px:.0} px wide, below the minimum of {min_px:.0} px")]
    FaceTooSmall {
        /// The shorter side of the face box, in pixels.
        size_px: f32,
        /// The configured minimum.
        min_px: f32,
    },
    /// The liveness (presentation-attack) check scored below the threshold.
    ///
    /// The score is reported to the operator at capture time and never stored.
    #[error("liveness check failed: score {score:.3} below threshold {threshold:.3}")]
    LivenessFailed {
        /// The liveness score in [0, 1].
        score: f32,
        /// The configured threshold.
        threshold: f32,
    },
    /// A model file is absent.
    #[error("model file {path} is missing (see crates/capture/README.md)")]
    ModelMissing {
        /// The expected path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A model file exists but its SHA-256 is not the expected one.
    #[error("model file {path} has SHA-256 {actual}, expected {expected}")]
    ModelChecksum {
        /// The file.
        path: PathBuf,
        /// The expected digest (hex).
        expected: &'static str,
        /// The digest found (hex).
        actual: String,
    },
    /// A model file could not be parsed or run by the inference engine.
    #[error("model {file} is invalid or failed to run")]
    ModelInvalid {
        /// The model's file name.
        file: &'static str,
        /// The inference engine's error.
        #[source]
        source: InferenceError,
    },
    /// A model produced output of an unexpected shape.
    #[error("model {file} produced unexpected output: {what}")]
    ModelOutput {
        /// The model's file name.
        file: &'static str,
        /// What was wrong.
        what: &'static str,
    },
    /// A dataset folder could not be interpreted.
    #[error("dataset {path}: {what}")]
    Dataset {
        /// The folder or file.
        path: PathBuf,
        /// What was wrong.
        what: &'static str,
    },
    /// An argument was out of range.
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// Writing a report or plot failed.
    #[error("cannot write {path}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// The inference engine's error, kept opaque so the engine can change.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct InferenceError(#[from] pub(crate) tract_onnx::prelude::TractError);

fn display_path(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => format!(" {}", p.display()),
        None => String::new(),
    }
}
