//! Matching operations on secret-shared galleries: 1:1 verify (a one-entry
//! range), 1:N dedupe, and their batched forms (many queries at once).
//!
//! Only decision bits leave these functions, still secret-shared; the caller
//! opens them to whoever is entitled (the enrollment site learns "already
//! enrolled", never which entry, unless [`Scope::PerEntry`] was allowed).

use std::fmt;
use std::ops::Range;

use sanctuary_share::{PartyId, Ring, ShareVec};
use sanctuary_template::{IrisParams, THRESHOLD_DENOMINATOR};
use zeroize::Zeroize;

use crate::bits::BitShares;
use crate::dzkp::{DotBatch, verify_dots};
use crate::protocol::{and_bits, msb_bits, not_bits, or_reduce_groups};
use crate::{Kernel, MpcError, Security, Session, Transport};

/// What a matching operation reveals once its bits are opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One bit per query: does any entry in the range match?
    Any,
    /// One bit per (query, entry): which entries match. Only for callers the
    /// policy entitles to it.
    PerEntry,
}

/// Adds a public constant to a shared value: component 0 changes, held by
/// P0 (own) and P2 (next).
fn add_public<R: Ring>(x: &mut ShareVec<R>, range: Range<usize>, c: R) {
    let party = x.party();
    let (own, next) = x.parts_mut();
    let target = match party {
        PartyId::P0 => Some(own),
        PartyId::P2 => Some(next),
        PartyId::P1 => None,
    };
    if let Some(v) = target {
        for e in &mut v[range] {
            *e = e.add(c);
        }
    }
}

/// Fixed-width rows of share elements, wiped when dropped and when a row is
/// removed: the storage both gallery kinds share.
struct Rows<R: Ring> {
    width: usize,
    data: Vec<R>,
}

impl<R: Ring> Rows<R> {
    fn new(width: usize) -> Self {
        Self {
            width,
            data: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.data.len() / self.width.max(1)
    }

    fn reserve(&mut self, rows: usize) {
        self.data.reserve(rows * self.width);
    }

    fn row(&self, index: usize) -> Result<&[R], MpcError> {
        self.data
            .get(index * self.width..(index + 1) * self.width)
            .ok_or(MpcError::Input("gallery index out of range"))
    }

    fn range(&self, entries: Range<usize>) -> &[R] {
        &self.data[entries.start * self.width..entries.end * self.width]
    }

    /// Removes row `index`, shifting later rows down (every party does the
    /// same, in the agreed order, so positions stay aligned).
    fn remove(&mut self, index: usize) -> Result<(), MpcError> {
        if index >= self.len() {
            return Err(MpcError::Input("gallery index out of range"));
        }
        let span = index * self.width..(index + 1) * self.width;
        bytemuck::cast_slice_mut::<R, u8>(&mut self.data[span.clone()]).zeroize();
        self.data.drain(span);
        Ok(())
    }
}

impl<R: Ring> Drop for Rows<R> {
    fn drop(&mut self) {
        bytemuck::cast_slice_mut::<R, u8>(&mut self.data).zeroize();
    }
}

/// A party's shares of all enrolled embeddings, one row per entry laid out
/// as `[x_i | x_{i+1}]` so that one dot product with the prepared query gives
/// the party's product share. Wiped on drop.
pub struct EmbeddingGallery<R: Kernel> {
    party: PartyId,
    dim: usize,
    rows: Rows<R>,
}

impl<R: Kernel> fmt::Debug for EmbeddingGallery<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddingGallery")
            .field("party", &self.party)
            .field("dim", &self.dim)
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

/// Checks that `share` is this party's and has `len` elements.
fn check_share<R: Ring>(share: &ShareVec<R>, party: PartyId, len: usize) -> Result<(), MpcError> {
    if share.party() != party {
        return Err(MpcError::Input("share belongs to another party"));
    }
    if share.len() != len {
        return Err(MpcError::Input("share length does not match the gallery"));
    }
    Ok(())
}

impl<R: Kernel> EmbeddingGallery<R> {
    /// An empty gallery of `dim`-dimensional embeddings.
    pub fn new(party: PartyId, dim: usize) -> Self {
        Self {
            party,
            dim,
            rows: Rows::new(2 * dim),
        }
    }

