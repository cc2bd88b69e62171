//! The face pipeline: detect, landmark, align, embed; plus liveness.
//!
//! ```text
//!  image ──► letterbox 4:3 ──► fr_detect (320x240) ──► priors decode + NMS ──► boxes
//!  box ──► square crop ──► fr_landmark (64x64 grey) ──► 68 points ──► 5 points
//!  5 points ──► similarity transform to the ArcFace 112x112 template ──► aligned face
//!  aligned ──► fr_feature ((p-127)/128, RGB) ──► 512-d ──► L2-normalise ──► Embedding
//!  box x2.7 ──► 128x128 RGB, raw 0..255 ──► fr_liveness ──► softmax ──► score
//! ```
//!
//! Pre-processing follows the JavaScript sources published with the models
//! (`faceplugin-face-recognition-js@0.0.1`, `lib/fr_*.js`); deviations are
//! documented on the functions concerned.

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::CaptureError;
use crate::image_io::RgbImage;
use crate::models::{Model, ModelKind, ModelsDir};

/// Embedding dimension of `fr_feature.onnx`.
pub const EMBEDDING_DIM: usize = 512;

/// Side of the aligned face crop.
pub const ALIGNED_SIZE: usize = 112;

/// The standard ArcFace five-point template for a 112x112 crop:
/// left eye, right eye, nose tip, left mouth corner, right mouth corner.
pub const ARCFACE_TEMPLATE: [[f32; 2]; 5] = [
    [38.294_6, 51.696_3],
    [73.531_8, 51.501_4],
    [56.025_2, 71.736_6],
    [41.549_3, 92.365_5],
    [70.729_9, 92.204_1],
];

const DET_W: usize = 320;
const DET_H: usize = 240;
const DET_PRIORS: usize = 4420;
const LANDMARK_SIDE: usize = 64;
const LIVENESS_SIDE: usize = 128;
/// The liveness model's "live" class (see [`FacePipeline::liveness`]).
const LIVE_CLASS: usize = 1;
/// Crop enlargement for liveness, as in `fr_liveness.js`.
const LIVENESS_SCALE: f32 = 2.7;

/// Options for face extraction. Each field documents its default.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceOptions {
    /// Minimum detector confidence for a face. Default 0.65 (as the model's JS).
    pub detection_threshold: f32,
    /// IoU above which overlapping detections are merged by NMS. Default 0.4.
    pub nms_iou: f32,
    /// Smallest accepted face box side, in source pixels. Default 32.
    pub min_face_px: f32,
    /// Which face to use when several are found, counted in order of
    /// decreasing box area. Default `None`: more than one face is an error.
    pub face_index: Option<usize>,
    /// Treat the whole frame as the face box when the detector finds nothing.
    ///
    /// For tightly cropped face images (the ORL database: 92x112, the face
    /// fills the frame). Default `false`: no face is an error. Never applied
    /// silently: [`FaceCapture::used_whole_frame`] reports when it was.
    pub assume_cropped: bool,
}

impl Default for FaceOptions {
    fn default() -> Self {
        Self {
            detection_threshold: 0.65,
            nms_iou: 0.4,
            min_face_px: 32.0,
            face_index: None,
            assume_cropped: false,
        }
    }
}

/// A face box in source-image pixels (corner form) with its detector score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceBox {
    /// Left.
    pub x1: f32,
    /// Top.
    pub y1: f32,
    /// Right.
    pub x2: f32,
    /// Bottom.
    pub y2: f32,
    /// Detector confidence in [0, 1] (1.0 for an assumed whole-frame box).
    pub score: f32,
}

impl FaceBox {
    /// Width.
    pub fn width(&self) -> f32 {
        self.x2 - self.x1
    }
    /// Height.
    pub fn height(&self) -> f32 {
        self.y2 - self.y1
    }
    fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }
    fn iou(&self, other: &FaceBox) -> f32 {
        let w = (self.x2.min(other.x2) - self.x1.max(other.x1)).max(0.0);
        let h = (self.y2.min(other.y2) - self.y1.max(other.y1)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 { 0.0 } else { inter / union }
    }
}

