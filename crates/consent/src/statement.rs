//! Statements the subject signs with its wallet key: enrollment binding,
//! revocation of consent tokens, and deletion (withdrawal) of the enrollment.
//!
//! # Canonical encoding (what is signed)
//!
//! ```text
//! msg = "sanctuary/signed-statement/v1" || 0x00
//!    || lp(DOMAIN)                  e.g. "sanctuary/consent/enrollment/v1"
//!    || lp(subject public key, 32 bytes)
//!    || lp(field_1) || ... || lp(field_n)   (per statement type, documented there)
//! lp(x) = u32 big-endian length of x || x
//! signature = Ed25519(subject signing key, msg), verified with `verify_strict`
//! ```
//!
//! Timestamps are encoded as i64 big-endian Unix seconds, nonces as raw bytes.
//! The node layer may also use [`SignedStatement::signed_bytes`] as the leaf
//! content of its transparency log.

use std::fmt;

use ed25519_dalek::Signature;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::error::StatementError;
use crate::ids::{NetworkId, SubjectPublicKey, TokenId};
use crate::time_util::{hex_array, hex_array_opt, truncate};
use crate::wallet::Wallet;

const PREFIX: &[u8] = b"sanctuary/signed-statement/v1\0";

/// How far in the future a statement's timestamp may be (clock skew).
pub const MAX_FUTURE_SKEW: Duration = Duration::minutes(5);

/// Builds the canonical, length-prefixed byte string of a statement.
#[derive(Debug, Default)]
pub struct Encoder(Vec<u8>);

impl Encoder {
    /// Appends one length-prefixed field.
    pub fn field(&mut self, bytes: &[u8]) -> &mut Self {
        // Invariant: statement fields are small (ids ≤ 128 bytes, hashes 32 bytes).
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.0.extend_from_slice(&len.to_be_bytes());
        self.0.extend_from_slice(bytes);
        self
    }

    /// Appends a timestamp as i64 big-endian Unix seconds.
    pub fn time(&mut self, t: OffsetDateTime) -> &mut Self {
        self.field(&t.unix_timestamp().to_be_bytes())
    }
}

/// A statement type the subject can sign.
pub trait Statement: Serialize + DeserializeOwned + Clone + fmt::Debug {
    /// Domain-separation label, unique per statement type and version.
    const DOMAIN: &'static str;
    /// Appends the statement's fields in canonical order.
    fn encode(&self, enc: &mut Encoder);
    /// The network the statement is addressed to.
    fn network(&self) -> &NetworkId;
    /// When the subject made the statement.
    fn timestamp(&self) -> OffsetDateTime;
}

/// A statement with the subject's key and signature; the wire form (JSON via serde).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, bound = "S: Statement")]
pub struct SignedStatement<S: Statement> {
    /// The signed content.
    pub statement: S,
    /// The signer.
    pub subject: SubjectPublicKey,
    /// Ed25519 signature over [`SignedStatement::signed_bytes`].
    #[serde(with = "hex_array")]
    pub signature: [u8; 64],
}

impl<S: Statement> SignedStatement<S> {
    /// Signs `statement` with the wallet's key.
    pub fn sign(wallet: &Wallet, statement: S) -> Self {
        let subject = wallet.subject();
        let msg = canonical_bytes(&statement, &subject);
        let signature = wallet.sign_raw(&msg);
        Self {
            statement,
            subject,
            signature,
        }
    }

    /// The exact bytes that are signed.
    pub fn signed_bytes(&self) -> Vec<u8> {
        canonical_bytes(&self.statement, &self.subject)
    }

    /// Verifies the signature, the network, and that the timestamp is no older
    /// than `max_age` and no further than [`MAX_FUTURE_SKEW`] in the future.
    pub fn verify(
        &self,
        network: &NetworkId,
        now: OffsetDateTime,
        max_age: Duration,
    ) -> Result<Verified<S>, StatementError> {
        let sig = Signature::from_bytes(&self.signature);
        self.subject
            .verifying_key()
            .verify_strict(&self.signed_bytes(), &sig)
            .map_err(|_| StatementError::Forged)?;
        if self.statement.network() != network {
            return Err(StatementError::NetworkMismatch);
        }
        let ts = self.statement.timestamp();
        if ts > now + MAX_FUTURE_SKEW || ts < now - max_age {
            return Err(StatementError::Stale);
        }
        Ok(Verified {
            statement: self.statement.clone(),
            subject: self.subject,
        })
    }

