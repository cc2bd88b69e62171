//! Locating, verifying and loading the ONNX models.
//!
//! The four faceplugin models (MIT licence, see `models/LICENSE`) are vendored
//! in `crates/capture/models/`. Each file's SHA-256 is compiled into this
//! crate and checked every time a model is loaded, so a swapped or truncated
//! file is refused with [`CaptureError::ModelChecksum`] rather than silently
//! producing different templates.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;

use crate::error::{CaptureError, InferenceError};

/// Environment variable that overrides the default models folder.
pub const MODELS_DIR_ENV: &str = "SANCTUARY_MODELS_DIR";

/// One of the vendored models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ModelKind {
    /// Face detector, Ultra-Light RFB-320 style: 1x3x240x320 -> scores, boxes.
    Detect,
    /// 68-point landmarks: 1x1x64x64 grey -> 136 values.
    Landmark,
    /// Face embedding: 1x3x112x112 -> 512.
    Feature,
    /// Liveness classifier: 1x3x128x128 -> class logits.
    Liveness,
}

impl ModelKind {
    /// The model's file name inside the models folder.
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Detect => "fr_detect.onnx",
            Self::Landmark => "fr_landmark.onnx",
            Self::Feature => "fr_feature.onnx",
            Self::Liveness => "fr_liveness.onnx",
        }
    }

    /// The expected SHA-256 of the file, lower-case hex.
    pub fn sha256(self) -> &'static str {
        match self {
            Self::Detect => "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854",
            Self::Landmark => "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258",
            Self::Feature => "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
            Self::Liveness => "afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d",
        }
    }

    fn input_shape(self) -> [usize; 4] {
        match self {
            Self::Detect => [1, 3, 240, 320],
            Self::Landmark => [1, 1, 64, 64],
            Self::Feature => [1, 3, 112, 112],
            Self::Liveness => [1, 3, 128, 128],
        }
    }
}

/// Where the model files live.
///
/// Resolution order for [`ModelsDir::default_location`]: the
/// `SANCTUARY_MODELS_DIR` environment variable, then the vendored
/// `crates/capture/models/` folder of the source tree this crate was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelsDir(PathBuf);

impl ModelsDir {
    /// Use the given folder.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self(dir.into())
    }

    /// The environment override, or the vendored folder.
    pub fn default_location() -> Self {
        match std::env::var_os(MODELS_DIR_ENV) {
            Some(dir) if !dir.is_empty() => Self(PathBuf::from(dir)),
            _ => Self(Path::new(env!("CARGO_MANIFEST_DIR")).join("models")),
        }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The full path of one model.
    pub fn model_path(&self, kind: ModelKind) -> PathBuf {
        self.0.join(kind.file_name())
    }
}

impl Default for ModelsDir {
    fn default() -> Self {
        Self::default_location()
    }
}

/// A loaded, optimised model ready to run. Cheap to clone (shared plan).
#[derive(Clone)]
pub(crate) struct Model {
    kind: ModelKind,
    plan: Arc<TypedRunnableModel>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Read, verify and optimise one model.
    pub(crate) fn load(dir: &ModelsDir, kind: ModelKind) -> Result<Self, CaptureError> {
        let path = dir.model_path(kind);
        let bytes = std::fs::read(&path).map_err(|source| CaptureError::ModelMissing {
            path: path.clone(),
            source,
        })?;
        verify_sha256(&path, &bytes, kind.sha256())?;
        let invalid = |e: TractError| CaptureError::ModelInvalid {
            file: kind.file_name(),
            source: InferenceError(e),
        };
        let shape = kind.input_shape();
        let plan = tract_onnx::onnx()
            .model_for_read(&mut bytes.as_slice())
            .and_then(|m| m.with_input_fact(0, f32::fact(shape).into()))
            .and_then(|m| m.into_optimized())
            .and_then(|m| m.into_runnable())
            .map_err(invalid)?;
        Ok(Self { kind, plan })
    }

    /// Run on one NCHW input; returns every output flattened, in graph order.
    ///
    /// The caller owns (and wipes) `input`; the engine's internal copy is
    /// dropped when this returns.
    pub(crate) fn run(&self, input: &[f32]) -> Result<Vec<Vec<f32>>, CaptureError> {
        let invalid = |e: TractError| CaptureError::ModelInvalid {
            file: self.kind.file_name(),
            source: InferenceError(e),
        };
        let shape = self.kind.input_shape();
        let tensor = Tensor::from_shape(&shape, input).map_err(invalid)?;
        let outputs = self
            .plan
            .run(tvec!(tensor.into_tvalue()))
            .map_err(invalid)?;
        outputs
            .iter()
            .map(|t| {
                t.to_plain_array_view::<f32>()
                    .map(|v| v.iter().copied().collect())
                    .map_err(invalid)
            })
            .collect()
    }
}

/// Check a file's SHA-256 against the expected hex digest.
pub(crate) fn verify_sha256(
    path: &Path,
    bytes: &[u8],
    expected: &'static str,
) -> Result<(), CaptureError> {
    let digest = Sha256::digest(bytes);
    let actual: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    if actual == expected {
        Ok(())
    } else {
        Err(CaptureError::ModelChecksum {
            path: path.to_path_buf(),
            expected,
            actual,
        })
    }
}
