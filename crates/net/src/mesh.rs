//! The peer mesh: one pinned mutual-TLS connection per pair of nodes, with
//! reconnection, carrying frames of many concurrent MPC sessions.
//!
//! # Connections
//!
//! The lower party id dials, the higher accepts: P0 dials P1 and P2, P1 dials
//! P2. A dialer retries with exponential backoff (`backoff_min` doubling up to
//! `backoff_max`) for as long as the mesh lives, and redials as soon as an
//! established link drops. An acceptor accepts a new connection from a pinned
//! key at any time and it *replaces* the old link to that party (the old
//! connection is closed), so a restarted peer is reconnected without waiting
//! for the stale connection to time out.
//!
//! After the TLS handshake both sides exchange a 5-byte hello (`SNC`, frame
//! version, party id); a link counts as up only once the peer's hello has
//! arrived, so a dialer whose key the acceptor refused sees the refusal as a
//! failed dial, not as a link that dies on first use.
//!
//! An idle link carries an empty heartbeat frame (session
//! [`HEARTBEAT_SESSION`]) every `heartbeat_interval`; a link on which nothing
//! arrives for `silence_timeout` is closed, so a peer host that vanished
//! without closing its socket is noticed (and redialled) without waiting for
//! TCP timeouts.
//!
//! # Frames
//!
//! Every message is one frame: version byte ([`FRAME_VERSION`]), session id
//! (u64, big-endian), payload length (u32, big-endian), payload. A frame over
//! the receiver's `max_frame_len` is skipped and its session gets
//! [`TransportError::TooLarge`]; an unknown version closes the link.
//!
//! # Sessions and link generations
//!
//! Each established connection to a peer has a *generation* number. A
//! [`MeshSession`] binds, when it is opened, to the generation of each link
//! that is up at that moment. If that connection drops (or is replaced), the
//! session's messages to and from that peer fail with
//! [`TransportError::Closed`]: messages may have been lost, so an MPC
//! operation cannot continue on a new connection and must be retried under a
//! new session. A session opened while a link is down fails at once on that
//! peer. Call [`PeerMesh::wait_connected`] before opening sessions.
//!
//! Frames for a session not yet opened locally are buffered (bounded by
//! `early_max_sessions`, `early_max_bytes` and `early_ttl`) and handed to the
//! session when it opens. Dropping a session frees its queues. Session ids
//! are chosen by the caller: all three nodes open the same id for one
//! operation, and an id is not reused while a node may still hold it.
//!
//! Limits: queues of open sessions are unbounded (peers are pinned operators,
//! and MPC rounds are lock-step); a large frame delays other sessions' frames
//! on the same link until it is written (frames are not interleaved).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rustls::pki_types::ServerName;
use sanctuary_mpc::transport::{Transport, TransportError};
use sanctuary_share::PartyId;
use tokio::io::{
    AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, BufReader, BufWriter,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use crate::error::NetError;
use crate::key::{NodeKey, PublicKey};
use crate::tls::{NodeTls, PinnedClientVerifier, describe_error};

/// Version byte of every frame (and of the link hello).
pub const FRAME_VERSION: u8 = 1;
/// Bytes of a frame header: version, session id, length.
pub const FRAME_HEADER_LEN: usize = 13;
/// Session id reserved for link heartbeats (empty frames).
pub const HEARTBEAT_SESSION: u64 = u64::MAX;
/// Default [`MeshConfig::max_frame_len`]: 256 MiB.
pub const DEFAULT_MAX_FRAME_LEN: u32 = 256 << 20;

const HELLO_MAGIC: [u8; 3] = *b"SNC";
const READ_BUF: usize = 256 << 10;
/// Read buffer between the socket and rustls, which reads only 4 KiB at a
/// time: one syscall then feeds many TLS records.
const SOCKET_READ_BUF: usize = 256 << 10;
const WRITE_BUF: usize = 64 << 10;

/// One other node as this node's configuration knows it (serde: `party`,
/// `addr`, `key` as `ed25519:<base64>`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PeerConfig {
    /// Its party id.
    pub party: PartyId,
    /// Where it listens (`host:port`); dialled only if its id is higher than ours.
    pub addr: String,
    /// Its pinned public key: the only key accepted for it.
    pub key: PublicKey,
}

