//! Malicious security: every party proves, to the two others, that each
//! AND message (and each reshared dot product) it sent was computed
//! honestly, before anything is opened. A distributed zero-knowledge proof in the style of
//! Boneh, Boyle, Corrigan-Gibbs, Gilboa and Ishai (CRYPTO 2019) as used for
//! three-party replicated sharing by Boyle, Gilboa, Ishai and Nof (CCS 2019).
//! The code is ours; docs/ARCHITECTURE.md says why this technique.
//!
//! # The statement
//!
//! Party `P` (the prover) holds components `(a_o, a_n)`, `(b_o, b_n)` of two
//! XOR sharings and sent its previous party
//! `v = a_o&b_o ^ a_o&b_n ^ a_n&b_o ^ F_o ^ F_n`, where `F_o` and `F_n` are its
//! two correlated-randomness streams. Its previous party `V_p` knows `a_o`,
//! `b_o`, `v` and `F_o` (its "next" key is `P`'s own); its next party `V_n`
//! knows `a_n`, `b_n` and `F_n`. So, word by word,
//!
//! ```text
//!   a_o & b_n  ^  b_o & a_n  =  C ^ D,   C = v ^ a_o&b_o ^ F_o (V_p),  D = F_n (V_n)
//! ```
//!
//! A cross product of something only `V_p` knows with something only `V_n`
//! knows. Read words as GF(2^64) elements and combine them with random
//! `theta_m` (drawn after the messages were sent): the statement becomes one
//! inner product `<u, w> = c` with `u` known to `V_p`, `w` to `V_n`, and `c`
//! additively shared between them. A wrong word survives the combination
//! with probability 2^-64.
//!
//! # The proof
//!
//! Halve the vectors until one element is left: with `f(X) = u_0 + X(u_0 + u_1)`
//! and `g(X)` alike, `h(X) = <f(X), g(X)>` has degree 2 and `h(0) + h(1)` is
//! the claim. The prover sends `h`'s coefficients additively shared (the
//! share `V_p` would get comes from the stream it shares with the prover, so
//! only `V_n` gets a message); the verifiers draw a challenge `r` from the
//! stream they share (the prover cannot know it), `V_n` sends it to the
//! prover, and the claim becomes `h(r)`, the vectors `f(r)`, `g(r)`. A false
//! claim survives a round with probability 2/2^64. At the end the verifiers
//! swap their one remaining element (masked by a random padding element only
//! the prover and one verifier know, so it reveals nothing) and their
//! shares of every round's check, and each checks `u * w = c`.
//!
//! A deviating prover escapes with probability at most (rounds + 1) * 2 / |F|:
//! about 2^-58 for the AND batches used here (GF(2^64), up to 2^25
//! elements), about 2^-42 for the dot products (GR(2^32, 47), 11 rounds at
//! 512 dimensions; over a Galois ring the bound is degree / 2^47). A deviating *verifier* can make an honest prover's
//! proof fail (an abort, never a wrong output); the error names the prover
//! whose proof failed, so blame is a suspicion, not a proof.
//!
//! Cost: no extra rounds in the computation itself; `2 log2(64 * 2W)`
//! message rounds of a few words at the end, for `W` AND words.

use sanctuary_share::{CorrelatedRng, PartyId, PrfKey, Ring};

use std::ops::{Add, Mul, Sub};

use crate::gf64::Gf64;
use crate::gr::{self, Gr};
use crate::{MpcError, Session, Transport};

/// Everything a party must remember about the ANDs since the last proof,
/// concatenated over all AND layers (words of 64 bits; narrower ring words
/// are packed by their bytes, which keeps every bitwise relation).
#[derive(Debug, Default)]
pub(crate) struct AndLog {
    a_own: Vec<u64>,
    a_next: Vec<u64>,
    b_own: Vec<u64>,
    b_next: Vec<u64>,
    /// What its next party sent it (that party's `v`); what this party sent
    /// itself is not needed: its verifiers use their own copies.
    received: Vec<u64>,
    f_own: Vec<u64>,
    f_next: Vec<u64>,
}

impl Drop for AndLog {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for v in [
            &mut self.a_own,
            &mut self.a_next,
            &mut self.b_own,
            &mut self.b_next,
            &mut self.received,
            &mut self.f_own,
            &mut self.f_next,
        ] {
            v.zeroize();
        }
    }
}

