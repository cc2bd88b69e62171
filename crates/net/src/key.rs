//! Node identity: an Ed25519 key pair, its PKCS#8 PEM file, its pinnable public
//! key string and the self-signed certificate the node presents in TLS.

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::KeyPair as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use zeroize::Zeroizing;

use crate::error::NetError;
pub use sanctuary_proto::{PUBLIC_KEY_PREFIX, PublicKey};

/// DER prefix of a PKCS#8 v1 `OneAsymmetricKey` holding an Ed25519 seed
/// (RFC 8410 section 7); the 32-byte seed follows.
const PKCS8_ED25519_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// A node's long-term Ed25519 identity key pair.
///
/// The secret seed is zeroized on drop and never printed (`Debug` shows only
/// the public key). The same key signs the node's TLS handshakes.
pub struct NodeKey {
    seed: Zeroizing<[u8; 32]>,
    public: PublicKey,
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey")
            .field("public", &self.public)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl NodeKey {
    /// A fresh key from the operating system's random number generator.
    pub fn generate() -> Result<Self, NetError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), seed.as_mut())
            .map_err(|_| NetError::Rng)?;
        Ok(Self::from_seed(seed))
    }

    /// The key pair for a given 32-byte secret seed (RFC 8032 private key).
    pub fn from_seed(seed: Zeroizing<[u8; 32]>) -> Self {
        // from_seed_unchecked cannot fail for a 32-byte seed: every seed is a valid key.
        let public = match ring::signature::Ed25519KeyPair::from_seed_unchecked(seed.as_ref()) {
            Ok(kp) => {
                let mut bytes = [0u8; 32];
                bytes.copy_from_slice(kp.public_key().as_ref());
                PublicKey::from_bytes(bytes)
            }
            Err(_) => unreachable!("ring rejects only seeds that are not 32 bytes long"),
        };
        NodeKey { seed, public }
    }

    /// The public key to pin in the other nodes' configurations.
    pub fn public_key(&self) -> PublicKey {
        self.public
    }

    /// An Ed25519 signature (RFC 8032) of `message` under this key. Callers
    /// sign domain-separated messages only (e.g.
    /// `sanctuary_proto::wire::result_message`), which can never be a TLS
    /// 1.3 `CertificateVerify` input (that starts with 64 spaces).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let mut out = [0u8; 64];
        if let Ok(kp) = ring::signature::Ed25519KeyPair::from_seed_unchecked(self.seed.as_ref()) {
            out.copy_from_slice(kp.sign(message).as_ref());
        }
        out
    }

    /// The private key as PKCS#8 v1 DER (RFC 8410), zeroized on drop.
    fn pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&PKCS8_ED25519_PREFIX);
        der.extend_from_slice(self.seed.as_ref());
        der
    }

    /// The private key for rustls.
    pub(crate) fn private_key_der(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.pkcs8_der().to_vec()))
    }

    /// The private key as a PKCS#8 PEM document (`BEGIN PRIVATE KEY`), the
    /// format `openssl genpkey -algorithm ed25519` writes.
    pub fn to_pem(&self) -> Zeroizing<String> {
        let b64 = Zeroizing::new(B64.encode(self.pkcs8_der().as_slice()));
        let mut pem = Zeroizing::new(String::with_capacity(128));
        pem.push_str(PEM_BEGIN);
        pem.push('\n');
        pem.push_str(&b64);
        pem.push('\n');
        pem.push_str(PEM_END);
        pem.push('\n');
        pem
    }

    /// Parses a PKCS#8 PEM Ed25519 private key (as written by [`NodeKey::to_pem`]
    /// or `openssl genpkey -algorithm ed25519`).
    pub fn from_pem(pem: &str) -> Result<Self, NetError> {
        Self::from_pem_at(pem, Path::new("<memory>"))
    }

    fn from_pem_at(pem: &str, path: &Path) -> Result<Self, NetError> {
        let bad = |reason| NetError::BadKeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let body = pem
            .trim()
            .strip_prefix(PEM_BEGIN)
            .and_then(|rest| rest.strip_suffix(PEM_END))
            .ok_or_else(|| bad("no BEGIN/END PRIVATE KEY block"))?;
        let b64: Zeroizing<String> =
            Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
        let der = Zeroizing::new(
            B64.decode(b64.as_bytes())
                .map_err(|_| bad("invalid base64"))?,
        );
        let seed_bytes = der
            .strip_prefix(&PKCS8_ED25519_PREFIX[..])
            .filter(|rest| rest.len() == 32)
            .ok_or_else(|| bad("not an Ed25519 PKCS#8 v1 key"))?;
        let mut seed = Zeroizing::new([0u8; 32]);
        seed.copy_from_slice(seed_bytes);
        Ok(Self::from_seed(seed))
    }

    /// Writes the key as PEM to a new file readable only by its owner (mode
    /// 0600). Refuses to overwrite an existing file: a node identity is not
    /// replaced by accident.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), NetError> {
        let path = path.as_ref();
        let io = |source| NetError::KeyFileIo {
            path: path.to_path_buf(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                NetError::KeyFileExists {
                    path: path.to_path_buf(),
                }
            } else {
                io(e)
            }
        })?;
        file.write_all(self.to_pem().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        tracing::info!(path = %path.display(), public_key = %self.public, "saved node key");
        Ok(())
    }

    /// Reads a key file written by [`NodeKey::save`]. On Unix the file must
    /// not be accessible to group or others.
    pub fn load(path: impl AsRef<Path>) -> Result<Self, NetError> {
        let path = path.as_ref();
        let io = |source| NetError::KeyFileIo {
            path: path.to_path_buf(),
            source,
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(path).map_err(io)?.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(NetError::KeyFilePermissions {
                    path: path.to_path_buf(),
                    mode,
                });
            }
        }
        let pem = Zeroizing::new(std::fs::read_to_string(path).map_err(io)?);
        Self::from_pem_at(&pem, path)
    }

    /// Loads the key at `path`, or generates and saves one there if the file
    /// does not exist.
    pub fn load_or_generate(path: impl AsRef<Path>) -> Result<Self, NetError> {
        let path = path.as_ref();
        if path.exists() {
            return Self::load(path);
        }
        let key = Self::generate()?;
        key.save(path)?;
        Ok(key)
    }

    /// A self-signed X.509 certificate for this key with `name` as its DNS
    /// subject alternative name. Peers do not check the name or validity
    /// dates: trust comes only from the pinned public key.
    pub fn self_signed_cert(&self, name: &str) -> Result<CertificateDer<'static>, NetError> {
        let cert_err = |source| NetError::Certificate {
            name: name.to_owned(),
            source,
        };
        let der = self.pkcs8_der();
        let pkcs8 = PrivatePkcs8KeyDer::from(der.as_slice());
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_ED25519)
            .map_err(cert_err)?;
        let mut params = rcgen::CertificateParams::new(vec![name.to_owned()]).map_err(cert_err)?;
        let mut dn = rcgen::DistinguishedName::new();
        dn.push(rcgen::DnType::CommonName, name);
        params.distinguished_name = dn;
        let cert = params.self_signed(&key_pair).map_err(cert_err)?;
        Ok(cert.der().clone())
    }
}

