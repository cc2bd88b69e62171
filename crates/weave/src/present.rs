//! Threads (self-authored statements and vouches) and presentations.
//!
//! A thread is an SD-JWT issued by an Ed25519 *thread key*: the holder's
//! own (self-authored) or another wallet's (a vouch). Every claim in it is
//! disclosable on its own. Its `cnf` is the holder's thread key, so only the
//! holder can present it.
//!
//! ```text
//! thread payload = { iss: "ed25519:<hex issuer key>", vct: "self-statement" | "vouch",
//!                    iat, cnf: {jwk: holder thread key}, _sd: [digests of each claim], _sd_alg }
//! ```
//!
//! A presentation is an SD-JWT with only the chosen disclosures and a
//! key-binding JWT (`typ: kb+jwt`) signed by the `cnf` key over
//! `{iat, aud: <verifier id>, nonce, sd_hash}`. A verifier accepts it only
//! for its own id and the nonce it just handed out, within
//! [`MAX_KB_AGE_S`]; `sd_hash` covers the exact disclosures sent, so none
//! can be added, swapped or altered.

use std::collections::BTreeMap;

use ed25519_dalek::{SigningKey, VerifyingKey};
use sd_jwt_payload::{JsonObject, KeyBindingJwt, RequiredKeyBinding, SdJwt, SdJwtBuilder};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::WeaveError;
use crate::jose::{self, KeySigner, Sha256Hasher};

/// `vct` of a self-authored statement.
pub const VCT_SELF: &str = "self-statement";
/// `vct` of a vouch.
pub const VCT_VOUCH: &str = "vouch";
/// Largest accepted age (and future skew) of a key-binding JWT: 5 minutes.
pub const MAX_KB_AGE_S: i64 = 300;

const RESERVED: &[&str] = &[
    "iss", "sub", "aud", "vct", "iat", "exp", "nbf", "cnf", "_sd", "_sd_alg", "status", "jti",
];

/// Which thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThreadKind {
    /// Written and signed by the holder.
    SelfStatement,
    /// Signed by another wallet about the holder.
    Vouch,
}

/// Issues a thread: `issuer` signs `claims` (each selectively disclosable)
/// about the holder of `holder` (the holder's thread key). A
/// self-statement must have `issuer` = the holder's key.
pub fn issue_thread(
    issuer: &SigningKey,
    holder: &VerifyingKey,
    kind: ThreadKind,
    claims: &BTreeMap<String, String>,
    now: i64,
) -> Result<String, WeaveError> {
    if claims.is_empty() {
        return Err(WeaveError::malformed("thread", "at least one claim"));
    }
    if let Some(k) = claims
        .keys()
        .find(|k| RESERVED.contains(&k.as_str()) || k.is_empty())
    {
        return Err(WeaveError::malformed(
            "thread",
            format!("claim name `{k}` is reserved"),
        ));
    }
    if kind == ThreadKind::SelfStatement && issuer.verifying_key() != *holder {
        return Err(WeaveError::malformed(
            "thread",
            "a self-statement is signed by its holder",
        ));
    }
    let vct = match kind {
        ThreadKind::SelfStatement => VCT_SELF,
        ThreadKind::Vouch => VCT_VOUCH,
    };
    let mut payload = json!({
        "iss": format!("ed25519:{}", hex::encode(issuer.verifying_key().as_bytes())),
        "vct": vct,
        "iat": now,
    });
    for (k, v) in claims {
        payload[k.as_str()] = Value::String(v.clone());
    }
    let mut b = SdJwtBuilder::new_with_hasher(payload, Sha256Hasher)
        .map_err(|e| WeaveError::malformed("thread", e))?
        .header("typ", "vc+sd-jwt")
        .require_key_binding(RequiredKeyBinding::Jwk(jose::jwk(holder)));
    for k in claims.keys() {
        b = b
            .make_concealable(&format!("/{}", pointer_escape(k)))
            .map_err(|e| WeaveError::malformed("thread", e))?;
    }
    let sd = jose::ready(b.finish(&KeySigner(issuer), jose::ALG))?
        .map_err(|e| WeaveError::malformed("thread", e))?;
    Ok(sd.presentation())
}

fn pointer_escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

/// Makes a presentation of `sd_jwt` (held with binding key `holder`) that
/// discloses only the claims named in `disclose`, bound to verifier `aud`
/// and `nonce`.
pub fn present(
    sd_jwt: &str,
    holder: &SigningKey,
    disclose: &[&str],
    aud: &str,
    nonce: &str,
    now: i64,
) -> Result<String, WeaveError> {
    let parsed = SdJwt::parse(sd_jwt).map_err(|e| WeaveError::malformed("SD-JWT", e))?;
    if parsed.key_binding_jwt().is_some() {
        return Err(WeaveError::malformed("SD-JWT", "already a presentation"));
    }
    let mut b = parsed
        .into_presentation(&Sha256Hasher)
        .map_err(|e| WeaveError::malformed("SD-JWT", e))?
        .conceal_all();
    for name in disclose {
        b = b
            .disclose(&format!("/{}", pointer_escape(name)))
            .map_err(|e| {
                WeaveError::malformed("presentation", format!("no claim `{name}`: {e}"))
            })?;
    }
    let (mut sd, _) = b.finish();
    let kb = jose::ready(
        KeyBindingJwt::builder()
            .iat(now)
            .aud(aud)
            .nonce(nonce)
            .finish(&sd, &Sha256Hasher, jose::ALG, &KeySigner(holder)),
    )?
    .map_err(|e| WeaveError::malformed("key-binding JWT", e))?;
    sd.attach_key_binding_jwt(kb);
    Ok(sd.presentation())
}

