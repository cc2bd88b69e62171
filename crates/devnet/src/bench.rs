//! `sanctuary bench`: MPC matching measured side by side with a plaintext
//! scan of the same quantised data, in one run on one machine.
//!
//! The three parties run as three OS threads over in-process channels, so
//! the figure is the protocol's compute and message cost without TLS.
//! CPU time is the whole process's (all three parties), which is what
//! "per core" divides by.

use std::process::ExitCode;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use clap::ValueEnum;

use anyhow::{Context, bail};
use cpu_time::ProcessTime;
use rand::{Rng, SeedableRng};
use sanctuary_mpc::{
    EmbeddingGallery, Gallery, IrisGallery, LocalTransport, Scope, Security, Session, SessionStats,
    dot_i8, match_gallery, open_bits,
};
use sanctuary_share::{PartyId, ShareVec};
use sanctuary_template::{EmbeddingParams, IrisParams, THRESHOLD_DENOMINATOR, TemplateKind};
use serde::Serialize;

use crate::{local, synth};

/// Template kind on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    /// 512-d face-style embeddings.
    Embedding,
    /// Iris codes with masks, +-15 rotations.
    Iris,
}

impl From<KindArg> for TemplateKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Embedding => TemplateKind::Embedding,
            KindArg::Iris => TemplateKind::Iris,
        }
    }
}

/// The adversary the measured protocol defends against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecurityArg {
    /// Honest-but-curious nodes (the protocol as it runs in the network).
    SemiHonest,
    /// One node may deviate: every message is proven before anything is
    /// opened. Measured side by side with semi-honest in the same run.
    Malicious,
}

/// Malicious security keeps, per party, the AND relations of a batch until
/// they are proven (about 350 bytes per comparison; the proofs themselves
/// run in bounded chunks): the bench refuses batches that would not fit in
/// memory with the three parties in one process.
const MALICIOUS_MAX_COMPARISONS: usize = 4_000_000;

/// `sanctuary bench` options.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Template kind.
    #[arg(long, value_enum, default_value = "embedding")]
    pub kind: KindArg,
    /// Number of enrolled templates.
    #[arg(long, default_value_t = 10_000)]
    pub gallery: usize,
    /// Number of queries (half genuine, half impostor).
    #[arg(long, default_value_t = 8)]
    pub queries: usize,
    /// Embedding dimension (embeddings only).
    #[arg(long, default_value_t = 512)]
    pub dim: usize,
    /// Seed for the generated data (the shares always use fresh OS randomness).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Security level; `malicious` also runs semi-honest in the same run
    /// and reports the ratio (`malicious_over_semi_honest`).
    #[arg(long, value_enum, default_value = "semi-honest")]
    pub security: SecurityArg,
}

/// What one bench run measured.
#[derive(Debug, Serialize)]
pub(crate) struct BenchReport {
    security: &'static str,
    kind: TemplateKind,
    gallery: usize,
    dim: usize,
    queries: usize,
    rotations: usize,
    ring_bits: u32,
    mpc_ms_per_query: f64,
    mpc_queries_per_s: f64,
    plaintext_ms_per_query: f64,
    ratio: f64,
    bytes_per_party_per_query: f64,
    batch_bytes_per_party_per_query: f64,
    rounds_per_query: f64,
    mpc_cpu_s_per_query: f64,
    comparisons_per_s_per_core: f64,
    decisions_agree: bool,
    genuine_matched: usize,
    impostor_matched: usize,
    share_bytes_per_party: usize,
    cores: usize,
}

/// The plaintext side: the same quantised data, scanned in the clear.
enum Plain {
    Embedding {
        rows: Vec<i8>,
        queries: Vec<Vec<i8>>,
        threshold: i64,
    },
    Iris {
        rows: Vec<i8>,
        queries: Vec<Vec<i8>>,
        params: IrisParams,
    },
}

fn extend_rows(x: &[i8], p: &IrisParams) -> Vec<i8> {
    let cell = p.bits_per_cell;
    let row_len = p.cols * cell;
    let pad = p.rotations * cell;
    x.chunks_exact(row_len)
        .flat_map(|row| [&row[row_len - pad..], row, &row[..pad]].concat())
        .collect()
}

