use sanctuary_share::{PartyId, ShareVec};

use crate::MpcError;

/// XOR-shared bits packed 64 to a word (bit `i` is bit `i % 64` of word
/// `i / 64`). Bits past `len` in the last word are zero in every component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitShares {
    pub(crate) words: ShareVec<u64>,
    pub(crate) len: usize,
}

impl BitShares {
    /// Wraps packed share words holding `len` bits.
    pub fn from_words(words: ShareVec<u64>, len: usize) -> Result<Self, MpcError> {
        if words.len() != len.div_ceil(64) {
            return Err(MpcError::Input(
                "bit share words do not match the bit count",
            ));
        }
        Ok(Self { words, len })
    }

    /// Number of shared bits.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no bit is shared.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The owning party.
    pub fn party(&self) -> PartyId {
        self.words.party()
    }

    /// The packed share words (to hand to an entitled client, who
    /// reconstructs them with `sanctuary_share::reconstruct_bool`).
    pub fn words(&self) -> &ShareVec<u64> {
        &self.words
    }
}

#[inline]
pub(crate) fn get(words: &[u64], i: usize) -> bool {
    (words[i / 64] >> (i % 64)) & 1 == 1
}

/// Packs the bits at `indices` of `src` into a new word vector.
pub(crate) fn gather(src: &[u64], indices: impl Iterator<Item = usize>) -> Vec<u64> {
    let mut out = Vec::new();
    for (k, i) in indices.enumerate() {
        if k % 64 == 0 {
            out.push(0);
        }
        if get(src, i)
            && let Some(last) = out.last_mut()
        {
            *last |= 1 << (k % 64);
        }
    }
    out
}

/// Packs booleans into words.
pub(crate) fn pack(bits: impl Iterator<Item = bool>) -> Vec<u64> {
    let mut out = Vec::new();
    for (k, b) in bits.enumerate() {
        if k % 64 == 0 {
            out.push(0);
        }
        if b && let Some(last) = out.last_mut() {
            *last |= 1 << (k % 64);
        }
    }
    out
}

/// Unpacks `len` bits.
pub(crate) fn unpack(words: &[u64], len: usize) -> Vec<bool> {
    (0..len).map(|i| get(words, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_gather_unpack_roundtrip() {
        let bits: Vec<bool> = (0..150).map(|i| i % 3 == 0 || i % 7 == 0).collect();
        let words = pack(bits.iter().copied());
        assert_eq!(words.len(), 3);
        assert_eq!(unpack(&words, 150), bits);
        let odd = gather(&words, (1..150).step_by(2));
        let expect: Vec<bool> = (1..150).step_by(2).map(|i| bits[i]).collect();
        assert_eq!(unpack(&odd, expect.len()), expect);
    }
}
