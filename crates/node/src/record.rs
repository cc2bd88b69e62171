//! The durable record of one operation: its log entry (with the Merkle
//! hashes it adds), its state change and its consent writes, built the same
//! way by every node's append and by [`Preload`], which fills stores
//! offline for benchmarks.

use sanctuary_log::{
    Entry, Log, LogStore, MemoryStore, NewEntry, Outcome as LogOutcome, RequestId, Salt,
};
use sanctuary_proto::EnrollmentId;
use sanctuary_share::PartyId;
use sanctuary_store::{AppliedOp, ConsentWrite, StateChange};
use sanctuary_template::TemplateKind;
use zeroize::Zeroizing;

use crate::NodeError;
use crate::ops::EntryFields;
use crate::translog::{log_origin, node_hashes};

/// Op `seq`'s record from its entry fields, prepared against `log` (which
/// must stand at `seq`).
#[allow(clippy::too_many_arguments)] // the parts of one record, named
pub(crate) async fn build<S: LogStore>(
    log: &Log<S>,
    seq: u64,
    time_ms: u64,
    request: RequestId,
    fields: EntryFields,
    outcome: LogOutcome,
    change: StateChange,
    consent: Vec<ConsentWrite>,
    salt: Salt,
) -> Result<(AppliedOp, Entry), NodeError> {
    let entry = NewEntry {
        time_ms,
        proposer: PartyId::P0,
        operation: fields.operation,
        outcome,
        relying_party: fields.relying_party,
        purpose: fields.purpose,
        request,
        audit_tag: fields.audit_tag,
        share_commitments: fields.share_commitments,
        salt,
        erases: fields.erases,
    }
    .with_seq(seq);
    let prepared = log.prepare(entry.clone()).await?;
    let record = prepared.record();
    let applied = AppliedOp {
        seq,
        time_ms: i64::try_from(time_ms).unwrap_or(i64::MAX),
        entry: record.canonical.to_vec(),
        hashes: node_hashes(&record),
        change,
        consent,
        erase: Vec::new(),
    };
    Ok((applied, entry))
}

/// Builds, offline, the records three nodes would have appended for a run
/// of enrollments, so a benchmark can fill their stores with a large
/// gallery quickly (`Store::apply_batch`) and start the nodes on it. The
/// entries are those of real enrollments at site `site` (no audit tag: no
/// subject will audit them).
#[derive(Debug)]
pub struct Preload {
    log: Log<MemoryStore>,
    next_seq: u64,
    site: String,
}

impl Preload {
    /// A preload for network `network`, from an empty log.
    pub fn new(network: &str, site: &str) -> Result<Self, NodeError> {
        Ok(Self {
            log: Log::new(&log_origin(network), MemoryStore::new())?,
            next_seq: 0,
            site: site.to_owned(),
        })
    }

    /// The next enrollment's records, one per party: `shares[i]` is party
    /// `i`'s share bytes (`sanctuary_proto::share_to_bytes`), `subject` the
    /// key it is bound to (hex).
    pub async fn enroll(
        &mut self,
        time_ms: u64,
        id: EnrollmentId,
        kind: TemplateKind,
        shares: [Zeroizing<Vec<u8>>; 3],
        subject: Option<String>,
    ) -> Result<[AppliedOp; 3], NodeError> {
        let change = |share| StateChange::Enroll {
            id,
            kind: kind.to_string(),
            share,
            subject: subject.clone(),
        };
        let request: [u8; 16] = rand::random();
        let request_hex = hex::encode(request);
        let components = shares
            .iter()
            .zip(PartyId::ALL)
            .map(|(share, j)| {
                hex::encode(sanctuary_proto::wire::component_commitment(
                    &request_hex,
                    j,
                    &share[..share.len() / 2],
                ))
            })
            .collect();
        let [s0, s1, s2] = shares;
        let (first, entry) = build(
            &self.log,
            self.next_seq,
            time_ms,
            RequestId(request),
            crate::ops::enroll_entry(&self.site, None, components),
            LogOutcome::Performed,
            change(s0),
            Vec::new(),
            Salt::random(&mut rand::rng()),
        )
        .await?;
        self.log.append_entry(&entry).await?;
        self.next_seq += 1;
        // The three parties' entries are byte-identical; only the share differs.
        let same = |share| AppliedOp {
            seq: first.seq,
            time_ms: first.time_ms,
            entry: first.entry.clone(),
            hashes: first.hashes.clone(),
            change: change(share),
            consent: Vec::new(),
            erase: Vec::new(),
        };
        let (second, third) = (same(s1), same(s2));
        Ok([first, second, third])
    }
}
