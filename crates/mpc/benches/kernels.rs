//! Dot-product and comparison kernels: `cargo bench -p sanctuary-mpc`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sanctuary_mpc::{Kernel, LocalTransport, Session, dot_i8, msb_bits};
use sanctuary_share::{CorrelatedRng, ShareVec, deal};

fn dots(c: &mut Criterion) {
    let mut g = c.benchmark_group("dot");
    let n = 1024;
    let a: Vec<u32> = (0..n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    let b: Vec<u32> = (0..n as u32).map(|i| i ^ 0x5555).collect();
    g.throughput(Throughput::Elements(n as u64));
    g.bench_function("u32x1024", |bench| {
        bench.iter(|| u32::dot(black_box(&a), black_box(&b)))
    });
    let a16: Vec<u16> = a.iter().map(|&x| x as u16).collect();
    let b16: Vec<u16> = b.iter().map(|&x| x as u16).collect();
    g.bench_function("u16x1024", |bench| {
        bench.iter(|| u16::dot(black_box(&a16), black_box(&b16)))
    });
    let a8: Vec<i8> = a.iter().map(|&x| x as i8).collect();
    let b8: Vec<i8> = b.iter().map(|&x| x as i8).collect();
    g.bench_function("i8x1024_plaintext", |bench| {
        bench.iter(|| dot_i8(black_box(&a8), black_box(&b8)))
    });
    let rows: Vec<u32> = (0..(n * 4096) as u32)
        .map(|i| i.wrapping_mul(0x9E37_79B9))
        .collect();
    let mut out = vec![0u32; 4096 * 4];
    g.throughput(Throughput::Elements((n * 4096 * 4) as u64));
    g.bench_function("u32_rows4096x1024_q4", |bench| {
        bench.iter(|| u32::dot_rows(black_box(&rows), n, &[&a, &b, &a, &b], &mut out))
    });
    g.finish();
}

fn comparison(c: &mut Criterion) {
    let mut g = c.benchmark_group("compare");
    let n = 65_536;
    let values: Vec<u32> = (0..n as u32)
        .map(|i| i.wrapping_mul(2_654_435_761))
        .collect();
    let shares = deal(&values, &mut rand::rng());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(10);
    g.bench_function("msb_u32_65536_three_parties", |bench| {
        bench.iter(|| {
            let [t0, t1, t2] = LocalTransport::mesh();
            let [r0, r1, r2] = CorrelatedRng::setup_local(&mut rand::rng());
            rt.block_on(async {
                let run = |t, r, s: ShareVec<u32>| async move {
                    let mut sess = Session::with_rng(t, r).expect("session");
                    msb_bits(&mut sess, &s).await.expect("msb")
                };
                tokio::join!(
                    run(t0, r0, shares[0].clone()),
                    run(t1, r1, shares[1].clone()),
                    run(t2, r2, shares[2].clone())
                )
            })
        })
    });
    g.finish();
}

criterion_group!(benches, dots, comparison);
criterion_main!(benches);
