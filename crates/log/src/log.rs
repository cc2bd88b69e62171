//! The server side: a log replica over a [`LogStore`].

use std::collections::BTreeMap;
use std::ops::Range;

use crate::checkpoint::{Checkpoint, CheckpointPolicy, VerifiedCheckpoint};
use crate::entry::{Entry, Erased, Leaf, NewEntry};
use crate::error::{ConfigError, Error, StoreError, UsageError};
use crate::hash::Hash;
use crate::merkle::{self, BatchReader};
use crate::note::SignedNote;
use crate::store::{AppendRecord, LogStore};
use crate::verify::{ConsistencyProof, InclusionProof};

/// An append computed by [`Log::prepare`] and not yet written.
#[derive(Debug, Clone)]
pub struct PreparedAppend {
    entry: Entry,
    canonical: Vec<u8>,
    hashes: Vec<(merkle::NodeIndex, Hash)>,
}

impl PreparedAppend {
    /// The entry.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// What the store must write atomically.
    pub fn record(&self) -> AppendRecord<'_> {
        AppendRecord {
            entry: &self.entry,
            canonical: &self.canonical,
            hashes: &self.hashes,
        }
    }
}

/// One node's replica of the log: appends entries in sequence and serves
/// tree heads and proofs.
///
/// Appends take `&mut self`: one writer per replica (the node layer holds the
/// `Log` behind a lock or in one task). The store rejects an append whose
/// sequence number is not the current size, so a second writer on the same
/// database fails instead of corrupting the tree.
#[derive(Debug)]
pub struct Log<S> {
    origin: String,
    store: S,
}

impl<S: LogStore> Log<S> {
    /// A log named `origin` (the checkpoint origin line, e.g.
    /// `sanctuary.example/log`) over `store`.
    pub fn new(origin: &str, store: S) -> Result<Self, Error> {
        if origin.is_empty() || origin.chars().any(char::is_control) {
            return Err(ConfigError::Origin.into());
        }
        Ok(Log {
            origin: origin.to_owned(),
            store,
        })
    }

    /// The origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Number of entries.
    pub async fn size(&self) -> Result<u64, Error> {
        Ok(self.store.tree_size().await?)
    }

    /// Sequences and appends a new entry (the proposing node's path): its
    /// sequence number is the current size. Returns the stored entry.
    pub async fn append(&mut self, new: NewEntry) -> Result<Entry, Error> {
        let seq = self.store.tree_size().await?;
        let entry = new.with_seq(seq);
        self.append_sequenced(&entry).await?;
        Ok(entry)
    }

    /// Appends an entry that another node sequenced (the replica path).
    /// Fails unless `entry.seq` is this replica's current size.
    pub async fn append_entry(&mut self, entry: &Entry) -> Result<(), Error> {
        self.check_next(entry.seq).await?;
        self.append_sequenced(entry).await
    }

    /// Computes what appending `entry` (the next one) writes, without
    /// writing it: for a node that must commit the entry together with its
    /// own state change in one database transaction. The caller hands
    /// [`PreparedAppend::record`] to its store; nothing else may append in
    /// between (the store's sequence check refuses it if something did).
    pub async fn prepare(&self, entry: Entry) -> Result<PreparedAppend, Error> {
        self.check_next(entry.seq).await?;
        let canonical = entry.to_bytes();
        let leaf = entry.leaf_hash();
        let frontier = self.frontier(entry.seq).await?;
        let mut hashes = merkle::hashes_for_batch(entry.seq, &frontier, &[leaf])?;
        let hashes = if hashes.is_empty() {
            Vec::new()
        } else {
            hashes.swap_remove(0)
        };
        Ok(PreparedAppend {
            entry,
            canonical,
            hashes,
        })
    }

    /// Appends an entry whose sequence number was just checked or assigned.
    async fn append_sequenced(&mut self, entry: &Entry) -> Result<(), Error> {
        let canonical = entry.to_bytes();
        let leaf = entry.leaf_hash();
        let frontier = self.frontier(entry.seq).await?;
        let hashes = merkle::hashes_for_batch(entry.seq, &frontier, &[leaf])?;
        let hashes = hashes.first().map_or(&[][..], Vec::as_slice);
        self.store
            .append(AppendRecord {
                entry,
                canonical: &canonical,
                hashes,
            })
            .await?;
        Ok(())
    }