/// 68 facial landmarks (iBUG 300-W order) in source-image pixels.
#[derive(Clone, PartialEq, Zeroize, ZeroizeOnDrop)]
pub struct Landmarks68 {
    points: Vec<[f32; 2]>,
}

impl std::fmt::Debug for Landmarks68 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Landmarks68(<redacted>)")
    }
}

impl Landmarks68 {
    /// The 68 points.
    pub fn points(&self) -> &[[f32; 2]] {
        &self.points
    }

    /// The five alignment points derived as in `fr_feature.js`: eye centres
    /// (mean of the four eyelid points 37,38,40,41 / 43,44,46,47), nose tip
    /// (30), mouth corners (mean of outer and inner corner, 48+60 / 54+64).
    pub fn five_points(&self) -> [[f32; 2]; 5] {
        let p = &self.points;
        let mean = |ix: &[usize]| {
            let n = ix.len() as f32;
            let (sx, sy) = ix
                .iter()
                .fold((0.0, 0.0), |(sx, sy), &i| (sx + p[i][0], sy + p[i][1]));
            [sx / n, sy / n]
        };
        [
            mean(&[37, 38, 40, 41]),
            mean(&[43, 44, 46, 47]),
            p[30],
            mean(&[48, 60]),
            mean(&[54, 64]),
        ]
    }
}

/// A face embedding: `sanctuary-template`'s, L2-normalised (512 values, unit
/// length). One type from capture to match.
pub use sanctuary_template::Embedding;

/// The result of face extraction (no liveness check).
#[derive(Debug, Clone)]
pub struct FaceCapture {
    /// The embedding.
    pub embedding: Embedding,
    /// The face box used.
    pub face: FaceBox,
    /// How many faces the detector found (0 when the whole frame was assumed).
    pub faces_found: usize,
    /// True when no face was detected and `assume_cropped` made the whole
    /// frame the face box.
    pub used_whole_frame: bool,
}

/// The four face models, loaded once and shared.
#[derive(Debug, Clone)]
pub struct FacePipeline {
    detect: Model,
    landmark: Model,
    feature: Model,
    liveness: Model,
    options: FaceOptions,
}

impl FacePipeline {
    /// Load and verify the four models from `dir`.
    pub fn load(dir: &ModelsDir, options: FaceOptions) -> Result<Self, CaptureError> {
        validate(&options)?;
        Ok(Self {
            detect: Model::load(dir, ModelKind::Detect)?,
            landmark: Model::load(dir, ModelKind::Landmark)?,
            feature: Model::load(dir, ModelKind::Feature)?,
            liveness: Model::load(dir, ModelKind::Liveness)?,
            options,
        })
    }

    /// The options in force.
    pub fn options(&self) -> &FaceOptions {
        &self.options
    }

    /// Replace the options (models stay loaded).
    pub fn set_options(&mut self, options: FaceOptions) -> Result<(), CaptureError> {
        validate(&options)?;
        self.options = options;
        Ok(())
    }

