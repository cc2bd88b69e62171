//! The node's transparency log: the sanctuary-log Merkle log over the node's
//! own database ([`NodeLogStore`] adapts [`sanctuary_store::Store`]), its
//! cosigner, and the checkpoint policy every node and client shares.
//!
//! The log *is* the network's order of operations: entry `seq` is op `seq`,
//! and a node's position is (log size, Merkle root). Each op's entry is
//! committed in the same database transaction as the op's state change
//! ([`sanctuary_log::Log::prepare`] then [`sanctuary_store::Store::apply`]).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use sanctuary_log::{
    AppendRecord, Checkpoint, CheckpointPolicy, CosignerStore, Erased, Hash, Leaf, LogStore,
    NodeIndex, NoteSigningKey, NoteVerifierKey, SignedNote, StoreError,
};
use sanctuary_share::PartyId;
use sanctuary_store::{AppliedOp, NodeHash, Store};
use zeroize::Zeroizing;

use crate::NodeError;

const LATEST_CHECKPOINT: &str = "log.latest_checkpoint";
const LAST_SIGNED: &str = "log.cosigner.last_signed";

pub use sanctuary_proto::{log_key_name, log_origin};

/// File name of a node's log signing key (signed-note private key format).
pub const LOG_KEY_FILE: &str = "log-key.txt";

/// The checkpoint policy: these three node keys, [`DEFAULT_THRESHOLD`] (2)
/// distinct signers.
pub fn checkpoint_policy(
    network: &str,
    keys: BTreeMap<PartyId, NoteVerifierKey>,
) -> Result<CheckpointPolicy, NodeError> {
    Ok(sanctuary_proto::checkpoint_policy(network, keys)?)
}

/// Loads a node's log signing key.
pub fn load_log_key(path: &Path) -> Result<NoteSigningKey, NodeError> {
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| NodeError::Key {
        path: path.to_owned(),
        message: e.to_string(),
    })?);
    NoteSigningKey::from_skey(text.trim()).map_err(|e| NodeError::Key {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// [`LogStore`] and [`CosignerStore`] over the node's database.
#[derive(Debug, Clone)]
pub struct NodeLogStore(pub Arc<Store>);

fn backend(e: sanctuary_store::StoreError) -> StoreError {
    StoreError::Backend(Box::new(e))
}

/// Converts the log crate's node hashes into the store's plain rows (for
/// [`sanctuary_store::AppliedOp::hashes`]).
pub fn node_hashes(record: &AppendRecord<'_>) -> Vec<NodeHash> {
    record
        .hashes
        .iter()
        .map(|(i, h)| NodeHash {
            level: i.level,
            index: i.index,
            hash: h.0,
        })
        .collect()
}

impl LogStore for NodeLogStore {
    async fn append(&self, record: AppendRecord<'_>) -> Result<(), StoreError> {
        let op = AppliedOp::log_only(
            record.entry.seq,
            i64::try_from(record.entry.time_ms).unwrap_or(i64::MAX),
            record.canonical.to_vec(),
            node_hashes(&record),
        );
        self.0.apply(&op).await.map_err(|e| match e {
            sanctuary_store::StoreError::OutOfOrder { expected, got } => {
                StoreError::SequenceMismatch { expected, got }
            }
            other => backend(other),
        })
    }

    async fn tree_size(&self) -> Result<u64, StoreError> {
        self.0.next_seq().await.map_err(backend)
    }

    async fn erase(&self, erased: &[Erased]) -> Result<(), StoreError> {
        // Outside an op (the node erases within the deletion's own
        // transaction instead): a log-only op would need a sequence number,
        // so this backend refuses a bare erase.
        let _ = erased;
        Err(StoreError::Backend(
            "a node erases log bodies only within the deletion that asks for it".into(),
        ))
    }

    async fn entries(&self, range: Range<u64>) -> Result<Vec<Leaf>, StoreError> {
        let rows = self.0.ops(range.start, range.end).await.map_err(backend)?;
        let size = self.0.next_seq().await.map_err(backend)?;
        if range.end > size {
            return Err(StoreError::OutOfRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        rows.iter()
            .map(|r| Leaf::from_bytes(&r.entry).map_err(|e| StoreError::Backend(Box::new(e))))
            .collect()
    }

    async fn read_hashes(&self, indices: &[NodeIndex]) -> Result<Vec<Hash>, StoreError> {
        let wanted: Vec<(u8, u64)> = indices.iter().map(|i| (i.level, i.index)).collect();
        let got = self.0.read_hashes(&wanted).await.map_err(backend)?;
        if got.len() != wanted.len() {
            return Err(StoreError::ShortRead {
                expected: wanted.len(),
                got: got.len(),
            });
        }
        Ok(got.into_iter().map(Hash).collect())
    }

    async fn latest_checkpoint(&self) -> Result<Option<SignedNote>, StoreError> {
        match self.0.meta(LATEST_CHECKPOINT).await.map_err(backend)? {
            None => Ok(None),
            Some(bytes) => {
                let text =
                    String::from_utf8(bytes).map_err(|e| StoreError::Backend(Box::new(e)))?;
                SignedNote::parse(&text)
                    .map(Some)
                    .map_err(|e| StoreError::Backend(Box::new(e)))
            }
        }
    }

    async fn put_latest_checkpoint(&self, note: &SignedNote) -> Result<(), StoreError> {
        self.0
            .set_meta(LATEST_CHECKPOINT, note.to_string().as_bytes())
            .await
            .map_err(backend)
    }
}

impl CosignerStore for NodeLogStore {
    async fn last_signed(&self) -> Result<Option<Checkpoint>, StoreError> {
        match self.0.meta(LAST_SIGNED).await.map_err(backend)? {
            None => Ok(None),
            Some(bytes) => {
                let text =
                    String::from_utf8(bytes).map_err(|e| StoreError::Backend(Box::new(e)))?;
                Checkpoint::parse(&text)
                    .map(Some)
                    .map_err(|e| StoreError::Backend(Box::new(e)))
            }
        }
    }

    async fn put_last_signed(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        self.0
            .set_meta(LAST_SIGNED, checkpoint.to_text().as_bytes())
            .await
            .map_err(backend)
    }
}
