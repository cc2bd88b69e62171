//! One module per operation. Each owns the three things that make an
//! operation: its consent/policy verdict (checked by every node for
//! itself), the fields of its log entry (derived from the announced op
//! alone, so all three logs are byte-identical), and its computation. The
//! engine runs them in that order; adding an operation is one module and
//! one line in [`dispatch!`].

use base64::Engine as _;
use sanctuary_consent::ConsentToken;
use sanctuary_log::{AuditTag, Operation};
use sanctuary_mpc::{BitShares, Session};
use sanctuary_net::MeshSession;
use sanctuary_proto::seal::seal;
use sanctuary_proto::wire::{Op, OpStart, Refusal, SignedResult, result_message};
use sanctuary_proto::{SealLabel, seal_context, share_to_bytes};
use sanctuary_share::ShareVec;
use sanctuary_store::{ConsentWrite, StateChange};
use sanctuary_template::TemplateKind;

use crate::NodeError;
use crate::consent::{Enrollments, NodeConsent};
use crate::engine::{Node, Outcome, share_from_bytes};
use crate::state::State;
use crate::veto::Approved;

mod cosign;
mod dedupe;
mod delete;
mod enroll;
mod expire;
mod festival;
mod identify;
mod revoke;
mod verify;

pub(crate) use cosign::cosign;
pub(crate) use enroll::fields as enroll_entry;

/// Runs `$body` with `$o` bound to the op's payload, in the module of its
/// kind (`$m`): the one registration of every operation.
macro_rules! dispatch {
    ($op:expr, $m:ident, $o:ident => $body:expr) => {
        match $op {
            Op::Enroll($o) => {
                use enroll as $m;
                $body
            }
            Op::Verify($o) => {
                use verify as $m;
                $body
            }
            Op::Dedupe($o) => {
                use dedupe as $m;
                $body
            }
            Op::Delete($o) => {
                use delete as $m;
                $body
            }
            Op::Expire($o) => {
                use expire as $m;
                $body
            }
            Op::FestivalCheckin($o) => {
                use festival as $m;
                $body
            }
            Op::Revoke($o) => {
                use revoke as $m;
                $body
            }
            Op::Identify($o) => {
                use identify as $m;
                $body
            }
            Op::Cosign($o) => {
                use cosign as $m;
                $body
            }
        }
    };
}

/// What a verdict may consult: the node's consent state and its view of
/// the enrollments, at the op's request id and time.
pub(crate) struct VerdictCx<'a> {
    /// This node.
    pub(crate) party: sanctuary_share::PartyId,
    pub(crate) consent: &'a NodeConsent,
    pub(crate) request_id: &'a str,
    pub(crate) time_ms: u64,
    /// Digests of the three probe shares (checked against this node's own
    /// box before the verdict); empty for ops without shares.
    pub(crate) share_digests: &'a [[u8; 32]],
    pub(crate) view: &'a dyn Enrollments,
}

/// This node's verdict on `op`: what to persist with the entry, or its
/// refusal. Free text the entry would carry (relying party, site, event)
/// is checked first, for every op.
pub(crate) fn verdict(op: &Op, cx: &VerdictCx<'_>) -> Result<Vec<ConsentWrite>, Refusal> {
    if let Some(text) = free_text(op).filter(|s| !valid_text(s)) {
        return Err(crate::consent::refusal(
            sanctuary_proto::RefusalCode::BadRelyingParty,
            format!(
                "{} characters given where an identifier of 1-128 characters of [A-Za-z0-9._:/-] goes; it is not logged",
                text.chars().count()
            ),
        ));
    }
    dispatch!(op, m, o => m::verdict(o, cx))
}

/// The free text an op would write into the public log.
fn free_text(op: &Op) -> Option<&str> {
    match op {
        Op::Enroll(o) => Some(&o.site),
        Op::Verify(o) => Some(&o.relying_party),
        Op::Dedupe(o) => Some(&o.relying_party),
        Op::Identify(o) => Some(&o.relying_party),
        Op::FestivalCheckin(o) => Some(&o.event),
        _ => None,
    }
}

