//! The subject's side: `sanctuary wallet new|show|export`,
//! `sanctuary consent issue|attenuate|revoke|receipts|inspect` and
//! `sanctuary audit` (a subject's own entries, or an auditor's check of the
//! whole log).
//!
//! The wallet passphrase comes from the environment variable named by
//! `--passphrase-env` (default `SANCTUARY_WALLET_PASSPHRASE`) or from
//! `--passphrase-file`; it is never a command-line argument, where other
//! users of the machine could read it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use sanctuary_client::{Client, NetworkFile};
use sanctuary_consent::{
    Attenuation, ConsentToken, KdfParams, NetworkId, Purpose, RelyingPartyId, Revocation, TokenId,
    TokenRequest, Wallet,
};
use sanctuary_log::SignedNote;
use sanctuary_share::PartyId;
use time::OffsetDateTime;
use zeroize::Zeroizing;

/// Where the wallet file and its passphrase come from.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct WalletArgs {
    /// The wallet file.
    #[arg(long)]
    pub(crate) wallet: PathBuf,
    /// Environment variable holding the passphrase.
    #[arg(long, default_value = "SANCTUARY_WALLET_PASSPHRASE")]
    pub(crate) passphrase_env: String,
    /// File holding the passphrase (first line), instead of the environment.
    #[arg(long)]
    pub(crate) passphrase_file: Option<PathBuf>,
}

