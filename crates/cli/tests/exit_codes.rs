//! Exit codes a script can rely on, and an audit that cannot pass on what
//! it did not see.

use std::process::{Command, Output};

fn sanctuary(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(args)
        .output()
        .expect("run sanctuary")
}

#[test]
fn an_audit_of_stopped_nodes_fails_as_unreachable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path().to_str().expect("utf-8 path");
    assert!(sanctuary(&["network", "init", "--dir", d]).status.success());
    let net = format!("{d}/network.toml");
    // No node is running.
    let out = sanctuary(&["audit", "--network", &net, "--log"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOT AUDITED: 0 of 3"), "{text}");
    assert!(!text.contains("log consistent"), "{text}");

    let out = sanctuary(&["audit", "--network", &net, "--log", "--json"]);
    assert_eq!(out.status.code(), Some(4));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["verdict"], "not_enough_nodes");
    assert_eq!(v["nodes_audited"], 0);
    assert_eq!(v["unreachable"].as_array().map(Vec::len), Some(3));

    // Fewer than two nodes can never be enough: a usage error.
    let out = sanctuary(&["audit", "--network", &net, "--log", "--min-nodes", "1"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_documents_exit_codes_and_version_names_the_commit() {
    let out = sanctuary(&["--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for line in [
        "0  success",
        "3  refused",
        "4  not enough nodes",
        "5  integrity",
    ] {
        assert!(help.contains(line), "--help lists {line:?}: {help}");
    }
    let out = sanctuary(&["--version"]);
    let version = String::from_utf8_lossy(&out.stdout);
    assert!(version.contains("(commit "), "{version}");
}
