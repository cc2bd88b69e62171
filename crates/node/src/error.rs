use std::path::PathBuf;

use sanctuary_share::PartyId;

/// Errors of a node or of the client library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A config file could not be read.
    #[error("cannot read {path}")]
    ConfigIo {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A config file is invalid.
    #[error("{path}: {message}")]
    Config {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        message: String,
    },
    /// A key file problem (identity or seal key).
    #[error("key file {path}: {message}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The request is malformed; nothing was changed.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The enrollment does not exist.
    #[error("no enrollment {0}")]
    NotFound(String),
    /// A peer node could not be reached or did not answer.
    #[error("node {peer} is unavailable: {reason}")]
    PeerUnavailable {
        /// The node.
        peer: PartyId,
        /// What happened.
        reason: String,
    },
    /// The nodes disagree on the order of operations.
    #[error("nodes are out of step: {0}")]
    OutOfStep(String),
    /// This node stopped serving (out of step); the reason is kept.
    #[error("node halted: {0}")]
    Halted(String),
    /// Operations go through the coordinator (party 0).
    #[error("this node is {0}; send operations to the coordinator P0")]
    NotCoordinator(PartyId),
    /// A protocol step failed.
    #[error("MPC failed")]
    Mpc(#[source] sanctuary_mpc::MpcError),
    /// Storage failed.
    #[error("storage failed")]
    Store(#[from] sanctuary_store::StoreError),
    /// The peer mesh failed to start.
    #[error("peer links failed")]
    Net(#[from] sanctuary_net::NetError),
    /// An HTTP call from the client failed.
    #[error("request to {url} failed: {message}")]
    Http {
        /// The node URL.
        url: String,
        /// What happened (status and body, or transport error).
        message: String,
    },
    /// A node refused the operation (consent or ethics policy); the refusal
    /// is recorded in the transparency log.
    #[error("refused by node {party}: {code}: {message}")]
    Refused {
        /// The first node (in party order) that refused.
        party: PartyId,
        /// Stable code: the policy rule or the token/statement check.
        code: String,
        /// Explanation.
        message: String,
    },
    /// The transparency log failed.
    #[error("transparency log")]
    Log(#[from] sanctuary_log::Error),
    /// The ethics policy file is invalid.
    #[error("policy file {path}")]
    Policy {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: sanctuary_consent::PolicyFileError,
    },
    /// A decision could not be reconstructed (a node cheated or a box was altered).
    #[error("result could not be reconstructed: {0}")]
    Result(String),
}

impl From<sanctuary_mpc::TransportError> for NodeError {
    fn from(e: sanctuary_mpc::TransportError) -> Self {
        use sanctuary_mpc::TransportError as T;
        let peer = match &e {
            T::Closed { peer }
            | T::Timeout { peer, .. }
            | T::TooLarge { peer, .. }
            | T::Link { peer, .. } => *peer,
            T::SelfAddressed { party } => *party,
            _ => return NodeError::OutOfStep(e.to_string()),
        };
        NodeError::PeerUnavailable {
            peer,
            reason: e.to_string(),
        }
    }
}

impl From<sanctuary_mpc::MpcError> for NodeError {
    fn from(e: sanctuary_mpc::MpcError) -> Self {
        match e {
            sanctuary_mpc::MpcError::Transport(t) => t.into(),
            other => NodeError::Mpc(other),
        }
    }
}
