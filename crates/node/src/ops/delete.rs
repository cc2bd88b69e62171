//! Deletion at the subject's signed request: the enrollment's shares are
//! removed from every node in the transaction that logs it.

use sanctuary_log::Operation;
use sanctuary_proto::RefusalCode;
use sanctuary_proto::wire::{DeleteOp, Refusal, deletion_commitment};
use sanctuary_store::{ConsentWrite, StateChange};

use super::{Done, EntryFields, RunCx, VerdictCx};
use crate::NodeError;
use crate::consent::{bound_subject, refusal, refuse};
use crate::engine::Outcome;

pub(super) fn verdict(op: &DeleteOp, cx: &VerdictCx<'_>) -> Result<Vec<ConsentWrite>, Refusal> {
    let subject = bound_subject(cx.view, &op.enrollment_id)?;
    if op
        .statement
        .statement
        .template_commitment
        .is_some_and(|c| c != deletion_commitment(&op.enrollment_id))
    {
        return Err(refusal(
            RefusalCode::StatementWrongRequest,
            "the deletion request was signed for another enrollment",
        ));
    }
    let (v, _) = cx
        .consent
        .gate()
        .admit_deletion(&op.statement, &subject)
        .map_err(refuse)?;
    Ok(vec![cx.consent.nonce_use(v.subject(), v.statement().nonce)])
}

pub(super) fn entry(op: &DeleteOp) -> EntryFields {
    EntryFields::new(Operation::Delete, None, "delete", op.audit_tag)
}

pub(super) async fn run(op: &DeleteOp, _cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    Ok(Done::recorded(
        Outcome::Deleted,
        StateChange::Delete {
            id: op.enrollment_id,
        },
    ))
}
