//! What a holder keeps in their wallet for Identity Weaving, as typed
//! items: personhood credentials, festival admissions, the thread key, and
//! threads (self-statements and vouches).
//!
//! The wallet file stores them in its `credentials` and `threads` lists as
//! JSON objects tagged with `type`, so the file format is unchanged and
//! entries written by other programs are kept as they are:
//!
//! ```text
//! credentials: {"type": "personhood", "sd_jwt", "holder_key": hex, "presented_to": [verifier ids]}
//!              {"type": "festival-admission", "event", "pseudonym", "sd_jwt", "holder_key": hex}
//!              {"type": "thread-key", "secret": hex}      the key threads are bound to
//! threads:     {"kind": "self-statement" | "vouch", "issuer": hex, "claims": [names], "sd_jwt"}
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::SigningKey;
use sanctuary_consent::Wallet;
use sanctuary_weave::{Bundle, Issuer, ThreadKind};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::{ClientError, HeldCredential};

/// A secret Ed25519 key held in the wallet, stored as hex. Wiped on drop
/// (`SigningKey` zeroizes itself) and never printed.
#[derive(Clone)]
pub struct HeldKey(pub SigningKey);

impl fmt::Debug for HeldKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeldKey(<redacted>)")
    }
}

impl Serialize for HeldKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let hex = Zeroizing::new(hex::encode(self.0.to_bytes()));
        s.serialize_str(&hex)
    }
}

impl<'de> Deserialize<'de> for HeldKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = Zeroizing::new(String::deserialize(d)?);
        let b = Zeroizing::new(
            hex::decode(s.as_str()).map_err(|_| serde::de::Error::custom("wallet key not hex"))?,
        );
        let arr: Zeroizing<[u8; 32]> = Zeroizing::new(
            b.as_slice()
                .try_into()
                .map_err(|_| serde::de::Error::custom("wallet key is not 32 bytes"))?,
        );
        Ok(HeldKey(SigningKey::from_bytes(&arr)))
    }
}

/// One entry of the wallet's `credentials` list that weaving understands.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum HeldItem {
    /// A "unique person" credential and the verifiers it was shown to (a
    /// credential is shown to one verifier only, so two verifiers never see
    /// the same one).
    Personhood {
        /// The SD-JWT as issued.
        sd_jwt: String,
        /// The key its `cnf` names.
        holder_key: HeldKey,
        /// Verifier ids it was presented to.
        #[serde(default)]
        presented_to: Vec<String>,
    },
    /// An admission to one festival under its pseudonym.
    FestivalAdmission {
        /// The event.
        event: String,
        /// The holder's pseudonym at the event.
        pseudonym: String,
        /// The SD-JWT as issued.
        sd_jwt: String,
        /// The key its `cnf` names.
        holder_key: HeldKey,
    },
    /// The key the holder's threads are bound to.
    ThreadKey {
        /// The secret key.
        secret: HeldKey,
    },
}

/// One entry of the wallet's `threads` list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldThread {
    /// Self-statement or vouch.
    pub kind: ThreadKind,
    /// The issuer's key (hex).
    pub issuer: String,
    /// The claim names it carries.
    pub claims: Vec<String>,
    /// The SD-JWT.
    pub sd_jwt: String,
}

fn to_value<T: Serialize>(t: &T) -> Result<Value, ClientError> {
    serde_json::to_value(t).map_err(|e| ClientError::Input(format!("wallet entry: {e}")))
}

/// The weaving view of a wallet: reads and writes its typed items.
#[derive(Debug)]
pub struct Holder<'w> {
    wallet: &'w mut Wallet,
}

impl<'w> Holder<'w> {
    /// A view of `wallet`.
    pub fn new(wallet: &'w mut Wallet) -> Self {
        Self { wallet }
    }

    /// The wallet.
    pub fn wallet(&self) -> &Wallet {
        self.wallet
    }

    /// The credentials weaving understands, with their index in the list
    /// (entries of other types are skipped, not lost).
    pub fn items(&self) -> Vec<(usize, HeldItem)> {
        self.wallet
            .credentials
            .iter()
            .enumerate()
            .filter_map(|(i, v)| serde_json::from_value(v.clone()).ok().map(|c| (i, c)))
            .collect()
    }

    /// The threads, in order (their index is what `present` takes).
    pub fn threads(&self) -> Result<Vec<HeldThread>, ClientError> {
        self.wallet
            .threads
            .iter()
            .enumerate()
            .map(|(i, v)| {
                serde_json::from_value(v.clone())
                    .map_err(|e| ClientError::Input(format!("wallet thread {i}: {e}")))
            })
            .collect()
    }

