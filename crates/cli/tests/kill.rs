//! Crash during an operation: three `sanctuary node` processes on loopback,
//! a batch of enrollments in flight, one node SIGKILLed mid-batch and
//! restarted. A node killed after the others applied the in-flight op is
//! behind when it comes back: at the next op it catches up from its peers
//! (log entries, share components, revocations). Afterwards every node
//! holds the same enrollments and the same log; every enrollment the client
//! saw succeed is there, plus at most the one op in flight at each crash
//! (the client saw it fail, but it was applied by two nodes and so rolled
//! forward); and the network keeps working.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sanctuary_client::{Client, Consent, NetworkFile};
use sanctuary_consent::{NetworkId, Purpose, RelyingPartyId, TokenRequest, Wallet};
use sanctuary_devnet::Nodes;
use sanctuary_proto::wire::EnrollStatus;
use sanctuary_share::PartyId;
use sanctuary_store::{EnrollmentId, Store};
use sanctuary_template::{Embedding, EmbeddingParams, Template};

async fn wait_ready(client: &Client, what: &str) {
    sanctuary_devnet::wait_ready(client, Duration::from_secs(60))
        .await
        .unwrap_or_else(|e| panic!("{e:#} {what}"));
}

/// A deterministic pseudo-random direction per seed.
fn person(seed: u64, params: &EmbeddingParams) -> Template {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let e = Embedding::new(
        (0..params.dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect(),
    );
    Template::Embedding(e.quantize(params).expect("valid"))
}

/// What the client saw for one enrollment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Enrolled(EnrollmentId),
    Refused,
    Failed,
}

/// Each node's enrollment ids and log entries, read from its SQLite file
/// (nodes stopped).
async fn stored(dir: &Path) -> Vec<(BTreeSet<EnrollmentId>, Vec<Vec<u8>>)> {
    let mut out = Vec::new();
    for i in 0..3 {
        let db: PathBuf = dir.join(format!("node-{i}/node.db"));
        let store = Store::open(&format!("sqlite://{}", db.display()))
            .await
            .expect("open node database");
        let loaded = store.load().await.expect("load");
        let log = store
            .ops(0, loaded.next_seq)
            .await
            .expect("log")
            .into_iter()
            .map(|r| r.entry)
            .collect();
        out.push((loaded.enrollments.iter().map(|e| e.id).collect(), log));
        store.close().await;
    }
    out
}