/// Where a node's key lives by convention inside its data directory.
pub fn default_key_path(data_dir: impl AsRef<Path>) -> PathBuf {
    data_dir.as_ref().join("node-key.pem")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_under_the_public_key_with_a_plain_verifier() {
        let key = NodeKey::generate().unwrap();
        let sig = key.sign(b"sanctuary/test/v1\0message");
        let public = key.public_key();
        let pk =
            ring::signature::UnparsedPublicKey::new(&ring::signature::ED25519, public.as_bytes());
        assert!(pk.verify(b"sanctuary/test/v1\0message", &sig).is_ok());
        assert!(pk.verify(b"sanctuary/test/v1\0other", &sig).is_err());
    }

    #[test]
    fn public_key_text_round_trips() {
        let key = NodeKey::generate().unwrap();
        let text = key.public_key().to_string();
        assert!(text.starts_with("ed25519:"));
        assert_eq!(text.len(), 8 + 44);
        assert_eq!(text.parse::<PublicKey>().unwrap(), key.public_key());
        assert!("ed25519:AAAA".parse::<PublicKey>().is_err());
        assert!(text[8..].parse::<PublicKey>().is_err());
        let json = serde_json::to_string(&key.public_key()).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(
            serde_json::from_str::<PublicKey>(&json).unwrap(),
            key.public_key()
        );
    }

    #[test]
    fn rfc8032_test_vector_public_key() {
        // RFC 8032 section 7.1, TEST 1 secret key.
        let seed: [u8; 32] = [
            0x9d, 0x61, 0xb1, 0x9d, 0xef, 0xfd, 0x5a, 0x60, 0xba, 0x84, 0x4a, 0xf4, 0x92, 0xec,
            0x2c, 0xc4, 0x44, 0x49, 0xc5, 0x69, 0x7b, 0x32, 0x69, 0x19, 0x70, 0x3b, 0xac, 0x03,
            0x1c, 0xae, 0x7f, 0x60,
        ];
        let key = NodeKey::from_seed(Zeroizing::new(seed));
        assert_eq!(
            key.public_key().to_string(),
            "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
        );
    }

    #[test]
    fn debug_redacts_secret() {
        let key = NodeKey::from_seed(Zeroizing::new([7u8; 32]));
        let dbg = format!("{key:?}");
        assert!(dbg.contains("redacted"));
        assert!(!dbg.contains("7, 7"));
        let pem = key.to_pem();
        assert!(!dbg.contains(pem.lines().nth(1).unwrap()));
    }

    #[test]
    fn pem_round_trips_and_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = default_key_path(dir.path());
        let key = NodeKey::generate().unwrap();
        key.save(&path).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let loaded = NodeKey::load(&path).unwrap();
        assert_eq!(loaded.public_key(), key.public_key());
        assert!(matches!(
            key.save(&path),
            Err(NetError::KeyFileExists { .. })
        ));
        let again = NodeKey::load_or_generate(&path).unwrap();
        assert_eq!(again.public_key(), key.public_key());
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        NodeKey::generate().unwrap().save(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = NodeKey::load(&path).unwrap_err();
        assert!(
            matches!(err, NetError::KeyFilePermissions { mode: 0o644, .. }),
            "{err}"
        );
    }

    #[test]
    fn garbage_key_file_is_refused() {
        assert!(matches!(
            NodeKey::from_pem("hello"),
            Err(NetError::BadKeyFile { .. })
        ));
        let pem = format!("{PEM_BEGIN}\nMC4CAQAwBQYDK2VwBCIEIA==\n{PEM_END}\n");
        assert!(matches!(
            NodeKey::from_pem(&pem),
            Err(NetError::BadKeyFile { .. })
        ));
    }

    #[test]
    fn certificate_carries_the_node_key() {
        let key = NodeKey::generate().unwrap();
        let cert = key.self_signed_cert("node-0.sanctuary").unwrap();
        let parsed = rustls::server::ParsedCertificate::try_from(&cert).unwrap();
        let spki = parsed.subject_public_key_info();
        assert_eq!(
            sanctuary_proto::pin::from_spki(spki.as_ref()),
            Some(key.public_key())
        );
    }
}
