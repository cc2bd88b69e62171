//! Generic protocol steps on shares: AND of XOR-shared words, the
//! arithmetic-to-boolean sign-bit extraction, OR-reduction and opening.

use sanctuary_share::{PartyId, Ring, ShareVec};

use crate::bits::{self, BitShares};
use crate::{MpcError, Session, Transport};

/// Elementwise AND of XOR-shared words, one round:
/// `z_i = a_i&b_i ^ a_i&b_{i+1} ^ a_{i+1}&b_i`, re-randomised and reshared.
pub(crate) async fn and_words<R: Ring, T: Transport>(
    sess: &mut Session<T>,
    a: &ShareVec<R>,
    b: &ShareVec<R>,
) -> Result<ShareVec<R>, MpcError> {
    if a.len() != b.len() {
        return Err(MpcError::Input("AND operands differ in length"));
    }
    sess.and_reshare((a.own(), a.next()), (b.own(), b.next()))
        .await
}

fn share<R: Ring>(party: PartyId, own: Vec<R>, next: Vec<R>) -> Result<ShareVec<R>, MpcError> {
    Ok(ShareVec::from_parts(party, own, next)?)
}

/// The sign bit (most significant bit) of every arithmetically shared value,
/// as packed XOR shares.
///
/// The three additive components are re-read as three XOR-shared k-bit
/// numbers `X0, X1, X2` (component `j` is known to its two holders, the
/// others are zero); a carry-save layer reduces them to two (one AND round)
/// and a Kogge-Stone parallel-prefix adder computes the carry into the top
/// bit (`1 + ceil(log2(k-1))` more rounds). The round count does not depend
/// on the number of values.
pub async fn msb_bits<R: Ring, T: Transport>(
    sess: &mut Session<T>,
    x: &ShareVec<R>,
) -> Result<BitShares, MpcError> {
    let party = sess.party();
    if x.party() != party {
        return Err(MpcError::Input("share belongs to another party"));
    }
    let n = x.len();
    let (xo, xn) = (x.own(), x.next());

    // Carry-save layer: s = X0 ^ X1 ^ X2 is x itself read as XOR shares, and
    // carry = maj(X0, X1, X2) = ((X0 ^ X2) & (X1 ^ X2)) ^ X2. This party's
    // shares of u = X0 ^ X2, w = X1 ^ X2 and X2 follow from which components
    // it holds (P_i holds x_i as own and x_{i+1} as next). It is written as
    // one plain AND of u and w (zero parts included) so that malicious
    // security proves it like every other AND.
    let zero = vec![R::ZERO; n];
    let z = zero.as_slice();
    let (u, w) = match party {
        // u = (x0, 0), w = (0, x1).
        PartyId::P0 => ((xo, z), (z, xn)),
        // u = (0, x2), w = (x1, x2).
        PartyId::P1 => ((z, xn), (xo, xn)),
        // u = (x2, x0), w = (x2, 0).
        PartyId::P2 => ((xo, xn), (xo, z)),
    };
    let maj = sess.and_reshare(u, w).await?;
    drop(zero);
    let (mut c_own, mut c_next) = maj.into_parts();
    // X2's shares: P1 holds it as next, P2 as own.
    match party {
        PartyId::P0 => {}
        PartyId::P1 => c_next.iter_mut().zip(xn).for_each(|(c, &v)| *c = *c ^ v),
        PartyId::P2 => c_own.iter_mut().zip(xo).for_each(|(c, &v)| *c = *c ^ v),
    }
    c_own.iter_mut().for_each(|c| *c = *c << 1);
    c_next.iter_mut().for_each(|c| *c = *c << 1);

    // Kogge-Stone on s + c: propagate P = s ^ c, generate G = s & c.
    let p0_own: Vec<R> = xo.iter().zip(&c_own).map(|(&a, &b)| a ^ b).collect();
    let p0_next: Vec<R> = xn.iter().zip(&c_next).map(|(&a, &b)| a ^ b).collect();
    let g = sess.and_reshare((xo, xn), (&c_own, &c_next)).await?;
    drop((c_own, c_next));
    let (mut g_own, mut g_next) = g.into_parts();
    let mut p_own = p0_own.clone();
    let mut p_next = p0_next.clone();
    let top = R::BITS - 1;
    let mut span = 1u32;
    while span < top {
        let sh = span;
        span *= 2;
        let gs_own: Vec<R> = g_own.iter().map(|&v| v << sh).collect();
        let gs_next: Vec<R> = g_next.iter().map(|&v| v << sh).collect();
        let last = span >= top;
        let (prod, mut prod_own, mut prod_next);
        if last {
            prod = sess
                .and_reshare((&p_own, &p_next), (&gs_own, &gs_next))
                .await?;
        } else {
            // P' = P & (P << sh) in the same round as G' = G ^ (P & (G << sh)).
            let twice = |v: &[R]| [v, v].concat();
            let with = |g: &[R], p: &[R]| -> Vec<R> {
                g.iter()
                    .copied()
                    .chain(p.iter().map(|&v| v << sh))
                    .collect()
            };
            prod = sess
                .and_reshare(
                    (&twice(&p_own), &twice(&p_next)),
                    (&with(&gs_own, &p_own), &with(&gs_next, &p_next)),
                )
                .await?;
        }
        (prod_own, prod_next) = prod.into_parts();
        if !last {
            p_own = prod_own.split_off(n);
            p_next = prod_next.split_off(n);
        }
        g_own
            .iter_mut()
            .zip(&prod_own)
            .for_each(|(g, &v)| *g = *g ^ v);
        g_next
            .iter_mut()
            .zip(&prod_next)
            .for_each(|(g, &v)| *g = *g ^ v);
    }
    // Top sum bit = (s ^ c)_top ^ carry into top = p0_top ^ g_{top-1}.
    let sign = |p: &[R], g: &[R]| -> Vec<u64> {
        bits::pack(
            p.iter()
                .zip(g)
                .map(|(&pv, &gv)| ((pv ^ (gv << 1)) >> top) & R::ONE == R::ONE),
        )
    };
    let own = sign(&p0_own, &g_own);
    let next = sign(&p0_next, &g_next);
    BitShares::from_words(share(party, own, next)?, n)
}

