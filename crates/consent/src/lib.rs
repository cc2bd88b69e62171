//! Subject wallet, consent tokens, signed statements and the ethics policy of a
//! Sanctuary biometric trust network.
//!
//! ```text
//!  subject wallet ──issue──▶ ConsentToken (Biscuit, root key = subject key)
//!        │                         │ relying party may attenuate (narrow only)
//!        │ sign                    ▼
//!        ├──▶ SignedStatement<EnrollmentStatement>   node: verify ─▶ bind enrollment to subject key
//!        ├──▶ SignedStatement<Revocation>            node: RevocationStore::apply
//!        └──▶ SignedStatement<DeletionRequest>       node: ConsentGate::admit_deletion ─▶ delete
//!
//!  node: ConsentGate::admit(token, subject key, Request, now)
//!        = rate limit ─▶ token::verify (signature, expiry, audience, purpose, revocation, attenuation)
//!          ─▶ Policy::check (structural rules) ─▶ ReplayGuard::consume ─▶ ConsentChecked
//! ```
//!
//! [`ConsentChecked`] can only be built inside this crate, by a successful
//! [`ConsentGate::admit`] or [`ConsentGate::admit_deletion`]: it is one
//! node's verdict. The node turns the three nodes' verdicts into its own
//! proof type (`sanctuary_node::Approved`, made only by the veto round), and
//! its computation on shares takes that proof, so "forgot to check consent"
//! does not compile there.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use sanctuary_consent::*;
//! use time::{Duration, OffsetDateTime};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = OffsetDateTime::now_utc();
//! let network = NetworkId::new("sanctuary-demo")?;
//! let bank = RelyingPartyId::new("bank.example")?;
//!
//! // Subject side: a wallet issues a single-use "verify" token to the bank.
//! let mut wallet = Wallet::create(now);
//! let issued = wallet.issue_token(
//!     &TokenRequest {
//!         network: network.clone(),
//!         audience: bank.clone(),
//!         purposes: vec![Purpose::Verify],
//!         expires_at: now + Duration::minutes(5),
//!         max_uses: Some(1),
//!     },
//!     now,
//! )?;
//!
//! // Node side: the policy file, the stores, and the gate.
//! let policy = Policy::from_toml(r#"
//!     version = 1
//!     network = "sanctuary-demo"
//!     [purposes]
//!     allowed = ["enroll", "verify", "dedupe"]
//!     [retention]
//!     days_after_last_use = 365
//! "#)?;
//! let gate = ConsentGate::new(
//!     policy,
//!     Arc::new(SystemClock),
//!     Arc::new(InMemoryRevocationStore::new()),
//!     Arc::new(InMemoryReplayGuard::new()),
//! );
//! let request = Request::Verify { relying_party: bank.clone() };
//! let checked: ConsentChecked = gate.admit(&issued.token, &wallet.subject(), &request)?;
//! assert_eq!(checked.disclosure(), Disclosure::VerifyBit);
//!
//! // Single use: a second presentation is refused.
//! let again = gate.admit(&issued.token, &wallet.subject(), &request);
//! assert!(matches!(again, Err(Error::Token(TokenError::UsedUp { .. }))));
//!
//! // "Who is this?" is refused whatever the consent, naming the rule.
//! let e = gate.admit(&issued.token, &wallet.subject(), &Request::Identify { relying_party: bank });
//! assert!(matches!(e, Err(Error::Policy(v)) if v.rule == Rule::NoOpenIdentification));
//! # Ok(())
//! # }
//! ```
//!
//! Formats chosen (see each module's docs):
//! * wallet file: `SNCTWLT` header, argon2id KDF, XChaCha20-Poly1305 ([`wallet`]);
//! * consent token: Biscuit v3 (crate `biscuit-auth`), Ed25519 root key = the
//!   subject's wallet key ([`token`]);
//! * signed statements: Ed25519 over a domain-separated, length-prefixed canonical
//!   encoding ([`statement`]);
//! * ethics policy: TOML, `deny_unknown_fields`, `version = 1` ([`policy`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod error;
mod gate;
mod ids;
pub mod policy;
mod ratelimit;
mod receipt;
pub mod statement;
mod stores;
mod time_util;
pub mod token;
pub mod wallet;

// The public interface is:
pub use error::{Error, PolicyFileError, StatementError, TokenError, WalletError};
pub use gate::{ConsentChecked, ConsentGate};
// The wallet's audit key is the log's: one concept, one type.
pub use ids::{
    InvalidId, InvalidKey, InvalidTokenId, NetworkId, Purpose, RelyingPartyId, SubjectPublicKey,
    TokenId, UnknownPurpose,
};
pub use policy::{
    Allowed, Disclosure, Policy, PolicyViolation, PublishedPolicy, PublishedRule, Request, Rule,
};
pub use ratelimit::{Clock, ManualClock, RateLimit, RateLimiter, SystemClock};
pub use receipt::{ConsentReceipt, PiiController, RECEIPT_SCHEMA, ReceiptPurpose};
pub use sanctuary_log::{AuditKey, AuditTag};
pub use statement::{
    AcceptedTerms, DeletionRequest, Digest32, EnrollmentStatement, Revocation, RevocationScope,
    SignedStatement, Statement, Verified, sign_enrollment,
};
pub use stores::{InMemoryReplayGuard, InMemoryRevocationStore, ReplayGuard, RevocationStore};
pub use token::{
    Attenuation, ConsentToken, IssuedToken, TokenRequest, VerifiedConsent, VerifyContext, verify,
};
pub use wallet::{EnrollmentRecord, KdfParams, Wallet, WalletPublicInfo};