/// Who must have signed the credential under presentation.
#[derive(Debug, Clone, Copy)]
pub enum Issuer<'a> {
    /// The network's FROST group key (personhood credentials, admissions).
    Network(&'a VerifyingKey),
    /// The key named in `iss` (`ed25519:<hex>`): threads. The verifier
    /// learns which key signed and decides whom it trusts.
    SelfCertified,
}

/// A presentation that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// The issuer key (hex).
    pub issuer: String,
    /// `vct`.
    pub vct: String,
    /// The always-visible claims (`iss`, `vct`, `iat`, `exp`, `event`, ...)
    /// and the disclosed ones; `cnf` and SD-JWT bookkeeping removed.
    pub claims: BTreeMap<String, Value>,
    /// Names of the claims that were disclosed (not always-visible).
    pub disclosed: Vec<String>,
}

/// Verifies a presentation for verifier `aud` and the `nonce` it issued, at
/// `now`: issuer signature, disclosures, key binding, validity times.
pub fn verify(
    presentation: &str,
    issuer: Issuer<'_>,
    aud: &str,
    nonce: &str,
    now: i64,
) -> Result<Verified, WeaveError> {
    let cut = presentation
        .rfind('~')
        .ok_or_else(|| WeaveError::malformed("presentation", "not an SD-JWT"))?;
    let (covered, kb) = presentation.split_at(cut + 1);
    if kb.is_empty() {
        return Err(WeaveError::KeyBinding("no key-binding JWT".into()));
    }
    let jws = covered.split('~').next().unwrap_or_default();
    let (_, header, payload, _) = jose::parse_jws("credential", jws)?;
    if header.get("typ").and_then(Value::as_str) != Some("vc+sd-jwt") {
        return Err(WeaveError::malformed("credential", "typ must be vc+sd-jwt"));
    }
    let iss = payload
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let issuer_key = match issuer {
        Issuer::Network(k) => *k,
        Issuer::SelfCertified => {
            let hex_key = iss
                .strip_prefix("ed25519:")
                .ok_or_else(|| WeaveError::malformed("thread", "iss must be ed25519:<hex>"))?;
            jose::key_from_hex("thread issuer", hex_key)?
        }
    };
    jose::verify_jws("credential", jws, &issuer_key)?;
    let holder = jose::cnf_key(&payload)?;
    let vct = payload
        .get("vct")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if matches!(issuer, Issuer::SelfCertified) {
        match vct.as_str() {
            VCT_VOUCH => {}
            VCT_SELF if holder == issuer_key => {}
            VCT_SELF => {
                return Err(WeaveError::malformed(
                    "thread",
                    "self-statement not by its holder",
                ));
            }
            _ => {
                return Err(WeaveError::malformed(
                    "thread",
                    "vct must be self-statement or vouch",
                ));
            }
        }
    }

    // Key binding: the holder signed this verifier, this nonce, these disclosures.
    let kbv = jose::verify_jws("key-binding JWT", kb, &holder)?;
    if kbv.header.get("typ").and_then(Value::as_str) != Some("kb+jwt") {
        return Err(WeaveError::KeyBinding("typ must be kb+jwt".into()));
    }
    let claim = |k: &str| {
        kbv.payload
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    if claim("aud") != aud {
        return Err(WeaveError::KeyBinding(format!(
            "presented to `{}`, not to this verifier",
            claim("aud")
        )));
    }
    if claim("nonce") != nonce {
        return Err(WeaveError::KeyBinding("nonce does not match".into()));
    }
    if claim("sd_hash") != jose::sha256_b64(covered) {
        return Err(WeaveError::KeyBinding(
            "sd_hash does not cover these disclosures".into(),
        ));
    }
    let kb_iat = kbv
        .payload
        .get("iat")
        .and_then(Value::as_i64)
        .unwrap_or(i64::MIN);
    if (now - kb_iat).abs() > MAX_KB_AGE_S {
        return Err(WeaveError::KeyBinding("key-binding JWT is stale".into()));
    }

    // Validity window of the credential itself.
    let iat = payload.get("iat").and_then(Value::as_i64);
    let exp = payload.get("exp").and_then(Value::as_i64);
    if iat.is_none_or(|t| t > now + MAX_KB_AGE_S) || exp.is_some_and(|t| now >= t) {
        return Err(WeaveError::Expired { what: "credential" });
    }

    // Disclosures: each must hash to a digest the issuer signed.
    let sd = SdJwt::parse(covered).map_err(|e| WeaveError::malformed("SD-JWT", e))?;
    let always: Vec<String> = payload.keys().cloned().collect();
    let decoded: JsonObject = sd
        .into_disclosed_object(&Sha256Hasher)
        .map_err(|e| WeaveError::Tampered(e.to_string()))?;
    let mut claims = BTreeMap::new();
    let mut disclosed = Vec::new();
    for (k, v) in decoded {
        if k == "cnf" || k == "_sd" || k == "_sd_alg" {
            continue;
        }
        if !always.contains(&k) {
            disclosed.push(k.clone());
        }
        claims.insert(k, v);
    }
    disclosed.sort();
    Ok(Verified {
        issuer: hex::encode(issuer_key.as_bytes()),
        vct,
        claims,
        disclosed,
    })
}
