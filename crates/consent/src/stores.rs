//! Node-side state for consent: revocations and token use counts. Traits so the
//! node can back them with its database; in-memory implementations here.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use time::OffsetDateTime;

use crate::error::TokenError;
use crate::ids::{SubjectPublicKey, TokenId};
use crate::statement::{Revocation, RevocationScope, Verified};

/// Where a node keeps subjects' revocations.
pub trait RevocationStore: Send + Sync {
    /// Whether the subject revoked this token (by id, or all tokens issued before
    /// a time later than `issued_at`).
    fn is_revoked(
        &self,
        subject: &SubjectPublicKey,
        token_id: &TokenId,
        issued_at: OffsetDateTime,
    ) -> bool;

    /// Records a verified revocation (only the signer's own tokens are affected).
    fn apply(&self, revocation: &Verified<Revocation>);
}

/// Where a node counts token uses. Counting happens only after the request passed
/// every other check, so a refused request does not use up a token.
pub trait ReplayGuard: Send + Sync {
    /// Records one use of the token and returns its 1-based use number, or
    /// [`TokenError::UsedUp`] when `max_uses` uses were already recorded. Must be
    /// atomic (check and increment under one lock or transaction).
    fn consume(
        &self,
        subject: &SubjectPublicKey,
        token_id: &TokenId,
        max_uses: Option<u32>,
        expires_at: OffsetDateTime,
    ) -> Result<u32, TokenError>;

    /// How many uses were recorded.
    fn uses(&self, subject: &SubjectPublicKey, token_id: &TokenId) -> u32;

    /// The use number the next [`ReplayGuard::consume`] would return, or
    /// [`TokenError::UsedUp`], recording nothing: for a node that records
    /// the use only once the operation is committed.
    fn peek(
        &self,
        subject: &SubjectPublicKey,
        token_id: &TokenId,
        max_uses: Option<u32>,
    ) -> Result<u32, TokenError> {
        let used = self.uses(subject, token_id);
        match max_uses {
            Some(max) if used >= max => Err(TokenError::UsedUp { uses: max }),
            _ => Ok(used.saturating_add(1)),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated (single
    // insert/update operations), so a poisoned lock is still consistent.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Debug, Default)]
struct SubjectRevocations {
    tokens: BTreeSet<TokenId>,
    issued_before: Option<OffsetDateTime>,
}

/// In-memory [`RevocationStore`].
#[derive(Debug, Default)]
pub struct InMemoryRevocationStore {
    inner: Mutex<BTreeMap<SubjectPublicKey, SubjectRevocations>>,
}

impl InMemoryRevocationStore {
    /// Empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

impl InMemoryRevocationStore {
    /// Restores a revocation of one token that was verified and persisted
    /// earlier (a node reloading its database at start-up).
    pub fn restore_token(&self, subject: SubjectPublicKey, token_id: TokenId) {
        lock(&self.inner)
            .entry(subject)
            .or_default()
            .tokens
            .insert(token_id);
    }

    /// Restores an "all tokens issued before" revocation persisted earlier.
    pub fn restore_issued_before(&self, subject: SubjectPublicKey, before: OffsetDateTime) {
        let mut map = lock(&self.inner);
        let entry = map.entry(subject).or_default();
        entry.issued_before = Some(entry.issued_before.map_or(before, |old| old.max(before)));
    }
}

impl RevocationStore for InMemoryRevocationStore {
    fn is_revoked(
        &self,
        subject: &SubjectPublicKey,
        token_id: &TokenId,
        issued_at: OffsetDateTime,
    ) -> bool {
        let map = lock(&self.inner);
        map.get(subject).is_some_and(|r| {
            r.tokens.contains(token_id) || r.issued_before.is_some_and(|t| issued_at < t)
        })
    }

    fn apply(&self, revocation: &Verified<Revocation>) {
        let mut map = lock(&self.inner);
        let entry = map.entry(*revocation.subject()).or_default();
        match &revocation.statement().scope {
            RevocationScope::Token(id) => {
                entry.tokens.insert(*id);
            }
            RevocationScope::IssuedBefore(t) => {
                entry.issued_before = Some(entry.issued_before.map_or(*t, |old| old.max(*t)));
            }
        }
    }
}

/// In-memory [`ReplayGuard`].
#[derive(Debug, Default)]
pub struct InMemoryReplayGuard {
    inner: Mutex<BTreeMap<(SubjectPublicKey, TokenId), (u32, OffsetDateTime)>>,
}

impl InMemoryReplayGuard {
    /// Empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a use count persisted earlier (a node reloading its database).
    pub fn restore(
        &self,
        subject: SubjectPublicKey,
        token_id: TokenId,
        uses: u32,
        expires_at: OffsetDateTime,
    ) {
        lock(&self.inner).insert((subject, token_id), (uses, expires_at));
    }

    /// Forgets tokens that expired before `now` (they are refused as expired anyway).
    pub fn prune(&self, now: OffsetDateTime) {
        lock(&self.inner).retain(|_, (_, exp)| *exp >= now);
    }
}

impl ReplayGuard for InMemoryReplayGuard {
    fn consume(
        &self,
        subject: &SubjectPublicKey,
        token_id: &TokenId,
        max_uses: Option<u32>,
        expires_at: OffsetDateTime,
    ) -> Result<u32, TokenError> {
        let mut map = lock(&self.inner);
        let entry = map.entry((*subject, *token_id)).or_insert((0, expires_at));
        if let Some(max) = max_uses
            && entry.0 >= max
        {
            return Err(TokenError::UsedUp { uses: max });
        }
        entry.0 = entry.0.saturating_add(1);
        Ok(entry.0)
    }

    fn uses(&self, subject: &SubjectPublicKey, token_id: &TokenId) -> u32 {
        lock(&self.inner)
            .get(&(*subject, *token_id))
            .map_or(0, |e| e.0)
    }
}
