//! The client side (a "Security Sanctuary" enrollment or verification site):
//! splits a template into shares, seals each to its node, sends the bundle
//! to the coordinator, and reconstructs decisions from the nodes' sealed
//! shares. The template and its shares are wiped once sealed.

use std::time::Duration;

use sanctuary_share::{PartyId, ShareVec, deal, reconstruct_bool};
use sanctuary_store::EnrollmentId;
use sanctuary_template::{Template, TemplateKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

use crate::engine::{seal_context, share_to_bytes};
use crate::seal::{SealKey, SealedBox, seal};
use crate::wire::{
    DeleteRequest, DeleteResponse, EnrollRequest, EnrollResponse, ErrorBody, MatchRequest,
    MatchResponse,
};
use crate::{NetworkFile, NodeError};

/// A client of one network.
#[derive(Debug, Clone)]
pub struct Client {
    net: NetworkFile,
    http: reqwest::Client,
}

fn new_request_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn kind_and_ring(t: &Template) -> (TemplateKind, Vec<u32>) {
    match t {
        Template::Embedding(q) => (TemplateKind::Embedding, q.to_ring()),
        Template::Iris(c) => (TemplateKind::Iris, c.to_ring()),
    }
}

impl Client {
    /// A client for the network described by `net`.
    pub fn new(net: NetworkFile) -> Result<Self, NodeError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| NodeError::Http {
                url: String::new(),
                message: e.to_string(),
            })?;
        Ok(Self { net, http })
    }

    /// The network description.
    pub fn network(&self) -> &NetworkFile {
        &self.net
    }

    async fn post<Q: Serialize, A: DeserializeOwned>(
        &self,
        path: &str,
        body: &Q,
    ) -> Result<A, NodeError> {
        let url = format!("{}{path}", self.net.leader().api_url);
        let resp = self
            .http
            .post(&url)
            .json(body)
            .send()
            .await
            .map_err(|e| NodeError::Http {
                url: url.clone(),
                message: format!("coordinator P0 unreachable: {e}"),
            })?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(|e| NodeError::Http {
            url: url.clone(),
            message: e.to_string(),
        })?;
        if !status.is_success() {
            let message = serde_json::from_slice::<ErrorBody>(&bytes)
                .map(|b| b.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
            return Err(NodeError::Http {
                url,
                message: format!("{status}: {message}"),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| NodeError::Http {
            url,
            message: format!("bad response: {e}"),
        })
    }

    /// `GET /v1/health` of one node.
    pub async fn health(&self, party: PartyId) -> Result<serde_json::Value, NodeError> {
        let url = format!("{}/v1/health", self.net.nodes[party.index()].api_url);
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| NodeError::Http {
                url: url.clone(),
                message: e.to_string(),
            })?;
        resp.json().await.map_err(|e| NodeError::Http {
            url,
            message: e.to_string(),
        })
    }

    /// Shares `template`, seals each share to its node, and wipes the rest.
    fn sealed_shares(
        &self,
        request_id: &str,
        template: &Template,
    ) -> Result<(TemplateKind, Vec<SealedBox>), NodeError> {
        let (kind, mut ring) = kind_and_ring(template);
        let shares = deal(&ring, &mut rand::rng());
        ring.zeroize();
        let mut boxes = Vec::with_capacity(3);
        for (share, node) in shares.iter().zip(&self.net.nodes) {
            let bytes = share_to_bytes(share);
            let ctx = seal_context(request_id, node.party, "share");
            boxes.push(
                seal(&node.seal_key, &ctx, &bytes)
                    .map_err(|e| NodeError::BadRequest(e.to_string()))?,
            );
        }
        Ok((kind, boxes))
    }

    /// Enrolls a template (the network deduplicates first).
    pub async fn enroll(
        &self,
        template: &Template,
        subject: Option<String>,
    ) -> Result<EnrollResponse, NodeError> {
        let request_id = new_request_id();
        let (kind, shares) = self.sealed_shares(&request_id, template)?;
        self.post(
            "/v1/enroll",
            &EnrollRequest {
                request_id,
                kind,
                shares,
                subject,
            },
        )
        .await
    }

    async fn decide(
        &self,
        path: &str,
        enrollment_id: Option<EnrollmentId>,
        template: &Template,
    ) -> Result<bool, NodeError> {
        let request_id = new_request_id();
        let (kind, shares) = self.sealed_shares(&request_id, template)?;
        let key = SealKey::generate();
        let req = MatchRequest {
            request_id: request_id.clone(),
            kind,
            enrollment_id,
            shares,
            client_key: key.public(),
        };
        let resp: MatchResponse = self.post(path, &req).await?;
        if resp.results.len() != 3 {
            return Err(NodeError::Result(format!(
                "expected 3 decision shares, got {}",
                resp.results.len()
            )));
        }
        let mut parts = Vec::new();
        for (party, sealed) in PartyId::ALL.into_iter().zip(&resp.results) {
            let bytes = key
                .open(sealed, &seal_context(&request_id, party, "result"))
                .map_err(|e| NodeError::Result(format!("share from {party}: {e}")))?;
            let words: Vec<u64> = bytemuck::pod_collect_to_vec(&bytes);
            let (own, next) = words.split_at(words.len() / 2);
            parts.push(
                ShareVec::from_parts(party, own.to_vec(), next.to_vec())
                    .map_err(|e| NodeError::Result(e.to_string()))?,
            );
        }
        let arr: [ShareVec<u64>; 3] = parts
            .try_into()
            .map_err(|_| NodeError::Result("wrong number of shares".into()))?;
        // The consistency check catches a node that altered its share.
        let words = reconstruct_bool(&arr).map_err(|e| NodeError::Result(e.to_string()))?;
        Ok(words.first().is_some_and(|w| w & 1 == 1))
    }

    /// 1:1: does `template` match enrollment `id`?
    pub async fn verify(&self, id: EnrollmentId, template: &Template) -> Result<bool, NodeError> {
        self.decide("/v1/verify", Some(id), template).await
    }

    /// 1:N: is `template` already enrolled?
    pub async fn dedupe(&self, template: &Template) -> Result<bool, NodeError> {
        self.decide("/v1/dedupe", None, template).await
    }

    /// Deletes an enrollment everywhere.
    pub async fn delete(&self, id: EnrollmentId) -> Result<DeleteResponse, NodeError> {
        self.post(
            "/v1/delete",
            &DeleteRequest {
                request_id: new_request_id(),
                enrollment_id: id,
            },
        )
        .await
    }
}
