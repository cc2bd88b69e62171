use sanctuary_share::{CorrelatedRng, PartyId, PrfKey, Ring, ShareVec};

use crate::dzkp::{self, AndLog};
use crate::{MpcError, Transport};

/// The adversary a session is secure against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Security {
    /// Honest-but-curious parties: messages are used as received.
    #[default]
    SemiHonest,
    /// One party may deviate: every AND message is proven to the two other
    /// parties (a distributed zero-knowledge proof) before anything is
    /// opened, and the session aborts with [`MpcError::Cheating`] if a proof
    /// fails. The reshared dot products of embedding matching are proven
    /// the same way (over a Galois ring); iris matching is refused in this
    /// mode until its scores are proven too.
    Malicious,
}

/// Traffic counters of one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// Bytes this party sent.
    pub bytes_sent: u64,
    /// Messages this party sent.
    pub messages_sent: u64,
    /// Communication rounds (reshares and openings) this party took part in.
    pub rounds: u64,
}

/// One party's state in a protocol run: its transport and its correlated
/// randomness. Protocol steps are functions taking `&mut Session`.
#[derive(Debug)]
pub struct Session<T: Transport> {
    transport: T,
    rng: CorrelatedRng,
    stats: SessionStats,
    security: Security,
    /// The AND relations still to prove (malicious security only).
    ands: AndLog,
    /// A *consistent* deviation, `(reshare index, xor mask)`, for
    /// fault-injection harnesses ([`Self::deviate_at`]).
    pub(crate) fault: Option<(u64, u64)>,
    exchanges: u64,
}

pub(crate) fn to_bytes<R: Ring>(v: &[R]) -> Vec<u8> {
    bytemuck::cast_slice(v).to_vec()
}

