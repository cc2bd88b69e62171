//! Identity Weaving on the command line: the holder's wallet commands
//! (`wallet issue|thread|vouch|threads|present`), the verifier's
//! `verify-presentation`, the organiser's and attendee's `festival
//! create|admit|checkin`, and the demo's weaving scenario.
//!
//! The wallet is the subject's `sanctuary_consent::Wallet` file; its
//! passphrase comes from `SANCTUARY_WALLET_PASSPHRASE`. Weaving keeps its
//! items in the wallet's existing `credentials` and `threads` lists (JSON
//! entries tagged with `type`), so the file format is unchanged:
//!
//! ```text
//! credentials: {"type": "personhood", "sd_jwt", "holder_key": hex, "presented_to": [verifier ids]}
//!              {"type": "festival-admission", "event", "pseudonym", "sd_jwt", "holder_key": hex}
//!              {"type": "thread-key", "secret": hex}      the key threads are bound to
//! threads:     {"kind": "self-statement" | "vouch", "issuer": hex, "claims": [names], "sd_jwt"}
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use sanctuary_consent::{KdfParams, Wallet};
use sanctuary_node::weave::{HeldCredential, WeaveClient};
use sanctuary_node::{Client, NetworkFile};
use sanctuary_template::Template;
use sanctuary_weave::{Bundle, Festival, Issuer, ThreadKind, WeaveError};
use serde::Serialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::synth;

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

fn group_key(net: &NetworkFile) -> anyhow::Result<ed25519_dalek::VerifyingKey> {
    let w = net
        .weave
        .as_ref()
        .context("the network file has no [weave] keys (created before Identity Weaving)")?;
    Ok(w.group_key()?)
}

fn key_hex(k: &SigningKey) -> Zeroizing<String> {
    Zeroizing::new(hex::encode(k.to_bytes()))
}

fn key_from_entry(v: &Value, field: &str) -> anyhow::Result<SigningKey> {
    let s = v[field].as_str().context("wallet entry without a key")?;
    let b: Zeroizing<Vec<u8>> = Zeroizing::new(hex::decode(s).context("wallet key not hex")?);
    let arr: [u8; 32] = b
        .as_slice()
        .try_into()
        .context("wallet key is not 32 bytes")?;
    Ok(SigningKey::from_bytes(&arr))
}

/// The wallet's thread key, created on first use.
pub(crate) fn thread_key(w: &mut Wallet) -> anyhow::Result<SigningKey> {
    if let Some(e) = w.credentials.iter().find(|c| c["type"] == "thread-key") {
        return key_from_entry(e, "secret");
    }
    let k = sanctuary_weave::fresh_key();
    w.credentials
        .push(json!({"type": "thread-key", "secret": key_hex(&k).as_str()}));
    Ok(k)
}