    /// Sequences and appends several entries in one store write (one
    /// transaction in database backends). Returns them with their sequence
    /// numbers.
    pub async fn append_batch(&mut self, new: Vec<NewEntry>) -> Result<Vec<Entry>, Error> {
        let start = self.store.tree_size().await?;
        let entries: Vec<Entry> = (start..).zip(new).map(|(seq, e)| e.with_seq(seq)).collect();
        self.append_sequenced_batch(&entries).await?;
        Ok(entries)
    }

    /// Appends consecutive entries sequenced by another node (the replica
    /// path, batched). Fails unless they continue this replica exactly.
    pub async fn append_entries(&mut self, entries: &[Entry]) -> Result<(), Error> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        self.check_next(first.seq).await?;
        self.append_sequenced_batch(entries).await
    }

    /// Appends entries whose first sequence number was just checked or assigned.
    async fn append_sequenced_batch(&mut self, entries: &[Entry]) -> Result<(), Error> {
        let Some(first) = entries.first() else {
            return Ok(());
        };
        let start = first.seq;
        let canonical: Vec<Vec<u8>> = entries.iter().map(Entry::to_bytes).collect();
        let leaves: Vec<Hash> = entries.iter().map(Entry::leaf_hash).collect();
        let frontier = self.frontier(start).await?;
        let hashes = merkle::hashes_for_batch(start, &frontier, &leaves)?;
        let records: Vec<AppendRecord<'_>> = entries
            .iter()
            .zip(&canonical)
            .zip(&hashes)
            .map(|((entry, canonical), hashes)| AppendRecord {
                entry,
                canonical,
                hashes,
            })
            .collect();
        self.store.append_batch(&records).await?;
        Ok(())
    }

    /// Leaves with sequence numbers in `range`.
    pub async fn entries(&self, range: Range<u64>) -> Result<Vec<Leaf>, Error> {
        Ok(self.store.entries(range).await?)
    }

    /// What erasing the bodies of entries `seqs` at deletion `by` leaves:
    /// each must exist and still have its body (an entry is erased once).
    pub async fn erasures(&self, seqs: &[u64], by: u64) -> Result<Vec<Erased>, Error> {
        let size = self.size().await?;
        let mut out = Vec::with_capacity(seqs.len());
        for &seq in seqs {
            if seq >= size || seq >= by {
                return Err(UsageError::EraseOutOfRange { seq, by }.into());
            }
            match self.store.entries(seq..seq + 1).await?.pop() {
                Some(Leaf::Entry(e)) => out.push(e.erased(by)),
                Some(Leaf::Erased(_)) => return Err(UsageError::AlreadyErased { seq }.into()),
                None => return Err(UsageError::EraseOutOfRange { seq, by }.into()),
            }
        }
        Ok(out)
    }

    /// Erases the bodies of entries `seqs` (see [`Log::erasures`]).
    pub async fn erase(&self, seqs: &[u64], by: u64) -> Result<Vec<Erased>, Error> {
        let erased = self.erasures(seqs, by).await?;
        self.store.erase(&erased).await?;
        Ok(erased)
    }

    /// The current root.
    pub async fn root(&self) -> Result<Hash, Error> {
        let size = self.size().await?;
        self.with_reader(|r| merkle::tree_root(r, size)).await
    }

    /// The root of the first `size` entries.
    pub async fn root_at(&self, size: u64) -> Result<Hash, Error> {
        self.check_size(size).await?;
        self.with_reader(|r| merkle::tree_root(r, size)).await
    }

    /// The unsigned checkpoint of the current tree: what the cosigning round
    /// proposes.
    pub async fn checkpoint(&self) -> Result<Checkpoint, Error> {
        let size = self.size().await?;
        self.checkpoint_at(size).await
    }

    /// The unsigned checkpoint of the first `size` entries.
    pub async fn checkpoint_at(&self, size: u64) -> Result<Checkpoint, Error> {
        let root = self.root_at(size).await?;
        Ok(Checkpoint::new(&self.origin, size, root)?)
    }

    /// Inclusion proof of entry `seq` in the tree of size `size`.
    pub async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<InclusionProof, Error> {
        self.check_size(size).await?;
        if seq >= size {
            return Err(crate::error::ProofError::IndexOutOfRange { index: seq, size }.into());
        }
        let path = self
            .with_reader(|r| merkle::inclusion_path(r, seq, size))
            .await?;
        Ok(InclusionProof {
            index: seq,
            size,
            path,
        })
    }

    /// Consistency proof from the tree of size `old` to the tree of size `new`.
    pub async fn consistency_proof(&self, old: u64, new: u64) -> Result<ConsistencyProof, Error> {
        self.check_size(new).await?;
        if old > new {
            return Err(crate::error::ProofError::SizeOrder {
                old_size: old,
                new_size: new,
            }
            .into());
        }
        let path = self
            .with_reader(|r| merkle::consistency_path(r, old, new))
            .await?;
        Ok(ConsistencyProof {
            old_size: old,
            new_size: new,
            path,
        })
    }

    /// Verifies a co-signed checkpoint against `policy` *and* against this
    /// replica's own tree, then stores it as the latest published checkpoint.
    pub async fn publish(
        &mut self,
        policy: &CheckpointPolicy,
        note: &SignedNote,
    ) -> Result<VerifiedCheckpoint, Error> {
        let verified = policy.verify(note)?;
        let size = verified.size();
        if size > self.size().await? || self.root_at(size).await? != *verified.root() {
            return Err(UsageError::ForeignCheckpoint { size }.into());
        }
        if let Some(latest) = self.store.latest_checkpoint().await? {
            let latest = Checkpoint::parse(latest.text())?;
            if latest.size() > size {
                return Err(UsageError::StaleCheckpoint {
                    latest: latest.size(),
                    size,
                }
                .into());
            }
        }
        self.store.put_latest_checkpoint(note).await?;
        Ok(verified)
    }

    /// The latest published co-signed checkpoint.
    pub async fn latest_checkpoint(&self) -> Result<Option<SignedNote>, Error> {
        Ok(self.store.latest_checkpoint().await?)
    }

    /// Fails unless `seq` is the next sequence number. (The store checks
    /// again atomically; this gives the clear error before any reads.)
    async fn check_next(&self, seq: u64) -> Result<(), Error> {
        let size = self.store.tree_size().await?;
        if seq != size {
            return Err(StoreError::SequenceMismatch {
                expected: size,
                got: seq,
            }
            .into());
        }
        Ok(())
    }

    /// The hashes of [`merkle::frontier`]`(size)` (for appending at `size`).
    async fn frontier(&self, size: u64) -> Result<Vec<Hash>, Error> {
        let wanted = merkle::frontier(size);
        let hashes = self.store.read_hashes(&wanted).await?;
        if hashes.len() != wanted.len() {
            return Err(StoreError::ShortRead {
                expected: wanted.len(),
                got: hashes.len(),
            }
            .into());
        }
        Ok(hashes)
    }

    async fn check_size(&self, requested: u64) -> Result<(), Error> {
        let size = self.size().await?;
        if requested > size {
            return Err(UsageError::SizeBeyondLog { requested, size }.into());
        }
        Ok(())
    }

    /// Runs a Merkle algorithm against the store: once to learn which nodes
    /// it reads (that depends only on sizes), then, after one batched read,
    /// for real.
    async fn with_reader<T>(
        &self,
        f: impl Fn(&BatchReader) -> Result<T, StoreError>,
    ) -> Result<T, Error> {
        let wanted = {
            let rec = BatchReader::recording();
            // The dry run only records indices; its (zero-hash) result is discarded.
            let _ = f(&rec);
            rec.wanted()
        };
        let hashes = self.store.read_hashes(&wanted).await?;
        if hashes.len() != wanted.len() {
            return Err(StoreError::ShortRead {
                expected: wanted.len(),
                got: hashes.len(),
            }
            .into());
        }
        let fetched =
            BatchReader::Fetched(wanted.into_iter().zip(hashes).collect::<BTreeMap<_, _>>());
        Ok(f(&fetched)?)
    }
}
