//! `sanctuary bench network`: the network end to end at a given gallery
//! size. Enrolling a million people through the API (each a full MPC dedupe)
//! would take days, so the gallery is preloaded offline:
//!
//! ```text
//!  synthetic embeddings ─► quantise ─► deal 3 shares ─► Store::apply_batch
//!        (this process, fresh OS randomness)             into each node's own
//!                                                        SQLite file, one agreed
//!                                                        op per enrollment
//!  then: 3 node processes (loopback mutual TLS) load their shares ─► ready
//!        enroll / dedupe / verify through the client API, timed, every
//!        decision compared with a plaintext scan of the same quantised data
//! ```
//!
//! The preloaded op log holds the same transparency-log entries (and
//! Merkle node hashes) on the three nodes, so the nodes start in step. The
//! preloaded people whose captures are verified later are bound to wallets
//! (their consent tokens are checked like any other); the others are bound
//! to no key (they can be matched by dedupe, not verified or deleted).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use sanctuary_client::{Client, Consent, EnrollmentId, NetworkFile};
use sanctuary_consent::{NetworkId, Purpose, RelyingPartyId, TokenRequest, Wallet};
use sanctuary_node::{NodeConfig, Preload};
use sanctuary_proto::share_to_bytes;
use sanctuary_proto::wire::EnrollStatus;
use sanctuary_share::{PartyId, deal};
use sanctuary_store::{AppliedOp, Store};
use sanctuary_template::{Embedding, EmbeddingParams, QuantizedEmbedding, Template, TemplateKind};
use serde::Serialize;
use time::OffsetDateTime;
use zeroize::Zeroize;

use crate::nodes::{Nodes, wait_ready};
use crate::synth;

/// Arguments of `sanctuary bench network`.
#[derive(Debug, clap::Args)]
pub struct BenchNetworkArgs {
    /// Enrollments preloaded into every node's store before the nodes start.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) enrolled: usize,
    /// Enrollments through the API (each deduplicated against the gallery).
    #[arg(long, default_value_t = 20)]
    pub(crate) enrolls: usize,
    /// Dedupe queries through the API (half enrolled people, half strangers).
    #[arg(long, default_value_t = 20)]
    pub(crate) dedupes: usize,
    /// 1:1 verifications through the API (genuine).
    #[arg(long, default_value_t = 10)]
    pub(crate) verifies: usize,
    /// Ops per store transaction while preloading.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) batch: usize,
    /// Keep the network (keys, configs, databases, node logs) here instead
    /// of a temporary directory (which is removed).
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Seed for the generated embeddings (shares use fresh OS randomness).
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Default, Serialize)]
struct Report {
    nodes: usize,
    storage: &'static str,
    enrolled: usize,
    dim: usize,
    /// Raw share bytes per node (two u32 components per element).
    share_mib_per_node: f64,
    /// Dealing shares and writing them into the three stores.
    preload_seconds: f64,
    preload_per_s: f64,
    /// Node processes spawned until all three load their shares and link up.
    startup_seconds: f64,
    /// Largest resident set of the three nodes after start-up.
    node_rss_mib_max: f64,
    node_rss_over_shares: f64,
    /// Largest peak resident set (VmHWM) of the three nodes after start-up.
    node_peak_rss_mib_max: f64,
    enrolls: usize,
    enroll_per_s: f64,
    enroll_ms: f64,
    dedupes: usize,
    dedupe_ms_per_query: f64,
    dedupe_hits: usize,
    verifies: usize,
    verify_ms_per_query: f64,
    /// Plaintext scan of the same quantised gallery, this process, one core.
    plaintext_ms_per_query: f64,
    disagreements_with_plaintext: usize,
    seconds: f64,
}

fn bar(n: usize, msg: &'static str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(n as u64);
    if let Ok(s) = ProgressStyle::with_template("{msg:12} {bar:40} {pos}/{len} {per_sec} eta {eta}")
    {
        b.set_style(s);
    }
    b.set_message(msg);
    b
}

/// The plaintext gallery: quantised values, row-major.
struct Plain {
    dim: usize,
    rows: Vec<i8>,
    threshold: i64,
}

impl Plain {
    fn push(&mut self, q: &QuantizedEmbedding) {
        self.rows.extend_from_slice(q.values());
    }

