use std::process::ExitCode;

use clap::{ArgGroup, Parser, Subcommand, ValueEnum};
use sanctuary_capture::Capture;
use sanctuary_template::TemplateKind;

use std::path::PathBuf;

use crate::bench_network::BenchNetworkArgs;
use crate::wallet::{AuditArgs, ConsentCmd, WalletArgs, WalletCmd};
use crate::{bench, bench_network, client_ops, demo, eval, wallet, weave};

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
pub(crate) struct DemoArgs {
    /// Number of people to enroll.
    #[arg(long, default_value_t = 500)]
    pub(crate) population: usize,
    /// Genuine and impostor verifications to run (each).
    #[arg(long, default_value_t = 100)]
    pub(crate) checks: usize,
    /// Keep the network's files here instead of a temporary directory.
    #[arg(long)]
    pub(crate) dir: Option<PathBuf>,
    /// Seed for the generated population.
    #[arg(long, default_value_t = 7)]
    pub(crate) seed: u64,
    /// Enroll real faces from this labelled folder (`ID/K.ext` or
    /// `ID_K.ext`), one identity per person, embedded by the capture
    /// pipeline; synthetic embeddings fill the rest of the population.
    /// Default: `../shared/data/faces/orl` (ORL) where present.
    #[arg(long, conflicts_with = "synthetic")]
    pub(crate) faces: Option<PathBuf>,
    /// Use synthetic embeddings only, even where face images are present.
    #[arg(long)]
    pub(crate) synthetic: bool,
    /// Images embedded per real identity: the first is enrolled, the others
    /// are fresh captures for verification and re-enrolment attempts.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(2..=100))]
    pub(crate) face_images: u16,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, clap::Args)]
pub(crate) struct EvalArgs {
    /// Labelled image folder: `ID/K.ext` sub-folders or `ID_K.ext` files
    /// (faces, or pre-normalised iris strips at least 3x wider than tall).
    #[arg(long)]
    pub(crate) dataset: PathBuf,
    /// Print one JSON object instead of a report.
    #[arg(long)]
    pub(crate) json: bool,
    /// Where to write `det.svg` and `histogram.svg` (default: a new
    /// directory under the system temporary directory).
    #[arg(long)]
    pub(crate) plots: Option<PathBuf>,
    /// Re-run only the first N pairs through MPC (default: every pair for
    /// faces; the pairs within the first 20 identities for iris).
    #[arg(long)]
    pub(crate) mpc_pairs: Option<usize>,
}

/// Template kind on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum KindArg {
    /// 512-d face-style embeddings.
    Embedding,
    /// Iris codes with masks, +-15 rotations.
    Iris,
}

impl From<KindArg> for TemplateKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Embedding => TemplateKind::Embedding,
            KindArg::Iris => TemplateKind::Iris,
        }
    }
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

#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Template kind.
    #[arg(long, value_enum, default_value = "embedding")]
    pub(crate) kind: KindArg,
    /// Number of enrolled templates.
    #[arg(long, default_value_t = 10_000)]
    pub(crate) gallery: usize,
    /// Number of queries (half genuine, half impostor).
    #[arg(long, default_value_t = 8)]
    pub(crate) queries: usize,
    /// Embedding dimension (embeddings only).
    #[arg(long, default_value_t = 512)]
    pub(crate) dim: usize,
    /// Seed for the generated data (the shares always use fresh OS randomness).
    #[arg(long, default_value_t = 1)]
    pub(crate) seed: u64,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}

pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Bench(BenchCmd {
            network: Some(BenchSub::Network(args)),
            ..
        }) => bench_network::run(&args),
        Command::Bench(BenchCmd { args, .. }) => bench::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Network(NetworkCmd::Init {
            nodes,
            dir,
            hosts,
            name,
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
            let path = sanctuary_node::init_network(&dir, hosts, &name, Default::default())?;
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