    /// The wallet's thread key, created on first use.
    pub fn thread_key(&mut self) -> Result<SigningKey, ClientError> {
        if let Some(k) = self.items().into_iter().find_map(|(_, c)| match c {
            HeldItem::ThreadKey { secret } => Some(secret.0),
            _ => None,
        }) {
            return Ok(k);
        }
        let k = sanctuary_weave::fresh_key();
        self.push(&HeldItem::ThreadKey {
            secret: HeldKey(k.clone()),
        })?;
        Ok(k)
    }

    /// Stores an item.
    pub fn push(&mut self, item: &HeldItem) -> Result<(), ClientError> {
        let v = to_value(item)?;
        self.wallet.credentials.push(v);
        Ok(())
    }

    /// Stores a freshly issued personhood credential (not yet shown).
    pub fn store_personhood(&mut self, c: &HeldCredential) -> Result<(), ClientError> {
        self.push(&HeldItem::Personhood {
            sd_jwt: c.sd_jwt.clone(),
            holder_key: HeldKey(c.holder_key.clone()),
            presented_to: Vec::new(),
        })
    }

    /// Adds a thread.
    pub fn add_thread(&mut self, thread: &HeldThread) -> Result<(), ClientError> {
        let v = to_value(thread)?;
        self.wallet.threads.push(v);
        Ok(())
    }

    /// Imports a vouch: it must verify and be bound to this wallet's
    /// thread key.
    pub fn import_vouch(&mut self, vouch: &str) -> Result<(), ClientError> {
        let key = self.thread_key()?;
        let nonce = "import";
        let now = sanctuary_weave::unix_now();
        let names = disclosure_names(vouch)?;
        let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
        let not_ours = |e: sanctuary_weave::WeaveError| {
            ClientError::Input(format!(
                "the vouch is malformed or not bound to this wallet's thread key: {e}"
            ))
        };
        let p = sanctuary_weave::present(vouch, &key, &names_ref, "self", nonce, now)
            .map_err(not_ours)?;
        let v = sanctuary_weave::verify(&p, Issuer::SelfCertified, "self", nonce, now)
            .map_err(not_ours)?;
        self.add_thread(&HeldThread {
            kind: ThreadKind::Vouch,
            issuer: v.issuer,
            claims: v.disclosed,
            sd_jwt: vouch.to_owned(),
        })
    }

    /// The newest admission to `event`: its SD-JWT and holder key.
    pub fn admission(&self, event: &str) -> Option<HeldCredential> {
        self.items().into_iter().rev().find_map(|(_, c)| match c {
            HeldItem::FestivalAdmission {
                event: e,
                sd_jwt,
                holder_key,
                ..
            } if e == event => Some(HeldCredential {
                sd_jwt,
                holder_key: holder_key.0,
            }),
            _ => None,
        })
    }

    /// Counts: personhood credentials, those not yet shown, admissions.
    pub fn counts(&self) -> (usize, usize, usize) {
        let items = self.items();
        let mut out = (0, 0, 0);
        for (_, c) in &items {
            match c {
                HeldItem::Personhood { presented_to, .. } => {
                    out.0 += 1;
                    if presented_to.is_empty() {
                        out.1 += 1;
                    }
                }
                HeldItem::FestivalAdmission { .. } => out.2 += 1,
                HeldItem::ThreadKey { .. } => {}
            }
        }
        out
    }

    /// Picks a personhood credential for `verifier`: one already shown to
    /// it, else one never shown to anyone (so two verifiers never see the
    /// same one), and records that it was shown.
    pub fn pick_credential(&mut self, verifier: &str) -> Result<HeldCredential, ClientError> {
        let now = sanctuary_weave::unix_now();
        let candidates: Vec<(usize, String, HeldKey, Vec<String>)> = self
            .items()
            .into_iter()
            .filter_map(|(i, c)| match c {
                HeldItem::Personhood {
                    sd_jwt,
                    holder_key,
                    presented_to,
                } if !expired(&sd_jwt, now) => Some((i, sd_jwt, holder_key, presented_to)),
                _ => None,
            })
            .collect();
        let chosen = candidates
            .iter()
            .find(|c| c.3.iter().any(|v| v == verifier))
            .or_else(|| candidates.iter().find(|c| c.3.is_empty()))
            .ok_or_else(|| {
                ClientError::Input(
                    "no unused personhood credential left for a new verifier: run `sanctuary wallet issue`"
                        .into(),
                )
            })?;
        let (idx, sd_jwt, holder_key, mut presented_to) = chosen.clone();
        if !presented_to.iter().any(|v| v == verifier) {
            presented_to.push(verifier.to_owned());
            self.wallet.credentials[idx] = to_value(&HeldItem::Personhood {
                sd_jwt: sd_jwt.clone(),
                holder_key: holder_key.clone(),
                presented_to,
            })?;
        }
        Ok(HeldCredential {
            sd_jwt,
            holder_key: holder_key.0,
        })
    }