    /// Like [`SignedStatement::verify`], and also requires the signer to be
    /// `enrolled_subject` (the key the enrollment is bound to).
    pub fn verify_for_subject(
        &self,
        enrolled_subject: &SubjectPublicKey,
        network: &NetworkId,
        now: OffsetDateTime,
        max_age: Duration,
    ) -> Result<Verified<S>, StatementError> {
        let v = self.verify(network, now, max_age)?;
        if &v.subject != enrolled_subject {
            return Err(StatementError::WrongSubject);
        }
        Ok(v)
    }

    /// Parses the JSON wire form.
    pub fn from_json(json: &str) -> Result<Self, StatementError> {
        serde_json::from_str(json).map_err(|e| StatementError::Malformed {
            reason: e.to_string(),
        })
    }

    /// The JSON wire form.
    pub fn to_json(&self) -> String {
        // Invariant: these types serialise to JSON infallibly (no maps with non-string keys).
        serde_json::to_string(self).unwrap_or_default()
    }
}

fn canonical_bytes<S: Statement>(statement: &S, subject: &SubjectPublicKey) -> Vec<u8> {
    let mut enc = Encoder(PREFIX.to_vec());
    enc.field(S::DOMAIN.as_bytes());
    enc.field(&subject.to_bytes());
    statement.encode(&mut enc);
    enc.0
}

/// A statement whose signature, network and freshness were checked. Only
/// [`SignedStatement::verify`] builds it.
#[derive(Debug, Clone)]
pub struct Verified<S> {
    statement: S,
    subject: SubjectPublicKey,
}

impl<S> Verified<S> {
    /// The verified statement.
    pub fn statement(&self) -> &S {
        &self.statement
    }

    /// Who signed it.
    pub fn subject(&self) -> &SubjectPublicKey {
        &self.subject
    }
}

fn random_nonce() -> [u8; 16] {
    let mut n = [0u8; 16];
    rand::Rng::fill(&mut rand::rng(), &mut n);
    n
}

/// The subject's signature over an enrollment request: binds the enrollment
/// (identified by the commitment hash of its template shares, computed by the
/// node layer) to the subject's wallet key.
///
/// Canonical fields: `network`, `template_commitment` (32 bytes), `timestamp`,
/// `nonce` (16 bytes), then the accepted terms: the number of policy
/// digests, each digest (32 bytes), and the notice digest (32 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentStatement {
    /// Trust network the enrollment is for.
    pub network: NetworkId,
    /// Commitment hash of the template shares (defined by the node layer).
    #[serde(with = "hex_array")]
    pub template_commitment: [u8; 32],
    /// When the subject signed.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// Random nonce (lets nodes refuse a replayed enrollment request).
    #[serde(with = "hex_array")]
    pub nonce: [u8; 16],
    /// What the subject was shown and accepted.
    pub accepted: AcceptedTerms,
}

/// The terms a subject accepts at enrollment: each node's policy (its
/// purposes, retention and operator, by digest, in party order) and the
/// notice they were shown. Every node keeps the signed statement, so it can
/// show what the subject agreed to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcceptedTerms {
    /// Each node's policy digest, party order (hex).
    pub policy_digests: Vec<Digest32>,
    /// Digest of the notice text shown (hex).
    pub notice_digest: Digest32,
}

/// A 32-byte digest, 64 lowercase hex on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Digest32(#[serde(with = "hex_array")] pub [u8; 32]);

impl EnrollmentStatement {
    /// A statement with a fresh nonce and no accepted terms (nodes refuse
    /// it until [`EnrollmentStatement::accepting`] sets them).
    pub fn new(network: NetworkId, template_commitment: [u8; 32], now: OffsetDateTime) -> Self {
        Self {
            network,
            template_commitment,
            timestamp: truncate(now),
            nonce: random_nonce(),
            accepted: AcceptedTerms::default(),
        }
    }

    /// The statement accepting `terms`.
    pub fn accepting(mut self, terms: AcceptedTerms) -> Self {
        self.accepted = terms;
        self
    }
}