    fn any_match(&self, q: &QuantizedEmbedding) -> bool {
        let q = q.values();
        self.rows.chunks_exact(self.dim).any(|row| {
            let s: i32 = row
                .iter()
                .zip(q)
                .map(|(&a, &b)| i32::from(a) * i32::from(b))
                .sum();
            i64::from(s) >= self.threshold
        })
    }
}

impl Drop for Plain {
    fn drop(&mut self) {
        self.rows.zeroize();
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A memory figure of a process from `/proc/PID/status` (Linux), in MiB:
/// `VmRSS:` (resident now) or `VmHWM:` (peak resident).
fn status_mib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Deals `n` synthetic enrollments into the three nodes' stores. Returns
/// the plaintext gallery, the ids, and the float embeddings of `keep`
/// (sorted indices) for genuine probes later.
async fn preload(
    args: &BenchNetworkArgs,
    stores: &[Store; 3],
    params: &EmbeddingParams,
    keep: &[usize],
    rng: &mut impl Rng,
) -> anyhow::Result<(Plain, Vec<EnrollmentId>, Vec<(Embedding, Wallet)>)> {
    // The records the nodes' append path would have written.
    let mut preload = Preload::new("sanctuary-bench", "bench-preload")?;
    let mut plain = Plain {
        dim: params.dim,
        rows: Vec::with_capacity(args.enrolled * params.dim),
        threshold: params.threshold_int(),
    };
    let mut ids = Vec::with_capacity(args.enrolled);
    let mut kept = Vec::with_capacity(keep.len());
    let mut keep_iter = keep.iter().peekable();
    let b = bar(args.enrolled, "preloading", args.json);
    let time_ms = now_ms();
    let mut seq = 0u64;
    while (seq as usize) < args.enrolled {
        let end = (seq as usize + args.batch.max(1)).min(args.enrolled);
        let mut ops: [Vec<AppliedOp>; 3] = Default::default();
        for i in seq as usize..end {
            let e = synth::embedding(rng, params.dim);
            let q = synth::quantize(&e, params)?;
            let subject = if keep_iter.peek() == Some(&&i) {
                keep_iter.next();
                let w = Wallet::create(OffsetDateTime::now_utc());
                let key = w.subject().to_hex();
                kept.push((e, w));
                Some(key)
            } else {
                None
            };
            let mut ring: Vec<u32> = q.to_ring();
            let shares = deal(&ring, &mut rand::rng());
            ring.zeroize();
            plain.push(&q);
            let id = EnrollmentId(rand::random());
            ids.push(id);
            let [s0, s1, s2] = &shares;
            let records = preload
                .enroll(
                    time_ms,
                    id,
                    TemplateKind::Embedding,
                    [share_to_bytes(s0), share_to_bytes(s1), share_to_bytes(s2)],
                    subject,
                )
                .await?;
            for (party_ops, r) in ops.iter_mut().zip(records) {
                party_ops.push(r);
            }
        }
        let [o0, o1, o2] = &ops;
        let (r0, r1, r2) = tokio::join!(
            stores[0].apply_batch(o0),
            stores[1].apply_batch(o1),
            stores[2].apply_batch(o2)
        );
        r0.context("preloading P0's store")?;
        r1.context("preloading P1's store")?;
        r2.context("preloading P2's store")?;
        b.inc((end - seq as usize) as u64);
        seq = end as u64;
    }
    b.finish_and_clear();
    Ok((plain, ids, kept))
}

/// Runs `sanctuary bench network` with the `sanctuary` executable `exe`.
pub fn run(exe: &std::path::Path, args: &BenchNetworkArgs) -> anyhow::Result<ExitCode> {
    if args.enrolled == 0 {
        bail!("--enrolled must be at least 1");
    }
    let started = Instant::now();
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("sanctuary-bench-network-")
                .tempdir()?;
            tmp.path().to_owned()
        }
    };
    let net_path = sanctuary_node::init_network(
        &dir,
        ["127.0.0.1"; 3],
        "sanctuary-bench",
        Default::default(),
    )?;
    let net = NetworkFile::load(&net_path)?;
    let params = net.matching.embedding;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let mut report = Report {
        nodes: 3,
        storage: "sqlite",
        enrolled: args.enrolled,
        dim: params.dim,
        share_mib_per_node: (args.enrolled * params.dim * 8) as f64 / (1 << 20) as f64,
        ..Default::default()
    };

