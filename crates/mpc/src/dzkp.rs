//! Malicious security for the boolean layer: every party proves, to the two
//! others, that each AND message it sent was computed honestly, before
//! anything is opened. A distributed zero-knowledge proof in the style of
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
//! A deviating prover is caught except with probability about 2^-58 for the
//! batch sizes used here. A deviating *verifier* can make an honest prover's
//! proof fail (an abort, never a wrong output); the error names the prover
//! whose proof failed, so blame is a suspicion, not a proof.
//!
//! Cost: no extra rounds in the computation itself; `2 log2(64 * 2W)`
//! message rounds of a few words at the end, for `W` AND words.

use sanctuary_share::{CorrelatedRng, PartyId, PrfKey, Ring};

use crate::gf64::Gf64;
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
    /// What this party sent (`v`, its own component of the product).
    sent: Vec<u64>,
    /// What its next party sent it (that party's `v`).
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
            &mut self.sent,
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
    #[allow(clippy::too_many_arguments)] // the parts of one relation, named
    pub(crate) fn record<R: Ring>(
        &mut self,
        a: (&[R], &[R]),
        b: (&[R], &[R]),
        sent: &[R],
        received: &[R],
        f_own: &[R],
        f_next: &[R],
    ) {
        self.a_own.extend(words(a.0));
        self.a_next.extend(words(a.1));
        self.b_own.extend(words(b.0));
        self.b_next.extend(words(b.1));
        self.sent.extend(words(sent));
        self.received.extend(words(received));
        self.f_own.extend(words(f_own));
        self.f_next.extend(words(f_next));
    }

    pub(crate) fn len(&self) -> usize {
        self.sent.len()
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

/// The combination coefficients, expanded from a 128-bit seed.
fn thetas(seed: [u64; 2], n: usize) -> Vec<Gf64> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&seed[0].to_le_bytes());
    key[8..].copy_from_slice(&seed[1].to_le_bytes());
    let key = PrfKey::from_bytes(key);
    let mut rng = CorrelatedRng::new(PartyId::P0, &key, &key);
    let (t, _) = rng.streams::<u64>(n);
    t.into_iter().map(Gf64).collect()
}

/// Pads to a power of two with zeros (neutral in an inner product).
fn pad_pow2(v: &mut Vec<Gf64>) {
    let n = v.len().next_power_of_two();
    v.resize(n, Gf64::ZERO);
}

/// `f_0 + r (f_0 + f_1)` for the two halves of `v`.
fn fold(v: &[Gf64], r: Gf64) -> Vec<Gf64> {
    let h = v.len() / 2;
    v[..h]
        .iter()
        .zip(&v[h..])
        .map(|(&a, &b)| a + r * (a + b))
        .collect()
}

/// Coefficients of `h(X) = <f(X), g(X)>` for the halves of `u` and `w`.
fn round_poly(u: &[Gf64], w: &[Gf64]) -> [Gf64; 3] {
    let h = u.len() / 2;
    let (u0, u1) = u.split_at(h);
    let (w0, w1) = w.split_at(h);
    let mut c = [Gf64::ZERO; 3];
    for k in 0..h {
        c[0] += u0[k] * w0[k];
        c[1] += u0[k] * w1[k] + u1[k] * w0[k];
        c[2] += (u0[k] + u1[k]) * (w0[k] + w1[k]);
    }
    c
}

fn eval(c: &[Gf64; 3], r: Gf64) -> Gf64 {
    c[0] + r * (c[1] + r * c[2])
}

fn to_u64(v: &[Gf64]) -> Vec<u64> {
    v.iter().map(|g| g.0).collect()
}

