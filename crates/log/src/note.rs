//! Signed notes (c2sp.org/signed-note) with Ed25519 keys.
//!
//! ```text
//! <text, one or more lines, each ending in \n>
//! <blank line>
//! — <key name> <base64(key id (4 bytes) || signature)>\n   (one or more)
//! ```
//!
//! Key id of an Ed25519 key: the first 4 bytes (big-endian) of
//! `SHA-256(key name || 0x0A || 0x01 || 32-byte public key)`. The signature is
//! Ed25519 over the text bytes (including its final newline).
//!
//! Verifier keys are written `<name>+<8 hex key id>+<base64(0x01 || public key)>`
//! and signer keys `PRIVATE+KEY+<name>+<8 hex key id>+<base64(0x01 || seed)>`,
//! as golang.org/x/mod/sumdb/note does.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use rand::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::{FormatError, KeyFormat, NoteFormat};

/// Algorithm identifier of Ed25519 in signed-note key ids and key strings.
pub const ALG_ED25519: u8 = 0x01;

/// Most signature lines a note may carry (as in the Go implementation).
pub const MAX_SIGNATURES: usize = 100;

/// The separator that starts every signature line: U+2014 EM DASH and a space.
const SIG_PREFIX: &str = "\u{2014} ";

/// A key name: non-empty, no Unicode whitespace, no `+`.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(char::is_whitespace) && !name.contains('+')
}

