//! The README's main command, end to end: `sanctuary demo --json` starts
//! three node processes, runs the scenario, reports, and leaves no node
//! running.

use std::path::Path;
use std::process::Command;

#[test]
fn demo_runs_a_three_process_network_and_agrees_with_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net_dir = dir.path().join("net");
    let out = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args([
            "demo",
            "--population",
            "60",
            "--checks",
            "10",
            "--json",
            "--synthetic",
            "--dir",
        ])
        .arg(&net_dir)
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["nodes"], 3);
    assert_eq!(v["storage"], "sqlite");
    assert_eq!(v["real_faces_enrolled"], 0);
    assert!(
        v["templates"]
            .as_str()
            .expect("templates")
            .starts_with("synthetic")
    );
    assert_eq!(v["disagreements_with_plaintext"], 0);
    assert_eq!(v["enrolled"], 60);
    assert!(v["duplicates_refused"].as_u64().expect("count") >= 1);
    assert_eq!(v["genuine_total"], 10);
    assert_eq!(v["impostor_total"], 10);
    assert_eq!(v["impostor_accepted"], 0);
    assert!(v["enroll_per_s"].as_f64().expect("rate") > 0.0);
    assert!(v["dedupe_ms_per_query"].as_f64().expect("latency") > 0.0);
    assert!(v["deletions_verified"].as_u64().expect("count") > 0);
    // Consent and policy: one forbidden request of each kind, each refused
    // with its own rule; a rogue node cannot get one computed.
    let tried = v["forbidden_requests_tried"].as_u64().expect("count");
    assert!(tried >= 10, "{v}");
    assert_eq!(v["forbidden_requests_refused"].as_u64(), Some(tried), "{v}");
    assert_eq!(v["rogue_node_blocked"], true, "{v}");
    // A node sending a wrong score share: caught under malicious security
    // with no decision released, while the same node flips the decision of
    // a semi-honest network.
    assert_eq!(v["cheating_detected"], true, "{v}");
    assert_eq!(v["wrong_decisions_released"], 0, "{v}");
    assert_eq!(v["semi_honest_wrong_decisions_released"], 1, "{v}");
    // Rights no single node can block, and a log that can forget.
    assert_eq!(v["deletion_despite_refusing_node"], true, "{v}");
    assert_eq!(v["erased_log_bodies_verified"], true, "{v}");
    // One person, a face under one wallet and an iris under another: no
    // personhood credential for either.
    assert_eq!(v["cross_modality_sybil_refused"], true, "{v}");
    assert_eq!(v["double_checkin_refused"], true, "{v}");
    // Transparency log: co-signed, audited by subjects, tampering caught.
    assert!(v["log_entries"].as_u64().expect("count") > 60);
    assert!(v["checkpoint_cosigners"].as_u64().expect("count") >= 2);
    assert!(v["audit_entries_verified"].as_u64().expect("count") > 0);
    assert_eq!(v["audit_mismatches"], 0, "{v}");
    assert_eq!(v["tamper_detected"], true, "{v}");
    // No node outlives the demo: each wrote its log; none still holds its
    // database open (the demo waited for the processes to exit).
    for i in 0..3 {
        let log =
            std::fs::read_to_string(net_dir.join(format!("node-{i}/node.log"))).expect("node log");
        assert!(
            log.contains("node stopped"),
            "node {i} did not stop cleanly:\n{log}"
        );
    }
}

#[test]
fn demo_refuses_a_population_too_small() {
    let out = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(["demo", "--population", "1"])
        .output()
        .expect("run demo");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--population"));
}

/// `../shared/data/faces/orl` from the repository root, if present.
fn orl() -> Option<std::path::PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/faces/orl");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: ORL faces not found at {} (../shared/data is absent)",
            dir.display()
        );
        None
    }
}

#[test]
fn demo_enrolls_real_faces_by_default_and_agrees_with_plaintext() {
    let Some(orl) = orl() else { return };
    // Run from the repository root, as the README does, so that the default
    // `../shared/data/faces/orl` is found without `--faces`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .current_dir(&root)
        .args([
            "demo",
            "--population",
            "50",
            "--checks",
            "20",
            "--face-images",
            "3",
            "--json",
        ])
        .output()
        .expect("run demo");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["disagreements_with_plaintext"], 0, "{v}");
    // One enrollment per ORL identity (40), the rest synthetic.
    assert_eq!(v["real_faces_enrolled"], 40, "{v}");
    assert_eq!(v["face_images_embedded"], 120, "{v}");
    let templates = v["templates"].as_str().expect("templates");
    assert!(templates.starts_with("40 real faces"), "{templates}");
    assert!(
        v["face_credit"]
            .as_str()
            .expect("credit")
            .contains("AT&T Laboratories Cambridge")
    );
    let dataset = v["face_dataset"].as_str().expect("dataset");
    assert!(
        std::fs::canonicalize(root.join(dataset)).ok() == std::fs::canonicalize(&orl).ok(),
        "{dataset}"
    );
    // Genuine checks and re-enrolment attempts use other images of enrolled
    // ORL people; impostors are other ORL people. At cosine 0.5 the
    // capture pipeline separates ORL well (docs/ACCURACY.md).
    assert_eq!(v["genuine_total"], 20);
    assert!(v["genuine_accepted"].as_u64().expect("count") >= 17, "{v}");
    assert_eq!(v["impostor_accepted"], 0, "{v}");
    assert!(v["duplicates_refused"].as_u64().expect("count") >= 1, "{v}");
}

#[test]
fn demo_with_a_missing_face_folder_fails_clearly() {
    let out = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args(["demo", "--population", "5", "--faces", "/nonexistent/faces"])
        .output()
        .expect("run demo");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/faces"), "{err}");
}
