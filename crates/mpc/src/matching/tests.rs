use proptest::prelude::*;
use rand::Rng;
use sanctuary_share::{Ring, ShareVec, deal};
use sanctuary_template::{IrisCode, IrisParams, QuantizedEmbedding};

use super::*;
use crate::protocol::open_bits;
use crate::testutil::{Recording, chi_square_bytes, run3, run3_byzantine};
use crate::{LocalTransport, Session};
use crate::{Security, SessionStats};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn random_embedding(rng: &mut impl Rng, dim: usize, max: i8) -> QuantizedEmbedding {
    loop {
        let v: Vec<i8> = (0..dim).map(|_| rng.random_range(-max..=max)).collect();
        if let Ok(q) = QuantizedEmbedding::from_values(v) {
            return q;
        }
    }
}

/// Runs `match_embedding` on shares of `gallery` and `queries` and returns
/// the opened bits (checking all parties saw the same).
fn mpc_embedding<R: Kernel>(
    gallery: &[QuantizedEmbedding],
    queries: &[QuantizedEmbedding],
    threshold: i64,
    scope: Scope,
) -> Vec<bool> {
    let [(a, _), (b, _), (c, _)] = embedding_run::<R>(
        Security::SemiHonest,
        gallery,
        queries,
        threshold,
        scope,
        None,
    );
    let (a, b, c) = (a.expect("match"), b.expect("match"), c.expect("match"));
    assert_eq!(a, b);
    assert_eq!(b, c);
    a
}

fn plain_embedding(
    gallery: &[QuantizedEmbedding],
    queries: &[QuantizedEmbedding],
    t: i64,
    scope: Scope,
) -> Vec<bool> {
    queries
        .iter()
        .flat_map(|q| {
            let per: Vec<bool> = gallery.iter().map(|g| q.matches(g, t)).collect();
            match scope {
                Scope::PerEntry => per,
                Scope::Any => vec![per.iter().any(|&b| b)],
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Thresholds are placed within one quantisation step of a real score,
    /// where a rounding or carry bug would flip the decision.
    #[test]
    fn embedding_decisions_equal_plaintext_near_threshold(
        seed in any::<u64>(),
        n in 1usize..12,
        nq in 1usize..4,
        delta in -1i64..=1,
        dim in 1usize..40,
    ) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let gallery: Vec<_> = (0..n).map(|_| random_embedding(&mut rng, dim, 127)).collect();
        let queries: Vec<_> = (0..nq).map(|_| random_embedding(&mut rng, dim, 127)).collect();
        let t = queries[0].score(&gallery[rng.random_range(0..n)]) + delta;
        for scope in [Scope::PerEntry, Scope::Any] {
            let expect = plain_embedding(&gallery, &queries, t, scope);
            prop_assert_eq!(&mpc_embedding::<u32>(&gallery, &queries, t, scope), &expect);
            prop_assert_eq!(&mpc_embedding::<u64>(&gallery, &queries, t, scope), &expect);
            // The same decisions when every message is proven.
            for (o, _) in embedding_run::<u32>(Security::Malicious, &gallery, &queries, t, scope, None) {
                prop_assert_eq!(&o.expect("honest run"), &expect);
            }
        }
    }

    /// Z_2^16 is exact while scores stay within 15 bits.
    #[test]
    fn embedding_decisions_equal_plaintext_in_16_bit_ring(seed in any::<u64>(), delta in -1i64..=1) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let gallery: Vec<_> = (0..6).map(|_| random_embedding(&mut rng, 2, 100)).collect();
        let queries = vec![random_embedding(&mut rng, 2, 100)];
        let t = queries[0].score(&gallery[0]) + delta;
        let expect = plain_embedding(&gallery, &queries, t, Scope::PerEntry);
        prop_assert_eq!(mpc_embedding::<u16>(&gallery, &queries, t, Scope::PerEntry), expect);
    }
}

use rand::SeedableRng;

fn small_iris() -> IrisParams {
    IrisParams {
        rows: 2,
        cols: 10,
        bits_per_cell: 2,
        rotations: 3,
        threshold: 0.3,
    }
}

fn random_iris(rng: &mut impl Rng, p: &IrisParams, mask_density: f64) -> IrisCode {
    let n = p.code_bits();
    loop {
        let code: Vec<u8> = (0..n).map(|_| rng.random_range(0..2)).collect();
        let mask: Vec<u8> = (0..n)
            .map(|_| u8::from(rng.random_bool(mask_density)))
            .collect();
        if let Ok(c) = IrisCode::new(code, mask, p) {
            return c;
        }
    }
}

fn mpc_iris(gallery: &[IrisCode], queries: &[IrisCode], p: IrisParams, scope: Scope) -> Vec<bool> {
    let mut rng = rand::rng();
    let g_shares: Vec<[ShareVec<u32>; 3]> = gallery
        .iter()
        .map(|e| deal(&e.to_ring::<u32>(), &mut rng))
        .collect();
    let q_shares: Vec<[ShareVec<u32>; 3]> = queries
        .iter()
        .map(|e| deal(&e.to_ring::<u32>(), &mut rng))
        .collect();
    let out = rt().block_on(run3(|mut sess| {
        let i = sess.party().index();
        let mut g = IrisGallery::<u32>::new(sess.party(), p).expect("params");
        for s in &g_shares {
            g.push(&s[i]).expect("push");
        }
        let qs: Vec<ShareVec<u32>> = q_shares.iter().map(|s| s[i].clone()).collect();
        async move {
            let bits = match_iris(&mut sess, &g, 0..g.len(), &qs, scope)
                .await
                .expect("match");
            open_bits(&mut sess, &bits).await.expect("open")
        }
    }));
    assert_eq!(out[0], out[2]);
    out[0].clone()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// The threshold is set to a distance some pair actually has (ties) or
    /// one step (1e-4) either side of it.
    #[test]
    fn iris_decisions_equal_plaintext_near_threshold(
        seed in any::<u64>(),
        n in 1usize..6,
        step in -1i32..=1,
        density in 0.05f64..1.0,
    ) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut p = small_iris();
        let mut gallery: Vec<_> = (0..n).map(|_| random_iris(&mut rng, &p, density)).collect();
        let query = random_iris(&mut rng, &p, density);
        // A genuine-like entry: the query rotated, with some bits flipped.
        let mut code = p.rotate(query.code(), 2);
        for b in code.iter_mut().take(5) { *b ^= 1; }
        gallery.push(IrisCode::new(code, p.rotate(query.mask(), 2), &p).expect("valid"));
        if let Some(hd) = query.distance(&gallery[rng.random_range(0..gallery.len())], &p) {
            let t = (hd * 1e4).round() / 1e4 + f64::from(step) * 1e-4;
            if t > 0.0 && t < 1.0 { p.threshold = t; }
        }
        for scope in [Scope::PerEntry, Scope::Any] {
            let expect: Vec<bool> = match scope {
                Scope::PerEntry => gallery.iter().map(|g| query.matches(g, &p)).collect(),
                Scope::Any => vec![gallery.iter().any(|g| query.matches(g, &p))],
            };
            prop_assert_eq!(mpc_iris(&gallery, std::slice::from_ref(&query), p, scope), expect);
        }
    }
}