    /// Reserves room for `n` more entries.
    pub fn reserve(&mut self, n: usize) {
        self.rows.reserve(n);
    }

    /// Appends one entry's share (in the network's agreed order).
    pub fn push(&mut self, share: &ShareVec<R>) -> Result<(), MpcError> {
        check_share(share, self.party, self.dim)?;
        self.rows.data.extend_from_slice(share.own());
        self.rows.data.extend_from_slice(share.next());
        Ok(())
    }

    /// Removes entry `index`, shifting later entries down.
    pub fn remove(&mut self, index: usize) -> Result<(), MpcError> {
        self.rows.remove(index)
    }

    /// The share of entry `index`.
    pub fn share(&self, index: usize) -> Result<ShareVec<R>, MpcError> {
        let (own, next) = self.rows.row(index)?.split_at(self.dim);
        Ok(ShareVec::from_parts(
            self.party,
            own.to_vec(),
            next.to_vec(),
        )?)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Embedding dimension.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The owning party.
    pub fn party(&self) -> PartyId {
        self.party
    }
}

/// Rearranges a party's query share into `[y_i + y_{i+1} | y_i]`, so that
/// `<[x_i | x_{i+1}], prepared> = x_i y_i + x_i y_{i+1} + x_{i+1} y_i`: this
/// party's term of the replicated product.
pub fn prepare_embedding_query<R: Ring>(q: &ShareVec<R>) -> Vec<R> {
    q.own()
        .iter()
        .zip(q.next())
        .map(|(&a, &b)| a.add(b))
        .chain(q.own().iter().copied())
        .collect()
}

fn check_queries<R: Ring>(
    party: PartyId,
    queries: &[ShareVec<R>],
    width: usize,
) -> Result<(), MpcError> {
    if queries.is_empty() {
        return Err(MpcError::Input("no query given"));
    }
    for q in queries {
        if q.party() != party {
            return Err(MpcError::Input("query share belongs to another party"));
        }
        if q.len() != width {
            return Err(MpcError::Input("query length does not match the gallery"));
        }
    }
    Ok(())
}

/// Matches each query against the gallery entries in `entries`:
/// bit = `<query, entry> >= threshold` (quantised dot product), reduced per
/// `scope`. Bits are ordered query-major.
pub async fn match_embedding<R: Kernel, T: Transport>(
    sess: &mut Session<T>,
    gallery: &EmbeddingGallery<R>,
    entries: Range<usize>,
    queries: &[ShareVec<R>],
    threshold: i64,
    scope: Scope,
) -> Result<BitShares, MpcError> {
    let party = sess.party();
    if gallery.party != party {
        return Err(MpcError::Input("gallery belongs to another party"));
    }
    if entries.start >= entries.end || entries.end > gallery.len() {
        return Err(MpcError::Input(
            "entry range is empty or outside the gallery",
        ));
    }
    check_queries(party, queries, gallery.dim)?;
    let w = 2 * gallery.dim;
    let rows = gallery.rows.range(entries.clone());
    let n = entries.len();
    let prepared: Vec<Vec<R>> = queries.iter().map(prepare_embedding_query).collect();
    let refs: Vec<&[R]> = prepared.iter().map(Vec::as_slice).collect();
    let mut z = vec![R::ZERO; n * queries.len()];
    R::dot_rows(rows, w, &refs, &mut z);
    let mut scores = if sess.security() == Security::Malicious {
        proven_scores(sess, rows, gallery.dim, queries, z).await?
    } else {
        sess.reshare(z).await?
    };
    let len = scores.len();
    add_public(&mut scores, 0..len, R::from_i64(threshold).neg());
    // match <=> score - threshold >= 0 <=> sign bit clear.
    let matched = not_bits(&msb_bits(sess, &scores).await?)?;
    match scope {
        Scope::PerEntry => Ok(matched),
        Scope::Any => or_reduce_groups(sess, &matched, n).await,
    }
}

/// Reshares the dot products and proves them (malicious security): the
/// proof runs before any use of the scores, so a party that sent a wrong
/// score share is caught before the comparison starts.
async fn proven_scores<R: Kernel, T: Transport>(
    sess: &mut Session<T>,
    rows: &[R],
    dim: usize,
    queries: &[ShareVec<R>],
    z: Vec<R>,
) -> Result<ShareVec<R>, MpcError> {
    if R::BITS != 32 {
        return Err(MpcError::Input(
            "malicious security needs the 32-bit ring for embeddings",
        ));
    }
    let (scores, f_own, f_next) = sess.reshare_keep(z).await?;
    let batch = DotBatch {
        rows: as32(rows),
        dim,
        queries: queries
            .iter()
            .map(|q| (as32(q.own()), as32(q.next())))
            .collect(),
        received: as32(scores.next()),
        f_own: as32(&f_own),
        f_next: as32(&f_next),
    };
    verify_dots(sess, &batch).await?;
    Ok(scores)
}

fn as32<R: Ring>(v: &[R]) -> &[u32] {
    bytemuck::cast_slice(v)
}

/// A party's shares of all enrolled iris codes: per entry
/// `[v_i | v_{i+1} | m_i | m_{i+1}]` with `v = mask * (1 - 2 code)`.
pub struct IrisGallery<R: Kernel> {
    party: PartyId,
    params: IrisParams,
    rows: Rows<R>,
}

impl<R: Kernel> fmt::Debug for IrisGallery<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IrisGallery")
            .field("party", &self.party)
            .field("params", &self.params)
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl<R: Kernel> IrisGallery<R> {
    /// An empty gallery for codes of the given layout.
    pub fn new(party: PartyId, params: IrisParams) -> Result<Self, MpcError> {
        params.validate()?;
        Ok(Self {
            party,
            params,
            rows: Rows::new(4 * params.code_bits()),
        })
    }

    /// Reserves room for `n` more entries.
    pub fn reserve(&mut self, n: usize) {
        self.rows.reserve(n);
    }

    /// Appends one entry's share of `[v | mask]` (length `2 * code_bits`).
    pub fn push(&mut self, share: &ShareVec<R>) -> Result<(), MpcError> {
        let l = self.params.code_bits();
        check_share(share, self.party, 2 * l)?;
        let d = &mut self.rows.data;
        d.extend_from_slice(&share.own()[..l]);
        d.extend_from_slice(&share.next()[..l]);
        d.extend_from_slice(&share.own()[l..]);
        d.extend_from_slice(&share.next()[l..]);
        Ok(())
    }

    /// Removes entry `index`, shifting later entries down.
    pub fn remove(&mut self, index: usize) -> Result<(), MpcError> {
        self.rows.remove(index)
    }

    /// The share of entry `index` as `[v | mask]`.
    pub fn share(&self, index: usize) -> Result<ShareVec<R>, MpcError> {
        let l = self.params.code_bits();
        let row = self.rows.row(index)?;
        let own = [&row[..l], &row[2 * l..3 * l]].concat();
        let next = [&row[l..2 * l], &row[3 * l..]].concat();
        Ok(ShareVec::from_parts(self.party, own, next)?)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The code layout and threshold.
    pub fn params(&self) -> &IrisParams {
        &self.params
    }
}

/// A query share prepared for all rotations: each iris row of
/// `[y_i + y_{i+1}]` and `[y_i]` (for code and mask) extended with
/// `rotations` wrapped cells on both sides, so the query rotated by `s` is a
/// contiguous slice.
#[derive(Debug)]
pub struct IrisQuery<R> {
    v_sum: Vec<R>,
    v_own: Vec<R>,
    m_sum: Vec<R>,
    m_own: Vec<R>,
}

fn extend_rows<R: Ring>(x: &[R], p: &IrisParams) -> Vec<R> {
    let cell = p.bits_per_cell;
    let row_len = p.cols * cell;
    let pad = p.rotations * cell;
    let mut out = Vec::with_capacity(p.rows * (row_len + 2 * pad));
    for row in x.chunks_exact(row_len) {
        out.extend_from_slice(&row[row_len - pad..]);
        out.extend_from_slice(row);
        out.extend_from_slice(&row[..pad]);
    }
    out
}

/// Prepares a party's share of an iris query (`[v | mask]`) for matching.
pub fn prepare_iris_query<R: Ring>(
    q: &ShareVec<R>,
    params: &IrisParams,
) -> Result<IrisQuery<R>, MpcError> {
    let l = params.code_bits();
    if q.len() != 2 * l {
        return Err(MpcError::Input(
            "query length does not match the iris layout",
        ));
    }
    let sum: Vec<R> = q
        .own()
        .iter()
        .zip(q.next())
        .map(|(&a, &b)| a.add(b))
        .collect();
    Ok(IrisQuery {
        v_sum: extend_rows(&sum[..l], params),
        v_own: extend_rows(&q.own()[..l], params),
        m_sum: extend_rows(&sum[l..], params),
        m_own: extend_rows(&q.own()[l..], params),
    })
}

/// Product shares `(code dot, mask dot)` of one entry against one prepared
/// query, for every rotation, added into `out_v` / `out_m`.
fn iris_entry_dots<R: Kernel>(
    row: &[R],
    q: &IrisQuery<R>,
    p: &IrisParams,
    out_v: &mut [R],
    out_m: &mut [R],
) {
    let l = p.code_bits();
    let cell = p.bits_per_cell;
    let row_len = p.cols * cell;
    let ext_len = row_len + 2 * p.rotations * cell;
    let parts: [(&[R], &[R], bool); 4] = [
        (&row[..l], &q.v_sum, true),
        (&row[l..2 * l], &q.v_own, true),
        (&row[2 * l..3 * l], &q.m_sum, false),
        (&row[3 * l..], &q.m_own, false),
    ];
    for (g, ext, is_code) in parts {
        let out = if is_code { &mut *out_v } else { &mut *out_m };
        for r in 0..p.rows {
            let g_seg = &g[r * row_len..(r + 1) * row_len];
            let e = &ext[r * ext_len..(r + 1) * ext_len];
            for (t, o) in out.iter_mut().enumerate() {
                let off = t * cell;
                *o = o.add(R::dot(g_seg, &e[off..off + row_len]));
            }
        }
    }
}

/// Matches iris queries (shares of `[v | mask]`) against the entries in
/// `entries`: bit = some rotation has a non-empty common mask and fractional
/// Hamming distance `<= threshold`, reduced per `scope`.
///
/// Per rotation, `A = (q - 2p) M - q <v_a, v_b>` with `M = <m_a, m_b>` and
/// threshold `p/q`; the rotation matches iff `A <= 0` and `M >= 1`, i.e.
/// `msb(A - 1) & !msb(M - 1)`.
pub async fn match_iris<R: Kernel, T: Transport>(
    sess: &mut Session<T>,
    gallery: &IrisGallery<R>,
    entries: Range<usize>,
    queries: &[ShareVec<R>],
    scope: Scope,
) -> Result<BitShares, MpcError> {
    if R::BITS < 32 {
        return Err(MpcError::Input(
            "iris matching needs a ring of at least 32 bits",
        ));
    }
    if sess.security() == Security::Malicious {
        return Err(MpcError::Input(
            "iris matching under malicious security is not implemented yet (its scores are not proven)",
        ));
    }
    let party = sess.party();
    if gallery.party != party {
        return Err(MpcError::Input("gallery belongs to another party"));
    }
    if entries.start >= entries.end || entries.end > gallery.len() {
        return Err(MpcError::Input(
            "entry range is empty or outside the gallery",
        ));
    }
    let p = gallery.params;
    check_queries(party, queries, 2 * p.code_bits())?;
    let prepared = queries
        .iter()
        .map(|q| prepare_iris_query(q, &p))
        .collect::<Result<Vec<_>, _>>()?;
    let rot = p.rotation_count();
    let n = entries.len();
    let total = queries.len() * n * rot;
    let qd = R::from_i64(THRESHOLD_DENOMINATOR);
    let k_m = R::from_i64(THRESHOLD_DENOMINATOR - 2 * p.threshold_num());
    // First half: A; second half: M.
    let mut z = vec![R::ZERO; 2 * total];
    let mut dv = vec![R::ZERO; rot];
    let mut dm = vec![R::ZERO; rot];
    for (qi, q) in prepared.iter().enumerate() {
        for (j, e) in entries.clone().enumerate() {
            dv.fill(R::ZERO);
            dm.fill(R::ZERO);
            iris_entry_dots(gallery.rows.range(e..e + 1), q, &p, &mut dv, &mut dm);
            let base = (qi * n + j) * rot;
            for t in 0..rot {
                z[base + t] = k_m.mul(dm[t]).sub(qd.mul(dv[t]));
                z[total + base + t] = dm[t];
            }
        }
    }
    let mut vals = sess.reshare(z).await?;
    add_public(&mut vals, 0..2 * total, R::ONE.neg());
    let signs = msb_bits(sess, &vals).await?;
    let (a_le_0, m_is_0) = split_bits(&signs, total)?;
    let matched = and_bits(sess, &a_le_0, &not_bits(&m_is_0)?).await?;
    let group = match scope {
        Scope::PerEntry => rot,
        Scope::Any => n * rot,
    };
    or_reduce_groups(sess, &matched, group).await
}

fn split_bits(bits: &BitShares, at: usize) -> Result<(BitShares, BitShares), MpcError> {
    let party = bits.party();
    let take = |range: Range<usize>| -> Result<BitShares, MpcError> {
        let own = crate::bits::gather(bits.words.own(), range.clone());
        let next = crate::bits::gather(bits.words.next(), range.clone());
        BitShares::from_words(ShareVec::from_parts(party, own, next)?, range.len())
    };
    Ok((take(0..at)?, take(at..bits.len())?))
}

/// A party's gallery of either template kind, with its matching rule.
#[derive(Debug)]
pub enum Gallery<R: Kernel> {
    /// Embeddings, matched by `score >= threshold`.
    Embedding {
        /// The shares.
        gallery: EmbeddingGallery<R>,
        /// Integer threshold on quantised dot products.
        threshold: i64,
    },
    /// Iris codes (the threshold is part of the parameters).
    Iris(IrisGallery<R>),
}

impl<R: Kernel> Gallery<R> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        match self {
            Gallery::Embedding { gallery, .. } => gallery.len(),
            Gallery::Iris(g) => g.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends one entry's share.
    pub fn push(&mut self, share: &ShareVec<R>) -> Result<(), MpcError> {
        match self {
            Gallery::Embedding { gallery, .. } => gallery.push(share),
            Gallery::Iris(g) => g.push(share),
        }
    }

    /// Removes entry `index`, shifting later entries down.
    pub fn remove(&mut self, index: usize) -> Result<(), MpcError> {
        match self {
            Gallery::Embedding { gallery, .. } => gallery.remove(index),
            Gallery::Iris(g) => g.remove(index),
        }
    }

    /// The share of entry `index`, in the layout it was pushed in.
    pub fn share(&self, index: usize) -> Result<ShareVec<R>, MpcError> {
        match self {
            Gallery::Embedding { gallery, .. } => gallery.share(index),
            Gallery::Iris(g) => g.share(index),
        }
    }

    /// Number of ring elements in one entry's share.
    pub fn share_len(&self) -> usize {
        match self {
            Gallery::Embedding { gallery, .. } => gallery.dim(),
            Gallery::Iris(g) => 2 * g.params().code_bits(),
        }
    }

    /// Comparisons per (query, entry): the rotations tried.
    pub fn comparisons_per_entry(&self) -> usize {
        match self {
            Gallery::Embedding { .. } => 1,
            Gallery::Iris(g) => g.params().rotation_count(),
        }
    }
}

/// Matches queries against `entries` of a gallery of either kind.
pub async fn match_gallery<R: Kernel, T: Transport>(
    sess: &mut Session<T>,
    gallery: &Gallery<R>,
    entries: Range<usize>,
    queries: &[ShareVec<R>],
    scope: Scope,
) -> Result<BitShares, MpcError> {
    match gallery {
        Gallery::Embedding { gallery, threshold } => {
            match_embedding(sess, gallery, entries, queries, *threshold, scope).await
        }
        Gallery::Iris(g) => match_iris(sess, g, entries, queries, scope).await,
    }
}

#[cfg(test)]
mod tests;
