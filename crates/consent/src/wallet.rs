//! The subject's wallet: Ed25519 identity key, audit key, credentials, threads and
//! consent receipts, kept in a passphrase-encrypted file.
//!
//! # File format, version 1
//!
//! ```text
//! offset size  field
//!      0    8  magic "SNCTWLT\0"
//!      8    1  format version = 1
//!      9    1  KDF id = 1: argon2id, Argon2 version 0x13
//!     10    4  m_cost in KiB   (u32 big-endian)
//!     14    4  t_cost          (u32 big-endian)
//!     18    4  p_cost          (u32 big-endian)
//!     22   16  salt (random)
//!     38   24  nonce (random, XChaCha20-Poly1305)
//!     62    …  ciphertext || 16-byte tag
//! key = argon2id(passphrase, salt, m, t, p) → 32 bytes
//! ciphertext = XChaCha20-Poly1305(key, nonce, plaintext, AAD = bytes 0..62)
//! plaintext = JSON { "version": 1, "signing_key": hex, "audit_key": hex,
//!                    "created_at": RFC 3339, "credentials": [..], "threads": [..],
//!                    "receipts": [..] }
//! ```
//!
//! The whole header is authenticated (AAD), so lowering the KDF cost in a stolen
//! file is detected. Opening refuses KDF costs outside
//! [`KdfParams::MIN_M_COST_KIB`]..=[`KdfParams::MAX_M_COST_KIB`] (and similar for
//! `t`, `p`) so a crafted file cannot exhaust memory. A fresh salt and nonce are
//! drawn on every save. Why not `age`: one fewer dependency tree, and the header
//! (cost parameters) stays inspectable and authenticated with the same AEAD
//! already used elsewhere.
//!
//! Saving is atomic: a temporary file (mode 0600 on Unix) in the same directory is
//! written, synced and renamed over the target.

use std::fmt;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::{Zeroize, Zeroizing};

use crate::error::WalletError;
use crate::ids::SubjectPublicKey;
use crate::receipt::ConsentReceipt;
use crate::time_util::truncate;
use sanctuary_log::AuditKey;

const MAGIC: &[u8; 8] = b"SNCTWLT\0";
/// Current wallet file format version.
pub const FORMAT_VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const HEADER_LEN: usize = 62;
const TAG_LEN: usize = 16;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    m_cost_kib: u32,
    t_cost: u32,
    p_cost: u32,
}

impl KdfParams {
    /// Smallest accepted memory cost: 8 MiB.
    pub const MIN_M_COST_KIB: u32 = 8 * 1024;
    /// Largest accepted memory cost: 1 GiB.
    pub const MAX_M_COST_KIB: u32 = 1024 * 1024;
    /// Largest accepted time cost.
    pub const MAX_T_COST: u32 = 64;
    /// Largest accepted parallelism.
    pub const MAX_P_COST: u32 = 16;

    /// Default: 64 MiB, 3 passes, 1 lane (RFC 9106 §4 second recommendation,
    /// with one lane for small devices).
    pub const DEFAULT: Self = Self {
        m_cost_kib: 64 * 1024,
        t_cost: 3,
        p_cost: 1,
    };

    /// Custom parameters, checked against the accepted range.
    pub fn new(m_cost_kib: u32, t_cost: u32, p_cost: u32) -> Result<Self, WalletError> {
        let p = Self {
            m_cost_kib,
            t_cost,
            p_cost,
        };
        p.validate()?;
        Ok(p)
    }

    /// The cheapest accepted parameters (8 MiB, 1 pass): for tests and
    /// constrained devices only.
    pub const MINIMUM: Self = Self {
        m_cost_kib: Self::MIN_M_COST_KIB,
        t_cost: 1,
        p_cost: 1,
    };

    fn validate(&self) -> Result<(), WalletError> {
        let bad = |reason: &str| {
            Err(WalletError::KdfParams {
                reason: reason.to_owned(),
            })
        };
        if !(Self::MIN_M_COST_KIB..=Self::MAX_M_COST_KIB).contains(&self.m_cost_kib) {
            return bad("memory cost outside 8 MiB..=1 GiB");
        }
        if !(1..=Self::MAX_T_COST).contains(&self.t_cost) {
            return bad("time cost outside 1..=64");
        }
        if !(1..=Self::MAX_P_COST).contains(&self.p_cost) {
            return bad("parallelism outside 1..=16");
        }
        Ok(())
    }