/// Settings of a [`PeerMesh`]. [`MeshConfig::new`] fills in the defaults.
#[derive(Debug, Clone)]
pub struct MeshConfig {
    /// This node's party id.
    pub party: PartyId,
    /// This node's name, put in its certificate (not checked by peers).
    pub name: String,
    /// The two other parties.
    pub peers: Vec<PeerConfig>,
    /// Largest payload accepted or sent in one frame (default 256 MiB).
    pub max_frame_len: u32,
    /// How long `recv` (and a `send` blocked on a full link) waits (default 60 s).
    pub io_timeout: Duration,
    /// Time limit for TCP connect + TLS handshake + hello (default 10 s).
    pub handshake_timeout: Duration,
    /// First redial delay (default 50 ms).
    pub backoff_min: Duration,
    /// Largest redial delay (default 2 s).
    pub backoff_max: Duration,
    /// An idle link sends an empty heartbeat frame this often (default 5 s).
    pub heartbeat_interval: Duration,
    /// A link on which nothing arrives for this long is closed as dead, so
    /// a peer that vanished without closing its socket is noticed and
    /// redialled (default 20 s; must exceed `heartbeat_interval`).
    pub silence_timeout: Duration,
    /// Frames queued per link before `send` waits (default 64).
    pub send_queue_frames: usize,
    /// Most not-yet-opened sessions buffered (default 4096).
    pub early_max_sessions: usize,
    /// Most payload bytes buffered for not-yet-opened sessions (default 512 MiB).
    pub early_max_bytes: usize,
    /// How long frames for a session that is never opened are kept (default 120 s).
    pub early_ttl: Duration,
}

impl MeshConfig {
    /// Defaults for `party` with the given peers; the node name is `sanctuary-p<i>`.
    pub fn new(party: PartyId, peers: Vec<PeerConfig>) -> Self {
        MeshConfig {
            party,
            name: format!("sanctuary-p{}", party.index()),
            peers,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            io_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            heartbeat_interval: Duration::from_secs(5),
            silence_timeout: Duration::from_secs(20),
            send_queue_frames: 64,
            early_max_sessions: 4096,
            early_max_bytes: 512 << 20,
            early_ttl: Duration::from_secs(120),
        }
    }

    fn validate(&self, own_key: &PublicKey) -> Result<(), NetError> {
        let bad = |m: String| Err(NetError::Config(m));
        if self.peers.len() != 2 {
            return bad(format!(
                "{} needs exactly 2 peers, got {}",
                self.party,
                self.peers.len()
            ));
        }
        for p in &self.peers {
            if p.party == self.party {
                return bad(format!("{} lists itself as a peer", self.party));
            }
            if p.key.ct_eq(own_key) {
                return bad(format!("peer {} is pinned to this node's own key", p.party));
            }
        }
        if self.peers[0].party == self.peers[1].party {
            return bad(format!("peer {} is listed twice", self.peers[0].party));
        }
        if self.peers[0].key.ct_eq(&self.peers[1].key) {
            return bad("both peers are pinned to the same key".into());
        }
        if self.max_frame_len == 0 || self.send_queue_frames == 0 {
            return bad("max_frame_len and send_queue_frames must be positive".into());
        }
        if self.heartbeat_interval.is_zero() || self.silence_timeout <= self.heartbeat_interval {
            return bad("silence_timeout must exceed a positive heartbeat_interval".into());
        }
        if self.backoff_min.is_zero() || self.backoff_max < self.backoff_min {
            return bad("backoff_min must be positive and at most backoff_max".into());
        }
        Ok(())
    }

    fn peer(&self, party: PartyId) -> Option<&PeerConfig> {
        self.peers.iter().find(|p| p.party == party)
    }
}

/// What a node can show about one link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkStatus {
    /// The peer.
    pub peer: PartyId,
    /// Its configured address.
    pub addr: String,
    /// Whether a connection is established.
    pub connected: bool,
    /// Number of connections established so far (the current one's generation).
    pub generation: u64,
    /// The remote socket address of the current connection.
    pub remote: Option<SocketAddr>,
    /// The last connection failure on this link, if any (names the address).
    pub last_error: Option<String>,
}

/// A message or error queued for a session.
#[derive(Debug)]
enum Incoming {
    Msg(Vec<u8>),
    TooLarge { len: u64, limit: u64 },
}

impl Incoming {
    fn len(&self) -> usize {
        match self {
            Incoming::Msg(m) => m.len(),
            Incoming::TooLarge { .. } => 0,
        }
    }
}

#[derive(Debug)]
struct OutFrame {
    session: u64,
    payload: Vec<u8>,
}

#[derive(Debug)]
struct Conn {
    generation: u64,
    tx: mpsc::Sender<OutFrame>,
    task: JoinHandle<()>,
    remote: SocketAddr,
}

#[derive(Debug, Default)]
struct LinkSlot {
    generation: u64,
    conn: Option<Conn>,
    last_error: Option<String>,
}

#[derive(Debug)]
struct PeerInbox {
    generation: u64,
    tx: mpsc::UnboundedSender<Incoming>,
}

#[derive(Debug, Default)]
struct OpenSession {
    inbox: [Option<PeerInbox>; 3],
}

#[derive(Debug)]
struct EarlySession {
    created: Instant,
    frames: [VecDeque<(u64, Incoming)>; 3],
    bytes: usize,
}