impl Statement for EnrollmentStatement {
    const DOMAIN: &'static str = "sanctuary/consent/enrollment/v2";
    fn encode(&self, enc: &mut Encoder) {
        enc.field(self.network.as_str().as_bytes())
            .field(&self.template_commitment)
            .time(self.timestamp)
            .field(&self.nonce);
        let n = u32::try_from(self.accepted.policy_digests.len()).unwrap_or(u32::MAX);
        enc.field(&n.to_be_bytes());
        for d in &self.accepted.policy_digests {
            enc.field(&d.0);
        }
        enc.field(&self.accepted.notice_digest.0);
    }
    fn network(&self) -> &NetworkId {
        &self.network
    }
    fn timestamp(&self) -> OffsetDateTime {
        self.timestamp
    }
}

/// Which tokens a revocation withdraws.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RevocationScope {
    /// One token.
    Token(TokenId),
    /// Every token of this subject issued strictly before this time.
    IssuedBefore(#[serde(with = "time::serde::rfc3339")] OffsetDateTime),
}

/// The subject revokes consent tokens.
///
/// Canonical fields: `network`, scope tag (`"token"` or `"issued_before"`), scope
/// value (16-byte token id, or timestamp), `timestamp`, `nonce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// Trust network.
    pub network: NetworkId,
    /// What is revoked.
    pub scope: RevocationScope,
    /// When the subject signed.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// Random nonce.
    #[serde(with = "hex_array")]
    pub nonce: [u8; 16],
}

impl Revocation {
    /// Revokes one token.
    pub fn token(network: NetworkId, id: TokenId, now: OffsetDateTime) -> Self {
        Self {
            network,
            scope: RevocationScope::Token(id),
            timestamp: truncate(now),
            nonce: random_nonce(),
        }
    }

    /// Revokes every token issued before `before` (usually `now`).
    pub fn issued_before(network: NetworkId, before: OffsetDateTime, now: OffsetDateTime) -> Self {
        Self {
            network,
            scope: RevocationScope::IssuedBefore(truncate(before)),
            timestamp: truncate(now),
            nonce: random_nonce(),
        }
    }
}

impl Statement for Revocation {
    const DOMAIN: &'static str = "sanctuary/consent/revocation/v1";
    fn encode(&self, enc: &mut Encoder) {
        enc.field(self.network.as_str().as_bytes());
        match &self.scope {
            RevocationScope::Token(id) => enc.field(b"token").field(&id.to_bytes()),
            RevocationScope::IssuedBefore(t) => enc.field(b"issued_before").time(*t),
        };
        enc.time(self.timestamp).field(&self.nonce);
    }
    fn network(&self) -> &NetworkId {
        &self.network
    }
    fn timestamp(&self) -> OffsetDateTime {
        self.timestamp
    }
}

/// The subject asks the network to delete its enrollment (all shares everywhere).
///
/// Canonical fields: `network`, commitment (32 bytes, or empty for "every
/// enrollment bound to my key"), `timestamp`, `nonce`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeletionRequest {
    /// Trust network.
    pub network: NetworkId,
    /// The enrollment to delete; `None`: all enrollments bound to the signer's key.
    #[serde(with = "hex_array_opt", default)]
    pub template_commitment: Option<[u8; 32]>,
    /// When the subject signed.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// Random nonce.
    #[serde(with = "hex_array")]
    pub nonce: [u8; 16],
}

impl DeletionRequest {
    /// A deletion request with a fresh nonce.
    pub fn new(
        network: NetworkId,
        template_commitment: Option<[u8; 32]>,
        now: OffsetDateTime,
    ) -> Self {
        Self {
            network,
            template_commitment,
            timestamp: truncate(now),
            nonce: random_nonce(),
        }
    }
}

impl Statement for DeletionRequest {
    const DOMAIN: &'static str = "sanctuary/consent/deletion/v1";
    fn encode(&self, enc: &mut Encoder) {
        enc.field(self.network.as_str().as_bytes());
        match &self.template_commitment {
            Some(c) => enc.field(c),
            None => enc.field(&[]),
        };
        enc.time(self.timestamp).field(&self.nonce);
    }
    fn network(&self) -> &NetworkId {
        &self.network
    }
    fn timestamp(&self) -> OffsetDateTime {
        self.timestamp
    }
}

/// Signs an enrollment statement with the wallet key (what an enrollment site
/// asks the subject's wallet to do).
pub fn sign_enrollment(
    wallet: &Wallet,
    statement: &EnrollmentStatement,
) -> SignedStatement<EnrollmentStatement> {
    SignedStatement::sign(wallet, statement.clone())
}
