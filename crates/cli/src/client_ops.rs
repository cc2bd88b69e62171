//! `sanctuary node|enroll|verify|dedupe|delete`: thin wrappers over
//! `sanctuary-node`, with face capture (`sanctuary-capture`) for `--image`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sanctuary_capture::{Capture, FaceOptions, FacePipeline, ModelsDir};
use sanctuary_client::{Client, Consent, EnrollmentId, NetworkFile};
use sanctuary_consent::{ConsentToken, SubjectPublicKey};
use sanctuary_node::NodeConfig;
use sanctuary_template::{Template, TemplateFile};

use crate::cli::{ClientArgs, ConsentArgs};
use crate::wallet::WalletArgs;

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
}

pub(crate) fn node(config: &Path) -> anyhow::Result<ExitCode> {
    let cfg = NodeConfig::load(config)?;
    runtime()?.block_on(sanctuary_node::serve(cfg, shutdown_signal()))?;
    Ok(ExitCode::SUCCESS)
}

fn read_template(path: &Path, net: &NetworkFile) -> anyhow::Result<Template> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let file = TemplateFile::from_json(&text).with_context(|| format!("{}", path.display()))?;
    file.validate(&net.matching.embedding, &net.matching.iris)
        .with_context(|| format!("{}", path.display()))
}

/// One template source named on the command line.
#[derive(Debug, Clone, Copy)]
enum Input<'a> {
    /// A template JSON file (`--template`).
    Template(&'a Path),
    /// A face image (`--image`).
    Image(&'a Path),
}

impl Input<'_> {
    fn path(&self) -> &Path {
        match self {
            Input::Template(p) | Input::Image(p) => p,
        }
    }

    /// The JSON key naming this input in `--json` output.
    fn key(&self) -> &'static str {
        match self {
            Input::Template(_) => "template",
            Input::Image(_) => "image",
        }
    }
}

/// Turns `--template` files and `--image` captures into templates. The face
/// models are loaded once, on the first image.
struct Reader<'a> {
    args: &'a ClientArgs,
    capture: Option<Capture>,
}

impl<'a> Reader<'a> {
    fn new(args: &'a ClientArgs) -> Self {
        Self {
            args,
            capture: None,
        }
    }

    /// Every input, `--template` files first, then `--image` files.
    fn inputs(&self) -> impl Iterator<Item = Input<'a>> + use<'a> {
        let args = self.args;
        args.templates
            .iter()
            .map(|p| Input::Template(p.as_path()))
            .chain(args.images.iter().map(|p| Input::Image(p.as_path())))
    }

    fn count(&self) -> usize {
        self.args.templates.len() + self.args.images.len()
    }

    fn capture(&mut self) -> anyhow::Result<&Capture> {
        if self.capture.is_none() {
            let models = ModelsDir::default_location();
            let options = FaceOptions {
                assume_cropped: self.args.assume_cropped,
                ..FaceOptions::default()
            };
            let pipeline = FacePipeline::load(&models, options).with_context(|| {
                format!(
                    "cannot load the face models from {} (set {} to their folder)",
                    models.path().display(),
                    sanctuary_capture::MODELS_DIR_ENV
                )
            })?;
            let capture = Capture::new(pipeline, self.args.liveness_threshold)
                .context("--liveness-threshold")?;
            self.capture = Some(capture);
        }
        self.capture
            .as_ref()
            .context("face capture is not initialised")
    }

    fn read(&mut self, input: Input<'_>, net: &NetworkFile) -> anyhow::Result<Template> {
        match input {
            Input::Template(path) => read_template(path, net),
            Input::Image(path) => {
                let params = net.matching.embedding;
                let capture = self.capture()?;
                let result = capture
                    .capture_path(path)
                    .with_context(|| format!("{}: capture refused", path.display()))?;
                // Shown to the operator only; never stored or sent.
                eprintln!(
                    "{}: liveness {:.3} (threshold {:.3}){}",
                    path.display(),
                    result.liveness_score,
                    self.args.liveness_threshold,
                    if result.face.used_whole_frame {
                        ", no face detected: used the whole frame"
                    } else {
                        ""
                    }
                );
                // The float embedding inside `result` is wiped when dropped;
                // only the quantised template leaves.
                let quantised = result
                    .face
                    .embedding
                    .quantize(&params)
                    .with_context(|| format!("{}: face template", path.display()))?;
                drop(result);
                Ok(Template::Embedding(quantised))
            }
        }
    }
}

fn client(path: &Path) -> anyhow::Result<Client> {
    Ok(Client::new(NetworkFile::load(path)?)?)
}