    fn derive(&self, passphrase: &[u8], salt: &[u8]) -> Result<Zeroizing<[u8; 32]>, WalletError> {
        let params =
            Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32)).map_err(|e| {
                WalletError::KdfParams {
                    reason: e.to_string(),
                }
            })?;
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, key.as_mut())
            .map_err(|e| WalletError::KdfParams {
                reason: e.to_string(),
            })?;
        Ok(key)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The subject's wallet. Secrets are zeroized on drop and never printed.
pub struct Wallet {
    signing_key: SigningKey,
    audit_key: AuditKey,
    created_at: OffsetDateTime,
    /// Credentials (e.g. the network's "unique person" credential); format owned by
    /// the credential layer.
    pub credentials: Vec<serde_json::Value>,
    /// Identity Weaving threads (self-authored statements, vouches).
    pub threads: Vec<serde_json::Value>,
    receipts: Vec<ConsentReceipt>,
    /// The enrollments made with this wallet (so the subject can find,
    /// export and delete them; the network keeps no index by person).
    pub enrollments: Vec<EnrollmentRecord>,
}

/// One enrollment made with the wallet, as the wallet remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentRecord {
    /// The enrollment id (32 hex).
    pub id: String,
    /// The network it is enrolled in.
    pub network: String,
    /// Template kind (`embedding`, `iris`).
    pub kind: String,
    /// The enrollment site.
    pub site: String,
    /// Its log entry.
    pub seq: u64,
    /// When it was made.
    #[serde(with = "time::serde::rfc3339")]
    pub enrolled_at: OffsetDateTime,
    /// When the subject deleted it, if they did.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub deleted_at: Option<OffsetDateTime>,
    /// The terms the subject signed (each node's policy digest and the
    /// notice's): the subject's receipt of what they agreed to.
    #[serde(default)]
    pub accepted: Option<crate::statement::AcceptedTerms>,
}

impl fmt::Debug for Wallet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wallet")
            .field("subject", &self.subject())
            .field("signing_key", &"<redacted>")
            .field("audit_key", &self.audit_key)
            .field("created_at", &self.created_at)
            .field("credentials", &self.credentials.len())
            .field("threads", &self.threads.len())
            .field("receipts", &self.receipts.len())
            .field("enrollments", &self.enrollments.len())
            .finish()
    }
}

/// What a subject may show anyone: no secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletPublicInfo {
    /// The subject's public key (enrollment binding, token root key).
    pub subject: SubjectPublicKey,
    /// When the wallet was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Wallet file format version.
    pub format_version: u8,
}

#[derive(Serialize)]
struct PlainRef<'a> {
    version: u8,
    signing_key: &'a str,
    audit_key: &'a str,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    credentials: &'a [serde_json::Value],
    threads: &'a [serde_json::Value],
    receipts: &'a [ConsentReceipt],
    enrollments: &'a [EnrollmentRecord],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlainOwned {
    version: u8,
    #[serde(deserialize_with = "secret32")]
    signing_key: Zeroizing<[u8; 32]>,
    #[serde(deserialize_with = "secret32")]
    audit_key: Zeroizing<[u8; 32]>,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(default)]
    credentials: Vec<serde_json::Value>,
    #[serde(default)]
    threads: Vec<serde_json::Value>,
    #[serde(default)]
    receipts: Vec<ConsentReceipt>,
    #[serde(default)]
    enrollments: Vec<EnrollmentRecord>,
}

/// Decodes 64 hex digits straight into a zeroizing buffer.
fn secret32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Zeroizing<[u8; 32]>, D::Error> {
    struct V;
    impl serde::de::Visitor<'_> for V {
        type Value = Zeroizing<[u8; 32]>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("64 hex digits")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            let mut out = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(s, out.as_mut()).map_err(|_| E::custom("bad secret encoding"))?;
            Ok(out)
        }
    }
    d.deserialize_str(V)
}

