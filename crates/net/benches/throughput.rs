//! Loopback throughput of one mesh session: P0 sends a message of N bytes to
//! P1 over pinned mutual TLS, P1 answers with a 1-byte ack. Three meshes run
//! in one tokio runtime with two worker threads.
//!
//! Baselines in the same run: one-way 64 MiB over plain TCP and over a raw
//! pinned TLS stream (same rustls configuration, no mesh framing), each with
//! a reused receive buffer and with a fresh buffer per message.
//!
//! `cargo bench -p sanctuary-net --bench throughput`

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sanctuary_mpc::transport::Transport;
use sanctuary_net::{MeshSession, NodeKey, PeerMesh};
use sanctuary_share::PartyId;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};

const BIG: usize = 64 << 20;

/// Baseline server: reads `BIG`-byte messages and acks each with one byte.
/// With `fresh`, every message goes to a newly allocated buffer (as the
/// mesh must: `recv` returns an owned `Vec`).
async fn sink<S: AsyncRead + AsyncWrite + Unpin>(mut s: S, fresh: bool) {
    let mut buf = vec![0u8; BIG];
    loop {
        if fresh {
            buf = vec![0u8; BIG];
        }
        if s.read_exact(&mut buf).await.is_err() {
            break;
        }
        if s.write_all(&[1]).await.is_err() || s.flush().await.is_err() {
            break;
        }
    }
}

/// Baseline client: one `BIG`-byte message and its ack.
async fn push<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, buf: &[u8]) {
    s.write_all(buf).await.expect("write");
    s.flush().await.expect("flush");
    let mut ack = [0u8; 1];
    s.read_exact(&mut ack).await.expect("ack");
}

/// Plain TCP and raw pinned TLS streams over loopback, no mesh framing.
async fn baselines(
    fresh: bool,
) -> (
    TcpStream,
    tokio_rustls::client::TlsStream<BufReader<TcpStream>>,
) {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let (tcp, _) = l.accept().await.expect("accept");
        tcp.set_nodelay(true).expect("nodelay");
        sink(tcp, fresh).await;
    });
    let plain = TcpStream::connect(addr).await.expect("connect");
    plain.set_nodelay(true).expect("nodelay");

    let server_tls =
        sanctuary_net::tls::NodeTls::new(NodeKey::generate().expect("key"), "s").expect("tls");
    let client_tls =
        sanctuary_net::tls::NodeTls::new(NodeKey::generate().expect("key"), "c").expect("tls");
    let (server_cfg, _) = server_tls
        .server_config(vec![(PartyId::P0, client_tls.public_key())])
        .expect("server config");
    let client_cfg = client_tls
        .client_config(PartyId::P1, server_tls.public_key())
        .expect("client config");
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server_cfg));
    tokio::spawn(async move {
        let (tcp, _) = l.accept().await.expect("accept");
        tcp.set_nodelay(true).expect("nodelay");
        let tls = acceptor
            .accept(BufReader::with_capacity(256 << 10, tcp))
            .await
            .expect("handshake");
        sink(tls, fresh).await;
    });
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("nodelay");
    let name = rustls::pki_types::ServerName::try_from("s").expect("name");
    let tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(client_cfg))
        .connect(name, BufReader::with_capacity(256 << 10, tcp))
        .await
        .expect("handshake");
    (plain, tls)
}

fn echo(rt: &tokio::runtime::Runtime, mut s1: MeshSession) {
    rt.spawn(async move {
        while let Ok(m) = s1.recv(PartyId::P0).await {
            if s1.send(PartyId::P0, vec![m.len() as u8]).await.is_err() {
                break;
            }
        }
    });
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let meshes = rt
        .block_on(PeerMesh::loopback_network(|_| {}))
        .expect("loopback network");
    let mut group = c.benchmark_group("mesh_session_p0_to_p1");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    for (i, len) in [4usize << 10, 1 << 20, 16 << 20, BIG]
        .into_iter()
        .enumerate()
    {
        let sid = i as u64;
        let mut s0 = meshes[0].session(sid).expect("session");
        echo(&rt, meshes[1].session(sid).expect("session"));
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_with_input(BenchmarkId::from_parameter(len), &len, |b, &len| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    for _ in 0..iters {
                        s0.send(PartyId::P1, vec![0u8; len]).await.expect("send");
                        s0.recv(PartyId::P1).await.expect("ack");
                    }
                    t.elapsed()
                })
            })
        });
        eprintln!(
            "session {sid}: P0 sent {} payload bytes in total",
            s0.bytes_sent()
        );
    }
    group.finish();

    let mut group = c.benchmark_group("baseline_one_way");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Bytes(BIG as u64));
    for fresh in [false, true] {
        let (mut plain, mut tls) = rt.block_on(baselines(fresh));
        let reused = vec![0u8; BIG];
        let suffix = if fresh {
            "fresh_buffers"
        } else {
            "reused_buffers"
        };
        group.bench_function(format!("plain_tcp_{suffix}/{BIG}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    for _ in 0..iters {
                        let fresh_buf = fresh.then(|| vec![0u8; BIG]);
                        push(&mut plain, fresh_buf.as_deref().unwrap_or(&reused)).await;
                    }
                    t.elapsed()
                })
            })
        });
        group.bench_function(format!("raw_tls_{suffix}/{BIG}"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let t = Instant::now();
                    for _ in 0..iters {
                        let fresh_buf = fresh.then(|| vec![0u8; BIG]);
                        push(&mut tls, fresh_buf.as_deref().unwrap_or(&reused)).await;
                    }
                    t.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