/// Packs ring words into 64-bit words through their bytes (zero-padded).
pub(crate) fn words<R: Ring>(v: &[R]) -> Vec<u64> {
    let bytes: &[u8] = bytemuck::cast_slice(v);
    bytes
        .chunks(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        })
        .collect()
}

impl AndLog {
    /// Records one AND layer.
    pub(crate) fn record<R: Ring>(
        &mut self,
        a: (&[R], &[R]),
        b: (&[R], &[R]),
        received: &[R],
        f_own: &[R],
        f_next: &[R],
    ) {
        self.a_own.extend(words(a.0));
        self.a_next.extend(words(a.1));
        self.b_own.extend(words(b.0));
        self.b_next.extend(words(b.1));
        self.received.extend(words(received));
        self.f_own.extend(words(f_own));
        self.f_next.extend(words(f_next));
    }

    pub(crate) fn len(&self) -> usize {
        self.received.len()
    }
}

/// `u` entries for words `x`: `theta_m * X^l` where bit `l` of `x_m` is set.
fn spread(theta: &[Gf64], x: &[u64], out: &mut Vec<Gf64>) {
    for (&t, &word) in theta.iter().zip(x) {
        let mut p = t;
        for l in 0..64 {
            out.push(if (word >> l) & 1 == 1 { p } else { Gf64::ZERO });
            p = p.mul_x();
        }
    }
}

/// `w` entries for words `x`: each bit as 0 or 1.
fn bits(x: &[u64], out: &mut Vec<Gf64>) {
    for &word in x {
        for l in 0..64 {
            out.push(Gf64((word >> l) & 1));
        }
    }
}

/// `sum_m theta_m * x_m`.
fn combine(theta: &[Gf64], x: impl Iterator<Item = u64>) -> Gf64 {
    theta
        .iter()
        .zip(x)
        .fold(Gf64::ZERO, |s, (&t, w)| s + t * Gf64(w))
}

/// What the proofs compute in: GF(2^64) for the ANDs, the Galois ring
/// GR(2^32, 47) for the dot products.
pub(crate) trait Elem:
    Copy + PartialEq + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self>
{
    const ZERO: Self;
    /// 64-bit words per element, on the wire and from a random stream.
    const WORDS: usize;
    fn push_words(&self, out: &mut Vec<u64>);
    fn from_words(w: &[u64]) -> Self;
}

impl Elem for Gf64 {
    const ZERO: Self = Gf64::ZERO;
    const WORDS: usize = 1;
    fn push_words(&self, out: &mut Vec<u64>) {
        out.push(self.0);
    }
    fn from_words(w: &[u64]) -> Self {
        Gf64(w[0])
    }
}

impl Elem for Gr {
    const ZERO: Self = Gr::ZERO;
    const WORDS: usize = gr::D.div_ceil(2);
    fn push_words(&self, out: &mut Vec<u64>) {
        for pair in self.0.chunks(2) {
            let hi = pair.get(1).copied().unwrap_or(0);
            out.push(u64::from(pair[0]) | (u64::from(hi) << 32));
        }
    }
    fn from_words(w: &[u64]) -> Self {
        let mut v = [0u32; gr::D];
        for (k, o) in v.iter_mut().enumerate() {
            *o = (w[k / 2] >> (32 * (k % 2))) as u32;
        }
        Gr(v)
    }
}

fn elems<E: Elem>(w: &[u64]) -> Vec<E> {
    w.chunks_exact(E::WORDS).map(E::from_words).collect()
}

fn words_of<E: Elem>(v: &[E]) -> Vec<u64> {
    let mut out = Vec::with_capacity(v.len() * E::WORDS);
    for e in v {
        e.push_words(&mut out);
    }
    out
}

/// `n` elements from each of the two streams.
fn draw<E: Elem, T: Transport>(sess: &mut Session<T>, n: usize) -> (Vec<E>, Vec<E>) {
    let (a, b) = sess.rng_streams::<u64>(n * E::WORDS);
    (elems(&a), elems(&b))
}

/// Pads to a power of two with zeros (neutral in an inner product).
fn pad_pow2<E: Elem>(v: &mut Vec<E>) {
    let n = v.len().next_power_of_two();
    v.resize(n, E::ZERO);
}

