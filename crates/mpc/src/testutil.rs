//! Three parties in one process, for this crate's tests.

use std::future::Future;

use sanctuary_share::{CorrelatedRng, PartyId};

use crate::{LocalTransport, Security, Session, Transport, TransportError};

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

/// What a byzantine party does to one of the messages it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tamper {
    /// Adds one to the first element.
    Add,
    /// Flips one bit (taken modulo the message length).
    Flip(usize),
    /// Sends zeros instead.
    Zeros,
    /// Sends its previous message again.
    Replay,
    /// Stops: the send fails and the party leaves.
    Drop,
}

/// A transport that tampers with the `at`-th message its party sends.
#[derive(Debug)]
pub(crate) struct Tampering {
    inner: LocalTransport,
    plan: Option<(usize, Tamper)>,
    sent: usize,
    last: Vec<u8>,
    /// Every byte this party received (its view).
    pub(crate) received: Vec<u8>,
}

impl Transport for Tampering {
    fn party(&self) -> PartyId {
        self.inner.party()
    }

    async fn send(&mut self, to: PartyId, mut msg: Vec<u8>) -> Result<(), TransportError> {
        let index = self.sent;
        self.sent += 1;
        if let Some((at, tamper)) = self.plan
            && at == index
            && !msg.is_empty()
        {
            match tamper {
                Tamper::Add => msg[0] = msg[0].wrapping_add(1),
                Tamper::Flip(bit) => {
                    let bit = bit % (8 * msg.len());
                    msg[bit / 8] ^= 1 << (bit % 8);
                }
                Tamper::Zeros => msg.fill(0),
                Tamper::Replay => {
                    if !self.last.is_empty() {
                        msg = self.last.clone();
                    }
                }
                Tamper::Drop => return Err(TransportError::Closed { peer: to }),
            }
        }
        self.last = msg.clone();
        self.inner.send(to, msg).await
    }

    async fn recv(&mut self, from: PartyId) -> Result<Vec<u8>, TransportError> {
        let m = self.inner.recv(from).await?;
        self.received.extend_from_slice(&m);
        Ok(m)
    }
}

/// As [`run3`] with a security level, and party `cheat.0` tampering with
/// its message number `cheat.1` as `cheat.2` says.
pub(crate) async fn run3_byzantine<F, Fut, O>(
    security: Security,
    cheat: Option<(PartyId, usize, Tamper)>,
    f: F,
) -> [O; 3]
where
    F: Fn(Session<Tampering>) -> Fut,
    Fut: Future<Output = O>,
{
    let [t0, t1, t2] = LocalTransport::mesh();
    let [r0, r1, r2] = CorrelatedRng::setup_local(&mut rand::rng());
    let s = |t: LocalTransport, r| {
        let plan = cheat.and_then(|(p, at, k)| (p == t.party()).then_some((at, k)));
        let t = Tampering {
            inner: t,
            plan,
            sent: 0,
            last: Vec::new(),
            received: Vec::new(),
        };
        Session::with_rng(t, r)
            .expect("same party")
            .with_security(security)
    };
    let (a, b, c) = tokio::join!(f(s(t0, r0)), f(s(t1, r1)), f(s(t2, r2)));
    [a, b, c]
}

/// Two-sample chi-square statistic of two byte samples of equal size.
pub(crate) fn chi_square_two_samples(a: &[u8], b: &[u8]) -> f64 {
    let (mut ca, mut cb) = ([0f64; 256], [0f64; 256]);
    for &x in a {
        ca[x as usize] += 1.0;
    }
    for &x in b {
        cb[x as usize] += 1.0;
    }
    ca.iter()
        .zip(&cb)
        .filter(|(x, y)| *x + *y > 0.0)
        .map(|(x, y)| (x - y).powi(2) / (x + y))
        .sum()
}