#[derive(Debug)]
struct State {
    closed: bool,
    links: [LinkSlot; 3],
    sessions: BTreeMap<u64, OpenSession>,
    early: BTreeMap<u64, EarlySession>,
    early_bytes: usize,
    last_sweep: Instant,
    last_refused: Option<String>,
}

impl State {
    /// Closes every session's inbox bound to connection `generation` of `peer`.
    fn close_sessions(&mut self, peer: PartyId, generation: u64) {
        for s in self.sessions.values_mut() {
            if s.inbox[peer.index()]
                .as_ref()
                .is_some_and(|i| i.generation == generation)
            {
                s.inbox[peer.index()] = None;
            }
        }
    }
}

#[derive(Debug)]
struct Shared {
    cfg: MeshConfig,
    state: Mutex<State>,
    changed: watch::Sender<u64>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind (no
        // invariant spans an await), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn notify(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Installs a newly established connection to `peer`, replacing any old one.
    /// Returns a receiver that fires when the connection ends, or `None` if
    /// the mesh is shut down.
    fn register<S>(
        self: &Arc<Self>,
        peer: PartyId,
        stream: S,
        remote: SocketAddr,
    ) -> Option<oneshot::Receiver<()>>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (tx, rx) = mpsc::channel(self.cfg.send_queue_frames);
        let (done_tx, done_rx) = oneshot::channel();
        let mut st = self.lock();
        if st.closed {
            return None;
        }
        let slot = &mut st.links[peer.index()];
        let old = slot.conn.take();
        slot.generation += 1;
        let generation = slot.generation;
        slot.last_error = None;
        let task = tokio::spawn(run_connection(
            Arc::clone(self),
            peer,
            generation,
            stream,
            rx,
            done_tx,
        ));
        st.links[peer.index()].conn = Some(Conn {
            generation,
            tx,
            task,
            remote,
        });
        if let Some(old) = old {
            old.task.abort();
            st.close_sessions(peer, old.generation);
            tracing::info!(%peer, old = old.generation, new = generation, %remote, "replaced link");
        } else {
            tracing::info!(%peer, generation, %remote, "link up");
        }
        drop(st);
        self.notify();
        Some(done_rx)
    }

    /// Routes one incoming frame to its session (or the early buffer).
    fn deliver(&self, peer: PartyId, generation: u64, session: u64, item: Incoming) {
        let mut st = self.lock();
        if let Some(open) = st.sessions.get(&session) {
            match &open.inbox[peer.index()] {
                Some(inbox) if inbox.generation == generation => {
                    // A send error means the session is being dropped: nothing to do.
                    let _ = inbox.tx.send(item);
                }
                _ => {
                    tracing::debug!(%peer, session, "dropping frame for a session bound to another connection")
                }
            }
            return;
        }
        let now = Instant::now();
        if now.duration_since(st.last_sweep) >= Duration::from_secs(1) {
            st.last_sweep = now;
            let ttl = self.cfg.early_ttl;
            let mut freed = 0;
            st.early.retain(|id, e| {
                let keep = now.duration_since(e.created) < ttl;
                if !keep {
                    tracing::warn!(
                        session = id,
                        "discarding frames of a session never opened here"
                    );
                    freed += e.bytes;
                }
                keep
            });
            st.early_bytes -= freed;
        }
        let len = item.len();
        let full_sessions =
            !st.early.contains_key(&session) && st.early.len() >= self.cfg.early_max_sessions;
        if full_sessions || st.early_bytes + len > self.cfg.early_max_bytes {
            tracing::warn!(%peer, session, len, "early buffer full: dropping a frame for a session not opened here");
            return;
        }
        st.early_bytes += len;
        let e = st.early.entry(session).or_insert_with(|| EarlySession {
            created: now,
            frames: Default::default(),
            bytes: 0,
        });
        e.bytes += len;
        e.frames[peer.index()].push_back((generation, item));
    }
}

