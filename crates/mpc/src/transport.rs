//! The seam between protocol code and the network: two methods, `send` and
//! `recv`, addressed by [`PartyId`].
//!
//! Protocol steps never touch sockets. [`LocalTransport`] connects three parties
//! in one process over channels (tests, the single-process bench); the
//! `sanctuary-net` crate provides the mutual-TLS implementation between nodes.

use std::future::Future;

use sanctuary_share::PartyId;
use tokio::sync::mpsc;

/// Errors a transport reports. Each names the peer involved, so an operator can
/// tell which node is down or misbehaving.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The peer closed the link or is unreachable.
    #[error("link to {peer} is closed")]
    Closed {
        /// The peer on the other end.
        peer: PartyId,
    },
    /// The peer did not answer in time.
    #[error("no message from {peer} within {seconds} s")]
    Timeout {
        /// The silent peer.
        peer: PartyId,
        /// How long we waited.
        seconds: u64,
    },
    /// A message to or from oneself was requested: a protocol bug.
    #[error("{party} tried to exchange a message with itself")]
    SelfAddressed {
        /// The local party.
        party: PartyId,
    },
    /// A message exceeded the transport's size limit.
    #[error("message from {peer} is {len} bytes, over the {limit}-byte limit")]
    TooLarge {
        /// Sender.
        peer: PartyId,
        /// Announced length.
        len: u64,
        /// Limit in force.
        limit: u64,
    },
    /// Any other I/O or TLS failure on the link to `peer`.
    #[error("link to {peer} failed")]
    Link {
        /// The peer on the other end.
        peer: PartyId,
        /// The underlying failure.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

/// A point-to-point message transport between the three parties.
///
/// Messages between two parties arrive in the order sent. Implementations
/// must not reorder, drop or duplicate messages on one link; they may fail
/// with a [`TransportError`] instead.
pub trait Transport: Send {
    /// The local party.
    fn party(&self) -> PartyId;

    /// Sends one message to `to`.
    fn send(
        &mut self,
        to: PartyId,
        msg: Vec<u8>,
    ) -> impl Future<Output = Result<(), TransportError>> + Send;

    /// Receives the next message from `from`.
    fn recv(
        &mut self,
        from: PartyId,
    ) -> impl Future<Output = Result<Vec<u8>, TransportError>> + Send;
}

/// In-process transport: three parties connected by unbounded channels.
#[derive(Debug)]
pub struct LocalTransport {
    party: PartyId,
    // Indexed by peer; the slot for the party itself is None.
    senders: [Option<mpsc::UnboundedSender<Vec<u8>>>; 3],
    receivers: [Option<mpsc::UnboundedReceiver<Vec<u8>>>; 3],
}

impl LocalTransport {
    /// A fully connected mesh of three local transports, indexed by party.
    pub fn mesh() -> [LocalTransport; 3] {
        let mut senders: [[Option<mpsc::UnboundedSender<Vec<u8>>>; 3]; 3] = Default::default();
        let mut receivers: [[Option<mpsc::UnboundedReceiver<Vec<u8>>>; 3]; 3] = Default::default();
        for from in PartyId::ALL {
            for to in PartyId::ALL {
                if from != to {
                    let (tx, rx) = mpsc::unbounded_channel();
                    senders[from.index()][to.index()] = Some(tx);
                    receivers[to.index()][from.index()] = Some(rx);
                }
            }
        }
        let [s0, s1, s2] = senders;
        let [r0, r1, r2] = receivers;
        [
            LocalTransport {
                party: PartyId::P0,
                senders: s0,
                receivers: r0,
            },
            LocalTransport {
                party: PartyId::P1,
                senders: s1,
                receivers: r1,
            },
            LocalTransport {
                party: PartyId::P2,
                senders: s2,
                receivers: r2,
            },
        ]
    }
}

impl Transport for LocalTransport {
    fn party(&self) -> PartyId {
        self.party
    }

    async fn send(&mut self, to: PartyId, msg: Vec<u8>) -> Result<(), TransportError> {
        let tx = self.senders[to.index()]
            .as_ref()
            .ok_or(TransportError::SelfAddressed { party: self.party })?;
        tx.send(msg)
            .map_err(|_| TransportError::Closed { peer: to })
    }

    async fn recv(&mut self, from: PartyId) -> Result<Vec<u8>, TransportError> {
        let rx = self.receivers[from.index()]
            .as_mut()
            .ok_or(TransportError::SelfAddressed { party: self.party })?;
        rx.recv().await.ok_or(TransportError::Closed { peer: from })
    }
}