#[test]
fn iris_disjoint_masks_do_not_match() {
    let p = IrisParams {
        rotations: 0,
        ..small_iris()
    };
    let n = p.code_bits();
    let m1: Vec<u8> = (0..n).map(|i| (i % 2) as u8).collect();
    let m2: Vec<u8> = m1.iter().map(|m| 1 - m).collect();
    let a = IrisCode::new(vec![0; n], m1, &p).expect("valid");
    let b = IrisCode::new(vec![0; n], m2, &p).expect("valid");
    assert!(!a.matches(&b, &p));
    assert_eq!(mpc_iris(&[b], &[a], p, Scope::PerEntry), vec![false]);
}

#[test]
fn iris_batch_of_queries_is_query_major() {
    let p = small_iris();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let gallery: Vec<_> = (0..4).map(|_| random_iris(&mut rng, &p, 0.9)).collect();
    let queries = vec![
        gallery[2].clone(),
        random_iris(&mut rng, &p, 0.9),
        gallery[0].clone(),
    ];
    let got = mpc_iris(&gallery, &queries, p, Scope::PerEntry);
    let expect: Vec<bool> = queries
        .iter()
        .flat_map(|q| gallery.iter().map(|g| q.matches(g, &p)))
        .collect();
    assert_eq!(got, expect);
    assert!(got[2] && got[8], "exact copies match");
}

#[test]
fn bad_inputs_are_refused_not_computed() {
    let p = small_iris();
    let out = rt().block_on(run3(|mut sess| async move {
        let g = EmbeddingGallery::<u32>::new(sess.party(), 4);
        let q = ShareVec::from_parts(sess.party(), vec![0u32; 4], vec![0u32; 4]).expect("share");
        let empty =
            match_embedding(&mut sess, &g, 0..1, std::slice::from_ref(&q), 0, Scope::Any).await;
        let ig = IrisGallery::<u16>::new(sess.party(), p).expect("params");
        let narrow = match_iris(&mut sess, &ig, 0..1, &[], Scope::Any).await;
        (empty.is_err(), narrow.is_err())
    }));
    assert!(out.iter().all(|&(a, b)| a && b));
}

