use proptest::prelude::*;
use sanctuary_share::{Ring, ShareVec, deal, deal_bool, reconstruct_bool};

use super::*;
use crate::bits::{pack, unpack};
use crate::testutil::{Tamper, chi_square_bytes, chi_square_two_samples, run3, run3_byzantine};
use crate::{Security, Session, SessionStats};
use sanctuary_share::PartyId;

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

/// The decision pipeline of a 1:N query: `score >= 0` per value (sign bit
/// clear), OR-ed in groups of `group`, opened to the parties.
async fn decide<T: Transport>(
    sess: &mut Session<T>,
    scores: &ShareVec<u32>,
    group: usize,
) -> Result<Vec<bool>, MpcError> {
    let matched = not_bits(&msb_bits(sess, scores).await?)?;
    let any = or_reduce_groups(sess, &matched, group).await?;
    open_bits(sess, &any).await
}

fn plaintext_decisions(values: &[u32], group: usize) -> Vec<bool> {
    values
        .chunks(group)
        .map(|c| c.iter().any(|v| !v.msb()))
        .collect()
}

/// Runs [`decide`] with `cheat` (a tampered message) and `fault` (a
/// consistent deviation: party, reshare index, xor mask) and returns each
/// party's outcome and the number of messages and rounds each party used.
fn byzantine_run(
    security: Security,
    values: &[u32],
    group: usize,
    cheat: Option<(PartyId, usize, Tamper)>,
    fault: Option<(PartyId, u64, u64)>,
) -> [(Result<Vec<bool>, MpcError>, SessionStats); 3] {
    let shares = deal(values, &mut rand::rng());
    rt().block_on(run3_byzantine(security, cheat, |mut sess| {
        let mine = shares[sess.party().index()].clone();
        if let Some((p, at, mask)) = fault
            && p == sess.party()
        {
            sess.fault = Some((at, mask));
        }
        async move {
            let out = decide(&mut sess, &mine, group).await;
            (out, sess.stats())
        }
    }))
}

fn scores(n: usize, seed: u64) -> Vec<u32> {
    // Around zero, so that both decisions occur and small errors matter.
    (0..n as u64)
        .map(|i| {
            let x = (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ seed) % 64;
            (x as i64 - 40) as u32
        })
        .collect()
}

#[test]
fn malicious_sessions_decide_like_plaintext() {
    for (n, group) in [(1, 1), (24, 8), (40, 40), (65, 13)] {
        let values = scores(n, n as u64);
        let out = byzantine_run(Security::Malicious, &values, group, None, None);
        for (o, _) in out {
            assert_eq!(o.expect("honest run"), plaintext_decisions(&values, group));
        }
    }
}

/// The index of P1's last AND reshare (the final OR layer): the opening
/// is the last round.
fn last_and_reshare(values: &[u32], group: usize) -> u64 {
    let [_, (_, stats), _] = byzantine_run(Security::SemiHonest, values, group, None, None);
    stats.rounds - 2
}

#[test]
fn semi_honest_sessions_release_a_flipped_decision() {
    // The attack malicious security exists for: P1 flips bit 0 of its share
    // of the first decision bit in the final OR layer, consistently (its own
    // copy too), so the opening's copy check passes.
    let values = scores(24, 3);
    let at = last_and_reshare(&values, 8);
    let out = byzantine_run(
        Security::SemiHonest,
        &values,
        8,
        None,
        Some((PartyId::P1, at, 1)),
    );
    let expect = plaintext_decisions(&values, 8);
    for p in PartyId::ALL {
        let got = out[p.index()]
            .0
            .as_ref()
            .expect("no detection in semi-honest mode");
        assert_ne!(
            got[0], expect[0],
            "{p}: the flip did not change the decision"
        );
        assert_eq!(got[1..], expect[1..]);
    }
}