/// A `Write` that only counts bytes (to size the plaintext buffer exactly, so it
/// never reallocates and leaves unzeroized copies of secrets behind).
struct Counter(usize);
impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Wallet {
    /// A new wallet with fresh random keys.
    pub fn create(now: OffsetDateTime) -> Self {
        let mut seed = Zeroizing::new([0u8; 32]);
        rand::Rng::fill(&mut rand::rng(), seed.as_mut());
        Self {
            signing_key: SigningKey::from_bytes(&seed),
            audit_key: AuditKey::generate(&mut rand::rng()),
            created_at: truncate(now),
            credentials: Vec::new(),
            threads: Vec::new(),
            receipts: Vec::new(),
            enrollments: Vec::new(),
        }
    }

    /// The subject's public key.
    pub fn subject(&self) -> SubjectPublicKey {
        // Invariant: a dalek verifying key is always a valid point encoding.
        #[allow(clippy::expect_used)]
        SubjectPublicKey::from_bytes(self.signing_key.verifying_key().to_bytes())
            .expect("verifying key from a signing key is valid")
    }

    /// The audit key (secret).
    pub fn audit_key(&self) -> &AuditKey {
        &self.audit_key
    }

    /// When the wallet was created.
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// Public information to share (no secrets).
    pub fn export_public(&self) -> WalletPublicInfo {
        WalletPublicInfo {
            subject: self.subject(),
            created_at: self.created_at,
            format_version: FORMAT_VERSION,
        }
    }

    /// Consent receipts of every token this wallet issued.
    pub fn receipts(&self) -> &[ConsentReceipt] {
        &self.receipts
    }

    /// All receipts as a pretty JSON array (for export).
    pub fn export_receipts_json(&self) -> String {
        serde_json::to_string_pretty(&self.receipts).unwrap_or_else(|_| "[]".to_owned())
    }

    pub(crate) fn push_receipt(&mut self, r: ConsentReceipt) {
        self.receipts.push(r);
    }

    pub(crate) fn sign_raw(&self, msg: &[u8]) -> [u8; 64] {
        self.signing_key.sign(msg).to_bytes()
    }

    /// The signing key as a Biscuit root key pair (built per use, not stored).
    pub(crate) fn biscuit_keypair(&self) -> Result<biscuit_auth::KeyPair, WalletError> {
        let seed = Zeroizing::new(self.signing_key.to_bytes());
        let sk = biscuit_auth::PrivateKey::from_bytes(
            seed.as_ref(),
            biscuit_auth::builder::Algorithm::Ed25519,
        )
        .map_err(|e| WalletError::Issue {
            reason: e.to_string(),
        })?;
        Ok(biscuit_auth::KeyPair::from(&sk))
    }

    /// Encrypts the wallet into the version-1 file format.
    pub fn to_encrypted_bytes(
        &self,
        passphrase: &str,
        params: KdfParams,
    ) -> Result<Vec<u8>, WalletError> {
        params.validate()?;
        if passphrase.is_empty() {
            return Err(WalletError::EmptyPassphrase);
        }
        let mut salt = [0u8; 16];
        let mut nonce = [0u8; 24];
        rand::Rng::fill(&mut rand::rng(), &mut salt);
        rand::Rng::fill(&mut rand::rng(), &mut nonce);

        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(MAGIC);
        header.push(FORMAT_VERSION);
        header.push(KDF_ARGON2ID);
        header.extend_from_slice(&params.m_cost_kib.to_be_bytes());
        header.extend_from_slice(&params.t_cost.to_be_bytes());
        header.extend_from_slice(&params.p_cost.to_be_bytes());
        header.extend_from_slice(&salt);
        header.extend_from_slice(&nonce);
        debug_assert_eq!(header.len(), HEADER_LEN);

        let seed = Zeroizing::new(self.signing_key.to_bytes());
        let sk_hex = Zeroizing::new(hex::encode(seed.as_ref()));
        let ak_hex = Zeroizing::new(hex::encode(*self.audit_key.to_bytes()));
        let plain = PlainRef {
            version: FORMAT_VERSION,
            signing_key: &sk_hex,
            audit_key: &ak_hex,
            created_at: self.created_at,
            credentials: &self.credentials,
            threads: &self.threads,
            receipts: &self.receipts,
            enrollments: &self.enrollments,
        };
        let ser_err = |e: serde_json::Error| WalletError::Corrupt {
            reason: format!("cannot serialise wallet: {e}"),
        };
        let mut counter = Counter(0);
        serde_json::to_writer(&mut counter, &plain).map_err(ser_err)?;
        let mut plaintext = Zeroizing::new(Vec::with_capacity(counter.0));
        serde_json::to_writer(&mut *plaintext, &plain).map_err(ser_err)?;

        let key = params.derive(passphrase.as_bytes(), &salt)?;
        let cipher =
            XChaCha20Poly1305::new_from_slice(key.as_ref()).map_err(|_| WalletError::Corrupt {
                reason: "key length".to_owned(),
            })?;
        let ct = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plaintext,
                    aad: &header,
                },
            )
            .map_err(|_| WalletError::Corrupt {
                reason: "encryption failed".to_owned(),
            })?;
        let mut out = header;
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Decrypts a wallet file's bytes.
    pub fn from_encrypted_bytes(bytes: &[u8], passphrase: &str) -> Result<Self, WalletError> {
        let corrupt = |reason: &str| WalletError::Corrupt {
            reason: reason.to_owned(),
        };
        if bytes.len() < HEADER_LEN + TAG_LEN {
            return Err(corrupt("file too short"));
        }
        let (header, ct) = bytes.split_at(HEADER_LEN);
        if &header[..8] != MAGIC {
            return Err(corrupt("bad magic"));
        }
        if header[8] != FORMAT_VERSION {
            return Err(WalletError::UnsupportedVersion(header[8]));
        }
        if header[9] != KDF_ARGON2ID {
            return Err(corrupt("unknown KDF id"));
        }
        let be = |r: std::ops::Range<usize>| {
            let mut b = [0u8; 4];
            b.copy_from_slice(&header[r]);
            u32::from_be_bytes(b)
        };
        let params = KdfParams::new(be(10..14), be(14..18), be(18..22))?;
        let salt = &header[22..38];
        let mut nonce = [0u8; 24];
        nonce.copy_from_slice(&header[38..62]);

        let key = params.derive(passphrase.as_bytes(), salt)?;
        let cipher =
            XChaCha20Poly1305::new_from_slice(key.as_ref()).map_err(|_| corrupt("key length"))?;
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: ct,
                        aad: header,
                    },
                )
                .map_err(|_| WalletError::WrongPassphrase)?,
        );
        let plain: PlainOwned = serde_json::from_slice(&plaintext)
            .map_err(|e| corrupt(&format!("wallet content: {e}")))?;
        if plain.version != FORMAT_VERSION {
            return Err(WalletError::UnsupportedVersion(plain.version));
        }
        Ok(Self {
            signing_key: SigningKey::from_bytes(&plain.signing_key),
            audit_key: AuditKey::from_bytes(*plain.audit_key),
            created_at: plain.created_at,
            credentials: plain.credentials,
            threads: plain.threads,
            receipts: plain.receipts,
            enrollments: plain.enrollments,
        })
    }

    /// Encrypts and writes the wallet atomically (temp file, fsync, rename;
    /// mode 0600 on Unix).
    pub fn save(
        &self,
        path: &Path,
        passphrase: &str,
        params: KdfParams,
    ) -> Result<(), WalletError> {
        let bytes = self.to_encrypted_bytes(passphrase, params)?;
        atomic_write(path, &bytes, false)?;
        Ok(())
    }

    /// Like [`Wallet::save`], but fails with an `AlreadyExists` I/O error instead
    /// of replacing an existing file (for `wallet create`).
    pub fn save_new(
        &self,
        path: &Path,
        passphrase: &str,
        params: KdfParams,
    ) -> Result<(), WalletError> {
        let bytes = self.to_encrypted_bytes(passphrase, params)?;
        atomic_write(path, &bytes, true)?;
        Ok(())
    }

    /// Reads and decrypts a wallet file. A wrong passphrase gives
    /// [`WalletError::WrongPassphrase`].
    pub fn open(path: &Path, passphrase: &str) -> Result<Self, WalletError> {
        let mut bytes = fs::read(path)?;
        let r = Self::from_encrypted_bytes(&bytes, passphrase);
        bytes.zeroize();
        r
    }
}

fn atomic_write(path: &Path, bytes: &[u8], no_replace: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "no file name"))?;
    let mut suffix = [0u8; 8];
    rand::Rng::fill(&mut rand::rng(), &mut suffix);
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", hex::encode(suffix)));
    let tmp = dir.join(tmp_name);

    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        if no_replace {
            // `hard_link` fails if `path` exists: no window where another file is
            // overwritten; the temp name is removed below either way.
            fs::hard_link(&tmp, path)?;
            let _ = fs::remove_file(&tmp);
        } else {
            fs::rename(&tmp, path)?;
        }
        #[cfg(unix)]
        if let Ok(d) = fs::File::open(&dir) {
            // Best effort: persist the rename itself.
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
