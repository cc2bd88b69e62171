//! Per-stage timings of the face pipeline and the iris encoder.
//!
//! `cargo bench -p sanctuary-capture` (needs ../shared/data for the inputs;
//! prints a skip message and does nothing where it is absent).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use sanctuary_capture::iris::{DEFAULT_MAX_SHIFT, hamming_distance};
use sanctuary_capture::{
    FaceOptions, FacePipeline, IrisEncoder, IrisOptions, ModelsDir, RgbImage, align,
};

fn data(sub: &str) -> Option<std::path::PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(sub);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} is absent", p.display());
        None
    }
}

fn face(c: &mut Criterion) {
    let Some(path) = data("faces/orl/s1_1.pgm") else {
        return;
    };
    let options = FaceOptions {
        assume_cropped: true,
        ..FaceOptions::default()
    };
    let p = FacePipeline::load(&ModelsDir::default_location(), options).expect("models");
    let img = RgbImage::open(&path).expect("image");
    let (face, _, _) = p.select_face(&img).expect("face");
    let lm = p.landmarks(&img, &face).expect("landmarks");
    let aligned = align(&img, &lm.five_points()).expect("align");
    let mut g = c.benchmark_group("face");
    g.sample_size(20);
    g.bench_function("decode_pgm", |b| {
        b.iter(|| RgbImage::open(black_box(&path)).expect("image"))
    });
    g.bench_function("detect", |b| {
        b.iter(|| p.detect(black_box(&img)).expect("detect"))
    });
    g.bench_function("landmark", |b| {
        b.iter(|| p.landmarks(black_box(&img), &face).expect("landmarks"))
    });
    g.bench_function("align", |b| {
        b.iter(|| align(black_box(&img), &lm.five_points()).expect("align"))
    });
    g.bench_function("embed", |b| {
        b.iter(|| p.embed_aligned(black_box(&aligned)).expect("embed"))
    });
    g.bench_function("liveness", |b| {
        b.iter(|| p.liveness(black_box(&img), &face).expect("liveness"))
    });
    g.bench_function("extract_total", |b| {
        b.iter(|| p.extract(black_box(&img)).expect("extract"))
    });
    g.finish();
}

fn iris(c: &mut Criterion) {
    let Some(dir) = data("iris/iitd_normalized") else {
        return;
    };
    let enc = IrisEncoder::new(IrisOptions::default()).expect("encoder");
    let strip = RgbImage::open(dir.join("001_1.bmp")).expect("strip");
    let a = enc.encode(&strip).expect("code");
    let b2 = enc.encode_path(dir.join("002_1.bmp")).expect("code");
    let mut g = c.benchmark_group("iris");
    g.bench_function("encode", |b| {
        b.iter(|| enc.encode(black_box(&strip)).expect("code"))
    });
    g.bench_function("hamming_31_shifts", |b| {
        b.iter(|| hamming_distance(black_box(&a), black_box(&b2), DEFAULT_MAX_SHIFT))
    });
    g.finish();
}

criterion_group!(benches, face, iris);
criterion_main!(benches);