#[test]
fn malicious_sessions_catch_the_flipped_decision_and_name_the_cheat() {
    let values = scores(24, 3);
    let last = last_and_reshare(&values, 8);
    // The consistent flip above, an error in the first AND layer of the
    // comparison, and one in its middle.
    for (at, mask) in [(last, 1), (0, 1 << 31), (3, 0xffff)] {
        let out = byzantine_run(
            Security::Malicious,
            &values,
            8,
            None,
            Some((PartyId::P1, at, mask)),
        );
        for p in [PartyId::P0, PartyId::P2] {
            match &out[p.index()].0 {
                Err(MpcError::Cheating {
                    suspect,
                    detected_by,
                    ..
                }) => {
                    assert_eq!(*suspect, PartyId::P1, "reshare {at}");
                    assert_eq!(*detected_by, p);
                }
                other => panic!("reshare {at}: {p} got {other:?}"),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Any one tamper, by any party, at any message (computation, proof or
    /// opening): every honest party either aborts or outputs the correct
    /// decisions, and a tamper that changes the message is always caught.
    #[test]
    fn one_tampering_party_never_gets_a_wrong_decision_released(
        n in 1usize..40,
        group_pick in 0usize..4,
        seed in any::<u64>(),
        cheat in 0usize..3,
        index_pick in any::<usize>(),
        kind in 0usize..5,
        bit in any::<usize>(),
    ) {
        let divisors: Vec<usize> = (1..=n).filter(|d| n % d == 0).collect();
        let group = divisors[group_pick % divisors.len()];
        let values = scores(n, seed);
        let expect = plaintext_decisions(&values, group);
        let cheat = PartyId::ALL[cheat];
        let [(_, s0), (_, s1), (_, s2)] = byzantine_run(Security::Malicious, &values, group, None, None);
        let sent = [s0, s1, s2][cheat.index()].messages_sent as usize;
        let at = index_pick % sent;
        let tamper = [Tamper::Add, Tamper::Flip(bit), Tamper::Zeros, Tamper::Replay, Tamper::Drop][kind];
        let out = byzantine_run(Security::Malicious, &values, group, Some((cheat, at, tamper)), None);
        let mut aborted = false;
        for p in PartyId::ALL.into_iter().filter(|&p| p != cheat) {
            match &out[p.index()].0 {
                Ok(got) => prop_assert_eq!(got, &expect, "{} released a wrong decision", p),
                Err(_) => aborted = true,
            }
        }
        if matches!(tamper, Tamper::Flip(_) | Tamper::Add | Tamper::Drop) {
            prop_assert!(aborted, "{:?} of message {} by {} went unnoticed", tamper, at, cheat);
        }
    }
}

/// What each party receives while the others prove their ANDs (and during
/// the computation) is distributed the same whatever the secret: here all
/// scores matching against none matching. The opening is left out: it
/// reveals the decision by design.
#[test]
fn every_partys_view_of_the_proofs_is_the_same_for_two_different_secrets() {
    let all_match = vec![5u32; 48];
    let none_match = vec![(-5i32) as u32; 48];
    let view = |values: &[u32]| -> [Vec<u8>; 3] {
        let mut views: [Vec<u8>; 3] = Default::default();
        for _ in 0..30 {
            let shares = deal(values, &mut rand::rng());
            let out = rt().block_on(run3_byzantine(Security::Malicious, None, |mut sess| {
                let mine = shares[sess.party().index()].clone();
                async move {
                    let matched =
                        not_bits(&msb_bits(&mut sess, &mine).await.expect("msb")).expect("not");
                    or_reduce_groups(&mut sess, &matched, 8).await.expect("or");
                    sess.verify().await.expect("honest proofs pass");
                    sess.into_transport().received
                }
            }));
            for (v, o) in views.iter_mut().zip(out) {
                v.extend(o);
            }
        }
        views
    };
    let (a, b) = (view(&all_match), view(&none_match));
    for p in PartyId::ALL {
        let (va, vb) = (&a[p.index()], &b[p.index()]);
        assert_eq!(va.len(), vb.len());
        assert!(va.len() > 50_000, "{p}: view of {} bytes", va.len());
        // 255 degrees of freedom; the critical value at p = 1e-6 is about 375.
        assert!(chi_square_bytes(va) < 375.0, "{p}: view not uniform");
        let two = chi_square_two_samples(va, vb);
        assert!(
            two < 375.0,
            "{p}: views differ between the secrets (chi-square {two})"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// A party that deviates *consistently* (keeps its own copy of what it
    /// sent, so every opening agrees) at any AND layer, by any non-zero
    /// error, is caught by both other parties and named.
    #[test]
    fn a_consistent_deviation_at_any_and_layer_is_caught(
        n in 1usize..30,
        seed in any::<u64>(),
        cheat in 0usize..3,
        layer_pick in any::<u64>(),
        mask in 1u64..,
    ) {
        let values = scores(n, seed);
        let cheat = PartyId::ALL[cheat];
        let layers = last_and_reshare(&values, n) + 1;
        let at = layer_pick % layers;
        let out = byzantine_run(Security::Malicious, &values, n, None, Some((cheat, at, mask)));
        for p in PartyId::ALL.into_iter().filter(|&p| p != cheat) {
            match &out[p.index()].0 {
                Err(MpcError::Cheating { suspect, .. }) => prop_assert_eq!(*suspect, cheat),
                other => prop_assert!(false, "layer {}: {} got {:?}", at, p, other),
            }
        }
    }
}
