//! `sanctuary demo`: the README's main command. Brings up a whole local
//! network as three separate node processes (embedded SQLite storage,
//! loopback mutual TLS), runs an enrollment/verification/dedupe scenario
//! against it, compares every decision with the plaintext matcher, reports,
//! and shuts the nodes down.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use sanctuary_client::{Client, ClientError, Consent, EnrollmentId, NetworkFile};
use sanctuary_consent::{ConsentToken, NetworkId, Purpose, RelyingPartyId, TokenRequest, Wallet};
use sanctuary_proto::wire::{DedupeOp, EnrollStatus, IdentifyOp, Op};
use sanctuary_share::PartyId;
use sanctuary_template::{EmbeddingParams, Template};
use serde::Serialize;

use crate::faces::{self, Population, RealFaces};
use crate::nodes::{Nodes, wait_ready};
use crate::synth;

/// `sanctuary demo` options.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Number of people to enroll.
    #[arg(long, default_value_t = 500)]
    pub population: usize,
    /// Genuine and impostor verifications to run (each).
    #[arg(long, default_value_t = 100)]
    pub checks: usize,
    /// Keep the network's files here instead of a temporary directory.
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Seed for the generated population.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Enroll real faces from this labelled folder (`ID/K.ext` or
    /// `ID_K.ext`), one identity per person, embedded by the capture
    /// pipeline; synthetic embeddings fill the rest of the population.
    /// Default: `../shared/data/faces/orl` (ORL) where present.
    #[arg(long, conflicts_with = "synthetic")]
    pub faces: Option<PathBuf>,
    /// Use synthetic embeddings only, even where face images are present.
    #[arg(long)]
    pub synthetic: bool,
    /// Images embedded per real identity: the first is enrolled, the others
    /// are fresh captures for verification and re-enrolment attempts.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(2..=100))]
    pub face_images: u16,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Default, Serialize)]
