use std::path::PathBuf;

use sanctuary_proto::RefusalCode;
use sanctuary_share::PartyId;

/// Errors of a node. Each variant has one HTTP status ([`NodeError::status`]);
/// internal faults carry their cause as a source, never as a string.
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
    NotFound(sanctuary_proto::EnrollmentId),
    /// The log has no co-signed checkpoint yet.
    #[error("no co-signed checkpoint (log not yet cosigned)")]
    NoCheckpoint,
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
    /// A node refused the operation (consent or ethics policy); the refusal
    /// is recorded in the transparency log.
    #[error("refused by node {party}: {code}: {message}")]
    Refused {
        /// The first node (in party order) that refused.
        party: PartyId,
        /// The policy rule or the token/statement check.
        code: RefusalCode,
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
    /// A control message could not be encoded.
    #[error("cannot encode a control message")]
    Encode(#[source] serde_json::Error),
    /// An invariant of the node broke (a bug, never the client's fault).
    #[error("internal error: {0}")]
    Internal(&'static str),
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

impl NodeError {
    /// The HTTP status and the stable error code of the API's JSON body.
    pub fn status(&self) -> (u16, &'static str) {
        match self {
            NodeError::BadRequest(_) => (400, "bad_request"),
            NodeError::Refused { code, .. } => (403, code.as_str()),
            NodeError::NotFound(_) | NodeError::NoCheckpoint => (404, "not_found"),
            NodeError::NotCoordinator(_) => (421, "not_coordinator"),
            NodeError::PeerUnavailable { .. } => (503, "peer_unavailable"),
            NodeError::OutOfStep(_) | NodeError::Halted(_) => (503, "out_of_step"),
            NodeError::Log(sanctuary_log::Error::Usage(_) | sanctuary_log::Error::Proof(_)) => {
                (400, "bad_request")
            }
            NodeError::ConfigIo { .. }
            | NodeError::Config { .. }
            | NodeError::Key { .. }
            | NodeError::Mpc(_)
            | NodeError::Store(_)
            | NodeError::Net(_)
            | NodeError::Log(_)
            | NodeError::Policy { .. }
            | NodeError::Encode(_)
            | NodeError::Internal(_) => (500, "internal"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_has_its_status() {
        let id = sanctuary_proto::EnrollmentId([0; 16]);
        let cases: Vec<(NodeError, u16, &str)> = vec![
            (NodeError::BadRequest("x".into()), 400, "bad_request"),
            (
                NodeError::Refused {
                    party: PartyId::P1,
                    code: RefusalCode::TokenExpired,
                    message: String::new(),
                },
                403,
                "token_expired",
            ),
            (NodeError::NotFound(id), 404, "not_found"),
            (
                NodeError::NotCoordinator(PartyId::P2),
                421,
                "not_coordinator",
            ),
            (
                NodeError::PeerUnavailable {
                    peer: PartyId::P1,
                    reason: String::new(),
                },
                503,
                "peer_unavailable",
            ),
            (NodeError::OutOfStep(String::new()), 503, "out_of_step"),
            (NodeError::Halted(String::new()), 503, "out_of_step"),
            (NodeError::NoCheckpoint, 404, "not_found"),
            (NodeError::Internal("x"), 500, "internal"),
            (
                NodeError::Config {
                    path: "n.toml".into(),
                    message: String::new(),
                },
                500,
                "internal",
            ),
            (
                NodeError::Encode(serde_json::from_str::<u8>("x").unwrap_err()),
                500,
                "internal",
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status(), (status, code), "{e:?}");
        }
    }
}
