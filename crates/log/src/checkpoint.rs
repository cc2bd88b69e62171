//! Checkpoints (c2sp.org/tlog-checkpoint) and their threshold verification.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use sanctuary_share::PartyId;

use crate::error::{CheckpointError, CheckpointFormat, ConfigError, Error, FormatError};
use crate::hash::Hash;
use crate::note::{NoteSigningKey, NoteVerifierKey, SignedNote};

/// A tree head: the body of a checkpoint note.
///
/// ```text
/// <origin>\n
/// <tree size, decimal>\n
/// <base64 root hash>\n
/// [<extension line>\n ...]
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

fn valid_line(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(char::is_control)
}

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, FormatError> {
        if !valid_line(origin) {
            return Err(FormatError::Checkpoint(CheckpointFormat::EmptyOrigin));
        }
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Root hash.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// Extension lines (opaque, kept for byte-exact round trips).
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The note text (what the nodes sign).
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root.0)
        );
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a checkpoint body; rejects anything [`Checkpoint::to_text`] would
    /// not produce (so parse and print round-trip byte-exactly).
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let bad = |e| FormatError::Checkpoint(e);
        let body = text.strip_suffix('\n').ok_or(FormatError::Note(
            crate::error::NoteFormat::MissingFinalNewline,
        ))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(bad(CheckpointFormat::TooShort));
        };
        if origin.is_empty() {
            return Err(bad(CheckpointFormat::EmptyOrigin));
        }
        if origin.chars().any(char::is_control) {
            return Err(bad(CheckpointFormat::Character));
        }
        let canonical_decimal = !size.is_empty()
            && size.bytes().all(|c| c.is_ascii_digit())
            && (size == "0" || !size.starts_with('0'));
        if !canonical_decimal {
            return Err(bad(CheckpointFormat::Size));
        }
        let size: u64 = size.parse().map_err(|_| bad(CheckpointFormat::Size))?;
        let root = B64
            .decode(root)
            .map_err(|source| FormatError::Base64 {
                what: "root hash",
                source,
            })?
            .try_into()
            .map_err(|_| bad(CheckpointFormat::RootHash))?;
        let extensions = lines
            .map(|l| {
                if l.is_empty() {
                    Err(bad(CheckpointFormat::EmptyExtensionLine))
                } else if l.chars().any(char::is_control) {
                    Err(bad(CheckpointFormat::Character))
                } else {
                    Ok(l.to_owned())
                }
            })
            .collect::<Result<_, _>>()?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root: Hash(root),
            extensions,
        })
    }

    /// Signs this checkpoint as one node: the signature line to add to the
    /// note. Cosigners should use [`Cosigner`](crate::Cosigner), which checks
    /// append-only growth first.
    pub(crate) fn sign(&self, key: &NoteSigningKey) -> crate::note::NoteSignature {
        key.sign(&self.to_text())
    }
}

/// Serialised (serde) as the checkpoint text; deserialising parses it.
impl serde::Serialize for Checkpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_text())
    }
}

impl<'de> serde::Deserialize<'de> for Checkpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Checkpoint::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Checkpoint({:?})", self.to_text())
    }
}

/// Default number of node signatures a checkpoint needs (2 of 3).
pub const DEFAULT_THRESHOLD: usize = 2;

/// Which nodes' keys count and how many must sign: the verification policy
/// for checkpoints of one log.
#[derive(Debug, Clone)]
pub struct CheckpointPolicy {
    origin: String,
    nodes: BTreeMap<PartyId, NoteVerifierKey>,
    threshold: usize,
}

impl CheckpointPolicy {
    /// A policy for log `origin` with node keys `nodes` and `threshold`
    /// distinct signers (use [`DEFAULT_THRESHOLD`] for 2 of 3).
    pub fn new(
        origin: &str,
        nodes: BTreeMap<PartyId, NoteVerifierKey>,
        threshold: usize,
    ) -> Result<Self, ConfigError> {
        if !valid_line(origin) {
            return Err(ConfigError::Origin);
        }
        if threshold == 0 || threshold > nodes.len() {
            return Err(ConfigError::Threshold {
                threshold,
                nodes: nodes.len(),
            });
        }
        for (a, ka) in &nodes {
            for (b, kb) in nodes.range(a..).skip(1) {
                if ka.name() == kb.name() && ka.key_id() == kb.key_id() {
                    return Err(ConfigError::DuplicateKey {
                        first: *a,
                        second: *b,
                    });
                }
            }
        }
        Ok(CheckpointPolicy {
            origin: origin.to_owned(),
            nodes,
            threshold,
        })
    }

    /// The log origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The threshold.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// The node keys.
    pub fn nodes(&self) -> &BTreeMap<PartyId, NoteVerifierKey> {
        &self.nodes
    }

    /// Verifies a co-signed checkpoint note.
    ///
    /// Rules: the text must be a checkpoint of this policy's origin; a
    /// signature line is *claimed* by a node when its key name and key id both
    /// match that node's key; a claimed signature that does not verify rejects
    /// the whole note (forgery); lines no node claims (other witnesses, unknown
    /// keys) are ignored; several valid lines of one node count once; at least
    /// `threshold` distinct nodes must have signed.
    pub fn verify(&self, note: &SignedNote) -> Result<VerifiedCheckpoint, Error> {
        let checkpoint = Checkpoint::parse(note.text())
            .map_err(|e| CheckpointError::NotACheckpoint(Box::new(e)))?;
        if checkpoint.origin != self.origin {
            return Err(CheckpointError::Origin {
                expected: self.origin.clone(),
                found: checkpoint.origin,
            }
            .into());
        }
        let mut signers = BTreeSet::new();
        for sig in note.signatures() {
            for (party, key) in &self.nodes {
                if key.claims(sig) {
                    key.verify(note.text(), sig).map_err(|source| {
                        CheckpointError::BadSignature {
                            signer: *party,
                            source,
                        }
                    })?;
                    signers.insert(*party);
                }
            }
        }
        if signers.len() < self.threshold {
            return Err(CheckpointError::BelowThreshold {
                signers: signers.into_iter().collect(),
                threshold: self.threshold,
            }
            .into());
        }
        Ok(VerifiedCheckpoint {
            checkpoint,
            note: note.clone(),
            signers,
        })
    }

    /// Parses and verifies note text.
    pub fn verify_text(&self, note: &str) -> Result<VerifiedCheckpoint, Error> {
        self.verify(&SignedNote::parse(note)?)
    }
}

/// A checkpoint whose signatures met a [`CheckpointPolicy`]. Only
/// [`CheckpointPolicy::verify`] makes one, so holding it proves the check ran.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    checkpoint: Checkpoint,
    note: SignedNote,
    signers: BTreeSet<PartyId>,
}

impl VerifiedCheckpoint {
    /// The tree head.
    pub fn checkpoint(&self) -> &Checkpoint {
        &self.checkpoint
    }

    /// The whole signed note, as received.
    pub fn note(&self) -> &SignedNote {
        &self.note
    }

    /// The nodes whose signatures verified.
    pub fn signers(&self) -> &BTreeSet<PartyId> {
        &self.signers
    }

    /// Tree size.
    pub fn size(&self) -> u64 {
        self.checkpoint.size
    }

    /// Root hash.
    pub fn root(&self) -> &Hash {
        &self.checkpoint.root
    }
}

impl fmt::Debug for VerifiedCheckpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedCheckpoint")
            .field("checkpoint", &self.checkpoint)
            .field("signers", &self.signers)
            .finish()
    }
}
