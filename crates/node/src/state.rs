//! The node's replicated state: the log (the agreed order) and the
//! galleries it produced, one per template kind, with the ids, bound
//! subject keys and last uses of their entries, position by position.

use sanctuary_consent::Policy;
use sanctuary_log::{Cosigner, Hash, Log};
use sanctuary_mpc::Gallery;
use sanctuary_proto::EnrollmentId;
use sanctuary_share::PartyId;
use sanctuary_store::{StateChange, Store, StoredEnrollment};
use sanctuary_template::TemplateKind;

use crate::NodeError;
use crate::engine::share_from_bytes;
use crate::translog::NodeLogStore;

/// One kind's gallery and the ids (and bound subject keys) of its entries,
/// position by position.
#[derive(Debug)]
pub(crate) struct KindState {
    pub(crate) gallery: Gallery<u32>,
    pub(crate) ids: Vec<EnrollmentId>,
    pub(crate) subjects: Vec<Option<String>>,
    /// Last use (enrollment or verification), ms since the epoch.
    pub(crate) last_used: Vec<i64>,
}

/// Empty galleries for both template kinds.
pub(crate) fn empty_kinds(
    party: PartyId,
    m: &sanctuary_proto::MatchingConfig,
) -> Result<(KindState, KindState), NodeError> {
    Ok((
        KindState {
            gallery: Gallery::Embedding {
                gallery: sanctuary_mpc::EmbeddingGallery::new(party, m.embedding.dim),
                threshold: m.embedding.threshold_int(),
            },
            ids: Vec::new(),
            subjects: Vec::new(),
            last_used: Vec::new(),
        },
        KindState {
            gallery: Gallery::Iris(sanctuary_mpc::IrisGallery::new(party, m.iris)?),
            ids: Vec::new(),
            subjects: Vec::new(),
            last_used: Vec::new(),
        },
    ))
}

/// The node's replicated state: the log (the agreed order) and the
/// galleries it produced.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) log: Log<NodeLogStore>,
    pub(crate) cosigner: Cosigner<NodeLogStore>,
    pub(crate) next_seq: u64,
    pub(crate) root: Hash,
    pub(crate) embedding: KindState,
    pub(crate) iris: KindState,
}

impl State {
    pub(crate) fn kind(&mut self, kind: TemplateKind) -> &mut KindState {
        match kind {
            TemplateKind::Embedding => &mut self.embedding,
            TemplateKind::Iris => &mut self.iris,
        }
    }

    /// Fills the (empty) galleries from storage, in gallery order. Rows
    /// are streamed a page at a time and each row's share bytes are wiped
    /// and freed once its gallery row is filled, so loading holds about one
    /// copy of the shares, not two. Returns the rest of what was loaded.
    pub(crate) async fn load(
        &mut self,
        party: PartyId,
        store: &Store,
    ) -> Result<sanctuary_store::Loaded, NodeError> {
        let mut rejected = None;
        let loaded = store
            .load_with(|e| {
                self.push_row(party, e).map_err(|err| {
                    rejected = Some(err);
                    sanctuary_store::StoreError::Corrupt("an enrollment row the node cannot use")
                })
            })
            .await;
        match (rejected, loaded) {
            (Some(e), _) => Err(e),
            (None, r) => Ok(r?),
        }
    }

    fn push_row(&mut self, party: PartyId, e: StoredEnrollment) -> Result<(), NodeError> {
        let kind = parse_kind(&e.kind)?;
        let ks = self.kind(kind);
        let share = share_from_bytes(party, &e.share, ks.gallery.share_len())?;
        ks.gallery.push(&share)?;
        ks.ids.push(e.id);
        ks.subjects.push(e.subject);
        ks.last_used.push(e.last_used_ms);
        Ok(())
    }