fn store_credential(w: &mut Wallet, c: &HeldCredential) {
    w.credentials
        .push(json!({"type": "personhood", "sd_jwt": c.sd_jwt,
        "holder_key": key_hex(&c.holder_key).as_str(), "presented_to": []}));
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

fn add_thread(w: &mut Wallet, kind: ThreadKind, issuer: &str, claims: Vec<String>, sd_jwt: String) {
    w.threads
        .push(json!({"kind": kind, "issuer": issuer, "claims": claims, "sd_jwt": sd_jwt}));
}

/// Imports a vouch: it must verify and be bound to this wallet's thread key.
pub(crate) fn import_vouch(w: &mut Wallet, vouch: &str) -> anyhow::Result<()> {
    let key = thread_key(w)?;
    let nonce = "import";
    let now = sanctuary_weave::unix_now();
    let names = sd_jwt_disclosures(vouch)?;
    let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
    let p = sanctuary_weave::present(vouch, &key, &names_ref, "self", nonce, now)
        .context("the vouch is not for this wallet's thread key, or is malformed")?;
    let v = sanctuary_weave::verify(&p, Issuer::SelfCertified, "self", nonce, now)
        .context("the vouch does not verify (or is not bound to this wallet's thread key)")?;
    add_thread(
        w,
        ThreadKind::Vouch,
        &v.issuer,
        v.disclosed,
        vouch.to_owned(),
    );
    Ok(())
}

/// The claim names carried by an SD-JWT's disclosures.
fn sd_jwt_disclosures(sd_jwt: &str) -> anyhow::Result<Vec<String>> {
    use base64::Engine;
    let mut names = Vec::new();
    for d in sd_jwt.split('~').skip(1).filter(|s| !s.is_empty()) {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(d)
            .context("disclosure not base64url")?;
        let v: Value = serde_json::from_slice(&bytes).context("disclosure not JSON")?;
        if let Some(n) = v.get(1).and_then(Value::as_str) {
            names.push(n.to_owned());
        }
    }
    Ok(names)
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

/// Picks a personhood credential for `verifier`: one already shown to it,
/// else one never shown to anyone (so two verifiers never see the same one).
fn pick_credential(w: &mut Wallet, verifier: &str) -> anyhow::Result<HeldCredential> {
    let seen = |c: &Value| {
        c["presented_to"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == verifier))
    };
    let fresh = |c: &Value| c["presented_to"].as_array().is_none_or(|a| a.is_empty());
    let now = sanctuary_weave::unix_now();
    let valid = |c: &Value| {
        c["type"] == "personhood" && c["sd_jwt"].as_str().is_some_and(|s| !expired(s, now))
    };
    let idx = w
        .credentials
        .iter()
        .position(|c| valid(c) && seen(c))
        .or_else(|| w.credentials.iter().position(|c| valid(c) && fresh(c)))
        .context(
            "no unused personhood credential left for a new verifier: run `sanctuary wallet issue`",
        )?;
    let entry = &mut w.credentials[idx];
    let held = HeldCredential {
        sd_jwt: entry["sd_jwt"].as_str().unwrap_or_default().to_owned(),
        holder_key: key_from_entry(entry, "holder_key")?,
    };
    if !seen(entry)
        && let Some(a) = entry["presented_to"].as_array_mut()
    {
        a.push(Value::String(verifier.to_owned()));
    }
    Ok(held)
}

fn expired(sd_jwt: &str, now: i64) -> bool {
    use base64::Engine;
    let exp = sd_jwt
        .split('.')
        .nth(1)
        .and_then(|p| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(p)
                .ok()
        })
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["exp"].as_i64());
    exp.is_some_and(|e| e <= now)
}

