//! The holder's side of Identity Weaving: the FROST coordinator that gets
//! a credential signed by two nodes, and the festival PRF combiner.

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use sanctuary_consent::{NetworkId, Wallet};
use sanctuary_proto::NetworkFile;
use sanctuary_proto::wire::{FestivalRecordRequest, SeqResponse};
use sanctuary_share::PartyId;
use sanctuary_weave::prf::Evaluation;
use sanctuary_weave::{
    CommitResponse, Draft, EvaluateRequest, SignRequest, SignResponse, WeavePublic, threshold,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::ClientError;

/// The network's group key, which every personhood credential and festival
/// admission verifies under.
pub fn group_key(net: &NetworkFile) -> Result<ed25519_dalek::VerifyingKey, ClientError> {
    Ok(net
        .weave
        .as_ref()
        .ok_or(ClientError::NoWeaveKeys)?
        .group_key()?)
}

/// FROST share index of a party: `Pi` holds index `i + 1`.
fn party_index(p: PartyId) -> u16 {
    // Invariant: three parties.
    p.index() as u16 + 1
}

/// A credential the wallet holds: the SD-JWT and its holder binding key.
#[derive(Clone)]
pub struct HeldCredential {
    /// The SD-JWT as issued (`jws~disclosures~`).
    pub sd_jwt: String,
    /// The key its `cnf` names (secret).
    pub holder_key: SigningKey,
}

impl std::fmt::Debug for HeldCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldCredential")
            .field("sd_jwt", &self.sd_jwt)
            .field("holder_key", &"<redacted>")
            .finish()
    }
}

/// The holder's side of issuance: the FROST coordinator and PRF combiner.
#[derive(Debug, Clone)]
pub struct WeaveClient {
    net: NetworkFile,
    public: WeavePublic,
    network: NetworkId,
    client: crate::Client,
}

impl WeaveClient {
    /// A client for `net`, which must publish weaving keys.
    pub fn new(net: NetworkFile) -> Result<Self, ClientError> {
        let public = net.weave.clone().ok_or(ClientError::NoWeaveKeys)?;
        let network =
            NetworkId::new(net.network.clone()).map_err(|e| ClientError::NetworkName {
                name: net.network.clone(),
                reason: e.to_string(),
            })?;
        let client = crate::Client::new(net.clone())?;
        Ok(Self {
            net,
            public,
            network,
            client,
        })
    }

    /// The network's public weaving keys.
    pub fn public(&self) -> &WeavePublic {
        &self.public
    }

    async fn post<Q: Serialize, A: DeserializeOwned>(
        &self,
        party: PartyId,
        path: &str,
        body: &Q,
    ) -> Result<A, ClientError> {
        self.client.post_to(party, path, body).await
    }

    /// Runs FROST with `signers` over `draft` and returns the finished SD-JWT.
    async fn threshold_sign(
        &self,
        wallet: &Wallet,
        draft: &Draft,
        evaluations: &[Evaluation],
        signers: [PartyId; 2],
    ) -> Result<String, ClientError> {
        let mut sessions = Vec::new();
        let mut commitments = BTreeMap::new();
        for p in signers {
            let c: CommitResponse = self.post(p, "/v1/credential/commit", &()).await?;
            if c.index != party_index(p) {
                return Err(ClientError::BadResponse {
                    party: p,
                    url: "/v1/credential/commit".into(),
                    message: format!("answered as signer index {}", c.index),
                });
            }
            let id = sanctuary_weave::node_identifier(c.index)?;
            commitments.insert(id, c.commitments);
            sessions.push((p, id, c.session));
        }
        let package = threshold::signing_package(commitments, draft.signing_input());
        let authorization = sanctuary_weave::authorize(
            wallet,
            &self.network,
            "sign",
            &sanctuary_weave::sign_target(draft.signing_input()),
            OffsetDateTime::now_utc(),
        );
        let mut shares = BTreeMap::new();
        for (p, id, session) in sessions {
            let req = SignRequest {
                session,
                signing_package: package.clone(),
                authorization: authorization.clone(),
                evaluations: evaluations.to_vec(),
            };
            let r: SignResponse = self.post(p, "/v1/credential/sign", &req).await?;
            shares.insert(id, r.share);
        }
        let sig = threshold::aggregate(&package, &shares, &self.public)?;
        Ok(draft.finish(&sig))
    }

