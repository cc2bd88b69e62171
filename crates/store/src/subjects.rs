//! Read access to the enrollments' `subject` column, for Identity Weaving: a
//! node issues credentials only to a subject it holds an enrollment for.

use super::{Pool, Store};
use crate::error::StoreError;

impl Store {
    /// Whether some enrollment on this store is bound to `subject` (the
    /// subject's Ed25519 public key, lowercase hex, as stored at enrollment).
    pub async fn subject_enrolled(&self, subject: &str) -> Result<bool, StoreError> {
        on_pool!(&self.pool, |p| {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM enrollments WHERE subject = $1")
                .bind(subject)
                .fetch_one(p)
                .await?;
            Ok(n > 0)
        })
    }

    /// The template kinds of the enrollments bound to `subject` (sorted,
    /// each once): a personhood credential needs every kind the network
    /// requires.
    pub async fn subject_kinds(&self, subject: &str) -> Result<Vec<String>, StoreError> {
        on_pool!(&self.pool, |p| {
            Ok(sqlx::query_scalar(
                "SELECT DISTINCT kind FROM enrollments WHERE subject = $1 ORDER BY kind",
            )
            .bind(subject)
            .fetch_all(p)
            .await?)
        })
    }
}
