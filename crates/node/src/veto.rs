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

/// A node's refusal, with who made it.
pub(crate) type Refused = (PartyId, Refusal);

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

/// The decision on a subject's right (deletion, withdrawal of consent,
/// retention expiry): carried out when at least two nodes approve, so that
/// no single node can block it. A refusal that was overruled comes back
/// with the proof, to be recorded in the log entry; with fewer than two
/// approvals the first refusal in party order stands.
pub(crate) fn decide_right(
    op_digest: &str,
    verdicts: impl IntoIterator<Item = (PartyId, Option<Refusal>)>,
) -> Result<(Approved, Option<Refused>), Refused> {
    let mut v: Vec<(PartyId, Option<Refusal>)> = verdicts.into_iter().collect();
    v.sort_by_key(|(p, _)| p.index());
    let approvals = v.iter().filter(|(_, r)| r.is_none()).count();
    let first_refusal = v.into_iter().find_map(|(p, r)| r.map(|r| (p, r)));
    match first_refusal {
        Some(refused) if approvals < 2 => Err(refused),
        overruled => Ok((
            Approved {
                op_digest: op_digest.to_owned(),
            },
            overruled,
        )),
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
    fn a_right_needs_two_approvals_and_records_the_overruled_refusal() {
        let one_refuses = [
            (PartyId::P0, None),
            (PartyId::P2, no(RefusalCode::RightRefused)),
            (PartyId::P1, None),
        ];
        let (a, overruled) = decide_right("d", one_refuses).expect("carried out");
        assert_eq!(a.op_digest(), "d");
        let (by, r) = overruled.expect("recorded");
        assert_eq!((by, r.code), (PartyId::P2, RefusalCode::RightRefused));
        // Two refusals (e.g. a forged signature, seen by every honest node)
        // still stop it, and the first in party order is recorded.
        let two_refuse = [
            (PartyId::P2, no(RefusalCode::StatementForged)),
            (PartyId::P0, None),
            (PartyId::P1, no(RefusalCode::StatementForged)),
        ];
        assert_eq!(decide_right("d", two_refuse).unwrap_err().0, PartyId::P1);
        let none = [
            (PartyId::P0, None),
            (PartyId::P1, None),
            (PartyId::P2, None),
        ];
        assert!(decide_right("d", none).expect("ok").1.is_none());
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