/// Builds a presentation bundle from the wallet.
pub(crate) fn make_bundle(
    w: &mut Wallet,
    verifier: &str,
    nonce: &str,
    threads: &[usize],
    disclose: &[String],
    with_credential: bool,
) -> anyhow::Result<Bundle> {
    let now = sanctuary_weave::unix_now();
    let mut bundle = Bundle::default();
    if with_credential {
        let c = pick_credential(w, verifier)?;
        bundle.credential = Some(sanctuary_weave::present(
            &c.sd_jwt,
            &c.holder_key,
            &[],
            verifier,
            nonce,
            now,
        )?);
    }
    let key = if threads.is_empty() {
        None
    } else {
        Some(thread_key(w)?)
    };
    for &i in threads {
        let t = w
            .threads
            .get(i)
            .with_context(|| format!("no thread {i} (see `wallet threads`)"))?;
        let sd = t["sd_jwt"].as_str().context("thread without an SD-JWT")?;
        let names = sd_jwt_disclosures(sd)?;
        let chosen: Vec<&str> = disclose
            .iter()
            .map(String::as_str)
            .filter(|d| names.iter().any(|n| n == d))
            .collect();
        let key = key.as_ref().context("thread key")?;
        bundle.threads.push(sanctuary_weave::present(
            sd, key, &chosen, verifier, nonce, now,
        )?);
    }
    Ok(bundle)
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
            for c in &creds {
                store_credential(&mut w, c);
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
            let key = thread_key(&mut w)?;
            let sd = sanctuary_weave::issue_thread(
                &key,
                &key.verifying_key(),
                ThreadKind::SelfStatement,
                &claims,
                sanctuary_weave::unix_now(),
            )?;
            let issuer = hex::encode(key.verifying_key().as_bytes());
            add_thread(
                &mut w,
                ThreadKind::SelfStatement,
                &issuer,
                claims.into_keys().collect(),
                sd,
            );
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
            let key = thread_key(&mut w)?;
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
            if let Some(f) = import {
                let text = std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?;
                import_vouch(&mut w, text.trim())?;
            }
            let key = thread_key(&mut w)?;
            save_wallet(&w, &wallet.wallet)?;
            println!(
                "thread key: {}",
                hex::encode(key.verifying_key().as_bytes())
            );
            for (i, t) in w.threads.iter().enumerate() {
                println!(
                    "  [{i}] {} by {} claims: {}",
                    t["kind"].as_str().unwrap_or("?"),
                    t["issuer"].as_str().unwrap_or("?"),
                    t["claims"]
                        .as_array()
                        .map(|a| a
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", "))
                        .unwrap_or_default()
                );
            }
            let n = |ty: &str| w.credentials.iter().filter(|c| c["type"] == ty).count();
            let unused = w
                .credentials
                .iter()
                .filter(|c| {
                    c["type"] == "personhood"
                        && c["presented_to"].as_array().is_none_or(|a| a.is_empty())
                })
                .count();
            println!(
                "personhood credentials: {} ({unused} not yet shown to any verifier)",
                n("personhood")
            );
            println!("festival admissions: {}", n("festival-admission"));
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
            let text = if let Some(event) = admission {
                let e = w
                    .credentials
                    .iter()
                    .rev()
                    .find(|c| c["type"] == "festival-admission" && c["event"] == event.as_str())
                    .with_context(|| {
                        format!("no admission for {event}: run `sanctuary festival admit`")
                    })?;
                let sd = e["sd_jwt"].as_str().unwrap_or_default();
                sanctuary_weave::present(
                    sd,
                    &key_from_entry(e, "holder_key")?,
                    &[],
                    &event,
                    &nonce,
                    sanctuary_weave::unix_now(),
                )?
            } else {
                let b = make_bundle(
                    &mut w,
                    &verifier,
                    &nonce,
                    &threads,
                    &disclose,
                    !no_credential,
                )?;
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
            w.credentials.push(
                json!({"type": "festival-admission", "event": event, "pseudonym": pseudonym,
                "sd_jwt": adm.sd_jwt, "holder_key": key_hex(&adm.holder_key).as_str()}),
            );
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
                    let w = open_wallet(&wp)?;
                    let n = Festival::nonce();
                    let e = w
                        .credentials
                        .iter()
                        .rev()
                        .find(|c| c["type"] == "festival-admission" && c["event"] == fest.event())
                        .with_context(|| format!("the wallet has no admission for {}: run `sanctuary festival admit`", fest.event()))?;
                    let p = sanctuary_weave::present(
                        e["sd_jwt"].as_str().unwrap_or_default(),
                        &key_from_entry(e, "holder_key")?,
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

/// The demo's Identity Weaving results (flattened into the demo report).
#[derive(Debug, Default, Serialize)]
pub(crate) struct WeaveReport {
    /// Personhood credentials issued (FROST, 2 of 3 nodes).
    pub(crate) credentials_issued: usize,
    /// Of those, verified: plain Ed25519 under the group key, and as a
    /// key-bound presentation.
    pub(crate) credentials_verified: usize,
    /// A credential signed by one node's key share alone, and a FROST round
    /// with one signer, were both refused.
    pub(crate) single_node_forgery_rejected: bool,
    /// Presentations of a vouch revealing only the chosen claim, verified
    /// (and a tampered one refused).
    pub(crate) selective_disclosures_verified: usize,
    /// Festival check-ins admitted.
    pub(crate) festival_checkins: usize,
    /// A second check-in of the same person at the same event was refused.
    pub(crate) double_checkin_refused: bool,
    /// Mean time to issue one credential (two FROST rounds over HTTP).
    pub(crate) credential_issue_ms: f64,
    /// The network's group public key (hex Ed25519), as in `network.toml`.
    pub(crate) group_public_key: String,
    /// One issued personhood credential (SD-JWT, no secrets), so anyone can
    /// check its JWS with a plain Ed25519 verifier and the group key.
    pub(crate) sample_credential: String,
}

impl std::fmt::Display for WeaveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} credentials verified ({:.1} ms each to issue), single-node forgery {}, \
             {} selective disclosures verified, {} festival check-ins, double check-in {}",
            self.credentials_verified,
            self.credentials_issued,
            self.credential_issue_ms,
            if self.single_node_forgery_rejected {
                "rejected"
            } else {
                "NOT rejected"
            },
            self.selective_disclosures_verified,
            self.festival_checkins,
            if self.double_checkin_refused {
                "refused"
            } else {
                "NOT refused"
            },
        )
    }
}