impl<T: Transport> Session<T> {
    /// Sets up correlated randomness over the transport: this party samples
    /// the key it shares with its previous party, sends it there, and receives
    /// the key it shares with its next party. One message each way.
    pub async fn setup(mut transport: T) -> Result<Self, MpcError> {
        let party = transport.party();
        let own = PrfKey::random(&mut rand::rng());
        transport
            .send(party.prev(), own.to_bytes().to_vec())
            .await?;
        let bytes = transport.recv(party.next()).await?;
        let arr: [u8; 16] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| MpcError::BadMessage {
                peer: party.next(),
                expected: 16,
                got: bytes.len(),
            })?;
        let next = PrfKey::from_bytes(arr);
        let rng = CorrelatedRng::new(party, &own, &next);
        let mut sess = Self::with_rng(transport, rng)?;
        sess.stats = SessionStats {
            bytes_sent: 16,
            messages_sent: 1,
            rounds: 1,
        };
        Ok(sess)
    }

    /// A session from an already set-up generator (tests, single-process runs).
    pub fn with_rng(transport: T, rng: CorrelatedRng) -> Result<Self, MpcError> {
        if transport.party() != rng.party() {
            return Err(MpcError::Input(
                "transport and randomness belong to different parties",
            ));
        }
        Ok(Self {
            transport,
            rng,
            stats: SessionStats::default(),
            security: Security::default(),
            ands: AndLog::default(),
            fault: None,
            exchanges: 0,
        })
    }

    /// Sets the adversary this session defends against (every party must
    /// choose the same, before the first protocol step).
    pub fn with_security(mut self, security: Security) -> Self {
        self.security = security;
        self
    }

    /// Fault injection (the devnet's cheating node, tests): this party
    /// deviates at its `reshare`-th reshare of the session (0-based), XORing
    /// `mask` into the first element it sends and keeping the altered value
    /// as its own component too, so openings still agree. The deviation a
    /// rogue operator would program; malicious security must catch it.
    pub fn deviate_at(mut self, reshare: u64, mask: u64) -> Self {
        self.fault = Some((reshare, mask));
        self
    }

    /// The adversary this session defends against.
    pub fn security(&self) -> Security {
        self.security
    }

    /// Proves this party's AND messages since the last proof to its peers
    /// and checks theirs (malicious security; a no-op otherwise). Runs
    /// before every opening; call it before handing shares to a client.
    pub async fn verify(&mut self) -> Result<(), MpcError> {
        if self.security == Security::SemiHonest {
            return Ok(());
        }
        let log = std::mem::take(&mut self.ands);
        dzkp::verify(self, &log).await
    }

    pub(crate) fn rng_streams<R: Ring>(&mut self, n: usize) -> (Vec<R>, Vec<R>) {
        self.rng.streams(n)
    }

    /// `a & b` for XOR sharings given as (own, next) components, one round:
    /// `a_o&b_o ^ a_o&b_n ^ a_n&b_o`, re-randomised and reshared. Under
    /// malicious security the relation is remembered for [`Self::verify`].
    pub(crate) async fn and_reshare<R: Ring>(
        &mut self,
        a: (&[R], &[R]),
        b: (&[R], &[R]),
    ) -> Result<ShareVec<R>, MpcError> {
        let n = a.0.len();
        if a.1.len() != n || b.0.len() != n || b.1.len() != n {
            return Err(MpcError::Input("AND operands differ in length"));
        }
        let term = (0..n).map(|k| (a.0[k] & b.0[k]) ^ (a.0[k] & b.1[k]) ^ (a.1[k] & b.0[k]));
        if self.security == Security::SemiHonest {
            return self.reshare_bool(term.collect()).await;
        }
        let (out, f_own, f_next) = self.reshare_bool_keep(term.collect()).await?;
        self.ands.record(a, b, out.next(), &f_own, &f_next);
        Ok(out)
    }

    /// The local party.
    pub fn party(&self) -> PartyId {
        self.transport.party()
    }

    /// Traffic so far.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// The correlated randomness (tests inspect it).
    #[cfg(test)]
    pub(crate) fn rng(&mut self) -> &mut CorrelatedRng {
        &mut self.rng
    }

    /// Gives the transport back (to close a network session).
    pub fn into_transport(self) -> T {
        self.transport
    }

    pub(crate) async fn send<R: Ring>(&mut self, to: PartyId, v: &[R]) -> Result<(), MpcError> {
        let bytes = to_bytes(v);
        self.stats.bytes_sent += bytes.len() as u64;
        self.stats.messages_sent += 1;
        self.transport.send(to, bytes).await?;
        Ok(())
    }

    pub(crate) async fn recv<R: Ring>(
        &mut self,
        from: PartyId,
        n: usize,
    ) -> Result<Vec<R>, MpcError> {
        let bytes = self.transport.recv(from).await?;
        let expected = n * size_of::<R>();
        if bytes.len() != expected {
            return Err(MpcError::BadMessage {
                peer: from,
                expected,
                got: bytes.len(),
            });
        }
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Turns this party's additive share `z_i` (of a product computed
    /// locally) into a replicated share: adds a fresh sharing of zero, sends
    /// the result to the previous party and receives the next party's.
    pub(crate) async fn reshare<R: Ring>(
        &mut self,
        mut z: Vec<R>,
    ) -> Result<ShareVec<R>, MpcError> {
        let alpha = self.rng.zero_share::<R>(z.len());
        for (v, a) in z.iter_mut().zip(&alpha) {
            *v = v.add(*a);
        }
        self.exchange(z).await
    }

    /// As [`Self::reshare`], also returning the two stream values that
    /// masked this party's component (`(own key's, next key's)`), which
    /// the proof of the message needs.
    pub(crate) async fn reshare_keep<R: Ring>(
        &mut self,
        mut z: Vec<R>,
    ) -> Result<(ShareVec<R>, Vec<R>, Vec<R>), MpcError> {
        let (f_own, f_next) = self.rng.streams::<R>(z.len());
        for (v, (a, b)) in z.iter_mut().zip(f_own.iter().zip(&f_next)) {
            *v = v.add(*a).sub(*b);
        }
        Ok((self.exchange(z).await?, f_own, f_next))
    }

    /// As [`Self::reshare_keep`] for XOR sharings.
    async fn reshare_bool_keep<R: Ring>(
        &mut self,
        mut z: Vec<R>,
    ) -> Result<(ShareVec<R>, Vec<R>, Vec<R>), MpcError> {
        let (f_own, f_next) = self.rng.streams::<R>(z.len());
        for (v, (&a, &b)) in z.iter_mut().zip(f_own.iter().zip(&f_next)) {
            *v = *v ^ a ^ b;
        }
        Ok((self.exchange(z).await?, f_own, f_next))
    }

    /// As [`Self::reshare`] for XOR sharings.
    pub(crate) async fn reshare_bool<R: Ring>(
        &mut self,
        mut z: Vec<R>,
    ) -> Result<ShareVec<R>, MpcError> {
        let alpha = self.rng.zero_share_bool::<R>(z.len());
        for (v, a) in z.iter_mut().zip(&alpha) {
            *v = *v ^ *a;
        }
        self.exchange(z).await
    }

    async fn exchange<R: Ring>(&mut self, mut z: Vec<R>) -> Result<ShareVec<R>, MpcError> {
        if let Some((at, mask)) = self.fault
            && at == self.exchanges
            && let Some(first) = z.first_mut()
        {
            let bytes: &mut [u8] = bytemuck::bytes_of_mut(first);
            for (b, m) in bytes.iter_mut().zip(mask.to_le_bytes()) {
                *b ^= m;
            }
        }
        self.exchanges += 1;
        let party = self.party();
        self.stats.rounds += 1;
        self.send(party.prev(), &z).await?;
        let next = self.recv(party.next(), z.len()).await?;
        Ok(ShareVec::from_parts(party, z, next)?)
    }

    /// Opens a sharing to all three parties. Each party receives the missing
    /// component from both of its holders and checks that they agree, so a
    /// party that lies about its share is detected.
    pub(crate) async fn open_raw<R: Ring>(&mut self, x: &ShareVec<R>) -> Result<Vec<R>, MpcError> {
        // Nothing is opened before every AND so far is proven.
        self.verify().await?;
        let party = self.party();
        self.stats.rounds += 1;
        // The missing component x_{i+2} = x_{i-1}: the previous party holds it
        // as its own, the next party as its next.
        self.send(party.next(), x.own()).await?;
        self.send(party.prev(), x.next()).await?;
        let from_prev = self.recv::<R>(party.prev(), x.len()).await?;
        let from_next = self.recv::<R>(party.next(), x.len()).await?;
        if from_prev != from_next {
            return Err(MpcError::Inconsistent {
                culprits: [party.prev(), party.next()],
            });
        }
        Ok(from_prev)
    }
}
