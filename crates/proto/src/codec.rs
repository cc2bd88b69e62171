//! The one byte encoding of a party's share, used for the shares a client
//! seals to each node, the shares a node stores, the components peers send
//! in catch-up, and the decision shares a node seals back to the client.
//!
//! A party's share of a vector of `len` ring elements is its two
//! components, `own || next`, each `len` little-endian words.

use sanctuary_share::{PartyId, Ring, ShareVec};
use zeroize::Zeroizing;

use crate::ProtoError;

/// Serialises a share as `own || next` (little-endian words), in a buffer
/// wiped on drop.
pub fn share_to_bytes<R: Ring + bytemuck::Pod>(s: &ShareVec<R>) -> Zeroizing<Vec<u8>> {
    let mut v = Zeroizing::new(Vec::with_capacity(2 * std::mem::size_of_val(s.own())));
    v.extend_from_slice(bytemuck::cast_slice(s.own()));
    v.extend_from_slice(bytemuck::cast_slice(s.next()));
    v
}

/// Parses `party`'s share of `len` elements from `own || next`; the
/// intermediate words are wiped.
pub fn share_from_bytes<R: Ring + bytemuck::Pod + zeroize::DefaultIsZeroes>(
    party: PartyId,
    bytes: &[u8],
    len: usize,
) -> Result<ShareVec<R>, ProtoError> {
    let want = 2 * std::mem::size_of::<R>() * len;
    if bytes.len() != want {
        return Err(ProtoError::ShareLength {
            found: bytes.len(),
            expected: want,
        });
    }
    let words: Zeroizing<Vec<R>> = Zeroizing::new(bytemuck::pod_collect_to_vec(bytes));
    let (own, next) = words.split_at(len);
    ShareVec::from_parts(party, own.to_vec(), next.to_vec()).map_err(ProtoError::Share)
}

/// What a sealed box carries: the label is part of the box's associated
/// data, so a box made for one purpose never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealLabel {
    /// A client's template share to one node.
    Share,
    /// A node's decision share back to the client.
    Result,
}

impl SealLabel {
    fn as_str(self) -> &'static str {
        match self {
            SealLabel::Share => "share",
            SealLabel::Result => "result",
        }
    }
}

/// The associated data a share or a result is sealed under: label, request
/// id and party, so a box opens only for the request and party it was made
/// for; and for a probe share, the client's result key, so a box opens only
/// for the key its client chose: a coordinator that substitutes its own key
/// to read the decision shares makes every honest node's share fail to open,
/// and nothing is computed.
pub fn seal_context(
    label: SealLabel,
    request_id: &str,
    party: PartyId,
    client_key: Option<&str>,
) -> Vec<u8> {
    match client_key {
        None => format!("{}/{request_id}/{party}", label.as_str()).into_bytes(),
        Some(k) => format!("{}/{request_id}/{party}/{k}", label.as_str()).into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_share::deal;

    #[test]
    fn share_bytes_round_trip_for_every_party() {
        let secret: Vec<u32> = (0..17u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
        for s in deal(&secret, &mut rand::rng()) {
            let b = share_to_bytes(&s);
            assert_eq!(b.len(), 8 * secret.len());
            let back: ShareVec<u32> = share_from_bytes(s.party(), &b, secret.len()).unwrap();
            assert_eq!(back.own(), s.own());
            assert_eq!(back.next(), s.next());
        }
    }

    #[test]
    fn wrong_length_is_refused_naming_both_sizes() {
        let e = share_from_bytes::<u32>(PartyId::P1, &[0u8; 12], 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "share has 12 bytes, expected 16 for this template kind"
        );
    }

    #[test]
    fn labels_separate_contexts() {
        let a = seal_context(SealLabel::Share, "r", PartyId::P0, None);
        let b = seal_context(SealLabel::Result, "r", PartyId::P0, None);
        let c = seal_context(SealLabel::Share, "r", PartyId::P1, None);
        let d = seal_context(SealLabel::Share, "r", PartyId::P0, Some("k1"));
        let e = seal_context(SealLabel::Share, "r", PartyId::P0, Some("k2"));
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(d, e);
        // The encoding is the one v1 clients and nodes used.
        assert_eq!(a, b"share/r/P0".to_vec());
    }
}
