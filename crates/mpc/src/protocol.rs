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
    let z: Vec<R> = a
        .own()
        .iter()
        .zip(a.next())
        .zip(b.own().iter().zip(b.next()))
        .map(|((&a0, &a1), (&b0, &b1))| (a0 & b0) ^ (a0 & b1) ^ (a1 & b0))
        .collect();
    sess.reshare_bool(z).await
}

fn share<R: Ring>(party: PartyId, own: Vec<R>, next: Vec<R>) -> Result<ShareVec<R>, MpcError> {
    Ok(ShareVec::from_parts(party, own, next)?)
}

fn map2<R: Ring>(
    a: &ShareVec<R>,
    b: &ShareVec<R>,
    f: impl Fn(R, R) -> R,
) -> Result<ShareVec<R>, MpcError> {
    let own = a
        .own()
        .iter()
        .zip(b.own())
        .map(|(&x, &y)| f(x, y))
        .collect();
    let next = a
        .next()
        .iter()
        .zip(b.next())
        .map(|(&x, &y)| f(x, y))
        .collect();
    share(a.party(), own, next)
}

fn map1<R: Ring>(a: &ShareVec<R>, f: impl Fn(R) -> R) -> Result<ShareVec<R>, MpcError> {
    let own = a.own().iter().map(|&x| f(x)).collect();
    let next = a.next().iter().map(|&x| f(x)).collect();
    share(a.party(), own, next)
}

fn concat<R: Ring>(a: &ShareVec<R>, b: &ShareVec<R>) -> Result<ShareVec<R>, MpcError> {
    share(
        a.party(),
        [a.own(), b.own()].concat(),
        [a.next(), b.next()].concat(),
    )
}

fn split<R: Ring>(x: ShareVec<R>, at: usize) -> Result<(ShareVec<R>, ShareVec<R>), MpcError> {
    let party = x.party();
    let (mut own, mut next) = x.into_parts();
    let own2 = own.split_off(at);
    let next2 = next.split_off(at);
    Ok((share(party, own, next)?, share(party, own2, next2)?))
}

/// The sign bit (most significant bit) of every arithmetically shared value,
/// as packed XOR shares.
///
/// The three additive components are re-read as three XOR-shared k-bit
/// numbers; a carry-save layer reduces them to two (one AND round) and a
/// Kogge-Stone parallel-prefix adder computes the carry into the top bit
/// (`1 + ceil(log2(k-1))` more rounds). The round count does not depend on the
/// number of values.
pub async fn msb_bits<R: Ring, T: Transport>(
    sess: &mut Session<T>,
    x: &ShareVec<R>,
) -> Result<BitShares, MpcError> {
    let party = sess.party();
    if x.party() != party {
        return Err(MpcError::Input("share belongs to another party"));
    }
    let n = x.len();
    let zeros = vec![R::ZERO; n];
    // Boolean sharing of component X_j: only component j is non-zero, held by
    // P_j (own) and P_{j-1} (next).
    let component = |j: PartyId| -> Result<ShareVec<R>, MpcError> {
        let own = if j == party {
            x.own().to_vec()
        } else {
            zeros.clone()
        };
        let next = if j == party.next() {
            x.next().to_vec()
        } else {
            zeros.clone()
        };
        share(party, own, next)
    };
    let [x0, x1, x2] = [
        component(PartyId::P0)?,
        component(PartyId::P1)?,
        component(PartyId::P2)?,
    ];

    // Carry-save: s = x0 ^ x1 ^ x2 (which is x read as XOR shares) and
    // carry = maj(x0, x1, x2) = ((x0 ^ x2) & (x1 ^ x2)) ^ x2.
    let s = share(party, x.own().to_vec(), x.next().to_vec())?;
    let u = map2(&x0, &x2, |a, b| a ^ b)?;
    let w = map2(&x1, &x2, |a, b| a ^ b)?;
    let maj = map2(&and_words(sess, &u, &w).await?, &x2, |a, b| a ^ b)?;
    let c = map1(&maj, |v| v << 1)?;

    // Kogge-Stone on s + c: generate G and propagate P, then prefix steps.
    let p0 = map2(&s, &c, |a, b| a ^ b)?;
    let mut p = p0.clone();
    let mut g = and_words(sess, &s, &c).await?;
    let top = R::BITS - 1;
    let mut span = 1u32;
    while span < top {
        let shift = span;
        span *= 2;
        let g_shift = map1(&g, |v| v << shift)?;
        if span < top {
            // G' = G ^ (P & (G << s)) and P' = P & (P << s) in one round.
            let p_shift = map1(&p, |v| v << shift)?;
            let prod = and_words(sess, &concat(&p, &p)?, &concat(&g_shift, &p_shift)?).await?;
            let (pg, pp) = split(prod, n)?;
            g = map2(&g, &pg, |a, b| a ^ b)?;
            p = pp;
        } else {
            // Last step: only the generate is needed.
            let pg = and_words(sess, &p, &g_shift).await?;
            g = map2(&g, &pg, |a, b| a ^ b)?;
        }
    }
    // Top sum bit = (s ^ c)_top ^ carry into top = p0_top ^ g_{top-1}.
    let own = bits::pack(
        p0.own()
            .iter()
            .zip(g.own())
            .map(|(&pv, &gv)| ((pv ^ (gv << 1)) >> top) & R::ONE == R::ONE),
    );
    let next = bits::pack(
        p0.next()
            .iter()
            .zip(g.next())
            .map(|(&pv, &gv)| ((pv ^ (gv << 1)) >> top) & R::ONE == R::ONE),
    );
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

/// ORs each group of `group` consecutive bits into one bit, in
/// `ceil(log2(group))` rounds whatever the number of groups: the whole
/// vector when `group == bits.len()` (1:N dedupe opens a single bit), each
/// entry's rotations, or each query's gallery.
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
    let mut cur = bits.clone();
    let mut g = group;
    while g > 1 {
        let h = g / 2;
        let odd = g % 2 == 1;
        let left = |words: &[u64]| {
            bits::gather(
                words,
                (0..groups).flat_map(|j| (0..h).map(move |r| j * g + r)),
            )
        };
        let right = |words: &[u64]| {
            bits::gather(
                words,
                (0..groups).flat_map(|j| (0..h).map(move |r| j * g + h + r)),
            )
        };
        let l = BitShares::from_words(
            share(party, left(cur.words.own()), left(cur.words.next()))?,
            groups * h,
        )?;
        let r = BitShares::from_words(
            share(party, right(cur.words.own()), right(cur.words.next()))?,
            groups * h,
        )?;
        // a | b = !(!a & !b)
        let or = not_bits(&and_bits(sess, &not_bits(&l)?, &not_bits(&r)?).await?)?;
        let new_g = h + usize::from(odd);
        let rebuild = |or_words: &[u64], cur_words: &[u64]| -> Vec<u64> {
            bits::pack((0..groups).flat_map(|j| {
                (0..new_g).map(move |r| {
                    if r < h {
                        bits::get(or_words, j * h + r)
                    } else {
                        bits::get(cur_words, j * g + 2 * h)
                    }
                })
            }))
        };
        let own = rebuild(or.words.own(), cur.words.own());
        let next = rebuild(or.words.next(), cur.words.next());
        cur = BitShares::from_words(share(party, own, next)?, groups * new_g)?;
        g = new_g;
    }
    Ok(cur)
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
