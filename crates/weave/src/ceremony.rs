//! Key generation: a dealer ceremony run once by `sanctuary network init`.
//!
//! The dealer (the machine running `network init`) draws
//! * a FROST Ed25519 key, split 2-of-3 with Shamir (RFC 9591 §C,
//!   `frost_ed25519::keys::generate_with_dealer`): the group key signs
//!   credentials; and
//! * a separate Ristretto255 PRF key `k`, split 2-of-3 ([`crate::prf`]): the
//!   festival pseudonyms.
//!
//! It writes each node's two shares to that node's directory (mode 0600) and
//! the public parts ([`WeavePublic`]) to the network file, then forgets the
//! secrets (they are wiped on drop). **Trust assumption:** the dealer sees
//! both whole keys while it runs; it must be a machine the operators trust
//! for that moment, and each node directory must reach its operator over a
//! private channel. (FROST's DKG would remove the dealer; it needs two
//! rounds of authenticated messages between the nodes before they have
//! links, which `network init` does not have. Later work.)

use std::collections::BTreeMap;

use ed25519_dalek::VerifyingKey;
use frost_ed25519::Identifier;
use frost_ed25519::keys::{IdentifierList, KeyPackage, PublicKeyPackage};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::WeaveError;
use crate::prf::{self, PrfPublic, PrfShare};

/// The public half of the network's weaving keys: published with the
/// network file and the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeavePublic {
    /// The FROST group verifying key: a plain Ed25519 public key (hex).
    /// Every personhood credential and festival admission verifies under it.
    pub group_key: String,
    /// The FROST public key package (group key and each node's verifying
    /// share), JSON as `frost-ed25519` serialises it: clients need it to
    /// aggregate and to name a node that sent a bad share.
    pub frost_public: String,
    /// The PRF verification shares.
    pub prf: PrfPublic,
}

impl WeavePublic {
    /// The group key as an Ed25519 verifying key.
    pub fn group_key(&self) -> Result<VerifyingKey, WeaveError> {
        crate::jose::key_from_hex("group key", &self.group_key)
    }

    /// The FROST public key package.
    pub fn frost_public(&self) -> Result<PublicKeyPackage, WeaveError> {
        serde_json::from_str(&self.frost_public)
            .map_err(|e| WeaveError::malformed("FROST public key package", e))
    }
}

/// One node's secret weaving keys. Wiped on drop; `Debug` shows no secret.
pub struct NodeKeys {
    /// The FROST key package (signing share, verifying share, group key).
    pub frost: KeyPackage,
    /// The PRF key share.
    pub prf: PrfShare,
}

impl std::fmt::Debug for NodeKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeKeys")
            .field("index", &self.prf.index())
            .field("secrets", &"<redacted>")
            .finish()
    }
}

/// File form of the FROST key package (`frost-key.json`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrostKeyFile {
    version: u8,
    index: u16,
    key_package: KeyPackage,
}

impl NodeKeys {
    /// `frost-key.json`: the FROST key package (secret).
    pub fn frost_json(&self) -> Result<Zeroizing<String>, WeaveError> {
        let f = FrostKeyFile {
            version: 1,
            index: self.prf.index(),
            key_package: self.frost.clone(),
        };
        serde_json::to_string_pretty(&f)
            .map(Zeroizing::new)
            .map_err(|e| WeaveError::malformed("FROST key file", e))
    }

    /// Parses `frost-key.json` and `prf-key.json`, checking they belong to
    /// the same node index.
    pub fn from_json(frost: &str, prf: &str) -> Result<Self, WeaveError> {
        let f: FrostKeyFile =
            serde_json::from_str(frost).map_err(|e| WeaveError::malformed("FROST key file", e))?;
        let prf = PrfShare::from_json(prf)?;
        if f.version != 1
            || f.index != prf.index()
            || node_identifier(f.index)? != *f.key_package.identifier()
        {
            return Err(WeaveError::malformed(
                "FROST key file",
                "version must be 1 and the index must match prf-key.json",
            ));
        }
        Ok(Self {
            frost: f.key_package,
            prf,
        })
    }

    /// The node's share index (1..=3; party Pi has index i + 1).
    pub fn index(&self) -> u16 {
        self.prf.index()
    }
}

/// The FROST identifier of share index `index` (1..=3).
pub fn node_identifier(index: u16) -> Result<Identifier, WeaveError> {
    Identifier::try_from(index).map_err(WeaveError::Frost)
}

/// Runs the dealer ceremony for three nodes, threshold two. Element `i` of
/// the array is for party `Pi` (share index `i + 1`).
pub fn dealer_ceremony() -> Result<([NodeKeys; 3], WeavePublic), WeaveError> {
    let (shares, frost_public) =
        frost_ed25519::keys::generate_with_dealer(3, 2, IdentifierList::Default, rand_core::OsRng)
            .map_err(WeaveError::Frost)?;
    let shares: BTreeMap<_, _> = shares;
    let (prf_shares, prf) = prf::deal();
    let mut out = Vec::with_capacity(3);
    for (i, prf_share) in (1u16..=3).zip(prf_shares) {
        let id = node_identifier(i)?;
        let secret = shares
            .get(&id)
            .ok_or_else(|| WeaveError::malformed("dealer output", "missing a share"))?;
        let frost = KeyPackage::try_from(secret.clone()).map_err(WeaveError::Frost)?;
        out.push(NodeKeys {
            frost,
            prf: prf_share,
        });
    }
    let group = frost_public
        .verifying_key()
        .serialize()
        .map_err(WeaveError::Frost)?;
    let public = WeavePublic {
        group_key: hex::encode(group),
        frost_public: serde_json::to_string(&frost_public)
            .map_err(|e| WeaveError::malformed("FROST public key package", e))?,
        prf,
    };
    let keys: [NodeKeys; 3] = out
        .try_into()
        .map_err(|_| WeaveError::malformed("dealer output", "expected 3 nodes"))?;
    Ok((keys, public))
}
