//! `sanctuary node|enroll|verify|dedupe|delete`: thin wrappers over
//! `sanctuary-node`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use sanctuary_node::{Client, NetworkFile, NodeConfig};
use sanctuary_store::EnrollmentId;
use sanctuary_template::{Template, TemplateFile};

use crate::cli::ClientArgs;

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

pub(crate) fn enroll(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.network)?;
    let rt = runtime()?;
    let bar = progress(args.templates.len(), args.json);
    bar.set_message("enrolling");
    for path in &args.templates {
        let t = read_template(path, client.network())?;
        let r = rt.block_on(client.enroll(&t, None))?;
        let line = match (&r.status, r.enrollment_id) {
            (sanctuary_node::wire::EnrollStatus::Enrolled, Some(id)) => {
                format!("{}: enrolled as {id}", path.display())
            }
            _ => format!("{}: refused, already enrolled", path.display()),
        };
        if args.json {
            println!(
                "{}",
                serde_json::json!({"template": path, "status": r.status, "enrollment_id": r.enrollment_id, "seq": r.seq})
            );
        } else {
            bar.println(line);
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verify(args: &ClientArgs, enrollment: &str) -> anyhow::Result<ExitCode> {
    let id: EnrollmentId = enrollment
        .parse()
        .map_err(|_| anyhow::anyhow!("--enrollment must be 32 hex characters"))?;
    let client = client(&args.network)?;
    let rt = runtime()?;
    let mut all = true;
    for path in &args.templates {
        let t = read_template(path, client.network())?;
        let ok = rt.block_on(client.verify(id, &t))?;
        all &= ok;
        if args.json {
            println!(
                "{}",
                serde_json::json!({"template": path, "enrollment_id": id, "match": ok})
            );
        } else {
            println!(
                "{}: {}",
                path.display(),
                if ok { "MATCH" } else { "no match" }
            );
        }
    }
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

pub(crate) fn dedupe(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.network)?;
    let rt = runtime()?;
    for path in &args.templates {
        let t = read_template(path, client.network())?;
        let dup = rt.block_on(client.dedupe(&t))?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({"template": path, "already_enrolled": dup})
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

pub(crate) fn delete(network: &Path, enrollment: &str) -> anyhow::Result<ExitCode> {
    let id: EnrollmentId = enrollment
        .parse()
        .map_err(|_| anyhow::anyhow!("--enrollment must be 32 hex characters"))?;
    let client = client(network)?;
    let r = runtime()?.block_on(client.delete(id))?;
    println!("deleted {id} on all nodes (operation {})", r.seq);
    Ok(ExitCode::SUCCESS)
}
