//! `sanctuary eval`: accuracy of the capture pipeline on a labelled dataset
//! (`sanctuary_capture::eval`), then the same pair decisions re-run through
//! three-party MPC in this process.
//!
//! Three decisions exist for every pair:
//! * float: the capture crate's score against the report's threshold;
//! * quantised: the plaintext reference matcher of `sanctuary-template`
//!   (8-bit embeddings and an integer threshold; iris thresholds as exact
//!   rationals `p / 10^4`), which is what the network evaluates;
//! * MPC: the secret-shared matcher of `sanctuary-mpc`.
//!
//! MPC must agree with the quantised matcher on every pair
//! (`mpc_disagreements == 0`); quantised and float decisions may differ on
//! pairs scored right at the threshold (`quantization_flips`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use sanctuary_capture::eval::{
    self as capture_eval, EvalOptions, EvalReport, Evaluation, Modality, Template as Sample,
};
use sanctuary_mpc::{EmbeddingGallery, Gallery, IrisGallery};
use sanctuary_share::PartyId;
use sanctuary_template::{EmbeddingParams, IrisCode, IrisParams, QuantizedEmbedding};
use serde::Serialize;

use crate::local::{self, Block};

/// `sanctuary eval` options.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Labelled image folder: `ID/K.ext` sub-folders or `ID_K.ext` files
    /// (faces, or pre-normalised iris strips at least 3x wider than tall).
    #[arg(long)]
    pub dataset: PathBuf,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
    /// Where to write `det.svg` and `histogram.svg` (default: a new
    /// directory under the system temporary directory).
    #[arg(long)]
    pub plots: Option<PathBuf>,
    /// Re-run only the first N pairs through MPC (default: every pair for
    /// faces; the pairs within the first 20 identities for iris).
    #[arg(long)]
    pub mpc_pairs: Option<usize>,
}

/// Iris cross-checks cover the pairs within this many identities by default.
const DEFAULT_IRIS_IDENTITIES: usize = 20;

/// Comparisons (query x entry x rotation) per MPC block: bounds memory.
const BLOCK_COMPARISONS: usize = 1 << 16;

/// What `sanctuary eval --json` prints: the capture report, flattened, plus
/// the MPC cross-check.
#[derive(Debug, Serialize)]
pub(crate) struct EvalOutput {
    #[serde(flatten)]
    report: EvalReport,
    /// Pairs re-run through MPC.
    mpc_pairs_checked: usize,
    /// Checked pairs where MPC and the quantised plaintext matcher disagree.
    mpc_disagreements: usize,
    /// Checked pairs where the quantised decision differs from the float one.
    quantization_flips: usize,
    /// Genuine pairs matched by MPC, among those checked.
    mpc_genuine_matched: usize,
    /// Impostor pairs matched by MPC, among those checked.
    mpc_impostor_matched: usize,
    /// The threshold the quantised and MPC matchers apply: integer dot
    /// product (faces) or numerator over 10^4 (iris).
    mpc_threshold_int: i64,
    /// Wall-clock seconds of the MPC cross-check (sharing, three parties on
    /// threads over in-process channels, opening).
    mpc_seconds: f64,
}

/// The quantised templates of a dataset, as the network would hold them.
enum Quantised {
    Face {
        templates: Vec<QuantizedEmbedding>,
        params: EmbeddingParams,
    },
    Iris {
        templates: Vec<IrisCode>,
        params: IrisParams,
    },
}

impl Quantised {
    fn new(ev: &Evaluation, options: &EvalOptions) -> anyhow::Result<Self> {
        let r = &ev.report;
        Ok(match r.modality {
            Modality::Face => {
                let params = EmbeddingParams {
                    dim: sanctuary_capture::EMBEDDING_DIM,
                    threshold: r.threshold as f32,
                    ..Default::default()
                };
                params
                    .validate()
                    .with_context(|| format!("face threshold {}", r.threshold))?;
                let templates = ev
                    .samples
                    .iter()
                    .map(|s| match &s.template {
                        Sample::Face(e) => e
                            .quantize(&params)
                            .with_context(|| format!("quantising {}", s.path.display())),
                        _ => bail!("{}: not a face template", s.path.display()),
                    })
                    .collect::<anyhow::Result<_>>()?;
                Quantised::Face { templates, params }
            }
            Modality::Iris => {
                let params = IrisParams {
                    rotations: usize::try_from(options.max_shift)?,
                    threshold: r.threshold,
                    ..IrisParams::default()
                };
                params
                    .validate()
                    .with_context(|| format!("iris threshold {}", r.threshold))?;
                let templates = ev
                    .samples
                    .iter()
                    .map(|s| match &s.template {
                        // The capture's code is the template type, in the
                        // network's layout: no conversion.
                        Sample::Iris(c) => Ok(c.clone()),
                        _ => bail!("{}: not an iris template", s.path.display()),
                    })
                    .collect::<anyhow::Result<_>>()?;
                Quantised::Iris { templates, params }
            }
            _ => bail!("unsupported modality {:?}", r.modality),
        })
    }

