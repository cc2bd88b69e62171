use super::*;

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "sanctuary-capture-{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn pgm(path: &Path, w: usize, h: usize) {
    let mut bytes = format!("P5\n{w} {h}\n255\n").into_bytes();
    bytes.extend((0..w * h).map(|i| (i % 251) as u8));
    std::fs::write(path, bytes).expect("write pgm");
}

#[test]
fn scans_flat_layout_with_natural_order() {
    let d = temp_dir("flat");
    for name in [
        "s2_10.pgm",
        "s2_9.pgm",
        "s10_1.pgm",
        "s1_1.pgm",
        "notes.txt",
    ] {
        pgm(&d.join(name), 8, 8);
    }
    let ds = Dataset::scan(&d).expect("scan");
    let names: Vec<String> = ds
        .samples()
        .iter()
        .map(|(p, _)| {
            p.file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    assert_eq!(names, ["s1_1.pgm", "s2_9.pgm", "s2_10.pgm", "s10_1.pgm"]);
    assert_eq!(ds.identities(), 3);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn scans_folder_per_identity_layout() {
    let d = temp_dir("dirs");
    for (id, k) in [("s1", 1), ("s1", 2), ("s2", 1)] {
        std::fs::create_dir_all(d.join(id)).expect("mkdir");
        pgm(&d.join(id).join(format!("{k}.pgm")), 8, 8);
    }
    let ds = Dataset::scan(&d).expect("scan");
    let ids: Vec<&str> = ds.samples().iter().map(|(_, i)| i.as_str()).collect();
    assert_eq!(ids, ["s1", "s1", "s2"]);
    let sub = ds.subset(Some(1), Some(1));
    assert_eq!(sub.samples().len(), 1);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn empty_folder_is_an_error() {
    let d = temp_dir("empty");
    assert!(matches!(
        Dataset::scan(&d),
        Err(CaptureError::Dataset { .. })
    ));
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn iris_modality_is_detected_from_strip_shape() {
    let d = temp_dir("iris");
    pgm(&d.join("001_1.pgm"), 432, 48);
    let ds = Dataset::scan(&d).expect("scan");
    assert_eq!(Modality::detect(&ds).expect("detect"), Modality::Iris);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn decisions_follow_score_orientation() {
    let pairs = [
        ScoredPair {
            a: 0,
            b: 1,
            genuine: true,
            score: 0.3,
        },
        ScoredPair {
            a: 0,
            b: 2,
            genuine: false,
            score: 0.5,
        },
    ];
    assert_eq!(
        plaintext_decisions(&pairs, 0.4, ScoreKind::Distance),
        [true, false]
    );
    assert_eq!(
        plaintext_decisions(&pairs, 0.4, ScoreKind::Similarity),
        [false, true]
    );
}

#[test]
fn report_serialises_with_dashed_field_names() {
    let r = EvalReport {
        dataset: PathBuf::from("x"),
        modality: Modality::Face,
        score_kind: ScoreKind::Similarity,
        images: 1,
        failed_images: 0,
        whole_frame_fallbacks: 0,
        identities: 1,
        genuine_pairs: 0,
        impostor_pairs: 0,
        eer: 0.0,
        eer_threshold: 0.0,
        fnmr_at_fmr_1e_3: 0.5,
        fnmr_at_fmr_1e_2: 0.25,
        threshold_at_fmr_1e_2: 0.0,
        threshold: 0.0,
        threshold_rule: String::new(),
        fmr_at_threshold: 0.0,
        fmr_1e_3_resolvable: true,
        genuine_mean: 0.0,
        impostor_mean: 0.0,
        ms_per_image: 0.0,
        det_plot: None,
        histogram_plot: None,
    };
    let json = serde_json::to_value(&r).expect("serialise");
    assert_eq!(json["fnmr_at_fmr_1e-3"], 0.5);
    assert_eq!(json["fnmr_at_fmr_1e-2"], 0.25);
    let back: EvalReport = serde_json::from_value(json).expect("deserialise");
    assert_eq!(back, r);
}

#[test]
fn plots_are_svg() {
    let det = plot::det_svg(
        "t",
        &[(1.0, 0.0), (0.01, 0.1), (0.0, 1.0)],
        &[(0.01, 0.1, "x")],
    );
    assert!(det.starts_with("<svg") && det.trim_end().ends_with("</svg>"));
    assert!(det.contains("polyline"));
    let h = plot::histogram_svg("t", "s", &[0.9, 0.8], &[0.1, 0.2], 0.5);
    assert!(h.contains("<rect") && h.trim_end().ends_with("</svg>"));
}