/// `f(r) = f_0 + r (f_1 - f_0)` for the two halves of `v`.
fn fold<E: Elem>(v: &[E], r: E) -> Vec<E> {
    let h = v.len() / 2;
    v[..h]
        .iter()
        .zip(&v[h..])
        .map(|(&a, &b)| a + r * (b - a))
        .collect()
}

/// Coefficients of `h(X) = <f(X), g(X)>` for the halves of `u` and `w`.
fn round_poly<E: Elem>(u: &[E], w: &[E]) -> [E; 3] {
    let h = u.len() / 2;
    let (u0, u1) = u.split_at(h);
    let (w0, w1) = w.split_at(h);
    let mut c = [E::ZERO; 3];
    for k in 0..h {
        let (du, dw) = (u1[k] - u0[k], w1[k] - w0[k]);
        c[0] = c[0] + u0[k] * w0[k];
        c[1] = c[1] + u0[k] * dw + du * w0[k];
        c[2] = c[2] + du * dw;
    }
    c
}

fn eval<E: Elem>(c: &[E; 3], r: E) -> E {
    c[0] + r * (c[1] + r * c[2])
}

/// `h(0) + h(1) = 2 c_0 + c_1 + c_2`.
fn ends<E: Elem>(c: &[E; 3]) -> E {
    c[0] + c[0] + c[1] + c[2]
}

/// One party's three roles in a batch of proofs of `<u, w> = c`:
/// its own proof (`mine`: `u`, `w`), the proof of `next`, where it holds `u`
/// and a share of `c` (`as_vp`), and the proof of `prev`, where it holds `w`
/// and the other share (`as_vn`). Appends the masking element to each
/// vector, folds to one element, and checks; `step` names what is proven.
async fn prove_and_check<E: Elem, T: Transport>(
    sess: &mut Session<T>,
    mine: (Vec<E>, Vec<E>),
    as_vp: (Vec<E>, E),
    as_vn: (Vec<E>, E),
    step: &'static str,
) -> Result<(), MpcError> {
    let me = sess.party();
    let (next, prev) = (me.next(), me.prev());
    let ((mut u, mut w), (mut u_vp, mut claim_vp), (mut w_vn, mut claim_vn)) = (mine, as_vp, as_vn);
    // Padding: own = [rho_u mine, sigma mine, rho_w of prev's proof],
    // next = [rho_u of next's proof, sigma of next's proof, rho_w mine].
    let (pad_own, pad_next) = draw::<E, T>(sess, 3);
    u.push(pad_own[0]);
    w.push(pad_next[2]);
    u_vp.push(pad_next[0]);
    w_vn.push(pad_own[2]);
    for v in [&mut u, &mut w, &mut u_vp, &mut w_vn] {
        pad_pow2(v);
    }
    // The claim gains rho_u * rho_w: V_p's share is sigma, V_n's the rest.
    claim_vp = claim_vp + pad_next[1];
    let pad_share = pad_own[0] * pad_next[2] - pad_own[1];

    let mut checks_vp = Vec::new();
    let mut checks_vn = Vec::new();
    let mut first = true;
    while u.len() > 1 {
        let (m_own, m_next) = draw::<E, T>(sess, 4);
        // Prover: h shared as (mask, h - mask); V_n gets the second part.
        let h = round_poly(&u, &w);
        let mut msg: Vec<E> = (0..3).map(|k| h[k] - m_own[k]).collect();
        if first {
            msg.push(pad_share);
        }
        sess.send(next, &words_of(&msg)).await?;
        let got: Vec<E> = elems(&sess.recv::<u64>(prev, msg.len() * E::WORDS).await?);
        if first {
            claim_vn = claim_vn + got[3];
            first = false;
        }
        let hs_vn = [got[0], got[1], got[2]];
        let hs_vp = [m_next[0], m_next[1], m_next[2]];
        // h(0) + h(1) must equal the claim: the two shares of the
        // difference must cancel.
        checks_vn.push(ends(&hs_vn) - claim_vn);
        checks_vp.push(ends(&hs_vp) - claim_vp);
        // Challenges: for `prev` from our next stream (sent to it once its
        // h has arrived), for `next` from our own stream. After the last
        // round the prover has nothing more to send, so its challenge is
        // not sent (every message of the protocol matters).
        let r_vn = m_next[3];
        let r_vp = m_own[3];
        if u.len() > 2 {
            sess.send(prev, &words_of(&[r_vn])).await?;
            let r: Vec<E> = elems(&sess.recv::<u64>(next, E::WORDS).await?);
            u = fold(&u, r[0]);
            w = fold(&w, r[0]);
        } else {
            u.truncate(1);
        }
        u_vp = fold(&u_vp, r_vp);
        claim_vp = eval(&hs_vp, r_vp);
        w_vn = fold(&w_vn, r_vn);
        claim_vn = eval(&hs_vn, r_vn);
    }

    // Swap the last elements, claims and check shares with the other
    // verifier of each proof: for `next`'s proof that is `prev`, for
    // `prev`'s proof it is `next`.
    let rounds = checks_vp.len();
    let mut to_prev = vec![u_vp[0], claim_vp];
    to_prev.extend(&checks_vp);
    let mut to_next = vec![w_vn[0], claim_vn];
    to_next.extend(&checks_vn);
    sess.send(prev, &words_of(&to_prev)).await?;
    sess.send(next, &words_of(&to_next)).await?;
    let n_words = (rounds + 2) * E::WORDS;
    let from_next: Vec<E> = elems(&sess.recv::<u64>(next, n_words).await?);
    let from_prev: Vec<E> = elems(&sess.recv::<u64>(prev, n_words).await?);
    let ok = |u0: E, w0: E, claim: E, mine: &[E], theirs: &[E]| {
        u0 * w0 == claim && mine.iter().zip(theirs).all(|(&a, &b)| a + b == E::ZERO)
    };
    let prev_ok = ok(
        from_next[0],
        w_vn[0],
        from_next[1] + claim_vn,
        &checks_vn,
        &from_next[2..],
    );
    let next_ok = ok(
        u_vp[0],
        from_prev[0],
        claim_vp + from_prev[1],
        &checks_vp,
        &from_prev[2..],
    );
    match (prev_ok, next_ok) {
        (true, true) => Ok(()),
        (false, _) => Err(MpcError::Cheating {
            suspect: prev,
            detected_by: me,
            step,
        }),
        (true, false) => Err(MpcError::Cheating {
            suspect: next,
            detected_by: me,
            step,
        }),
    }
}

