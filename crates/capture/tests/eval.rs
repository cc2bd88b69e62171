//! End-to-end evaluation on small subsets of the real datasets (the full runs
//! are done by `sanctuary eval`, see docs/ACCURACY.md).

mod common;

use sanctuary_capture::eval::{EvalOptions, Modality, ScoreKind, Template, evaluate};

#[test]
fn orl_subset_report_is_consistent() {
    let Some(orl) = common::data_dir("faces/orl") else {
        return;
    };
    let plots = common::temp_dir("orl-plots");
    let opts = EvalOptions {
        max_identities: Some(6),
        max_per_identity: Some(3),
        plot_dir: Some(plots.clone()),
        ..EvalOptions::default()
    };
    let ev = evaluate(&orl, &opts).expect("evaluates");
    let r = &ev.report;
    assert_eq!(r.modality, Modality::Face);
    assert_eq!(r.score_kind, ScoreKind::Similarity);
    assert_eq!((r.images, r.identities), (18, 6));
    assert_eq!(r.genuine_pairs, 6 * 3);
    assert_eq!(r.impostor_pairs, 18 * 17 / 2 - 18);
    assert_eq!(ev.pairs.len(), r.genuine_pairs + r.impostor_pairs);
    assert!(r.genuine_mean > r.impostor_mean);
    assert!((0.0..=0.5).contains(&r.eer));
    assert!(!r.fmr_1e_3_resolvable, "only 135 impostor pairs");
    assert!(matches!(ev.samples[0].template, Template::Face(_)));
    let decisions = ev.decisions();
    assert_eq!(decisions.len(), ev.pairs.len());
    // At the FMR=1e-3 threshold no impostor pair of 135 may match.
    assert!(
        ev.pairs
            .iter()
            .zip(&decisions)
            .all(|(p, &d)| p.genuine || !d)
    );
    for plot in [&r.det_plot, &r.histogram_plot] {
        let body = std::fs::read_to_string(plot.as_ref().expect("plot written")).expect("read");
        assert!(body.starts_with("<svg"));
    }
    let json = serde_json::to_value(r).expect("json");
    assert!(json.get("fnmr_at_fmr_1e-3").is_some());
    std::fs::remove_dir_all(&plots).ok();
}

#[test]
fn iitd_subset_separates_eyes() {
    let Some(dir) = common::data_dir("iris/iitd_normalized") else {
        return;
    };
    let opts = EvalOptions {
        max_identities: Some(10),
        ..EvalOptions::default()
    };
    let ev = evaluate(&dir, &opts).expect("evaluates");
    let r = &ev.report;
    eprintln!("{}", serde_json::to_string_pretty(r).expect("json"));
    assert_eq!(r.modality, Modality::Iris);
    assert_eq!(r.score_kind, ScoreKind::Distance);
    assert_eq!((r.images, r.identities), (50, 10));
    assert_eq!(r.genuine_pairs, 10 * 10);
    assert!(r.genuine_mean + 0.05 < r.impostor_mean);
    assert!(r.eer < 0.2, "eer {}", r.eer);
}