/// Runs the Identity Weaving scenario against the running demo network in
/// `dir`: enrolls `subjects` people bound to fresh wallets, issues, presents,
/// forges, vouches and checks in.
pub(crate) async fn demo_weaving(
    client: &Client,
    dir: &Path,
    subjects: usize,
) -> anyhow::Result<WeaveReport> {
    use rand::SeedableRng;
    let net = client.network().clone();
    let group = group_key(&net)?;
    let weave = WeaveClient::new(net.clone())?;
    let params = net.matching.embedding;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_3ea5e);
    let mut report = WeaveReport {
        group_public_key: hex::encode(group.as_bytes()),
        ..Default::default()
    };
    let now = time::OffsetDateTime::now_utc();
    let mut wallets = Vec::new();
    for _ in 0..subjects.max(2) {
        let w = Wallet::create(now);
        let t = Template::Embedding(synth::quantize(
            &synth::embedding(&mut rng, params.dim),
            &params,
        )?);
        client.enroll(&t, &w, "festival-enrollment.example").await?;
        wallets.push(w);
    }

    // Batch issuance; each credential checked with a plain Ed25519 verifier
    // and as a presentation to its own verifier.
    let t0 = Instant::now();
    for (i, w) in wallets.iter_mut().enumerate() {
        let creds = weave.issue_personhood(w, 2, 86_400).await?;
        report.credentials_issued += creds.len();
        for (j, c) in creds.iter().enumerate() {
            store_credential(w, c);
            if report.sample_credential.is_empty() {
                report.sample_credential = c.sd_jwt.clone();
            }
            let jws = c.sd_jwt.split('~').next().unwrap_or_default();
            let (input, sig) = jws.rsplit_once('.').unwrap_or_default();
            use base64::Engine;
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .unwrap_or_default();
            let plain = ed25519_dalek::Signature::from_slice(&sig)
                .is_ok_and(|s| group.verify_strict(input.as_bytes(), &s).is_ok());
            // The second one goes to the gallery that later sees a thread.
            let verifier = if j == 0 {
                format!("verifier-{i}.example")
            } else {
                "gallery.example".to_owned()
            };
            let b = make_bundle(w, &verifier, "demo-nonce", &[], &[], true)?;
            let ok = sanctuary_weave::verify_bundle(
                &b,
                &group,
                &verifier,
                "demo-nonce",
                sanctuary_weave::unix_now(),
            )
            .is_ok_and(|r| r.unique_person);
            report.credentials_verified += usize::from(plain && ok);
        }
    }
    report.credential_issue_ms =
        t0.elapsed().as_secs_f64() * 1e3 / report.credentials_issued.max(1) as f64;

    // One rogue node: its key share alone signs a credential, and it tries a
    // FROST round with itself as the only signer.
    let node0 = dir.join("node-0");
    let keys = sanctuary_weave::NodeKeys::from_json(
        &std::fs::read_to_string(node0.join(sanctuary_node::weave::FROST_KEY_FILE))?,
        &std::fs::read_to_string(node0.join(sanctuary_node::weave::PRF_KEY_FILE))?,
    )?;
    let holder = sanctuary_weave::fresh_key();
    let draft = sanctuary_weave::draft_personhood(
        &net.network,
        &holder.verifying_key(),
        sanctuary_weave::unix_now(),
        86_400,
    )?;
    let forged = draft.finish(&sanctuary_weave::threshold::single_node_forgery(
        &keys,
        draft.signing_input().as_bytes(),
    )?);
    let p = sanctuary_weave::present(
        &forged,
        &holder,
        &[],
        "bank.example",
        "n",
        sanctuary_weave::unix_now(),
    )?;
    let share_alone_refused = matches!(
        sanctuary_weave::verify(
            &p,
            Issuer::Network(&group),
            "bank.example",
            "n",
            sanctuary_weave::unix_now()
        ),
        Err(WeaveError::BadSignature { .. })
    );
    let (nonces, commitments) = sanctuary_weave::threshold::commit(&keys);
    let package = sanctuary_weave::threshold::signing_package(
        BTreeMap::from([(*keys.frost.identifier(), commitments)]),
        draft.signing_input(),
    );
    let one_signer_refused = sanctuary_weave::threshold::sign(&keys, &package, &nonces).is_err();
    report.single_node_forgery_rejected = share_alone_refused && one_signer_refused;
    drop(keys);

    // Threads: each subject is vouched for by the next, and shows only
    // where they met.
    let mut vouches = Vec::new();
    let n = wallets.len();
    for i in 0..n {
        let voucher_key = thread_key(&mut wallets[(i + 1) % n])?;
        let holder_key = thread_key(&mut wallets[i])?.verifying_key();
        let claims = BTreeMap::from([
            ("met_at".to_owned(), "Harbour festival 2026".to_owned()),
            ("member_of".to_owned(), "Weavers' collective".to_owned()),
            ("home_district".to_owned(), format!("district-{i}")),
        ]);
        vouches.push(sanctuary_weave::issue_thread(
            &voucher_key,
            &holder_key,
            ThreadKind::Vouch,
            &claims,
            sanctuary_weave::unix_now(),
        )?);
    }
    for (w, v) in wallets.iter_mut().zip(&vouches) {
        import_vouch(w, v)?;
        let idx = w.threads.len() - 1;
        let b = make_bundle(
            w,
            "gallery.example",
            "demo-nonce-2",
            &[idx],
            &["met_at".to_owned()],
            true,
        )?;
        let text = serde_json::to_string(&b)?;
        let r = sanctuary_weave::verify_bundle(
            &b,
            &group,
            "gallery.example",
            "demo-nonce-2",
            sanctuary_weave::unix_now(),
        );
        let only_chosen = r.as_ref().is_ok_and(|r| {
            r.unique_person && r.threads.len() == 1 && r.threads[0].disclosed == ["met_at"]
        }) && !text.contains("Weavers")
            && !text.contains("district-");
        // Replaying it to another verifier fails.
        let replay_refused = sanctuary_weave::verify_bundle(
            &b,
            &group,
            "shop.example",
            "demo-nonce-2",
            sanctuary_weave::unix_now(),
        )
        .is_err();
        report.selective_disclosures_verified += usize::from(only_chosen && replay_refused);
    }

    // Festival: everyone checks in once; the first person's second
    // admission (fresh key, same pseudonym) is refused.
    let fest_path = dir.join("festival-harbour-2026.json");
    let _ = std::fs::remove_file(&fest_path);
    let mut fest = Festival::create(&fest_path, "harbour-2026", &net.network, &group)?;
    for w in &wallets {
        let (adm, _) = weave.admission(w, "harbour-2026", 3_600).await?;
        let n = Festival::nonce();
        let p = sanctuary_weave::present(
            &adm.sd_jwt,
            &adm.holder_key,
            &[],
            "harbour-2026",
            &n,
            sanctuary_weave::unix_now(),
        )?;
        if fest.check_in(&p, &n, sanctuary_weave::unix_now()).is_ok() {
            report.festival_checkins += 1;
        }
    }
    let (again, _) = weave.admission(&wallets[0], "harbour-2026", 3_600).await?;
    let n = Festival::nonce();
    let p = sanctuary_weave::present(
        &again.sd_jwt,
        &again.holder_key,
        &[],
        "harbour-2026",
        &n,
        sanctuary_weave::unix_now(),
    )?;
    report.double_checkin_refused = matches!(
        fest.check_in(&p, &n, sanctuary_weave::unix_now()),
        Err(WeaveError::AlreadyCheckedIn { .. })
    );
    Ok(report)
}