    /// Asks for `count` personhood credentials, each with a fresh holder key
    /// (use one per verifier), valid `lifetime_s` seconds. Nodes P0 and P1
    /// sign; if either refuses, the other pairs are tried.
    pub async fn issue_personhood(
        &self,
        wallet: &Wallet,
        count: usize,
        lifetime_s: i64,
    ) -> Result<Vec<HeldCredential>, ClientError> {
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            let holder_key = sanctuary_weave::fresh_key();
            let draft = sanctuary_weave::draft_personhood(
                &self.net.network,
                &holder_key.verifying_key(),
                sanctuary_weave::unix_now(),
                lifetime_s,
            )?;
            let sd_jwt = self.sign_with_any_pair(wallet, &draft, &[]).await?;
            out.push(HeldCredential { sd_jwt, holder_key });
        }
        Ok(out)
    }

    async fn sign_with_any_pair(
        &self,
        wallet: &Wallet,
        draft: &Draft,
        evaluations: &[Evaluation],
    ) -> Result<String, ClientError> {
        let mut last = None;
        for pair in [
            [PartyId::P0, PartyId::P1],
            [PartyId::P1, PartyId::P2],
            [PartyId::P0, PartyId::P2],
        ] {
            match self.threshold_sign(wallet, draft, evaluations, pair).await {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Result("no signer pair".into())))
    }

    /// The subject's pseudonym at `event`, from two nodes' PRF evaluations
    /// (each proof checked), and those evaluations.
    pub async fn pseudonym(
        &self,
        wallet: &Wallet,
        event: &str,
    ) -> Result<(String, Vec<Evaluation>), ClientError> {
        let req = EvaluateRequest {
            event: event.to_owned(),
            authorization: sanctuary_weave::authorize(
                wallet,
                &self.network,
                "evaluate",
                event,
                OffsetDateTime::now_utc(),
            ),
        };
        // First into the log (and the subject's audit trail), then evaluated.
        let record = FestivalRecordRequest {
            request_id: hex::encode(rand::random::<[u8; 16]>()),
            event: event.to_owned(),
            authorization: req.authorization.clone(),
            audit_tag: Some(crate::audit_tag(wallet)),
        };
        self.post::<_, SeqResponse>(PartyId::P0, "/v1/festival/record", &record)
            .await?;
        let mut evals = Vec::new();
        let mut last = None;
        for p in PartyId::ALL {
            match self
                .post::<_, Evaluation>(p, "/v1/festival/evaluate", &req)
                .await
            {
                Ok(e) => evals.push(e),
                Err(e) => last = Some(e),
            }
            if evals.len() == 2 {
                let subject = wallet.subject().to_hex();
                let pseudonym = self.public.prf.pseudonym(event, &subject, &evals)?;
                return Ok((pseudonym, evals));
            }
        }
        Err(last.unwrap_or_else(|| ClientError::Result("fewer than two evaluations".into())))
    }

    /// Obtains a festival admission for `event`: the pseudonym from the PRF,
    /// then an admission signed by the group key with a fresh holder key.
    pub async fn admission(
        &self,
        wallet: &Wallet,
        event: &str,
        lifetime_s: i64,
    ) -> Result<(HeldCredential, String), ClientError> {
        let (pseudonym, evals) = self.pseudonym(wallet, event).await?;
        let holder_key = sanctuary_weave::fresh_key();
        let draft = sanctuary_weave::draft_admission(
            &self.net.network,
            event,
            &pseudonym,
            &holder_key.verifying_key(),
            sanctuary_weave::unix_now(),
            lifetime_s,
        )?;
        let sd_jwt = self.sign_with_any_pair(wallet, &draft, &evals).await?;
        Ok((HeldCredential { sd_jwt, holder_key }, pseudonym))
    }
}
