//! The demo's Identity Weaving scene: personhood credentials issued by two
//! of three nodes, a single node's forgery refused, vouches disclosed
//! selectively, and festival check-ins with a double check-in refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use sanctuary_client::{Client, Holder, WeaveClient, group_key};
use sanctuary_consent::Wallet;
use sanctuary_template::Template;
use sanctuary_weave::{Festival, Issuer, ThreadKind, WeaveError};
use serde::Serialize;

use crate::synth;

/// The demo's Identity Weaving results (flattened into the demo report).
#[derive(Debug, Default, Serialize)]
pub struct WeaveReport {
    /// Personhood credentials issued (FROST, 2 of 3 nodes).
    pub credentials_issued: usize,
    /// Of those, verified: plain Ed25519 under the group key, and as a
    /// key-bound presentation.
    pub credentials_verified: usize,
    /// A credential signed by one node's key share alone, and a FROST round
    /// with one signer, were both refused.
    pub single_node_forgery_rejected: bool,
    /// Presentations of a vouch revealing only the chosen claim, verified
    /// (and a tampered one refused).
    pub selective_disclosures_verified: usize,
    /// Festival check-ins admitted.
    pub festival_checkins: usize,
    /// A second check-in of the same person at the same event was refused.
    pub double_checkin_refused: bool,
    /// One person enrolled a face under one wallet and their iris under
    /// another: neither wallet got a personhood credential, and adding the
    /// same iris to the first was refused as a duplicate.
    pub cross_modality_sybil_refused: bool,
    /// Mean time to issue one credential (two FROST rounds over HTTP).
    pub credential_issue_ms: f64,
    /// The network's group public key (hex Ed25519), as in `network.toml`.
    pub group_public_key: String,
    /// One issued personhood credential (SD-JWT, no secrets), so anyone can
    /// check its JWS with a plain Ed25519 verifier and the group key.
    pub sample_credential: String,
}

impl std::fmt::Display for WeaveReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} credentials verified ({:.1} ms each to issue), single-node forgery {}, \
             {} selective disclosures verified, {} festival check-ins, double check-in {}, \
             face-under-one-wallet + iris-under-another {}",
            self.credentials_verified,
            self.credentials_issued,
            self.credential_issue_ms,
            if self.single_node_forgery_rejected {
                "rejected"
            } else {
                "NOT rejected"
            },
            self.selective_disclosures_verified,
            self.festival_checkins,
            if self.double_checkin_refused {
                "refused"
            } else {
                "NOT refused"
            },
            if self.cross_modality_sybil_refused {
                "refused"
            } else {
                "NOT refused"
            },
        )
    }
}

