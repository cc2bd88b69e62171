use proptest::prelude::*;

use super::*;

fn deal_reconstruct<R: Ring>(secret: Vec<R>) {
    let mut rng = rand::rng();
    let shares = deal(&secret, &mut rng);
    assert_eq!(reconstruct(&shares).expect("consistent"), secret);
    let bshares = deal_bool(&secret, &mut rng);
    assert_eq!(reconstruct_bool(&bshares).expect("consistent"), secret);
}

proptest! {
    #[test]
    fn deal_then_reconstruct_u16(secret in proptest::collection::vec(any::<u16>(), 0..64)) {
        deal_reconstruct(secret);
    }

    #[test]
    fn deal_then_reconstruct_u32(secret in proptest::collection::vec(any::<u32>(), 0..64)) {
        deal_reconstruct(secret);
    }

    #[test]
    fn any_corrupted_copy_is_detected(
        secret in proptest::collection::vec(any::<u32>(), 1..32),
        victim in 0usize..3,
        corrupt_next in any::<bool>(),
        pos in any::<prop::sample::Index>(),
        delta in 1u32..,
    ) {
        let mut shares = deal(&secret, &mut rand::rng());
        let idx = pos.index(secret.len());
        let (own, next) = shares[victim].parts_mut();
        let target = if corrupt_next { next } else { own };
        target[idx] = target[idx].wrapping_add(delta);
        let err = reconstruct(&shares).expect_err("tampering must be detected");
        let ShareError::Inconsistent { index, .. } = err else {
            panic!("unexpected error {err:?}");
        };
        prop_assert_eq!(index, idx);
    }
}

#[test]
fn tamper_error_names_both_holders() {
    let mut shares = deal::<u16>(&[1, 2, 3], &mut rand::rng());
    shares[1].parts_mut().0[2] ^= 1; // P1 alters its own component x1
    assert_eq!(
        reconstruct(&shares),
        Err(ShareError::Inconsistent {
            component: PartyId::P1,
            index: 2,
            holder: PartyId::P1,
            copy_holder: PartyId::P0,
        })
    );
}

#[test]
fn shares_in_wrong_order_are_rejected() {
    let [a, b, c] = deal::<u32>(&[5], &mut rand::rng());
    assert!(matches!(
        reconstruct(&[b, a, c]),
        Err(ShareError::WrongParty { .. })
    ));
}

#[test]
fn debug_output_redacts_values() {
    let [a, _, _] = deal::<u32>(&[0x1234_5678], &mut rand::rng());
    let shown = format!("{a:?}");
    assert!(shown.contains("<redacted>"));
    assert!(!shown.contains(&a.own()[0].to_string()));
}

/// A single party's share of a fixed secret is uniform: a chi-square test on
/// the low byte of its two components over many dealings.
#[test]
fn one_partys_view_is_uniform() {
    let mut rng = rand::rng();
    let secret = [0u32; 64]; // the most structured secret there is
    let mut counts = [0u64; 256];
    let runs = 400;
    for _ in 0..runs {
        let shares = deal(&secret, &mut rng);
        for v in shares[1].own().iter().chain(shares[1].next()) {
            counts[(v & 0xff) as usize] += 1;
        }
    }
    let total: u64 = counts.iter().sum();
    let expected = total as f64 / 256.0;
    let chi2: f64 = counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    // 255 degrees of freedom: p = 1e-6 critical value is about 375.
    assert!(
        chi2 < 375.0,
        "chi-square {chi2} says the share is not uniform"
    );
}
