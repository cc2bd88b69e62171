//! Identity Weaving through the `sanctuary` binary against three node
//! processes: issue, thread, vouch, present, verify, festival check-in.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{PASS, ok, s, sanctuary};

use sanctuary_client::{Client, NetworkFile};
use sanctuary_consent::{KdfParams, Wallet};
use sanctuary_devnet::Nodes;
use sanctuary_template::{Embedding, Template};

fn new_wallet(dir: &Path, name: &str) -> (PathBuf, String) {
    let w = Wallet::create(time::OffsetDateTime::now_utc());
    let path = dir.join(format!("{name}.wallet"));
    w.save_new(&path, PASS, KdfParams::MINIMUM)
        .expect("save wallet");
    (path, w.subject().to_hex())
}

fn person(seed: u64, dim: usize) -> Embedding {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Embedding::new(
        (0..dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect(),
    )
}

#[test]
fn weaving_commands_end_to_end() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_dir = dir.join("net");
    ok(&[
        "network",
        "init",
        "--dir",
        s(&net_dir),
        "--name",
        "cli-weave",
    ]);
    let net_file = net_dir.join("network.toml");
    let net = s(&net_file).to_owned();
    let nodes =
        Nodes::start(env!("CARGO_BIN_EXE_sanctuary").as_ref(), &net_dir).expect("start nodes");

    let (alice, _) = new_wallet(dir, "alice");
    let (bob, _) = new_wallet(dir, "bob");
    let (carol, _) = new_wallet(dir, "carol");
    let network = NetworkFile::load(&net_file).expect("network file");
    let params = network.matching.embedding;
    let iris = network.matching.iris;
    let client = Client::new(network).expect("client");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        sanctuary_devnet::wait_ready(&client, Duration::from_secs(60))
            .await
            .expect("nodes ready");
        for (seed, path) in [(11, &alice), (12, &bob)] {
            let t = Template::Embedding(person(seed, params.dim).quantize(&params).expect("q"));
            let w = Wallet::open(path, PASS).expect("open wallet");
            client
                .enroll(&t, &w, "enrollment-site.example")
                .await
                .expect("enroll");
            // Personhood needs every modality: the same person's iris too.
            let eye = Template::Iris(sanctuary_devnet::synth::iris_of(seed, &iris).expect("iris"));
            client
                .enroll(&eye, &w, "enrollment-site.example")
                .await
                .expect("enroll iris");
        }
    });
    let (alice, bob, carol) = (s(&alice), s(&bob), s(&carol));

    assert!(
        ok(&[
            "wallet",
            "issue",
            "--wallet",
            alice,
            "--network",
            &net,
            "--count",
            "2"
        ])
        .contains("issued 2")
    );
    ok(&[
        "wallet",
        "issue",
        "--wallet",
        bob,
        "--network",
        &net,
        "--count",
        "2",
    ]);
    // No enrollment, no credential.
    let out = sanctuary(&["wallet", "issue", "--wallet", carol, "--network", &net]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no enrollment"));

    ok(&[
        "wallet",
        "thread",
        "--wallet",
        alice,
        "--claim",
        "home=harbour district",
    ]);
    let bob_threads = ok(&["wallet", "threads", "--wallet", bob]);
    let bob_key = bob_threads
        .lines()
        .find_map(|l| l.strip_prefix("thread key: "))
        .expect("thread key line")
        .to_owned();
    let vouch = dir.join("vouch.txt");
    ok(&[
        "wallet",
        "vouch",
        "--wallet",
        alice,
        "--for",
        &bob_key,
        "--claim",
        "met_at=Harbour festival 2026",
        "--claim",
        "member_of=Weavers' collective",
        "--out",
        s(&vouch),
    ]);
    // The vouch is for bob's key: alice cannot import it.
    assert!(
        !sanctuary(&[
            "wallet",
            "threads",
            "--wallet",
            alice,
            "--import",
            s(&vouch)
        ])
        .status
        .success()
    );
    let listed = ok(&["wallet", "threads", "--wallet", bob, "--import", s(&vouch)]);
    assert!(listed.contains("[0] vouch"), "{listed}");

    let pres = dir.join("p.json");
    ok(&[
        "wallet",
        "present",
        "--wallet",
        bob,
        "--verifier",
        "gallery.example",
        "--nonce",
        "n-1",
        "--thread",
        "0",
        "--disclose",
        "met_at",
        "--out",
        s(&pres),
    ]);
    assert!(
        !std::fs::read_to_string(&pres)
            .expect("presentation")
            .contains("Weavers")
    );
    let v: serde_json::Value = serde_json::from_str(&ok(&[
        "verify-presentation",
        "--network",
        &net,
        "--verifier",
        "gallery.example",
        "--nonce",
        "n-1",
        "--presentation",
        s(&pres),
        "--json",
    ]))
    .expect("json");
    assert_eq!(v["accepted"], true);
    assert_eq!(v["unique_person"], true);
    assert_eq!(
        v["threads"][0]["disclosed"],
        serde_json::json!({"met_at": "Harbour festival 2026"})
    );
    // Replayed to another verifier, or with another nonce: refused.
    for (verifier, nonce) in [("shop.example", "n-1"), ("gallery.example", "n-2")] {
        let out = sanctuary(&[
            "verify-presentation",
            "--network",
            &net,
            "--verifier",
            verifier,
            "--nonce",
            nonce,
            "--presentation",
            s(&pres),
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&out.stderr).contains("refused"));
    }

    let fest = dir.join("harbour.json");
    ok(&[
        "festival",
        "create",
        "--network",
        &net,
        "--event",
        "harbour-2026",
        "--out",
        s(&fest),
    ]);
    ok(&[
        "festival",
        "admit",
        "--wallet",
        alice,
        "--network",
        &net,
        "--event",
        "harbour-2026",
    ]);
    assert!(
        ok(&[
            "festival",
            "checkin",
            "--festival",
            s(&fest),
            "--wallet",
            alice
        ])
        .contains("admitted")
    );
    // A second admission for the same person: same pseudonym, refused.
    ok(&[
        "festival",
        "admit",
        "--wallet",
        alice,
        "--network",
        &net,
        "--event",
        "harbour-2026",
    ]);
    let out = sanctuary(&[
        "festival",
        "checkin",
        "--festival",
        s(&fest),
        "--wallet",
        alice,
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already checked in"));
    // The presentation route: bob presents for the organiser's nonce.
    ok(&[
        "festival",
        "admit",
        "--wallet",
        bob,
        "--network",
        &net,
        "--event",
        "harbour-2026",
    ]);
    let adm = dir.join("adm.txt");
    ok(&[
        "wallet",
        "present",
        "--wallet",
        bob,
        "--verifier",
        "harbour-2026",
        "--nonce",
        "gate-7",
        "--admission",
        "harbour-2026",
        "--out",
        s(&adm),
    ]);
    assert!(
        !sanctuary(&[
            "festival",
            "checkin",
            "--festival",
            s(&fest),
            "--presentation",
            s(&adm),
            "--nonce",
            "gate-8"
        ])
        .status
        .success()
    );
    assert!(
        ok(&[
            "festival",
            "checkin",
            "--festival",
            s(&fest),
            "--presentation",
            s(&adm),
            "--nonce",
            "gate-7"
        ])
        .contains("2 checked in")
    );
    drop(nodes);
}

#[test]
fn festival_help_exists() {
    let out = sanctuary(&["festival", "--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("create") && text.contains("checkin"));
}

#[test]
fn demo_reports_identity_weaving() {
    let out = sanctuary(&["demo", "--population", "20", "--checks", "4", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON object");
    let issued = v["credentials_issued"]
        .as_u64()
        .expect("credentials_issued");
    assert!(issued >= 2);
    assert_eq!(v["credentials_verified"].as_u64(), Some(issued));
    assert_eq!(v["single_node_forgery_rejected"], true);
    assert!(v["selective_disclosures_verified"].as_u64().expect("count") >= 2);
    assert_eq!(v["double_checkin_refused"], true);
    // The sample credential's JWS verifies with plain Ed25519 under the group key.
    use base64::Engine;
    use ed25519_dalek::Verifier;
    let key: [u8; 32] = hex::decode(v["group_public_key"].as_str().expect("key"))
        .expect("hex")
        .try_into()
        .expect("32 bytes");
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key).expect("key");
    let cred = v["sample_credential"].as_str().expect("credential");
    let (input, sig) = cred
        .split('~')
        .next()
        .expect("jws")
        .rsplit_once('.')
        .expect("jws");
    let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .expect("b64");
    let sig = ed25519_dalek::Signature::from_slice(&sig).expect("64 bytes");
    key.verify(input.as_bytes(), &sig)
        .expect("plain Ed25519 accepts it");
}