    // 1. Preload every node's store.
    let genuine_n = args.dedupes.div_ceil(2).max(args.verifies);
    let mut keep: Vec<usize> = (0..genuine_n)
        .map(|_| rng.random_range(0..args.enrolled))
        .collect();
    keep.sort_unstable();
    keep.dedup();
    if !args.json {
        eprintln!(
            "preloading {} enrollments into 3 SQLite stores in {} ...",
            args.enrolled,
            dir.display()
        );
    }
    let t = Instant::now();
    let (mut plain, ids, mut kept) = rt.block_on(async {
        let mut stores = Vec::new();
        for i in 0..3 {
            let cfg = NodeConfig::load(&dir.join(format!("node-{i}/node.toml")))?;
            stores.push(Store::open(&cfg.storage_url()).await?);
        }
        let stores: [Store; 3] = stores
            .try_into()
            .map_err(|_| anyhow::anyhow!("expected three stores"))?;
        let out = preload(args, &stores, &params, &keep, &mut rng).await;
        for s in &stores {
            s.close().await;
        }
        out
    })?;
    report.preload_seconds = t.elapsed().as_secs_f64();
    report.preload_per_s = args.enrolled as f64 / report.preload_seconds;

    // 2. Start the nodes: each loads its shares, then links up.
    let t = Instant::now();
    let mut nodes = Nodes::start(exe, &dir)?;
    let client = Client::new(net)?;
    let outcome = rt.block_on(async {
        wait_ready(&client, Duration::from_secs(3600)).await?;
        report.startup_seconds = t.elapsed().as_secs_f64();
        let max = |field| {
            nodes
                .pids()
                .iter()
                .filter_map(|&p| status_mib(p, field))
                .fold(0.0, f64::max)
        };
        report.node_rss_mib_max = max("VmRSS:");
        report.node_peak_rss_mib_max = max("VmHWM:");
        report.node_rss_over_shares = report.node_rss_mib_max / report.share_mib_per_node;
        if !args.json {
            eprintln!(
                "nodes ready in {:.1} s; measuring ...",
                report.startup_seconds
            );
        }
        measure(
            args,
            &client,
            &params,
            &mut plain,
            &ids,
            &keep,
            &mut kept,
            &mut report,
        )
        .await
    });
    nodes.stop();
    outcome?;
    report.seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_report(&report);
    }
    Ok(if report.disagreements_with_plaintext == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[allow(clippy::too_many_arguments)] // one call site; the pieces of one run
async fn measure(
    args: &BenchNetworkArgs,
    client: &Client,
    params: &EmbeddingParams,
    plain: &mut Plain,
    ids: &[EnrollmentId],
    keep: &[usize],
    kept: &mut [(Embedding, Wallet)],
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed ^ 0x5eed);
    let network = client.network().network.clone();
    let consent = |w: &mut Wallet, audience: &str, purpose: Purpose| -> anyhow::Result<Consent> {
        let now = OffsetDateTime::now_utc();
        let issued = w.issue_token(
            &TokenRequest {
                network: NetworkId::new(&network)?,
                audience: RelyingPartyId::new(audience)?,
                purposes: vec![purpose],
                expires_at: now + time::Duration::hours(1),
                max_uses: Some(1),
            },
            now,
        )?;
        Ok(Consent {
            relying_party: audience.into(),
            token: issued.token,
        })
    };

    // Dedupe (1:N through MPC) vs a plaintext scan of the same data.
    let mut plain_s = 0.0;
    let t = Instant::now();
    let mut mpc_s = 0.0;
    for i in 0..args.dedupes {
        let probe = if i % 2 == 0 && !kept.is_empty() {
            synth::genuine_embedding(&mut rng, &kept[i / 2 % kept.len()].0, 0.5)
        } else {
            synth::embedding(&mut rng, params.dim)
        };
        let q = synth::quantize(&probe, params)?;
        let tp = Instant::now();
        let expect = plain.any_match(&q);
        plain_s += tp.elapsed().as_secs_f64();
        let tm = Instant::now();
        // The person at the site consents to the check.
        let mut person = Wallet::create(OffsetDateTime::now_utc());
        let c = consent(&mut person, "bench-site.example", Purpose::Dedupe)?;
        let got = client
            .dedupe(&Template::Embedding(q), &c, &person.subject())
            .await?;
        mpc_s += tm.elapsed().as_secs_f64();
        report.dedupe_hits += usize::from(got);
        report.disagreements_with_plaintext += usize::from(got != expect);
    }
    let _ = t;
    report.dedupes = args.dedupes;
    report.dedupe_ms_per_query = mpc_s * 1e3 / args.dedupes.max(1) as f64;
    report.plaintext_ms_per_query = plain_s * 1e3 / args.dedupes.max(1) as f64;

    // 1:1 verifications of preloaded people.
    let t = Instant::now();
    let n = args.verifies.min(kept.len());
    for i in 0..n {
        let q = synth::quantize(&synth::genuine_embedding(&mut rng, &kept[i].0, 0.5), params)?;
        let c = consent(&mut kept[i].1, "bench-bank.example", Purpose::Verify)?;
        let row = &plain.rows[keep[i] * params.dim..(keep[i] + 1) * params.dim];
        let expect_score: i64 = row
            .iter()
            .zip(q.values())
            .map(|(&a, &b)| i64::from(a) * i64::from(b))
            .sum();
        let expect = expect_score >= plain.threshold;
        let got = client
            .verify(ids[keep[i]], &Template::Embedding(q), &c)
            .await?;
        report.disagreements_with_plaintext += usize::from(got != expect);
    }
    report.verifies = n;
    report.verify_ms_per_query = t.elapsed().as_secs_f64() * 1e3 / n.max(1) as f64;

    // Enrollments of new people (each one an MPC dedupe, then stored on all
    // three nodes).
    let b = bar(args.enrolls, "enrolling", args.json);
    let t = Instant::now();
    for _ in 0..args.enrolls {
        let q = synth::quantize(&synth::embedding(&mut rng, params.dim), params)?;
        let expect_dup = plain.any_match(&q);
        let w = Wallet::create(OffsetDateTime::now_utc());
        let r = client
            .enroll(&Template::Embedding(q.clone()), &w, "bench-site.example")
            .await?;
        let dup = r.status == EnrollStatus::AlreadyEnrolled;
        report.disagreements_with_plaintext += usize::from(dup != expect_dup);
        if !dup {
            plain.push(&q);
        }
        b.inc(1);
    }
    b.finish_and_clear();
    let secs = t.elapsed().as_secs_f64();
    report.enrolls = args.enrolls;
    report.enroll_per_s = args.enrolls as f64 / secs;
    report.enroll_ms = secs * 1e3 / args.enrolls.max(1) as f64;

    // Every node holds the same count.
    for p in PartyId::ALL {
        let h = client.health(p).await?;
        let n = h["enrolled"]["embedding"].as_u64().unwrap_or(0) as usize;
        if n != plain.rows.len() / params.dim {
            bail!(
                "{p} holds {n} enrollments, expected {}",
                plain.rows.len() / params.dim
            );
        }
    }
    Ok(())
}