impl WalletArgs {
    fn passphrase(&self) -> anyhow::Result<Zeroizing<String>> {
        let p = match &self.passphrase_file {
            Some(f) => Zeroizing::new(
                std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read passphrase file {}", f.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            ),
            None => Zeroizing::new(std::env::var(&self.passphrase_env).with_context(|| {
                format!(
                    "set the wallet passphrase in ${} (or give --passphrase-file)",
                    self.passphrase_env
                )
            })?),
        };
        if p.is_empty() {
            bail!("the wallet passphrase is empty");
        }
        Ok(p)
    }

    /// Opens the wallet.
    pub(crate) fn open(&self) -> anyhow::Result<Wallet> {
        let p = self.passphrase()?;
        Wallet::open(&self.wallet, &p)
            .with_context(|| format!("cannot open wallet {}", self.wallet.display()))
    }

    pub(crate) fn save(&self, w: &Wallet) -> anyhow::Result<()> {
        let p = self.passphrase()?;
        w.save(&self.wallet, &p, KdfParams::default())
            .with_context(|| format!("cannot save wallet {}", self.wallet.display()))
    }
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum WalletCmd {
    /// Creates a new wallet (Ed25519 identity key and audit key), encrypted
    /// with the passphrase (argon2id + XChaCha20-Poly1305). Refuses to
    /// overwrite a file.
    New(WalletArgs),
    /// Shows the wallet's public key, creation time and consent receipts.
    Show(WalletArgs),
    /// Prints the wallet's public information as JSON (no secrets), or its
    /// consent receipts (ISO/IEC TS 27560-shaped) with `--receipts`.
    Export {
        #[command(flatten)]
        wallet: WalletArgs,
        /// Export the consent receipts instead.
        #[arg(long, conflicts_with = "everything")]
        receipts: bool,
        /// Export everything about you, as JSON: what the wallet holds
        /// (enrollments, consent receipts, credentials, threads) and what
        /// the network's log holds (your entries, each with its inclusion
        /// proof checked against a co-signed checkpoint, and the entries
        /// erased at your request). Needs --network.
        #[arg(long, requires = "network")]
        everything: bool,
        /// The network file (with --everything).
        #[arg(long)]
        network: Option<PathBuf>,
        /// The node whose log is read (with --everything).
        #[arg(long, default_value_t = 0)]
        node: usize,
    },
    /// Identity Weaving: credentials, threads, vouches, presentations.
    #[command(flatten)]
    Weave(crate::weave::WeaveWalletCmd),
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum ConsentCmd {
    /// Issues a consent token (Biscuit, signed by the wallet key) to a
    /// relying party and prints it; the receipt is kept in the wallet.
    Issue {
        #[command(flatten)]
        wallet: WalletArgs,
        /// The network file (the token is only valid there).
        #[arg(long)]
        network: PathBuf,
        /// The relying party the token is for.
        #[arg(long)]
        audience: String,
        /// Purposes granted (repeat): verify, dedupe, festival_checkin, ...
        #[arg(long = "purpose", required = true)]
        purposes: Vec<String>,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 600)]
        expires_in_s: i64,
        /// Limit on uses.
        #[arg(long)]
        max_uses: Option<u32>,
    },
    /// Narrows a token (fewer purposes, earlier expiry); anyone holding it
    /// can do this, nobody can widen it.
    Attenuate {
        /// The token (base64).
        #[arg(long)]
        token: String,
        /// Keep only these purposes.
        #[arg(long = "purpose")]
        purposes: Vec<String>,
        /// Expire within this many seconds.
        #[arg(long)]
        expires_in_s: Option<i64>,
    },
    /// Revokes one token (by id) or every token issued until now, on every
    /// node of the network.
    Revoke {
        #[command(flatten)]
        wallet: WalletArgs,
        /// The network file.
        #[arg(long)]
        network: PathBuf,
        /// The token id to revoke (32 hex, see `wallet show`).
        #[arg(long, conflicts_with = "all", required_unless_present = "all")]
        token_id: Option<String>,
        /// Revoke every token issued until now.
        #[arg(long)]
        all: bool,
    },
    /// Prints a token's claims without verifying it.
    Inspect {
        /// The token (base64).
        #[arg(long)]
        token: String,
    },
}

fn purposes(list: &[String]) -> anyhow::Result<Vec<Purpose>> {
    list.iter()
        .map(|p| {
            p.parse::<Purpose>()
                .map_err(|e| anyhow::anyhow!("--purpose {p}: {e}"))
        })
        .collect()
}

pub(crate) fn wallet(cmd: WalletCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        WalletCmd::New(args) => {
            let p = args.passphrase()?;
            let w = Wallet::create(OffsetDateTime::now_utc());
            w.save_new(&args.wallet, &p, KdfParams::default())
                .with_context(|| format!("cannot create wallet {}", args.wallet.display()))?;
            println!(
                "created wallet {} for subject {}",
                args.wallet.display(),
                w.subject().to_hex()
            );
        }
        WalletCmd::Show(args) => {
            let w = args.open()?;
            println!("subject key: {}", w.subject().to_hex());
            println!("created:     {}", w.created_at());
            println!("consent receipts: {}", w.receipts().len());
            println!("{}", w.export_receipts_json());
        }
        WalletCmd::Weave(cmd) => return crate::weave::wallet_cmd(cmd),
        WalletCmd::Export {
            wallet,
            receipts,
            everything,
            network,
            node,
        } => {
            let w = wallet.open()?;
            if let (true, Some(network)) = (everything, &network) {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&export_everything(&w, network, node)?)?
                );
            } else if receipts {
                println!("{}", w.export_receipts_json());
            } else {
                println!("{}", serde_json::to_string_pretty(&w.export_public())?);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Everything about the wallet's subject: the wallet's own records and the
/// subject's audited log entries (GDPR Art. 15 and 20).
fn export_everything(w: &Wallet, network: &Path, node: usize) -> anyhow::Result<serde_json::Value> {
    let client = client(network)?;
    let party = PartyId::ALL
        .get(node)
        .copied()
        .ok_or_else(|| anyhow::anyhow!("--node must be 0, 1 or 2"))?;
    let audit = runtime()?.block_on(client.audit_subject(party, w.audit_key()))?;
    let entries = audit
        .entries
        .iter()
        .map(|a| {
            Ok(serde_json::json!({
                "entry": serde_json::from_slice::<serde_json::Value>(&a.entry.to_bytes())?,
                "inclusion_proof": a.proof,
            }))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let erased: Vec<_> = audit
        .erased
        .iter()
        .map(|e| serde_json::json!({"seq": e.seq, "erased_by": e.erased_by, "commitment": e.commitment}))
        .collect();
    let exported_at = OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(serde_json::json!({
        "format": "sanctuary.export/v1",
        "exported_at": exported_at,
        "subject": w.subject().to_hex(),
        "wallet": w.export_public(),
        "network": client.network().network,
        "enrollments": w.enrollments,
        "consent_receipts": w.receipts(),
        "credentials": w.credentials,
        "threads": w.threads,
        "log": {
            "read_from_node": node,
            "checkpoint": audit.checkpoint.note().to_string(),
            "checkpoint_size": audit.checkpoint.size(),
            "checkpoint_signers": audit.checkpoint.signers().len(),
            "entries": entries,
            "erased_at_your_request": erased,
        },
    }))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn client(path: &Path) -> anyhow::Result<Client> {
    Ok(Client::new(NetworkFile::load(path)?)?)
}

pub(crate) fn consent(cmd: ConsentCmd) -> anyhow::Result<ExitCode> {
    let now = OffsetDateTime::now_utc();
    match cmd {
        ConsentCmd::Issue {
            wallet,
            network,
            audience,
            purposes: p,
            expires_in_s,
            max_uses,
        } => {
            let net = NetworkFile::load(&network)?;
            let mut w = wallet.open()?;
            if expires_in_s <= 0 {
                bail!("--expires-in-s must be positive");
            }
            let issued = w.issue_token(
                &TokenRequest {
                    network: NetworkId::new(&net.network)?,
                    audience: RelyingPartyId::new(&audience)?,
                    purposes: purposes(&p)?,
                    expires_at: now + time::Duration::seconds(expires_in_s),
                    max_uses,
                },
                now,
            )?;
            wallet.save(&w)?;
            eprintln!(
                "token {} for {audience}, expires in {expires_in_s} s (receipt saved in the wallet)",
                issued.id.to_hex()
            );
            println!("{}", issued.token.as_base64());
        }
        ConsentCmd::Attenuate {
            token,
            purposes: p,
            expires_in_s,
        } => {
            let token = ConsentToken::from_base64(token)?;
            let narrowed = token.attenuate(&Attenuation {
                purposes: if p.is_empty() {
                    None
                } else {
                    Some(purposes(&p)?)
                },
                expires_at: expires_in_s.map(|s| now + time::Duration::seconds(s)),
            })?;
            println!("{}", narrowed.as_base64());
        }
        ConsentCmd::Revoke {
            wallet,
            network,
            token_id,
            all,
        } => {
            let client = client(&network)?;
            let w = wallet.open()?;
            let net_id = NetworkId::new(&client.network().network)?;
            let revocation = match (token_id, all) {
                (Some(id), false) => Revocation::token(
                    net_id,
                    id.parse::<TokenId>()
                        .map_err(|_| anyhow::anyhow!("--token-id must be 32 hex characters"))?,
                    now,
                ),
                _ => Revocation::issued_before(net_id, now + time::Duration::seconds(1), now),
            };
            let r = runtime()?.block_on(client.revoke(&w, revocation))?;
            println!(
                "revoked on all nodes (operation {}); the revocation is in your audit trail",
                r.seq
            );
        }
        ConsentCmd::Inspect { token } => {
            let token = ConsentToken::from_base64(token)?;
            println!("{}", sanctuary_consent::token::inspect_unverified(&token)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `sanctuary audit`.
#[derive(Debug, clap::Args)]
pub(crate) struct AuditArgs {
    /// The network file.
    #[arg(long)]
    pub(crate) network: PathBuf,
    /// Subject mode: the wallet whose entries to find.
    #[arg(long)]
    pub(crate) wallet: Option<PathBuf>,
    /// Environment variable holding the wallet passphrase.
    #[arg(long, default_value = "SANCTUARY_WALLET_PASSPHRASE")]
    pub(crate) passphrase_env: String,
    /// File holding the wallet passphrase, instead of the environment.
    #[arg(long)]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// Auditor mode: check every node's co-signed checkpoint, consistency
    /// with `--from`, and that each node's entries hash to its root.
    #[arg(long)]
    pub(crate) log: bool,
    /// A checkpoint saved earlier (signed-note text) to check consistency from.
    #[arg(long)]
    pub(crate) from: Option<PathBuf>,
    /// Save the newest verified checkpoint here (for the next `--from`).
    #[arg(long)]
    pub(crate) save: Option<PathBuf>,
    /// Which node to read the log from (subject mode).
    #[arg(long, default_value_t = 0)]
    pub(crate) node: usize,
    /// Auditor mode: how many nodes must answer for the audit to count.
    /// A fork shows only when the nodes that hold its two sides are both
    /// asked, so the default is every node; an audit that reaches fewer
    /// fails (exit 4) rather than passing on what it did not see.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub(crate) min_nodes: u8,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Prints an auditor's result and picks the exit code: 0 when at least
/// `--min-nodes` nodes were audited and no fork or tampering was found, 1
/// when the log is inconsistent, 4 when too few nodes answered.
fn log_audit_report(
    args: &AuditArgs,
    audit: &sanctuary_client::LogAudit,
) -> anyhow::Result<ExitCode> {
    let audited = audit.checkpoints.len();
    let enough = audited >= usize::from(args.min_nodes);
    let consistent = audit.forks.is_empty() && audit.tampered.is_empty();
    let newest = audit.checkpoints.iter().max_by_key(|(_, c)| c.size());
    if let (Some(path), Some((_, newest))) = (&args.save, newest) {
        std::fs::write(path, newest.note().to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let (verdict, code) = match (consistent, enough) {
        (false, _) => ("inconsistent", crate::exit::NEGATIVE),
        (true, false) => ("not_enough_nodes", crate::exit::UNREACHABLE),
        (true, true) => ("consistent", crate::exit::OK),
    };
    if args.json {
        let checkpoints: Vec<_> = audit
            .checkpoints
            .iter()
            .map(|(p, cp)| {
                serde_json::json!({
                    "party": p.index(),
                    "size": cp.size(),
                    "root": cp.root().to_string(),
                    "signers": cp.signers().len(),
                })
            })
            .collect();
        let pairs = |v: &[(PartyId, String)]| -> Vec<serde_json::Value> {
            v.iter()
                .map(|(p, why)| serde_json::json!({"party": p.index(), "reason": why}))
                .collect()
        };
        println!(
            "{}",
            serde_json::json!({
                "verdict": verdict,
                "nodes_audited": audited,
                "nodes_required": args.min_nodes,
                "checkpoints": checkpoints,
                "unreachable": pairs(&audit.unreachable),
                "tampered": pairs(&audit.tampered),
                "forks": audit.forks.iter().map(|f| f.to_string()).collect::<Vec<_>>(),
                "saved": args.save.as_ref().filter(|_| newest.is_some()),
            })
        );
        return Ok(crate::exit::exit(code));
    }
    for (p, cp) in &audit.checkpoints {
        println!(
            "{p}: checkpoint size {} root {} signed by {} node(s)",
            cp.size(),
            cp.root(),
            cp.signers().len()
        );
    }
    for (p, why) in &audit.unreachable {
        println!("{p}: not audited: {why}");
    }
    for (p, why) in &audit.tampered {
        println!("{p}: TAMPERED: {why}");
    }
    for f in &audit.forks {
        println!("{f}");
    }
    if let (Some(path), Some((_, newest))) = (&args.save, newest) {
        println!(
            "saved checkpoint of size {} to {}",
            newest.size(),
            path.display()
        );
    }
    match verdict {
        "inconsistent" => println!("LOG INCONSISTENT"),
        "not_enough_nodes" => println!(
            "NOT AUDITED: {audited} of 3 nodes answered, {} needed (a fork hides on a node that is not asked)",
            args.min_nodes
        ),
        _ => println!("log consistent ({audited} of 3 nodes audited)"),
    }
    Ok(crate::exit::exit(code))
}

pub(crate) fn audit(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.network)?;
    let rt = runtime()?;
    if args.log {
        let saved = args
            .from
            .as_ref()
            .map(|p| -> anyhow::Result<SignedNote> {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                SignedNote::parse(&text)
                    .with_context(|| format!("{} is not a signed note", p.display()))
            })
            .transpose()?;
        let audit = rt.block_on(client.audit_log(saved.as_ref(), true))?;
        return log_audit_report(args, &audit);
    }
    let Some(wallet) = &args.wallet else {
        bail!("give --wallet (your own entries) or --log (auditor)");
    };
    let wallet = WalletArgs {
        wallet: wallet.clone(),
        passphrase_env: args.passphrase_env.clone(),
        passphrase_file: args.passphrase_file.clone(),
    };
    let party = PartyId::ALL
        .get(args.node)
        .copied()
        .ok_or_else(|| anyhow::anyhow!("--node must be 0, 1 or 2"))?;
    let w = wallet.open()?;
    let audit = rt.block_on(client.audit_subject(party, w.audit_key()))?;
    if args.json {
        let entries: Vec<_> = audit
            .entries
            .iter()
            .map(|a| serde_json::from_slice::<serde_json::Value>(&a.entry.to_bytes()))
            .collect::<Result<_, _>>()?;
        println!(
            "{}",
            serde_json::json!({
                "checkpoint_size": audit.checkpoint.size(),
                "checkpoint_signers": audit.checkpoint.signers().len(),
                "entries": entries,
                "erased": audit.erased.iter().map(|e| serde_json::json!({"seq": e.seq, "erased_by": e.erased_by})).collect::<Vec<_>>(),
            })
        );
    } else {
        println!(
            "{} use(s) of your enrollment, each proven included in the log of size {} co-signed by {} nodes:",
            audit.entries.len(),
            audit.checkpoint.size(),
            audit.checkpoint.signers().len()
        );
        for a in &audit.entries {
            let e = &a.entry;
            println!(
                "  #{:<6} {} {:?} by {} for {}: {:?}",
                e.seq,
                e.time_ms,
                e.operation,
                e.relying_party.as_deref().unwrap_or("-"),
                e.purpose.as_deref().unwrap_or("-"),
                e.outcome
            );
        }
        for e in &audit.erased {
            println!(
                "  #{:<6} erased at your request (deletion #{}); its leaf still verifies",
                e.seq, e.erased_by
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
