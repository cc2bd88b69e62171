//! Storage traits and the in-memory backend.
//!
//! The traits are **async** (native `async fn` in traits, written as
//! `fn .. -> impl Future<Output = ..> + Send` so that callers can hold the
//! futures across `tokio::spawn`): the node crate's SQLite/PostgreSQL backends
//! use sqlx, which is async-only. Consequence: the traits are not
//! dyn-compatible; use them as generic parameters (`Log<S: LogStore>`).
//!
//! Backends store opaque values; all Merkle arithmetic stays in this crate
//! ([`Log`](crate::Log) computes which node hashes an append completes and
//! hands them over with the entry).

use std::future::Future;
use std::ops::Range;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::checkpoint::Checkpoint;
use crate::entry::{Entry, Erased, Leaf};
use crate::error::StoreError;
use crate::hash::Hash;
use crate::merkle::{HashReader, MemoryTree, NodeIndex};
use crate::note::SignedNote;

/// One append, handed to [`LogStore::append`].
#[derive(Debug, Clone, Copy)]
pub struct AppendRecord<'a> {
    /// The entry; `entry.seq` is the new leaf index.
    pub entry: &'a Entry,
    /// Its canonical bytes (`entry.to_bytes()`), for backends storing bytes.
    pub canonical: &'a [u8],
    /// Node hashes this append completes: `(0, seq)` first, then its
    /// completed ancestors in increasing level.
    pub hashes: &'a [(NodeIndex, Hash)],
}

