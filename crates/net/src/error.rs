//! Setup errors: key files, listening sockets, TLS configuration, mesh config.
//!
//! Errors on an established link are reported per message as
//! [`sanctuary_mpc::transport::TransportError`], which names the peer.

use std::path::PathBuf;
use std::time::Duration;

use sanctuary_share::PartyId;

/// An error setting up a node's identity or its mesh.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// A key file could not be read or written.
    #[error("key file {path}: {source}")]
    KeyFileIo {
        /// The file.
        path: PathBuf,
        /// The I/O failure.
        #[source]
        source: std::io::Error,
    },
    /// A key file exists and would be overwritten.
    #[error("key file {path} already exists; refusing to overwrite a node identity")]
    KeyFileExists {
        /// The file.
        path: PathBuf,
    },
    /// A key file is readable or writable by users other than its owner.
    #[error(
        "key file {path} has mode {mode:o}; a node key must be private to its owner (chmod 600)"
    )]
    KeyFilePermissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file does not hold an Ed25519 private key in PKCS#8 PEM form.
    #[error("key file {path} is not an Ed25519 PKCS#8 PEM private key: {reason}")]
    BadKeyFile {
        /// The file (or `<memory>`).
        path: PathBuf,
        /// What is wrong.
        reason: &'static str,
    },
    /// The operating system's random number generator failed.
    #[error("the system random number generator failed")]
    Rng,
    /// The self-signed certificate could not be generated.
    #[error("cannot generate the node certificate for {name:?}")]
    Certificate {
        /// The node name put in the certificate.
        name: String,
        /// The generator's failure.
        #[source]
        source: rcgen::Error,
    },
    /// The TLS configuration could not be built.
    #[error("TLS configuration failed")]
    Tls(#[source] rustls::Error),
    /// The mesh configuration is inconsistent.
    #[error("invalid mesh configuration: {0}")]
    Config(String),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: String,
        /// The failure.
        #[source]
        source: std::io::Error,
    },
    /// A link did not come up in time.
    #[error("link to {peer} at {addr} did not come up within {waited:?}: {reason}")]
    NotConnected {
        /// The peer.
        peer: PartyId,
        /// Its configured address.
        addr: String,
        /// How long we waited.
        waited: Duration,
        /// The last connection error seen, or a note that none was seen.
        reason: String,
    },
    /// A session id is reserved by the transport (heartbeats).
    #[error("session id {session} is reserved by the transport")]
    ReservedSession {
        /// The session id.
        session: u64,
    },
    /// A session id is already open on this mesh.
    #[error("session {session} is already open on this node")]
    SessionInUse {
        /// The session id.
        session: u64,
    },
}
