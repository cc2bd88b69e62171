//! `sanctuary demo`: the README's main command. Brings up a whole local
//! network as three separate node processes (embedded SQLite storage,
//! loopback mutual TLS), runs an enrollment/verification/dedupe scenario
//! against it, compares every decision with the plaintext matcher, reports,
//! and shuts the nodes down.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use rand::SeedableRng;
use sanctuary_node::wire::EnrollStatus;
use sanctuary_node::{Client, NetworkFile};
use sanctuary_share::PartyId;
use sanctuary_template::{EmbeddingParams, Template};
use serde::Serialize;

use crate::cli::DemoArgs;
use crate::faces::{self, Population, RealFaces};
use crate::synth;

/// Node processes that are stopped (SIGTERM, then SIGKILL) when dropped, so
/// no node outlives the demo, whatever path it leaves by. Also used by
/// `sanctuary bench network`.
pub(crate) struct Nodes {
    children: Vec<Child>,
}

impl Nodes {
    pub(crate) fn start(dir: &Path) -> anyhow::Result<Nodes> {
        let exe = std::env::current_exe().context("cannot find the sanctuary executable")?;
        let mut nodes = Nodes {
            children: Vec::new(),
        };
        for i in 0..3 {
            let node_dir = dir.join(format!("node-{i}"));
            let log = std::fs::File::create(node_dir.join("node.log"))?;
            let child = Command::new(&exe)
                .arg("node")
                .arg("--config")
                .arg(node_dir.join("node.toml"))
                .env("SANCTUARY_LOG", "info")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .with_context(|| format!("cannot start node {i}"))?;
            nodes.children.push(child);
        }
        Ok(nodes)
    }

    /// The node processes' ids, in party order.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    pub(crate) fn stop(&mut self) {
        for c in &self.children {
            if let Ok(pid) = i32::try_from(c.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for c in &mut self.children {
            loop {
                match c.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(20))
                    }
                    _ => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                }
            }
        }
        self.children.clear();
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug, Default, Serialize)]
struct DemoReport {
    nodes: usize,
    storage: String,
    templates: String,
    /// Real identities enrolled (their first image); 0 when synthetic only.
    real_faces_enrolled: usize,
    /// Face images embedded by the capture pipeline for the demo.
    face_images_embedded: usize,
    /// Wall-clock seconds spent loading the face models and embedding.
    face_embed_seconds: f64,
    face_dataset: Option<PathBuf>,
    face_credit: Option<&'static str>,
    population: usize,
    enrolled: usize,
    duplicates_tried: usize,
    duplicates_refused: usize,
    genuine_accepted: usize,
    genuine_total: usize,
    impostor_accepted: usize,
    impostor_total: usize,
    dedupe_hits: usize,
    dedupe_total: usize,
    deletions_verified: usize,
    disagreements_with_plaintext: usize,
    enroll_per_s: f64,
    verify_ms_per_query: f64,
    dedupe_ms_per_query: f64,
    seconds: f64,
    network_dir: Option<PathBuf>,
}