    /// Detect faces; boxes in source pixels, sorted by decreasing area.
    ///
    /// The image is letterboxed (padded right/bottom with mid-grey, which the
    /// model's normalisation maps to 0) to the detector's 4:3 aspect ratio
    /// before resizing, so small portrait images are not stretched.
    pub fn detect(&self, img: &RgbImage) -> Result<Vec<FaceBox>, CaptureError> {
        let (w, h) = (img.width() as f32, img.height() as f32);
        // Source pixels per detector pixel (same on both axes after letterboxing).
        let scale = (w / DET_W as f32).max(h / DET_H as f32);
        let mut input = vec![0.0f32; 3 * DET_W * DET_H];
        let plane = DET_W * DET_H;
        for y in 0..DET_H {
            for x in 0..DET_W {
                let sx0 = x as f32 * scale;
                let sy0 = y as f32 * scale;
                let p = img.area(sx0, sy0, sx0 + scale, sy0 + scale, [127.0; 3]);
                for c in 0..3 {
                    input[c * plane + y * DET_W + x] = (p[c] - 127.0) / 128.0;
                }
            }
        }
        let out = self.detect.run(&input);
        input.zeroize();
        let out = out?;
        let (scores, boxes) = split_detector_outputs(&out)?;
        let mut found = decode_detections(scores, boxes, self.options.detection_threshold);
        found = nms(found, self.options.nms_iou);
        let mut result: Vec<FaceBox> = found
            .into_iter()
            .map(|b| FaceBox {
                x1: (b.x1 * DET_W as f32 * scale).clamp(0.0, w),
                y1: (b.y1 * DET_H as f32 * scale).clamp(0.0, h),
                x2: (b.x2 * DET_W as f32 * scale).clamp(0.0, w),
                y2: (b.y2 * DET_H as f32 * scale).clamp(0.0, h),
                score: b.score,
            })
            .filter(|b| b.width() > 0.0 && b.height() > 0.0)
            .collect();
        result.sort_by(|a, b| b.area().total_cmp(&a.area()));
        Ok(result)
    }

    /// Pick the face box to use, applying `face_index`, `assume_cropped` and
    /// `min_face_px`. Returns the box, the number of faces found, and whether
    /// the whole frame was assumed.
    pub fn select_face(&self, img: &RgbImage) -> Result<(FaceBox, usize, bool), CaptureError> {
        let faces = self.detect(img)?;
        let (face, whole) = match (faces.len(), self.options.face_index) {
            (0, _) if self.options.assume_cropped => (
                FaceBox {
                    x1: 0.0,
                    y1: 0.0,
                    x2: img.width() as f32,
                    y2: img.height() as f32,
                    score: 1.0,
                },
                true,
            ),
            (0, _) => return Err(CaptureError::NoFace),
            (1, None) => (faces[0], false),
            (count, None) => return Err(CaptureError::TooManyFaces { count }),
            (count, Some(index)) => match faces.get(index) {
                Some(f) => (*f, false),
                None => return Err(CaptureError::FaceIndexOutOfRange { index, count }),
            },
        };
        let side = face.width().min(face.height());
        if side < self.options.min_face_px {
            return Err(CaptureError::FaceTooSmall {
                size_px: side,
                min_px: self.options.min_face_px,
            });
        }
        Ok((face, faces.len(), whole))
    }

