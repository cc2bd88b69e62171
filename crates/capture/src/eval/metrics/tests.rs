use super::*;

const GEN: [f64; 4] = [0.9, 0.8, 0.7, 0.4];
const IMP: [f64; 4] = [0.1, 0.2, 0.3, 0.6];

#[test]
fn eer_of_overlapping_sets() {
    let (e, t) = eer(&GEN, &IMP, ScoreKind::Similarity).expect("non-empty");
    assert!((e - 0.25).abs() < 1e-12, "eer {e}");
    // At t = 0.6: impostor 0.6 accepted (1/4), genuine 0.4 rejected (1/4).
    assert!((t - 0.6).abs() < 1e-12, "threshold {t}");
}

#[test]
fn eer_of_separable_sets_is_zero() {
    let (e, _) = eer(&[0.9, 0.8], &[0.1, 0.2, 0.3], ScoreKind::Similarity).expect("non-empty");
    assert_eq!(e, 0.0);
}

#[test]
fn distance_orientation_mirrors_similarity() {
    let g: Vec<f64> = GEN.iter().map(|s| 1.0 - s).collect();
    let i: Vec<f64> = IMP.iter().map(|s| 1.0 - s).collect();
    let (e, t) = eer(&g, &i, ScoreKind::Distance).expect("non-empty");
    assert!((e - 0.25).abs() < 1e-12);
    assert!((t - 0.4).abs() < 1e-12, "threshold {t}");
    assert!(decide(0.39, t, ScoreKind::Distance));
    assert!(!decide(0.41, t, ScoreKind::Distance));
}

#[test]
fn fnmr_at_fmr_known_answer() {
    // 1000 impostors 0.000..0.999 and ten genuine scores.
    let imp: Vec<f64> = (0..1000).map(|i| f64::from(i) / 1000.0).collect();
    let genuine = [
        0.9995, 0.9993, 0.9991, 0.9985, 0.9983, 0.9975, 0.995, 0.992, 0.985, 0.5,
    ];
    // FMR 1e-3 allows exactly one impostor (0.999): threshold just above 0.998.
    let op = at_fmr(&genuine, &imp, 1e-3, ScoreKind::Similarity).expect("valid");
    assert!(op.resolvable);
    assert!(
        op.threshold > 0.998 && op.threshold < 0.9985,
        "{}",
        op.threshold
    );
    assert!((op.fmr - 0.001).abs() < 1e-12);
    // Five genuine scores (0.9975 and below) fall below.
    assert!((op.fnmr - 0.5).abs() < 1e-12, "fnmr {}", op.fnmr);
    // FMR 1e-2 allows ten (0.990..0.999): threshold just above 0.989.
    let op = at_fmr(&genuine, &imp, 1e-2, ScoreKind::Similarity).expect("valid");
    assert!((op.fmr - 0.01).abs() < 1e-12);
    // 0.985 and 0.5 fall below.
    assert!((op.fnmr - 0.2).abs() < 1e-12, "fnmr {}", op.fnmr);
}

#[test]
fn fmr_target_never_exceeded_with_ties() {
    let imp = [0.5; 10];
    let genuine = [0.5, 0.9];
    let op = at_fmr(&genuine, &imp, 0.15, ScoreKind::Similarity).expect("valid");
    // Accepting any 0.5 would accept all ten impostors (FMR 1.0).
    assert_eq!(op.fmr, 0.0);
    assert!((op.fnmr - 0.5).abs() < 1e-12);
}

#[test]
fn unresolvable_target_is_flagged() {
    let op = at_fmr(&[0.9], &[0.1, 0.2], 1e-3, ScoreKind::Similarity).expect("valid");
    assert!(!op.resolvable);
    assert_eq!(op.fmr, 0.0);
}

#[test]
fn empty_sets_give_none() {
    assert!(eer(&[], &IMP, ScoreKind::Similarity).is_none());
    assert!(at_fmr(&GEN, &[], 1e-3, ScoreKind::Similarity).is_none());
}

#[test]
fn det_points_are_monotone() {
    let pts = det_points(&GEN, &IMP, ScoreKind::Similarity);
    assert!(pts.windows(2).all(|w| w[0].0 >= w[1].0 && w[0].1 <= w[1].1));
}