    /// Builds a presentation bundle for `verifier` and `nonce`: optionally
    /// a personhood credential, and the threads `threads` disclosing only
    /// the claims named in `disclose`.
    pub fn bundle(
        &mut self,
        verifier: &str,
        nonce: &str,
        threads: &[usize],
        disclose: &[String],
        with_credential: bool,
    ) -> Result<Bundle, ClientError> {
        let now = sanctuary_weave::unix_now();
        let mut bundle = Bundle::default();
        if with_credential {
            let c = self.pick_credential(verifier)?;
            bundle.credential = Some(sanctuary_weave::present(
                &c.sd_jwt,
                &c.holder_key,
                &[],
                verifier,
                nonce,
                now,
            )?);
        }
        if threads.is_empty() {
            return Ok(bundle);
        }
        let key = self.thread_key()?;
        let held = self.threads()?;
        for &i in threads {
            let t = held.get(i).ok_or_else(|| {
                ClientError::Input(format!("no thread {i} (see `wallet threads`)"))
            })?;
            let names = disclosure_names(&t.sd_jwt)?;
            let chosen: Vec<&str> = disclose
                .iter()
                .map(String::as_str)
                .filter(|d| names.iter().any(|n| n == d))
                .collect();
            bundle.threads.push(sanctuary_weave::present(
                &t.sd_jwt, &key, &chosen, verifier, nonce, now,
            )?);
        }
        Ok(bundle)
    }
}

/// The claim names carried by an SD-JWT's disclosures.
pub fn disclosure_names(sd_jwt: &str) -> Result<Vec<String>, ClientError> {
    let mut names = Vec::new();
    for d in sd_jwt.split('~').skip(1).filter(|s| !s.is_empty()) {
        let bytes = URL_SAFE_NO_PAD
            .decode(d)
            .map_err(|_| ClientError::Input("SD-JWT disclosure is not base64url".into()))?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|_| ClientError::Input("SD-JWT disclosure is not JSON".into()))?;
        if let Some(n) = v.get(1).and_then(Value::as_str) {
            names.push(n.to_owned());
        }
    }
    Ok(names)
}

/// Whether an SD-JWT's `exp` is at or before `now`.
fn expired(sd_jwt: &str, now: i64) -> bool {
    let exp = sd_jwt
        .split('.')
        .nth(1)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| v["exp"].as_i64());
    exp.is_some_and(|e| e <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn wallet() -> Wallet {
        Wallet::create(time::OffsetDateTime::now_utc())
    }

    #[test]
    fn items_keep_the_v1_file_format_and_unknown_entries() {
        let mut w = wallet();
        w.credentials
            .push(serde_json::json!({"type": "something-else", "x": 1}));
        let mut h = Holder::new(&mut w);
        let k = h.thread_key().unwrap();
        // The same key on the second call: it was stored, not regenerated.
        assert_eq!(h.thread_key().unwrap().to_bytes(), k.to_bytes());
        assert_eq!(w.credentials.len(), 2);
        assert_eq!(w.credentials[0]["type"], "something-else");
        assert_eq!(w.credentials[1]["type"], "thread-key");
        assert_eq!(
            w.credentials[1]["secret"].as_str().unwrap(),
            hex::encode(k.to_bytes())
        );
    }

    #[test]
    fn a_held_key_never_prints() {
        let k = HeldKey(sanctuary_weave::fresh_key());
        let hex = hex::encode(k.0.to_bytes());
        let item = HeldItem::ThreadKey { secret: k };
        assert!(!format!("{item:?}").contains(&hex));
    }

    #[test]
    fn a_malformed_key_is_refused_by_name() {
        let v = serde_json::json!({"type": "thread-key", "secret": "zz"});
        let e = serde_json::from_value::<HeldItem>(v).unwrap_err();
        assert!(e.to_string().contains("not hex"), "{e}");
    }
}
