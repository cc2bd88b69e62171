use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand};
use sanctuary_capture::Capture;

use std::path::PathBuf;

use crate::wallet::{AuditArgs, ConsentCmd, WalletArgs, WalletCmd};
use crate::{client_ops, wallet, weave};
use sanctuary_devnet::bench::BenchArgs;
use sanctuary_devnet::bench_network::BenchNetworkArgs;
use sanctuary_devnet::demo::DemoArgs;
use sanctuary_devnet::eval::EvalArgs;

/// Sanctuary: a biometric trust network. Templates are secret-shared across
/// three operator nodes and matched by multi-party computation; no single
/// node ever holds a usable template.
#[derive(Debug, Parser)]
#[command(name = "sanctuary", version = VERSION, about, long_about = None, after_help = crate::exit::HELP)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr: `text`, or `json` (one object per line, for
    /// log collectors).
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "SANCTUARY_LOG_FORMAT")]
    pub(crate) log_format: LogFormat,
}

/// `--version`: the crate version and the commit it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SANCTUARY_COMMIT"),
    ")"
);

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// Human-readable lines (coloured only on a terminal).
    Text,
    /// JSON objects, one per line.
    Json,
}

impl Cli {
    /// Whether this runs a node (whose default log level is `info`).
    pub(crate) fn is_node(&self) -> bool {
        matches!(
            self.command,
            Command::Node(NodeCmd {
                config: Some(_),
                ..
            })
        )
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a whole local network (three node processes, embedded storage,
    /// loopback mutual TLS), enroll a population, verify and deduplicate,
    /// report, and shut down.
    Demo(DemoArgs),
    /// Benchmark MPC matching against a plaintext scan of the same data
    /// (three parties in this process, over in-process channels); `bench
    /// network` measures the whole network end to end.
    Bench(BenchCmd),
    /// Measure face or iris accuracy on a labelled image folder (EER, FNMR at
    /// FMR 1e-3, DET plot), then re-run the same pair decisions through
    /// 3-party MPC in this process and count disagreements.
    Eval(EvalArgs),
    /// Create or inspect a network's keys and configs.
    #[command(subcommand)]
    Network(NetworkCmd),
    /// Run one operator's node (`--config node.toml`), or make its keys on
    /// the operator's own machine (`node keygen`, then `node configure`).
    Node(NodeCmd),
    /// Enroll templates or face images (deduplicated by the network first),
    /// bound to the subject's wallet key, which signs the consent.
    Enroll {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        wallet: WalletArgs,
        /// The enrollment site (relying party id).
        #[arg(long, default_value = "enrollment-site.local")]
        site: String,
        /// Accept the nodes' notice without asking (scripts): it is still
        /// printed, and your signature on it is what each node keeps.
        #[arg(long)]
        accept_notice: bool,
    },
    /// 1:1: does a template or face image match an enrollment? Needs the
    /// subject's consent token for this relying party.
    Verify {
        #[command(flatten)]
        client: ClientArgs,
        /// The enrollment to compare with.
        #[arg(long)]
        enrollment: String,
        #[command(flatten)]
        consent: ConsentArgs,
    },
    /// 1:N: is a template or face image already enrolled? (Answers only yes
    /// or no, with the consent of the person being checked.)
    Dedupe {
        #[command(flatten)]
        client: ClientArgs,
        #[command(flatten)]
        consent: ConsentArgs,
        /// The public key (hex) of the person being checked (`wallet show`).
        #[arg(long)]
        subject: String,
    },
    /// Delete an enrollment's shares on every node, signed by its subject.
    Delete {
        /// The network file.
        #[arg(long)]
        network: PathBuf,
        /// The enrollment to delete.
        #[arg(long)]
        enrollment: String,
        #[command(flatten)]
        wallet: WalletArgs,
        /// Also erase the bodies of every earlier log entry of this wallet
        /// (the nodes check each is yours; the leaves and proofs stay).
        /// Reveals the wallet's audit key to the nodes for this request.
        #[arg(long)]
        erase_log: bool,
    },
    /// The subject's wallet: `new`, `show`, `export`; and Identity Weaving:
    /// personhood credentials, threads, vouches and presentations.
    #[command(subcommand)]
    Wallet(WalletCmd),
    /// Consent tokens: `issue`, `attenuate`, `revoke`, `inspect`.
    #[command(subcommand)]
    Consent(ConsentCmd),
    /// Audit the transparency log: your own entries (`--wallet`), or the
    /// whole log's consistency across nodes (`--log`).
    Audit(AuditArgs),
    /// As a verifier, check a presentation made by `wallet present`.
    VerifyPresentation(weave::VerifyPresentationArgs),
    /// Festivals: each unique person checks in once per event, under a
    /// per-event pseudonym.
    #[command(subcommand)]
    Festival(weave::FestivalCmd),
}

/// A relying party's consent: who it is and the subject's token.
#[derive(Debug, clap::Args)]
pub(crate) struct ConsentArgs {
    /// The relying party making the request (the token's audience).
    #[arg(long)]
    pub(crate) relying_party: String,
    /// The subject's consent token (base64), or @FILE to read it from a file.
    #[arg(long)]
    pub(crate) token: String,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub(crate) struct NodeCmd {
    #[command(subcommand)]
    sub: Option<NodeSub>,
    /// The node's config file (written by `network init` or `node configure`).
    #[arg(long, required = true)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum NodeSub {
    /// Make this node's secrets here, on its operator's machine (TLS
    /// identity, sealing and log-signing keys, mode 0600), and print its
    /// public part (`DIR/public.toml`) to hand to whoever runs `network
    /// assemble`. No secret leaves this machine.
    Keygen {
        /// The new node directory (must not exist; nothing is left behind on failure).
        #[arg(long)]
        dir: PathBuf,
        /// Network name (the same on every node).
        #[arg(long, default_value = "sanctuary")]
        name: String,
        /// This node's party id: 0, 1 or 2 (agreed among the operators).
        #[arg(long)]
        party: u8,
        /// Host name or address clients and peers use to reach this node.
        #[arg(long)]
        advertise: String,
        /// Client API port.
        #[arg(long, default_value_t = sanctuary_node::DEFAULT_API_PORT)]
        api_port: u16,
        /// Peer-link port.
        #[arg(long, default_value_t = sanctuary_node::DEFAULT_PEER_PORT)]
        peer_port: u16,
        /// Listen address for both (default: every interface).
        #[arg(long, default_value = "0.0.0.0")]
        listen: String,
        /// Serve the client API as plain HTTP (local experiments only).
        #[arg(long)]
        insecure_http: bool,
    },
    /// Write `DIR/node.toml` from the assembled `network.toml`, after
    /// checking that its entry for this node carries this node's own keys.
    Configure {
        /// The node directory made by `node keygen`.
        #[arg(long)]
        dir: PathBuf,
        /// The network file made by `network assemble`.
        #[arg(long)]
        network: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum NetworkCmd {
    /// Combine the three nodes' public parts (`public.toml` from each
    /// operator's `node keygen`) into `network.toml`. Needs no secret.
    /// Identity Weaving keys need a distributed key generation that this
    /// version does not run, so such a network has no personhood
    /// credentials or festivals yet.
    Assemble {
        /// A node's `public.toml` (give three: parties 0, 1 and 2).
        #[arg(long = "public", required = true)]
        publics: Vec<PathBuf>,
        /// Where to write the network file.
        #[arg(long, default_value = "network.toml")]
        out: PathBuf,
    },
    /// Generate keys and configs for three nodes on this machine. This
    /// machine then holds every node's secrets (a trusted dealer): for
    /// independent operators use `node keygen` on each operator's machine
    /// and `network assemble`.
    Init {
        /// Number of nodes (this version supports exactly 3).
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Where to write `network.toml` and `node-<i>/`.
        #[arg(long)]
        dir: PathBuf,
        /// Host of each node (repeat 3 times for a multi-host network).
        /// Loopback hosts get free ports; other hosts the fixed defaults
        /// (API 7443, peers 7444), listening on every interface.
        #[arg(long = "host", default_values_t = ["127.0.0.1".to_string(), "127.0.0.1".to_string(), "127.0.0.1".to_string()])]
        hosts: Vec<String>,
        /// Network name.
        #[arg(long, default_value = "sanctuary")]
        name: String,
        /// Serve the client API as plain HTTP (local experiments only:
        /// clients cannot authenticate the nodes). The default is HTTPS
        /// with each node's key pinned in network.toml.
        #[arg(long)]
        insecure_http: bool,
    },
}

#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("input").required(true).multiple(true).args(["templates", "images"])))]
pub(crate) struct ClientArgs {
    /// The network file (`network.toml`).
    #[arg(long)]
    pub(crate) network: PathBuf,
    /// Template JSON files (`{"kind":"embedding","values":[...]}` or
    /// `{"kind":"iris","code":"0101...","mask":"1111..."}`).
    #[arg(long = "template")]
    pub(crate) templates: Vec<PathBuf>,
    /// Face images (JPEG, PNG, PGM/PNM, BMP): captured here (face detection,
    /// liveness check, embedding), and only the quantised template is sent,
    /// secret-shared. Processed after the `--template` files.
    #[arg(long = "image")]
    pub(crate) images: Vec<PathBuf>,
    /// Refuse a face image whose liveness score is below this (0 disables
    /// the check). The score is shown on stderr and never stored.
    #[arg(long, default_value_t = Capture::DEFAULT_LIVENESS_THRESHOLD)]
    pub(crate) liveness_threshold: f32,
    /// Treat the whole image as the face when no face is detected (tightly
    /// cropped photos, such as ORL's).
    #[arg(long)]
    pub(crate) assume_cropped: bool,
    /// Print JSON lines instead of text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct BenchCmd {
    #[command(subcommand)]
    network: Option<BenchSub>,
    #[command(flatten)]
    args: BenchArgs,
}

#[derive(Debug, Subcommand)]
enum BenchSub {
    /// End to end over loopback mutual TLS: preload N enrollments into each
    /// node's store, start three node processes (start-up time, memory),
    /// then time enroll, dedupe and verify through the client API, every
    /// decision checked against a plaintext scan.
    Network(BenchNetworkArgs),
}

/// This executable, which the demo and `bench network` run as the nodes.
fn exe() -> anyhow::Result<PathBuf> {
    std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the sanctuary executable: {e}"))
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Bench(BenchCmd {
            network: Some(BenchSub::Network(args)),
            ..
        }) => sanctuary_devnet::bench_network::run(&exe()?, &args),
        Command::Bench(BenchCmd { args, .. }) => sanctuary_devnet::bench::run(&args),
        Command::Demo(args) => sanctuary_devnet::demo::run(&exe()?, &args),
        Command::Eval(args) => sanctuary_devnet::eval::run(&args),
        Command::Network(NetworkCmd::Init {
            nodes,
            dir,
            hosts,
            name,
            insecure_http,
        }) => {
            if nodes != 3 {
                anyhow::bail!(
                    "this version runs networks of exactly 3 nodes (got --nodes {nodes})"
                );
            }
            let hosts: [&str; 3] = match hosts.as_slice() {
                [a, b, c] => [a.as_str(), b.as_str(), c.as_str()],
                _ => anyhow::bail!("give --host three times (one per node), or not at all"),
            };
            let path = sanctuary_node::init_network_with(
                &dir,
                hosts,
                &name,
                Default::default(),
                insecure_http,
            )?;
            if insecure_http {
                eprintln!(
                    "warning: the client API is plain HTTP: clients cannot authenticate the nodes"
                );
            }
            println!(
                "wrote {} and node-0..2/ (keys are mode 0600; copy each node-<i>/ to its host)",
                path.display()
            );
            eprintln!(
                "note: this machine made every node's secrets, so whoever holds this directory \
                 holds them all; independent operators use `node keygen` and `network assemble`"
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Network(NetworkCmd::Assemble { publics, out }) => {
            let net = sanctuary_node::assemble(&publics, &out, Default::default())?;
            println!(
                "wrote {} for network {:?}; each operator now runs `sanctuary node configure --dir <its dir> --network {}`",
                out.display(),
                net.network,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Node(NodeCmd {
            sub:
                Some(NodeSub::Keygen {
                    dir,
                    name,
                    party,
                    advertise,
                    api_port,
                    peer_port,
                    listen,
                    insecure_http,
                }),
            ..
        }) => {
            let party = sanctuary_share::PartyId::try_from(party)?;
            let host = if advertise.contains(':') && !advertise.starts_with('[') {
                format!("[{advertise}]")
            } else {
                advertise
            };
            let listen_host = if listen.contains(':') && !listen.starts_with('[') {
                format!("[{listen}]")
            } else {
                listen
            };
            let public = sanctuary_node::keygen(&sanctuary_node::KeygenRequest {
                dir: dir.clone(),
                network: name,
                party,
                advertise_api: format!("{host}:{api_port}"),
                advertise_peer: format!("{host}:{peer_port}"),
                listen_api: Some(format!("{listen_host}:{api_port}")),
                listen_peer: Some(format!("{listen_host}:{peer_port}")),
                insecure_http,
            })?;
            eprintln!(
                "wrote {} (secrets mode 0600; they never leave this machine). Hand {} to whoever runs `network assemble`:",
                dir.display(),
                dir.join(sanctuary_node::PUBLIC_FILE).display()
            );
            print!("{}", sanctuary_node::public_toml(&public)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Node(NodeCmd {
            sub: Some(NodeSub::Configure { dir, network }),
            ..
        }) => {
            let path = sanctuary_node::configure(&dir, &network)?;
            println!(
                "wrote {}; start with `sanctuary node --config {}`",
                path.display(),
                path.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Node(NodeCmd {
            config: Some(config),
            ..
        }) => client_ops::node(&config),
        Command::Node(NodeCmd { .. }) => anyhow::bail!("give --config, or a subcommand"),
        Command::Enroll {
            client,
            wallet,
            site,
            accept_notice,
        } => client_ops::enroll(&client, &wallet, &site, accept_notice),
        Command::Verify {
            client,
            enrollment,
            consent,
        } => client_ops::verify(&client, &enrollment, &consent),
        Command::Dedupe {
            client,
            consent,
            subject,
        } => client_ops::dedupe(&client, &consent, &subject),
        Command::Delete {
            network,
            enrollment,
            wallet,
            erase_log,
        } => client_ops::delete(&network, &enrollment, &wallet, erase_log),
        Command::Wallet(cmd) => wallet::wallet(cmd),
        Command::Consent(cmd) => wallet::consent(cmd),
        Command::Audit(args) => wallet::audit(&args),
        Command::VerifyPresentation(args) => weave::verify_presentation(&args),
        Command::Festival(cmd) => weave::festival_cmd(cmd),
    }
}
