//! `sanctuary`: the command-line front end. `main` only parses arguments,
//! dispatches, and maps errors to exit codes; the work lives in the crates.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod client_ops;
mod wallet;
mod weave;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SANCTUARY_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli::run(args) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}
