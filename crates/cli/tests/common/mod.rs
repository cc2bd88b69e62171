//! Helpers shared by the CLI tests that drive the `sanctuary` binary.
#![allow(dead_code)] // each test binary uses a subset

use std::path::Path;
use std::process::{Command, Output};

/// The passphrase of the tests' wallets (given through the environment).
pub(crate) const PASS: &str = "correct horse battery staple";

/// Runs `sanctuary args` with the wallet passphrase set.
pub(crate) fn sanctuary(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(args)
        .env("SANCTUARY_WALLET_PASSPHRASE", PASS)
        .output()
        .expect("run sanctuary")
}

/// Runs `sanctuary args`, which must succeed; its stdout.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = sanctuary(args);
    assert!(
        out.status.success(),
        "sanctuary {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path as a command-line argument.
pub(crate) fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}