/// Seeds of the random combinations of three proofs: the prover's two
/// verifiers share the key the prover lacks. As V_p of `next` we hold it as
/// our own key, as V_n of `prev` as our next key; our own seed comes from
/// `next` (our V_n), after every message being proven was sent.
async fn seeds<T: Transport>(sess: &mut Session<T>) -> Result<[[u64; 2]; 3], MpcError> {
    let (seed_own, seed_next) = sess.rng_streams::<u64>(2);
    let me = sess.party();
    sess.send(me.prev(), &seed_next).await?;
    let my_seed = sess.recv::<u64>(me.next(), 2).await?;
    Ok([
        [my_seed[0], my_seed[1]],
        [seed_own[0], seed_own[1]],
        [seed_next[0], seed_next[1]],
    ])
}

/// `n` pseudo-random elements from a 128-bit seed.
fn expand<E: Elem>(seed: [u64; 2], n: usize) -> Vec<E> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed[0].to_le_bytes());
    key[8..].copy_from_slice(&seed[1].to_le_bytes());
    let key = PrfKey::from_bytes(key);
    let mut rng = CorrelatedRng::new(PartyId::P0, &key, &key);
    let (t, _) = rng.streams::<u64>(n * E::WORDS);
    elems(&t)
}

/// AND words per proof: the prover's vectors hold 128 field elements per
/// word (8 MiB each at this size), so a large log is proven in chunks of
/// this many words, each its own proof, to keep memory bounded.
const CHUNK_WORDS: usize = 1 << 13;

/// Proves this party's ANDs to its two peers and checks theirs. Every party
/// calls it at the same point of the protocol (the logs have the same
/// length on every party, so the chunks line up).
pub(crate) async fn verify<T: Transport>(
    sess: &mut Session<T>,
    log: &AndLog,
) -> Result<(), MpcError> {
    let mut start = 0;
    while start < log.len() {
        let end = (start + CHUNK_WORDS).min(log.len());
        verify_chunk(sess, log, start..end).await?;
        start = end;
    }
    Ok(())
}