/// The one rule for free text in the log: a relying-party identifier.
fn valid_text(s: &str) -> bool {
    sanctuary_consent::RelyingPartyId::new(s).is_ok()
}

/// The template kind of an op's probe share, for ops that carry one.
pub(crate) fn probe_kind(op: &Op) -> Option<TemplateKind> {
    match op {
        Op::Enroll(o) => Some(o.kind),
        Op::Verify(o) => Some(o.kind),
        Op::Dedupe(o) => Some(o.kind),
        _ => None,
    }
}

/// What the log entry of an op says.
#[derive(Debug)]
pub(crate) struct EntryFields {
    pub(crate) operation: Operation,
    pub(crate) relying_party: Option<String>,
    pub(crate) purpose: Option<String>,
    pub(crate) audit_tag: Option<AuditTag>,
    /// Enrollments: the share component commitments (hex).
    pub(crate) share_commitments: Option<Vec<String>>,
    /// Deletions with erasure: the entries erased (set by the engine once
    /// the deletion is carried out).
    pub(crate) erases: Option<Vec<u64>>,
}

impl EntryFields {
    fn new(
        operation: Operation,
        relying_party: Option<&str>,
        purpose: &str,
        audit_tag: Option<AuditTag>,
    ) -> Self {
        // Free text reaches the public log only if it is a valid
        // identifier: anything else (personal data, control characters,
        // markup) is refused by the verdict and left out of the entry.
        Self {
            operation,
            relying_party: relying_party.filter(|s| valid_text(s)).map(str::to_owned),
            purpose: Some(purpose.to_owned()).filter(|s| valid_text(s)),
            audit_tag,
            share_commitments: None,
            erases: None,
        }
    }
}

/// The log entry fields of `op`, from the op alone.
pub(crate) fn entry_fields(op: &Op) -> EntryFields {
    dispatch!(op, m, o => m::entry(o))
}

/// The audit tag a token claims (verify and dedupe entries carry it).
fn claimed_tag(token: &str) -> Option<AuditTag> {
    ConsentToken::from_base64(token)
        .ok()
        .and_then(|t| t.claimed_audit_tag())
}

/// What an approved op did: its outcome, the state change to commit with
/// its entry, and the sealed decision share for the client (match ops).
#[derive(Debug)]
pub(crate) struct Done {
    pub(crate) outcome: Outcome,
    pub(crate) change: StateChange,
    pub(crate) result: Option<SignedResult>,
}

impl Done {
    fn recorded(outcome: Outcome, change: StateChange) -> Self {
        Self {
            outcome,
            change,
            result: None,
        }
    }
}

/// The link of an op session: plain until an op needs the MPC, whose
/// session set-up costs a round.
#[derive(Debug)]
enum Link {
    Plain(MeshSession),
    Mpc(Box<Session<MeshSession>>),
    Taken,
}

/// An approved op running on this node. Only the veto round's
/// [`Approved`] makes one, and only through it can an op reach the shares.
#[derive(Debug)]
pub(crate) struct RunCx<'a> {
    approved: Approved,
    pub(crate) node: &'a Node,
    pub(crate) st: &'a mut State,
    pub(crate) start: &'a OpStart,
    link: Link,
}

impl<'a> RunCx<'a> {
    pub(crate) fn new(
        approved: Approved,
        node: &'a Node,
        st: &'a mut State,
        start: &'a OpStart,
        transport: MeshSession,
    ) -> Self {
        Self {
            approved,
            node,
            st,
            start,
            link: Link::Plain(transport),
        }
    }

    /// The MPC session, set up on first use.
    async fn session(&mut self) -> Result<&mut Session<MeshSession>, NodeError> {
        if let Link::Plain(_) = self.link {
            let Link::Plain(t) = std::mem::replace(&mut self.link, Link::Taken) else {
                return Err(NodeError::Internal("op session link lost"));
            };
            let security = match self.node.cfg.matching.security {
                sanctuary_proto::MpcSecurity::SemiHonest => sanctuary_mpc::Security::SemiHonest,
                sanctuary_proto::MpcSecurity::Malicious => sanctuary_mpc::Security::Malicious,
            };
            let mut sess = Session::setup(t).await?.with_security(security);
            if let Some((at, mask)) = self.node.faults.mpc_deviation {
                sess = sess.deviate_at(at, mask);
            }
            self.link = Link::Mpc(Box::new(sess));
        }
        match &mut self.link {
            Link::Mpc(s) => Ok(s),
            _ => Err(NodeError::Internal("op session link lost")),
        }
    }

