//! Pinned mutual TLS: rustls 0.23 configurations (ring provider, TLS 1.3 only,
//! Ed25519 only) whose verifiers accept exactly the pinned peer keys.
//!
//! There is no certificate authority. Each node presents a self-signed
//! certificate for its [`NodeKey`]; a verifier extracts the certificate's
//! `SubjectPublicKeyInfo`, compares the raw Ed25519 key in constant time with
//! the key pinned for the expected party, and checks the handshake signature
//! with ring. Names and validity dates in the certificate are ignored: the
//! pinned key is the whole trust decision, and rotating a key means changing
//! the peers' configuration.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, OtherError,
    ServerConfig, SignatureScheme,
};
use sanctuary_share::PartyId;

use crate::error::NetError;
use crate::key::{NodeKey, PublicKey};

/// The peer presented a certificate whose key is not the pinned one.
#[derive(Debug, thiserror::Error)]
#[error("peer key {presented} is not pinned {expected}")]
pub struct NotPinned {
    /// The key the peer presented (`None` if its certificate holds no Ed25519 key).
    pub presented: PresentedKey,
    /// What was expected, in words.
    pub expected: String,
}

/// The key found in a peer's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresentedKey {
    /// An Ed25519 key.
    Ed25519(PublicKey),
    /// A key of another algorithm.
    NotEd25519,
}

impl fmt::Display for PresentedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PresentedKey::Ed25519(k) => k.fmt(f),
            PresentedKey::NotEd25519 => f.write_str("(not an Ed25519 key)"),
        }
    }
}

/// The ring provider restricted to what the mesh uses.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The key in `cert`'s SubjectPublicKeyInfo.
fn presented_key(cert: &CertificateDer<'_>) -> Result<PresentedKey, rustls::Error> {
    let parsed = rustls::server::ParsedCertificate::try_from(cert)?;
    let spki = parsed.subject_public_key_info();
    Ok(match PublicKey::from_spki(spki.as_ref()) {
        Some(k) => PresentedKey::Ed25519(k),
        None => PresentedKey::NotEd25519,
    })
}

/// Describes a TLS/I-O failure for a log line or status, spelling out a
/// pinning refusal (rustls would print its error variant's debug form).
pub fn describe_error(e: &std::io::Error) -> String {
    let inner = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
    if let Some(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(other)))) =
        inner
        && let Some(np) = other.downcast_ref::<NotPinned>()
    {
        return format!("TLS handshake refused: {np}");
    }
    e.to_string()
}

fn not_pinned(presented: PresentedKey, expected: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(NotPinned {
        presented,
        expected,
    }))))
}

/// Finds which pinned party `cert` belongs to, comparing every candidate in
/// constant time (no early exit on the first match).
fn match_pinned(
    cert: &CertificateDer<'_>,
    pinned: &[(PartyId, PublicKey)],
    expected: impl FnOnce() -> String,
) -> Result<PartyId, rustls::Error> {
    let presented = presented_key(cert)?;
    let mut found = None;
    if let PresentedKey::Ed25519(key) = presented {
        for (party, pin) in pinned {
            if pin.ct_eq(&key) {
                found = Some(*party);
            }
        }
    }
    found.ok_or_else(|| not_pinned(presented, expected()))
}

/// Verifies the handshake signature of the peer's (already pinned) key.
fn verify13(
    algs: &WebPkiSupportedAlgorithms,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    if dss.scheme != SignatureScheme::ED25519 {
        return Err(rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme.into());
    }
    rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
}

/// Server-certificate verifier of a dialling node: accepts only the key
/// pinned for the party it dials.
#[derive(Debug)]
pub struct PinnedServerVerifier {
    peer: PartyId,
    pinned: PublicKey,
    algs: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match_pinned(end_entity, &[(self.peer, self.pinned)], || {
            format!("for {} (expected {})", self.peer, self.pinned)
        })?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(
            "TLS 1.2 is disabled on mesh links".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify13(&self.algs, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// Client-certificate verifier of an accepting node: accepts only the keys
/// pinned for the parties allowed to dial it.
#[derive(Debug)]
pub struct PinnedClientVerifier {
    pinned: Vec<(PartyId, PublicKey)>,
    algs: WebPkiSupportedAlgorithms,
}

impl PinnedClientVerifier {
    /// The party a verified client certificate belongs to.
    pub fn party_of(&self, cert: &CertificateDer<'_>) -> Option<PartyId> {
        match_pinned(cert, &self.pinned, String::new).ok()
    }
}

impl ClientCertVerifier for PinnedClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match_pinned(end_entity, &self.pinned, || {
            let parties: Vec<String> = self.pinned.iter().map(|(p, _)| p.to_string()).collect();
            format!(
                "for any party allowed to connect here ({})",
                parties.join(", ")
            )
        })?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General(
            "TLS 1.2 is disabled on mesh links".into(),
        ))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify13(&self.algs, message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        vec![SignatureScheme::ED25519]
    }
}

/// TLS material of one node: its key and self-signed certificate.
pub struct NodeTls {
    cert: CertificateDer<'static>,
    key: NodeKey,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for NodeTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeTls")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl NodeTls {
    /// Certificate for `key` under the node name `name` (its DNS SAN).
    pub fn new(key: NodeKey, name: &str) -> Result<Self, NetError> {
        let cert = key.self_signed_cert(name)?;
        Ok(NodeTls {
            cert,
            key,
            provider: provider(),
        })
    }

    /// The node's public key.
    pub fn public_key(&self) -> PublicKey {
        self.key.public_key()
    }

    /// Config for dialling `peer`, whose key is pinned as `pinned`.
    pub fn client_config(
        &self,
        peer: PartyId,
        pinned: PublicKey,
    ) -> Result<ClientConfig, NetError> {
        let verifier = Arc::new(PinnedServerVerifier {
            peer,
            pinned,
            algs: self.provider.signature_verification_algorithms,
        });
        let mut config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(NetError::Tls)?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_auth_cert(vec![self.cert.clone()], self.key.private_key_der())
            .map_err(NetError::Tls)?;
        config.resumption = rustls::client::Resumption::disabled();
        Ok(config)
    }

    /// Config for accepting connections from the `pinned` parties, plus the
    /// verifier (to map an accepted certificate back to its party).
    pub fn server_config(
        &self,
        pinned: Vec<(PartyId, PublicKey)>,
    ) -> Result<(ServerConfig, Arc<PinnedClientVerifier>), NetError> {
        let verifier = Arc::new(PinnedClientVerifier {
            pinned,
            algs: self.provider.signature_verification_algorithms,
        });
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(NetError::Tls)?
            .with_client_cert_verifier(verifier.clone())
            .with_single_cert(vec![self.cert.clone()], self.key.private_key_der())
            .map_err(NetError::Tls)?;
        // Every connection is a fresh full handshake against the pinned keys.
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        Ok((config, verifier))
    }
}
