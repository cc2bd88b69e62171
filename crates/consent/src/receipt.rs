//! Consent receipts in the shape of Kantara Consent Receipt v1.1 and
//! ISO/IEC TS 27560 (consent record information structure): who (PII principal),
//! to whom (controllers), what for (purposes), on what legal basis, for how long,
//! and how to withdraw. The subject exports them as JSON from the wallet.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::ids::{NetworkId, Purpose, RelyingPartyId, SubjectPublicKey, TokenId};

/// Receipt schema identifier.
pub const RECEIPT_SCHEMA: &str = "sanctuary-consent-receipt/1";

/// A controller named in the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PiiController {
    /// Identifier of the controller.
    pub pii_controller: String,
    /// Its role: `relying_party` or `trust_network`.
    pub role: String,
}

/// One purpose in the receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReceiptPurpose {
    /// Purpose identifier.
    pub purpose: Purpose,
    /// Plain-language description.
    pub purpose_description: String,
    /// `explicit` (the subject signed a token).
    pub consent_type: String,
    /// PII categories processed.
    pub pii_category: Vec<String>,
    /// When consent ends (token expiry).
    #[serde(with = "time::serde::rfc3339")]
    pub termination: OffsetDateTime,
    /// Whether results go to third parties beyond the relying party (never).
    pub third_party_disclosure: bool,
}

/// A consent receipt for one issued token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentReceipt {
    /// Schema identifier, [`RECEIPT_SCHEMA`].
    pub version: String,
    /// The receipt id: the consent token id.
    pub consent_receipt_id: TokenId,
    /// When consent was given.
    #[serde(with = "time::serde::rfc3339")]
    pub consent_timestamp: OffsetDateTime,
    /// How consent was collected.
    pub collection_method: String,
    /// The subject (PII principal): its public key.
    pub pii_principal_id: SubjectPublicKey,
    /// Controllers: the relying party and the trust network.
    pub pii_controllers: Vec<PiiController>,
    /// The relying party (audience).
    pub relying_party: RelyingPartyId,
    /// The trust network.
    pub network: NetworkId,
    /// Legal basis: `consent` (explicit consent to processing of biometric data).
    pub legal_basis: String,
    /// Purposes consented to.
    pub purposes: Vec<ReceiptPurpose>,
    /// Use limit, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// Biometric data is a special category.
    pub sensitive: bool,
    /// Special categories involved.
    pub spi_cat: Vec<String>,
    /// How to withdraw.
    pub withdrawal: String,
}

fn describe(p: Purpose) -> &'static str {
    match p {
        Purpose::Delete => "delete my enrollment from every node",
        Purpose::Dedupe => "tell the enrollment site only whether I am already enrolled",
        Purpose::Enroll => "enroll my secret-shared biometric template",
        Purpose::FestivalCheckin => {
            "tell the festival only that I am a unique person not yet checked in"
        }
        Purpose::Identify => "open identification (never performed)",
        Purpose::RevealOwnEnrollment => "show me which enrollment is mine",
        Purpose::Verify => "tell the relying party only whether I am the person who enrolled",
    }
}

impl ConsentReceipt {
    #[allow(clippy::too_many_arguments)] // one call site, every field is needed
    pub(crate) fn new(
        id: TokenId,
        subject: SubjectPublicKey,
        network: NetworkId,
        audience: RelyingPartyId,
        purposes: Vec<Purpose>,
        issued_at: OffsetDateTime,
        expires_at: OffsetDateTime,
        max_uses: Option<u32>,
    ) -> Self {
        Self {
            version: RECEIPT_SCHEMA.to_owned(),
            consent_receipt_id: id,
            consent_timestamp: issued_at,
            collection_method: "signed consent token (Biscuit) from the subject's wallet"
                .to_owned(),
            pii_principal_id: subject,
            pii_controllers: vec![
                PiiController {
                    pii_controller: audience.to_string(),
                    role: "relying_party".to_owned(),
                },
                PiiController {
                    pii_controller: network.to_string(),
                    role: "trust_network".to_owned(),
                },
            ],
            relying_party: audience,
            network,
            legal_basis: "consent".to_owned(),
            purposes: purposes
                .into_iter()
                .map(|p| ReceiptPurpose {
                    purpose: p,
                    purpose_description: describe(p).to_owned(),
                    consent_type: "explicit".to_owned(),
                    pii_category: vec!["biometric template (secret-shared)".to_owned()],
                    termination: expires_at,
                    third_party_disclosure: false,
                })
                .collect(),
            max_uses,
            sensitive: true,
            spi_cat: vec!["biometric".to_owned()],
            withdrawal: format!(
                "sign a revocation of token {id} (or of all tokens issued before a time) with the wallet"
            ),
        }
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}
