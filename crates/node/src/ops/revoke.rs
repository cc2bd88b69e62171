//! A subject's revocation of consent tokens (one, or all issued before a
//! time), stored with its log entry.

use sanctuary_consent::RevocationScope;
use sanctuary_log::Operation;
use sanctuary_proto::wire::{Refusal, RevokeOp};
use sanctuary_store::{ConsentWrite, RevocationRow, StateChange};

use super::{Done, EntryFields, RunCx, VerdictCx};
use crate::NodeError;
use crate::consent::{ms, refuse};
use crate::engine::Outcome;

pub(super) fn verdict(op: &RevokeOp, cx: &VerdictCx<'_>) -> Result<Vec<ConsentWrite>, Refusal> {
    let v = cx
        .consent
        .gate()
        .check_revocation(&op.statement)
        .map_err(refuse)?;
    let subject = v.subject().to_hex();
    let row = match &v.statement().scope {
        RevocationScope::Token(id) => RevocationRow::Token {
            subject,
            token: id.to_bytes(),
        },
        RevocationScope::IssuedBefore(t) => RevocationRow::IssuedBefore {
            subject,
            before_ms: ms(*t),
        },
    };
    Ok(vec![ConsentWrite::Revocation(row)])
}

pub(super) fn entry(op: &RevokeOp) -> EntryFields {
    EntryFields::new(
        Operation::RevokeConsent,
        None,
        "revoke_consent",
        op.audit_tag,
    )
}

pub(super) async fn run(_op: &RevokeOp, _cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    Ok(Done::recorded(Outcome::Recorded, StateChange::None))
}
