//! Open identification ("who is this?"): refused by every honest node's
//! policy, and the attempt recorded. It never computes.

use sanctuary_consent::{PolicyViolation, Rule};
use sanctuary_log::Operation;
use sanctuary_proto::wire::{IdentifyOp, Refusal};
use sanctuary_store::ConsentWrite;

use super::{Done, EntryFields, RunCx, VerdictCx};
use crate::NodeError;
use crate::consent::refuse;

pub(super) fn verdict(op: &IdentifyOp, _cx: &VerdictCx<'_>) -> Result<Vec<ConsentWrite>, Refusal> {
    Err(refuse(
        PolicyViolation::new(
            Rule::NoOpenIdentification,
            format!(
                "{} asked \"who is this?\"; open 1:N identification is never performed",
                op.relying_party
            ),
        )
        .into(),
    ))
}

pub(super) fn entry(op: &IdentifyOp) -> EntryFields {
    EntryFields::new(
        Operation::Identify,
        Some(&op.relying_party),
        "identify",
        None,
    )
}

pub(super) async fn run(_op: &IdentifyOp, _cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    // Every honest node refused it in its verdict; three approvals of it
    // mean three nodes without the policy, which is outside the threat model.
    Err(NodeError::BadRequest(
        "identify is not an operation that runs".into(),
    ))
}
