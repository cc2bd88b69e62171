//! `sanctuary bench network` on a small preloaded gallery: the nodes start
//! from stores written offline, every decision agrees with plaintext, and
//! the nodes end in step with the API enrollments added.

use std::process::Command;

#[test]
fn bench_network_preloads_starts_and_agrees_with_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net_dir = dir.path().join("net");
    let out = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .args([
            "bench",
            "network",
            "--enrolled",
            "500",
            "--batch",
            "128",
            "--enrolls",
            "4",
            "--dedupes",
            "6",
            "--verifies",
            "3",
            "--json",
            "--dir",
        ])
        .arg(&net_dir)
        .output()
        .expect("run bench network");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["enrolled"], 500);
    assert_eq!(v["disagreements_with_plaintext"], 0, "{v}");
    assert_eq!(v["enrolls"], 4);
    assert_eq!(v["dedupes"], 6);
    assert_eq!(v["verifies"], 3);
    // Half the dedupe probes are fresh captures of preloaded people.
    assert_eq!(v["dedupe_hits"], 3, "{v}");
    for key in [
        "preload_seconds",
        "startup_seconds",
        "enroll_per_s",
        "dedupe_ms_per_query",
        "node_rss_mib_max",
    ] {
        assert!(v[key].as_f64().expect(key) > 0.0, "{key}: {v}");
    }
    // Each node loaded the preloaded gallery and then stopped cleanly.
    for i in 0..3 {
        let log = strip_ansi(
            &std::fs::read_to_string(net_dir.join(format!("node-{i}/node.log"))).expect("node log"),
        );
        assert!(log.contains("enrolled=500"), "node {i}:\n{log}");
        assert!(log.contains("node stopped"), "node {i}:\n{log}");
    }
}

/// The log without terminal colour codes (`ESC [ ... m`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
