use sanctuary_share::{PartyId, ShareError};
use sanctuary_template::TemplateError;

use crate::TransportError;

/// Errors of the MPC protocols.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MpcError {
    /// The link to a peer failed.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A peer sent a message of the wrong size: it is out of step or cheating.
    #[error("{peer} sent {got} bytes where {expected} were expected")]
    BadMessage {
        /// The sender.
        peer: PartyId,
        /// Bytes expected.
        expected: usize,
        /// Bytes received.
        got: usize,
    },
    /// Opened values disagree between their two holders: a party cheated.
    #[error("opening failed: {culprits:?} sent inconsistent copies of a share")]
    Inconsistent {
        /// The two parties whose copies disagree (one of them cheated).
        culprits: [PartyId; 2],
    },
    /// A party's proof of the messages it sent failed: it (or, less
    /// likely, the party that checked it with us) deviated from the
    /// protocol. Nothing was opened.
    #[error("cheating detected by {detected_by} in {step}: the proof of {suspect} failed")]
    Cheating {
        /// The party whose proof failed.
        suspect: PartyId,
        /// The party that found it.
        detected_by: PartyId,
        /// The protocol step.
        step: &'static str,
    },
    /// Shares could not be combined.
    #[error(transparent)]
    Share(#[from] ShareError),
    /// A template or parameter was invalid.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// Inputs of the wrong shape were given to a protocol (a caller bug).
    #[error("invalid protocol input: {0}")]
    Input(&'static str),
}
