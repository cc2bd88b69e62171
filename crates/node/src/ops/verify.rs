//! 1:1 verification: the probe against one enrollment, with the consent
//! of the subject that enrollment is bound to. Only the client can open
//! the decision.

use sanctuary_consent::{ConsentToken, Request};
use sanctuary_log::Operation;
use sanctuary_proto::wire::{Refusal, VerifyOp};
use sanctuary_store::{ConsentWrite, StateChange};

use super::{Done, EntryFields, RunCx, VerdictCx, claimed_tag};
use crate::NodeError;
use crate::consent::{bound_subject, from_ms, refusal, refuse, rp, token_use};
use crate::engine::Outcome;

pub(super) fn verdict(op: &VerifyOp, cx: &VerdictCx<'_>) -> Result<Vec<ConsentWrite>, Refusal> {
    let subject = bound_subject(cx.view, &op.enrollment_id)?;
    // Retention is each node's own duty: past it, by this node's policy and
    // clock, the enrollment is not used, even before it is swept.
    if let Some((_, last_used_ms)) = cx.view.enrollment(&op.enrollment_id)
        && cx
            .consent
            .policy()
            .retention_expired(from_ms(last_used_ms), time::OffsetDateTime::now_utc())
    {
        return Err(refusal(
            sanctuary_proto::RefusalCode::RetentionExpired,
            format!(
                "enrollment {} is past this node's retention period",
                op.enrollment_id
            ),
        ));
    }
    let token = ConsentToken::from_base64(op.token.clone()).map_err(|e| refuse(e.into()))?;
    let req = Request::Verify {
        relying_party: rp(&op.relying_party)?,
    };
    let checked = cx
        .consent
        .gate()
        .check(&token, &subject, &req)
        .map_err(refuse)?;
    let mut w: Vec<ConsentWrite> = token_use(&checked).into_iter().collect();
    w.push(ConsentWrite::Touch {
        id: op.enrollment_id,
        time_ms: i64::try_from(cx.time_ms).unwrap_or(i64::MAX),
    });
    Ok(w)
}

pub(super) fn entry(op: &VerifyOp) -> EntryFields {
    EntryFields::new(
        Operation::Verify,
        Some(&op.relying_party),
        "verify",
        claimed_tag(&op.token),
    )
}

pub(super) async fn run(op: &VerifyOp, cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    let share = cx.open_share(op.kind)?;
    let idx = cx
        .st
        .kind(op.kind)
        .ids
        .iter()
        .position(|i| *i == op.enrollment_id)
        .ok_or_else(|| NodeError::NotFound(op.enrollment_id))?;
    let bits = cx.match_probe(op.kind, &share, idx..idx + 1).await?;
    Ok(Done {
        outcome: Outcome::Matched,
        change: StateChange::None,
        result: Some(cx.seal_result(&bits).await?),
    })
}