    /// This node's share of the probe the client sealed to it.
    fn open_share(&mut self, kind: TemplateKind) -> Result<ShareVec<u32>, NodeError> {
        let party = self.node.party();
        let sealed = self
            .start
            .share
            .as_ref()
            .ok_or_else(|| NodeError::BadRequest("missing share".into()))?;
        let ctx = seal_context(
            SealLabel::Share,
            &self.start.request_id,
            party,
            self.start.client_key.as_deref(),
        );
        let bytes = self
            .node
            .seal
            .open(sealed, &ctx)
            .map_err(|e| NodeError::BadRequest(format!("share for {party}: {e}")))?;
        share_from_bytes(party, &bytes, self.st.kind(kind).gallery.share_len())
    }

    /// Matches the probe against gallery entries `range` of `kind`: the
    /// one place an op computes on shares, and it needs the approval.
    async fn match_probe(
        &mut self,
        kind: TemplateKind,
        probe: &ShareVec<u32>,
        range: std::ops::Range<usize>,
    ) -> Result<BitShares, NodeError> {
        self.session().await?;
        let Link::Mpc(sess) = &mut self.link else {
            return Err(NodeError::Internal("op session link lost"));
        };
        let gallery = &self.st.kind(kind).gallery;
        crate::compute::match_probe(&self.approved, sess, gallery, probe, range).await
    }

    /// Opens `bits` to the three nodes.
    async fn open_to_nodes(&mut self, bits: &BitShares) -> Result<Vec<bool>, NodeError> {
        self.session().await?;
        let Link::Mpc(sess) = &mut self.link else {
            return Err(NodeError::Internal("op session link lost"));
        };
        crate::compute::open_to_nodes(&self.approved, sess, bits).await
    }

    /// Seals this node's decision share to the client's key and signs it
    /// with the node's identity key. Under malicious security every message
    /// of the computation is proven first: nothing leaves for the client
    /// before the proofs pass.
    async fn seal_result(&mut self, bits: &BitShares) -> Result<SignedResult, NodeError> {
        if let Link::Mpc(sess) = &mut self.link {
            sess.verify().await?;
        }
        let party = self.node.party();
        let key = self
            .start
            .client_key
            .as_ref()
            .ok_or_else(|| NodeError::BadRequest("missing client_key".into()))?;
        let ctx = seal_context(SealLabel::Result, &self.start.request_id, party, None);
        let sealed = seal(key, &ctx, &share_to_bytes(bits.words()))
            .map_err(|e| NodeError::BadRequest(format!("client_key: {e}")))?;
        let message = result_message(
            &self.start.request_id,
            party,
            key,
            &self.start.share_digests,
            &sealed,
        );
        let signature =
            base64::engine::general_purpose::STANDARD.encode(self.node.signer.sign(&message));
        Ok(SignedResult {
            party,
            sealed,
            signature,
        })
    }

    /// Bytes this node sent in the op's MPC.
    pub(crate) fn bytes_sent(&self) -> u64 {
        match &self.link {
            Link::Mpc(s) => s.stats().bytes_sent,
            _ => 0,
        }
    }

    /// The op session's link, to return the result on.
    pub(crate) fn into_transport(self) -> Result<MeshSession, NodeError> {
        match self.link {
            Link::Plain(t) => Ok(t),
            Link::Mpc(s) => Ok(s.into_transport()),
            Link::Taken => Err(NodeError::Internal("op session link lost")),
        }
    }
}

/// Runs an approved op's computation.
pub(crate) async fn run(cx: &mut RunCx<'_>) -> Result<Done, NodeError> {
    let start: &OpStart = cx.start;
    dispatch!(&start.op, m, o => m::run(o, cx).await)
}