    /// Predict 68 landmarks inside a face box.
    ///
    /// As in `fr_landmark.js`: the box is made square (side = box height,
    /// same centre), shifted inside the image, resized to 64x64, converted
    /// to grey (BT.601 weights) and scaled by 1/256; outputs are fractions
    /// of the crop.
    pub fn landmarks(&self, img: &RgbImage, face: &FaceBox) -> Result<Landmarks68, CaptureError> {
        let side = face.height();
        let cx = (face.x1 + face.x2) / 2.0;
        let cy = (face.y1 + face.y2) / 2.0;
        let rect = crop_rect(img, cx, cy, side, side);
        let n = LANDMARK_SIDE;
        let mut input = vec![0.0f32; n * n];
        let (sx, sy) = (rect.2 / n as f32, rect.3 / n as f32);
        for y in 0..n {
            for x in 0..n {
                let x0 = rect.0 + x as f32 * sx;
                let y0 = rect.1 + y as f32 * sy;
                let p = img.area(x0, y0, x0 + sx, y0 + sy, [0.0; 3]);
                let grey = 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];
                input[y * n + x] = grey / 256.0;
            }
        }
        let out = self.landmark.run(&input);
        input.zeroize();
        let mut out = out?;
        let raw = out.first_mut().ok_or(CaptureError::ModelOutput {
            file: ModelKind::Landmark.file_name(),
            what: "no output",
        })?;
        if raw.len() != 136 {
            raw.zeroize();
            return Err(CaptureError::ModelOutput {
                file: ModelKind::Landmark.file_name(),
                what: "expected 136 values",
            });
        }
        let points = raw
            .chunks_exact(2)
            .map(|c| [rect.0 + c[0] * rect.2, rect.1 + c[1] * rect.3])
            .collect();
        raw.zeroize();
        Ok(Landmarks68 { points })
    }

    /// Embed an aligned 112x112 face: RGB, `(p - 127) / 128` (as
    /// `fr_feature.js`), then L2-normalise.
    pub fn embed_aligned(&self, aligned: &RgbImage) -> Result<Embedding, CaptureError> {
        let n = ALIGNED_SIZE;
        if aligned.width() as usize != n || aligned.height() as usize != n {
            return Err(CaptureError::InvalidArgument(
                "aligned face must be 112x112",
            ));
        }
        let mut input = vec![0.0f32; 3 * n * n];
        for (i, px) in aligned.as_raw().chunks_exact(3).enumerate() {
            for c in 0..3 {
                input[c * n * n + i] = (f32::from(px[c]) - 127.0) / 128.0;
            }
        }
        let out = self.feature.run(&input);
        input.zeroize();
        let mut out = out?;
        let raw = out.pop().ok_or(CaptureError::ModelOutput {
            file: ModelKind::Feature.file_name(),
            what: "no output",
        })?;
        if raw.len() != EMBEDDING_DIM {
            return Err(CaptureError::ModelOutput {
                file: ModelKind::Feature.file_name(),
                what: "expected 512 values",
            });
        }
        Embedding::normalized(raw)
            .map_err(|_| CaptureError::InvalidArgument("embedding is zero or not finite"))
    }

    /// Liveness score in [0, 1] for a face box (higher = more likely a live
    /// presentation). Reported, never stored.
    ///
    /// Pre-processing (from `fr_liveness.js` and the model's 1x3x128x128
    /// input): the box enlarged 2.7x around its centre, shifted inside the
    /// image where it fits, resized to 128x128, RGB planes of raw 0..255
    /// values (no normalisation). **Deviation:** where the enlarged box is
    /// larger than the image, the JS shrinks the enlargement to fit; we keep
    /// 2.7x and fill outside the image with black, so the face occupies the
    /// same share of the input as in training (on tightly cropped ORL faces
    /// the shrunken crop gave live scores from 0.26 to 0.99; the padded crop
    /// gives 0.99+).
    ///
    /// The model has three outputs, the layout of the MiniFASNet
    /// (Silent-Face-Anti-Spoofing) family: 0 = print attack, 1 = live,
    /// 2 = replay attack. The score is the softmax probability of class 1.
    /// (The JS logs class 0; measured on the ORL live captures, class 1 is
    /// 0.99+ and class 0 below 0.01, so class 0 is a spoof class.)
    pub fn liveness(&self, img: &RgbImage, face: &FaceBox) -> Result<f32, CaptureError> {
        let (w, h) = (face.width(), face.height());
        let cx = (face.x1 + face.x2) / 2.0;
        let cy = (face.y1 + face.y2) / 2.0;
        let rect = crop_rect(img, cx, cy, w * LIVENESS_SCALE, h * LIVENESS_SCALE);
        let n = LIVENESS_SIDE;
        let mut input = vec![0.0f32; 3 * n * n];
        let (sx, sy) = (rect.2 / n as f32, rect.3 / n as f32);
        for y in 0..n {
            for x in 0..n {
                let x0 = rect.0 + x as f32 * sx;
                let y0 = rect.1 + y as f32 * sy;
                let p = img.area(x0, y0, x0 + sx, y0 + sy, [0.0; 3]);
                for c in 0..3 {
                    input[c * n * n + y * n + x] = p[c];
                }
            }
        }
        let out = self.liveness.run(&input);
        input.zeroize();
        let out = out?;
        let logits = out.first().ok_or(CaptureError::ModelOutput {
            file: ModelKind::Liveness.file_name(),
            what: "no output",
        })?;
        if logits.len() != 3 {
            return Err(CaptureError::ModelOutput {
                file: ModelKind::Liveness.file_name(),
                what: "expected 3 class logits",
            });
        }
        Ok(softmax(logits)[LIVE_CLASS])
    }

    /// Detect, landmark, align and embed the selected face (no liveness).
    pub fn extract(&self, img: &RgbImage) -> Result<FaceCapture, CaptureError> {
        let (face, faces_found, used_whole_frame) = self.select_face(img)?;
        let embedding = self.embed_face(img, &face)?;
        Ok(FaceCapture {
            embedding,
            face,
            faces_found,
            used_whole_frame,
        })
    }

    /// Landmark, align and embed a given face box.
    pub fn embed_face(&self, img: &RgbImage, face: &FaceBox) -> Result<Embedding, CaptureError> {
        let landmarks = self.landmarks(img, face)?;
        let aligned = align(img, &landmarks.five_points())?;
        self.embed_aligned(&aligned)
    }

    /// [`FacePipeline::extract`] on an image file.
    pub fn extract_path(
        &self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<FaceCapture, CaptureError> {
        let img = RgbImage::open(path)?;
        self.extract(&img)
    }
}

