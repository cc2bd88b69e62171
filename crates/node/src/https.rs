//! The client API over TLS: the node presents the self-signed certificate
//! of its identity key, which clients pin from the network file. Handshakes
//! run in their own tasks, so a client that stalls mid-handshake cannot
//! hold up the others; a failed handshake is logged and dropped. The TCP
//! listener belongs to the [`TlsListener`] itself, so the port is free as
//! soon as the server is dropped (a restarted node binds it at once).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A handshake that has not finished by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many finished handshakes wait to be served.
const BACKLOG: usize = 256;

type Ready = (TlsStream<TcpStream>, SocketAddr);

/// An axum listener yielding TLS connections.
pub(crate) struct TlsListener {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<Ready>,
    rx: mpsc::Receiver<Ready>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("listener", &self.listener)
            .finish_non_exhaustive()
    }
}

impl TlsListener {
    /// Serves TLS with `config` on `listener`.
    pub(crate) fn new(listener: TcpListener, config: rustls::ServerConfig) -> Self {
        let (tx, rx) = mpsc::channel(BACKLOG);
        Self {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(config)),
            tx,
            rx,
        }
    }

    /// Starts the handshake of a new connection in its own task.
    fn handshake(&self, tcp: TcpStream, addr: SocketAddr) {
        let acceptor = self.acceptor.clone();
        let tx = self.tx.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => {
                    let _ = tx.send((tls, addr)).await;
                }
                Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                ready = self.rx.recv() => {
                    // `self.tx` is alive, so the channel never closes.
                    if let Some(conn) = ready {
                        return conn;
                    }
                }
                accepted = self.listener.accept() => match accepted {
                    Ok((tcp, addr)) => self.handshake(tcp, addr),
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}