pub(crate) async fn wait_ready(client: &Client, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    for party in PartyId::ALL {
        loop {
            match client.health(party).await {
                Ok(h) if h["ready"] == true => break,
                _ if Instant::now() > deadline => {
                    bail!("node {party} did not become ready within {limit:?} (see its node.log)")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    Ok(())
}

fn bar(n: usize, msg: &'static str, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(n as u64);
    if let Ok(s) = ProgressStyle::with_template("{msg:12} {bar:40} {pos}/{len} {per_sec}") {
        b.set_style(s);
    }
    b.set_message(msg);
    b
}

async fn scenario(
    args: &DemoArgs,
    client: &Client,
    faces: Option<RealFaces>,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let params = EmbeddingParams {
        ..client.network().matching.embedding
    };
    let t_int = params.threshold_int();
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed);
    let quiet = args.json;
    let people = Population::new(faces, args.population, params, &mut rng);
    report.templates = if people.real_count() > 0 {
        format!(
            "{} real faces (capture pipeline) + {} synthetic {}-d embeddings (seed {})",
            people.real_count(),
            people.len() - people.real_count(),
            params.dim,
            args.seed
        )
    } else {
        format!("synthetic {}-d embeddings (seed {})", params.dim, args.seed)
    };

    // Enroll the population (real identities first).
    let mut enrolled_q: Vec<_> = (0..people.len())
        .map(|k| people.enrollment(k))
        .collect::<Result<_, _>>()?;
    let mut ids = Vec::new();
    let b = bar(people.len(), "enrolling", quiet);
    let t0 = Instant::now();
    for (i, q) in enrolled_q.iter().enumerate() {
        // The plaintext matcher says whether this one duplicates an earlier enrollee.
        let expect_dup = enrolled_q[..i]
            .iter()
            .zip(&ids)
            .any(|(e, id): (_, &Option<_>)| id.is_some() && q.matches(e, t_int));
        let r = client.enroll(&Template::Embedding(q.clone()), None).await?;
        let dup = r.status == EnrollStatus::AlreadyEnrolled;
        if dup != expect_dup {
            report.disagreements_with_plaintext += 1;
        }
        ids.push(r.enrollment_id);
        b.inc(1);
    }
    b.finish_and_clear();
    report.enroll_per_s = people.len() as f64 / t0.elapsed().as_secs_f64();
    report.enrolled = ids.iter().filter(|i| i.is_some()).count();
    report.real_faces_enrolled = ids[..people.real_count()]
        .iter()
        .filter(|i| i.is_some())
        .count();

    // Re-enrolment attempts: fresh captures of enrolled people (another
    // image of a real identity where there are any).
    let dup_n = (args.population / 20).max(1).min(args.population);
    report.duplicates_tried = dup_n;
    for _ in 0..dup_n {
        let k = people.pick(&mut rng);
        let probe = people.capture(&mut rng, k)?;
        let expect = enrolled_q
            .iter()
            .zip(&ids)
            .any(|(e, id)| id.is_some() && probe.matches(e, t_int));
        let r = client
            .enroll(&Template::Embedding(probe.clone()), None)
            .await?;
        let refused = r.status == EnrollStatus::AlreadyEnrolled;
        if refused {
            report.duplicates_refused += 1;
        }
        if refused != expect {
            report.disagreements_with_plaintext += 1;
        }
        if let Some(id) = r.enrollment_id {
            // Not recognised: now enrolled too, and later checks expect it.
            enrolled_q.push(probe);
            ids.push(Some(id));
        }
    }

    // 1:1 verifications: genuine (own enrollment) and impostor (someone else's).
    let checks = args.checks.min(args.population);
    let b = bar(2 * checks, "verifying", quiet);
    let t1 = Instant::now();
    let mut verifies = 0;
    for _ in 0..checks {
        let k = people.pick(&mut rng);
        let Some(id) = ids[k] else { continue };
        let probe = people.capture(&mut rng, k)?;
        let expect = probe.matches(&enrolled_q[k], t_int);
        let got = client.verify(id, &Template::Embedding(probe)).await?;
        report.genuine_total += 1;
        report.genuine_accepted += usize::from(got);
        report.disagreements_with_plaintext += usize::from(got != expect);
        verifies += 1;
        b.inc(1);

        let other = people.other(&mut rng, k);
        let probe = people.capture(&mut rng, other)?;
        let expect = probe.matches(&enrolled_q[k], t_int);
        let got = client.verify(id, &Template::Embedding(probe)).await?;
        report.impostor_total += 1;
        report.impostor_accepted += usize::from(got);
        report.disagreements_with_plaintext += usize::from(got != expect);
        verifies += 1;
        b.inc(1);
    }
    b.finish_and_clear();
    report.verify_ms_per_query = t1.elapsed().as_secs_f64() * 1e3 / verifies.max(1) as f64;

    // 1:N dedupe checks: half enrolled people, half strangers.
    let dn = checks.min(50);
    let t2 = Instant::now();
    for i in 0..dn {
        let probe = if i % 2 == 0 {
            let k = people.pick(&mut rng);
            people.capture(&mut rng, k)?
        } else {
            synth::quantize(&synth::embedding(&mut rng, params.dim), &params)?
        };
        let expect = enrolled_q
            .iter()
            .zip(&ids)
            .any(|(e, id)| id.is_some() && probe.matches(e, t_int));
        let got = client.dedupe(&Template::Embedding(probe)).await?;
        report.dedupe_total += 1;
        report.dedupe_hits += usize::from(got);
        report.disagreements_with_plaintext += usize::from(got != expect);
    }
    report.dedupe_ms_per_query = t2.elapsed().as_secs_f64() * 1e3 / dn.max(1) as f64;

    // Withdrawal: delete a few enrollments; the same person is then no
    // longer found by dedupe.
    for k in 0..people.len().min(3) {
        let Some(id) = ids[k] else { continue };
        client.delete(id).await?;
        ids[k] = None;
        let expect = enrolled_q
            .iter()
            .zip(&ids)
            .any(|(e, id)| id.is_some() && enrolled_q[k].matches(e, t_int));
        let found = client
            .dedupe(&Template::Embedding(enrolled_q[k].clone()))
            .await?;
        if !found && !expect {
            report.deletions_verified += 1;
        }
        report.disagreements_with_plaintext += usize::from(found != expect);
    }
    Ok(())
}

pub(crate) fn run(args: &DemoArgs) -> anyhow::Result<ExitCode> {
    if args.population < 2 {
        bail!("--population must be at least 2");
    }
    let started = Instant::now();
    let tmp;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => {
            tmp = tempfile::Builder::new()
                .prefix("sanctuary-demo-")
                .tempdir()?;
            tmp.path().to_owned()
        }
    };
    let net_path =
        sanctuary_node::init_network(&dir, ["127.0.0.1"; 3], "sanctuary-demo", Default::default())?;
    let net = NetworkFile::load(&net_path)?;
    let mut nodes = Nodes::start(&dir)?;
    // Embedding the faces overlaps with the nodes starting up.
    let faces = real_faces(args, &net.matching.embedding)?;
    let client = Client::new(net)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut report = DemoReport {
        nodes: 3,
        storage: "sqlite".into(),
        population: args.population,
        ..Default::default()
    };
    if let Some(f) = &faces {
        report.face_images_embedded = f.images - f.failed;
        report.face_embed_seconds = f.seconds;
        report.face_dataset = Some(f.dir.clone());
        report.face_credit = faces::credit(&f.dir);
    }
    if !args.json {
        eprintln!(
            "started 3 node processes in {} (mutual TLS on loopback, SQLite storage)",
            dir.display()
        );
    }
    let outcome = rt.block_on(async {
        wait_ready(&client, Duration::from_secs(60)).await?;
        let h = client.health(PartyId::P0).await?;
        if let Some(s) = h["storage"].as_str() {
            report.storage = s.to_owned();
        }
        scenario(args, &client, faces, &mut report).await
    });
    nodes.stop();
    outcome?;
    report.seconds = started.elapsed().as_secs_f64();
    report.network_dir = args.dir.clone();
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

/// The real faces to enroll: `--faces`, else the default folder where
/// present (falling back to synthetic with a message if it cannot be used),
/// none with `--synthetic`.
fn real_faces(args: &DemoArgs, params: &EmbeddingParams) -> anyhow::Result<Option<RealFaces>> {
    let per_identity = usize::from(args.face_images);
    let identities = args.population;
    if args.synthetic {
        return Ok(None);
    }
    if let Some(dir) = &args.faces {
        return faces::load(dir, identities, per_identity, params, args.json).map(Some);
    }
    let Some(dir) = faces::find_default() else {
        eprintln!(
            "no face images at {}: enrolling synthetic embeddings (see --faces)",
            faces::default_dirs()[0].display()
        );
        return Ok(None);
    };
    if !args.json {
        eprintln!("embedding face images from {} ...", dir.display());
    }
    match faces::load(&dir, identities, per_identity, params, args.json) {
        Ok(f) => Ok(Some(f)),
        Err(e) => {
            eprintln!(
                "cannot use the faces in {}: {e:#}; enrolling synthetic embeddings",
                dir.display()
            );
            Ok(None)
        }
    }
}

fn print_report(r: &DemoReport) {
    println!(
        "Sanctuary demo: {} nodes, {} storage, {}",
        r.nodes, r.storage, r.templates
    );
    if let Some(dir) = &r.face_dataset {
        println!(
            "  real faces           {:>6} enrolled, {} images embedded in {:.1} s from {}",
            r.real_faces_enrolled,
            r.face_images_embedded,
            r.face_embed_seconds,
            dir.display()
        );
    }
    if let Some(credit) = r.face_credit {
        println!("  ({credit})");
    }
    println!(
        "  enrolled             {:>6} of {} ({:.1} enrollments/s, each deduplicated by MPC first)",
        r.enrolled, r.population, r.enroll_per_s
    );
    println!(
        "  re-enrolment refused {:>6} of {}",
        r.duplicates_refused, r.duplicates_tried
    );
    println!(
        "  genuine accepted     {:>6} of {}",
        r.genuine_accepted, r.genuine_total
    );
    println!(
        "  impostors accepted   {:>6} of {}",
        r.impostor_accepted, r.impostor_total
    );
    println!(
        "  dedupe hits          {:>6} of {} ({:.1} ms per query)",
        r.dedupe_hits, r.dedupe_total, r.dedupe_ms_per_query
    );
    println!(
        "  verify latency       {:>9.1} ms per query",
        r.verify_ms_per_query
    );
    println!("  deletions verified   {:>6}", r.deletions_verified);
    println!(
        "  disagreements with the plaintext matcher: {}",
        r.disagreements_with_plaintext
    );
    println!(
        "  finished in {:.1} s; all node processes stopped",
        r.seconds
    );
}