/// The connection to one peer has ended: clean up unless it was replaced.
struct ConnGuard {
    shared: Arc<Shared>,
    peer: PartyId,
    generation: u64,
    done: Option<oneshot::Sender<()>>,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        let slot = &mut st.links[self.peer.index()];
        if slot
            .conn
            .as_ref()
            .is_some_and(|c| c.generation == self.generation)
        {
            slot.conn = None;
            st.close_sessions(self.peer, self.generation);
            drop(st);
            self.shared.notify();
        }
        if let Some(done) = self.done.take() {
            let _ = done.send(());
        }
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run_connection<S>(
    shared: Arc<Shared>,
    peer: PartyId,
    generation: u64,
    stream: S,
    rx: mpsc::Receiver<OutFrame>,
    done: oneshot::Sender<()>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let _guard = ConnGuard {
        shared: Arc::clone(&shared),
        peer,
        generation,
        done: Some(done),
    };
    let (r, w) = tokio::io::split(stream);
    let heartbeat = shared.cfg.heartbeat_interval;
    let mut writer = AbortOnDrop(tokio::spawn(async move {
        if let Err(e) = write_loop(w, rx, heartbeat).await {
            tracing::warn!(%peer, error = %e, "write to peer failed");
        }
    }));
    let end = tokio::select! {
        res = read_loop(&shared, peer, generation, r) => match res {
            Ok(()) => "the peer closed the link".to_owned(),
            Err(e) => describe_error(&e),
        },
        _ = &mut writer.0 => "writing to the peer failed".to_owned(),
    };
    tracing::warn!(%peer, generation, reason = %end, "link down");
    let mut st = shared.lock();
    let slot = &mut st.links[peer.index()];
    if slot
        .conn
        .as_ref()
        .is_some_and(|c| c.generation == generation)
    {
        slot.last_error = Some(format!("link (connection {generation}) dropped: {end}"));
    }
}

async fn write_loop<W: AsyncWrite>(
    w: W,
    mut rx: mpsc::Receiver<OutFrame>,
    heartbeat: Duration,
) -> std::io::Result<()> {
    let w = BufWriter::with_capacity(WRITE_BUF, w);
    let mut w = std::pin::pin!(w);
    loop {
        let frame = match tokio::time::timeout(heartbeat, rx.recv()).await {
            Ok(Some(frame)) => frame,
            Ok(None) => break,
            Err(_) => OutFrame {
                session: HEARTBEAT_SESSION,
                payload: Vec::new(),
            },
        };
        write_frame(&mut w, &frame).await?;
        while let Ok(frame) = rx.try_recv() {
            write_frame(&mut w, &frame).await?;
        }
        w.flush().await?;
    }
    w.shutdown().await
}

async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, frame: &OutFrame) -> std::io::Result<()> {
    let len = u32::try_from(frame.payload.len())
        .map_err(|_| std::io::Error::other("frame payload over u32::MAX"))?;
    let mut header = [0u8; FRAME_HEADER_LEN];
    header[0] = FRAME_VERSION;
    header[1..9].copy_from_slice(&frame.session.to_be_bytes());
    header[9..13].copy_from_slice(&len.to_be_bytes());
    w.write_all(&header).await?;
    w.write_all(&frame.payload).await
}

async fn read_loop<R: AsyncRead>(
    shared: &Shared,
    peer: PartyId,
    generation: u64,
    r: R,
) -> std::io::Result<()> {
    let mut r = std::pin::pin!(BufReader::with_capacity(READ_BUF, r));
    let limit = shared.cfg.max_frame_len;
    let silence = shared.cfg.silence_timeout;
    let silent = || {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("nothing (not even a heartbeat) from {peer} for {silence:?}"),
        )
    };
    loop {
        let mut header = [0u8; FRAME_HEADER_LEN];
        match tokio::time::timeout(silence, r.read_exact(&mut header)).await {
            Err(_) => return Err(silent()),
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(Err(e)) => return Err(e),
        }
        if header[0] != FRAME_VERSION {
            return Err(std::io::Error::other(format!(
                "frame version {} from {peer}, expected {FRAME_VERSION}",
                header[0]
            )));
        }
        let (session, len) = parse_header(&header);
        if session == HEARTBEAT_SESSION && len == 0 {
            continue;
        }
        if len > limit {
            tracing::warn!(%peer, session, len, limit, "refusing oversized frame");
            let skipped =
                tokio::io::copy(&mut (&mut r).take(u64::from(len)), &mut tokio::io::sink()).await?;
            if skipped < u64::from(len) {
                return Ok(());
            }
            shared.deliver(
                peer,
                generation,
                session,
                Incoming::TooLarge {
                    len: u64::from(len),
                    limit: u64::from(limit),
                },
            );
            continue;
        }
        // Read into uninitialised capacity (no memset of large payloads);
        // `take` keeps the read inside this frame.
        let len = len as usize;
        let mut payload = Vec::with_capacity(len);
        while payload.len() < len {
            let remaining = (len - payload.len()) as u64;
            let mut chunk = (&mut r).take(remaining);
            let read = tokio::time::timeout(silence, chunk.read_buf(&mut payload)).await;
            if read.map_err(|_| silent())?? == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
        }
        shared.deliver(peer, generation, session, Incoming::Msg(payload));
    }
}

/// Session id and payload length of a frame header.
fn parse_header(header: &[u8; FRAME_HEADER_LEN]) -> (u64, u32) {
    let mut session = [0u8; 8];
    session.copy_from_slice(&header[1..9]);
    let mut len = [0u8; 4];
    len.copy_from_slice(&header[9..13]);
    (u64::from_be_bytes(session), u32::from_be_bytes(len))
}

