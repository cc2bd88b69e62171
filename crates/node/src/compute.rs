//! The node's only entry into computing on shares. It takes the veto
//! round's [`Approved`]: an op that was not approved by all three nodes
//! cannot reach a gallery.

use std::ops::Range;

use sanctuary_mpc::{BitShares, Gallery, Scope, Session, match_gallery};
use sanctuary_net::MeshSession;
use sanctuary_share::{PartyId, ShareVec};

use crate::NodeError;
use crate::veto::Approved;

/// Shares of "does `probe` match any entry in `range` of `gallery`" (one
/// bit; an empty range is a sharing of "no").
pub(crate) async fn match_probe(
    _approved: &Approved,
    sess: &mut Session<MeshSession>,
    gallery: &Gallery<u32>,
    probe: &ShareVec<u32>,
    range: Range<usize>,
) -> Result<BitShares, NodeError> {
    if range.is_empty() {
        let party: PartyId = probe.party();
        return Ok(BitShares::from_words(
            ShareVec::from_parts(party, vec![0u64], vec![0u64])
                .map_err(sanctuary_mpc::MpcError::from)?,
            1,
        )?);
    }
    Ok(match_gallery(
        sess,
        gallery,
        range,
        std::slice::from_ref(probe),
        Scope::Any,
    )
    .await?)
}

/// Opens `bits` to the three nodes (enrollment: the nodes themselves must
/// learn "duplicate or not" to decide whether to store).
pub(crate) async fn open_to_nodes(
    _approved: &Approved,
    sess: &mut Session<MeshSession>,
    bits: &BitShares,
) -> Result<Vec<bool>, NodeError> {
    Ok(sanctuary_mpc::open_bits(sess, bits).await?)
}
