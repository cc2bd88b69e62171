//! Network-issued credentials: the personhood credential ("unique person")
//! and the festival admission, both SD-JWTs (RFC 9901) whose issuer JWS is
//! an EdDSA signature by the FROST group key.
//!
//! The holder drafts the credential ([`draft_personhood`],
//! [`draft_admission`]): it chooses a fresh holder binding key (`cnf`), the
//! times, and (for an admission) the event and pseudonym. The nodes sign the
//! draft's JWS signing input only after [`check_draft`] accepts it: the
//! claims a node signs are exactly the ones it can check, nothing else.
//!
//! ```text
//! personhood payload = { iss: <network>, vct: "unique-person", iat, exp, cnf: {jwk}, _sd_alg }
//! admission payload  = { iss: <network>, vct: "festival-admission", event, pseudonym, iat, exp, cnf: {jwk}, _sd_alg }
//! header             = { typ: "vc+sd-jwt", alg: "EdDSA" }
//! ```
//!
//! There is no subject identifier in either: each credential carries only its
//! own fresh holder key, so two credentials of one person share nothing but
//! the issuer and coarse times (see the crate docs on linkability).

use ed25519_dalek::VerifyingKey;
use sd_jwt_payload::{JsonObject, RequiredKeyBinding, SdJwtBuilder};
use serde_json::{Value, json};

use crate::WeaveError;
use crate::jose::{self, CaptureSigner, Sha256Hasher};

/// `vct` of the personhood credential.
pub const VCT_PERSONHOOD: &str = "unique-person";
/// `vct` of a festival admission.
pub const VCT_ADMISSION: &str = "festival-admission";
/// `typ` header of network-issued credentials.
pub const TYP: &str = "vc+sd-jwt";
/// Longest personhood credential lifetime a node signs: 30 days (shorter
/// lives make a stolen credential less useful; batches are cheap to renew).
pub const MAX_PERSONHOOD_LIFETIME_S: i64 = 30 * 86_400;
/// Longest admission lifetime a node signs: 7 days.
pub const MAX_ADMISSION_LIFETIME_S: i64 = 7 * 86_400;
/// Clock skew tolerated on `iat` (5 minutes).
pub const MAX_SKEW_S: i64 = 300;
/// Longest event name.
pub const MAX_EVENT_LEN: usize = 128;

/// A credential the holder drafted, waiting for the nodes' signature.
#[derive(Debug, Clone)]
pub struct Draft {
    signing_input: String,
    /// `~disclosure~...~` after the JWS (just `~` when there are none).
    tail: String,
}

impl Draft {
    /// The exact bytes the group key signs: `base64url(header).base64url(payload)`.
    pub fn signing_input(&self) -> &str {
        &self.signing_input
    }

    /// The finished SD-JWT (`jws~disclosures~`) with the group signature.
    pub fn finish(&self, signature: &[u8; 64]) -> String {
        format!(
            "{}.{}{}",
            self.signing_input,
            jose::b64(signature),
            self.tail
        )
    }
}

fn draft(payload: Value, holder: &VerifyingKey) -> Result<Draft, WeaveError> {
    let signer = CaptureSigner::default();
    let sd = jose::ready(
        SdJwtBuilder::new_with_hasher(payload, Sha256Hasher)
            .map_err(|e| WeaveError::malformed("credential", e))?
            .header("typ", TYP)
            .require_key_binding(RequiredKeyBinding::Jwk(jose::jwk(holder)))
            .finish(&signer, jose::ALG),
    )?
    .map_err(|e| WeaveError::malformed("credential", e))?;
    let signing_input = signer
        .take()
        .ok_or_else(|| WeaveError::malformed("credential", "builder did not sign"))?;
    let compact = sd.presentation();
    let tail = compact
        .find('~')
        .map(|i| compact[i..].to_owned())
        .unwrap_or_else(|| "~".to_owned());
    Ok(Draft {
        signing_input,
        tail,
    })
}

/// Drafts a personhood credential bound to `holder`, valid `lifetime_s`
/// seconds from `now` (Unix seconds).
pub fn draft_personhood(
    network: &str,
    holder: &VerifyingKey,
    now: i64,
    lifetime_s: i64,
) -> Result<Draft, WeaveError> {
    draft(
        json!({"iss": network, "vct": VCT_PERSONHOOD, "iat": now, "exp": now + lifetime_s}),
        holder,
    )
}