/// Exchanges the link hello: sends ours, checks the peer's names `expected`.
async fn hello<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    own: PartyId,
    expected: PartyId,
) -> std::io::Result<()> {
    let mut msg = [0u8; 5];
    msg[..3].copy_from_slice(&HELLO_MAGIC);
    msg[3] = FRAME_VERSION;
    msg[4] = u8::from(own);
    stream.write_all(&msg).await?;
    stream.flush().await?;
    let mut got = [0u8; 5];
    stream.read_exact(&mut got).await?;
    if got[..3] != HELLO_MAGIC || got[3] != FRAME_VERSION || got[4] != u8::from(expected) {
        return Err(std::io::Error::other(format!(
            "bad hello {got:?}: expected a Sanctuary v{FRAME_VERSION} node {expected}"
        )));
    }
    Ok(())
}

/// A running mesh node: listener, dialers and links to the two other parties.
///
/// Dropping it stops everything (asynchronously); [`PeerMesh::shutdown`]
/// also waits until its sockets are closed.
#[derive(Debug)]
pub struct PeerMesh {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    public_key: PublicKey,
    tasks: Vec<JoinHandle<()>>,
}

impl PeerMesh {
    /// Binds `listen` (`host:port`) and starts the mesh. See [`PeerMesh::start`].
    pub async fn bind(
        config: MeshConfig,
        key: NodeKey,
        listen: &str,
    ) -> Result<PeerMesh, NetError> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| NetError::Bind {
                addr: listen.to_owned(),
                source,
            })?;
        Self::start(config, key, listener)
    }

    /// Starts the mesh on an already bound listener: accepts connections from
    /// lower parties and dials higher ones, in background tasks on the current
    /// tokio runtime (panics outside one).
    pub fn start(
        config: MeshConfig,
        key: NodeKey,
        listener: TcpListener,
    ) -> Result<PeerMesh, NetError> {
        let public_key = key.public_key();
        config.validate(&public_key)?;
        let local_addr = listener.local_addr().map_err(|source| NetError::Bind {
            addr: "<listener>".into(),
            source,
        })?;
        let own = config.party;
        let tls = NodeTls::new(key, &config.name)?;
        let mut dialled = Vec::new();
        let mut accepted = Vec::new();
        for p in &config.peers {
            if p.party > own {
                let client = tls.client_config(p.party, p.key)?;
                dialled.push((p.clone(), TlsConnector::from(Arc::new(client))));
            } else {
                accepted.push((p.party, p.key));
            }
        }
        let (server, verifier) = tls.server_config(accepted)?;
        let acceptor = TlsAcceptor::from(Arc::new(server));
        let (changed, _) = watch::channel(0);
        let shared = Arc::new(Shared {
            cfg: config,
            state: Mutex::new(State {
                closed: false,
                links: Default::default(),
                sessions: BTreeMap::new(),
                early: BTreeMap::new(),
                early_bytes: 0,
                last_sweep: Instant::now(),
                last_refused: None,
            }),
            changed,
        });
        tracing::info!(party = %own, %local_addr, key = %public_key, "mesh listening");
        let mut tasks = vec![tokio::spawn(accept_loop(
            Arc::clone(&shared),
            listener,
            acceptor,
            verifier,
        ))];
        for (peer, connector) in dialled {
            tasks.push(tokio::spawn(dial_loop(
                Arc::clone(&shared),
                peer,
                connector,
            )));
        }
        Ok(PeerMesh {
            shared,
            local_addr,
            public_key,
            tasks,
        })
    }

    /// Three connected meshes on 127.0.0.1 with fresh keys and ports chosen
    /// by the OS, indexed by party: a whole network in one process (tests
    /// and benches over real TLS; feature `test-util`, so no production
    /// build carries it). `tweak` adjusts each node's config.
    #[cfg(feature = "test-util")]
    pub async fn loopback_network(
        tweak: impl Fn(&mut MeshConfig),
    ) -> Result<[PeerMesh; 3], NetError> {
        let mut listeners = Vec::with_capacity(3);
        let mut addrs = Vec::with_capacity(3);
        for _ in PartyId::ALL {
            let bind = |source| NetError::Bind {
                addr: "127.0.0.1:0".into(),
                source,
            };
            let l = TcpListener::bind("127.0.0.1:0").await.map_err(bind)?;
            addrs.push(l.local_addr().map_err(bind)?.to_string());
            listeners.push(l);
        }
        let keys = [
            NodeKey::generate()?,
            NodeKey::generate()?,
            NodeKey::generate()?,
        ];
        let pubs = keys.each_ref().map(NodeKey::public_key);
        let mut meshes = Vec::with_capacity(3);
        for ((party, listener), key) in PartyId::ALL.into_iter().zip(listeners).zip(keys) {
            let peers = PartyId::ALL
                .into_iter()
                .filter(|&q| q != party)
                .map(|q| PeerConfig {
                    party: q,
                    addr: addrs[q.index()].clone(),
                    key: pubs[q.index()],
                })
                .collect();
            let mut config = MeshConfig::new(party, peers);
            tweak(&mut config);
            meshes.push(PeerMesh::start(config, key, listener)?);
        }
        for m in &meshes {
            m.wait_connected(Duration::from_secs(30)).await?;
        }
        let [m0, m1, m2]: [PeerMesh; 3] = meshes
            .try_into()
            .map_err(|_| NetError::Config("three meshes expected".into()))?;
        Ok([m0, m1, m2])
    }

    /// This node's party.
    pub fn party(&self) -> PartyId {
        self.shared.cfg.party
    }

    /// The address the mesh listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// This node's public key.
    pub fn public_key(&self) -> PublicKey {
        self.public_key
    }

    /// The state of the link to `peer` (`None` for the node itself).
    pub fn link(&self, peer: PartyId) -> Option<LinkStatus> {
        let addr = self.shared.cfg.peer(peer)?.addr.clone();
        let st = self.shared.lock();
        let slot = &st.links[peer.index()];
        let mut last_error = slot.last_error.clone();
        if peer < self.party()
            && slot.conn.is_none()
            && let Some(refused) = &st.last_refused
        {
            // An acceptor cannot tell which party a refused connection claimed
            // to be: show the last refusal on every link that is down.
            last_error = Some(match last_error {
                Some(e) => format!("{e}; last refused: {refused}"),
                None => refused.clone(),
            });
        }
        Some(LinkStatus {
            peer,
            addr,
            connected: slot.conn.is_some(),
            generation: slot.generation,
            remote: slot.conn.as_ref().map(|c| c.remote),
            last_error,
        })
    }

    /// The states of both links, in party order.
    pub fn links(&self) -> Vec<LinkStatus> {
        PartyId::ALL
            .into_iter()
            .filter_map(|p| self.link(p))
            .collect()
    }

    /// Waits until both links are up. On timeout, names the first peer still
    /// missing, its address and the last error seen on that link.
    pub async fn wait_connected(&self, timeout: Duration) -> Result<(), NetError> {
        let mut changed = self.shared.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            changed.borrow_and_update();
            let down = self.links().into_iter().find(|l| !l.connected);
            let Some(down) = down else { return Ok(()) };
            if tokio::time::timeout_at(deadline, changed.changed())
                .await
                .is_err()
            {
                let reason = down.last_error.unwrap_or_else(|| {
                    if down.peer > self.party() {
                        "no connection attempt has finished yet".into()
                    } else {
                        format!("no connection from {} has been accepted yet", down.peer)
                    }
                });
                return Err(NetError::NotConnected {
                    peer: down.peer,
                    addr: down.addr,
                    waited: timeout,
                    reason,
                });
            }
        }
    }

    /// Opens session `id`: a [`Transport`] to the two peers for one MPC
    /// operation. All three nodes must open the same id. Fails only if `id`
    /// is already open here; a link that is down shows as
    /// [`TransportError::Closed`] on first use.
    pub fn session(&self, id: u64) -> Result<MeshSession, NetError> {
        if id == HEARTBEAT_SESSION {
            return Err(NetError::ReservedSession { session: id });
        }
        let mut st = self.shared.lock();
        if st.sessions.contains_key(&id) {
            return Err(NetError::SessionInUse { session: id });
        }
        let early = st.early.remove(&id);
        if let Some(e) = &early {
            st.early_bytes -= e.bytes;
        }
        let mut early_frames = early.map(|e| e.frames).unwrap_or_default();
        let mut open = OpenSession::default();
        let mut out: [Option<mpsc::Sender<OutFrame>>; 3] = Default::default();
        let mut inbox: [Option<mpsc::UnboundedReceiver<Incoming>>; 3] = Default::default();
        for peer in PartyId::ALL {
            let Some(conn) = &st.links[peer.index()].conn else {
                continue;
            };
            let (tx, rx) = mpsc::unbounded_channel();
            for (generation, item) in early_frames[peer.index()].drain(..) {
                if generation == conn.generation {
                    let _ = tx.send(item);
                }
            }
            out[peer.index()] = Some(conn.tx.clone());
            inbox[peer.index()] = Some(rx);
            open.inbox[peer.index()] = Some(PeerInbox {
                generation: conn.generation,
                tx,
            });
        }
        st.sessions.insert(id, open);
        drop(st);
        Ok(MeshSession {
            shared: Arc::clone(&self.shared),
            id,
            party: self.party(),
            out,
            inbox,
            timeout: self.shared.cfg.io_timeout,
            max_frame_len: self.shared.cfg.max_frame_len,
            bytes_sent: [0; 3],
            bytes_received: [0; 3],
        })
    }

    /// Number of sessions open here (for tests and metrics).
    pub fn open_sessions(&self) -> usize {
        self.shared.lock().sessions.len()
    }

    /// Number of sessions with frames buffered before being opened here.
    pub fn early_sessions(&self) -> usize {
        self.shared.lock().early.len()
    }

    /// Stops the mesh and waits until its listener and connections are closed,
    /// so the address can be bound again at once.
    pub async fn shutdown(mut self) {
        let conns = self.close();
        for t in self.tasks.drain(..).chain(conns) {
            let _ = t.await;
        }
    }

    fn close(&mut self) -> Vec<JoinHandle<()>> {
        for t in &self.tasks {
            t.abort();
        }
        let mut st = self.shared.lock();
        st.closed = true;
        let mut conns = Vec::new();
        for peer in PartyId::ALL {
            if let Some(conn) = st.links[peer.index()].conn.take() {
                conn.task.abort();
                st.close_sessions(peer, conn.generation);
                conns.push(conn.task);
            }
        }
        st.early.clear();
        st.early_bytes = 0;
        conns
    }
}