async fn verify_chunk<T: Transport>(
    sess: &mut Session<T>,
    log: &AndLog,
    range: std::ops::Range<usize>,
) -> Result<(), MpcError> {
    let w_len = range.len();
    let (a_own, a_next) = (&log.a_own[range.clone()], &log.a_next[range.clone()]);
    let (b_own, b_next) = (&log.b_own[range.clone()], &log.b_next[range.clone()]);
    let [s_mine, s_vp, s_vn] = seeds(sess).await?;
    let theta_mine: Vec<Gf64> = expand(s_mine, w_len);
    let theta_vp: Vec<Gf64> = expand(s_vp, w_len); // proof of `next`
    let theta_vn: Vec<Gf64> = expand(s_vn, w_len); // proof of `prev`

    // Our proof: u = theta X^l a_o | theta X^l b_o, w = b_n | a_n.
    let mut u = Vec::with_capacity(128 * w_len + 1);
    spread(&theta_mine, a_own, &mut u);
    spread(&theta_mine, b_own, &mut u);
    let mut w = Vec::with_capacity(128 * w_len + 1);
    bits(b_next, &mut w);
    bits(a_next, &mut w);
    // As V_p of `next`: its own components are our next ones.
    let mut u_vp = Vec::with_capacity(128 * w_len + 1);
    spread(&theta_vp, a_next, &mut u_vp);
    spread(&theta_vp, b_next, &mut u_vp);
    let c_words = range
        .clone()
        .map(|m| log.received[m] ^ (log.a_next[m] & log.b_next[m]) ^ log.f_next[m]);
    let claim_vp = combine(&theta_vp, c_words);
    // As V_n of `prev`: its next components are our own ones.
    let mut w_vn = Vec::with_capacity(128 * w_len + 1);
    bits(b_own, &mut w_vn);
    bits(a_own, &mut w_vn);
    let claim_vn = combine(&theta_vn, log.f_own[range.clone()].iter().copied());
    prove_and_check(
        sess,
        (u, w),
        (u_vp, claim_vp),
        (w_vn, claim_vn),
        "AND gates (proof of the messages sent)",
    )
    .await
}

/// The dot products of one embedding match, as each party holds them.
pub(crate) struct DotBatch<'a> {
    /// Gallery rows `[x_own | x_next]`, `2 * dim` elements each.
    pub(crate) rows: &'a [u32],
    pub(crate) dim: usize,
    /// Query shares `(own, next)`, `dim` elements each.
    pub(crate) queries: Vec<(&'a [u32], &'a [u32])>,
    /// The reshared scores (query-major): what its next party sent this
    /// party, and the two streams that masked this party's own.
    pub(crate) received: &'a [u32],
    pub(crate) f_own: &'a [u32],
    pub(crate) f_next: &'a [u32],
}

/// `sum_m theta_m * rows[m][range]` (a vector over the Galois ring).
fn combine_rows(
    theta: &[Gr],
    rows: &[u32],
    width: usize,
    range: std::ops::Range<usize>,
) -> Vec<Gr> {
    let mut out = vec![Gr::ZERO; range.len()];
    for (t, row) in theta.iter().zip(rows.chunks_exact(width)) {
        for (o, &x) in out.iter_mut().zip(&row[range.clone()]) {
            o.add_scaled(t, x);
        }
    }
    out
}

/// `sum_{q,m} phi_q theta_m c[q * M + m]`.
fn combine_scores(phi: &[Gr], theta: &[Gr], c: impl Fn(usize) -> u32) -> Gr {
    let m_len = theta.len();
    let mut total = Gr::ZERO;
    for (q, p) in phi.iter().enumerate() {
        let mut inner = Gr::ZERO;
        for (m, t) in theta.iter().enumerate() {
            inner.add_scaled(t, c(q * m_len + m));
        }
        total = total + *p * inner;
    }
    total
}

