//! A festival check-in: recorded in the log (the subject's audit trail)
//! before any node evaluates the subject's pseudonym share.

use sanctuary_log::Operation;
use sanctuary_proto::RefusalCode;
use sanctuary_proto::wire::{FestivalCheckinOp, Refusal};
use sanctuary_store::{ConsentWrite, StateChange};
use time::OffsetDateTime;

use super::{Done, EntryFields, RunCx, VerdictCx};
use crate::NodeError;
use crate::consent::refusal;
use crate::engine::Outcome;

pub(super) fn verdict(
    op: &FestivalCheckinOp,
    cx: &VerdictCx<'_>,
) -> Result<Vec<ConsentWrite>, Refusal> {
    let req = sanctuary_weave::EvaluateRequest {
        event: op.event.clone(),
        authorization: op.authorization.clone(),
    };
    let subject = sanctuary_weave::check_evaluate_request(
        &req,
        cx.consent.policy().network(),
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| refusal(RefusalCode::WeaveRequestRefused, e.to_string()))?;
    if !cx.view.subject_enrolled(&subject.0) {
        return Err(refusal(
            RefusalCode::NotEnrolled,
            "festival check-in needs an enrollment bound to the requesting key",
        ));
    }
    Ok(Vec::new())
}

pub(super) fn entry(op: &FestivalCheckinOp) -> EntryFields {
    EntryFields::new(
        Operation::FestivalCheckin,
        Some(&op.event),
        "festival_checkin",
        op.audit_tag,
    )
}

pub(super) async fn run(op: &FestivalCheckinOp, cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    cx.node
        .weave
        .record_checkin(&op.authorization.subject.to_hex(), &op.event);
    Ok(Done::recorded(Outcome::Recorded, StateChange::None))
}
