//! Evaluate a labelled folder and print the report as JSON:
//!
//! `cargo run --release -p sanctuary-capture --example eval -- DIR [PLOT_DIR]`
//!
//! (The `sanctuary eval --dataset DIR --json` command does the same.)

use sanctuary_capture::eval::{EvalOptions, evaluate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: eval DIR [PLOT_DIR]")?;
    let options = EvalOptions {
        plot_dir: args.next().map(Into::into),
        ..EvalOptions::default()
    };
    let ev = evaluate(&dir, &options)?;
    for (path, err) in &ev.failures {
        eprintln!("failed: {}: {err}", path.display());
    }
    println!("{}", serde_json::to_string_pretty(&ev.report)?);
    Ok(())
}
