//! The veto round: every node's verdict on an op travels with its
//! position, and one refusal stops the op on all three nodes before any
//! computation. The only way to the computation is an [`Approved`], which
//! only [`decide`] makes, from three approvals.

use sanctuary_proto::wire::Refusal;
use sanctuary_share::PartyId;

/// Proof that all three nodes approved this op (consent and policy checked
/// by each). The functions that compute on shares take it, so computing
/// without a passed check does not compile:
///
/// ```compile_fail
/// // There is no public constructor: only the veto round makes one.
/// let forged = sanctuary_node::Approved { op_digest: String::new() };
/// ```
///
/// ```
/// // It can be named (and passed on), never made outside the node.
/// fn run_with(_proof: &sanctuary_node::Approved) {}
/// ```
#[derive(Debug)]
pub struct Approved {
    /// The op approved ([`sanctuary_proto::wire::op_digest`]).
    op_digest: String,
}

impl Approved {
    /// The digest of the op the three nodes approved.
    pub fn op_digest(&self) -> &str {
        &self.op_digest
    }
}

/// The first refusal in party order (so every node records the same one),
/// or the proof that nobody refused.
pub(crate) fn decide(
    op_digest: &str,
    verdicts: impl IntoIterator<Item = (PartyId, Option<Refusal>)>,
) -> Result<Approved, (PartyId, Refusal)> {
    let mut v: Vec<(PartyId, Option<Refusal>)> = verdicts.into_iter().collect();
    v.sort_by_key(|(p, _)| p.index());
    match v.into_iter().find_map(|(p, r)| r.map(|r| (p, r))) {
        Some(refused) => Err(refused),
        None => Ok(Approved {
            op_digest: op_digest.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanctuary_proto::RefusalCode;

    fn no(code: RefusalCode) -> Option<Refusal> {
        Some(Refusal {
            code,
            message: String::new(),
        })
    }

    #[test]
    fn one_refusal_vetoes_and_the_first_in_party_order_is_recorded() {
        let v = [
            (PartyId::P2, no(RefusalCode::RateLimit)),
            (PartyId::P0, None),
            (PartyId::P1, no(RefusalCode::TokenExpired)),
        ];
        let (by, r) = decide("d", v).unwrap_err();
        assert_eq!(by, PartyId::P1);
        assert_eq!(r.code, RefusalCode::TokenExpired);
        let only_p2 = [
            (PartyId::P0, None),
            (PartyId::P1, None),
            (PartyId::P2, no(RefusalCode::RateLimit)),
        ];
        assert_eq!(decide("d", only_p2).unwrap_err().0, PartyId::P2);
    }

    #[test]
    fn three_approvals_give_the_proof_for_that_op() {
        let ok = [
            (PartyId::P0, None),
            (PartyId::P1, None),
            (PartyId::P2, None),
        ];
        assert_eq!(decide("digest", ok).unwrap().op_digest(), "digest");
    }
}
