//! The client side of a Sanctuary network (a "Security Sanctuary"
//! enrollment or verification site, a subject's wallet, an auditor): splits
//! a template into shares, seals each to its node, sends the bundle to the
//! coordinator, and reconstructs decisions from the nodes' sealed shares;
//! audits the transparency log; and holds the subject's Identity Weaving
//! credentials and threads ([`holder`]).
//!
//! It depends on `sanctuary-proto` for every message and never on the node:
//! no HTTP server, database or peer mesh is compiled into a client.
#![cfg_attr(not(test), deny(clippy::unwrap_used))]
#![warn(missing_docs)]

mod client;
mod error;
pub mod holder;
mod weave;

// The public interface is:
pub use client::{Client, Consent, LogAudit, Notice, SubjectAudit, audit_tag};
pub use error::ClientError;
pub use holder::{HeldItem, HeldKey, HeldThread, Holder};
pub use sanctuary_proto::{EnrollmentId, NetworkFile, RefusalCode};
pub use weave::{HeldCredential, WeaveClient, group_key};
