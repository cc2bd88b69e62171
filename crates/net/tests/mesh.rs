//! Three meshes on loopback: sessions, large messages, pinning, restarts,
//! dead peers and size limits.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sanctuary_mpc::transport::{Transport, TransportError};
use sanctuary_net::{MeshConfig, MeshSession, NetError, NodeKey, PeerConfig, PeerMesh, PublicKey};
use sanctuary_share::PartyId;
use tokio::net::TcpListener;
use tokio::task::JoinSet;

const WAIT: Duration = Duration::from_secs(20);

/// Test keys and addresses of a three-node network.
struct Net {
    pems: Vec<String>,
    pubs: [PublicKey; 3],
    addrs: [SocketAddr; 3],
}

impl Net {
    fn key(&self, p: PartyId) -> NodeKey {
        NodeKey::from_pem(&self.pems[p.index()]).unwrap()
    }

    fn config(&self, party: PartyId) -> MeshConfig {
        let peers = PartyId::ALL
            .into_iter()
            .filter(|&q| q != party)
            .map(|q| PeerConfig {
                party: q,
                addr: self.addrs[q.index()].to_string(),
                key: self.pubs[q.index()],
            })
            .collect();
        let mut cfg = MeshConfig::new(party, peers);
        cfg.io_timeout = Duration::from_secs(20);
        cfg.backoff_max = Duration::from_millis(200);
        cfg
    }
}

async fn listeners() -> (Net, Vec<TcpListener>) {
    let mut ls = Vec::new();
    let mut addrs = Vec::new();
    for _ in 0..3 {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        addrs.push(l.local_addr().unwrap());
        ls.push(l);
    }
    let keys: Vec<NodeKey> = (0..3).map(|_| NodeKey::generate().unwrap()).collect();
    let net = Net {
        pems: keys.iter().map(|k| k.to_pem().to_string()).collect(),
        pubs: [
            keys[0].public_key(),
            keys[1].public_key(),
            keys[2].public_key(),
        ],
        addrs: addrs.try_into().unwrap(),
    };
    (net, ls)
}

/// Starts three meshes with the given per-party config tweak and waits until all links are up.
async fn start(tweak: impl Fn(&mut MeshConfig)) -> (Net, Vec<PeerMesh>) {
    let (net, ls) = listeners().await;
    let mut meshes = Vec::new();
    for (party, l) in PartyId::ALL.into_iter().zip(ls) {
        let mut cfg = net.config(party);
        tweak(&mut cfg);
        meshes.push(PeerMesh::start(cfg, net.key(party), l).unwrap());
    }
    for m in &meshes {
        m.wait_connected(WAIT).await.unwrap();
    }
    (net, meshes)
}

/// Bounded retry loop: polls `cond` until it holds or `WAIT` passes.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn msg(from: PartyId, session: u64, seq: u32) -> Vec<u8> {
    let mut m = vec![u8::from(from)];
    m.extend_from_slice(&session.to_le_bytes());
    m.extend_from_slice(&seq.to_le_bytes());
    m.resize(13 + (seq as usize * 37) % 5000, seq as u8);
    m
}

