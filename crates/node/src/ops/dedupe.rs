//! 1:N deduplication: "is this person already enrolled?", asked by an
//! enrollment site with the consent of the person in front of it. Only
//! the client can open the one bit.

use sanctuary_consent::{ConsentToken, Request};
use sanctuary_log::Operation;
use sanctuary_proto::RefusalCode;
use sanctuary_proto::wire::{DedupeOp, Refusal};
use sanctuary_store::{ConsentWrite, StateChange};

use super::{Done, EntryFields, RunCx, VerdictCx, claimed_tag};
use crate::NodeError;
use crate::consent::{parse_subject, refusal, refuse, rp, token_use};
use crate::engine::Outcome;

pub(super) fn verdict(op: &DedupeOp, cx: &VerdictCx<'_>) -> Result<Vec<ConsentWrite>, Refusal> {
    let subject = parse_subject(&op.subject)
        .ok_or_else(|| refusal(RefusalCode::BadSubject, "subject is not a hex Ed25519 key"))?;
    let token = ConsentToken::from_base64(op.token.clone()).map_err(|e| refuse(e.into()))?;
    let req = Request::Dedupe {
        site: rp(&op.relying_party)?,
    };
    let checked = cx
        .consent
        .gate()
        .check(&token, &subject, &req)
        .map_err(refuse)?;
    Ok(token_use(&checked).into_iter().collect())
}

pub(super) fn entry(op: &DedupeOp) -> EntryFields {
    EntryFields::new(
        Operation::Dedupe,
        Some(&op.relying_party),
        "dedupe",
        claimed_tag(&op.token),
    )
}

pub(super) async fn run(op: &DedupeOp, cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    let share = cx.open_share(op.kind)?;
    let n = cx.st.kind(op.kind).gallery.len();
    let bits = cx.match_probe(op.kind, &share, 0..n).await?;
    Ok(Done {
        outcome: Outcome::Matched,
        change: StateChange::None,
        result: Some(cx.seal_result(&bits).await?),
    })
}