/// Drafts a festival admission for `pseudonym` at `event`, bound to `holder`.
pub fn draft_admission(
    network: &str,
    event: &str,
    pseudonym: &str,
    holder: &VerifyingKey,
    now: i64,
    lifetime_s: i64,
) -> Result<Draft, WeaveError> {
    draft(
        json!({"iss": network, "vct": VCT_ADMISSION, "event": event, "pseudonym": pseudonym,
            "iat": now, "exp": now + lifetime_s}),
        holder,
    )
}

/// What a node found in a draft it may sign.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DraftKind {
    /// A personhood credential.
    Personhood,
    /// A festival admission; the node must still check the pseudonym.
    Admission {
        /// The event.
        event: String,
        /// The pseudonym claimed.
        pseudonym: String,
    },
}

fn refuse(why: impl Into<String>) -> WeaveError {
    WeaveError::PayloadRefused(why.into())
}

/// The node's check of a signing input: header exactly `{typ, alg}`, issuer
/// this network, a known `vct`, only the claims that `vct` has, an Ed25519
/// holder key, `iat` within [`MAX_SKEW_S`] of `now`, and a lifetime within
/// the limit. No disclosable claims (`_sd`) are accepted: a node cannot
/// check what it cannot see.
pub fn check_draft(signing_input: &str, network: &str, now: i64) -> Result<DraftKind, WeaveError> {
    let mut parts = signing_input.split('.');
    let (Some(h), Some(p), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(refuse("signing input must be header.payload"));
    };
    let header: JsonObject = serde_json::from_slice(&jose::unb64("header", h)?)
        .map_err(|e| WeaveError::malformed("header", e))?;
    let payload: JsonObject = serde_json::from_slice(&jose::unb64("payload", p)?)
        .map_err(|e| WeaveError::malformed("payload", e))?;
    if header.len() != 2
        || header.get("alg").and_then(Value::as_str) != Some(jose::ALG)
        || header.get("typ").and_then(Value::as_str) != Some(TYP)
    {
        return Err(refuse(
            "header must be exactly {typ: vc+sd-jwt, alg: EdDSA}",
        ));
    }
    if payload.get("iss").and_then(Value::as_str) != Some(network) {
        return Err(refuse(format!("issuer must be this network ({network})")));
    }
    let kind = match payload.get("vct").and_then(Value::as_str) {
        Some(VCT_PERSONHOOD) => DraftKind::Personhood,
        Some(VCT_ADMISSION) => {
            let event = payload
                .get("event")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let pseudonym = payload
                .get("pseudonym")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if event.is_empty() || event.len() > MAX_EVENT_LEN {
                return Err(refuse("event must be 1..=128 bytes"));
            }
            if pseudonym.len() != 64 || !pseudonym.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(refuse("pseudonym must be 64 hex characters"));
            }
            DraftKind::Admission {
                event: event.to_owned(),
                pseudonym: pseudonym.to_owned(),
            }
        }
        _ => return Err(refuse("vct must be unique-person or festival-admission")),
    };
    let allowed: &[&str] = match kind {
        DraftKind::Personhood => &["iss", "vct", "iat", "exp", "cnf", "_sd_alg"],
        DraftKind::Admission { .. } => &[
            "iss",
            "vct",
            "iat",
            "exp",
            "cnf",
            "_sd_alg",
            "event",
            "pseudonym",
        ],
    };
    if let Some(k) = payload.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(refuse(format!("claim `{k}` is not one a node can check")));
    }
    if payload.get("_sd_alg").and_then(Value::as_str) != Some("sha-256") {
        return Err(refuse("_sd_alg must be sha-256"));
    }
    jose::cnf_key(&payload)?;
    let (Some(iat), Some(exp)) = (
        payload.get("iat").and_then(Value::as_i64),
        payload.get("exp").and_then(Value::as_i64),
    ) else {
        return Err(refuse("iat and exp must be integers"));
    };
    let max = match kind {
        DraftKind::Personhood => MAX_PERSONHOOD_LIFETIME_S,
        DraftKind::Admission { .. } => MAX_ADMISSION_LIFETIME_S,
    };
    if (iat - now).abs() > MAX_SKEW_S {
        return Err(refuse("iat must be within 5 minutes of the node's clock"));
    }
    if exp <= iat || exp - iat > max {
        return Err(refuse(format!("lifetime must be 1..={max} seconds")));
    }
    Ok(kind)
}