/// One party's whole view of a dedupe (its shares and every message it
/// receives, before the result is opened) is uniformly distributed bytes,
/// over many runs on the same fixed inputs.
#[test]
fn a_single_partys_view_is_uniform() {
    let dim = 16;
    let g = QuantizedEmbedding::from_values(vec![100; dim]).expect("valid");
    let q = QuantizedEmbedding::from_values(vec![100; dim]).expect("valid");
    let mut view = Vec::new();
    for _ in 0..40 {
        let mut rng = rand::rng();
        let gs = deal(&g.to_ring::<u32>(), &mut rng);
        let qs = deal(&q.to_ring::<u32>(), &mut rng);
        let [t0, t1, t2] = LocalTransport::mesh();
        let wrap = |t| Recording {
            inner: t,
            received: Vec::new(),
        };
        let run = |t: Recording, gsh: ShareVec<u32>, qsh: ShareVec<u32>| async move {
            let mut sess = Session::setup(t).await.expect("setup");
            let mut gal = EmbeddingGallery::new(sess.party(), dim);
            for _ in 0..8 {
                gal.push(&gsh).expect("push");
            }
            match_embedding(&mut sess, &gal, 0..8, &[qsh], 1, Scope::Any)
                .await
                .expect("match");
            sess.into_transport().received
        };
        let [g0, g1, g2] = gs;
        let [q0, q1, q2] = qs;
        let ((), v1, ()) = rt().block_on(async {
            tokio::join!(
                async {
                    run(wrap(t0), g0, q0).await;
                },
                run(wrap(t1), g1.clone(), q1.clone()),
                async {
                    run(wrap(t2), g2, q2).await;
                }
            )
        });
        view.extend_from_slice(bytemuck::cast_slice(g1.own()));
        view.extend_from_slice(bytemuck::cast_slice(g1.next()));
        view.extend_from_slice(bytemuck::cast_slice(q1.own()));
        view.extend_from_slice(&v1);
    }
    let chi2 = chi_square_bytes(&view);
    // 255 degrees of freedom; the critical value at p = 1e-6 is about 375.
    assert!(chi2 < 375.0, "chi-square {chi2}: the view is not uniform");
    assert!(view.len() > 20_000);
}

#[test]
fn a_template_shared_twice_gives_unrelated_shares() {
    let q = QuantizedEmbedding::from_values(vec![7; 512]).expect("valid");
    let a = deal(&q.to_ring::<u32>(), &mut rand::rng());
    let b = deal(&q.to_ring::<u32>(), &mut rand::rng());
    let diff: Vec<u8> = a[0]
        .own()
        .iter()
        .zip(b[0].own())
        .flat_map(|(x, y)| x.wrapping_sub(*y).to_le_bytes())
        .collect();
    assert!(chi_square_bytes(&diff) < 375.0);
    let _ = u32::ZERO;
}

#[test]
fn gallery_remove_shifts_entries_and_share_reads_back() {
    let p = small_iris();
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let codes: Vec<_> = (0..3).map(|_| random_iris(&mut rng, &p, 0.8)).collect();
    let shares: Vec<[ShareVec<u32>; 3]> = codes
        .iter()
        .map(|c| deal(&c.to_ring::<u32>(), &mut rng))
        .collect();
    let mut g = IrisGallery::<u32>::new(PartyId::P1, p).expect("params");
    let mut e = EmbeddingGallery::<u32>::new(PartyId::P1, 2 * p.code_bits());
    for s in &shares {
        g.push(&s[1]).expect("push");
        e.push(&s[1]).expect("push");
    }
    g.remove(1).expect("remove");
    e.remove(1).expect("remove");
    assert_eq!(g.len(), 2);
    assert_eq!(e.len(), 2);
    assert_eq!(g.share(1).expect("entry"), shares[2][1]);
    assert_eq!(e.share(1).expect("entry"), shares[2][1]);
    assert!(g.remove(2).is_err());
    assert!(
        g.push(&shares[0][0]).is_err(),
        "another party's share is refused"
    );
}

