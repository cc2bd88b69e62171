//! End-to-end tests of the capture commands, run against the built
//! `sanctuary` binary: `eval` on a small ORL subset (with its MPC
//! cross-check), and `enroll|verify|dedupe --image` against a real local
//! network of three node processes.
//!
//! The ORL images are read from `../shared/data` (never copied into the
//! project); where that folder is absent the tests print `skipping: …` and
//! pass.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use sanctuary_client::{Client, NetworkFile};
use sanctuary_devnet::Nodes;

const BIN: &str = env!("CARGO_BIN_EXE_sanctuary");

/// `../shared/data/faces/orl` from the repository root, if present.
fn orl() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/faces/orl");
    if dir.join("s1_1.pgm").is_file() {
        Some(dir)
    } else {
        eprintln!(
            "skipping: ORL faces not found at {} (../shared/data is absent)",
            dir.display()
        );
        None
    }
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env(
            "SANCTUARY_WALLET_PASSPHRASE",
            "correct horse battery staple",
        )
        .output()
        .expect("run the sanctuary binary")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON object ({e}):\n{text}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

#[test]
fn eval_on_a_small_orl_subset_reports_and_agrees_with_mpc() {
    let Some(orl) = orl() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("orl-subset");
    std::fs::create_dir(&data).expect("mkdir");
    for s in 1..=4 {
        for k in 1..=3 {
            let name = format!("s{s}_{k}.pgm");
            std::fs::copy(orl.join(&name), data.join(&name)).expect("copy an ORL image");
        }
    }
    let plots = tmp.path().join("plots");
    let out = run(&[
        "eval",
        "--dataset",
        path_str(&data),
        "--json",
        "--plots",
        path_str(&plots),
    ]);
    assert!(
        out.status.success(),
        "eval failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = stdout_json(&out);
    assert_eq!(j["images"], 12);
    assert_eq!(j["identities"], 4);
    assert_eq!(j["genuine_pairs"], 12); // 4 x C(3, 2)
    assert_eq!(j["impostor_pairs"], 54); // C(12, 2) - 12
    assert_eq!(j["mpc_pairs_checked"], 66);
    assert_eq!(j["mpc_disagreements"], 0);
    assert_eq!(j["modality"], "face");
    for key in [
        "eer",
        "fnmr_at_fmr_1e-3",
        "threshold",
        "ms_per_image",
        "quantization_flips",
    ] {
        assert!(j[key].is_number(), "{key} missing or not a number: {j}");
    }
    let eer = j["eer"].as_f64().expect("eer");
    assert!((0.0..=1.0).contains(&eer), "eer {eer}");
    let det = PathBuf::from(j["det_plot"].as_str().expect("det_plot is a path"));
    assert_eq!(det, plots.join("det.svg"));
    let svg = std::fs::read_to_string(&det).expect("the DET plot was written");
    assert!(svg.contains("<svg"), "not an SVG");
}

#[test]
fn eval_on_a_missing_dataset_names_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("no-such-dataset");
    let out = run(&["eval", "--dataset", path_str(&missing), "--json"]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "nothing on stdout on failure");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-dataset") && err.contains("not a readable directory"),
        "{err}"
    );

    // An existing folder without labelled images.
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let out = run(&["eval", "--dataset", path_str(&empty)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("empty") && err.contains("no labelled images"),
        "{err}"
    );
}

