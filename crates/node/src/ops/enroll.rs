//! Enrollment: deduplicate the new template against the gallery of its
//! kind, then store it if unique. The duplicate bit is opened to the nodes,
//! which must learn it to decide whether to store.

use sanctuary_log::Operation;
use sanctuary_proto::RefusalCode;
use sanctuary_proto::wire::{EnrollOp, Refusal, enrollment_commitment, parse_components};
use sanctuary_store::{ConsentWrite, StateChange};

use super::{Done, EntryFields, RunCx, VerdictCx};
use crate::NodeError;
use crate::consent::{refusal, refuse, rp};
use crate::engine::Outcome;

pub(super) fn verdict(op: &EnrollOp, cx: &VerdictCx<'_>) -> Result<Vec<ConsentWrite>, Refusal> {
    let site = rp(&op.site)?;
    // The subject signed this request, these three shares and their
    // components: a node handed another box (by the coordinator or the
    // path) refuses. That its own share matches the components is checked
    // where the box is opened.
    let components = parse_components(&op.components).ok_or_else(|| {
        refusal(
            RefusalCode::ShareNotBound,
            "the enrollment does not carry three 32-byte share component commitments",
        )
    })?;
    if cx.share_digests.len() != 3
        || op.statement.statement.template_commitment
            != enrollment_commitment(cx.request_id, op.kind, cx.share_digests, &components)
    {
        return Err(refusal(
            RefusalCode::StatementWrongRequest,
            "the enrollment statement was signed for another request or other shares",
        ));
    }
    // One enrollment per modality per key: with personhood needing every
    // modality, one wallet cannot stand for two people.
    if cx
        .view
        .subject_enrolled_kind(&op.statement.subject.to_hex(), op.kind)
    {
        return Err(refusal(
            RefusalCode::AlreadyEnrolled,
            format!("this key already holds an {} enrollment", op.kind),
        ));
    }
    // Demonstrable consent: the subject signed this node's policy (its
    // purposes, retention, operator) and the notice they were shown.
    let accepted = &op.statement.statement.accepted;
    if accepted.policy_digests.len() != 3
        || accepted.policy_digests[cx.party.index()].0 != cx.consent.policy().digest()
    {
        return Err(refusal(
            RefusalCode::PolicyNotAccepted,
            format!(
                "the subject did not accept {}'s policy (sign its digest from /v1/policy)",
                cx.party
            ),
        ));
    }
    let (v, _) = cx
        .consent
        .gate()
        .admit_enrollment(&op.statement, &site)
        .map_err(refuse)?;
    let record = serde_json::to_vec(&op.statement).map_err(|e| {
        refusal(
            RefusalCode::StatementMalformed,
            format!("cannot keep the statement: {e}"),
        )
    })?;
    Ok(vec![
        cx.consent.nonce_use(v.subject(), v.statement().nonce),
        ConsentWrite::Record {
            id: op.enrollment_id,
            record,
        },
    ])
}

pub(super) fn entry(op: &EnrollOp) -> EntryFields {
    fields(&op.site, op.audit_tag, op.components.clone())
}

/// The entry of an enrollment at `site` whose share components have the
/// commitments `components` (also what preloaded ones get).
pub(crate) fn fields(
    site: &str,
    audit_tag: Option<sanctuary_log::AuditTag>,
    components: Vec<String>,
) -> EntryFields {
    let mut f = EntryFields::new(Operation::Enroll, Some(site), "enroll", audit_tag);
    f.share_commitments = Some(components);
    f
}

pub(super) async fn run(op: &EnrollOp, cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    let share = cx.open_share(op.kind)?;
    let n = cx.st.kind(op.kind).gallery.len();
    let duplicate = if n == 0 {
        false
    } else {
        let bits = cx.match_probe(op.kind, &share, 0..n).await?;
        cx.open_to_nodes(&bits)
            .await?
            .first()
            .copied()
            .unwrap_or(false)
    };
    Ok(if duplicate {
        Done::recorded(Outcome::AlreadyEnrolled, StateChange::None)
    } else {
        let change = StateChange::Enroll {
            id: op.enrollment_id,
            kind: op.kind.to_string(),
            share: sanctuary_proto::share_to_bytes(&share),
            subject: Some(op.statement.subject.to_hex()),
        };
        Done::recorded(Outcome::Enrolled(op.enrollment_id), change)
    })
}