/// `match_embedding` + opening under `security`, with party `fault.0`
/// deviating consistently at reshare `fault.1` (xor mask `fault.2`): each
/// party's outcome and traffic.
fn embedding_run<R: Kernel>(
    security: Security,
    gallery: &[QuantizedEmbedding],
    queries: &[QuantizedEmbedding],
    threshold: i64,
    scope: Scope,
    fault: Option<(PartyId, u64, u64)>,
) -> [(Result<Vec<bool>, MpcError>, SessionStats); 3] {
    let dim = gallery[0].values().len();
    let mut rng = rand::rng();
    let g_shares: Vec<[ShareVec<R>; 3]> = gallery
        .iter()
        .map(|e| deal(&e.to_ring::<R>(), &mut rng))
        .collect();
    let q_shares: Vec<[ShareVec<R>; 3]> = queries
        .iter()
        .map(|e| deal(&e.to_ring::<R>(), &mut rng))
        .collect();
    rt().block_on(run3_byzantine(security, None, |mut sess| {
        let i = sess.party().index();
        if let Some((p, at, mask)) = fault
            && p == sess.party()
        {
            sess.fault = Some((at, mask));
        }
        let mut g = EmbeddingGallery::<R>::new(sess.party(), dim);
        for s in &g_shares {
            g.push(&s[i]).expect("push");
        }
        let qs: Vec<ShareVec<R>> = q_shares.iter().map(|s| s[i].clone()).collect();
        async move {
            let out = async {
                let bits =
                    match_embedding(&mut sess, &g, 0..g.len(), &qs, threshold, scope).await?;
                open_bits(&mut sess, &bits).await
            }
            .await;
            (out, sess.stats())
        }
    }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    /// A party deviating consistently at any reshare of an embedding match
    /// (the scores or any AND layer), by any non-zero error, is caught by
    /// both other parties, who name it; nothing is opened.
    #[test]
    fn a_deviation_anywhere_in_an_embedding_match_is_caught(
        seed in any::<u64>(),
        cheat in 0usize..3,
        at_pick in any::<u64>(),
        mask in 1u64..,
    ) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let gallery: Vec<_> = (0..4).map(|_| random_embedding(&mut rng, 8, 127)).collect();
        let queries = vec![random_embedding(&mut rng, 8, 127)];
        let t = queries[0].score(&gallery[0]);
        let [_, (_, stats), _] = embedding_run::<u32>(Security::Malicious, &gallery, &queries, t, Scope::Any, None);
        let at = at_pick % (stats.rounds - 1);
        let cheat = PartyId::ALL[cheat];
        let out = embedding_run::<u32>(Security::Malicious, &gallery, &queries, t, Scope::Any, Some((cheat, at, mask)));
        for p in PartyId::ALL.into_iter().filter(|&p| p != cheat) {
            match &out[p.index()].0 {
                Err(MpcError::Cheating { suspect, .. }) => prop_assert_eq!(*suspect, cheat),
                other => prop_assert!(false, "reshare {}: {} got {:?}", at, p, other),
            }
        }
    }
}

#[test]
fn a_score_share_off_by_2_pow_31_flips_a_semi_honest_match_and_is_caught_when_malicious() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let gallery: Vec<_> = (0..6)
        .map(|_| random_embedding(&mut rng, 16, 127))
        .collect();
    let queries = vec![random_embedding(&mut rng, 16, 127)];
    // Entry 0 matches exactly at the threshold.
    let t = queries[0].score(&gallery[0]);
    let expect = plain_embedding(&gallery, &queries, t, Scope::PerEntry);
    assert!(expect[0]);
    // P1 adds 2^31 to its share of score 0 (the error that passes any odd
    // MAC key in Z_2^32), keeping its own copy consistent.
    let fault = Some((PartyId::P1, 0, 1 << 31));
    let semi = embedding_run::<u32>(
        Security::SemiHonest,
        &gallery,
        &queries,
        t,
        Scope::PerEntry,
        fault,
    );
    for (o, _) in &semi {
        let got = o.as_ref().expect("semi-honest sessions do not notice");
        assert!(!got[0], "the deviation did not flip the decision");
        assert_eq!(got[1..], expect[1..]);
    }
    let mal = embedding_run::<u32>(
        Security::Malicious,
        &gallery,
        &queries,
        t,
        Scope::PerEntry,
        fault,
    );
    for p in [PartyId::P0, PartyId::P2] {
        match &mal[p.index()].0 {
            Err(MpcError::Cheating { suspect, step, .. }) => {
                assert_eq!(*suspect, PartyId::P1);
                assert!(step.contains("dot products"), "{step}");
            }
            other => panic!("{p}: {other:?}"),
        }
    }
}

#[test]
fn iris_matching_is_refused_under_malicious_security() {
    let params = IrisParams::default();
    let out = rt().block_on(run3_byzantine(Security::Malicious, None, |mut sess| {
        let g = IrisGallery::<u32>::new(sess.party(), params).expect("params");
        async move {
            match_iris(&mut sess, &g, 0..1, &[], Scope::Any)
                .await
                .map(|_| ())
        }
    }));
    for o in out {
        assert!(
            matches!(o, Err(MpcError::Input(m)) if m.contains("malicious")),
            "{o:?}"
        );
    }
}
