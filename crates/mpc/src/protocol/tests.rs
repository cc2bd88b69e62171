use proptest::prelude::*;
use sanctuary_share::{Ring, ShareVec, deal, deal_bool, reconstruct_bool};

use super::*;
use crate::bits::{pack, unpack};
use crate::testutil::run3;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn msb_case<R: Ring>(values: Vec<R>) {
    let shares = deal(&values, &mut rand::rng());
    let out = rt().block_on(run3(|mut sess| {
        let mine = shares[sess.party().index()].clone();
        async move {
            let bits = msb_bits(&mut sess, &mine).await.expect("msb");
            open_bits(&mut sess, &bits).await.expect("open")
        }
    }));
    let expect: Vec<bool> = values.iter().map(|v| v.msb()).collect();
    for o in out {
        assert_eq!(o, expect);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn msb_matches_plaintext_u32(values in proptest::collection::vec(any::<u32>(), 1..80)) {
        msb_case(values);
    }

    #[test]
    fn msb_matches_plaintext_u16(values in proptest::collection::vec(any::<u16>(), 1..80)) {
        msb_case(values);
    }

    #[test]
    fn or_groups_match_plaintext(bits in proptest::collection::vec(any::<bool>(), 1..200), group_pick in 0usize..6) {
        // Pick a group size that divides the length.
        let n = bits.len();
        let divisors: Vec<usize> = (1..=n).filter(|d| n % d == 0).collect();
        let group = divisors[group_pick % divisors.len()];
        let words = pack(bits.iter().copied());
        let shares = deal_bool(&words, &mut rand::rng());
        let out = rt().block_on(run3(|mut sess| {
            let mine = BitShares::from_words(shares[sess.party().index()].clone(), n).expect("words");
            async move {
                let r = or_reduce_groups(&mut sess, &mine, group).await.expect("or");
                open_bits(&mut sess, &r).await.expect("open")
            }
        }));
        let expect: Vec<bool> = bits.chunks(group).map(|c| c.iter().any(|&b| b)).collect();
        for o in out {
            prop_assert_eq!(&o, &expect);
        }
    }
}

#[test]
fn msb_edge_values() {
    msb_case::<u32>(vec![
        0,
        1,
        u32::MAX,
        1 << 31,
        (1 << 31) - 1,
        0x8000_0001,
        12345,
    ]);
    msb_case::<u16>(vec![0, 1, u16::MAX, 1 << 15, (1 << 15) - 1]);
    msb_case::<u64>(vec![0, u64::MAX, 1 << 63, (1 << 63) - 1]);
}

#[test]
fn and_and_not_match_truth_tables() {
    let a: Vec<bool> = (0..130).map(|i| i % 2 == 0).collect();
    let b: Vec<bool> = (0..130).map(|i| i % 3 == 0).collect();
    let sa = deal_bool(&pack(a.iter().copied()), &mut rand::rng());
    let sb = deal_bool(&pack(b.iter().copied()), &mut rand::rng());
    let out = rt().block_on(run3(|mut sess| {
        let i = sess.party().index();
        let x = BitShares::from_words(sa[i].clone(), 130).expect("words");
        let y = BitShares::from_words(sb[i].clone(), 130).expect("words");
        async move {
            let and = and_bits(&mut sess, &x, &y).await.expect("and");
            let nand = not_bits(&and).expect("not");
            (
                open_bits(&mut sess, &and).await.expect("open"),
                open_bits(&mut sess, &nand).await.expect("open"),
            )
        }
    }));
    for (and, nand) in out {
        for i in 0..130 {
            assert_eq!(and[i], a[i] && b[i]);
            assert_eq!(nand[i], !(a[i] && b[i]));
        }
    }
}

#[test]
fn a_party_lying_at_opening_is_detected() {
    let bits: Vec<bool> = (0..10).map(|i| i % 4 == 0).collect();
    let shares = deal_bool(&pack(bits.iter().copied()), &mut rand::rng());
    let out = rt().block_on(run3(|mut sess| {
        let party = sess.party();
        let mut mine = shares[party.index()].clone();
        if party == PartyId::P1 {
            mine.parts_mut().0[0] ^= 1; // the rogue flips its own component
        }
        async move {
            let b = BitShares::from_words(mine, 10).expect("words");
            open_bits(&mut sess, &b).await
        }
    }));
    // P2 receives component x1 from P1 (altered) and from P0 (honest copy).
    assert!(
        matches!(out[2], Err(MpcError::Inconsistent { .. })),
        "{:?}",
        out[2]
    );
}

#[test]
fn not_keeps_padding_bits_zero() {
    let shares = deal_bool(&pack((0..70).map(|i| i < 3)), &mut rand::rng());
    let flipped: Vec<ShareVec<u64>> = shares
        .iter()
        .map(|s| {
            not_bits(&BitShares::from_words(s.clone(), 70).expect("words"))
                .expect("not")
                .words
        })
        .collect();
    let arr: [ShareVec<u64>; 3] = flipped.try_into().expect("three");
    let words = reconstruct_bool(&arr).expect("consistent");
    assert_eq!(words[1] >> 6, 0, "bits past the length stay zero");
    assert_eq!(
        unpack(&words, 70),
        (0..70).map(|i| i >= 3).collect::<Vec<_>>()
    );
}

#[test]
fn session_setup_exchanges_keys_that_cancel() {
    use crate::{LocalTransport, Session};
    let [t0, t1, t2] = LocalTransport::mesh();
    let out = rt().block_on(async {
        let (a, b, c) = tokio::join!(Session::setup(t0), Session::setup(t1), Session::setup(t2));
        let mut s = [a.expect("setup"), b.expect("setup"), c.expect("setup")];
        s.iter_mut()
            .map(|x| x.rng().zero_share::<u32>(8))
            .collect::<Vec<_>>()
    });
    for ((a, b), c) in out[0].iter().zip(&out[1]).zip(&out[2]) {
        assert_eq!(a.add(*b).add(*c), 0);
    }
    assert_ne!(out[0], vec![0; 8]);
}
