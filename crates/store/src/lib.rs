//! Durable storage of one Sanctuary node: the op log, in the order all three
//! nodes agreed, and the node's current enrollments with its share bytes.
//!
//! ```text
//!   agreed op (seq, entry, Merkle hashes, change, consent bookkeeping)
//!          │  Store::apply  (one transaction)
//!          ▼
//!   ┌──────────────┐ ┌────────────────┐ ┌──────────────────────────────────┐
//!   │ oplog        │ │ log_hashes     │ │ enrollments                      │
//!   │ seq (PK)     │ │ (level, index) │ │ enrolled_seq (PK: gallery order),│
//!   │ entry        │ │ hash           │ │ id, kind, share, subject, last_used│
//!   └──────────────┘ └────────────────┘ └──────────────────────────────────┘
//!   token_uses, revocations (consent state), meta (checkpoints)
//!          ▲                              │ Store::load (start-up)
//!   Store::ops / read_hashes (proofs)     ▼
//!                          Loaded { enrollments, next_seq, token_uses, revocations }
//! ```
//!
//! # The op log is the transparency log
//!
//! `oplog` holds the canonical bytes of each transparency-log entry and
//! `log_hashes` the RFC 9162 Merkle-tree node hashes the entry completes
//! (computed by `sanctuary-log`; this crate stores them opaquely). Both are
//! written in the same transaction as the op's state change, so after a crash
//! a node's enrollments and its log always agree. The node layer adapts this
//! store to `sanctuary_log::LogStore`.
//!
//! # Backends
//!
//! One code path, runtime queries (`sqlx::query` with binds), on
//! * SQLite (`sqlite://PATH`): WAL, `synchronous=FULL`, `secure_delete=ON`;
//! * PostgreSQL (`postgres://USER@HOST:PORT/DB`): one database per operator.
//!
//! # Deletion
//!
//! A `Delete` op removes the enrollment row in its transaction, then scrubs:
//! * SQLite: `secure_delete=ON` makes SQLite overwrite the deleted cell and
//!   the freed overflow pages with zeros; a `wal_checkpoint(TRUNCATE)` then
//!   writes those pages into the database file and empties the WAL. The tests
//!   check that neither file contains the share's bytes afterwards.
//! * PostgreSQL: `VACUUM enrollments` after the commit reclaims the dead
//!   tuple (and its TOAST chunks), so its bytes are overwritten as the pages
//!   are reused. **Limitation:** until reuse the bytes stay in the free space
//!   of the heap/TOAST files, and the insert that carried them remains in WAL
//!   segments (and any WAL archive or base backup) until those are recycled.
//!   Operators must treat PostgreSQL WAL archives and backups as holding share
//!   material, with a retention no longer than the deletion promise.
//!
//! If the scrub cannot complete (an SQLite reader holds an old snapshot, or
//! `VACUUM` fails), the delete still counts as applied, [`Store::scrub_pending`]
//! turns true, and the scrub is retried after every later `apply` (or by
//! calling [`Store::scrub`]).
//!
//! Common limitations: the filesystem may keep old blocks (SSD wear-levelling,
//! copy-on-write filesystems, snapshots); the database drivers copy values
//! through their own buffers, which are not zeroized (the store's own copies
//! are, via [`zeroize::Zeroizing`]).
//!
//! # Example
//!
//! ```no_run
//! use sanctuary_store::{AppliedOp, EnrollmentId, StateChange, Store};
//! use zeroize::Zeroizing;
//! # async fn f() -> Result<(), sanctuary_store::StoreError> {
//! let store = Store::open("sqlite:///var/lib/sanctuary/node0.db").await?;
//! let loaded = store.load().await?;
//! // The log entry and the Merkle hashes come from sanctuary-log's `Log::prepare`.
//! let (entry, hashes) = (b"canonical log entry".to_vec(), Vec::new());
//! store.apply(&AppliedOp {
//!     change: StateChange::Enroll {
//!         id: EnrollmentId([1; 16]),
//!         kind: "embedding".into(),
//!         share: Zeroizing::new(vec![0; 4096]),
//!         subject: None,
//!     },
//!     ..AppliedOp::log_only(loaded.next_seq, 1_700_000_000_000, entry, hashes)
//! }).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::unwrap_used)]

mod error;
mod store;
mod types;
mod url;

// The public interface is:
pub use crate::error::{StoreError, error_chain};
pub use crate::store::{SCHEMA_VERSION, Store, StoreOptions};
pub use crate::types::{
    AppliedOp, Backend, ConsentWrite, EnrollmentId, ErasedRow, Loaded, NodeHash, OpRecord,
    RevocationRow, StateChange, StoredEnrollment, TokenUse,
};
pub use crate::url::redact_url;
pub use sanctuary_proto::ParseEnrollmentIdError;