#[test]
fn client_commands_need_a_template_or_an_image() {
    let out = run(&["enroll", "--network", "network.toml"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--template") && err.contains("--image"),
        "{err}"
    );
}

#[test]
fn enroll_verify_and_dedupe_by_image_on_a_local_network() {
    let Some(orl) = orl() else { return };
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("net");
    let out = run(&["network", "init", "--dir", path_str(&dir)]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let net_path = dir.join("network.toml");
    let net = NetworkFile::load(&net_path).expect("network.toml");

    let nodes = Nodes::start(BIN.as_ref(), &dir).expect("start nodes");
    let ready_client = Client::new(net.clone()).expect("client");
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(sanctuary_devnet::wait_ready(
            &ready_client,
            Duration::from_secs(60),
        ))
        .expect("nodes ready");

    // A JPEG of the same person, made here (dataset images are not committed).
    let jpeg = tmp.path().join("s1_3.jpg");
    image::open(orl.join("s1_3.pgm"))
        .expect("decode PGM")
        .to_rgb8()
        .save(&jpeg)
        .expect("write JPEG");

    let net_arg = path_str(&net_path);
    let img = |name: &str| orl.join(name).to_str().expect("UTF-8 path").to_owned();
    let client = |cmd: &str, extra: &[&str], image: &str| -> Output {
        let mut args = vec![
            cmd,
            "--network",
            net_arg,
            "--json",
            "--assume-cropped",
            "--image",
            image,
        ];
        args.extend_from_slice(extra);
        if cmd == "enroll" {
            args.push("--accept-notice");
        }
        run(&args)
    };

    // Two subjects with wallets; Alice gives a bank a consent token.
    let wallet = |name: &str| -> String {
        let path = tmp.path().join(format!("{name}.wallet"));
        let p = path.to_str().expect("UTF-8 path").to_owned();
        let out = run(&["wallet", "new", "--wallet", &p]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A second `new` never overwrites a wallet.
        assert!(!run(&["wallet", "new", "--wallet", &p]).status.success());
        p
    };
    let (alice, bob) = (wallet("alice"), wallet("bob"));
    let subject_of = |w: &str| -> String {
        let out = run(&["wallet", "export", "--wallet", w]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout_json(&out)["subject"]
            .as_str()
            .expect("subject")
            .to_owned()
    };
    let issue = |w: &str, audience: &str, purpose: &str| -> String {
        let out = run(&[
            "consent",
            "issue",
            "--wallet",
            w,
            "--network",
            net_arg,
            "--audience",
            audience,
            "--purpose",
            purpose,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };

    let out = client("enroll", &["--wallet", &alice], &img("s1_1.pgm"));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = stdout_json(&out);
    assert_eq!(j["status"], "enrolled", "{j}");
    let id = j["enrollment_id"]
        .as_str()
        .expect("enrollment id")
        .to_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("liveness"),
        "liveness shown to the operator: {err}"
    );

    // Another photo of the same person is refused.
    let out = client("enroll", &["--wallet", &bob], &img("s1_2.pgm"));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a duplicate is a negative answer"
    );
    assert_eq!(stdout_json(&out)["status"], "already_enrolled");

    // 1:1 with another photo (PGM and JPEG), and with someone else.
    let bank = issue(&alice, "bank.example", "verify");
    let out = client(
        "verify",
        &[
            "--enrollment",
            &id,
            "--relying-party",
            "bank.example",
            "--token",
            &bank,
        ],
        &img("s1_2.pgm"),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out)["match"], true);
    let out = client(
        "verify",
        &[
            "--enrollment",
            &id,
            "--relying-party",
            "bank.example",
            "--token",
            &bank,
        ],
        path_str(&jpeg),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = stdout_json(&out);
    assert_eq!(j["match"], true);
    assert_eq!(j["image"], path_str(&jpeg));
    let out = client(
        "verify",
        &[
            "--enrollment",
            &id,
            "--relying-party",
            "bank.example",
            "--token",
            &bank,
        ],
        &img("s2_1.pgm"),
    );
    assert_eq!(out.status.code(), Some(1), "an impostor does not match");
    assert_eq!(stdout_json(&out)["match"], false);

    // 1:N.
    let bob_key = subject_of(&bob);
    let check = issue(&bob, "enrollment-site.local", "dedupe");
    let dedupe_args = [
        "--relying-party",
        "enrollment-site.local",
        "--token",
        check.as_str(),
        "--subject",
        bob_key.as_str(),
    ];
    let out = client("dedupe", &dedupe_args, path_str(&jpeg));
    assert!(out.status.success());
    assert_eq!(stdout_json(&out)["already_enrolled"], true);
    let out = client("dedupe", &dedupe_args, &img("s2_1.pgm"));
    assert!(out.status.success());
    assert_eq!(stdout_json(&out)["already_enrolled"], false);

    // A refused capture names the file and the reason.
    let bad = tmp.path().join("not-a-photo.jpg");
    std::fs::write(&bad, b"not a JPEG").expect("write");
    let out = client("enroll", &["--wallet", &alice], path_str(&bad));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not-a-photo.jpg") && err.contains("unreadable or unsupported image"),
        "{err}"
    );

    // Alice audits her own entries; an auditor checks the whole log and
    // saves the checkpoint for next time.
    let out = run(&["audit", "--network", net_arg, "--wallet", &alice, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = stdout_json(&out);
    // Enroll, three verifications with her token.
    assert_eq!(j["entries"].as_array().map(Vec::len), Some(4), "{j}");
    assert!(j["checkpoint_signers"].as_u64().expect("signers") >= 2);
    let saved = tmp.path().join("checkpoint.txt");
    let out = run(&[
        "audit",
        "--log",
        "--network",
        net_arg,
        "--save",
        path_str(&saved),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("log consistent"));

    // Alice revokes every token: the bank's is refused, naming why.
    let out = run(&[
        "consent",
        "revoke",
        "--wallet",
        &alice,
        "--network",
        net_arg,
        "--all",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = client(
        "verify",
        &[
            "--enrollment",
            &id,
            "--relying-party",
            "bank.example",
            "--token",
            &bank,
        ],
        &img("s1_2.pgm"),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("token_revoked"));
    // Bob cannot delete Alice's enrollment; Alice can.
    let del = |w: &str| {
        run(&[
            "delete",
            "--network",
            net_arg,
            "--enrollment",
            &id,
            "--wallet",
            w,
        ])
    };
    let out = del(&bob);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("statement_wrong_subject"));
    assert!(del(&alice).status.success());
    // The log grew consistently from the saved checkpoint.
    let out = run(&[
        "audit",
        "--log",
        "--network",
        net_arg,
        "--from",
        path_str(&saved),
    ]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    drop(nodes);
}