/// Proves this party's ANDs to its two peers and checks theirs; clears the
/// log. Every party calls it at the same point of the protocol.
pub(crate) async fn verify<T: Transport>(
    sess: &mut Session<T>,
    log: &AndLog,
) -> Result<(), MpcError> {
    let me = sess.party();
    let (next, prev) = (me.next(), me.prev());
    let w_len = log.len();
    if w_len == 0 {
        return Ok(());
    }

    // Seeds of the combination: the prover's two verifiers share the key the
    // prover lacks. As V_p of `next` we hold it as our own key, as V_n of
    // `prev` as our next key; our own seed comes from `next` (our V_n).
    let (seed_own, seed_next) = sess.rng_streams::<u64>(2);
    sess.send(prev, &seed_next).await?;
    let my_seed = sess.recv::<u64>(next, 2).await?;
    let theta_mine = thetas([my_seed[0], my_seed[1]], w_len);
    let theta_vp = thetas([seed_own[0], seed_own[1]], w_len); // proof of `next`
    let theta_vn = thetas([seed_next[0], seed_next[1]], w_len); // proof of `prev`

    // Padding: own = [rho_u mine, sigma mine, rho_w of prev's proof],
    // next = [rho_u of next's proof, sigma of next's proof, rho_w mine].
    let (pad_own, pad_next) = sess.rng_streams::<u64>(3);

    // Our proof: u = theta X^l a_o | theta X^l b_o | rho_u, w = b_n | a_n | rho_w.
    let mut u = Vec::with_capacity(128 * w_len + 1);
    spread(&theta_mine, &log.a_own, &mut u);
    spread(&theta_mine, &log.b_own, &mut u);
    u.push(Gf64(pad_own[0]));
    let mut w = Vec::with_capacity(128 * w_len + 1);
    bits(&log.b_next, &mut w);
    bits(&log.a_next, &mut w);
    w.push(Gf64(pad_next[2]));
    pad_pow2(&mut u);
    pad_pow2(&mut w);
    // V_n's share of rho_u * rho_w (V_p's is sigma).
    let pad_share = Gf64(pad_own[0]) * Gf64(pad_next[2]) + Gf64(pad_own[1]);

    // As V_p of `next`: its own components are our next ones.
    let mut u_vp = Vec::with_capacity(128 * w_len + 1);
    spread(&theta_vp, &log.a_next, &mut u_vp);
    spread(&theta_vp, &log.b_next, &mut u_vp);
    u_vp.push(Gf64(pad_next[0]));
    pad_pow2(&mut u_vp);
    let c_words =
        (0..w_len).map(|m| log.received[m] ^ (log.a_next[m] & log.b_next[m]) ^ log.f_next[m]);
    let mut claim_vp = combine(&theta_vp, c_words) + Gf64(pad_next[1]);
    // As V_n of `prev`: its next components are our own ones.
    let mut w_vn = Vec::with_capacity(128 * w_len + 1);
    bits(&log.b_own, &mut w_vn);
    bits(&log.a_own, &mut w_vn);
    w_vn.push(Gf64(pad_own[2]));
    pad_pow2(&mut w_vn);
    let mut claim_vn = combine(&theta_vn, log.f_own.iter().copied());

    let mut checks_vp = Vec::new();
    let mut checks_vn = Vec::new();
    let mut first = true;
    while u.len() > 1 {
        let (m_own, m_next) = sess.rng_streams::<u64>(4);
        // Prover: h shared as (mask, h + mask); V_n gets the second part.
        let h = round_poly(&u, &w);
        let mut msg: Vec<u64> = (0..3).map(|k| h[k].0 ^ m_own[k]).collect();
        if first {
            msg.push(pad_share.0);
        }
        sess.send(next, &msg).await?;
        // V_n of `prev`: its share of prev's h; V_p of `next`: the mask.
        let got = sess.recv::<u64>(prev, msg.len()).await?;
        if first {
            claim_vn += Gf64(got[3]);
            first = false;
        }
        let hs_vn = [Gf64(got[0]), Gf64(got[1]), Gf64(got[2])];
        let hs_vp = [Gf64(m_next[0]), Gf64(m_next[1]), Gf64(m_next[2])];
        // h(0) + h(1) = c1 + c2 must equal the claim.
        checks_vn.push(hs_vn[1] + hs_vn[2] + claim_vn);
        checks_vp.push(hs_vp[1] + hs_vp[2] + claim_vp);
        // Challenges: for `prev` from our next stream (sent to it once its
        // h has arrived), for `next` from our own stream.
        // After the last round the prover has nothing more to send, so its
        // challenge is not sent (every message the protocol sends matters).
        let r_vn = Gf64(m_next[3]);
        let r_vp = Gf64(m_own[3]);
        if u.len() > 2 {
            sess.send(prev, &[r_vn.0]).await?;
            let r = Gf64(sess.recv::<u64>(next, 1).await?[0]);
            u = fold(&u, r);
            w = fold(&w, r);
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
    let mut to_prev = vec![u_vp[0].0, claim_vp.0];
    to_prev.extend(to_u64(&checks_vp));
    let mut to_next = vec![w_vn[0].0, claim_vn.0];
    to_next.extend(to_u64(&checks_vn));
    sess.send(prev, &to_prev).await?;
    sess.send(next, &to_next).await?;
    // From `next` (V_p of `prev`'s proof) and from `prev` (V_n of `next`'s).
    let from_next = sess.recv::<u64>(next, rounds + 2).await?;
    let from_prev = sess.recv::<u64>(prev, rounds + 2).await?;
    let ok = |u0: Gf64, w0: Gf64, claims: Gf64, mine: &[Gf64], theirs: &[u64]| {
        u0 * w0 == claims
            && mine
                .iter()
                .zip(theirs)
                .all(|(&a, &b)| a + Gf64(b) == Gf64::ZERO)
    };
    let prev_ok = ok(
        Gf64(from_next[0]),
        w_vn[0],
        Gf64(from_next[1]) + claim_vn,
        &checks_vn,
        &from_next[2..],
    );
    let next_ok = ok(
        u_vp[0],
        Gf64(from_prev[0]),
        claim_vp + Gf64(from_prev[1]),
        &checks_vp,
        &from_prev[2..],
    );
    match (prev_ok, next_ok) {
        (true, true) => Ok(()),
        (false, _) => Err(MpcError::Cheating {
            suspect: prev,
            detected_by: me,
            step: "AND gates (proof of the messages sent)",
        }),
        (true, false) => Err(MpcError::Cheating {
            suspect: next,
            detected_by: me,
            step: "AND gates (proof of the messages sent)",
        }),
    }
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
        assert_eq!(c[1] + c[2], gf64::inner(&u, &w));
    }

    #[test]
    fn spreading_words_turns_ands_into_an_inner_product() {
        let theta = thetas([7, 9], 3);
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