impl Plain {
    /// Decision for query `qi` against every entry (any match).
    fn scan(&self, qi: usize) -> bool {
        match self {
            Plain::Embedding {
                rows,
                queries,
                threshold,
            } => {
                let q = &queries[qi];
                let t = i32::try_from(*threshold).unwrap_or(i32::MAX);
                rows.chunks_exact(q.len()).any(|r| dot_i8(r, q) >= t)
            }
            Plain::Iris {
                rows,
                queries,
                params: p,
            } => {
                let l = p.code_bits();
                let (qv, qm) = queries[qi].split_at(l);
                let (ev, em) = (extend_rows(qv, p), extend_rows(qm, p));
                let row_len = p.cols * p.bits_per_cell;
                let ext_len = row_len + 2 * p.rotations * p.bits_per_cell;
                let pn = p.threshold_num();
                let rot = p.rotation_count();
                let mut dv = vec![0i32; rot];
                let mut dm = vec![0i32; rot];
                rows.chunks_exact(2 * l).any(|entry| {
                    dv.fill(0);
                    dm.fill(0);
                    for r in 0..p.rows {
                        let gv = &entry[r * row_len..(r + 1) * row_len];
                        let gm = &entry[l + r * row_len..l + (r + 1) * row_len];
                        let xv = &ev[r * ext_len..(r + 1) * ext_len];
                        let xm = &em[r * ext_len..(r + 1) * ext_len];
                        for t in 0..rot {
                            let off = t * p.bits_per_cell;
                            dv[t] += dot_i8(gv, &xv[off..off + row_len]);
                            dm[t] += dot_i8(gm, &xm[off..off + row_len]);
                        }
                    }
                    dv.iter().zip(&dm).any(|(&v, &m)| {
                        let (v, m) = (i64::from(v), i64::from(m));
                        // D = (M - v) / 2; match iff M > 0 and q*D <= p*M.
                        m > 0 && THRESHOLD_DENOMINATOR * (m - v) <= 2 * pn * m
                    })
                })
            }
        }
    }
}

struct Workload {
    plain: Plain,
    galleries: [Gallery<u32>; 3],
    queries: [Vec<ShareVec<u32>>; 3],
    genuine: Vec<bool>,
    dim: usize,
    rotations: usize,
}

fn new_galleries(
    args: &BenchArgs,
    emb: &EmbeddingParams,
    iris: &IrisParams,
) -> anyhow::Result<[Gallery<u32>; 3]> {
    let make = |party: PartyId| -> anyhow::Result<Gallery<u32>> {
        Ok(match TemplateKind::from(args.kind) {
            TemplateKind::Embedding => {
                let mut g = EmbeddingGallery::new(party, emb.dim);
                g.reserve(args.gallery);
                Gallery::Embedding {
                    gallery: g,
                    threshold: emb.threshold_int(),
                }
            }
            TemplateKind::Iris => {
                let mut g = IrisGallery::new(party, *iris)?;
                g.reserve(args.gallery);
                Gallery::Iris(g)
            }
        })
    };
    Ok([make(PartyId::P0)?, make(PartyId::P1)?, make(PartyId::P2)?])
}

fn build(args: &BenchArgs) -> anyhow::Result<Workload> {
    if args.gallery == 0 || args.queries == 0 {
        bail!("--gallery and --queries must be at least 1");
    }
    let mut data_rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let emb = EmbeddingParams {
        dim: args.dim,
        ..Default::default()
    };
    emb.validate().context("embedding parameters")?;
    let iris = IrisParams::default();
    let mut galleries = new_galleries(args, &emb, &iris)?;
    let mut push = |ring: Vec<u32>| local::push_dealt(&mut galleries, &ring);
    // Even queries are genuine (a fresh capture of an enrolled subject), odd
    // ones impostors (someone never enrolled).
    let genuine: Vec<bool> = (0..args.queries).map(|i| i % 2 == 0).collect();
    let (plain, query_rings, dim, rotations) = match TemplateKind::from(args.kind) {
        TemplateKind::Embedding => {
            let mut rows = Vec::with_capacity(args.gallery * emb.dim);
            let mut kept = Vec::new();
            for i in 0..args.gallery {
                let e = synth::embedding(&mut data_rng, emb.dim);
                let q = synth::quantize(&e, &emb)?;
                rows.extend_from_slice(q.values());
                push(q.to_ring())?;
                if i < args.queries {
                    kept.push(e);
                }
            }
            let mut queries = Vec::new();
            for (i, &g) in genuine.iter().enumerate() {
                let e = if g {
                    synth::genuine_embedding(&mut data_rng, &kept[i % kept.len()], 0.6)
                } else {
                    synth::embedding(&mut data_rng, emb.dim)
                };
                queries.push(synth::quantize(&e, &emb)?);
            }
            let rings = queries.iter().map(|q| q.to_ring()).collect::<Vec<_>>();
            let plain = Plain::Embedding {
                rows,
                queries: queries.iter().map(|q| q.values().to_vec()).collect(),
                threshold: emb.threshold_int(),
            };
            (plain, rings, emb.dim, 1)
        }
        TemplateKind::Iris => {
            let l = iris.code_bits();
            let mut rows = Vec::with_capacity(args.gallery * 2 * l);
            let mut kept = Vec::new();
            for i in 0..args.gallery {
                let c = synth::iris(&mut data_rng, &iris)?;
                rows.extend(c.signed());
                rows.extend(c.mask().iter().map(|&m| m as i8));
                push(c.to_ring())?;
                if i < args.queries {
                    kept.push(c);
                }
            }
            let mut codes = Vec::new();
            for (i, &g) in genuine.iter().enumerate() {
                codes.push(if g {
                    let shift = data_rng.random_range(-10i32..=10) as isize;
                    synth::genuine_iris(&mut data_rng, &kept[i % kept.len()], &iris, shift, 0.2)?
                } else {
                    synth::iris(&mut data_rng, &iris)?
                });
            }
            let rings = codes.iter().map(|c| c.to_ring()).collect::<Vec<_>>();
            let plain = Plain::Iris {
                rows,
                queries: codes
                    .iter()
                    .map(|c| {
                        c.signed()
                            .into_iter()
                            .chain(c.mask().iter().map(|&m| m as i8))
                            .collect()
                    })
                    .collect(),
                params: iris,
            };
            (plain, rings, 2 * l, iris.rotation_count())
        }
    };
    Ok(Workload {
        plain,
        galleries,
        queries: local::deal_queries(&query_rings),
        genuine,
        dim,
        rotations,
    })
}