impl Drop for PeerMesh {
    fn drop(&mut self) {
        self.close();
    }
}

async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    acceptor: TlsAcceptor,
    verifier: Arc<PinnedClientVerifier>,
) {
    loop {
        let (tcp, remote) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                // Bounded pause so a persistent error (e.g. out of file descriptors) does not spin.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let shared = Arc::clone(&shared);
        let acceptor = acceptor.clone();
        let verifier = Arc::clone(&verifier);
        tokio::spawn(async move {
            let timeout = shared.cfg.handshake_timeout;
            let own = shared.cfg.party;
            let handshake = async {
                tcp.set_nodelay(true)?;
                let mut stream = acceptor
                    .accept(BufReader::with_capacity(SOCKET_READ_BUF, tcp))
                    .await?;
                let party = stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .and_then(|c| verifier.party_of(c))
                    .ok_or_else(|| {
                        std::io::Error::other("verified client certificate maps to no party")
                    })?;
                hello(&mut stream, own, party).await?;
                Ok::<_, std::io::Error>((party, stream))
            };
            match tokio::time::timeout(timeout, handshake).await {
                Ok(Ok((party, stream))) => {
                    shared.register(party, TlsStream::from(stream), remote);
                }
                Ok(Err(e)) => {
                    let msg = format!("refused connection from {remote}: {}", describe_error(&e));
                    tracing::warn!("{msg}");
                    shared.lock().last_refused = Some(msg);
                    shared.notify();
                }
                Err(_) => tracing::warn!(%remote, "handshake timed out"),
            }
        });
    }
}