struct DemoReport {
    nodes: usize,
    storage: String,
    templates: String,
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
    /// Real identities enrolled (their first image); 0 when synthetic only.
    real_faces_enrolled: usize,
    /// Face images embedded by the capture pipeline for the demo.
    face_images_embedded: usize,
    /// Wall-clock seconds spent loading the face models and embedding.
    face_embed_seconds: f64,
    face_dataset: Option<PathBuf>,
    face_credit: Option<&'static str>,
    forbidden_requests_tried: usize,
    forbidden_requests_refused: usize,
    refusals: Vec<String>,
    rogue_node_blocked: bool,
    /// Attacks by a rogue coordinator on the client's path (its own result
    /// key announced; a node's share replaced, at enrollment and at
    /// verification), each of which must end without a decision the client
    /// accepts.
    client_path_attacks_tried: usize,
    client_path_attacks_refused: usize,
    /// A node that sends a wrong score share (off by 2^31, consistently) on a
    /// network with malicious security: every honest node's proof check
    /// caught it and the client got no decision.
    cheating_detected: bool,
    /// Decisions the client accepted that differ from plaintext, on that
    /// network (must be 0).
    wrong_decisions_released: usize,
    /// The same cheating node on a semi-honest network: the wrong decisions
    /// the client accepted there (what malicious security prevents).
    semi_honest_wrong_decisions_released: usize,
    /// A node that refuses a subject's deletion (and keeps its share) is
    /// overruled: the other two delete, their log entries record the
    /// refusal, and they no longer hold the share.
    deletion_despite_refusing_node: bool,
    /// One person's face under one wallet and iris under another: no
    /// personhood credential for either (from the weaving scene).
    cross_modality_sybil_refused: bool,
    /// A second festival check-in of one person at one event was refused
    /// (from the weaving scene).
    double_checkin_refused: bool,
    /// That deletion erased the bodies of the subject's earlier log entries
    /// on every node; a fresh co-signed checkpoint, inclusion proofs of the
    /// erased leaves and the subject's audit all verify.
    erased_log_bodies_verified: bool,
    log_entries: u64,
    checkpoint_cosigners: usize,
    audit_entries_verified: usize,
    audit_mismatches: usize,
    tamper_detected: bool,
    disagreements_with_plaintext: usize,
    enroll_per_s: f64,
    verify_ms_per_query: f64,
    dedupe_ms_per_query: f64,
    seconds: f64,
    network_dir: Option<PathBuf>,
    #[serde(flatten)]
    weave: crate::WeaveReport,
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

/// Relying parties of the demo.
const SITE: &str = "enrollment-site.example";
const BANK: &str = "bank.example";

fn token(
    wallet: &mut Wallet,
    network: &str,
    audience: &str,
    purposes: &[Purpose],
    lifetime: time::Duration,
    max_uses: Option<u32>,
) -> anyhow::Result<Consent> {
    let now = time::OffsetDateTime::now_utc();
    let issued = wallet.issue_token(
        &TokenRequest {
            network: NetworkId::new(network)?,
            audience: RelyingPartyId::new(audience)?,
            purposes: purposes.to_vec(),
            expires_at: now + lifetime,
            max_uses,
        },
        now,
    )?;
    Ok(Consent {
        relying_party: audience.to_owned(),
        token: issued.token,
    })
}

/// What later scenes (audit, tamper) need from the main scenario.
struct Subjects {
    /// Wallets of the enrolled population, with how many log entries each
    /// subject's material tagged.
    wallets: Vec<Wallet>,
    tagged: Vec<usize>,
    ids: Vec<Option<EnrollmentId>>,
}

async fn scenario(
    args: &DemoArgs,
    client: &Client,
    faces: Option<RealFaces>,
    report: &mut DemoReport,
) -> anyhow::Result<Subjects> {
    let params = EmbeddingParams {
        ..client.network().matching.embedding
    };
    let network = client.network().network.clone();
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
    let long = time::Duration::minutes(30);

    // Enroll the population (real identities first): each person has a
    // wallet that signs their enrollment and binds it to their key.
    let mut wallets: Vec<Wallet> = (0..people.len())
        .map(|_| Wallet::create(time::OffsetDateTime::now_utc()))
        .collect();
    let mut tagged = vec![0usize; people.len()];
    // The subject whose consent the forbidden requests misuse, and a token
    // of theirs that will have expired by the time it is used.
    let victim = 3.min(people.len() - 1);
    let expired = token(
        &mut wallets[victim],
        &network,
        BANK,
        &[Purpose::Verify],
        time::Duration::seconds(1),
        None,
    )?;
    let expired_at = Instant::now() + Duration::from_secs(2);
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
        let r = client
            .enroll(&Template::Embedding(q.clone()), &wallets[i], SITE)
            .await?;
        tagged[i] += 1;
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
    // image of a real identity where there are any), under a new key
    // (someone trying to get a second identity).
    let dup_n = (args.population / 20).max(1).min(args.population);
    report.duplicates_tried = dup_n;
    for _ in 0..dup_n {
        let k = people.pick(&mut rng);
        let probe = people.capture(&mut rng, k)?;
        let expect = enrolled_q
            .iter()
            .zip(&ids)
            .any(|(e, id)| id.is_some() && probe.matches(e, t_int));
        let second_self = Wallet::create(time::OffsetDateTime::now_utc());
        let r = client
            .enroll(&Template::Embedding(probe.clone()), &second_self, SITE)
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

    // 1:1 verifications at a bank, each with the enrolled person's consent
    // token: genuine (their own capture) and impostor (someone else
    // presenting themselves as them).
    let checks = args.checks.min(args.population);
    let b = bar(2 * checks, "verifying", quiet);
    let t1 = Instant::now();
    let mut verifies = 0;
    for _ in 0..checks {
        let k = people.pick(&mut rng);
        let Some(id) = ids[k] else { continue };
        let consent = token(
            &mut wallets[k],
            &network,
            BANK,
            &[Purpose::Verify],
            long,
            Some(2),
        )?;
        let probe = people.capture(&mut rng, k)?;
        let expect = probe.matches(&enrolled_q[k], t_int);
        let got = client
            .verify(id, &Template::Embedding(probe), &consent)
            .await?;
        tagged[k] += 1;
        report.genuine_total += 1;
        report.genuine_accepted += usize::from(got);
        report.disagreements_with_plaintext += usize::from(got != expect);
        verifies += 1;
        b.inc(1);

        let other = people.other(&mut rng, k);
        let probe = people.capture(&mut rng, other)?;
        let expect = probe.matches(&enrolled_q[k], t_int);
        let got = client
            .verify(id, &Template::Embedding(probe), &consent)
            .await?;
        tagged[k] += 1;
        report.impostor_total += 1;
        report.impostor_accepted += usize::from(got);
        report.disagreements_with_plaintext += usize::from(got != expect);
        verifies += 1;
        b.inc(1);
    }
    b.finish_and_clear();
    report.verify_ms_per_query = t1.elapsed().as_secs_f64() * 1e3 / verifies.max(1) as f64;

    // 1:N dedupe checks at an enrollment site, with the consent of the
    // person in front of it: half enrolled people, half strangers.
    let dn = checks.min(50);
    let t2 = Instant::now();
    for i in 0..dn {
        let (probe, mut stranger, k) = if i % 2 == 0 {
            let k = people.pick(&mut rng);
            (people.capture(&mut rng, k)?, None, Some(k))
        } else {
            (
                synth::quantize(&synth::embedding(&mut rng, params.dim), &params)?,
                Some(Wallet::create(time::OffsetDateTime::now_utc())),
                None,
            )
        };
        let wallet = match (&mut stranger, k) {
            (Some(w), _) => w,
            (None, Some(k)) => &mut wallets[k],
            (None, None) => unreachable!("either a stranger or an enrolled person"),
        };
        let consent = token(wallet, &network, SITE, &[Purpose::Dedupe], long, Some(1))?;
        let subject = wallet.subject();
        if let Some(k) = k {
            tagged[k] += 1;
        }
        let expect = enrolled_q
            .iter()
            .zip(&ids)
            .any(|(e, id)| id.is_some() && probe.matches(e, t_int));
        let got = client
            .dedupe(&Template::Embedding(probe), &consent, &subject)
            .await?;
        report.dedupe_total += 1;
        report.dedupe_hits += usize::from(got);
        report.disagreements_with_plaintext += usize::from(got != expect);
    }
    report.dedupe_ms_per_query = t2.elapsed().as_secs_f64() * 1e3 / dn.max(1) as f64;

    // Forbidden requests: one of each kind, each must be refused with the
    // rule or check that forbids it.
    tokio::time::sleep_until(expired_at.into()).await;
    forbidden_requests(
        client,
        report,
        &network,
        (&mut wallets, &ids, &enrolled_q),
        victim,
        expired,
        &mut tagged,
    )
    .await?;

    // Withdrawal: subjects delete their enrollments (signed by their
    // wallet); the same person is then no longer found by dedupe, and no
    // node's database holds the share any more.
    for k in 0..people.len().min(3) {
        let Some(id) = ids[k] else { continue };
        client.delete(id, &wallets[k]).await?;
        tagged[k] += 1;
        ids[k] = None;
        let expect = enrolled_q
            .iter()
            .zip(&ids)
            .any(|(e, id)| id.is_some() && enrolled_q[k].matches(e, t_int));
        let checker = &mut wallets[k];
        let consent = token(checker, &network, SITE, &[Purpose::Dedupe], long, Some(1))?;
        tagged[k] += 1;
        let found = client
            .dedupe(
                &Template::Embedding(enrolled_q[k].clone()),
                &consent,
                &checker.subject(),
            )
            .await?;
        let gone = shares_gone(client, &id).await?;
        if !found && !expect && gone {
            report.deletions_verified += 1;
        }
        report.disagreements_with_plaintext += usize::from(found != expect);
    }
    Ok(Subjects {
        wallets,
        tagged,
        ids,
    })
}

/// Whether no node's database still holds the enrollment's share (read
/// from the SQLite files of the demo's own network).
async fn shares_gone(client: &Client, id: &EnrollmentId) -> anyhow::Result<bool> {
    let _ = client;
    let Some(dir) = DEMO_DIR.get() else {
        return Ok(false);
    };
    for i in 0..3 {
        let url = format!(
            "sqlite://{}",
            dir.join(format!("node-{i}/node.db")).display()
        );
        let store = sanctuary_store::Store::open(&url).await?;
        let held = store.has_share(id).await?;
        store.close().await;
        if held {
            return Ok(false);
        }
    }
    Ok(true)
}

static DEMO_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// One request of each forbidden kind; counts those refused with the
/// expected code.
async fn forbidden_requests(
    client: &Client,
    report: &mut DemoReport,
    network: &str,
    (wallets, ids, enrolled_q): (
        &mut [Wallet],
        &[Option<EnrollmentId>],
        &[sanctuary_template::QuantizedEmbedding],
    ),
    k: usize,
    expired: Consent,
    tagged: &mut [usize],
) -> anyhow::Result<()> {
    // An enrolled subject (not among those who delete later, 0..3).
    let Some(id) = ids[k] else {
        report
            .refusals
            .push("no enrolled subject to misuse; forbidden requests skipped".into());
        return Ok(());
    };
    let probe = Template::Embedding(enrolled_q[k].clone());
    let long = time::Duration::minutes(30);
    let mut mallory = Wallet::create(time::OffsetDateTime::now_utc());
    let mut tries: Vec<(&str, &str, Result<bool, ClientError>)> = Vec::new();

    tries.push((
        "open identification (\"who is this?\")",
        "no_open_identification",
        client.identify("data-merchant.example").await.map(|_| true),
    ));
    let c = token(
        &mut wallets[k],
        network,
        BANK,
        &[Purpose::Verify],
        long,
        None,
    )?;
    let wrong_rp = Consent {
        relying_party: "insurer.example".into(),
        token: c.token.clone(),
    };
    tries.push((
        "token used by another relying party",
        "token_wrong_audience",
        client.verify(id, &probe, &wrong_rp).await,
    ));
    let c = token(
        &mut wallets[k],
        network,
        BANK,
        &[Purpose::Dedupe],
        long,
        None,
    )?;
    tries.push((
        "token used for another purpose",
        "token_wrong_purpose",
        client.verify(id, &probe, &c).await,
    ));
    tries.push((
        "expired token",
        "token_expired",
        client.verify(id, &probe, &expired).await,
    ));
    let c = token(
        &mut wallets[k],
        network,
        BANK,
        &[Purpose::Verify],
        long,
        Some(1),
    )?;
    let first = client.verify(id, &probe, &c).await;
    tagged[k] += 1;
    if first.is_err() {
        anyhow::bail!("a valid single-use token was refused: {first:?}");
    }
    tries.push((
        "single-use token replayed",
        "token_replayed",
        client.verify(id, &probe, &c).await,
    ));
    let now = time::OffsetDateTime::now_utc();
    let issued = wallets[k].issue_token(
        &TokenRequest {
            network: NetworkId::new(network)?,
            audience: RelyingPartyId::new(BANK)?,
            purposes: vec![Purpose::Verify],
            expires_at: now + long,
            max_uses: None,
        },
        now,
    )?;
    client
        .revoke(
            &wallets[k],
            sanctuary_consent::Revocation::token(NetworkId::new(network)?, issued.id, now),
        )
        .await?;
    tagged[k] += 1;
    tries.push((
        "revoked token",
        "token_revoked",
        client
            .verify(
                id,
                &probe,
                &Consent {
                    relying_party: BANK.into(),
                    token: issued.token,
                },
            )
            .await,
    ));
    let forged = token(&mut mallory, network, BANK, &[Purpose::Verify], long, None)?;
    tries.push((
        "token signed by someone else",
        "token_forged",
        client.verify(id, &probe, &forged).await,
    ));
    tries.push((
        "malformed token",
        "token_malformed",
        client
            .verify(
                id,
                &probe,
                &Consent {
                    relying_party: BANK.into(),
                    token: ConsentToken::from_base64("bm90IGEgdG9rZW4")?,
                },
            )
            .await,
    ));
    tries.push((
        "deletion signed by someone else",
        "statement_wrong_subject",
        client.delete(id, &mallory).await.map(|_| true),
    ));
    // A relying party over its rate limit (2 per minute in the demo policy).
    let mut last = Ok(true);
    for _ in 0..3 {
        let c = token(
            &mut wallets[k],
            network,
            "scraper.example",
            &[Purpose::Verify],
            long,
            None,
        )?;
        last = client.verify(id, &probe, &c).await;
        tagged[k] += 1;
    }
    tries.push(("relying party over its rate limit", "rate_limit", last));
    // Refused requests that carried k's tokens are k's entries too: wrong
    // audience, wrong purpose, expired, replay, revoked.
    tagged[k] += 5;

    for (what, want, got) in tries {
        report.forbidden_requests_tried += 1;
        match got {
            Err(ClientError::Refused { code, party, .. }) if code == want => {
                report.forbidden_requests_refused += 1;
                report
                    .refusals
                    .push(format!("{what}: refused by {party} ({code})"));
            }
            other => report
                .refusals
                .push(format!("{what}: NOT refused as {want}: {other:?}")),
        }
    }
    Ok(())
}

/// Runs the demo with the `sanctuary` executable `exe` for the node processes.
pub fn run(exe: &std::path::Path, args: &DemoArgs) -> anyhow::Result<ExitCode> {
    if args.population < 4 {
        bail!("--population must be at least 4");
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
    let mut nodes = Nodes::start(exe, &dir)?;
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
    let _ = DEMO_DIR.set(dir.clone());
    let outcome = rt.block_on(async {
        wait_ready(&client, Duration::from_secs(60)).await?;
        let h = client.health(PartyId::P0).await?;
        if let Some(s) = h["storage"].as_str() {
            report.storage = s.to_owned();
        }
        let subjects = scenario(args, &client, faces, &mut report).await?;
        report.weave = crate::weave_scene::demo_weaving(&client, &dir, 3).await?;
        report.cross_modality_sybil_refused = report.weave.cross_modality_sybil_refused;
        report.double_checkin_refused = report.weave.double_checkin_refused;
        log_scene(&client, &subjects, &mut report).await?;
        Ok::<_, anyhow::Error>(subjects)
    });
    let outcome = outcome.and_then(|subjects| {
        tamper_scene(&dir, &mut nodes, &rt, &client, &subjects, &mut report)?;
        rogue_scene(&dir, &mut nodes, &rt, &client, &mut report)?;
        client_path_scene(&dir, &rt, &client, &mut report)?;
        rt.block_on(cheating_scene(&mut report))?;
        rt.block_on(rights_scene(&mut report))
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
    Ok(
        if report.disagreements_with_plaintext == 0
            && report.forbidden_requests_refused == report.forbidden_requests_tried
            && report.rogue_node_blocked
            && report.client_path_attacks_refused == report.client_path_attacks_tried
            && report.cheating_detected
            && report.wrong_decisions_released == 0
            && report.deletion_despite_refusing_node
            && report.cross_modality_sybil_refused
            && report.erased_log_bodies_verified
            && report.tamper_detected
            && report.audit_mismatches == 0
        {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        },
    )
}

/// The transparency log: get the whole log co-signed, and let subjects
/// audit their own entries against it.
async fn log_scene(
    client: &Client,
    subjects: &Subjects,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let note = client.cosign().await?;
    let verified = client.checkpoint_policy()?.verify(&note)?;
    report.log_entries = verified.size();
    report.checkpoint_cosigners = verified.signers().len();
    // Subjects 3.. audit their own entries (0..3 deleted their enrollment).
    for k in (3..subjects.wallets.len()).take(8) {
        let audit = client
            .audit_subject(PartyId::P1, subjects.wallets[k].audit_key())
            .await?;
        if audit.entries.len() == subjects.tagged[k] {
            report.audit_entries_verified += audit.entries.len();
        } else {
            report.audit_mismatches += 1;
        }
    }
    Ok(())
}

/// A rogue operator rewrites one entry in node 2's database (the relying
/// party of one of subject 3's verifications); the subject's audit against
/// node 2 catches it, while the other nodes still serve the true log.
fn tamper_scene(
    dir: &Path,
    nodes: &mut Nodes,
    rt: &tokio::runtime::Runtime,
    client: &Client,
    subjects: &Subjects,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let Some(k) = (3..subjects.wallets.len()).find(|&k| subjects.ids[k].is_some()) else {
        return Ok(());
    };
    let key = subjects.wallets[k].audit_key();
    let audit = rt.block_on(client.audit_subject(PartyId::P2, key))?;
    let Some(target) = audit
        .entries
        .iter()
        .find(|a| a.entry.relying_party.as_deref() == Some(BANK))
    else {
        return Ok(());
    };
    let original = target.entry.to_bytes();
    let forged = String::from_utf8_lossy(&original).replace(BANK, "bank.exbmple");
    nodes.stop_one(2);
    let db = dir.join("node-2/node.db");
    let mut bytes = std::fs::read(&db)?;
    let rewritten = match bytes
        .windows(original.len())
        .position(|w| w == original.as_slice())
    {
        Some(at) => {
            bytes[at..at + original.len()].copy_from_slice(forged.as_bytes());
            std::fs::write(&db, &bytes)?;
            true
        }
        None => false,
    };
    nodes.start_one(2)?;
    rt.block_on(async {
        wait_ready(client, Duration::from_secs(60)).await?;
        let caught = client.audit_subject(PartyId::P2, key).await.is_err();
        let honest = client.audit_subject(PartyId::P0, key).await.is_ok();
        let log = client.audit_log(None, true).await?;
        let flagged = log.tampered.iter().any(|(p, _)| *p == PartyId::P2);
        report.tamper_detected = rewritten && caught && honest && flagged;
        Ok(())
    })
}

/// A rogue operator: node 0's operator replaces it by a program with every
/// check removed and announces forbidden operations. The two honest nodes
/// refuse, record the attempt, and never start the computation. (Node 0
/// stays down afterwards: the demo ends here.)
fn rogue_scene(
    dir: &Path,
    nodes: &mut Nodes,
    rt: &tokio::runtime::Runtime,
    client: &Client,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    let cfg = crate::inproc::config(dir, 0)?;
    nodes.stop_one(0);
    rt.block_on(async {
        let before = client.health(PartyId::P1).await?["next_seq"]
            .as_u64()
            .unwrap_or(0);
        let attempts = crate::rogue::attempt(
            cfg,
            vec![
                Op::Identify(IdentifyOp {
                    relying_party: "data-merchant.example".into(),
                }),
                Op::Dedupe(DedupeOp {
                    kind: sanctuary_template::TemplateKind::Embedding,
                    relying_party: "data-merchant.example".into(),
                    subject: "00".repeat(32),
                    token: "no consent".into(),
                }),
            ],
        )
        .await?;
        for a in &attempts {
            report.refusals.push(format!(
                "rogue node 0 announced {}: {}{}",
                a.op,
                a.refusals
                    .iter()
                    .map(|(p, r)| format!(
                        "{p} refused ({})",
                        r.map_or("NOT REFUSED", |c| c.as_str())
                    ))
                    .collect::<Vec<_>>()
                    .join(", "),
                if a.computed {
                    "; COMPUTED"
                } else {
                    "; nothing computed"
                }
            ));
        }
        let all_refused = attempts.iter().all(|a| {
            !a.computed && a.refusals.len() == 2 && a.refusals.iter().all(|(_, r)| r.is_some())
        });
        // The honest nodes recorded both attempts as refused (each appends
        // its entry after the veto round the rogue already saw: wait for it).
        let mut recorded = true;
        for p in [PartyId::P1, PartyId::P2] {
            let deadline = Instant::now() + Duration::from_secs(10);
            while client.health(p).await?["next_seq"].as_u64().unwrap_or(0) < before + 2
                && Instant::now() < deadline
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let entries = client.entries(p, before, before + 2).await?;
            recorded &= entries.len() == 2
                && entries
                    .iter()
                    .filter_map(sanctuary_log::Leaf::entry)
                    .all(|e| matches!(e.outcome, sanctuary_log::Outcome::Refused { .. }));
        }
        report.rogue_node_blocked = all_refused && recorded;
        Ok(())
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

/// A small network of three in-process nodes in a temporary directory, for
/// a scene that needs its own (one node started with a fault).
struct MiniNetwork {
    _tmp: tempfile::TempDir,
    net: NetworkFile,
    client: Client,
    nodes: Vec<crate::inproc::Running>,
}

impl MiniNetwork {
    fn start(
        name: &str,
        matching: sanctuary_proto::MatchingConfig,
        faulty: usize,
        faults: impl Fn() -> sanctuary_node::Faults + Send + Clone + 'static,
    ) -> anyhow::Result<Self> {
        let tmp = tempfile::tempdir().context("temporary directory")?;
        let path = sanctuary_node::init_network(tmp.path(), ["127.0.0.1"; 3], name, matching)?;
        let net = NetworkFile::load(&path)?;
        let client = Client::new(net.clone())?;
        let mut nodes = Vec::new();
        for i in 0..3 {
            let cfg = crate::inproc::config(tmp.path(), i)?;
            nodes.push(if i == faulty {
                crate::inproc::start_with(cfg, faults.clone())
            } else {
                crate::inproc::start_with(cfg, sanctuary_node::Faults::none)
            });
        }
        Ok(Self {
            _tmp: tmp,
            net,
            client,
            nodes,
        })
    }

    async fn stop(self) {
        for n in self.nodes {
            crate::inproc::stop(n).await;
        }
    }
}

/// A subject's rights against a node that will not honour them: node 2
/// refuses every deletion and keeps its share. The subject deletes (with
/// erasure of their earlier log entries); the other two nodes carry it out
/// and record the refusal, and the erased bodies' leaves still verify.
async fn rights_scene(report: &mut DemoReport) -> anyhow::Result<()> {
    use sanctuary_log::{Leaf, Outcome};
    use sanctuary_node::Faults;
    let mini = MiniNetwork::start("rights-net", Default::default(), 2, || {
        Faults::none().refusing_rights()
    })?;
    let (net, client) = (&mini.net, &mini.client);
    let params = net.matching.embedding;
    let outcome = async {
        wait_ready(client, Duration::from_secs(60)).await?;
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5ac7);
        let face = synth::embedding(&mut rng, params.dim);
        let mut wallet = Wallet::create(time::OffsetDateTime::now_utc());
        let id = client
            .enroll(
                &Template::Embedding(synth::quantize(&face, &params)?),
                &wallet,
                "enrollment-site.local",
            )
            .await?
            .enrollment_id
            .context("the rights scene's subject was not enrolled")?;
        let consent = token(
            &mut wallet,
            &net.network,
            BANK,
            &[Purpose::Verify],
            time::Duration::minutes(10),
            None,
        )?;
        let probe = synth::quantize(&synth::genuine_embedding(&mut rng, &face, 0.6), &params)?;
        client
            .verify(id, &Template::Embedding(probe), &consent)
            .await?;
        client.cosign().await?;
        let before = client
            .audit_subject(PartyId::P0, wallet.audit_key())
            .await?;
        let mine: Vec<u64> = before.entries.iter().map(|a| a.entry.seq).collect();
        let done = client.delete_and_erase(id, &wallet).await?;
        // Deletion despite the refusing node: the honest nodes' entries
        // record the refusal, and they no longer hold the enrollment.
        let mut despite = done.deleted;
        for p in [PartyId::P0, PartyId::P1] {
            let entry = client.entries(p, done.seq, done.seq + 1).await?;
            despite &= matches!(
                entry.first().and_then(Leaf::entry).map(|e| &e.outcome),
                Some(Outcome::PerformedOverRefusal {
                    refused_by: PartyId::P2,
                    ..
                })
            );
            despite &= client.health(p).await?["enrolled"]["embedding"].as_u64() == Some(0);
        }
        // Erasure: a fresh co-signed checkpoint; on every node the erased
        // leaves are included in it and the subject's audit shows exactly
        // the entries erased.
        let note = client.cosign().await?;
        let cp = client.checkpoint_policy()?.verify(&note)?;
        let mut verified = !mine.is_empty() && done.erased == mine;
        for p in PartyId::ALL {
            let leaves = client.entries(p, 0, cp.size()).await?;
            for &s in &mine {
                let leaf = leaves
                    .get(usize::try_from(s)?)
                    .context("a leaf is missing")?;
                let proof = client.inclusion_proof(p, s, cp.size()).await?;
                verified &= matches!(leaf, Leaf::Erased(_))
                    && proof.verify(&leaf.leaf_hash(), cp.root()).is_ok();
            }
            let audit = client.audit_subject(p, wallet.audit_key()).await?;
            verified &= audit.erased.iter().map(|e| e.seq).collect::<Vec<_>>() == mine;
        }
        Ok::<_, anyhow::Error>((despite, verified))
    }
    .await;
    mini.stop().await;
    let (despite, verified) = outcome?;
    report.deletion_despite_refusing_node = despite;
    report.erased_log_bodies_verified = verified;
    Ok(())
}

/// A cheating node: node 1's operator changes its code to send a wrong
/// share of the score (off by 2^31, and consistently: it keeps the altered
/// value as its own copy, so openings agree) in every verification. On a
/// small network of three in-process nodes, once semi-honest (the client
/// gets the flipped decision) and once with `security = "malicious"` (every
/// honest node's proof check catches it; no decision is released).
async fn cheating_scene(report: &mut DemoReport) -> anyhow::Result<()> {
    use sanctuary_node::Faults;
    use sanctuary_proto::{MatchingConfig, MpcSecurity};
    for security in [MpcSecurity::SemiHonest, MpcSecurity::Malicious] {
        let matching = MatchingConfig {
            security,
            ..Default::default()
        };
        let mini = MiniNetwork::start("cheat-net", matching, 1, || {
            Faults::none().deviating_in_mpc(0, 1 << 31)
        })?;
        let (net, client) = (&mini.net, &mini.client);
        let params = net.matching.embedding;
        let outcome = async {
            wait_ready(client, Duration::from_secs(60)).await?;
            let mut rng = rand::rngs::StdRng::seed_from_u64(0xc4ea7);
            let face = synth::embedding(&mut rng, params.dim);
            let enrolled = synth::quantize(&face, &params)?;
            let probe = synth::quantize(&synth::genuine_embedding(&mut rng, &face, 0.6), &params)?;
            let truth = probe.matches(&enrolled, params.threshold_int());
            let mut wallet = Wallet::create(time::OffsetDateTime::now_utc());
            let id = client
                .enroll(
                    &Template::Embedding(enrolled),
                    &wallet,
                    "enrollment-site.local",
                )
                .await?
                .enrollment_id
                .context("the cheating scene's subject was not enrolled")?;
            let consent = token(
                &mut wallet,
                &net.network,
                BANK,
                &[Purpose::Verify],
                time::Duration::minutes(10),
                None,
            )?;
            Ok::<_, anyhow::Error>((
                client
                    .verify(id, &Template::Embedding(probe), &consent)
                    .await,
                truth,
            ))
        }
        .await;
        mini.stop().await;
        let (decision, truth) = outcome?;
        match (security, decision) {
            (MpcSecurity::Malicious, Err(e)) => {
                report.cheating_detected = e.to_string().contains("cheating detected");
                report
                    .refusals
                    .push(format!("cheating node 1 (malicious security): {e}"));
            }
            (MpcSecurity::Malicious, Ok(d)) => {
                report.wrong_decisions_released += usize::from(d != truth);
            }
            (MpcSecurity::SemiHonest, Ok(d)) => {
                report.semi_honest_wrong_decisions_released += usize::from(d != truth);
            }
            (MpcSecurity::SemiHonest, Err(e)) => {
                report
                    .refusals
                    .push(format!("cheating node 1 (semi-honest): {e}"));
            }
        }
    }
    Ok(())
}

/// A rogue coordinator on the client's path (node 0 is down after the
/// rogue scene; its operator now runs the real engine with faults, API
/// included): it announces its own result key to read the decision shares,
/// then hands node 1 a share of its own making, at enrollment and at
/// verification. Each attack must end without a decision the client accepts.
fn client_path_scene(
    dir: &Path,
    rt: &tokio::runtime::Runtime,
    client: &Client,
    report: &mut DemoReport,
) -> anyhow::Result<()> {
    use sanctuary_node::Faults;
    let net = client.network().clone();
    let params = net.matching.embedding;
    let cfg = crate::inproc::config(dir, 0)?;
    let p1_seal = net.node(PartyId::P1).seal_key.clone();
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0bad_c0de);
    let face = synth::embedding(&mut rng, params.dim);
    let probe = Template::Embedding(synth::quantize(&face, &params)?);
    let mut wallet = Wallet::create(time::OffsetDateTime::now_utc());
    let consent = token(
        &mut wallet,
        &net.network,
        BANK,
        &[Purpose::Verify],
        time::Duration::minutes(10),
        None,
    )?;
    let mut record = |what: &str, refused: bool, detail: String| {
        report.client_path_attacks_tried += 1;
        report.client_path_attacks_refused += usize::from(refused);
        report.refusals.push(format!(
            "rogue coordinator {what}: {}",
            if refused {
                detail
            } else {
                format!("NOT REFUSED ({detail})")
            }
        ));
    };
    rt.block_on(async {
        let key = sanctuary_proto::seal::SealKey::generate().public();
        let rogue = crate::inproc::start_with(cfg.clone(), move || {
            Faults::approve_everything().substituting_client_key(key.clone())
        });
        wait_ready(client, Duration::from_secs(60)).await?;
        let id = client
            .enroll(&probe, &wallet, "enrollment-site.local")
            .await?
            .enrollment_id
            .context("the scene's subject was not enrolled")?;
        match client.verify(id, &probe, &consent).await {
            Err(ClientError::Refused { party, code, .. }) => record(
                "announced its own result key",
                party != PartyId::P0,
                format!("{party} refused ({code}), nothing computed"),
            ),
            other => record("announced its own result key", false, format!("{other:?}")),
        }
        crate::inproc::stop(rogue).await;

        let rogue = crate::inproc::start_with(cfg, move || {
            Faults::approve_everything().replacing_share_of(PartyId::P1, p1_seal.clone())
        });
        wait_ready(client, Duration::from_secs(60)).await?;
        let other = Wallet::create(time::OffsetDateTime::now_utc());
        let other_face = Template::Embedding(synth::quantize(
            &synth::embedding(&mut rng, params.dim),
            &params,
        )?);
        match client.enroll(&other_face, &other, "enrollment-site.local").await {
            Err(ClientError::Refused { party, code, .. }) => record(
                "replaced node 1's share of an enrollment",
                party != PartyId::P0,
                format!("{party} refused ({code}), nothing stored"),
            ),
            other => record(
                "replaced node 1's share of an enrollment",
                false,
                format!("{other:?}"),
            ),
        }
        match client.verify(id, &probe, &consent).await {
            Err(ClientError::ResultNotAuthentic { party, .. }) => record(
                "replaced node 1's share of a probe",
                true,
                format!("the client refused the decision ({party}'s signature does not cover its shares)"),
            ),
            other => record(
                "replaced node 1's share of a probe",
                false,
                format!("{other:?}"),
            ),
        }
        crate::inproc::stop(rogue).await;
        Ok(())
    })
}

fn print_report(r: &DemoReport) {
    println!(
        "Sanctuary demo: {} nodes, {} storage, {}",
        r.nodes, r.storage, r.templates
    );
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
        "  deletions verified   {:>6} (shares gone from every node's database)",
        r.deletions_verified
    );
    println!(
        "  forbidden requests   {:>6} of {} refused, each naming its rule:",
        r.forbidden_requests_refused, r.forbidden_requests_tried
    );
    for line in &r.refusals {
        println!("      {line}");
    }
    println!(
        "  rogue node blocked   {:>6} (a node with its checks removed could not get a forbidden op computed)",
        r.rogue_node_blocked
    );
    println!(
        "  client path          {:>6} of {} attacks by a rogue coordinator refused (its own result key, replaced shares)",
        r.client_path_attacks_refused, r.client_path_attacks_tried
    );
    println!(
        "  cheating node        {:>6} (a node sending a wrong score share: caught with malicious security, {} wrong decisions released; {} without)",
        r.cheating_detected, r.wrong_decisions_released, r.semi_honest_wrong_decisions_released
    );
    println!(
        "  rights               {:>6} (a deletion refused by node 2 carried out by the others); erased log bodies verified: {}",
        r.deletion_despite_refusing_node, r.erased_log_bodies_verified
    );
    println!(
        "  transparency log     {:>6} entries, checkpoint co-signed by {} nodes",
        r.log_entries, r.checkpoint_cosigners
    );
    println!(
        "  audit                {:>6} entries verified by their subjects ({} mismatches)",
        r.audit_entries_verified, r.audit_mismatches
    );
    println!(
        "  tamper detected      {:>6} (an entry rewritten in node 2's database)",
        r.tamper_detected
    );
    println!("  identity weaving     {}", r.weave);
    println!(
        "  disagreements with the plaintext matcher: {}",
        r.disagreements_with_plaintext
    );
    println!(
        "  finished in {:.1} s; all node processes stopped",
        r.seconds
    );
}
