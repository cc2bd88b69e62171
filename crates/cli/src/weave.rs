//! Identity Weaving on the command line: the holder's wallet commands
//! (`wallet issue|thread|vouch|threads|present`), the verifier's
//! `verify-presentation`, and the organiser's and attendee's `festival
//! create|admit|checkin`. The wallet is the subject's
//! `sanctuary_consent::Wallet` file (passphrase in
//! `SANCTUARY_WALLET_PASSPHRASE`); its weaving items are read and written
//! through `sanctuary_client::Holder`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use sanctuary_client::{
    HeldItem, HeldKey, HeldThread, Holder, NetworkFile, WeaveClient, group_key,
};
use sanctuary_consent::{KdfParams, Wallet};
use sanctuary_weave::{Bundle, Festival, ThreadKind, WeaveError};
use serde_json::json;
use zeroize::Zeroizing;

/// Environment variable holding the wallet passphrase.
pub(crate) const PASSPHRASE_ENV: &str = "SANCTUARY_WALLET_PASSPHRASE";

/// Identity Weaving subcommands of `sanctuary wallet`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum WeaveWalletCmd {
    /// Get personhood ("unique person") credentials from the network: a
    /// batch, each with a fresh holder key, so each verifier can get its own.
    Issue {
        #[command(flatten)]
        wallet: WalletArg,
        /// The network file.
        #[arg(long)]
        network: PathBuf,
        /// How many credentials.
        #[arg(long, default_value_t = 3)]
        count: usize,
        /// Validity in days (the nodes sign at most 30).
        #[arg(long, default_value_t = 30)]
        days: i64,
    },
    /// Write a self-authored statement into the wallet (each claim can be
    /// disclosed on its own).
    Thread {
        #[command(flatten)]
        wallet: WalletArg,
        /// A claim, `name=value` (repeat).
        #[arg(long = "claim", required = true)]
        claims: Vec<String>,
    },
    /// Vouch for someone: sign claims about the holder of a thread key
    /// (shown by their `wallet threads`) with this wallet's thread key.
    Vouch {
        #[command(flatten)]
        wallet: WalletArg,
        /// The other person's thread key (hex).
        #[arg(long = "for")]
        holder: String,
        /// A claim, `name=value` (repeat).
        #[arg(long = "claim", required = true)]
        claims: Vec<String>,
        /// Write the vouch here (default: stdout); the other person imports it
        /// with `wallet threads --import`.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// List the wallet's thread key, threads and credentials; `--import`
    /// adds a vouch someone gave you.
    Threads {
        #[command(flatten)]
        wallet: WalletArg,
        /// A vouch file to import.
        #[arg(long)]
        import: Option<PathBuf>,
    },
    /// Make a presentation for one verifier and nonce: a personhood
    /// credential not yet shown to another verifier, plus the chosen threads
    /// with only the chosen claims disclosed.
    Present {
        #[command(flatten)]
        wallet: WalletArg,
        /// The verifier's id (the KB-JWT `aud`).
        #[arg(long)]
        verifier: String,
        /// The nonce the verifier gave.
        #[arg(long)]
        nonce: String,
        /// Include thread number N (from `wallet threads`; repeat).
        #[arg(long = "thread")]
        threads: Vec<usize>,
        /// Disclose this claim of the included threads (repeat); the rest stay hidden.
        #[arg(long = "disclose")]
        disclose: Vec<String>,
        /// Leave out the personhood credential.
        #[arg(long)]
        no_credential: bool,
        /// Present the festival admission for this event instead (the
        /// verifier is the event).
        #[arg(long, conflicts_with_all = ["threads", "disclose", "no_credential"])]
        admission: Option<String>,
        /// Write the presentation here (default: stdout).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `sanctuary festival ...`: per-event unlinkable check-in.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum FestivalCmd {
    /// Organiser: create a festival (its file keeps the pseudonyms checked in).
    Create {
        /// The network whose admissions are accepted.
        #[arg(long)]
        network: PathBuf,
        /// The event name (1..=128 bytes), also the verifier id at the gate.
        #[arg(long)]
        event: String,
        /// The festival file to create.
        #[arg(long)]
        out: PathBuf,
    },
    /// Attendee: get an admission for an event from the network (a per-event
    /// pseudonym from the nodes' threshold PRF, signed by the group key).
    Admit {
        #[command(flatten)]
        wallet: WalletArg,
        /// The network file.
        #[arg(long)]
        network: PathBuf,
        /// The event.
        #[arg(long)]
        event: String,
        /// Validity in hours (the nodes sign at most 168).
        #[arg(long, default_value_t = 24)]
        hours: i64,
    },
    /// Organiser: check an attendee in; a pseudonym seen before is refused.
    /// Either give the attendee's `--wallet` (both sides on this machine: a
    /// nonce is drawn and the wallet presents its admission) or a
    /// `--presentation` made with `wallet present --admission` for `--nonce`.
    Checkin {
        /// The festival file.
        #[arg(long)]
        festival: PathBuf,
        /// The attendee's wallet.
        #[arg(long, required_unless_present = "presentation")]
        wallet: Option<PathBuf>,
        /// A presentation file.
        #[arg(long, requires = "nonce", conflicts_with = "wallet")]
        presentation: Option<PathBuf>,
        /// The nonce the presentation was made for.
        #[arg(long)]
        nonce: Option<String>,
    },
}

/// `sanctuary verify-presentation` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct VerifyPresentationArgs {
    /// The network file (its group key).
    #[arg(long)]
    network: PathBuf,
    /// This verifier's id.
    #[arg(long)]
    verifier: String,
    /// The nonce this verifier gave.
    #[arg(long)]
    nonce: String,
    /// The presentation file (`-` for stdin).
    #[arg(long)]
    presentation: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The wallet file argument.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WalletArg {
    /// The wallet file (passphrase in SANCTUARY_WALLET_PASSPHRASE).
    #[arg(long)]
    wallet: PathBuf,
}

fn passphrase() -> anyhow::Result<Zeroizing<String>> {
    std::env::var(PASSPHRASE_ENV)
        .map(Zeroizing::new)
        .with_context(|| format!("set {PASSPHRASE_ENV} to the wallet passphrase"))
}

fn open_wallet(path: &Path) -> anyhow::Result<Wallet> {
    Wallet::open(path, &passphrase()?)
        .with_context(|| format!("cannot open wallet {}", path.display()))
}

fn save_wallet(w: &Wallet, path: &Path) -> anyhow::Result<()> {
    w.save(path, &passphrase()?, KdfParams::DEFAULT)
        .with_context(|| format!("cannot save wallet {}", path.display()))
}

fn load_network(path: &Path) -> anyhow::Result<NetworkFile> {
    Ok(NetworkFile::load(path)?)
}

fn parse_claims(claims: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    claims
        .iter()
        .map(|c| {
            let (k, v) = c
                .split_once('=')
                .with_context(|| format!("claim `{c}` is not name=value"))?;
            Ok((k.trim().to_owned(), v.to_owned()))
        })
        .collect()
}

fn write_out(out: Option<&Path>, text: &str) -> anyhow::Result<()> {
    match out {
        Some(p) => std::fs::write(p, text).with_context(|| format!("cannot write {}", p.display())),
        None => {
            println!("{text}");
            Ok(())
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

pub(crate) fn wallet_cmd(cmd: WeaveWalletCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        WeaveWalletCmd::Issue {
            wallet,
            network,
            count,
            days,
        } => {
            if !(1..=100).contains(&count) {
                bail!("--count must be 1..=100");
            }
            let mut w = open_wallet(&wallet.wallet)?;
            let client = WeaveClient::new(load_network(&network)?)?;
            let creds = runtime()?.block_on(client.issue_personhood(&w, count, days * 86_400))?;
            let mut h = Holder::new(&mut w);
            for c in &creds {
                h.store_personhood(c)?;
            }
            save_wallet(&w, &wallet.wallet)?;
            println!(
                "issued {} personhood credentials (signed by 2 of 3 nodes; group key {})",
                creds.len(),
                client.public().group_key
            );
        }
        WeaveWalletCmd::Thread { wallet, claims } => {
            let mut w = open_wallet(&wallet.wallet)?;
            let claims = parse_claims(&claims)?;
            let mut h = Holder::new(&mut w);
            let key = h.thread_key()?;
            let sd = sanctuary_weave::issue_thread(
                &key,
                &key.verifying_key(),
                ThreadKind::SelfStatement,
                &claims,
                sanctuary_weave::unix_now(),
            )?;
            h.add_thread(&HeldThread {
                kind: ThreadKind::SelfStatement,
                issuer: hex::encode(key.verifying_key().as_bytes()),
                claims: claims.into_keys().collect(),
                sd_jwt: sd,
            })?;
            save_wallet(&w, &wallet.wallet)?;
            println!("thread {} added", w.threads.len() - 1);
        }
        WeaveWalletCmd::Vouch {
            wallet,
            holder,
            claims,
            out,
        } => {
            let mut w = open_wallet(&wallet.wallet)?;
            let key = Holder::new(&mut w).thread_key()?;
            let holder = sanctuary_weave::key_from_hex("--for", &holder)?;
            let sd = sanctuary_weave::issue_thread(
                &key,
                &holder,
                ThreadKind::Vouch,
                &parse_claims(&claims)?,
                sanctuary_weave::unix_now(),
            )?;
            save_wallet(&w, &wallet.wallet)?;
            write_out(out.as_deref(), &sd)?;
        }
        WeaveWalletCmd::Threads { wallet, import } => {
            let mut w = open_wallet(&wallet.wallet)?;
            let mut h = Holder::new(&mut w);
            if let Some(f) = import {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                h.import_vouch(text.trim())?;
            }
            let key = h.thread_key()?;
            let threads = h.threads()?;
            let (personhood, unused, admissions) = h.counts();
            save_wallet(&w, &wallet.wallet)?;
            println!(
                "thread key: {}",
                hex::encode(key.verifying_key().as_bytes())
            );
            for (i, t) in threads.iter().enumerate() {
                println!(
                    "  [{i}] {} by {} claims: {}",
                    serde_json::to_value(t.kind)?.as_str().unwrap_or("?"),
                    t.issuer,
                    t.claims.join(", ")
                );
            }
            println!(
                "personhood credentials: {personhood} ({unused} not yet shown to any verifier)"
            );
            println!("festival admissions: {admissions}");
        }
        WeaveWalletCmd::Present {
            wallet,
            verifier,
            nonce,
            threads,
            disclose,
            no_credential,
            admission,
            out,
        } => {
            let mut w = open_wallet(&wallet.wallet)?;
            let mut h = Holder::new(&mut w);
            let text = if let Some(event) = admission {
                let adm = h.admission(&event).with_context(|| {
                    format!("no admission for {event}: run `sanctuary festival admit`")
                })?;
                sanctuary_weave::present(
                    &adm.sd_jwt,
                    &adm.holder_key,
                    &[],
                    &event,
                    &nonce,
                    sanctuary_weave::unix_now(),
                )?
            } else {
                let b = h.bundle(&verifier, &nonce, &threads, &disclose, !no_credential)?;
                serde_json::to_string_pretty(&b)?
            };
            save_wallet(&w, &wallet.wallet)?;
            write_out(out.as_deref(), &text)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn verify_presentation(args: &VerifyPresentationArgs) -> anyhow::Result<ExitCode> {
    let net = load_network(&args.network)?;
    let group = group_key(&net)?;
    let text = if args.presentation.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(&args.presentation)
            .with_context(|| format!("cannot read {}", args.presentation.display()))?
    };
    let bundle: Bundle = serde_json::from_str(&text).context("not a presentation bundle (JSON)")?;
    match sanctuary_weave::verify_bundle(
        &bundle,
        &group,
        &args.verifier,
        &args.nonce,
        sanctuary_weave::unix_now(),
    ) {
        Ok(r) => {
            if args.json {
                let threads: Vec<_> = r.threads.iter().map(|t| json!({"kind": t.vct, "issuer": t.issuer, "disclosed": t.disclosed.iter().map(|k| (k.clone(), t.claims[k].clone())).collect::<BTreeMap<_, _>>()})).collect();
                println!(
                    "{}",
                    json!({"accepted": true, "unique_person": r.unique_person, "threads": threads})
                );
            } else {
                println!(
                    "accepted: unique person: {}",
                    if r.unique_person {
                        "yes (network credential)"
                    } else {
                        "not shown"
                    }
                );
                for t in &r.threads {
                    println!("  {} by {}", t.vct, t.issuer);
                    for k in &t.disclosed {
                        println!("    {k} = {}", t.claims[k]);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            if args.json {
                println!("{}", json!({"accepted": false, "reason": e.to_string()}));
            } else {
                eprintln!("refused: {e}");
            }
            Ok(ExitCode::from(1))
        }
    }
}

pub(crate) fn festival_cmd(cmd: FestivalCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        FestivalCmd::Create {
            network,
            event,
            out,
        } => {
            let net = load_network(&network)?;
            Festival::create(&out, &event, &net.network, &group_key(&net)?)?;
            println!("festival {event} created in {}", out.display());
        }
        FestivalCmd::Admit {
            wallet,
            network,
            event,
            hours,
        } => {
            let mut w = open_wallet(&wallet.wallet)?;
            let client = WeaveClient::new(load_network(&network)?)?;
            let (adm, pseudonym) =
                runtime()?.block_on(client.admission(&w, &event, hours * 3_600))?;
            Holder::new(&mut w).push(&HeldItem::FestivalAdmission {
                event: event.clone(),
                pseudonym: pseudonym.clone(),
                sd_jwt: adm.sd_jwt,
                holder_key: HeldKey(adm.holder_key),
            })?;
            save_wallet(&w, &wallet.wallet)?;
            println!("admission to {event} stored in the wallet (pseudonym {pseudonym})");
        }
        FestivalCmd::Checkin {
            festival,
            wallet,
            presentation,
            nonce,
        } => {
            let mut fest = Festival::open(&festival)?;
            let (text, nonce) = match (wallet, presentation, nonce) {
                (_, Some(p), Some(n)) => (
                    std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read {}", p.display()))?,
                    n,
                ),
                (Some(wp), _, _) => {
                    let mut w = open_wallet(&wp)?;
                    let n = Festival::nonce();
                    let adm = Holder::new(&mut w).admission(fest.event()).with_context(|| {
                        format!(
                            "the wallet has no admission for {}: run `sanctuary festival admit`",
                            fest.event()
                        )
                    })?;
                    let p = sanctuary_weave::present(
                        &adm.sd_jwt,
                        &adm.holder_key,
                        &[],
                        fest.event(),
                        &n,
                        sanctuary_weave::unix_now(),
                    )?;
                    (p, n)
                }
                _ => bail!("give --wallet, or --presentation with --nonce"),
            };
            match fest.check_in(text.trim(), &nonce, sanctuary_weave::unix_now()) {
                Ok(a) => println!(
                    "admitted: pseudonym {} ({} checked in)",
                    a.pseudonym,
                    fest.checked_in()
                ),
                Err(e @ WeaveError::AlreadyCheckedIn { .. }) => {
                    eprintln!("refused: {e}");
                    return Ok(ExitCode::from(1));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