/// Enrollment-site capture: face extraction gated by liveness.
#[derive(Debug, Clone)]
pub struct Capture {
    pipeline: FacePipeline,
    liveness_threshold: f32,
}

/// What [`Capture::capture`] returns.
#[derive(Debug, Clone)]
pub struct CaptureResult {
    /// The face template and box.
    pub face: FaceCapture,
    /// The liveness score, for display at the capture site only.
    pub liveness_score: f32,
}

impl Capture {
    /// Default liveness threshold (probability of a live presentation).
    pub const DEFAULT_LIVENESS_THRESHOLD: f32 = 0.5;

    /// Wrap a pipeline with a liveness threshold in [0, 1]; 0 disables the gate.
    pub fn new(pipeline: FacePipeline, liveness_threshold: f32) -> Result<Self, CaptureError> {
        if !(0.0..=1.0).contains(&liveness_threshold) {
            return Err(CaptureError::InvalidArgument(
                "liveness threshold must be in [0, 1]",
            ));
        }
        Ok(Self {
            pipeline,
            liveness_threshold,
        })
    }

    /// The wrapped pipeline.
    pub fn pipeline(&self) -> &FacePipeline {
        &self.pipeline
    }

    /// Extract a template, refusing presentations whose liveness score is
    /// below the threshold ([`CaptureError::LivenessFailed`]).
    pub fn capture(&self, img: &RgbImage) -> Result<CaptureResult, CaptureError> {
        let (face, faces_found, used_whole_frame) = self.pipeline.select_face(img)?;
        let score = self.pipeline.liveness(img, &face)?;
        if score < self.liveness_threshold {
            return Err(CaptureError::LivenessFailed {
                score,
                threshold: self.liveness_threshold,
            });
        }
        let embedding = self.pipeline.embed_face(img, &face)?;
        Ok(CaptureResult {
            face: FaceCapture {
                embedding,
                face,
                faces_found,
                used_whole_frame,
            },
            liveness_score: score,
        })
    }

