//! Identity Weaving: what a person chooses to show.
//!
//! * **Personhood credential** ("unique person"): an SD-JWT (RFC 9901) whose
//!   issuer signature is made by a 2-of-3 FROST Ed25519 group key held by the
//!   nodes ([`ceremony`], [`threshold`]). No single node can sign; the result
//!   is one ordinary Ed25519 signature that anyone verifies with the
//!   network's group public key ([`WeavePublic::group_key`]).
//! * **Threads**: self-authored statements and vouches from other wallets,
//!   SD-JWTs with every claim selectively disclosable ([`issue_thread`]),
//!   kept in the holder's wallet, never on the nodes.
//! * **Presentations**: the chosen disclosures plus a key-binding JWT for one
//!   verifier and one nonce ([`present`], [`verify`]).
//! * **Festivals**: a per-event pseudonym from a 2-of-3 threshold PRF
//!   ([`prf`]), signed into an admission by the group key; the organiser
//!   admits each pseudonym once ([`Festival`]).
//!
//! ```text
//!  holder (wallet)                       node Pi (two of three)
//!   draft SD-JWT (fresh cnf key) ─────▶ /v1/credential/commit   → commitments
//!   signing package + request signed ─▶ /v1/credential/sign     check_sign_request,
//!     by the subject key                                          subject enrolled here? → share
//!   aggregate → Ed25519 signature under the group key
//!   present(disclose, aud, nonce) ───▶ verifier: verify(group key | iss key, aud, nonce)
//! ```
//!
//! # What nodes learn and record
//!
//! Nodes see the subject key of every sign and evaluate request (they must,
//! to check the enrollment) and, for festivals, the event name: they learn
//! "this subject asked for an admission to this event" and log it, so the
//! issuance is in the subject's audit trail. They never see where a
//! credential is presented.
//!
//! # What remains linkable
//!
//! * A credential is the same bytes at each presentation: its issuer
//!   signature and `cnf` key are stable identifiers. Unlinkability across
//!   verifiers therefore comes from **batch issuance**: the wallet asks for
//!   several personhood credentials, each with a fresh holder key, and uses a
//!   different one for each verifier. Two verifiers comparing notes then see
//!   different signatures and keys; they can still compare `iat`/`exp`
//!   (coarse, shared by everyone issued in the same second) and the network.
//! * Threads are bound to the holder's one thread key and signed by their
//!   issuer's key: presenting a thread to two verifiers links those two
//!   presentations (and reveals who vouched). Disclose threads only where
//!   that is acceptable.
//! * A festival pseudonym is stable within its event by design and
//!   unrelated across events.
//! * Nodes can link a credential's issuance to the subject (timing and the
//!   request), not its later use: the credential carries no subject id.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![deny(clippy::unwrap_used)]

mod bundle;
pub mod ceremony;
pub mod credential;
mod error;
pub mod festival;
mod jose;
pub mod present;
pub mod prf;
pub mod request;
pub mod threshold;

/// The FROST implementation in use, for callers that hold its types.
pub use frost_ed25519;

// The public interface is:
pub use bundle::{Bundle, BundleReport, verify_bundle};
pub use ceremony::{NodeKeys, WeavePublic, dealer_ceremony, node_identifier};
pub use credential::{Draft, DraftKind, check_draft, draft_admission, draft_personhood};
pub use error::WeaveError;
pub use festival::{Admitted, Festival};
pub use jose::{fresh_key, key_from_hex};
pub use present::{Issuer, ThreadKind, Verified, issue_thread, present, verify};
pub use request::{
    CommitResponse, EvaluateRequest, SignRequest, SignResponse, WeaveRequest, authorize,
    check_evaluate_request, check_sign_request, sign_target,
};

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