/// Every party sends `n` messages to each peer, then receives `n` from each, checking order.
async fn exchange(mut s: MeshSession, n: u32) -> MeshSession {
    let me = s.party();
    let sid = s.id();
    for seq in 0..n {
        for to in [me.next(), me.prev()] {
            s.send(to, msg(me, sid, seq)).await.unwrap();
        }
    }
    for seq in 0..n {
        for from in [me.next(), me.prev()] {
            let got = s.recv(from).await.unwrap();
            assert_eq!(
                got,
                msg(from, sid, seq),
                "{me} session {sid} from {from} seq {seq}"
            );
        }
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_sessions_in_order_both_directions() {
    let (_net, meshes) = start(|_| {}).await;
    let mut tasks = JoinSet::new();
    for sid in 1..=8u64 {
        for m in &meshes {
            let s = m.session(sid).unwrap();
            tasks.spawn(exchange(s, 50));
        }
    }
    let mut sessions = Vec::new();
    while let Some(r) = tasks.join_next().await {
        sessions.push(r.unwrap());
    }
    let expected: u64 = (0..50u32)
        .map(|seq| msg(PartyId::P0, 0, seq).len() as u64)
        .sum();
    for s in &sessions {
        assert_eq!(s.bytes_sent_to(s.party().next()), expected);
        assert_eq!(s.bytes_sent(), 2 * expected);
        assert_eq!(s.bytes_received(), 2 * expected);
    }
    assert_eq!(meshes[0].open_sessions(), 8);
    drop(sessions);
    for m in &meshes {
        assert_eq!(m.open_sessions(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_before_open_are_buffered_and_session_ids_are_exclusive() {
    let (_net, meshes) = start(|_| {}).await;
    let mut s0 = meshes[0].session(100).unwrap();
    s0.send(PartyId::P1, b"early".to_vec()).await.unwrap();
    s0.send(PartyId::P1, b"bird".to_vec()).await.unwrap();
    eventually("the early frames to reach P1", || {
        meshes[1].early_sessions() == 1
    })
    .await;
    let mut s1 = meshes[1].session(100).unwrap();
    assert_eq!(meshes[1].early_sessions(), 0);
    assert_eq!(s1.recv(PartyId::P0).await.unwrap(), b"early");
    assert_eq!(s1.recv(PartyId::P0).await.unwrap(), b"bird");
    assert!(matches!(
        meshes[1].session(100),
        Err(NetError::SessionInUse { session: 100 })
    ));
    assert!(matches!(
        s1.send(PartyId::P1, vec![1]).await,
        Err(TransportError::SelfAddressed { party: PartyId::P1 })
    ));
    drop(s1);
    assert!(meshes[1].session(100).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_messages_both_ways() {
    let (_net, meshes) = start(|_| {}).await;
    const LEN: usize = 64 << 20;
    let big = |seed: u8| -> Vec<u8> {
        (0..LEN)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    };
    let mut s0 = meshes[0].session(1).unwrap();
    let mut s1 = meshes[1].session(1).unwrap();
    let a = tokio::spawn(async move {
        s0.send(PartyId::P1, big(1)).await.unwrap();
        let got = s0.recv(PartyId::P1).await.unwrap();
        assert!(got == big(2), "P0 got a corrupted 64 MiB message");
        s0.bytes_sent()
    });
    let b = tokio::spawn(async move {
        s1.send(PartyId::P0, big(2)).await.unwrap();
        let got = s1.recv(PartyId::P0).await.unwrap();
        assert!(got == big(1), "P1 got a corrupted 64 MiB message");
        s1.bytes_received()
    });
    assert_eq!(a.await.unwrap(), LEN as u64);
    assert_eq!(b.await.unwrap(), LEN as u64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_key_is_refused() {
    let (net, ls) = listeners().await;
    let mut ls = ls.into_iter();
    let (l0, l1, l2) = (ls.next().unwrap(), ls.next().unwrap(), ls.next().unwrap());
    // P1 runs with a key nobody pinned.
    let m0 = PeerMesh::start(net.config(PartyId::P0), net.key(PartyId::P0), l0).unwrap();
    let rogue = NodeKey::generate().unwrap();
    let rogue_pub = rogue.public_key();
    let m1 = PeerMesh::start(net.config(PartyId::P1), rogue, l1).unwrap();
    let m2 = PeerMesh::start(net.config(PartyId::P2), net.key(PartyId::P2), l2).unwrap();

    // P0 dials P1 and refuses its certificate; the error names the address and the reason.
    let err = m0.wait_connected(Duration::from_secs(2)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            NetError::NotConnected {
                peer: PartyId::P1,
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains(&net.addrs[1].to_string()), "{text}");
    assert!(text.contains("not pinned"), "{text}");
    assert!(text.contains(&rogue_pub.to_string()), "{text}");
    let link = m0.link(PartyId::P1).unwrap();
    assert!(!link.connected);

    // P2 refuses P1's dial.
    let err = m2.wait_connected(Duration::from_secs(2)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(
            err,
            NetError::NotConnected {
                peer: PartyId::P1,
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains("refused connection from 127.0.0.1"), "{text}");
    assert!(text.contains("not pinned"), "{text}");
    assert!(!m1.link(PartyId::P2).unwrap().connected);

    // No session to the rogue node works; P0 and P2 still talk.
    let mut s0 = m0.session(9).unwrap();
    let mut s2 = m2.session(9).unwrap();
    let closed = s0.send(PartyId::P1, vec![1]).await.unwrap_err();
    assert!(
        matches!(closed, TransportError::Closed { peer: PartyId::P1 }),
        "{closed}"
    );
    assert!(matches!(
        s0.recv(PartyId::P1).await,
        Err(TransportError::Closed { peer: PartyId::P1 })
    ));
    s0.send(PartyId::P2, b"hello".to_vec()).await.unwrap();
    assert_eq!(s2.recv(PartyId::P0).await.unwrap(), b"hello");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_node_is_reconnected() {
    let (net, mut meshes) = start(|_| {}).await;
    let before: Vec<_> = meshes.iter().map(|m| m.session(1).unwrap()).collect();
    let mut before: Vec<MeshSession> = {
        let mut set = JoinSet::new();
        for s in before {
            set.spawn(exchange(s, 3));
        }
        let mut v = Vec::new();
        while let Some(r) = set.join_next().await {
            v.push(r.unwrap());
        }
        v.sort_by_key(|s| s.party());
        v
    };
    let gen0 = meshes[0].link(PartyId::P1).unwrap().generation;
    let gen2 = meshes[2].link(PartyId::P1).unwrap().generation;

    // Restart P1 on the same address with the same key.
    let old = meshes.remove(1);
    old.shutdown().await;
    let l1 = TcpListener::bind(net.addrs[1]).await.unwrap();
    let m1 = PeerMesh::start(net.config(PartyId::P1), net.key(PartyId::P1), l1).unwrap();
    meshes.insert(1, m1);

    // Sessions bound to the old connections fail, naming P1.
    let err = before[0].recv(PartyId::P1).await.unwrap_err();
    assert!(
        matches!(err, TransportError::Closed { peer: PartyId::P1 }),
        "{err}"
    );
    assert!(err.to_string().contains("P1"));

    eventually("P0 and P2 to reconnect to the restarted P1", || {
        let l0 = meshes[0].link(PartyId::P1).unwrap();
        let l2 = meshes[2].link(PartyId::P1).unwrap();
        l0.connected && l0.generation > gen0 && l2.connected && l2.generation > gen2
    })
    .await;
    for m in &meshes {
        m.wait_connected(WAIT).await.unwrap();
    }
    let mut set = JoinSet::new();
    for m in &meshes {
        set.spawn(exchange(m.session(2).unwrap(), 10));
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    drop(before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_peer_fails_fast_naming_it() {
    let (_net, mut meshes) = start(|c| c.io_timeout = Duration::from_secs(30)).await;
    let mut s0 = meshes[0].session(7).unwrap();
    let dead = meshes.remove(1);
    dead.shutdown().await;
    let t = Instant::now();
    let err = s0.recv(PartyId::P1).await.unwrap_err();
    assert!(
        matches!(err, TransportError::Closed { peer: PartyId::P1 }),
        "{err}"
    );
    assert!(err.to_string().contains("P1"), "{err}");
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t.elapsed()
    );
    // A session opened after the link dropped fails at once.
    eventually("P0 to notice P1 is gone", || {
        !meshes[0].link(PartyId::P1).unwrap().connected
    })
    .await;
    let mut s = meshes[0].session(8).unwrap();
    assert!(matches!(
        s.send(PartyId::P1, vec![0]).await,
        Err(TransportError::Closed { peer: PartyId::P1 })
    ));
    // A silent (but connected) peer gives a timeout naming it.
    let mut s0 = meshes[0].session(9).unwrap();
    s0.set_timeout(Duration::from_millis(200));
    let err = s0.recv(PartyId::P2).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                peer: PartyId::P2,
                ..
            }
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_frames_are_refused() {
    // P0 accepts at most 1 MiB, the others 4 MiB.
    let (_net, meshes) = start(|c| {
        c.max_frame_len = if c.party == PartyId::P0 {
            1 << 20
        } else {
            4 << 20
        };
    })
    .await;
    let mut s0 = meshes[0].session(3).unwrap();
    let mut s1 = meshes[1].session(3).unwrap();
    // Sender side: over its own limit.
    let err = s0
        .send(PartyId::P1, vec![0; (1 << 20) + 1])
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::TooLarge {
                peer: PartyId::P1,
                limit: 1048576,
                ..
            }
        ),
        "{err}"
    );
    let err = s1
        .send(PartyId::P0, vec![0; (4 << 20) + 1])
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::TooLarge { .. }), "{err}");
    // Receiver side: P1 may send 2 MiB, P0 refuses it and the link survives.
    s1.send(PartyId::P0, vec![7; 2 << 20]).await.unwrap();
    s1.send(PartyId::P0, b"after".to_vec()).await.unwrap();
    let err = s0.recv(PartyId::P1).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::TooLarge {
                peer: PartyId::P1,
                len: 2097152,
                limit: 1048576
            }
        ),
        "{err}"
    );
    assert_eq!(s0.recv(PartyId::P1).await.unwrap(), b"after");
    assert!(meshes[0].link(PartyId::P1).unwrap().connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_link_is_dropped_by_heartbeat_timeout() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (net, ls) = listeners().await;
    let l1 = ls.into_iter().nth(1).unwrap();
    let mut cfg = net.config(PartyId::P1);
    cfg.heartbeat_interval = Duration::from_millis(50);
    cfg.silence_timeout = Duration::from_millis(300);
    let m1 = PeerMesh::start(cfg, net.key(PartyId::P1), l1).unwrap();

    // A "P0" that completes the handshake and hello, then never sends again
    // (like a host that vanished without closing its socket).
    let tls = sanctuary_net::tls::NodeTls::new(net.key(PartyId::P0), "zombie").unwrap();
    let client = tls.client_config(PartyId::P1, net.pubs[1]).unwrap();
    let tcp = tokio::net::TcpStream::connect(net.addrs[1]).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("p1").unwrap();
    let mut zombie = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client))
        .connect(name, tcp)
        .await
        .unwrap();
    zombie.write_all(b"SNC\x01\x00").await.unwrap();
    zombie.flush().await.unwrap();
    let mut hello = [0u8; 5];
    zombie.read_exact(&mut hello).await.unwrap();
    assert_eq!(&hello, b"SNC\x01\x01");

    eventually("P1 to accept the zombie link", || {
        m1.link(PartyId::P0).unwrap().connected
    })
    .await;
    let mut s = m1.session(1).unwrap();
    eventually("P1 to drop the silent link", || {
        !m1.link(PartyId::P0).unwrap().connected
    })
    .await;
    let link = m1.link(PartyId::P0).unwrap();
    assert_eq!(link.generation, 1);
    let why = link.last_error.unwrap();
    assert!(why.contains("heartbeat"), "{why}");
    assert!(matches!(
        s.recv(PartyId::P0).await,
        Err(TransportError::Closed { peer: PartyId::P0 })
    ));
    drop(zombie);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_buffer_is_bounded() {
    let (_net, meshes) = start(|c| c.early_max_sessions = 1).await;
    let mut marker_tx = meshes[0].session(1).unwrap();
    let mut marker_rx = meshes[1].session(1).unwrap();
    let mut a = meshes[0].session(2).unwrap();
    let mut b = meshes[0].session(3).unwrap();
    a.send(PartyId::P1, b"kept".to_vec()).await.unwrap();
    b.send(PartyId::P1, b"dropped".to_vec()).await.unwrap();
    // Frames on one link are processed in order: once the marker (on an
    // open session) has arrived, both early frames have been handled.
    marker_tx
        .send(PartyId::P1, b"marker".to_vec())
        .await
        .unwrap();
    assert_eq!(marker_rx.recv(PartyId::P0).await.unwrap(), b"marker");
    assert_eq!(marker_rx.bytes_received_from(PartyId::P0), 6);
    assert_eq!(meshes[1].early_sessions(), 1);
    let mut s2 = meshes[1].session(2).unwrap();
    assert_eq!(s2.recv(PartyId::P0).await.unwrap(), b"kept");
    let mut s3 = meshes[1].session(3).unwrap();
    s3.set_timeout(Duration::from_millis(200));
    let err = s3.recv(PartyId::P0).await.unwrap_err();
    assert!(
        matches!(
            err,
            TransportError::Timeout {
                peer: PartyId::P0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn peer_config_reads_from_json() {
    let key = NodeKey::generate().unwrap().public_key();
    let json = format!(r#"{{"party": 2, "addr": "node2.example:7100", "key": "{key}"}}"#);
    let peer: PeerConfig = serde_json::from_str(&json).unwrap();
    assert_eq!(
        peer,
        PeerConfig {
            party: PartyId::P2,
            addr: "node2.example:7100".into(),
            key
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_network_runs_a_round() {
    let meshes = PeerMesh::loopback_network(|c| c.io_timeout = Duration::from_secs(10))
        .await
        .unwrap();
    let mut set = JoinSet::new();
    for m in &meshes {
        set.spawn(exchange(m.session(5).unwrap(), 4));
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    for (m, p) in meshes.iter().zip(PartyId::ALL) {
        assert_eq!(m.party(), p);
        assert!(
            m.links()
                .iter()
                .all(|l| l.connected && l.last_error.is_none())
        );
    }
}
