//! Face pipeline tests on real ORL images (skipped where ../shared/data is absent).

mod common;

use sanctuary_capture::{CaptureError, FaceOptions, FacePipeline, ModelsDir, RgbImage};

/// Reference embedding of ORL `s1_1.pgm` (default options + assume_cropped),
/// stored as JSON f32 values; regenerate only when the pipeline changes on purpose.
const REFERENCE: &str = include_str!("data/orl_s1_1_embedding.json");

fn cropped_pipeline() -> FacePipeline {
    let mut p = common::pipeline().clone();
    p.set_options(FaceOptions {
        assume_cropped: true,
        ..FaceOptions::default()
    })
    .expect("valid options");
    p
}

#[test]
fn embedding_of_known_image_is_stable() {
    let Some(orl) = common::data_dir("faces/orl") else {
        return;
    };
    let capture = cropped_pipeline()
        .extract_path(orl.join("s1_1.pgm"))
        .expect("extracts");
    let got = capture.embedding.values();
    if std::env::var_os("SANCTUARY_WRITE_REFERENCE").is_some() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/orl_s1_1_embedding.json");
        std::fs::write(&path, serde_json::to_string(got).expect("json")).expect("write");
        return;
    }
    let reference: Vec<f32> = serde_json::from_str(REFERENCE).expect("reference parses");
    assert_eq!(reference.len(), 512);
    let norm: f32 = got.iter().map(|v| v * v).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
    let cos: f32 = got.iter().zip(&reference).map(|(a, b)| a * b).sum();
    assert!(cos >= 0.999, "cosine to stored reference {cos}");
}

#[test]
fn same_person_scores_above_different_people() {
    let Some(orl) = common::data_dir("faces/orl") else {
        return;
    };
    let p = cropped_pipeline();
    let people = ["s1", "s2", "s3", "s4"];
    let mut emb = Vec::new();
    for (i, s) in people.iter().enumerate() {
        for k in 1..=3 {
            let c = p
                .extract_path(orl.join(format!("{s}_{k}.pgm")))
                .expect("extracts");
            emb.push((i, c.embedding));
        }
    }
    let (mut gen_sum, mut gen_n, mut imp_sum, mut imp_n) = (0.0f32, 0, 0.0f32, 0);
    for a in 0..emb.len() {
        for b in a + 1..emb.len() {
            let s = emb[a].1.cosine(&emb[b].1);
            if emb[a].0 == emb[b].0 {
                gen_sum += s;
                gen_n += 1;
            } else {
                imp_sum += s;
                imp_n += 1;
            }
        }
    }
    let (g, i) = (gen_sum / gen_n as f32, imp_sum / imp_n as f32);
    eprintln!("mean genuine {g:.3}, mean impostor {i:.3}");
    assert!(g > i + 0.2, "genuine {g} vs impostor {i}");
}

#[test]
fn orl_image_is_detected_or_reported_as_whole_frame() {
    let Some(orl) = common::data_dir("faces/orl") else {
        return;
    };
    let img = RgbImage::open(orl.join("s1_1.pgm")).expect("decodes");
    let strict = common::pipeline();
    match strict.extract(&img) {
        Ok(c) => assert!(!c.used_whole_frame && c.faces_found >= 1),
        Err(CaptureError::NoFace) => {
            let c = cropped_pipeline().extract(&img).expect("fallback");
            assert!(c.used_whole_frame);
        }
        Err(e) => panic!("unexpected error {e}"),
    }
}

#[test]
fn two_faces_need_an_index() {
    let Some(orl) = common::data_dir("faces/orl") else {
        return;
    };
    // Two ORL faces side by side on a mid-grey canvas.
    let a = RgbImage::open(orl.join("s1_1.pgm")).expect("decodes");
    let b = RgbImage::open(orl.join("s2_1.pgm")).expect("decodes");
    let (w, h) = (400usize, 240usize);
    let mut data = vec![127u8; w * h * 3];
    for (img, ox, oy) in [(&a, 40usize, 60usize), (&b, 260, 60)] {
        let iw = img.width() as usize;
        for y in 0..img.height() as usize {
            let src = &img.as_raw()[y * iw * 3..(y + 1) * iw * 3];
            let dst = ((oy + y) * w + ox) * 3;
            data[dst..dst + iw * 3].copy_from_slice(src);
        }
    }
    let canvas = RgbImage::from_raw(w as u32, h as u32, data).expect("canvas");
    let p = common::pipeline();
    let faces = p.detect(&canvas).expect("detects");
    eprintln!("faces on two-face canvas: {faces:?}");
    assert_eq!(faces.len(), 2, "expected both faces");
    assert!(matches!(
        p.extract(&canvas),
        Err(CaptureError::TooManyFaces { count: 2 })
    ));
    let mut pick = p.clone();
    pick.set_options(FaceOptions {
        face_index: Some(1),
        ..FaceOptions::default()
    })
    .expect("valid options");
    pick.extract(&canvas).expect("index 1 extracts");
    pick.set_options(FaceOptions {
        face_index: Some(2),
        ..FaceOptions::default()
    })
    .expect("valid options");
    assert!(matches!(
        pick.extract(&canvas),
        Err(CaptureError::FaceIndexOutOfRange { index: 2, count: 2 })
    ));
}

#[test]
fn liveness_threshold_gates_capture() {
    let Some(orl) = common::data_dir("faces/orl") else {
        return;
    };
    let img = RgbImage::open(orl.join("s1_1.pgm")).expect("decodes");
    let p = cropped_pipeline();
    let (face, _, _) = p.select_face(&img).expect("face");
    let score = p.liveness(&img, &face).expect("liveness runs");
    eprintln!("liveness score of ORL s1_1: {score}");
    assert!((0.0..=1.0).contains(&score));
    let above = (score + 1e-3).min(1.0);
    if above > score {
        let strict = sanctuary_capture::Capture::new(p.clone(), above).expect("threshold");
        assert!(matches!(
            strict.capture(&img),
            Err(CaptureError::LivenessFailed { .. })
        ));
    }
    let lenient = sanctuary_capture::Capture::new(p, (score - 1e-3).max(0.0)).expect("threshold");
    let r = lenient.capture(&img).expect("passes");
    assert_eq!(r.liveness_score, score);
}

#[test]
fn models_dir_override_is_used() {
    let d = common::temp_dir("nomodels");
    match FacePipeline::load(&ModelsDir::new(&d), FaceOptions::default()) {
        Err(CaptureError::ModelMissing { path, .. }) => {
            assert!(path.ends_with("fr_detect.onnx"), "{}", path.display());
        }
        other => panic!("expected ModelMissing, got {other:?}"),
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn tampered_model_is_refused() {
    let d = common::temp_dir("tampered");
    let src = ModelsDir::default_location();
    let mut bytes = std::fs::read(src.model_path(sanctuary_capture::ModelKind::Detect))
        .expect("vendored model");
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(d.join("fr_detect.onnx"), bytes).expect("write");
    match FacePipeline::load(&ModelsDir::new(&d), FaceOptions::default()) {
        Err(CaptureError::ModelChecksum { path, expected, .. }) => {
            assert!(path.ends_with("fr_detect.onnx"));
            assert_eq!(expected, sanctuary_capture::ModelKind::Detect.sha256());
        }
        other => panic!("expected ModelChecksum, got {other:?}"),
    }
    std::fs::remove_dir_all(&d).ok();
}
