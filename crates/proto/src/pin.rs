//! Pinned TLS without a certificate authority: a node presents a
//! self-signed certificate for its identity key, and whoever dials it (a
//! peer node or a client) accepts exactly the key pinned for that node in
//! the network file. rustls 0.23, ring provider, TLS 1.3 and Ed25519 only.
//! Names and validity dates in the certificate are ignored: the pinned key
//! is the whole trust decision.

use std::fmt;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, SignatureScheme};
use sanctuary_share::PartyId;

use crate::PublicKey;

/// ALPN protocol of the client API over TLS (the mesh uses its own, so a
/// node key's two uses are never confused).
pub const API_ALPN: &[u8] = b"http/1.1";

/// DER prefix of an Ed25519 `SubjectPublicKeyInfo` (RFC 8410 section 4); the
/// 32-byte public key follows.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// The key in an Ed25519 `SubjectPublicKeyInfo`, or `None` if `spki` is
/// not one.
pub fn from_spki(spki: &[u8]) -> Option<PublicKey> {
    let rest = spki.strip_prefix(&SPKI_ED25519_PREFIX[..])?;
    let bytes: [u8; 32] = rest.try_into().ok()?;
    Some(PublicKey::from_bytes(bytes))
}

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
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The key in `cert`'s SubjectPublicKeyInfo.
pub fn presented_key(cert: &CertificateDer<'_>) -> Result<PresentedKey, rustls::Error> {
    let parsed = rustls::server::ParsedCertificate::try_from(cert)?;
    let spki = parsed.subject_public_key_info();
    Ok(match from_spki(spki.as_ref()) {
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

/// The rustls error a verifier returns for a key that is not pinned.
pub fn not_pinned(presented: PresentedKey, expected: String) -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(NotPinned {
        presented,
        expected,
    }))))
}

/// Finds which pinned party `cert` belongs to, comparing every candidate in
/// constant time (no early exit on the first match).
pub fn match_pinned(
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
pub fn verify13(
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

/// Server-certificate verifier of a dialling node or client: accepts only
/// the key pinned for the party it dials.
#[derive(Debug)]
pub struct PinnedServerVerifier {
    peer: PartyId,
    pinned: PublicKey,
    algs: WebPkiSupportedAlgorithms,
}

impl PinnedServerVerifier {
    /// Accepts only `pinned`, the key of `peer`.
    pub fn new(peer: PartyId, pinned: PublicKey) -> Self {
        Self {
            peer,
            pinned,
            algs: provider().signature_verification_algorithms,
        }
    }
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
            "TLS 1.2 is disabled on Sanctuary links".into(),
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

/// A client's TLS configuration for node `party`'s API, whose key is pinned
/// as `pinned`: TLS 1.3, no resumption (a resumed session would skip the
/// pin check), no client certificate.
pub fn api_client_config(party: PartyId, pinned: PublicKey) -> Result<ClientConfig, rustls::Error> {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServerVerifier::new(party, pinned)))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    config.alpn_protocols = vec![API_ALPN.to_vec()];
    Ok(config)
}

/// The pinning refusal somewhere in `e`'s source chain, if that is why a
/// connection failed.
pub fn find_not_pinned<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a NotPinned> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(np) = err.downcast_ref::<NotPinned>() {
            return Some(np);
        }
        if let Some(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(other)))) =
            err.downcast_ref::<rustls::Error>()
            && let Some(np) = other.downcast_ref::<NotPinned>()
        {
            return Some(np);
        }
        if let Some(io) = err.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && let Some(np) = find_not_pinned(inner)
        {
            return Some(np);
        }
        cur = err.source();
    }
    None
}
