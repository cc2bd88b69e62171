//! Iris encoder on real IITD strips (skipped where ../shared/data is absent).
//! The strips are read in place and never copied into the repository.

mod common;

use sanctuary_capture::iris::{DEFAULT_MAX_SHIFT, hamming_distance};
use sanctuary_capture::{IrisEncoder, IrisOptions};

#[test]
fn same_eye_is_closer_than_different_eyes() {
    let Some(dir) = common::data_dir("iris/iitd_normalized") else {
        return;
    };
    let enc = IrisEncoder::new(IrisOptions::default()).expect("options");
    let eyes = ["001", "002", "003", "004", "005"];
    let mut codes = Vec::new();
    for (i, e) in eyes.iter().enumerate() {
        for k in 1..=3 {
            let code = enc
                .encode_path(dir.join(format!("{e}_{k}.bmp")))
                .expect("encodes");
            assert!(code.usable_fraction() > 0.3, "{}", code.usable_fraction());
            codes.push((i, code));
        }
    }
    let (mut g, mut gn, mut m, mut mn) = (0.0, 0, 0.0, 0);
    for a in 0..codes.len() {
        for b in a + 1..codes.len() {
            let hd = hamming_distance(&codes[a].1, &codes[b].1, DEFAULT_MAX_SHIFT);
            if codes[a].0 == codes[b].0 {
                g += hd;
                gn += 1;
            } else {
                m += hd;
                mn += 1;
            }
        }
    }
    let (g, m) = (g / f64::from(gn), m / f64::from(mn));
    eprintln!("mean genuine HD {g:.3}, mean impostor HD {m:.3}");
    assert!(g + 0.05 < m, "genuine {g} vs impostor {m}");
}
