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

/// ALPN protocol of mesh links: keeps a node key used elsewhere (e.g. for an
/// HTTPS API) from being confused with a mesh handshake.
pub const MESH_ALPN: &[u8] = b"sanctuary-mesh/1";

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
    Ok(match crate::key::from_spki(spki.as_ref()) {
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
        // No resumption: a resumed session would skip the pinned-key check.
        config.resumption = rustls::client::Resumption::disabled();
        config.alpn_protocols = vec![MESH_ALPN.to_vec()];
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
        config.alpn_protocols = vec![MESH_ALPN.to_vec()];
        Ok((config, verifier))
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    use super::*;

    /// Runs one handshake over an in-memory pipe and a byte exchange;
    /// returns the client's and the server's outcome.
    async fn handshake(
        client: ClientConfig,
        server: ServerConfig,
    ) -> (Result<(), String>, Result<(), String>) {
        let (c, s) = tokio::io::duplex(1 << 16);
        let server = tokio::spawn(async move {
            let mut tls = TlsAcceptor::from(Arc::new(server))
                .accept(s)
                .await
                .map_err(|e| describe_error(&e))?;
            tls.write_all(b"ok").await.map_err(|e| describe_error(&e))?;
            tls.flush().await.map_err(|e| describe_error(&e))
        });
        let name = ServerName::try_from("peer").unwrap();
        let client = async {
            let mut tls = TlsConnector::from(Arc::new(client))
                .connect(name, c)
                .await
                .map_err(|e| describe_error(&e))?;
            let mut buf = [0u8; 2];
            tls.read_exact(&mut buf)
                .await
                .map_err(|e| describe_error(&e))?;
            Ok(())
        };
        let client = client.await;
        (client, server.await.unwrap())
    }

    fn node(name: &str) -> NodeTls {
        NodeTls::new(NodeKey::generate().unwrap(), name).unwrap()
    }

    #[tokio::test]
    async fn pinned_keys_connect() {
        let (p0, p1) = (node("p0"), node("p1"));
        let client = p0.client_config(PartyId::P1, p1.public_key()).unwrap();
        let (server, verifier) = p1
            .server_config(vec![(PartyId::P0, p0.public_key())])
            .unwrap();
        let (c, s) = handshake(client, server).await;
        assert_eq!((c, s), (Ok(()), Ok(())));
        let cert = p0.key.self_signed_cert("again").unwrap();
        assert_eq!(verifier.party_of(&cert), Some(PartyId::P0));
    }

    #[tokio::test]
    async fn server_with_unpinned_key_is_refused() {
        let (p0, p1, impostor) = (node("p0"), node("p1"), node("p1"));
        let client = p0.client_config(PartyId::P1, p1.public_key()).unwrap();
        let (server, _) = impostor
            .server_config(vec![(PartyId::P0, p0.public_key())])
            .unwrap();
        let (c, _) = handshake(client, server).await;
        let err = c.unwrap_err();
        assert!(err.contains("not pinned for P1"), "{err}");
        assert!(err.contains(&impostor.public_key().to_string()), "{err}");
    }

    #[tokio::test]
    async fn client_with_unpinned_key_is_refused() {
        let (p0, p1, impostor) = (node("p0"), node("p1"), node("p0"));
        let client = impostor
            .client_config(PartyId::P1, p1.public_key())
            .unwrap();
        let (server, _) = p1
            .server_config(vec![(PartyId::P0, p0.public_key())])
            .unwrap();
        let (c, s) = handshake(client, server).await;
        let err = s.unwrap_err();
        assert!(
            err.contains("not pinned for any party allowed to connect here (P0)"),
            "{err}"
        );
        assert!(c.is_err());
    }

    struct RawEd25519(PublicKey);

    impl rcgen::PublicKeyData for RawEd25519 {
        fn der_bytes(&self) -> &[u8] {
            self.0.as_bytes()
        }

        fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
            &rcgen::PKCS_ED25519
        }
    }

    /// A client that presents a certificate carrying P0's *public* key but
    /// does not hold P0's private key: the pinned key matches, the handshake
    /// signature does not.
    #[tokio::test]
    async fn pinned_public_key_without_its_private_key_is_refused() {
        let (p0, p1) = (node("p0"), node("p1"));
        let thief = NodeKey::generate().unwrap();
        let thief_der = thief.private_key_der();
        let PrivateKeyDer::Pkcs8(thief_pkcs8) = &thief_der else {
            unreachable!()
        };
        let thief_rcgen =
            rcgen::KeyPair::from_pkcs8_der_and_sign_algo(thief_pkcs8, &rcgen::PKCS_ED25519)
                .unwrap();
        let params = rcgen::CertificateParams::new(vec!["p0".to_owned()]).unwrap();
        let issuer = rcgen::Issuer::from_params(&params, &thief_rcgen);
        let forged = params
            .signed_by(&RawEd25519(p0.public_key()), &issuer)
            .unwrap();
        let forged = forged.der().clone();
        assert_eq!(
            presented_key(&forged).unwrap(),
            PresentedKey::Ed25519(p0.public_key())
        );

        let signer = rustls::crypto::ring::sign::any_eddsa_type(&PrivatePkcs8KeyDer::from(
            thief_pkcs8.secret_pkcs8_der().to_vec(),
        ))
        .unwrap();
        let certified = rustls::sign::CertifiedKey::new(vec![forged], signer);
        let verifier = Arc::new(PinnedServerVerifier {
            peer: PartyId::P1,
            pinned: p1.public_key(),
            algs: provider().signature_verification_algorithms,
        });
        let client = ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(certified)));
        let (server, _) = p1
            .server_config(vec![(PartyId::P0, p0.public_key())])
            .unwrap();
        let (c, s) = handshake(client, server).await;
        let err = s.unwrap_err();
        assert_eq!(err, "invalid peer certificate: BadSignature");
        assert!(c.is_err());
    }
}
