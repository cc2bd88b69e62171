use sanctuary_proto::RefusalCode;
use sanctuary_share::PartyId;

/// Errors of the client library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The network file is unreadable or invalid.
    #[error("network file")]
    NetworkFile(#[from] sanctuary_proto::ProtoError),
    /// The network file has no Identity Weaving keys.
    #[error("the network file has no [weave] keys (network created before Identity Weaving)")]
    NoWeaveKeys,
    /// The network's name is not a valid network id.
    #[error("network name {name:?}: {reason}")]
    NetworkName {
        /// The name.
        name: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up HTTP")]
    HttpSetup(#[source] reqwest::Error),
    /// A node could not be reached.
    #[error("node {party} unreachable at {url}")]
    Unreachable {
        /// The node.
        party: PartyId,
        /// The URL asked.
        url: String,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// A node presented a key other than the one pinned for it: a
    /// man-in-the-middle, or a wrong network file. Nothing was sent.
    #[error(
        "node {party} at {url} presented key {presented}, not the key pinned for it in the network file"
    )]
    WrongNodeKey {
        /// The node.
        party: PartyId,
        /// The URL asked.
        url: String,
        /// The key it presented.
        presented: String,
    },
    /// A node's API URL is plain HTTP and the network file does not allow it.
    #[error(
        "node {party}'s API URL {url} is plain HTTP, which is refused (use https://; \
         `network init --insecure-http` makes a network file that allows it, for local experiments)"
    )]
    InsecureUrl {
        /// The node.
        party: PartyId,
        /// Its URL.
        url: String,
    },
    /// A node's decision share is not authentic: not signed by its pinned
    /// key for this request, this client's key and this client's shares.
    #[error("the decision share from {party} was refused: {reason}")]
    ResultNotAuthentic {
        /// The node.
        party: PartyId,
        /// Why.
        reason: String,
    },
    /// A node answered with an error status (not a refusal).
    #[error("request to {url} failed: {status}: {message}")]
    Status {
        /// The node.
        party: PartyId,
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The node's message.
        message: String,
    },
    /// A node answered something that is not the expected response.
    #[error("bad response from {party} ({url}): {message}")]
    BadResponse {
        /// The node.
        party: PartyId,
        /// The URL asked.
        url: String,
        /// What was wrong with it.
        message: String,
    },
    /// A node refused the operation (consent or ethics policy); the refusal
    /// is recorded in the transparency log.
    #[error("refused by node {party}: {code}: {message}")]
    Refused {
        /// The first node (in party order) that refused.
        party: PartyId,
        /// The check that failed.
        code: RefusalCode,
        /// Explanation.
        message: String,
    },
    /// A share could not be sealed to a node (its seal key is invalid).
    #[error("cannot seal a share to {party}")]
    Seal {
        /// The node.
        party: PartyId,
        /// Why.
        #[source]
        source: sanctuary_proto::seal::SealError,
    },
    /// A decision could not be reconstructed: a node's share did not open
    /// or the shares are inconsistent (a node cheated or a box was altered).
    #[error("result could not be reconstructed: {0}")]
    Result(String),
    /// A node served log data that does not verify.
    #[error("node {party}: {message}")]
    LogData {
        /// The node.
        party: PartyId,
        /// What did not verify.
        message: String,
    },
    /// A transparency-log check failed.
    #[error("transparency log")]
    Log(#[from] sanctuary_log::Error),
    /// An Identity Weaving step failed.
    #[error("identity weaving")]
    Weave(#[from] sanctuary_weave::WeaveError),
    /// The caller's input is invalid (nothing was sent).
    #[error("invalid input: {0}")]
    Input(String),
}
