//! Retention: the coordinator proposes deleting an enrollment whose
//! retention ran out; every node checks the expiry against its own record
//! of the last use and its own clock.

use sanctuary_log::Operation;
use sanctuary_proto::RefusalCode;
use sanctuary_proto::wire::{ExpireOp, Refusal};
use sanctuary_store::{ConsentWrite, StateChange};
use time::OffsetDateTime;

use super::{Done, EntryFields, RunCx, VerdictCx};
use crate::NodeError;
use crate::consent::{from_ms, refusal};
use crate::engine::Outcome;

pub(super) fn verdict(op: &ExpireOp, cx: &VerdictCx<'_>) -> Result<Vec<ConsentWrite>, Refusal> {
    let id = &op.enrollment_id;
    let Some((_, last_used_ms)) = cx.view.enrollment(id) else {
        return Err(refusal(
            RefusalCode::UnknownEnrollment,
            format!("no enrollment {id}"),
        ));
    };
    let now = from_ms(i64::try_from(cx.time_ms).unwrap_or(i64::MAX));
    let local = OffsetDateTime::now_utc();
    // Judge by the earlier of the coordinator's and this node's clocks, and
    // only if they agree within a minute: a coordinator cannot expire
    // enrollments early by lying about the time.
    if (now - local).abs() > time::Duration::minutes(1) {
        return Err(refusal(
            RefusalCode::ClockSkew,
            "the coordinator's clock differs from this node's by more than a minute",
        ));
    }
    if cx
        .consent
        .policy()
        .retention_expired(from_ms(last_used_ms), now.min(local))
    {
        Ok(Vec::new())
    } else {
        Err(refusal(
            RefusalCode::RetentionNotExpired,
            format!("enrollment {id} was used within the retention period"),
        ))
    }
}

pub(super) fn entry(_op: &ExpireOp) -> EntryFields {
    EntryFields::new(Operation::Delete, None, "retention", None)
}

pub(super) async fn run(op: &ExpireOp, _cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    Ok(Done::recorded(
        Outcome::Deleted,
        StateChange::Delete {
            id: op.enrollment_id,
        },
    ))
}
