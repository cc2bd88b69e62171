//! Client-side proof verification (RFC 9162 sections 2.1.3.2 and 2.1.4.2).
//!
//! This module depends on nothing but hashing: no storage, no async, so a
//! light client or an auditor can use it on its own.

use serde::{Deserialize, Serialize};

use crate::error::ProofError;
use crate::hash::{Hash, node_hash};

/// An inclusion proof (audit path) of leaf `index` in the tree of size `size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionProof {
    /// Leaf index (= the entry's sequence number).
    pub index: u64,
    /// Tree size the proof is for.
    pub size: u64,
    /// Sibling hashes, leaf to root.
    pub path: Vec<Hash>,
}

impl InclusionProof {
    /// Checks that `leaf` (a [`leaf_hash`](crate::leaf_hash)) is leaf
    /// `self.index` of the tree of size `self.size` with root `root`.
    pub fn verify(&self, leaf: &Hash, root: &Hash) -> Result<(), ProofError> {
        verify_inclusion(leaf, self.index, self.size, &self.path, root)
    }
}

/// A consistency proof between the trees of sizes `old_size` and `new_size`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyProof {
    /// Size of the older tree.
    pub old_size: u64,
    /// Size of the newer tree.
    pub new_size: u64,
    /// The proof hashes.
    pub path: Vec<Hash>,
}

impl ConsistencyProof {
    /// Checks that the tree with root `new_root` extends the one with root
    /// `old_root`.
    pub fn verify(&self, old_root: &Hash, new_root: &Hash) -> Result<(), ProofError> {
        verify_consistency(self.old_size, self.new_size, old_root, new_root, &self.path)
    }
}

/// The root that an inclusion proof leads to (RFC 9162 section 2.1.3.2).
pub fn root_from_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let fail = ProofError::Inclusion { index, size };
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return Err(fail);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(fail);
    }
    Ok(r)
}

/// Verifies an inclusion proof (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    path: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if root_from_inclusion(leaf, index, size, path)? == *root {
        Ok(())
    } else {
        Err(ProofError::Inclusion { index, size })
    }
}

/// Verifies a consistency proof (RFC 9162 section 2.1.4.2).
///
/// Edge cases RFC 9162 leaves to the caller: `old_size == new_size` needs an
/// empty proof and equal roots; `old_size == 0` needs an empty proof and
/// `old_root` equal to the empty-tree root (every tree extends the empty one).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    path: &[Hash],
) -> Result<(), ProofError> {
    let fail = ProofError::Consistency { old_size, new_size };
    if old_size > new_size {
        return Err(ProofError::SizeOrder { old_size, new_size });
    }
    if old_size == new_size {
        return if path.is_empty() && old_root == new_root {
            Ok(())
        } else {
            Err(fail)
        };
    }
    if old_size == 0 {
        return if path.is_empty() && *old_root == Hash::EMPTY_ROOT {
            Ok(())
        } else {
            Err(fail)
        };
    }
    // 1. An empty proof fails.
    let Some((first, rest)) = path.split_first() else {
        return Err(fail);
    };
    // 2. If old_size is a power of two, the old root is the first node.
    let (start, rest) = if old_size.is_power_of_two() {
        (old_root, path)
    } else {
        (first, rest)
    };
    // 3-4.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // 5.
    let (mut fr, mut sr) = (*start, *start);
    // 6.
    for c in rest {
        if sn == 0 {
            return Err(fail);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // 7.
    if fr == *old_root && sr == *new_root && sn == 0 {
        Ok(())
    } else {
        Err(fail)
    }
}
