//! Three parties in one process, for this crate's tests.

use std::future::Future;

use sanctuary_share::{CorrelatedRng, PartyId};

use crate::{LocalTransport, Session, Transport, TransportError};

/// A transport that records every message its party receives (the party's
/// view, for the secrecy tests).
#[derive(Debug)]
pub(crate) struct Recording {
    pub(crate) inner: LocalTransport,
    pub(crate) received: Vec<u8>,
}

impl Transport for Recording {
    fn party(&self) -> PartyId {
        self.inner.party()
    }

    async fn send(&mut self, to: PartyId, msg: Vec<u8>) -> Result<(), TransportError> {
        self.inner.send(to, msg).await
    }

    async fn recv(&mut self, from: PartyId) -> Result<Vec<u8>, TransportError> {
        let m = self.inner.recv(from).await?;
        self.received.extend_from_slice(&m);
        Ok(m)
    }
}

/// Runs `f` as each of the three parties over an in-process mesh and
/// returns their outputs, indexed by party.
pub(crate) async fn run3<F, Fut, O>(f: F) -> [O; 3]
where
    F: Fn(Session<LocalTransport>) -> Fut,
    Fut: Future<Output = O>,
{
    let [t0, t1, t2] = LocalTransport::mesh();
    let [r0, r1, r2] = CorrelatedRng::setup_local(&mut rand::rng());
    let s = |t, r| Session::with_rng(t, r).expect("same party");
    let (a, b, c) = tokio::join!(f(s(t0, r0)), f(s(t1, r1)), f(s(t2, r2)));
    [a, b, c]
}

/// Chi-square statistic of byte values against the uniform distribution.
pub(crate) fn chi_square_bytes(bytes: &[u8]) -> f64 {
    let mut counts = [0u64; 256];
    for &b in bytes {
        counts[b as usize] += 1;
    }
    let expected = bytes.len() as f64 / 256.0;
    counts
        .iter()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}