fn progress(n: usize, json: bool) -> ProgressBar {
    if json || n < 2 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(n as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{msg:10} {bar:40} {pos}/{len} {per_sec} eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

impl ConsentArgs {
    fn consent(&self) -> anyhow::Result<Consent> {
        let text = match self.token.strip_prefix('@') {
            Some(path) => std::fs::read_to_string(path)
                .with_context(|| format!("cannot read token file {path}"))?,
            None => self.token.clone(),
        };
        Ok(Consent {
            relying_party: self.relying_party.clone(),
            token: ConsentToken::from_base64(text.trim().to_owned())?,
        })
    }
}

pub(crate) fn enroll(
    args: &ClientArgs,
    wallet: &WalletArgs,
    site: &str,
    accept_notice: bool,
) -> anyhow::Result<ExitCode> {
    let client = client(&args.network)?;
    let wallet_args = wallet;
    let mut wallet = wallet_args.open()?;
    let rt = runtime()?;
    // Demonstrable consent: the subject sees what each node will do with
    // the enrollment and signs that they accepted it.
    let notice = rt.block_on(client.notice())?;
    eprintln!("Before you enroll, each node says:\n{notice}");
    if !accept_notice {
        use std::io::{BufRead, IsTerminal, Write};
        if !std::io::stdin().is_terminal() {
            anyhow::bail!(
                "the notice above must be accepted: answer on a terminal, or pass --accept-notice"
            );
        }
        eprint!("Type \"yes\" to accept and enroll: ");
        std::io::stderr().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            anyhow::bail!("the notice was not accepted; nothing was enrolled");
        }
    }
    let mut recorded = 0;
    let mut reader = Reader::new(args);
    let bar = progress(reader.count(), args.json);
    bar.set_message("enrolling");
    let mut all_enrolled = true;
    for input in reader.inputs() {
        let path = input.path();
        let t = reader.read(input, client.network())?;
        let r = rt.block_on(client.enroll_accepting(&t, &wallet, site, &notice))?;
        let kind = t.kind().to_string();
        drop(t);
        if let Some(id) = r.enrollment_id {
            // The wallet remembers its enrollments (the network keeps no
            // index by person): for `wallet export --everything` and
            // deletion.
            wallet
                .enrollments
                .push(sanctuary_consent::EnrollmentRecord {
                    id: id.to_string(),
                    network: client.network().network.clone(),
                    kind,
                    site: site.to_owned(),
                    seq: r.seq,
                    enrolled_at: time::OffsetDateTime::now_utc(),
                    deleted_at: None,
                    accepted: Some(notice.terms()),
                });
            recorded += 1;
        }
        let line = match (&r.status, r.enrollment_id) {
            (sanctuary_proto::wire::EnrollStatus::Enrolled, Some(id)) => {
                format!("{}: enrolled as {id}", path.display())
            }
            _ => {
                all_enrolled = false;
                format!("{}: refused, already enrolled", path.display())
            }
        };
        if args.json {
            println!(
                "{}",
                serde_json::json!({input.key(): path, "status": r.status, "enrollment_id": r.enrollment_id, "seq": r.seq})
            );
        } else {
            bar.println(line);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if recorded > 0 {
        wallet_args.save(&wallet).context(
            "enrolled, but the wallet could not record the enrollment ids (they are printed above)",
        )?;
    }
    Ok(crate::exit::exit(if all_enrolled {
        crate::exit::OK
    } else {
        crate::exit::NEGATIVE
    }))
}

pub(crate) fn verify(
    args: &ClientArgs,
    enrollment: &str,
    consent: &ConsentArgs,
) -> anyhow::Result<ExitCode> {
    let consent = consent.consent()?;
    let id: EnrollmentId = enrollment
        .parse()
        .map_err(|_| anyhow::anyhow!("--enrollment must be 32 hex characters"))?;
    let client = client(&args.network)?;
    let rt = runtime()?;
    let mut reader = Reader::new(args);
    let mut all = true;
    for input in reader.inputs() {
        let path = input.path();
        let t = reader.read(input, client.network())?;
        let ok = rt.block_on(client.verify(id, &t, &consent))?;
        drop(t);
        all &= ok;
        if args.json {
            println!(
                "{}",
                serde_json::json!({input.key(): path, "enrollment_id": id, "match": ok})
            );
        } else {
            println!(
                "{}: {}",
                path.display(),
                if ok { "MATCH" } else { "no match" }
            );
        }
    }
    Ok(crate::exit::exit(if all {
        crate::exit::OK
    } else {
        crate::exit::NEGATIVE
    }))
}

pub(crate) fn dedupe(
    args: &ClientArgs,
    consent: &ConsentArgs,
    subject: &str,
) -> anyhow::Result<ExitCode> {
    let consent = consent.consent()?;
    let subject = subject
        .parse::<SubjectPublicKey>()
        .map_err(|_| anyhow::anyhow!("--subject must be a 64-hex Ed25519 public key"))?;
    let client = client(&args.network)?;
    let rt = runtime()?;
    let mut reader = Reader::new(args);
    for input in reader.inputs() {
        let path = input.path();
        let t = reader.read(input, client.network())?;
        let dup = rt.block_on(client.dedupe(&t, &consent, &subject))?;
        drop(t);
        if args.json {
            println!(
                "{}",
                serde_json::json!({input.key(): path, "already_enrolled": dup})
            );
        } else {
            println!(
                "{}: {}",
                path.display(),
                if dup {
                    "already enrolled"
                } else {
                    "not enrolled"
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn delete(
    network: &Path,
    enrollment: &str,
    wallet_args: &WalletArgs,
    erase_log: bool,
) -> anyhow::Result<ExitCode> {
    let mut wallet = wallet_args.open()?;
    let id: EnrollmentId = enrollment
        .parse()
        .map_err(|_| anyhow::anyhow!("--enrollment must be 32 hex characters"))?;
    let client = client(network)?;
    let rt = runtime()?;
    let r = if erase_log {
        rt.block_on(client.delete_and_erase(id, &wallet))?
    } else {
        rt.block_on(client.delete(id, &wallet))?
    };
    println!(
        "deleted {id} (operation {}); check the log entry for a node that refused",
        r.seq
    );
    if !r.erased.is_empty() {
        println!(
            "erased the bodies of {} earlier log entries of this wallet: {:?}",
            r.erased.len(),
            r.erased
        );
    }
    let now = time::OffsetDateTime::now_utc();
    let mut marked = false;
    for e in wallet
        .enrollments
        .iter_mut()
        .filter(|e| e.id == id.to_string())
    {
        e.deleted_at = Some(now);
        marked = true;
    }
    if marked {
        wallet_args
            .save(&wallet)
            .context("deleted, but the wallet could not record the deletion")?;
    }
    Ok(ExitCode::SUCCESS)
}