async fn dial_loop(shared: Arc<Shared>, peer: PeerConfig, connector: TlsConnector) {
    let own = shared.cfg.party;
    let server_name =
        match ServerName::try_from(format!("sanctuary-p{}.invalid", peer.party.index())) {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = %e, "invalid server name");
                return;
            }
        };
    let mut backoff = shared.cfg.backoff_min;
    loop {
        let attempt = async {
            let tcp = TcpStream::connect(&peer.addr).await?;
            tcp.set_nodelay(true)?;
            let remote = tcp.peer_addr()?;
            let mut stream = connector
                .connect(
                    server_name.clone(),
                    BufReader::with_capacity(SOCKET_READ_BUF, tcp),
                )
                .await?;
            hello(&mut stream, own, peer.party).await?;
            Ok::<_, std::io::Error>((stream, remote))
        };
        let result = match tokio::time::timeout(shared.cfg.handshake_timeout, attempt).await {
            Ok(r) => r,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "handshake timed out",
            )),
        };
        match result {
            Ok((stream, remote)) => {
                let Some(done) = shared.register(peer.party, TlsStream::from(stream), remote)
                else {
                    return;
                };
                backoff = shared.cfg.backoff_min;
                let _ = done.await;
            }
            Err(e) => {
                let msg = format!(
                    "dialling {} at {}: {}",
                    peer.party,
                    peer.addr,
                    describe_error(&e)
                );
                let mut st = shared.lock();
                let slot = &mut st.links[peer.party.index()];
                if slot.last_error.as_deref() != Some(msg.as_str()) {
                    tracing::warn!("{msg}");
                } else {
                    tracing::debug!("{msg}");
                }
                slot.last_error = Some(msg);
                drop(st);
                shared.notify();
            }
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(shared.cfg.backoff_max);
    }
}

