//! All-or-nothing under a crash: three `sanctuary node` processes on
//! loopback, a batch of enrollments in flight, one node SIGKILLed mid-batch
//! and restarted. Every enrollment the client saw succeed must be on all
//! three nodes, every failed one on none, the op logs must agree, and the
//! network must keep working after the restart.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sanctuary_node::wire::EnrollStatus;
use sanctuary_node::{Client, NetworkFile};
use sanctuary_share::PartyId;
use sanctuary_store::{EnrollmentId, Store};
use sanctuary_template::{Embedding, EmbeddingParams, Template};

/// One node process; SIGKILLed and reaped when dropped.
struct NodeProc {
    child: Child,
}

impl NodeProc {
    fn start(dir: &Path, i: usize) -> NodeProc {
        let node_dir = dir.join(format!("node-{i}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node_dir.join("node.log"))
            .expect("node log");
        let child = Command::new(env!("CARGO_BIN_EXE_sanctuary"))
            .arg("node")
            .arg("--config")
            .arg(node_dir.join("node.toml"))
            .env("SANCTUARY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start node");
        NodeProc { child }
    }

    fn signal(&mut self, sig: Signal) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), sig);
        }
    }

    /// SIGKILL: no shutdown path runs.
    fn crash(mut self) {
        self.signal(Signal::SIGKILL);
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait (SIGKILL after 10 s).
    fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.crash();
    }
}

impl Drop for NodeProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

async fn wait_ready(client: &Client, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    for p in PartyId::ALL {
        loop {
            if let Ok(h) = client.health(p).await
                && h["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "{p} not ready {what}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
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

/// Each node's enrollment ids and op-log head, read from its SQLite file
/// (nodes stopped).
async fn stored(dir: &Path) -> Vec<(BTreeSet<EnrollmentId>, (u64, [u8; 32]))> {
    let mut out = Vec::new();
    for i in 0..3 {
        let db: PathBuf = dir.join(format!("node-{i}/node.db"));
        let store = Store::open(&format!("sqlite://{}", db.display()))
            .await
            .expect("open node database");
        let loaded = store.load().await.expect("load");
        let head = store.head().await.expect("head");
        out.push((loaded.enrollments.iter().map(|e| e.id).collect(), head));
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
    dir: &Path,
    client: &Client,
    nodes: &mut [Option<NodeProc>; 3],
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
                let s = match client.enroll(&person(seed, &params), None).await {
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
    nodes[victim.index()]
        .take()
        .expect("victim running")
        .crash();
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
    nodes[victim.index()] = Some(NodeProc::start(dir, victim.index()));
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
    let mut nodes: [Option<NodeProc>; 3] = [0, 1, 2].map(|i| Some(NodeProc::start(dir, i)));
    wait_ready(&client, "at start").await;

    // One crash per party: a follower, the other follower, the coordinator.
    let mut seen: Vec<(u64, Seen)> = Vec::new();
    let mut next_seed = 1000;
    for victim in [PartyId::P2, PartyId::P1, PartyId::P0] {
        let round = batch_with_crash(dir, &client, &mut nodes, victim, next_seed, 8, 3).await;
        next_seed += round.len() as u64;
        seen.extend(round);
        wait_ready(&client, &format!("after restarting {victim}")).await;
        // All or nothing: the nodes hold exactly the enrollments the client
        // saw succeed, and are at the same position.
        let ok = seen
            .iter()
            .filter(|(_, s)| matches!(s, Seen::Enrolled(_)))
            .count() as u64;
        let pos = positions(&client).await;
        assert!(
            pos.iter().all(|p| *p == pos[0]) && pos[0].0 == ok,
            "after SIGKILL of {victim} mid-batch and restart: (enrolled, next_seq) per node \
             {pos:?}, but the client saw {ok} enrollments succeed\n{}",
            node_logs(dir)
        );
        // Further operations work after the restart.
        let r = client
            .enroll(&person(next_seed, &params), None)
            .await
            .unwrap_or_else(|e| {
                panic!("enroll after restarting {victim}: {e}\n{}", node_logs(dir))
            });
        let id = r.enrollment_id.expect("enrolled after the restart");
        seen.push((next_seed, Seen::Enrolled(id)));
        next_seed += 1;
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
    // Enrollments from before the crashes are found (1:N) and verified (1:1).
    let (seed, id) = ok[0];
    assert!(client.dedupe(&person(seed, &params)).await.expect("dedupe"));
    assert!(
        client
            .verify(id, &person(seed, &params))
            .await
            .expect("verify")
    );

    for n in nodes.iter_mut() {
        n.take().expect("running").stop();
    }

    // The stores: identical enrollments and op-log heads on all three, and
    // exactly the successes the client saw: nothing a failed request sent.
    let stores = stored(dir).await;
    let logs = node_logs(dir);
    for (i, (ids, head)) in stores.iter().enumerate() {
        assert_eq!(
            (ids, head),
            (&stores[0].0, &stores[0].1),
            "node {i} differs from node 0\n{logs}"
        );
    }
    let expected: BTreeSet<EnrollmentId> = ok.iter().map(|(_, id)| *id).collect();
    let failures = seen.iter().filter(|(_, s)| *s == Seen::Failed).count();
    assert_eq!(
        stores[0].0,
        expected,
        "stored enrollments differ from the {} successes the client saw ({failures} failures)\n{logs}",
        ok.len()
    );
}