/// Durable storage of one log replica.
pub trait LogStore: Send + Sync {
    /// Appends an entry and its completed node hashes atomically. Must fail
    /// with [`StoreError::SequenceMismatch`] unless `record.entry.seq` equals
    /// the current size.
    fn append(
        &self,
        record: AppendRecord<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Appends consecutive entries. Backends should override this to write
    /// the batch in one transaction; the default appends one at a time, so a
    /// failure part-way leaves a prefix of the batch appended (still a valid
    /// log).
    fn append_batch(
        &self,
        records: &[AppendRecord<'_>],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move {
            for r in records {
                self.append(*r).await?;
            }
            Ok(())
        }
    }

    /// Number of entries.
    fn tree_size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Leaves with sequence numbers in `range` (which must lie within the
    /// log): entries, or what erasure left of them.
    fn entries(
        &self,
        range: Range<u64>,
    ) -> impl Future<Output = Result<Vec<Leaf>, StoreError>> + Send;

    /// Replaces the bodies of earlier entries by their erased form
    /// (all or nothing). The Merkle hashes are untouched: an erased leaf
    /// hashes as its entry did.
    fn erase(&self, erased: &[Erased]) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stored node hashes, in the order asked for.
    fn read_hashes(
        &self,
        indices: &[NodeIndex],
    ) -> impl Future<Output = Result<Vec<Hash>, StoreError>> + Send;

    /// The latest co-signed checkpoint this replica published.
    fn latest_checkpoint(
        &self,
    ) -> impl Future<Output = Result<Option<SignedNote>, StoreError>> + Send;

    /// Records a new co-signed checkpoint.
    fn put_latest_checkpoint(
        &self,
        note: &SignedNote,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Durable state of a [`Cosigner`](crate::Cosigner): the last tree head it
/// signed. `put_last_signed` must be durable before it returns (the cosigner
/// releases its signature only afterwards).
pub trait CosignerStore: Send + Sync {
    /// The last checkpoint this node signed, if any.
    fn last_signed(&self) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send;

    /// Records that this node signed `checkpoint`.
    fn put_last_signed(
        &self,
        checkpoint: &Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// In-memory [`LogStore`] and [`CosignerStore`] (tests, demos, benches).
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
}

#[derive(Debug, Default)]
struct MemoryInner {
    entries: Vec<Leaf>,
    tree: MemoryTree,
    latest: Option<SignedNote>,
    last_signed: Option<Checkpoint>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, MemoryInner> {
        // A panic while holding the lock cannot leave the data half-written
        // (every mutation is checked before it starts), so poisoning is ignored.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl MemoryInner {
    fn append(&mut self, record: AppendRecord<'_>) -> Result<(), StoreError> {
        let size = self.entries.len() as u64;
        if record.entry.seq != size {
            return Err(StoreError::SequenceMismatch {
                expected: size,
                got: record.entry.seq,
            });
        }
        if record.hashes.first().map(|(i, _)| *i) != Some(NodeIndex::new(0, size)) {
            return Err(StoreError::MissingHash(NodeIndex::new(0, size)));
        }
        self.tree.store(record.hashes);
        self.entries.push(Leaf::Entry(record.entry.clone()));
        Ok(())
    }
}

impl LogStore for MemoryStore {
    async fn append(&self, record: AppendRecord<'_>) -> Result<(), StoreError> {
        self.lock().append(record)
    }

    async fn append_batch(&self, records: &[AppendRecord<'_>]) -> Result<(), StoreError> {
        let mut g = self.lock();
        // Check the whole batch first so that it is all-or-nothing.
        for (i, r) in (g.entries.len() as u64..).zip(records) {
            if r.entry.seq != i {
                return Err(StoreError::SequenceMismatch {
                    expected: i,
                    got: r.entry.seq,
                });
            }
        }
        records.iter().try_for_each(|r| g.append(*r))
    }

    async fn tree_size(&self) -> Result<u64, StoreError> {
        Ok(self.lock().entries.len() as u64)
    }

    async fn erase(&self, erased: &[Erased]) -> Result<(), StoreError> {
        let mut g = self.lock();
        let size = g.entries.len() as u64;
        if let Some(e) = erased.iter().find(|e| e.seq >= size) {
            return Err(StoreError::OutOfRange {
                start: e.seq,
                end: e.seq + 1,
                size,
            });
        }
        for e in erased {
            // Invariant: checked above that seq < entries.len().
            g.entries[e.seq as usize] = Leaf::Erased(e.clone());
        }
        Ok(())
    }

    async fn entries(&self, range: Range<u64>) -> Result<Vec<Leaf>, StoreError> {
        let g = self.lock();
        let size = g.entries.len() as u64;
        if range.start > range.end || range.end > size {
            return Err(StoreError::OutOfRange {
                start: range.start,
                end: range.end,
                size,
            });
        }
        // Invariant: both bounds are <= entries.len(), a usize.
        Ok(g.entries[range.start as usize..range.end as usize].to_vec())
    }

    async fn read_hashes(&self, indices: &[NodeIndex]) -> Result<Vec<Hash>, StoreError> {
        let g = self.lock();
        indices.iter().map(|i| g.tree.read(*i)).collect()
    }

    async fn latest_checkpoint(&self) -> Result<Option<SignedNote>, StoreError> {
        Ok(self.lock().latest.clone())
    }

    async fn put_latest_checkpoint(&self, note: &SignedNote) -> Result<(), StoreError> {
        self.lock().latest = Some(note.clone());
        Ok(())
    }
}

impl CosignerStore for MemoryStore {
    async fn last_signed(&self) -> Result<Option<Checkpoint>, StoreError> {
        Ok(self.lock().last_signed.clone())
    }

    async fn put_last_signed(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        self.lock().last_signed = Some(checkpoint.clone());
        Ok(())
    }
}

impl<S: LogStore> LogStore for std::sync::Arc<S> {
    fn append(
        &self,
        record: AppendRecord<'_>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).append(record)
    }
    fn append_batch(
        &self,
        records: &[AppendRecord<'_>],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).append_batch(records)
    }
    fn tree_size(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        (**self).tree_size()
    }
    fn entries(
        &self,
        range: Range<u64>,
    ) -> impl Future<Output = Result<Vec<Leaf>, StoreError>> + Send {
        (**self).entries(range)
    }
    fn erase(&self, erased: &[Erased]) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).erase(erased)
    }
    fn read_hashes(
        &self,
        indices: &[NodeIndex],
    ) -> impl Future<Output = Result<Vec<Hash>, StoreError>> + Send {
        (**self).read_hashes(indices)
    }
    fn latest_checkpoint(
        &self,
    ) -> impl Future<Output = Result<Option<SignedNote>, StoreError>> + Send {
        (**self).latest_checkpoint()
    }
    fn put_latest_checkpoint(
        &self,
        note: &SignedNote,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put_latest_checkpoint(note)
    }
}

impl<S: CosignerStore> CosignerStore for std::sync::Arc<S> {
    fn last_signed(&self) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send {
        (**self).last_signed()
    }
    fn put_last_signed(
        &self,
        checkpoint: &Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).put_last_signed(checkpoint)
    }
}