struct PartyResult {
    single: Vec<bool>,
    batch: Vec<bool>,
    single_stats: SessionStats,
    batch_stats: SessionStats,
    /// Wall clock and process CPU time right after each of the four
    /// barriers that bracket the single-query and batch phases.
    marks: Vec<(Instant, Duration)>,
}

fn diff(a: SessionStats, b: SessionStats) -> SessionStats {
    SessionStats {
        bytes_sent: b.bytes_sent - a.bytes_sent,
        messages_sent: b.messages_sent - a.messages_sent,
        rounds: b.rounds - a.rounds,
    }
}

async fn party(
    transport: LocalTransport,
    gallery: Gallery<u32>,
    queries: Vec<ShareVec<u32>>,
    barrier: Arc<Barrier>,
    security: Security,
) -> anyhow::Result<PartyResult> {
    let mut sess = Session::setup(transport).await?.with_security(security);
    let n = gallery.len();
    let mut marks = Vec::with_capacity(4);
    let mut sync = || {
        barrier.wait();
        marks.push((Instant::now(), ProcessTime::now().as_duration()));
    };
    sync();
    let s0 = sess.stats();
    let mut single = Vec::new();
    for q in &queries {
        let bits = match_gallery(
            &mut sess,
            &gallery,
            0..n,
            std::slice::from_ref(q),
            Scope::Any,
        )
        .await?;
        single.extend(open_bits(&mut sess, &bits).await?);
    }
    let s1 = sess.stats();
    sync();
    sync();
    let bits = match_gallery(&mut sess, &gallery, 0..n, &queries, Scope::Any).await?;
    let batch = open_bits(&mut sess, &bits).await?;
    let s2 = sess.stats();
    sync();
    Ok(PartyResult {
        single,
        batch,
        single_stats: diff(s0, s1),
        batch_stats: diff(s1, s2),
        marks,
    })
}

fn measure(args: &BenchArgs, security: Security) -> anyhow::Result<BenchReport> {
    let w = build(args)?;
    let nq = args.queries;

    let t = Instant::now();
    let plain: Vec<bool> = (0..nq).map(|i| w.plain.scan(i)).collect();
    let plain_time = t.elapsed();

    let share_bytes = w.galleries[0].len() * w.galleries[0].share_len() * 2 * 4;
    let barrier = Arc::new(Barrier::new(3));
    let [g0, g1, g2] = w.galleries;
    let [q0, q1, q2] = w.queries;
    let results = local::run_parties([(g0, q0), (g1, q1), (g2, q2)], move |t, (g, q)| {
        party(t, g, q, barrier, security)
    })?;
    // Every party passes each barrier together; party 0's clock readings
    // bracket the phases.
    let marks = &results[0].marks;
    if marks.len() != 4 {
        bail!("party 0 recorded {} phase marks, expected 4", marks.len());
    }

    let single_wall = marks[1].0 - marks[0].0;
    let batch_wall = marks[3].0 - marks[2].0;
    let batch_cpu = marks[3].1.saturating_sub(marks[2].1);
    let single_cpu = marks[1].1.saturating_sub(marks[0].1);
    let agree = results
        .iter()
        .all(|r| r.single == plain && r.batch == plain);
    let mean = |f: &dyn Fn(&PartyResult) -> u64| results.iter().map(f).sum::<u64>() as f64 / 3.0;
    let comparisons = (nq * args.gallery * w.rotations) as f64;
    let mpc_ms = single_wall.as_secs_f64() * 1e3 / nq as f64;
    let plain_ms = plain_time.as_secs_f64() * 1e3 / nq as f64;
    Ok(BenchReport {
        security: match security {
            Security::SemiHonest => "semi-honest",
            Security::Malicious => "malicious",
        },
        kind: args.kind.into(),
        gallery: args.gallery,
        dim: w.dim,
        queries: nq,
        rotations: w.rotations,
        ring_bits: 32,
        mpc_ms_per_query: mpc_ms,
        mpc_queries_per_s: nq as f64 / batch_wall.as_secs_f64(),
        plaintext_ms_per_query: plain_ms,
        ratio: mpc_ms / plain_ms.max(1e-9),
        bytes_per_party_per_query: mean(&|r| r.single_stats.bytes_sent) / nq as f64,
        batch_bytes_per_party_per_query: mean(&|r| r.batch_stats.bytes_sent) / nq as f64,
        rounds_per_query: mean(&|r| r.single_stats.rounds) / nq as f64,
        mpc_cpu_s_per_query: single_cpu.as_secs_f64() / nq as f64,
        comparisons_per_s_per_core: comparisons / batch_cpu.as_secs_f64().max(1e-9),
        decisions_agree: agree,
        genuine_matched: plain
            .iter()
            .zip(&w.genuine)
            .filter(|(d, g)| **d && **g)
            .count(),
        impostor_matched: plain
            .iter()
            .zip(&w.genuine)
            .filter(|(d, g)| **d && !**g)
            .count(),
        share_bytes_per_party: share_bytes,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
    })
}

