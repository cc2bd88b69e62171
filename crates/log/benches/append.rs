//! Append throughput and proof/audit costs of the in-memory log.
//!
//! Run: `cargo bench -p sanctuary-log --bench append`

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sanctuary_log::{
    AuditKey, CheckpointPolicy, Log, MemoryStore, NewEntry, NoteSigningKey, Operation, Outcome,
    RequestId, Salt, SignedNote, subject_audit,
};
use sanctuary_share::PartyId;

const ORIGIN: &str = "sanctuary.example/log";
const BATCH: u64 = 1000;
const RESET_AT: u64 = 200_000;

fn templates(rng: &mut StdRng, keys: &[AuditKey], n: usize) -> Vec<NewEntry> {
    (0..n)
        .map(|i| NewEntry {
            time_ms: 1_700_000_000_000 + i as u64,
            proposer: PartyId::P0,
            operation: Operation::Verify,
            outcome: Outcome::Performed,
            relying_party: Some("festival.example".into()),
            purpose: Some("check-in".into()),
            request: RequestId(rng.random()),
            audit_tag: Some(keys[i % keys.len()].new_tag(rng)),
            share_commitments: None,
            salt: Salt(rng.random()),
            erases: None,
        })
        .collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
}

fn bench_append(c: &mut Criterion) {
    let rt = runtime();
    let mut rng = StdRng::seed_from_u64(1);
    let keys: Vec<_> = (0..16).map(|_| AuditKey::generate(&mut rng)).collect();
    let tpl = templates(&mut rng, &keys, BATCH as usize);
    let mut g = c.benchmark_group("log");
    g.throughput(Throughput::Elements(BATCH));
    g.measurement_time(Duration::from_secs(5));
    g.bench_function("append_1000_entries_memory_store", |b| {
        let mut log = Log::new(ORIGIN, MemoryStore::new()).expect("origin");
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if rt.block_on(log.size()).expect("size") >= RESET_AT {
                    log = Log::new(ORIGIN, MemoryStore::new()).expect("origin");
                }
                let batch = tpl.clone();
                let start = Instant::now();
                rt.block_on(async {
                    for e in batch {
                        black_box(log.append(e).await.expect("append"));
                    }
                });
                total += start.elapsed();
            }
            total
        });
    });
    g.bench_function("append_batch_1000_entries_memory_store", |b| {
        let mut log = Log::new(ORIGIN, MemoryStore::new()).expect("origin");
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                if rt.block_on(log.size()).expect("size") >= RESET_AT {
                    log = Log::new(ORIGIN, MemoryStore::new()).expect("origin");
                }
                let batch = tpl.clone();
                let start = Instant::now();
                black_box(rt.block_on(log.append_batch(batch)).expect("append"));
                total += start.elapsed();
            }
            total
        });
    });
    g.finish();
}

fn bench_proofs_and_audit(c: &mut Criterion) {
    let rt = runtime();
    let mut rng = StdRng::seed_from_u64(2);
    let keys: Vec<_> = (0..1000).map(|_| AuditKey::generate(&mut rng)).collect();
    let n: u64 = 100_000;
    let mut log = Log::new(ORIGIN, MemoryStore::new()).expect("origin");
    rt.block_on(async {
        for e in templates(&mut rng, &keys, n as usize) {
            log.append(e).await.expect("append");
        }
    });
    let mut g = c.benchmark_group("log_100k");
    g.bench_function("inclusion_proof", |b| {
        b.iter(|| {
            rt.block_on(log.inclusion_proof(black_box(31_337), n))
                .expect("proof")
        })
    });
    g.bench_function("consistency_proof", |b| {
        b.iter(|| {
            rt.block_on(log.consistency_proof(black_box(77_777), n))
                .expect("proof")
        })
    });

    let signers: Vec<_> = PartyId::ALL
        .iter()
        .map(|p| {
            NoteSigningKey::from_seed(&format!("node{}", p.index()), &[p.index() as u8 + 1; 32])
                .expect("name")
        })
        .collect();
    let nodes: BTreeMap<_, _> = PartyId::ALL
        .into_iter()
        .zip(signers.iter().map(|k| k.verifier()))
        .collect();
    let policy = CheckpointPolicy::new(ORIGIN, nodes, 2).expect("policy");
    let cp = rt.block_on(log.checkpoint()).expect("head");
    let text = cp.to_text();
    let note = SignedNote::new(
        text.clone(),
        signers.iter().map(|k| k.sign(&text)).collect(),
    )
    .expect("note");
    g.bench_function("checkpoint_verify_3_sigs", |b| {
        b.iter(|| policy.verify(black_box(&note)).expect("valid"))
    });
    let verified = policy.verify(&note).expect("valid");
    let entries = rt.block_on(log.entries(0..n)).expect("entries");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    g.bench_function("subject_audit_scan", |b| {
        b.iter_batched(
            || (),
            |()| subject_audit(&keys[0], &entries, &verified).expect("audit"),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench_append, bench_proofs_and_audit);
criterion_main!(benches);
