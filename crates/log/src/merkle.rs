//! Merkle tree algorithms over stored interior hashes (RFC 9162 section 2.1).
//!
//! The tree is stored as its *complete* subtrees: node `(level, index)` is the
//! hash of leaves `index * 2^level .. (index + 1) * 2^level`, and it exists
//! once all those leaves exist. Appending leaf `i` completes exactly
//! `1 + trailing_ones(i)` nodes ([`hashes_for_append`]), so an append reads at
//! most `log2 n` hashes and writes at most `1 + log2 n`. Any subtree that RFC
//! 9162's recursions need (`MTH(D[a:b])` where `a` is a multiple of the largest
//! power of two below `b - a`) decomposes into at most `log2 n` stored nodes, so
//! roots and proofs cost O(log n) reads (O(log² n) hashes in the worst case for
//! consistency proofs).
//!
//! The functions here take a synchronous [`HashReader`]. Asynchronous stores
//! are served by running a function once with a recording reader (which indices
//! it needs depends only on the sizes, never on hash values), fetching those
//! hashes in one batch, and running it again (see [`Log`](crate::Log)).

use std::cell::RefCell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::hash::{Hash, node_hash};

/// Address of a stored complete subtree: the hash of leaves
/// `index << level .. (index + 1) << level`. Level 0 holds the leaf hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeIndex {
    /// Height above the leaves.
    pub level: u8,
    /// Position within the level.
    pub index: u64,
}

impl NodeIndex {
    /// Node `(level, index)`.
    pub const fn new(level: u8, index: u64) -> Self {
        NodeIndex { level, index }
    }
}

/// Synchronous random access to stored node hashes.
pub trait HashReader {
    /// The hash of complete subtree `idx`.
    fn read(&self, idx: NodeIndex) -> Result<Hash, StoreError>;
}

/// The largest power of two strictly below `n` (`n >= 2`).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// `MTH(D[start:end])` for `start < end`.
pub fn subtree_hash(r: &impl HashReader, start: u64, end: u64) -> Result<Hash, StoreError> {
    debug_assert!(start < end);
    let n = end - start;
    if n.is_power_of_two() && start.is_multiple_of(n) {
        // Invariant: trailing_zeros of a u64 is < 64, so it fits a u8.
        let level = n.trailing_zeros() as u8;
        return r.read(NodeIndex::new(level, start >> level));
    }
    let k = split_point(n);
    let left = subtree_hash(r, start, start + k)?;
    let right = subtree_hash(r, start + k, end)?;
    Ok(node_hash(&left, &right))
}

/// The root of the tree of the first `size` leaves.
pub fn tree_root(r: &impl HashReader, size: u64) -> Result<Hash, StoreError> {
    if size == 0 {
        return Ok(Hash::EMPTY_ROOT);
    }
    subtree_hash(r, 0, size)
}

/// `PATH(index, D[0:size])` (RFC 9162 section 2.1.3.1), leaf to root.
pub fn inclusion_path(r: &impl HashReader, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
    debug_assert!(index < size);
    let mut path = Vec::new();
    path_rec(r, index, 0, size, &mut path)?;
    Ok(path)
}

/// `PATH(m, D[start:end])`, pushing hashes in leaf-to-root order.
fn path_rec(
    r: &impl HashReader,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<(), StoreError> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split_point(n);
    if m < k {
        path_rec(r, m, start, start + k, out)?;
        out.push(subtree_hash(r, start + k, end)?);
    } else {
        path_rec(r, m - k, start + k, end, out)?;
        out.push(subtree_hash(r, start, start + k)?);
    }
    Ok(())
}

/// `PROOF(old, D[0:new])` (RFC 9162 section 2.1.4.1); empty when
/// `old == 0` or `old == new`.
pub fn consistency_path(r: &impl HashReader, old: u64, new: u64) -> Result<Vec<Hash>, StoreError> {
    debug_assert!(old <= new);
    let mut path = Vec::new();
    if old == 0 || old == new {
        return Ok(path);
    }
    subproof_rec(r, old, 0, new, true, &mut path)?;
    Ok(path)
}

/// `SUBPROOF(m, D[start:end], b)`.
fn subproof_rec(
    r: &impl HashReader,
    m: u64,
    start: u64,
    end: u64,
    b: bool,
    out: &mut Vec<Hash>,
) -> Result<(), StoreError> {
    let n = end - start;
    if m == n {
        if !b {
            out.push(subtree_hash(r, start, end)?);
        }
        return Ok(());
    }
    let k = split_point(n);
    if m <= k {
        subproof_rec(r, m, start, start + k, b, out)?;
        out.push(subtree_hash(r, start + k, end)?);
    } else {
        subproof_rec(r, m - k, start + k, end, false, out)?;
        out.push(subtree_hash(r, start, start + k)?);
    }
    Ok(())
}

/// The nodes that appending leaf number `leaf_index` (with hash `leaf`)
/// completes: the leaf itself, then each parent whose right child was just
/// completed. Reads the left siblings from `r`.
pub fn hashes_for_append(
    r: &impl HashReader,
    leaf_index: u64,
    leaf: Hash,
) -> Result<Vec<(NodeIndex, Hash)>, StoreError> {
    let mut out = Vec::with_capacity(1 + leaf_index.trailing_ones() as usize);
    let mut idx = NodeIndex::new(0, leaf_index);
    let mut h = leaf;
    out.push((idx, h));
    while idx.index & 1 == 1 {
        let left = r.read(NodeIndex::new(idx.level, idx.index - 1))?;
        h = node_hash(&left, &h);
        idx = NodeIndex::new(idx.level + 1, idx.index >> 1);
        out.push((idx, h));
    }
    Ok(out)
}