/// Both security levels of one workload, measured in the same run.
#[derive(Debug, Serialize)]
struct SideBySide {
    #[serde(flatten)]
    malicious: BenchReport,
    semi_honest: BenchReport,
    /// Single-query time, malicious over semi-honest.
    malicious_over_semi_honest: f64,
    /// Bytes sent per party per query, malicious over semi-honest.
    malicious_bytes_over_semi_honest: f64,
}

fn print_table(rows: &[&BenchReport]) {
    println!(
        "security     kind        gallery   dim    queries  MPC ms/query  MPC q/s (batch)  plain ms/query  ratio   bytes/party/query  comparisons/s/core  agree"
    );
    for r in rows {
        println!(
            "{:<12} {:<11} {:<9} {:<6} {:<8} {:<13.2} {:<16.2} {:<15.3} {:<7.1} {:<18.0} {:<19.0} {}",
            r.security,
            r.kind.to_string(),
            r.gallery,
            r.dim,
            r.queries,
            r.mpc_ms_per_query,
            r.mpc_queries_per_s,
            r.plaintext_ms_per_query,
            r.ratio,
            r.bytes_per_party_per_query,
            r.comparisons_per_s_per_core,
            r.decisions_agree
        );
    }
}

/// Runs `sanctuary bench`.
pub fn run(args: &BenchArgs) -> anyhow::Result<ExitCode> {
    let agree = match args.security {
        SecurityArg::SemiHonest => {
            let r = measure(args, Security::SemiHonest)?;
            if args.json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                print_table(&[&r]);
            }
            r.decisions_agree
        }
        SecurityArg::Malicious => {
            if TemplateKind::from(args.kind) == TemplateKind::Iris {
                bail!("--security malicious: iris matching is not proven yet (embeddings only)");
            }
            let comparisons = args.gallery.saturating_mul(args.queries);
            if comparisons > MALICIOUS_MAX_COMPARISONS {
                bail!(
                    "--security malicious: {} x {} = {comparisons} comparisons per batch; this version keeps about 350 bytes per comparison per party until proven and handles at most {MALICIOUS_MAX_COMPARISONS}",
                    args.gallery,
                    args.queries
                );
            }
            let semi = measure(args, Security::SemiHonest)?;
            let mal = measure(args, Security::Malicious)?;
            let both = SideBySide {
                malicious_over_semi_honest: mal.mpc_ms_per_query / semi.mpc_ms_per_query.max(1e-9),
                malicious_bytes_over_semi_honest: mal.bytes_per_party_per_query
                    / semi.bytes_per_party_per_query.max(1e-9),
                malicious: mal,
                semi_honest: semi,
            };
            if args.json {
                println!("{}", serde_json::to_string(&both)?);
            } else {
                print_table(&[&both.semi_honest, &both.malicious]);
                println!(
                    "malicious / semi-honest: {:.2}x time, {:.2}x bytes per query",
                    both.malicious_over_semi_honest, both.malicious_bytes_over_semi_honest
                );
            }
            both.malicious.decisions_agree && both.semi_honest.decisions_agree
        }
    };
    if !agree {
        eprintln!("error: MPC decisions differ from the plaintext matcher");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