fn print_report(r: &Report) {
    println!(
        "Sanctuary network bench: {} nodes, {} storage, {} enrolled ({}-d embeddings)",
        r.nodes, r.storage, r.enrolled, r.dim
    );
    println!(
        "  preload          {:>9.1} s ({:.0} enrollments/s, dealt and written to 3 stores)",
        r.preload_seconds, r.preload_per_s
    );
    println!(
        "  node start-up    {:>9.1} s (load {:.0} MiB of shares per node; RSS {:.0} MiB = {:.2}x, peak {:.0} MiB)",
        r.startup_seconds,
        r.share_mib_per_node,
        r.node_rss_mib_max,
        r.node_rss_over_shares,
        r.node_peak_rss_mib_max
    );
    println!(
        "  enroll           {:>9.1} ms each ({:.2}/s, {} enrollments)",
        r.enroll_ms, r.enroll_per_s, r.enrolls
    );
    println!(
        "  dedupe           {:>9.1} ms per query ({} queries, {} hits); plaintext scan {:.2} ms",
        r.dedupe_ms_per_query, r.dedupes, r.dedupe_hits, r.plaintext_ms_per_query
    );
    println!(
        "  verify           {:>9.1} ms per query ({} queries)",
        r.verify_ms_per_query, r.verifies
    );
    println!(
        "  disagreements with the plaintext matcher: {}",
        r.disagreements_with_plaintext
    );
    println!("  finished in {:.1} s", r.seconds);
}
