//! `sanctuary bench --security malicious`: both levels measured in one run,
//! the same decisions as plaintext, the ratio reported; workloads this
//! version cannot prove are refused with a reason.

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sanctuary"))
        .arg("bench")
        .args(args)
        .output()
        .expect("run bench")
}

#[test]
fn malicious_bench_reports_both_levels_and_their_ratio() {
    let out = bench(&[
        "--kind",
        "embedding",
        "--gallery",
        "200",
        "--queries",
        "2",
        "--dim",
        "64",
        "--security",
        "malicious",
        "--json",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    assert_eq!(v["decisions_agree"], true, "{v}");
    assert_eq!(v["security"], "malicious");
    assert_eq!(v["semi_honest"]["security"], "semi-honest");
    assert_eq!(v["semi_honest"]["decisions_agree"], true);
    let ratio = v["malicious_over_semi_honest"].as_f64().expect("ratio");
    assert!(ratio > 1.0, "proofs cost nothing? {v}");
    let bytes = v["malicious_bytes_over_semi_honest"]
        .as_f64()
        .expect("bytes ratio");
    // The proofs are extra messages: strictly more bytes.
    assert!(bytes > 1.0, "{v}");
}

#[test]
fn malicious_bench_refuses_what_it_cannot_prove() {
    let iris = bench(&[
        "--kind",
        "iris",
        "--gallery",
        "2",
        "--queries",
        "1",
        "--security",
        "malicious",
    ]);
    assert!(!iris.status.success());
    assert!(String::from_utf8_lossy(&iris.stderr).contains("iris"));
    let big = bench(&[
        "--gallery",
        "1000000",
        "--queries",
        "16",
        "--security",
        "malicious",
    ]);
    assert!(!big.status.success());
    assert!(
        String::from_utf8_lossy(&big.stderr).contains("comparisons per batch"),
        "{}",
        String::from_utf8_lossy(&big.stderr)
    );
}