    fn threshold_int(&self) -> i64 {
        match self {
            Quantised::Face { params, .. } => params.threshold_int(),
            Quantised::Iris { params, .. } => params.threshold_num(),
        }
    }

    /// The plaintext reference decision for samples `a` and `b`.
    fn matches(&self, a: usize, b: usize) -> bool {
        match self {
            Quantised::Face { templates, params } => {
                templates[a].matches(&templates[b], params.threshold_int())
            }
            Quantised::Iris { templates, params } => templates[a].matches(&templates[b], params),
        }
    }

    fn ring(&self, i: usize) -> Vec<u32> {
        match self {
            Quantised::Face { templates, .. } => templates[i].to_ring(),
            Quantised::Iris { templates, .. } => templates[i].to_ring(),
        }
    }

    fn rotations(&self) -> usize {
        match self {
            Quantised::Face { .. } => 1,
            Quantised::Iris { params, .. } => params.rotation_count(),
        }
    }

    fn galleries(&self) -> anyhow::Result<[Gallery<u32>; 3]> {
        let make = |party| -> anyhow::Result<Gallery<u32>> {
            Ok(match self {
                Quantised::Face { params, .. } => Gallery::Embedding {
                    gallery: EmbeddingGallery::new(party, params.dim),
                    threshold: params.threshold_int(),
                },
                Quantised::Iris { params, .. } => Gallery::Iris(IrisGallery::new(party, *params)?),
            })
        };
        Ok([make(PartyId::P0)?, make(PartyId::P1)?, make(PartyId::P2)?])
    }
}

/// Indices into `ev.pairs` to re-run through MPC.
fn selected_pairs(ev: &Evaluation, limit: Option<usize>) -> Vec<usize> {
    match (limit, ev.report.modality) {
        (Some(n), _) => (0..n.min(ev.pairs.len())).collect(),
        (None, Modality::Iris) => {
            // Samples are sorted by identity: the first identities are a prefix.
            let mut ids = std::collections::BTreeSet::new();
            let prefix = ev
                .samples
                .iter()
                .take_while(|s| {
                    ids.insert(s.identity.as_str());
                    ids.len() <= DEFAULT_IRIS_IDENTITIES
                })
                .count();
            (0..ev.pairs.len())
                .filter(|&i| ev.pairs[i].b < prefix)
                .collect()
        }
        (None, _) => (0..ev.pairs.len()).collect(),
    }
}

/// Blocks of consecutive queries, each against the span of entries its
/// pairs need, and for each selected pair its (block, bit index).
fn plan(
    ev: &Evaluation,
    selected: &[usize],
    rotations: usize,
) -> (Vec<Block>, Vec<(usize, usize)>) {
    // Per query (pair.a, ascending): the span of entries it is paired with.
    let mut spans: Vec<(usize, usize, usize)> = Vec::new(); // (a, first b, last b)
    for &i in selected {
        let p = ev.pairs[i];
        match spans.last_mut() {
            Some((a, lo, hi)) if *a == p.a => {
                *lo = (*lo).min(p.b);
                *hi = (*hi).max(p.b);
            }
            _ => spans.push((p.a, p.b, p.b)),
        }
    }
    let n = ev.samples.len().max(1);
    let per_block = (BLOCK_COMPARISONS / (n * rotations)).max(1);
    let mut blocks = Vec::new();
    let mut block_of_query = std::collections::BTreeMap::new();
    for chunk in spans.chunks(per_block) {
        let (first, last) = (chunk[0].0, chunk[chunk.len() - 1].0);
        let lo = chunk.iter().map(|s| s.1).min().unwrap_or(0);
        let hi = chunk.iter().map(|s| s.2).max().unwrap_or(0);
        for s in chunk {
            block_of_query.insert(s.0, blocks.len());
        }
        blocks.push(Block {
            queries: first..last + 1,
            entries: lo..hi + 1,
        });
    }
    let locate = selected
        .iter()
        .map(|&i| {
            let p = ev.pairs[i];
            let bi = block_of_query[&p.a];
            let b = &blocks[bi];
            (
                bi,
                (p.a - b.queries.start) * b.entries.len() + (p.b - b.entries.start),
            )
        })
        .collect();
    (blocks, locate)
}

