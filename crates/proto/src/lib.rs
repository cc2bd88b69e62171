//! What a Sanctuary client and the nodes say to each other, and nothing
//! that runs a node: the versioned messages of the client API and of the
//! node-to-node control channel ([`wire`]), sealed boxes ([`seal`]), the one
//! share/result byte encoding ([`codec`]), the domain-separated digests
//! that bind requests, the network file, enrollment ids and pinned node
//! keys with the TLS verifier that pins them ([`pin`]).
//!
//! ```text
//!   sanctuary-client ──▶ sanctuary-proto ◀── sanctuary-node
//!         (SDK)        (messages, sealing,      (server: axum,
//!                       codec, network file)     sqlx, mesh)
//! ```
//!
//! No HTTP server, database or peer mesh is reachable from here, so a
//! program that only calls a network compiles none of them.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![warn(missing_docs)]

pub mod codec;
mod error;
mod id;
mod key;
mod network;
pub mod pin;
mod refusal;
pub mod seal;
pub mod wire;

// The public interface is:
pub use codec::{SealLabel, seal_context, share_from_bytes, share_to_bytes};
pub use error::ProtoError;
pub use id::{EnrollmentId, ParseEnrollmentIdError};
pub use key::{PUBLIC_KEY_PREFIX, PublicKey};
pub use network::{
    MatchingConfig, Modalities, MpcSecurity, NetworkFile, NodeEntry, checkpoint_policy,
    log_key_name, log_origin,
};
pub use refusal::{RefusalCode, UnknownRefusalCode};
