use super::*;

fn orl(name: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/faces/orl")
        .join(name);
    p.exists().then_some(p)
}

#[test]
fn priors_match_detector_output_count() {
    let p = priors();
    assert_eq!(p.len(), DET_PRIORS);
    // First prior: stride 8 cell (0,0), min size 10.
    assert!((p[0][0] - 4.0 / 320.0).abs() < 1e-6);
    assert!((p[0][2] - 10.0 / 320.0).abs() < 1e-6);
}

#[test]
fn offsets_decode_zero_regression_to_prior() {
    let scores = [0.1, 0.9];
    let boxes = [0.0; 4];
    let d = BoxDecoder::Offsets.decode(&scores, &boxes, 0.5);
    assert_eq!(d.len(), 1);
    let p = priors()[0];
    assert!((d[0].x1 - (p[0] - p[2] / 2.0)).abs() < 1e-6);
    assert!((d[0].y2 - (p[1] + p[3] / 2.0)).abs() < 1e-6);
}

#[test]
fn nms_merges_overlaps_and_keeps_separate_boxes() {
    let d = |x: f32, s: f32| Detection {
        x1: x,
        y1: 0.0,
        x2: x + 0.2,
        y2: 0.2,
        score: s,
    };
    let kept = nms(vec![d(0.0, 0.8), d(0.01, 0.9), d(0.5, 0.7)], 0.4);
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[0].score, 0.9);
    assert_eq!(kept[1].score, 0.7);
}

#[test]
fn similarity_recovers_a_known_transform() {
    // q = 2 * R(30deg) p + (5, -3)
    let (a, b) = (
        2.0 * 30f32.to_radians().cos(),
        2.0 * 30f32.to_radians().sin(),
    );
    let src = [[1.0, 2.0], [4.0, 1.0], [3.0, 5.0], [0.0, 0.0], [6.0, 3.0]];
    let dst = src.map(|p| [a * p[0] - b * p[1] + 5.0, b * p[0] + a * p[1] - 3.0]);
    let (ea, eb, tx, ty) = similarity(&src, &dst).expect("non-degenerate");
    assert!((ea - a).abs() < 1e-4 && (eb - b).abs() < 1e-4);
    assert!((tx - 5.0).abs() < 1e-3 && (ty + 3.0).abs() < 1e-3);
    assert!(similarity(&[[1.0, 1.0]; 5], &dst).is_none());
}

fn cropped_pipeline() -> FacePipeline {
    FacePipeline::load(
        &ModelsDir::default_location(),
        FaceOptions {
            assume_cropped: true,
            ..FaceOptions::default()
        },
    )
    .expect("models load")
}

#[test]
fn detector_boxes_are_decoded_corners() {
    let Some(path) = orl("s1_1.pgm") else {
        eprintln!("skipping: ../shared/data/faces/orl is absent");
        return;
    };
    let pipeline = cropped_pipeline();
    let img = RgbImage::open(path).expect("decode");
    let faces = pipeline.detect(&img).expect("detect");
    // With `BoxDecoder::Corners` the ORL face (which fills the 92x112 frame)
    // comes out as one box covering most of it; offsets decoding would not.
    assert_eq!(faces.len(), 1, "{faces:?}");
    let f = faces[0];
    assert!(f.width() > 50.0 && f.height() > 70.0, "{f:?}");
    assert!(f.score > 0.9);
}

#[test]
fn orl_live_captures_score_as_live() {
    if orl("s1_1.pgm").is_none() {
        eprintln!("skipping: ../shared/data/faces/orl is absent");
        return;
    }
    let pipeline = cropped_pipeline();
    for name in ["s1_1.pgm", "s2_3.pgm", "s7_5.pgm", "s20_2.pgm", "s33_9.pgm"] {
        let img = RgbImage::open(orl(name).expect("exists")).expect("decode");
        let (face, _, _) = pipeline.select_face(&img).expect("face");
        let score = pipeline.liveness(&img, &face).expect("liveness");
        assert!(score > 0.9, "{name}: {score}");
    }
}
