//! `sanctuary`: the command-line front end. `main` only parses arguments,
//! sets up logging, dispatches, and maps errors to exit codes ([`exit`]);
//! the work lives in the crates.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;

mod cli;
mod client_ops;
mod exit;
mod wallet;
mod weave;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    init_logging(&args);
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            exit::exit(exit::code_for(&err))
        }
    }
}

/// Logs go to stderr. The filter is `RUST_LOG` (the older `SANCTUARY_LOG`
/// is still read), by default `info` for a node and `warn` for everything
/// else; colour only when stderr is a terminal.
fn init_logging(args: &cli::Cli) {
    let default = if args.is_node() { "info" } else { "warn" };
    let filter = ["RUST_LOG", "SANCTUARY_LOG"]
        .into_iter()
        .find_map(|var| tracing_subscriber::EnvFilter::try_from_env(var).ok())
        .unwrap_or_else(|| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match args.log_format {
        cli::LogFormat::Json => builder.json().with_ansi(false).init(),
        cli::LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
    }
}
