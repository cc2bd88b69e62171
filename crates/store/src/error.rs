//! The crate's one error type.

use std::error::Error as StdError;

/// Everything that can go wrong in the store.
///
/// Who acts on what:
/// * [`StoreError::OutOfOrder`], [`StoreError::Duplicate`] and
///   [`StoreError::NotFound`] are refusals of one op: nothing was written and
///   the store is unchanged. A node that sees `OutOfOrder` is out of step with
///   its peers and should catch up from them.
/// * The rest are configuration or infrastructure failures for the operator.
///   From [`crate::Store::apply`] they also mean nothing was written, with one
///   ambiguous case: a [`StoreError::Database`] error from a PostgreSQL
///   `COMMIT` whose connection was lost. Compare [`crate::Store::head`] with
///   the op's seq to learn whether it landed.
///
/// Neither `Display` nor `Debug` ever contains a database password: URLs are
/// redacted with [`crate::redact_url`] before they are stored in an error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A row read back from the database is malformed (wrong hash or id
    /// length, negative sequence number): the file was edited or corrupted.
    #[error("store is corrupt: {0}")]
    Corrupt(&'static str),

    /// A database error outside of opening (I/O, constraint, connection lost).
    #[error("database error")]
    Database(#[source] sqlx::Error),

    /// An erasure of a log row that does not exist or is not earlier than
    /// the op erasing it. Nothing was written.
    #[error("log entry {seq} cannot be erased by op {by}: it does not precede it")]
    EraseNotEarlier {
        /// The row to erase.
        seq: u64,
        /// The erasing op.
        by: u64,
    },

    /// `Delete` of an enrollment id that is not enrolled. Nothing was written.
    #[error("enrollment {id} not found")]
    NotFound {
        /// The id the op named.
        id: crate::EnrollmentId,
    },

    /// `Enroll` of an enrollment id that is already enrolled. Nothing was written.
    #[error("enrollment {id} already exists")]
    Duplicate {
        /// The id the op named.
        id: crate::EnrollmentId,
    },

    /// Connecting to or creating the database failed.
    #[error("cannot open store {url_redacted}")]
    Open {
        /// The URL with any password replaced by `***`.
        url_redacted: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },

    /// An op's `seq` is not the next one in the log. Nothing was written.
    #[error("op out of order: expected seq {expected}, got {got}")]
    OutOfOrder {
        /// The next sequence number the store accepts.
        expected: u64,
        /// The sequence number the op carried.
        got: u64,
    },

    /// The database's schema was written by a newer (or unknown) version.
    #[error(
        "store schema version {found} is not supported by this build (supports {supported}); \
         refusing to open it: upgrade sanctuary or use a fresh database"
    )]
    Schema {
        /// The version recorded in the database's `schema_version` table.
        found: i64,
        /// The version this build writes and reads.
        supported: i64,
    },

    /// A sequence number does not fit the database's signed 64-bit column.
    #[error("sequence number {0} is out of range (max {max})", max = i64::MAX)]
    SeqOutOfRange(u64),

    /// The URL's scheme is neither `sqlite:` nor `postgres://`/`postgresql://`.
    #[error(
        "unsupported store URL {url_redacted}: expected sqlite://PATH or postgres://USER@HOST:PORT/DB"
    )]
    UnsupportedUrl {
        /// The URL with any password replaced by `***`.
        url_redacted: String,
    },
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

/// Formats an error with its whole `source()` chain, `a: b: c`.
pub fn error_chain(e: &dyn StdError) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