/// Runs the Identity Weaving scenario against the running demo network in
/// `dir`: enrolls `subjects` people bound to fresh wallets, issues, presents,
/// forges, vouches and checks in.
pub(crate) async fn demo_weaving(
    client: &Client,
    dir: &Path,
    subjects: usize,
) -> anyhow::Result<WeaveReport> {
    use rand::SeedableRng;
    let net = client.network().clone();
    let group = group_key(&net)?;
    let weave = WeaveClient::new(net.clone())?;
    let params = net.matching.embedding;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_3ea5e);
    let mut report = WeaveReport {
        group_public_key: hex::encode(group.as_bytes()),
        ..Default::default()
    };
    let now = time::OffsetDateTime::now_utc();
    let mut wallets = Vec::new();
    for _ in 0..subjects.max(2) {
        let w = Wallet::create(now);
        let t = Template::Embedding(synth::quantize(
            &synth::embedding(&mut rng, params.dim),
            &params,
        )?);
        client.enroll(&t, &w, "festival-enrollment.example").await?;
        // A unique person is enrolled in every modality the network
        // requires (face and iris by default).
        if net
            .matching
            .personhood
            .contains(sanctuary_template::TemplateKind::Iris)
        {
            let eye = Template::Iris(synth::iris(&mut rng, &net.matching.iris)?);
            client
                .enroll(&eye, &w, "festival-enrollment.example")
                .await?;
        }
        wallets.push(w);
    }

    // Batch issuance; each credential checked with a plain Ed25519 verifier
    // and as a presentation to its own verifier.
    let t0 = Instant::now();
    for (i, w) in wallets.iter_mut().enumerate() {
        let creds = weave.issue_personhood(w, 2, 86_400).await?;
        report.credentials_issued += creds.len();
        for (j, c) in creds.iter().enumerate() {
            Holder::new(w).store_personhood(c)?;
            if report.sample_credential.is_empty() {
                report.sample_credential = c.sd_jwt.clone();
            }
            let jws = c.sd_jwt.split('~').next().unwrap_or_default();
            let (input, sig) = jws.rsplit_once('.').unwrap_or_default();
            use base64::Engine;
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .unwrap_or_default();
            let plain = ed25519_dalek::Signature::from_slice(&sig)
                .is_ok_and(|s| group.verify_strict(input.as_bytes(), &s).is_ok());
            // The second one goes to the gallery that later sees a thread.
            let verifier = if j == 0 {
                format!("verifier-{i}.example")
            } else {
                "gallery.example".to_owned()
            };
            let b = Holder::new(w).bundle(&verifier, "demo-nonce", &[], &[], true)?;
            let ok = sanctuary_weave::verify_bundle(
                &b,
                &group,
                &verifier,
                "demo-nonce",
                sanctuary_weave::unix_now(),
            )
            .is_ok_and(|r| r.unique_person);
            report.credentials_verified += usize::from(plain && ok);
        }
    }
    report.credential_issue_ms =
        t0.elapsed().as_secs_f64() * 1e3 / report.credentials_issued.max(1) as f64;

    // A Sybil across modalities: one person's face under one wallet, the
    // same person's iris under another. Neither is a unique person, and
    // completing the first with that iris is a duplicate.
    let (face_only, iris_only) = (Wallet::create(now), Wallet::create(now));
    let face = Template::Embedding(synth::quantize(
        &synth::embedding(&mut rng, params.dim),
        &params,
    )?);
    let eye = Template::Iris(synth::iris(&mut rng, &net.matching.iris)?);
    client
        .enroll(&face, &face_only, "festival-enrollment.example")
        .await?;
    client
        .enroll(&eye, &iris_only, "festival-enrollment.example")
        .await?;
    let neither = weave.issue_personhood(&face_only, 1, 86_400).await.is_err()
        && weave.issue_personhood(&iris_only, 1, 86_400).await.is_err();
    let completed = client
        .enroll(&eye, &face_only, "festival-enrollment.example")
        .await?;
    report.cross_modality_sybil_refused = !net.matching.personhood.is_all()
        || (neither
            && completed.status == sanctuary_proto::wire::EnrollStatus::AlreadyEnrolled
            && weave.issue_personhood(&face_only, 1, 86_400).await.is_err());

    // One rogue node: its key share alone signs a credential, and it tries a
    // FROST round with itself as the only signer.
    let node0 = dir.join("node-0");
    let keys = sanctuary_weave::NodeKeys::from_json(
        &std::fs::read_to_string(node0.join(sanctuary_node::weave::FROST_KEY_FILE))?,
        &std::fs::read_to_string(node0.join(sanctuary_node::weave::PRF_KEY_FILE))?,
    )?;
    let holder = sanctuary_weave::fresh_key();
    let draft = sanctuary_weave::draft_personhood(
        &net.network,
        &holder.verifying_key(),
        sanctuary_weave::unix_now(),
        86_400,
    )?;
    let forged = draft.finish(&sanctuary_weave::threshold::single_node_forgery(
        &keys,
        draft.signing_input().as_bytes(),
    )?);
    let p = sanctuary_weave::present(
        &forged,
        &holder,
        &[],
        "bank.example",
        "n",
        sanctuary_weave::unix_now(),
    )?;
    let share_alone_refused = matches!(
        sanctuary_weave::verify(
            &p,
            Issuer::Network(&group),
            "bank.example",
            "n",
            sanctuary_weave::unix_now()
        ),
        Err(WeaveError::BadSignature { .. })
    );
    let (nonces, commitments) = sanctuary_weave::threshold::commit(&keys);
    let package = sanctuary_weave::threshold::signing_package(
        BTreeMap::from([(*keys.frost.identifier(), commitments)]),
        draft.signing_input(),
    );
    let one_signer_refused = sanctuary_weave::threshold::sign(&keys, &package, &nonces).is_err();
    report.single_node_forgery_rejected = share_alone_refused && one_signer_refused;
    drop(keys);

    // Threads: each subject is vouched for by the next, and shows only
    // where they met.
    let mut vouches = Vec::new();
    let n = wallets.len();
    for i in 0..n {
        let voucher_key = Holder::new(&mut wallets[(i + 1) % n]).thread_key()?;
        let holder_key = Holder::new(&mut wallets[i]).thread_key()?.verifying_key();
        let claims = BTreeMap::from([
            ("met_at".to_owned(), "Harbour festival 2026".to_owned()),
            ("member_of".to_owned(), "Weavers' collective".to_owned()),
            ("home_district".to_owned(), format!("district-{i}")),
        ]);
        vouches.push(sanctuary_weave::issue_thread(
            &voucher_key,
            &holder_key,
            ThreadKind::Vouch,
            &claims,
            sanctuary_weave::unix_now(),
        )?);
    }
    for (w, v) in wallets.iter_mut().zip(&vouches) {
        let mut h = Holder::new(w);
        h.import_vouch(v)?;
        let idx = h.wallet().threads.len() - 1;
        let b = h.bundle(
            "gallery.example",
            "demo-nonce-2",
            &[idx],
            &["met_at".to_owned()],
            true,
        )?;
        let text = serde_json::to_string(&b)?;
        let r = sanctuary_weave::verify_bundle(
            &b,
            &group,
            "gallery.example",
            "demo-nonce-2",
            sanctuary_weave::unix_now(),
        );
        let only_chosen = r.as_ref().is_ok_and(|r| {
            r.unique_person && r.threads.len() == 1 && r.threads[0].disclosed == ["met_at"]
        }) && !text.contains("Weavers")
            && !text.contains("district-");
        // Replaying it to another verifier fails.
        let replay_refused = sanctuary_weave::verify_bundle(
            &b,
            &group,
            "shop.example",
            "demo-nonce-2",
            sanctuary_weave::unix_now(),
        )
        .is_err();
        report.selective_disclosures_verified += usize::from(only_chosen && replay_refused);
    }

    // Festival: everyone checks in once; the first person's second
    // admission (fresh key, same pseudonym) is refused.
    let fest_path = dir.join("festival-harbour-2026.json");
    let _ = std::fs::remove_file(&fest_path);
    let mut fest = Festival::create(&fest_path, "harbour-2026", &net.network, &group)?;
    for w in &wallets {
        let (adm, _) = weave.admission(w, "harbour-2026", 3_600).await?;
        let n = Festival::nonce();
        let p = sanctuary_weave::present(
            &adm.sd_jwt,
            &adm.holder_key,
            &[],
            "harbour-2026",
            &n,
            sanctuary_weave::unix_now(),
        )?;
        if fest.check_in(&p, &n, sanctuary_weave::unix_now()).is_ok() {
            report.festival_checkins += 1;
        }
    }
    let (again, _) = weave.admission(&wallets[0], "harbour-2026", 3_600).await?;
    let n = Festival::nonce();
    let p = sanctuary_weave::present(
        &again.sd_jwt,
        &again.holder_key,
        &[],
        "harbour-2026",
        &n,
        sanctuary_weave::unix_now(),
    )?;
    report.double_checkin_refused = matches!(
        fest.check_in(&p, &n, sanctuary_weave::unix_now()),
        Err(WeaveError::AlreadyCheckedIn { .. })
    );
    Ok(report)
}