/// `SHA-256(name || 0x0A || 0x01 || public key)[..4]` as a big-endian u32.
pub fn ed25519_key_id(name: &str, public_key: &[u8; 32]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', ALG_ED25519]);
    h.update(public_key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// A node's note-signing key (Ed25519). Zeroized on drop (by
/// `ed25519-dalek`); `Debug` is redacted.
pub struct NoteSigningKey {
    name: String,
    key: SigningKey,
}

impl NoteSigningKey {
    /// A fresh key named `name`.
    pub fn generate<R: RngCore + CryptoRng + ?Sized>(
        name: &str,
        rng: &mut R,
    ) -> Result<Self, FormatError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(seed.as_mut());
        Self::from_seed(name, &seed)
    }

    /// The key with Ed25519 seed `seed`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, FormatError> {
        if !valid_name(name) {
            return Err(FormatError::Key(KeyFormat::Name));
        }
        Ok(NoteSigningKey {
            name: name.to_owned(),
            key: SigningKey::from_bytes(seed),
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>`.
    pub fn from_skey(skey: &str) -> Result<Self, FormatError> {
        let rest = skey
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(FormatError::Key(KeyFormat::Layout))?;
        let (name, id, bytes) = split_key(rest)?;
        let seed = Zeroizing::new(key_bytes(&bytes)?);
        let k = Self::from_seed(name, &seed)?;
        if k.key_id() != id {
            return Err(FormatError::Key(KeyFormat::KeyId));
        }
        Ok(k)
    }

    /// The signer key string (`PRIVATE+KEY+...`). Handle as a secret.
    pub fn to_skey(&self) -> Zeroizing<String> {
        let mut b = Zeroizing::new([0u8; 33]);
        b[0] = ALG_ED25519;
        b[1..].copy_from_slice(self.key.as_bytes());
        Zeroizing::new(format!(
            "PRIVATE+KEY+{}+{:08x}+{}",
            self.name,
            self.key_id(),
            B64.encode(b.as_ref())
        ))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        ed25519_key_id(&self.name, self.key.verifying_key().as_bytes())
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> NoteVerifierKey {
        NoteVerifierKey {
            name: self.name.clone(),
            key_id: self.key_id(),
            key: self.key.verifying_key(),
        }
    }

    /// Signs note text (which must be valid note text; see
    /// [`SignedNote::new`]).
    pub fn sign(&self, text: &str) -> NoteSignature {
        NoteSignature {
            name: self.name.clone(),
            key_id: self.key_id(),
            signature: self.key.sign(text.as_bytes()).to_bytes().to_vec(),
        }
    }
}

impl fmt::Debug for NoteSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigningKey")
            .field("name", &self.name)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// A public note-verifier key.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifierKey {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl NoteVerifierKey {
    /// Parses `<name>+<hex id>+<base64(0x01 || public key)>`.
    pub fn parse(vkey: &str) -> Result<Self, FormatError> {
        let (name, id, bytes) = split_key(vkey)?;
        let pk = key_bytes(&bytes)?;
        let key =
            VerifyingKey::from_bytes(&pk).map_err(|_| FormatError::Key(KeyFormat::KeyBytes))?;
        if ed25519_key_id(name, &pk) != id {
            return Err(FormatError::Key(KeyFormat::KeyId));
        }
        Ok(NoteVerifierKey {
            name: name.to_owned(),
            key_id: id,
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether `sig` claims to be by this key (same name and key id).
    pub fn claims(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.key_id
    }

    /// Verifies `sig` over `text` (strict Ed25519 verification).
    pub fn verify(
        &self,
        text: &str,
        sig: &NoteSignature,
    ) -> Result<(), ed25519_dalek::SignatureError> {
        let s = Signature::from_slice(&sig.signature)?;
        self.key.verify_strict(text.as_bytes(), &s)
    }
}

impl fmt::Display for NoteVerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut b = [0u8; 33];
        b[0] = ALG_ED25519;
        b[1..].copy_from_slice(self.key.as_bytes());
        write!(f, "{}+{:08x}+{}", self.name, self.key_id, B64.encode(b))
    }
}

/// Serialised (serde) as the verifier key string.
impl serde::Serialize for NoteVerifierKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for NoteVerifierKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        NoteVerifierKey::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for NoteVerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteVerifierKey({self})")
    }
}

/// Splits `name+hexid+base64` (the base64 may itself contain `+`).
fn split_key(s: &str) -> Result<(&str, u32, Vec<u8>), FormatError> {
    let (name, rest) = s
        .split_once('+')
        .ok_or(FormatError::Key(KeyFormat::Layout))?;
    let (id, b64) = rest
        .split_once('+')
        .ok_or(FormatError::Key(KeyFormat::Layout))?;
    if !valid_name(name) {
        return Err(FormatError::Key(KeyFormat::Name));
    }
    if id.len() != 8 || !id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(FormatError::Key(KeyFormat::Layout));
    }
    let id = u32::from_str_radix(id, 16).map_err(|_| FormatError::Key(KeyFormat::Layout))?;
    let bytes = B64.decode(b64).map_err(|source| FormatError::Base64 {
        what: "key",
        source,
    })?;
    Ok((name, id, bytes))
}

/// `0x01 || 32 bytes` to the 32 bytes.
fn key_bytes(b: &[u8]) -> Result<[u8; 32], FormatError> {
    match b.split_first() {
        Some((&ALG_ED25519, rest)) => rest
            .try_into()
            .map_err(|_| FormatError::Key(KeyFormat::KeyBytes)),
        Some((&alg, _)) => Err(FormatError::Key(KeyFormat::Algorithm(alg))),
        None => Err(FormatError::Key(KeyFormat::KeyBytes)),
    }
}

/// One signature line of a note.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// Key name.
    pub name: String,
    /// Key id.
    pub key_id: u32,
    /// Signature bytes (64 for Ed25519; any length for unknown key types).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The line `— <name> <base64(id || sig)>\n`.
    pub fn to_line(&self) -> String {
        let mut b = Vec::with_capacity(4 + self.signature.len());
        b.extend_from_slice(&self.key_id.to_be_bytes());
        b.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, B64.encode(b))
    }

    /// Parses one line without its final newline.
    fn parse_line(line: &str) -> Result<Self, FormatError> {
        let bad = FormatError::Note(NoteFormat::SignatureLine);
        let rest = line.strip_prefix(SIG_PREFIX).ok_or(bad)?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(FormatError::Note(NoteFormat::SignatureLine))?;
        if !valid_name(name) {
            return Err(FormatError::Note(NoteFormat::KeyName));
        }
        let raw = B64.decode(b64).map_err(|source| FormatError::Base64 {
            what: "signature",
            source,
        })?;
        if raw.len() < 5 {
            return Err(FormatError::Note(NoteFormat::SignatureTooShort));
        }
        let (id, sig) = raw.split_at(4);
        Ok(NoteSignature {
            name: name.to_owned(),
            key_id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
            signature: sig.to_vec(),
        })
    }
}

impl fmt::Debug for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NoteSignature({})", self.to_line().trim_end())
    }
}

/// A note: text plus signature lines, not yet verified by anyone.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// Checks the signed-note rules for the text part.
fn check_text(text: &str) -> Result<(), FormatError> {
    if !text.ends_with('\n') {
        return Err(FormatError::Note(NoteFormat::MissingFinalNewline));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(FormatError::Note(NoteFormat::ControlCharacter));
    }
    Ok(())
}

impl SignedNote {
    /// A note from its text and signatures.
    pub fn new(text: String, signatures: Vec<NoteSignature>) -> Result<Self, FormatError> {
        check_text(&text)?;
        if signatures.is_empty() {
            return Err(FormatError::Note(NoteFormat::NoSignatures));
        }
        if signatures.len() > MAX_SIGNATURES {
            return Err(FormatError::Note(NoteFormat::TooManySignatures {
                max: MAX_SIGNATURES,
            }));
        }
        if signatures.iter().any(|s| !valid_name(&s.name)) {
            return Err(FormatError::Note(NoteFormat::KeyName));
        }
        Ok(SignedNote { text, signatures })
    }

    /// Parses a whole note (c2sp.org/signed-note): the text is everything up
    /// to and including the newline before the last blank line.
    pub fn parse(note: &str) -> Result<Self, FormatError> {
        let split = note
            .rfind("\n\n")
            .ok_or(FormatError::Note(NoteFormat::MissingSignatureBlock))?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        if !sigs.ends_with('\n') {
            return Err(FormatError::Note(NoteFormat::SignatureLine));
        }
        let signatures = sigs[..sigs.len() - 1]
            .split('\n')
            .map(NoteSignature::parse_line)
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(text.to_owned(), signatures)
    }

    /// The signed text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds a signature line (a cosignature collected later).
    pub fn push_signature(&mut self, sig: NoteSignature) -> Result<(), FormatError> {
        if self.signatures.len() >= MAX_SIGNATURES {
            return Err(FormatError::Note(NoteFormat::TooManySignatures {
                max: MAX_SIGNATURES,
            }));
        }
        if !valid_name(&sig.name) {
            return Err(FormatError::Note(NoteFormat::KeyName));
        }
        self.signatures.push(sig);
        Ok(())
    }
}

impl fmt::Display for SignedNote {
    /// The note, byte-exact: text, blank line, signature lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for s in &self.signatures {
            f.write_str(&s.to_line())?;
        }
        Ok(())
    }
}

/// Serialised (serde) as the note text, so JSON APIs carry
/// `"checkpoint": "<origin>\n<size>\n..."`; deserialising parses it.
impl serde::Serialize for SignedNote {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SignedNote {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        SignedNote::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for SignedNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignedNote({:?})", self.to_string())
    }
}