/// Proves the reshared dot products of an embedding match and checks the
/// peers' proofs. Party P's score share is
/// `v = <x_o, y_o + y_n> + <x_n, y_o> + F_o - F_n`; the cross terms
/// `<x_o, y_n> + <x_n, y_o>` pair what P's previous party holds (`x_o`,
/// `y_o`) with what its next party holds (`x_n`, `y_n`). Combined with
/// coefficients `phi_q * theta_m` (rank one, so the gallery is read once per
/// role), the statement is an inner product of length `2 * dim`.
pub(crate) async fn verify_dots<T: Transport>(
    sess: &mut Session<T>,
    batch: &DotBatch<'_>,
) -> Result<(), MpcError> {
    let dim = batch.dim;
    let width = 2 * dim;
    let m_len = batch.rows.len() / width.max(1);
    let q_len = batch.queries.len();
    if m_len == 0 || q_len == 0 || batch.received.len() != m_len * q_len {
        return Err(MpcError::Input(
            "dot-product proof of an empty or misshapen batch",
        ));
    }
    let [s_mine, s_vp, s_vn] = seeds(sess).await?;
    let coefficients = |seed| {
        let mut all: Vec<Gr> = expand(seed, m_len + q_len);
        let phi = all.split_off(m_len);
        (all, phi)
    };
    let own = 0..dim;
    let nxt = dim..width;
    let y_own: Vec<&[u32]> = batch.queries.iter().map(|q| q.0).collect();
    let y_next: Vec<&[u32]> = batch.queries.iter().map(|q| q.1).collect();
    let comb_q = |phi: &[Gr], ys: &[&[u32]]| -> Vec<Gr> {
        let mut out = vec![Gr::ZERO; dim];
        for (t, y) in phi.iter().zip(ys) {
            for (o, &x) in out.iter_mut().zip(y.iter()) {
                o.add_scaled(t, x);
            }
        }
        out
    };

    // Our proof: u = X_o | Y_o, w = Y_n | X_n.
    let (theta, phi) = coefficients(s_mine);
    let mut u = combine_rows(&theta, batch.rows, width, own.clone());
    u.extend(comb_q(&phi, &y_own));
    let mut w = comb_q(&phi, &y_next);
    w.extend(combine_rows(&theta, batch.rows, width, nxt.clone()));
    // As V_p of `next`: its own components are our next ones.
    let (theta, phi) = coefficients(s_vp);
    let x_o = combine_rows(&theta, batch.rows, width, nxt);
    let y_o = comb_q(&phi, &y_next);
    let direct = x_o.iter().zip(&y_o).fold(Gr::ZERO, |s, (&a, &b)| s + a * b);
    let claim_vp = combine_scores(&phi, &theta, |k| {
        batch.received[k].wrapping_sub(batch.f_next[k])
    }) - direct;
    let mut u_vp = x_o;
    u_vp.extend(y_o);
    // As V_n of `prev`: its next components are our own ones.
    let (theta, phi) = coefficients(s_vn);
    let mut w_vn = comb_q(&phi, &y_own);
    w_vn.extend(combine_rows(&theta, batch.rows, width, own));
    let claim_vn = combine_scores(&phi, &theta, |k| batch.f_own[k]);
    prove_and_check(
        sess,
        (u, w),
        (u_vp, claim_vp),
        (w_vn, claim_vn),
        "dot products (proof of the reshared scores)",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gf64;

    #[test]
    fn the_round_polynomial_interpolates_both_halves() {
        let u: Vec<Gf64> = (1..=8u64).map(|i| Gf64(i * 0x9e37_79b9)).collect();
        let w: Vec<Gf64> = (1..=8u64).map(|i| Gf64(i ^ 0xabcdef)).collect();
        let c = round_poly(&u, &w);
        let (u0, u1) = u.split_at(4);
        let (w0, w1) = w.split_at(4);
        assert_eq!(eval(&c, Gf64::ZERO), gf64::inner(u0, w0));
        assert_eq!(eval(&c, Gf64::ONE), gf64::inner(u1, w1));
        let r = Gf64(0x1234_5678_9abc_def1);
        assert_eq!(eval(&c, r), gf64::inner(&fold(&u, r), &fold(&w, r)));
        // The sum of the halves is the whole inner product.
        assert_eq!(ends(&c), gf64::inner(&u, &w));
    }

    #[test]
    fn spreading_words_turns_ands_into_an_inner_product() {
        let theta: Vec<Gf64> = expand([7, 9], 3);
        let a = [0xdead_beef_u64, 0x0123_4567_89ab_cdef, u64::MAX];
        let b = [
            0xffff_0000_ffff_0000_u64,
            0x0f0f_0f0f_0f0f_0f0f,
            0x8000_0000_0000_0001,
        ];
        let mut u = Vec::new();
        spread(&theta, &a, &mut u);
        let mut w = Vec::new();
        bits(&b, &mut w);
        let ands = a.iter().zip(&b).map(|(&x, &y)| x & y);
        assert_eq!(gf64::inner(&u, &w), combine(&theta, ands));
    }
}