/// The complete subtrees that make up the tree of `size` leaves (its right
/// edge), largest first: one per set bit of `size`. Appending needs exactly
/// these from storage.
pub fn frontier(size: u64) -> Vec<NodeIndex> {
    let mut out = Vec::with_capacity(size.count_ones() as usize);
    let mut start = 0u64;
    for level in (0..64u8).rev() {
        if (size >> level) & 1 == 1 {
            out.push(NodeIndex::new(level, start >> level));
            start += 1 << level;
        }
    }
    out
}

/// The nodes completed by appending `leaves` as leaves `start..`, one list
/// per leaf (as [`hashes_for_append`] returns them), given the hashes of
/// [`frontier(start)`](frontier) in that order. Amortised O(1) hashes per
/// leaf, no storage reads.
pub fn hashes_for_batch(
    start: u64,
    frontier_hashes: &[Hash],
    leaves: &[Hash],
) -> Result<Vec<Vec<(NodeIndex, Hash)>>, StoreError> {
    let idx = frontier(start);
    if idx.len() != frontier_hashes.len() {
        return Err(StoreError::ShortRead {
            expected: idx.len(),
            got: frontier_hashes.len(),
        });
    }
    // The right edge of the tree: complete subtrees, decreasing in level.
    let mut stack: Vec<(NodeIndex, Hash)> = idx
        .into_iter()
        .zip(frontier_hashes.iter().copied())
        .collect();
    let mut out = Vec::with_capacity(leaves.len());
    for (i, leaf) in (start..).zip(leaves) {
        let (mut idx, mut h) = (NodeIndex::new(0, i), *leaf);
        let mut done = vec![(idx, h)];
        while idx.index & 1 == 1 {
            let sibling = NodeIndex::new(idx.level, idx.index - 1);
            let left = match stack.pop() {
                Some((at, left)) if at == sibling => left,
                _ => return Err(StoreError::MissingHash(sibling)),
            };
            h = node_hash(&left, &h);
            idx = NodeIndex::new(idx.level + 1, idx.index >> 1);
            done.push((idx, h));
        }
        stack.push((idx, h));
        out.push(done);
    }
    Ok(out)
}

/// A reader for asynchronous stores: first in *recording* mode (answers zeros
/// and notes which nodes were asked for), then *fetched* mode over the batch
/// read from the store.
#[derive(Debug)]
pub(crate) enum BatchReader {
    Recording(RefCell<Vec<NodeIndex>>),
    Fetched(BTreeMap<NodeIndex, Hash>),
}

impl BatchReader {
    pub(crate) fn recording() -> Self {
        BatchReader::Recording(RefCell::new(Vec::new()))
    }

    /// The distinct indices recorded so far, sorted.
    pub(crate) fn wanted(self) -> Vec<NodeIndex> {
        match self {
            BatchReader::Recording(v) => {
                let mut v = v.into_inner();
                v.sort_unstable();
                v.dedup();
                v
            }
            BatchReader::Fetched(m) => m.into_keys().collect(),
        }
    }
}

impl HashReader for BatchReader {
    fn read(&self, idx: NodeIndex) -> Result<Hash, StoreError> {
        match self {
            BatchReader::Recording(v) => {
                v.borrow_mut().push(idx);
                Ok(Hash([0; 32]))
            }
            BatchReader::Fetched(m) => m.get(&idx).copied().ok_or(StoreError::MissingHash(idx)),
        }
    }
}

/// A whole Merkle tree held in memory, level by level.
///
/// Used by [`MemoryStore`](crate::MemoryStore) and by clients that rebuild the
/// tree from downloaded entries ([`subject_audit`](crate::subject_audit)).
#[derive(Debug, Clone, Default)]
pub struct MemoryTree {
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Appends a leaf hash (amortised O(1), worst case O(log n)).
    pub fn push(&mut self, leaf: Hash) {
        let i = self.size();
        // Invariant: `hashes_for_append` only reads left siblings, which a
        // complete tree of `i` leaves holds.
        let nodes = hashes_for_append(self, i, leaf).unwrap_or_default();
        self.store(&nodes);
    }

    /// Stores completed nodes; each must be the next one on its level.
    pub(crate) fn store(&mut self, nodes: &[(NodeIndex, Hash)]) {
        for (idx, h) in nodes {
            let level = usize::from(idx.level);
            if self.levels.len() <= level {
                self.levels.resize_with(level + 1, Vec::new);
            }
            debug_assert_eq!(self.levels[level].len() as u64, idx.index);
            self.levels[level].push(*h);
        }
    }

    /// The current root.
    pub fn root(&self) -> Hash {
        self.root_at(self.size()).unwrap_or(Hash::EMPTY_ROOT)
    }

    /// The root of the first `size` leaves (`None` if `size` exceeds the tree).
    pub fn root_at(&self, size: u64) -> Option<Hash> {
        if size > self.size() {
            return None;
        }
        tree_root(self, size).ok()
    }

    /// Inclusion proof of leaf `index` in the tree of the first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Option<crate::InclusionProof> {
        if index >= size || size > self.size() {
            return None;
        }
        let path = inclusion_path(self, index, size).ok()?;
        Some(crate::InclusionProof { index, size, path })
    }

    /// Consistency proof between the trees of the first `old` and `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Option<crate::ConsistencyProof> {
        if old > new || new > self.size() {
            return None;
        }
        let path = consistency_path(self, old, new).ok()?;
        Some(crate::ConsistencyProof {
            old_size: old,
            new_size: new,
            path,
        })
    }
}

impl HashReader for MemoryTree {
    fn read(&self, idx: NodeIndex) -> Result<Hash, StoreError> {
        usize::try_from(idx.index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(idx.level))?.get(i))
            .copied()
            .ok_or(StoreError::MissingHash(idx))
    }
}