fn node_logs(dir: &Path) -> String {
    (0..3)
        .map(|i| {
            let log =
                std::fs::read_to_string(dir.join(format!("node-{i}/node.log"))).unwrap_or_default();
            let tail: Vec<_> = log.lines().rev().take(15).collect();
            format!(
                "--- node {i} (last lines)\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs enrollments (seeds from `first`) until `victim` has been SIGKILLed
/// (once `kill_after` succeeded) and `fail_after` requests failed against
/// the dead node; then stops the batch and restarts the victim. Returns
/// what the client saw, in order.
async fn batch_with_crash(
    client: &Client,
    nodes: &mut Nodes,
    victim: PartyId,
    first: u64,
    kill_after: usize,
    fail_after: usize,
) -> Vec<(u64, Seen)> {
    let params = client.network().matching.embedding;
    let succeeded = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let batch = {
        let client = client.clone();
        let (succeeded, failed, stop) = (
            Arc::clone(&succeeded),
            Arc::clone(&failed),
            Arc::clone(&stop),
        );
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut seed = first;
            while !stop.load(Ordering::SeqCst) {
                let wallet = Wallet::create(time::OffsetDateTime::now_utc());
                let s = match client
                    .enroll(&person(seed, &params), &wallet, "site.example")
                    .await
                {
                    Ok(r) => match (r.status, r.enrollment_id) {
                        (EnrollStatus::Enrolled, Some(id)) => {
                            succeeded.fetch_add(1, Ordering::SeqCst);
                            Seen::Enrolled(id)
                        }
                        _ => Seen::Refused,
                    },
                    Err(_) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                        Seen::Failed
                    }
                };
                seen.push((seed, s));
                seed += 1;
            }
            seen
        })
    };
    // Kill the victim while the batch runs: the client sends the next
    // enrollment at once, so one is in flight almost all the time.
    let deadline = Instant::now() + Duration::from_secs(60);
    while succeeded.load(Ordering::SeqCst) < kill_after {
        assert!(Instant::now() < deadline, "the batch made no progress");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    nodes.kill_one(victim.index());
    let deadline = Instant::now() + Duration::from_secs(60);
    while failed.load(Ordering::SeqCst) < fail_after {
        assert!(
            Instant::now() < deadline,
            "requests kept succeeding with {victim} dead"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    let seen = batch.await.expect("batch task");
    nodes.start_one(victim.index()).expect("restart the victim");
    seen
}

/// Every node's (enrolled, next_seq) from `/v1/health`.
async fn positions(client: &Client) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for p in PartyId::ALL {
        let h = client.health(p).await.expect("health");
        out.push((
            h["enrolled"]["embedding"].as_u64().expect("count"),
            h["next_seq"].as_u64().expect("seq"),
        ));
    }
    out
}

/// Enrolls `seed` with a fresh wallet, retrying while a restarted node
/// discovers it is behind and catches up (the first op after a restart
/// fails fast while it does).
async fn enroll_when_caught_up(client: &Client, seed: u64, dir: &Path) -> (EnrollmentId, Wallet) {
    let params = client.network().matching.embedding;
    let wallet = Wallet::create(time::OffsetDateTime::now_utc());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client
            .enroll(&person(seed, &params), &wallet, "site.example")
            .await
        {
            Ok(r) => {
                let id = r.enrollment_id.expect("enrolled");
                return (id, wallet);
            }
            Err(e) => {
                assert!(
                    Instant::now() < deadline,
                    "no enrollment possible after the restart: {e}\n{}",
                    node_logs(dir)
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_node_mid_enrollment_is_all_or_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let net_path =
        sanctuary_node::init_network(dir, ["127.0.0.1"; 3], "kill-test", Default::default())
            .expect("init");
    // A node waits this long for a peer inside an operation: short, so that
    // a stall fails the test quickly rather than hanging it.
    for i in 0..3 {
        let path = dir.join(format!("node-{i}/node.toml"));
        let text = std::fs::read_to_string(&path).expect("node.toml");
        assert!(text.contains("peer_timeout_s = 30"), "{text}");
        std::fs::write(
            &path,
            text.replace("peer_timeout_s = 30", "peer_timeout_s = 5"),
        )
        .expect("write node.toml");
    }
    let client = Client::new(NetworkFile::load(&net_path).expect("network")).expect("client");
    let params = client.network().matching.embedding;
    let mut nodes =
        Nodes::start(env!("CARGO_BIN_EXE_sanctuary").as_ref(), dir).expect("start nodes");
    wait_ready(&client, "at start").await;

    // One crash per party: a follower, the other follower, the coordinator.
    let mut seen: Vec<(u64, Seen)> = Vec::new();
    let mut next_seed = 1000;
    let mut rounds = 0u64;
    for victim in [PartyId::P2, PartyId::P1, PartyId::P0] {
        let round = batch_with_crash(&client, &mut nodes, victim, next_seed, 8, 3).await;
        next_seed += round.len() as u64;
        seen.extend(round);
        wait_ready(&client, &format!("after restarting {victim}")).await;
        // Further operations work after the restart (once the restarted
        // node caught up, if it was behind).
        let (id, _) = enroll_when_caught_up(&client, next_seed, dir).await;
        seen.push((next_seed, Seen::Enrolled(id)));
        next_seed += 1;
        rounds += 1;
        // The nodes are at the same position, holding every success the
        // client saw and at most one rolled-forward op per crash so far.
        let ok = seen
            .iter()
            .filter(|(_, s)| matches!(s, Seen::Enrolled(_)))
            .count() as u64;
        let pos = positions(&client).await;
        assert!(
            pos.iter().all(|p| *p == pos[0]) && pos[0].0 >= ok && pos[0].0 <= ok + rounds,
            "after SIGKILL of {victim} mid-batch and restart: (enrolled, next_seq) per node \
             {pos:?}; the client saw {ok} enrollments succeed\n{}",
            node_logs(dir)
        );
    }
    assert!(
        !seen.iter().any(|(_, s)| *s == Seen::Refused),
        "no template of the batch is a duplicate"
    );
    let ok: Vec<(u64, EnrollmentId)> = seen
        .iter()
        .filter_map(|(seed, s)| match s {
            Seen::Enrolled(id) => Some((*seed, *id)),
            _ => None,
        })
        .collect();
    // An enrollment from before the crashes is found (1:N), and one made
    // after them is verified (1:1) with its subject's consent.
    let (seed, _) = ok[0];
    let mut checker = Wallet::create(time::OffsetDateTime::now_utc());
    let token = |w: &mut Wallet, aud: &str, purpose: Purpose| -> Consent {
        let now = time::OffsetDateTime::now_utc();
        let issued = w
            .issue_token(
                &TokenRequest {
                    network: NetworkId::new("kill-test").expect("id"),
                    audience: RelyingPartyId::new(aud).expect("id"),
                    purposes: vec![purpose],
                    expires_at: now + time::Duration::minutes(10),
                    max_uses: None,
                },
                now,
            )
            .expect("token");
        Consent {
            relying_party: aud.into(),
            token: issued.token,
        }
    };
    let c = token(&mut checker, "site.example", Purpose::Dedupe);
    assert!(
        client
            .dedupe(&person(seed, &params), &c, &checker.subject())
            .await
            .expect("dedupe")
    );
    let (id, mut subject) = enroll_when_caught_up(&client, next_seed, dir).await;
    seen.push((next_seed, Seen::Enrolled(id)));
    let c = token(&mut subject, "bank.example", Purpose::Verify);
    assert!(
        client
            .verify(id, &person(next_seed, &params), &c)
            .await
            .expect("verify")
    );
    let ok: Vec<(u64, EnrollmentId)> = seen
        .iter()
        .filter_map(|(seed, s)| match s {
            Seen::Enrolled(id) => Some((*seed, *id)),
            _ => None,
        })
        .collect();

    nodes.stop();

    // How often a restarted node was behind and caught up (depends on where
    // the SIGKILL landed; printed for the record).
    let caught_up: usize = (0..3)
        .map(|i| {
            std::fs::read_to_string(dir.join(format!("node-{i}/node.log")))
                .unwrap_or_default()
                .matches("caught up with the peers")
                .count()
        })
        .sum();
    eprintln!("crash rounds: 3; catch-ups: {caught_up}");

    // The stores: identical enrollments and logs on all three; every
    // success the client saw, plus at most one rolled-forward op per crash.
    let stores = stored(dir).await;
    let logs = node_logs(dir);
    for (i, (ids, log)) in stores.iter().enumerate() {
        assert!(
            ids == &stores[0].0 && log == &stores[0].1,
            "node {i} differs from node 0\n{logs}"
        );
    }
    let expected: BTreeSet<EnrollmentId> = ok.iter().map(|(_, id)| *id).collect();
    let failures = seen.iter().filter(|(_, s)| *s == Seen::Failed).count();
    assert!(
        expected.is_subset(&stores[0].0) && stores[0].0.len() <= expected.len() + 3,
        "stored {} enrollments; the client saw {} succeed and {failures} fail\n{logs}",
        stores[0].0.len(),
        ok.len()
    );
}