    /// [`Capture::capture`] on an image file.
    pub fn capture_path(
        &self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<CaptureResult, CaptureError> {
        let img = RgbImage::open(path)?;
        self.capture(&img)
    }
}

fn validate(options: &FaceOptions) -> Result<(), CaptureError> {
    let ok = (0.0..=1.0).contains(&options.detection_threshold)
        && (0.0..=1.0).contains(&options.nms_iou)
        && options.min_face_px >= 0.0;
    if ok {
        Ok(())
    } else {
        Err(CaptureError::InvalidArgument(
            "face options out of range (thresholds in [0,1], min_face_px >= 0)",
        ))
    }
}

/// Warp `img` so that `points` land on [`ARCFACE_TEMPLATE`]: least-squares
/// similarity transform (rotation, uniform scale, translation; Umeyama
/// without reflection) and bilinear sampling, black outside the image.
pub fn align(img: &RgbImage, points: &[[f32; 2]; 5]) -> Result<RgbImage, CaptureError> {
    let (a, b, tx, ty) = similarity(points, &ARCFACE_TEMPLATE)
        .ok_or(CaptureError::InvalidArgument("degenerate landmarks"))?;
    // Forward: q = [a -b; b a] p + t. Inverse: p = [a b; -b a] (q - t) / (a^2 + b^2).
    let det = a * a + b * b;
    let n = ALIGNED_SIZE;
    let mut data = vec![0u8; n * n * 3];
    for y in 0..n {
        for x in 0..n {
            let qx = x as f32 - tx;
            let qy = y as f32 - ty;
            let px = (a * qx + b * qy) / det;
            let py = (-b * qx + a * qy) / det;
            let p = img.bilinear(px, py, [0.0; 3]);
            let i = (y * n + x) * 3;
            for c in 0..3 {
                data[i + c] = p[c].round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    RgbImage::from_raw(n as u32, n as u32, data)
}

/// Least-squares similarity `q = [a -b; b a] p + t`; `None` if degenerate.
fn similarity(src: &[[f32; 2]; 5], dst: &[[f32; 2]; 5]) -> Option<(f32, f32, f32, f32)> {
    let n = src.len() as f32;
    let mean = |pts: &[[f32; 2]; 5]| {
        let (sx, sy) = pts
            .iter()
            .fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
        (sx / n, sy / n)
    };
    let (spx, spy) = mean(src);
    let (dqx, dqy) = mean(dst);
    let (mut num_a, mut num_b, mut den) = (0.0f32, 0.0f32, 0.0f32);
    for (p, q) in src.iter().zip(dst) {
        let (px, py) = (p[0] - spx, p[1] - spy);
        let (qx, qy) = (q[0] - dqx, q[1] - dqy);
        num_a += px * qx + py * qy;
        num_b += px * qy - py * qx;
        den += px * px + py * py;
    }
    if !den.is_finite() || den <= 1e-6 {
        return None;
    }
    let a = num_a / den;
    let b = num_b / den;
    let tx = dqx - (a * spx - b * spy);
    let ty = dqy - (b * spx + a * spy);
    Some((a, b, tx, ty))
}

/// A `w` x `h` rectangle centred on (cx, cy), shifted to lie inside the image
/// where it fits (as the model's JS does), as (x, y, w, h).
fn crop_rect(img: &RgbImage, cx: f32, cy: f32, w: f32, h: f32) -> (f32, f32, f32, f32) {
    let (iw, ih) = (img.width() as f32, img.height() as f32);
    let shift = |start: f32, len: f32, limit: f32| {
        if len >= limit {
            start
        } else {
            start.clamp(0.0, limit - len)
        }
    };
    let x = shift(cx - w / 2.0, w, iw);
    let y = shift(cy - h / 2.0, h, ih);
    (x, y, w.max(1.0), h.max(1.0))
}

fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = logits.iter().map(|v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|v| v / sum).collect()
}

/// Identify the detector's two outputs by length: scores `[4420, 2]`,
/// boxes `[4420, 4]`.
fn split_detector_outputs(out: &[Vec<f32>]) -> Result<(&[f32], &[f32]), CaptureError> {
    let bad = CaptureError::ModelOutput {
        file: ModelKind::Detect.file_name(),
        what: "expected scores [4420,2] and boxes [4420,4]",
    };
    let scores = out.iter().find(|o| o.len() == DET_PRIORS * 2);
    let boxes = out.iter().find(|o| o.len() == DET_PRIORS * 4);
    match (scores, boxes) {
        (Some(s), Some(b)) => Ok((s, b)),
        _ => Err(bad),
    }
}

/// The detector's anchor boxes (centre form, normalised), in output order:
/// feature maps of strides 8, 16, 32, 64 over 320x240, row-major, with
/// min sizes {10,16,24}, {32,48}, {64,96}, {128,192,256} per cell.
pub(crate) fn priors() -> Vec<[f32; 4]> {
    const MIN_SIZES: [&[f32]; 4] = [
        &[10.0, 16.0, 24.0],
        &[32.0, 48.0],
        &[64.0, 96.0],
        &[128.0, 192.0, 256.0],
    ];
    const STEPS: [usize; 4] = [8, 16, 32, 64];
    let (w, h) = (DET_W as f32, DET_H as f32);
    let mut out = Vec::with_capacity(DET_PRIORS);
    for (k, &step) in STEPS.iter().enumerate() {
        let fw = DET_W.div_ceil(step);
        let fh = DET_H.div_ceil(step);
        for i in 0..fh {
            for j in 0..fw {
                for &m in MIN_SIZES[k] {
                    out.push([
                        (j as f32 + 0.5) * step as f32 / w,
                        (i as f32 + 0.5) * step as f32 / h,
                        m / w,
                        m / h,
                    ]);
                }
            }
        }
    }
    out
}

/// A normalised detection (corner form, fractions of the 320x240 input).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Detection {
    pub(crate) x1: f32,
    pub(crate) y1: f32,
    pub(crate) x2: f32,
    pub(crate) y2: f32,
    pub(crate) score: f32,
}

/// SSD decoding of regression offsets against the priors (variances 0.1,
/// 0.2), keeping detections with face probability >= `threshold`.
pub(crate) fn decode_detections(scores: &[f32], boxes: &[f32], threshold: f32) -> Vec<Detection> {
    BOX_DECODER.decode(scores, boxes, threshold)
}

/// How the detector's `boxes` output is encoded.
#[derive(Debug, Clone, Copy)]
enum BoxDecoder {
    /// Raw SSD offsets relative to the priors.
    #[allow(dead_code)] // kept for detectors exported without the decode head
    Offsets,
    /// Already decoded to normalised corners inside the graph.
    Corners,
}

/// `fr_detect.onnx` ends with the decode head (its `boxes` are corners in
/// [0, 1]): measured, see the crate tests. The JavaScript also uses the
/// `boxes` output directly.
const BOX_DECODER: BoxDecoder = BoxDecoder::Corners;

impl BoxDecoder {
    fn decode(self, scores: &[f32], boxes: &[f32], threshold: f32) -> Vec<Detection> {
        let priors = match self {
            Self::Offsets => priors(),
            Self::Corners => Vec::new(),
        };
        scores
            .chunks_exact(2)
            .zip(boxes.chunks_exact(4))
            .enumerate()
            .filter(|(_, (s, _))| s[1] >= threshold)
            .filter_map(|(i, (s, b))| {
                let (x1, y1, x2, y2) = match self {
                    Self::Corners => (b[0], b[1], b[2], b[3]),
                    Self::Offsets => {
                        let p = priors.get(i)?;
                        let cx = p[0] + b[0] * 0.1 * p[2];
                        let cy = p[1] + b[1] * 0.1 * p[3];
                        let w = p[2] * (b[2] * 0.2).exp();
                        let h = p[3] * (b[3] * 0.2).exp();
                        (cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0)
                    }
                };
                Some(Detection {
                    x1,
                    y1,
                    x2,
                    y2,
                    score: s[1],
                })
            })
            .collect()
    }
}

/// Greedy IoU non-maximum suppression, highest score first.
pub(crate) fn nms(mut dets: Vec<Detection>, iou: f32) -> Vec<Detection> {
    dets.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut keep: Vec<Detection> = Vec::new();
    for d in dets {
        let fb = |d: &Detection| FaceBox {
            x1: d.x1,
            y1: d.y1,
            x2: d.x2,
            y2: d.y2,
            score: d.score,
        };
        if keep.iter().all(|k| fb(k).iou(&fb(&d)) <= iou) {
            keep.push(d);
        }
    }
    keep
}

#[cfg(test)]
mod tests;
