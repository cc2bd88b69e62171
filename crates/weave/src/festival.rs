//! Festivals: an organiser (a relying party) admits each unique person once.
//!
//! The holder obtains an *admission* from the nodes: an SD-JWT signed by the
//! group key carrying `event`, `pseudonym` (from the threshold PRF, stable
//! for one person at one event, unrelated across events) and a fresh holder
//! key. At the gate it presents the admission with a key-binding JWT for
//! `aud` = the event and the organiser's fresh nonce. The organiser learns
//! "admitted" and the pseudonym, nothing else, and keeps the set of
//! pseudonyms already checked in (a JSON file here), refusing a second one.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::WeaveError;
use crate::credential::VCT_ADMISSION;
use crate::present::{Issuer, verify};

/// The organiser's state file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FestivalFile {
    version: u8,
    event: String,
    network: String,
    group_key: String,
    checked_in: BTreeSet<String>,
}

/// An event organiser with its file-backed set of used pseudonyms.
#[derive(Debug)]
pub struct Festival {
    path: PathBuf,
    file: FestivalFile,
    group_key: VerifyingKey,
}

/// A successful check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The attendee's pseudonym at this event.
    pub pseudonym: String,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WeaveError + '_ {
    move |source| WeaveError::Io {
        path: path.to_owned(),
        source,
    }
}

impl Festival {
    /// Creates the festival file for `event` of `network` (refuses to
    /// overwrite one).
    pub fn create(
        path: &Path,
        event: &str,
        network: &str,
        group_key: &VerifyingKey,
    ) -> Result<Self, WeaveError> {
        if event.is_empty() || event.len() > crate::credential::MAX_EVENT_LEN {
            return Err(WeaveError::malformed("event", "1..=128 bytes"));
        }
        let f = Festival {
            path: path.to_owned(),
            file: FestivalFile {
                version: 1,
                event: event.to_owned(),
                network: network.to_owned(),
                group_key: hex::encode(group_key.as_bytes()),
                checked_in: BTreeSet::new(),
            },
            group_key: *group_key,
        };
        let text = serde_json::to_string_pretty(&f.file)
            .map_err(|e| WeaveError::malformed("festival file", e))?;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, text.as_bytes()))
            .map_err(io(path))?;
        Ok(f)
    }

    /// Opens a festival file.
    pub fn open(path: &Path) -> Result<Self, WeaveError> {
        let text = std::fs::read_to_string(path).map_err(io(path))?;
        let file: FestivalFile =
            serde_json::from_str(&text).map_err(|e| WeaveError::malformed("festival file", e))?;
        let group_key = crate::jose::key_from_hex("festival group key", &file.group_key)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            group_key,
        })
    }

    /// The event.
    pub fn event(&self) -> &str {
        &self.file.event
    }

    /// How many attendees checked in.
    pub fn checked_in(&self) -> usize {
        self.file.checked_in.len()
    }

    /// A fresh nonce to hand the attendee before it presents.
    pub fn nonce() -> String {
        hex::encode(rand::random::<[u8; 16]>())
    }

    /// Checks an attendee in: the admission must verify under the group key,
    /// be for this event and network, bound to `nonce` and this event, and
    /// its pseudonym must not have checked in before. Records the pseudonym
    /// (the file is rewritten atomically) before answering.
    pub fn check_in(
        &mut self,
        presentation: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Admitted, WeaveError> {
        let v = verify(
            presentation,
            Issuer::Network(&self.group_key),
            &self.file.event,
            nonce,
            now,
        )?;
        let s = |k: &str| v.claims.get(k).and_then(Value::as_str).unwrap_or_default();
        if v.vct != VCT_ADMISSION || s("iss") != self.file.network || s("event") != self.file.event
        {
            return Err(WeaveError::malformed(
                "admission",
                "not an admission to this event of this network",
            ));
        }
        let pseudonym = s("pseudonym").to_owned();
        if self.file.checked_in.contains(&pseudonym) {
            return Err(WeaveError::AlreadyCheckedIn {
                event: self.file.event.clone(),
                pseudonym,
            });
        }
        self.file.checked_in.insert(pseudonym.clone());
        if let Err(e) = self.save() {
            self.file.checked_in.remove(&pseudonym);
            return Err(e);
        }
        Ok(Admitted { pseudonym })
    }

    fn save(&self) -> Result<(), WeaveError> {
        let text = serde_json::to_string_pretty(&self.file)
            .map_err(|e| WeaveError::malformed("festival file", e))?;
        let tmp = self.path.with_extension("tmp");
        std::fs::write(&tmp, text).map_err(io(&tmp))?;
        std::fs::rename(&tmp, &self.path).map_err(io(&self.path))
    }
}
