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
#[command(name = "sanctuary", version, about, long_about = None)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
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
    /// Run one operator's node.
    Node {
        /// The node's config file (written by `network init`).
        #[arg(long)]
        config: PathBuf,
    },
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

#[derive(Debug, Subcommand)]
pub(crate) enum NetworkCmd {
    /// Generate keys and configs for three nodes.
    Init {
        /// Number of nodes (this version supports exactly 3).
        #[arg(long, default_value_t = 3)]
        nodes: usize,
        /// Where to write `network.toml` and `node-<i>/`.
        #[arg(long)]
        dir: PathBuf,
        /// Host of each node (repeat 3 times for a multi-host network).
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
            Ok(ExitCode::SUCCESS)
        }
        Command::Node { config } => client_ops::node(&config),
        Command::Enroll {
            client,
            wallet,
            site,
        } => client_ops::enroll(&client, &wallet, &site),
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
        } => client_ops::delete(&network, &enrollment, &wallet),
        Command::Wallet(cmd) => wallet::wallet(cmd),
        Command::Consent(cmd) => wallet::consent(cmd),
        Command::Audit(args) => wallet::audit(&args),
        Command::VerifyPresentation(args) => weave::verify_presentation(&args),
        Command::Festival(cmd) => weave::festival_cmd(cmd),
    }
}
