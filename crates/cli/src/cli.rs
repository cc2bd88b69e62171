use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use sanctuary_template::TemplateKind;

use crate::bench;

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
    /// Benchmark MPC matching against a plaintext scan of the same data
    /// (three parties in this process, over in-process channels).
    Bench(BenchArgs),
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
        Command::Bench(args) => bench::run(&args),
    }
}
