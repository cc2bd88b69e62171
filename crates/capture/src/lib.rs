//! Sanctuary capture: turn a face image or an iris strip into a template,
//! and measure how well the templates separate people.
//!
//! ```text
//!  face image ─► FacePipeline::extract ─► Embedding (512 f32, unit length)
//!               (detect ─► landmark ─► align ─► embed)
//!  Capture::capture = liveness gate + extract
//!  iris strip ─► IrisEncoder::encode ─► IrisCode (16x200x4 code + mask bits)
//!  labelled folder ─► eval::evaluate ─► EvalReport (EER, FNMR@FMR, threshold,
//!                                        DET/histogram SVG) + templates + pairs
//! ```
//!
//! Raw pixels, model inputs and templates are wiped (`zeroize`) when dropped;
//! template types print `<redacted>` in `Debug`.
//!
//! ```no_run
//! use sanctuary_capture::eval::{EvalOptions, evaluate};
//! use sanctuary_capture::{Capture, FaceOptions, FacePipeline, ModelsDir, RgbImage};
//!
//! // Enrollment: load the models once, gate on liveness, get the embedding.
//! let pipeline = FacePipeline::load(&ModelsDir::default_location(), FaceOptions::default())?;
//! let capture = Capture::new(pipeline, Capture::DEFAULT_LIVENESS_THRESHOLD)?;
//! let result = capture.capture(&RgbImage::open("face.jpg")?)?;
//! println!("liveness {:.2}", result.liveness_score); // shown, never stored
//! let template: &[f32] = result.face.embedding.values(); // 512 values, unit length
//! # let _ = template;
//!
//! // Evaluation: report, templates and plaintext decisions per pair.
//! let ev = evaluate("../shared/data/faces/orl", &EvalOptions::default())?;
//! println!("EER {:.4}", ev.report.eer);
//! let decisions: Vec<bool> = ev.decisions();
//! # let _ = decisions;
//! # Ok::<(), sanctuary_capture::CaptureError>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::unwrap_used)]

mod error;
pub mod eval;
mod face;
mod image_io;
pub mod iris;
mod models;

// The public interface is:
pub use error::{CaptureError, InferenceError};
pub use face::{
    ALIGNED_SIZE, ARCFACE_TEMPLATE, Capture, CaptureResult, EMBEDDING_DIM, Embedding, FaceBox,
    FaceCapture, FaceOptions, FacePipeline, Landmarks68, align,
};
pub use image_io::RgbImage;
pub use iris::{IrisCode, IrisEncoder, IrisOptions, code_from_bits, iris_params};
pub use models::{MODELS_DIR_ENV, ModelKind, ModelsDir};
