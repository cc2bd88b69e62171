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

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};
use sanctuary_share::PartyId;

use crate::error::NetError;
use crate::key::{NodeKey, PublicKey};

/// ALPN protocol of mesh links: keeps a node key used elsewhere (e.g. for an
/// HTTPS API) from being confused with a mesh handshake.
pub const MESH_ALPN: &[u8] = b"sanctuary-mesh/1";

pub use sanctuary_proto::pin::{
    NotPinned, PinnedServerVerifier, PresentedKey, describe_error, match_pinned, provider, verify13,
};

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
        let verifier = Arc::new(PinnedServerVerifier::new(peer, pinned));
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

    /// Config for serving the client API over HTTPS: the same certificate
    /// (clients pin the same key, from the network file), no client
    /// certificate, and the API's ALPN so a mesh dialler is never answered
    /// as a client.
    pub fn api_server_config(&self) -> Result<ServerConfig, NetError> {
        let mut config = ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(NetError::Tls)?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.private_key_der())
            .map_err(NetError::Tls)?;
        config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
        config.send_tls13_tickets = 0;
        config.alpn_protocols = vec![sanctuary_proto::pin::API_ALPN.to_vec()];
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_rustls::{TlsAcceptor, TlsConnector};

    use super::*;
    use rustls::pki_types::ServerName;
    use sanctuary_proto::pin::presented_key;

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
        let verifier = Arc::new(PinnedServerVerifier::new(PartyId::P1, p1.public_key()));
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