/// One MPC session over the mesh: a [`Transport`] to the two other parties.
///
/// Messages to or from one peer stay in order. Dropping it frees its queues.
#[derive(Debug)]
pub struct MeshSession {
    shared: Arc<Shared>,
    id: u64,
    party: PartyId,
    out: [Option<mpsc::Sender<OutFrame>>; 3],
    inbox: [Option<mpsc::UnboundedReceiver<Incoming>>; 3],
    timeout: Duration,
    max_frame_len: u32,
    bytes_sent: [u64; 3],
    bytes_received: [u64; 3],
}

impl MeshSession {
    /// The session id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sets how long `recv` (and a `send` on a full link) waits.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Payload bytes sent on this session, to all peers (frame headers and
    /// TLS overhead excluded).
    pub fn bytes_sent(&self) -> u64 {
        self.bytes_sent.iter().sum()
    }

    /// Payload bytes sent on this session to `peer`.
    pub fn bytes_sent_to(&self, peer: PartyId) -> u64 {
        self.bytes_sent[peer.index()]
    }

    /// Payload bytes received on this session, from all peers.
    pub fn bytes_received(&self) -> u64 {
        self.bytes_received.iter().sum()
    }

    /// Payload bytes received on this session from `peer`.
    pub fn bytes_received_from(&self, peer: PartyId) -> u64 {
        self.bytes_received[peer.index()]
    }

    fn timeout_error(&self, peer: PartyId) -> TransportError {
        TransportError::Timeout {
            peer,
            seconds: self.timeout.as_secs_f64().ceil() as u64,
        }
    }
}

impl Drop for MeshSession {
    fn drop(&mut self) {
        self.shared.lock().sessions.remove(&self.id);
    }
}

impl Transport for MeshSession {
    fn party(&self) -> PartyId {
        self.party
    }

    async fn send(&mut self, to: PartyId, msg: Vec<u8>) -> Result<(), TransportError> {
        if to == self.party {
            return Err(TransportError::SelfAddressed { party: self.party });
        }
        let len = msg.len() as u64;
        if len > u64::from(self.max_frame_len) {
            return Err(TransportError::TooLarge {
                peer: to,
                len,
                limit: u64::from(self.max_frame_len),
            });
        }
        let tx = self.out[to.index()]
            .as_ref()
            .ok_or(TransportError::Closed { peer: to })?;
        let frame = OutFrame {
            session: self.id,
            payload: msg,
        };
        match tokio::time::timeout(self.timeout, tx.send(frame)).await {
            Ok(Ok(())) => {
                self.bytes_sent[to.index()] += len;
                Ok(())
            }
            Ok(Err(_)) => {
                self.out[to.index()] = None;
                Err(TransportError::Closed { peer: to })
            }
            Err(_) => Err(self.timeout_error(to)),
        }
    }

    async fn recv(&mut self, from: PartyId) -> Result<Vec<u8>, TransportError> {
        if from == self.party {
            return Err(TransportError::SelfAddressed { party: self.party });
        }
        let timeout = self.timeout;
        let rx = self.inbox[from.index()]
            .as_mut()
            .ok_or(TransportError::Closed { peer: from })?;
        match tokio::time::timeout(timeout, rx.recv()).await {
            Ok(Some(Incoming::Msg(m))) => {
                self.bytes_received[from.index()] += m.len() as u64;
                Ok(m)
            }
            Ok(Some(Incoming::TooLarge { len, limit })) => Err(TransportError::TooLarge {
                peer: from,
                len,
                limit,
            }),
            Ok(None) => {
                self.inbox[from.index()] = None;
                Err(TransportError::Closed { peer: from })
            }
            Err(_) => Err(self.timeout_error(from)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_validation() {
        let k = |b: u8| PublicKey::from_bytes([b; 32]);
        let own = k(0);
        let peer = |party, key| PeerConfig {
            party,
            addr: "127.0.0.1:1".into(),
            key,
        };
        let ok = MeshConfig::new(
            PartyId::P0,
            vec![peer(PartyId::P1, k(1)), peer(PartyId::P2, k(2))],
        );
        ok.validate(&own).unwrap();
        let dup = MeshConfig::new(
            PartyId::P0,
            vec![peer(PartyId::P1, k(1)), peer(PartyId::P1, k(2))],
        );
        assert!(dup.validate(&own).is_err());
        let same_key = MeshConfig::new(
            PartyId::P0,
            vec![peer(PartyId::P1, k(1)), peer(PartyId::P2, k(1))],
        );
        assert!(same_key.validate(&own).is_err());
        let me = MeshConfig::new(
            PartyId::P0,
            vec![peer(PartyId::P0, k(1)), peer(PartyId::P2, k(2))],
        );
        assert!(me.validate(&own).is_err());
        let own_key = MeshConfig::new(
            PartyId::P0,
            vec![peer(PartyId::P1, k(0)), peer(PartyId::P2, k(2))],
        );
        assert!(own_key.validate(&own).is_err());
    }
}