    /// Every enrollment id held.
    pub(crate) fn all_ids(&self) -> std::collections::BTreeSet<EnrollmentId> {
        self.embedding
            .ids
            .iter()
            .chain(&self.iris.ids)
            .copied()
            .collect()
    }

    /// Enrolled count per kind.
    pub(crate) fn counts(&self) -> (usize, usize) {
        (self.embedding.ids.len(), self.iris.ids.len())
    }

    /// Enrollments whose retention ran out by `now`, by `policy`.
    pub(crate) fn expired(&self, policy: &Policy, now: time::OffsetDateTime) -> Vec<EnrollmentId> {
        [&self.embedding, &self.iris]
            .into_iter()
            .flat_map(|ks| ks.ids.iter().zip(&ks.last_used))
            .filter(|(_, ms)| {
                let t =
                    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(**ms) * 1_000_000)
                        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
                policy.retention_expired(t, now)
            })
            .map(|(id, _)| *id)
            .collect()
    }
}

impl crate::consent::Enrollments for State {
    fn enrollment(&self, id: &EnrollmentId) -> Option<(Option<String>, i64)> {
        [&self.embedding, &self.iris].into_iter().find_map(|ks| {
            ks.ids.iter().position(|i| i == id).map(|p| {
                (
                    ks.subjects.get(p).cloned().flatten(),
                    ks.last_used.get(p).copied().unwrap_or(0),
                )
            })
        })
    }

    fn subject_enrolled(&self, subject: &str) -> bool {
        [&self.embedding, &self.iris]
            .into_iter()
            .any(|ks| ks.subjects.iter().any(|s| s.as_deref() == Some(subject)))
    }

    fn subject_enrolled_kind(&self, subject: &str, kind: sanctuary_template::TemplateKind) -> bool {
        let ks = match kind {
            sanctuary_template::TemplateKind::Embedding => &self.embedding,
            sanctuary_template::TemplateKind::Iris => &self.iris,
        };
        ks.subjects.iter().any(|s| s.as_deref() == Some(subject))
    }
}

impl State {
    /// Applies a committed state change to the galleries (after the
    /// database transaction that made it durable).
    pub(crate) fn apply(
        &mut self,
        party: PartyId,
        change: &StateChange,
        time_ms: i64,
    ) -> Result<(), NodeError> {
        match change {
            StateChange::Enroll {
                id,
                share,
                kind,
                subject,
            } => {
                let kind = parse_kind(kind)?;
                let ks = self.kind(kind);
                let s = share_from_bytes(party, share, ks.gallery.share_len())?;
                ks.gallery.push(&s)?;
                ks.ids.push(*id);
                ks.subjects.push(subject.clone());
                ks.last_used.push(time_ms);
            }
            StateChange::Delete { id } => {
                for k in [TemplateKind::Embedding, TemplateKind::Iris] {
                    let ks = self.kind(k);
                    if let Some(idx) = ks.ids.iter().position(|i| i == id) {
                        ks.gallery.remove(idx)?;
                        ks.ids.remove(idx);
                        ks.subjects.remove(idx);
                        ks.last_used.remove(idx);
                    }
                }
            }
            StateChange::None => {}
        }
        Ok(())
    }

    /// Records a use (`ConsentWrite::Touch`) in memory.
    pub(crate) fn touch(&mut self, id: &EnrollmentId, time_ms: i64) {
        for k in [TemplateKind::Embedding, TemplateKind::Iris] {
            let ks = self.kind(k);
            if let Some(idx) = ks.ids.iter().position(|i| i == id) {
                ks.last_used[idx] = time_ms;
            }
        }
    }
}

pub(crate) fn parse_kind(s: &str) -> Result<TemplateKind, NodeError> {
    match s {
        "embedding" => Ok(TemplateKind::Embedding),
        "iris" => Ok(TemplateKind::Iris),
        other => Err(NodeError::OutOfStep(format!(
            "stored enrollment has unknown kind {other:?}"
        ))),
    }
}