fn cross_check(
    ev: &Evaluation,
    options: &EvalOptions,
    limit: Option<usize>,
) -> anyhow::Result<EvalOutput> {
    let started = Instant::now();
    let q = Quantised::new(ev, options)?;
    let selected = selected_pairs(ev, limit);
    let float = ev.decisions();
    let (blocks, locate) = plan(ev, &selected, q.rotations());
    // Everything up to the last sample any selected pair uses.
    let used = selected
        .iter()
        .map(|&i| ev.pairs[i].b + 1)
        .max()
        .unwrap_or(0);
    let mut galleries = q.galleries()?;
    let mut rings = Vec::with_capacity(used);
    for i in 0..used {
        let ring = q.ring(i);
        local::push_dealt(&mut galleries, &ring)?;
        rings.push(ring);
    }
    let queries = local::deal_queries(&rings);
    for r in &mut rings {
        zeroize::Zeroize::zeroize(r);
    }
    drop(rings);
    let opened = if blocks.is_empty() {
        Vec::new()
    } else {
        local::match_blocks(galleries, queries, blocks)?
    };
    let mut out = EvalOutput {
        report: ev.report.clone(),
        mpc_pairs_checked: selected.len(),
        mpc_disagreements: 0,
        quantization_flips: 0,
        mpc_genuine_matched: 0,
        mpc_impostor_matched: 0,
        mpc_threshold_int: q.threshold_int(),
        mpc_seconds: 0.0,
    };
    for (&i, &(block, bit)) in selected.iter().zip(&locate) {
        let p = ev.pairs[i];
        let mpc = opened[block][bit];
        let plain = q.matches(p.a, p.b);
        out.mpc_disagreements += usize::from(mpc != plain);
        out.quantization_flips += usize::from(plain != float[i]);
        if mpc {
            if p.genuine {
                out.mpc_genuine_matched += 1;
            } else {
                out.mpc_impostor_matched += 1;
            }
        }
    }
    out.mpc_seconds = started.elapsed().as_secs_f64();
    Ok(out)
}

fn default_plot_dir() -> anyhow::Result<PathBuf> {
    Ok(tempfile::Builder::new()
        .prefix("sanctuary-eval-")
        .tempdir()
        .context("cannot create a directory for the plots")?
        .keep())
}

/// Runs `sanctuary eval`.
pub fn run(args: &EvalArgs) -> anyhow::Result<ExitCode> {
    let dir = &args.dataset;
    if !dir.is_dir() {
        bail!(
            "dataset {} is not a readable directory (expected ID/K.ext sub-folders or ID_K.ext files)",
            dir.display()
        );
    }
    let plot_dir = match &args.plots {
        Some(p) => p.clone(),
        None => default_plot_dir()?,
    };
    let options = EvalOptions {
        plot_dir: Some(plot_dir),
        ..EvalOptions::default()
    };
    if !args.json {
        eprintln!("evaluating {} ...", dir.display());
    }
    let ev = capture_eval::evaluate(dir, &options)
        .with_context(|| format!("cannot evaluate dataset {}", dir.display()))?;
    for (path, err) in &ev.failures {
        eprintln!("skipped {}: {err}", path.display());
    }
    if !args.json {
        eprintln!(
            "re-running {} pairs through 3-party MPC ...",
            selected_pairs(&ev, args.mpc_pairs).len()
        );
    }
    let out = cross_check(&ev, &options, args.mpc_pairs)?;
    if args.json {
        println!("{}", serde_json::to_string(&out)?);
    } else {
        print_report(&out);
    }
    if out.mpc_disagreements > 0 {
        eprintln!(
            "error: MPC decisions differ from the quantised plaintext matcher on {} pairs",
            out.mpc_disagreements
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_report(o: &EvalOutput) {
    let r = &o.report;
    let pct = |x: f64| x * 100.0;
    println!(
        "dataset    {} ({:?}, {} images, {} identities, {} failed, {} whole-frame fallbacks)",
        r.dataset.display(),
        r.modality,
        r.images,
        r.identities,
        r.failed_images,
        r.whole_frame_fallbacks
    );
    println!(
        "pairs      {} genuine, {} impostor",
        r.genuine_pairs, r.impostor_pairs
    );
    println!(
        "EER        {:.2}% (threshold {:.4})",
        pct(r.eer),
        r.eer_threshold
    );
    println!(
        "FNMR       {:.2}% at FMR 1e-3 (operating threshold {:.4}{}), {:.2}% at FMR 1e-2",
        pct(r.fnmr_at_fmr_1e_3),
        r.threshold,
        if r.fmr_1e_3_resolvable {
            ""
        } else {
            "; too few impostor pairs to resolve 1e-3"
        },
        pct(r.fnmr_at_fmr_1e_2)
    );
    println!("speed      {:.1} ms per image", r.ms_per_image);
    println!(
        "MPC        {} pairs re-run by 3 parties: {} disagreements with the quantised matcher, \
         {} quantisation flips vs float ({:.1} s)",
        o.mpc_pairs_checked, o.mpc_disagreements, o.quantization_flips, o.mpc_seconds
    );
    if let Some(p) = &r.det_plot {
        println!("DET plot   {}", p.display());
    }
    if let Some(p) = &r.histogram_plot {
        println!("histogram  {}", p.display());
    }
}