/// Negates shared bits (local: component 0 is flipped by its two holders).
pub fn not_bits(bits: &BitShares) -> Result<BitShares, MpcError> {
    let party = bits.party();
    let len = bits.len;
    let mask = |k: usize| -> u64 {
        let remaining = len - 64 * k;
        if remaining >= 64 {
            u64::MAX
        } else {
            (1u64 << remaining) - 1
        }
    };
    let flip = |words: &[u64], holds_x0: bool| -> Vec<u64> {
        words
            .iter()
            .enumerate()
            .map(|(k, &w)| if holds_x0 { w ^ mask(k) } else { w })
            .collect()
    };
    let own = flip(bits.words.own(), party == PartyId::P0);
    let next = flip(bits.words.next(), party == PartyId::P2);
    BitShares::from_words(share(party, own, next)?, len)
}

/// Elementwise AND of shared bits (one round).
pub async fn and_bits<T: Transport>(
    sess: &mut Session<T>,
    a: &BitShares,
    b: &BitShares,
) -> Result<BitShares, MpcError> {
    if a.len != b.len {
        return Err(MpcError::Input("bit vectors differ in length"));
    }
    BitShares::from_words(and_words(sess, &a.words, &b.words).await?, a.len)
}

/// NOT of whole words (all 64 bits): component 0 is flipped by its holders.
fn not_words(party: PartyId, own: &mut [u64], next: &mut [u64]) {
    match party {
        PartyId::P0 => own.iter_mut().for_each(|w| *w = !*w),
        PartyId::P2 => next.iter_mut().for_each(|w| *w = !*w),
        PartyId::P1 => {}
    }
}

/// `l | r` on XOR-shared words, one round: `!(!l & !r)`. Zero padding bits
/// stay zero.
async fn or_words<T: Transport>(
    sess: &mut Session<T>,
    mut lo: Vec<u64>,
    mut ln: Vec<u64>,
    mut ro: Vec<u64>,
    mut rn: Vec<u64>,
) -> Result<(Vec<u64>, Vec<u64>), MpcError> {
    let party = sess.party();
    not_words(party, &mut lo, &mut ln);
    not_words(party, &mut ro, &mut rn);
    let (mut o, mut n) = sess.and_reshare((&lo, &ln), (&ro, &rn)).await?.into_parts();
    not_words(party, &mut o, &mut n);
    Ok((o, n))
}

/// ORs each group of `group` consecutive bits into one bit, in
/// `ceil(log2(group))` rounds whatever the number of groups: the whole
/// vector when `group == bits.len()` (1:N dedupe opens a single bit), each
/// entry's rotations, or each query's gallery.
///
/// Each group is laid out in whole words (zero-padded; zero is neutral for
/// OR), halved word-wise until one word is left, then folded within the
/// word by shifts.
pub async fn or_reduce_groups<T: Transport>(
    sess: &mut Session<T>,
    bits: &BitShares,
    group: usize,
) -> Result<BitShares, MpcError> {
    if group == 0 || !bits.len.is_multiple_of(group) {
        return Err(MpcError::Input(
            "bit count is not a multiple of the group size",
        ));
    }
    let groups = bits.len / group;
    let party = bits.party();
    if group == 1 {
        return Ok(bits.clone());
    }
    let mut gw = group.div_ceil(64);
    let layout = |words: &[u64]| -> Vec<u64> {
        if group.is_multiple_of(64) {
            words.to_vec()
        } else {
            // Re-pack so that each group starts on a word boundary.
            let mut out = vec![0u64; groups * gw];
            for j in 0..groups {
                let packed = bits::gather(words, j * group..(j + 1) * group);
                out[j * gw..j * gw + packed.len()].copy_from_slice(&packed);
            }
            out
        }
    };
    let mut own = layout(bits.words.own());
    let mut next = layout(bits.words.next());
    // Word-wise halving within each group.
    while gw > 1 {
        let h = gw / 2;
        let odd = gw % 2 == 1;
        let pick = |v: &[u64], from: usize| -> Vec<u64> {
            (0..groups)
                .flat_map(|j| v[j * gw + from..j * gw + from + h].iter().copied())
                .collect()
        };
        let (oo, on) = or_words(
            sess,
            pick(&own, 0),
            pick(&next, 0),
            pick(&own, h),
            pick(&next, h),
        )
        .await?;
        let new_gw = h + usize::from(odd);
        let rebuild = |or: &[u64], cur: &[u64]| -> Vec<u64> {
            (0..groups)
                .flat_map(|j| {
                    let mut g = or[j * h..(j + 1) * h].to_vec();
                    if odd {
                        g.push(cur[j * gw + 2 * h]);
                    }
                    g
                })
                .collect()
        };
        own = rebuild(&oo, &own);
        next = rebuild(&on, &next);
        gw = new_gw;
    }
    // Fold within the word: w | (w >> k) for k = 32, 16, ..., 1, only as far
    // as the group's bits reach.
    let width = group.min(64);
    let mut k = width.next_power_of_two() / 2;
    while k >= 1 {
        let sh = k as u32;
        let shifted = |v: &[u64]| -> Vec<u64> { v.iter().map(|&w| w >> sh).collect() };
        let (ro, rn) = (shifted(&own), shifted(&next));
        let (o, n) = or_words(sess, own, next, ro, rn).await?;
        own = o;
        next = n;
        k /= 2;
    }
    let own = bits::pack(own.iter().map(|&w| w & 1 == 1));
    let next = bits::pack(next.iter().map(|&w| w & 1 == 1));
    BitShares::from_words(share(party, own, next)?, groups)
}

/// Opens shared bits to all three parties, checking both copies of each
/// component (a lying party is detected).
pub async fn open_bits<T: Transport>(
    sess: &mut Session<T>,
    bits: &BitShares,
) -> Result<Vec<bool>, MpcError> {
    let missing = sess.open_raw(&bits.words).await?;
    let words: Vec<u64> = bits
        .words
        .own()
        .iter()
        .zip(bits.words.next())
        .zip(&missing)
        .map(|((&a, &b), &c)| a ^ b ^ c)
        .collect();
    Ok(bits::unpack(&words, bits.len))
}

#[cfg(test)]
mod tests;
