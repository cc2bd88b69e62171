//! The client side (a "Security Sanctuary" enrollment or verification site):
//! splits a template into shares, seals each to its node, sends the bundle
//! to the coordinator, and reconstructs decisions from the nodes' sealed
//! shares. The template and its shares are wiped once sealed.

use std::time::Duration;

use sanctuary_share::{PartyId, ShareVec, deal, reconstruct_bool};
use sanctuary_template::{Template, TemplateKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroize;

use sanctuary_consent::{
    AcceptedTerms, ConsentToken, DeletionRequest, Digest32, EnrollmentStatement, NetworkId,
    Revocation, SignedStatement, SubjectPublicKey, Wallet,
};
use sanctuary_log::{
    AuditKey, AuditOutcome, AuditedEntry, CheckpointPolicy, ConsistencyProof, Erased, ForkEvidence,
    InclusionProof, Leaf, MemoryTree, SignedNote, VerifiedCheckpoint, audit_consistency,
    detect_fork, erased_for_subject, subject_audit,
};
use sanctuary_proto::seal::{SealKey, SealedBox, seal};
use sanctuary_proto::{
    EnrollmentId, NetworkFile, SealLabel, seal_context, share_from_bytes, share_to_bytes,
};

use crate::ClientError;
use base64::Engine as _;
use sanctuary_proto::wire::{
    DeleteRequest, DeleteResponse, EnrollRequest, EnrollResponse, EntriesResponse, Erasure,
    ErrorBody, IdentifyRequest, MatchRequest, MatchResponse, RevealedAuditKey, RevokeRequest,
    SeqResponse, component_commitment, deletion_commitment, enrollment_commitment,
};
use sanctuary_proto::wire::{SignedResult, result_message};

/// A subject's audit: their entries, each with an inclusion proof checked
/// against a co-signed checkpoint.
#[derive(Debug)]
pub struct SubjectAudit {
    /// The co-signed checkpoint the entries were checked against.
    pub checkpoint: VerifiedCheckpoint,
    /// The subject's entries.
    pub entries: Vec<AuditedEntry>,
    /// The subject's entries whose bodies were erased at their request
    /// (each tied to them by the deletion that erased it); their leaves
    /// were checked against the checkpoint with the rest.
    pub erased: Vec<Erased>,
}

/// An auditor's view of the log across the nodes.
#[derive(Debug, Default)]
pub struct LogAudit {
    /// Each reachable node's latest co-signed checkpoint (verified).
    pub checkpoints: Vec<(PartyId, VerifiedCheckpoint)>,
    /// Nodes that could not be audited, and why.
    pub unreachable: Vec<(PartyId, String)>,
    /// Forks found: equivocating checkpoints or failed consistency proofs.
    pub forks: Vec<ForkEvidence>,
    /// Nodes whose served entries do not hash to their co-signed root
    /// (an entry rewritten or dropped).
    pub tampered: Vec<(PartyId, String)>,
}

/// A relying party's consent to act on: its id and the subject's token.
#[derive(Debug, Clone)]
pub struct Consent {
    /// The relying party (the token's audience).
    pub relying_party: String,
    /// The token.
    pub token: ConsentToken,
}

/// A client of one network. It talks to each node over TLS, accepting only
/// the node key pinned for it in the network file.
#[derive(Debug, Clone)]
pub struct Client {
    net: NetworkFile,
    /// One HTTP client per node, each pinned to that node's key.
    http: [reqwest::Client; 3],
}

/// A fresh blinded audit tag from the subject's wallet. (A function, so the
/// thread-local RNG is not held across an `.await`: client futures stay
/// `Send`.)
pub fn audit_tag(wallet: &Wallet) -> sanctuary_log::AuditTag {
    wallet.audit_key().new_tag(&mut rand::rng())
}

/// What a subject is shown before enrolling, and accepts by signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Each node's notice, party order.
    pub texts: Vec<String>,
    /// Each node's policy digest, party order.
    pub digests: Vec<Digest32>,
}

impl Notice {
    /// The terms signed at enrollment.
    pub fn terms(&self) -> AcceptedTerms {
        AcceptedTerms {
            policy_digests: self.digests.clone(),
            notice_digest: Digest32(sanctuary_proto::wire::notice_digest(&self.texts)),
        }
    }
}

impl std::fmt::Display for Notice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (p, t) in PartyId::ALL.iter().zip(&self.texts) {
            writeln!(f, "--- node {}:", p.index())?;
            writeln!(f, "{t}")?;
        }
        Ok(())
    }
}

/// The number of leaves a checkpoint covers, as an index bound.
fn entries_len(cp: &VerifiedCheckpoint) -> usize {
    usize::try_from(cp.size()).unwrap_or(usize::MAX)
}

/// A template's three sealed shares.
struct Sealed {
    kind: TemplateKind,
    boxes: Vec<SealedBox>,
    /// [`SealedBox::digest`] of each, in party order.
    digests: Vec<[u8; 32]>,
    /// [`component_commitment`] of each share component, in component order.
    components: Vec<[u8; 32]>,
}

/// A transport failure, or the pinning refusal it hides.
fn unreachable(party: PartyId, url: &str, source: reqwest::Error) -> ClientError {
    match sanctuary_proto::pin::find_not_pinned(&source) {
        Some(np) => ClientError::WrongNodeKey {
            party,
            url: url.to_owned(),
            presented: np.presented.to_string(),
        },
        None => ClientError::Unreachable {
            party,
            url: url.to_owned(),
            source,
        },
    }
}

fn new_request_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

fn kind_and_ring(t: &Template) -> (TemplateKind, Vec<u32>) {
    let ring = match t {
        Template::Embedding(q) => q.to_ring(),
        Template::Iris(c) => c.to_ring(),
    };
    (t.kind(), ring)
}

impl Client {
    /// A client for the network described by `net`.
    ///
    /// Every node's `api_url` must be `https://`; plain `http://` is
    /// refused unless the network file says `insecure_http = true` (a local
    /// experiment made with `network init --insecure-http`).
    pub fn new(net: NetworkFile) -> Result<Self, ClientError> {
        let mut http = Vec::with_capacity(3);
        for party in PartyId::ALL {
            let node = net
                .nodes
                .get(party.index())
                .filter(|n| n.party == party)
                .ok_or_else(|| {
                    ClientError::Input("the network file must list parties 0, 1, 2 in order".into())
                })?;
            // Always the pinned configuration: reqwest never falls back to
            // its own roots, whatever the URL.
            let tls = sanctuary_proto::pin::api_client_config(party, node.key)
                .map_err(|e| ClientError::Input(format!("TLS set-up for {party}: {e}")))?;
            let builder = reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .tls_backend_preconfigured(tls);
            let builder = if node.api_url.starts_with("https://") {
                builder.https_only(true)
            } else if node.api_url.starts_with("http://") && net.insecure_http {
                builder
            } else {
                return Err(ClientError::InsecureUrl {
                    party,
                    url: node.api_url.clone(),
                });
            };
            http.push(builder.build().map_err(ClientError::HttpSetup)?);
        }
        let http: [reqwest::Client; 3] = http
            .try_into()
            .map_err(|_| ClientError::Input("three nodes".into()))?;
        Ok(Self { net, http })
    }

    /// The HTTP client pinned to `party`'s key and that node's API base
    /// URL, for requests this library does not make (tests of malformed
    /// input, tools).
    pub fn pinned_http(&self, party: PartyId) -> (&reqwest::Client, &str) {
        (&self.http[party.index()], &self.net.node(party).api_url)
    }

    /// The network description.
    pub fn network(&self) -> &NetworkFile {
        &self.net
    }

    /// Sends `req` to `party`'s API and returns the body of a success; a
    /// refusal becomes [`ClientError::Refused`], any other failure an error
    /// naming the node, the URL and the node's message.
    async fn call(
        &self,
        party: PartyId,
        req: reqwest::RequestBuilder,
        url: String,
    ) -> Result<Vec<u8>, ClientError> {
        let resp = req
            .send()
            .await
            .map_err(|source| ClientError::Unreachable {
                party,
                url: url.clone(),
                source,
            })?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|source| ClientError::Unreachable {
                party,
                url: url.clone(),
                source,
            })?;
        if status.is_success() {
            return Ok(bytes.to_vec());
        }
        let status_error = |message| ClientError::Status {
            party,
            url: url.clone(),
            status: status.as_u16(),
            message,
        };
        Err(match serde_json::from_slice::<ErrorBody>(&bytes) {
            Ok(ErrorBody {
                error,
                message,
                refused_by: Some(by),
            }) => match error.parse() {
                Ok(code) => ClientError::Refused {
                    party: by,
                    code,
                    message,
                },
                Err(_) => status_error(format!("{error}: {message}")),
            },
            Ok(b) => status_error(b.message),
            Err(_) => status_error(String::from_utf8_lossy(&bytes).into_owned()),
        })
    }

    /// POSTs `body` to one node's API (requests that go to a given node,
    /// such as the weaving signing rounds).
    pub(crate) async fn post_to<Q: Serialize, A: DeserializeOwned>(
        &self,
        party: PartyId,
        path: &str,
        body: &Q,
    ) -> Result<A, ClientError> {
        let url = format!("{}{path}", self.net.node(party).api_url);
        let bytes = self
            .call(
                party,
                self.http[party.index()].post(&url).json(body),
                url.clone(),
            )
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::BadResponse {
            party,
            url,
            message: e.to_string(),
        })
    }

    /// POSTs an operation to the coordinator (party 0).
    async fn post<Q: Serialize, A: DeserializeOwned>(
        &self,
        path: &str,
        body: &Q,
    ) -> Result<A, ClientError> {
        self.post_to(PartyId::P0, path, body).await
    }

    /// `GET /v1/health` of one node.
    pub async fn health(&self, party: PartyId) -> Result<serde_json::Value, ClientError> {
        let url = format!("{}/v1/health", self.net.node(party).api_url);
        // Health answers 200 or 503 with the same JSON body; both are read.
        let resp = self.http[party.index()]
            .get(&url)
            .send()
            .await
            .map_err(|source| unreachable(party, &url, source))?;
        resp.json().await.map_err(|e| ClientError::BadResponse {
            party,
            url,
            message: e.to_string(),
        })
    }

    /// Shares `template`, seals each share to its node (bound to
    /// `client_key` for match requests), and wipes the rest. Returns the
    /// kind, the boxes and their digests.
    fn sealed_shares(
        &self,
        request_id: &str,
        template: &Template,
        client_key: Option<&str>,
    ) -> Result<Sealed, ClientError> {
        let (kind, mut ring) = kind_and_ring(template);
        let shares = deal(&ring, &mut rand::rng());
        ring.zeroize();
        let mut boxes = Vec::with_capacity(3);
        for (share, node) in shares.iter().zip(&self.net.nodes) {
            let bytes = share_to_bytes(share);
            let ctx = seal_context(SealLabel::Share, request_id, node.party, client_key);
            boxes.push(
                seal(&node.seal_key, &ctx, &bytes).map_err(|source| ClientError::Seal {
                    party: node.party,
                    source,
                })?,
            );
        }
        let digests = boxes.iter().map(SealedBox::digest).collect();
        // Component x_j is the first half of party j's share bytes.
        let components = shares
            .iter()
            .zip(PartyId::ALL)
            .map(|(share, j)| {
                let bytes = share_to_bytes(share);
                component_commitment(request_id, j, &bytes[..bytes.len() / 2])
            })
            .collect();
        Ok(Sealed {
            kind,
            boxes,
            digests,
            components,
        })
    }

    fn network_id(&self) -> Result<NetworkId, ClientError> {
        NetworkId::new(&self.net.network).map_err(|e| ClientError::NetworkName {
            name: self.net.network.clone(),
            reason: e.to_string(),
        })
    }

    /// The notice a subject must be shown before enrolling: each node's
    /// own notice and policy digest, fetched from that node (over its
    /// pinned TLS key, so a coordinator cannot change another node's).
    pub async fn notice(&self) -> Result<Notice, ClientError> {
        let mut texts = Vec::with_capacity(3);
        let mut digests = Vec::with_capacity(3);
        for p in PartyId::ALL {
            let v = self.policy(p).await?;
            let bad = |what: &str| ClientError::LogData {
                party: p,
                message: format!("its /v1/policy has no {what}"),
            };
            let text = v["notice"].as_str().ok_or_else(|| bad("notice"))?;
            let digest = v["digest"]
                .as_str()
                .and_then(|d| hex::decode(d).ok())
                .and_then(|d| <[u8; 32]>::try_from(d).ok())
                .ok_or_else(|| bad("policy digest"))?;
            texts.push(text.to_owned());
            digests.push(Digest32(digest));
        }
        Ok(Notice { texts, digests })
    }

    /// Enrolls a template for the subject holding `wallet`, at enrollment
    /// site `site` (the network deduplicates first), accepting the nodes'
    /// current notice ([`Client::notice`]) on the subject's behalf: for
    /// callers that showed it already. The wallet signs the enrollment
    /// statement; the enrollment is bound to its key.
    pub async fn enroll(
        &self,
        template: &Template,
        wallet: &Wallet,
        site: &str,
    ) -> Result<EnrollResponse, ClientError> {
        let notice = self.notice().await?;
        self.enroll_accepting(template, wallet, site, &notice).await
    }

    /// [`Client::enroll`], signing acceptance of `notice` (what the subject
    /// was shown). A node whose policy changed since refuses
    /// (`policy_not_accepted`).
    pub async fn enroll_accepting(
        &self,
        template: &Template,
        wallet: &Wallet,
        site: &str,
        notice: &Notice,
    ) -> Result<EnrollResponse, ClientError> {
        let request_id = new_request_id();
        let Sealed {
            kind,
            boxes: shares,
            digests,
            components,
        } = self.sealed_shares(&request_id, template, None)?;
        let statement = EnrollmentStatement::new(
            self.network_id()?,
            enrollment_commitment(&request_id, kind, &digests, &components),
            time::OffsetDateTime::now_utc(),
        )
        .accepting(notice.terms());
        self.post(
            "/v1/enroll",
            &EnrollRequest {
                request_id,
                kind,
                shares,
                site: site.to_owned(),
                statement: SignedStatement::sign(wallet, statement),
                audit_tag: Some(audit_tag(wallet)),
                components: components.iter().map(hex::encode).collect(),
            },
        )
        .await
    }

    async fn decide(
        &self,
        path: &str,
        enrollment_id: Option<EnrollmentId>,
        template: &Template,
        consent: &Consent,
        subject: Option<&SubjectPublicKey>,
    ) -> Result<bool, ClientError> {
        let request_id = new_request_id();
        let key = SealKey::generate();
        let client_key = key.public();
        let Sealed {
            kind,
            boxes: shares,
            digests,
            ..
        } = self.sealed_shares(&request_id, template, Some(&client_key))?;
        let req = MatchRequest {
            request_id: request_id.clone(),
            kind,
            enrollment_id,
            shares,
            client_key: client_key.clone(),
            relying_party: consent.relying_party.clone(),
            token: consent.token.as_base64().to_owned(),
            subject: subject.map(SubjectPublicKey::to_hex),
        };
        let resp: MatchResponse = self.post(path, &req).await?;
        if resp.results.len() != 3 {
            return Err(ClientError::Result(format!(
                "expected 3 decision shares, got {}",
                resp.results.len()
            )));
        }
        let digests: Vec<String> = digests.iter().map(hex::encode).collect();
        let mut parts = Vec::new();
        for (party, signed) in PartyId::ALL.into_iter().zip(&resp.results) {
            self.check_result(party, &request_id, &client_key, &digests, signed)?;
            let bytes = key
                .open(
                    &signed.sealed,
                    &seal_context(SealLabel::Result, &request_id, party, None),
                )
                .map_err(|e| ClientError::ResultNotAuthentic {
                    party,
                    reason: format!("its share does not open: {e}"),
                })?;
            let share: ShareVec<u64> =
                share_from_bytes(party, &bytes, bytes.len() / 16).map_err(|e| {
                    ClientError::ResultNotAuthentic {
                        party,
                        reason: e.to_string(),
                    }
                })?;
            parts.push(share);
        }
        let arr: [ShareVec<u64>; 3] = parts
            .try_into()
            .map_err(|_| ClientError::Result("wrong number of shares".into()))?;
        // The consistency check catches a node that altered its share.
        let words = reconstruct_bool(&arr).map_err(|e| ClientError::Result(e.to_string()))?;
        Ok(words.first().is_some_and(|w| w & 1 == 1))
    }

    /// Checks that `party` itself signed `signed` for this request, this
    /// client key and the boxes this client made.
    fn check_result(
        &self,
        party: PartyId,
        request_id: &str,
        client_key: &str,
        digests: &[String],
        signed: &SignedResult,
    ) -> Result<(), ClientError> {
        let fail = |reason: &str| ClientError::ResultNotAuthentic {
            party,
            reason: reason.to_owned(),
        };
        if signed.party != party {
            return Err(fail("the share is labelled as another node's"));
        }
        let sig = base64::engine::general_purpose::STANDARD
            .decode(&signed.signature)
            .ok()
            .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
            .ok_or_else(|| fail("its signature is malformed"))?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(self.net.node(party).key.as_bytes())
            .map_err(|_| fail("its pinned key is not an Ed25519 key"))?;
        let message = result_message(request_id, party, client_key, digests, &signed.sealed);
        key.verify_strict(&message, &sig).map_err(|_| {
            fail(
                "its signature does not cover this request, this client's key and the shares \
                 this client sent (the coordinator substituted one, or the share was forged)",
            )
        })
    }

    /// 1:1: does `template` match enrollment `id`? Needs the subject's
    /// consent token for the relying party.
    pub async fn verify(
        &self,
        id: EnrollmentId,
        template: &Template,
        consent: &Consent,
    ) -> Result<bool, ClientError> {
        self.decide("/v1/verify", Some(id), template, consent, None)
            .await
    }

    /// 1:N: is `template` already enrolled? Asked by an enrollment site
    /// with the consent of the person in front of it (`subject`).
    pub async fn dedupe(
        &self,
        template: &Template,
        consent: &Consent,
        subject: &SubjectPublicKey,
    ) -> Result<bool, ClientError> {
        self.decide("/v1/dedupe", None, template, consent, Some(subject))
            .await
    }

    /// Deletes an enrollment everywhere, at the request of its subject.
    pub async fn delete(
        &self,
        id: EnrollmentId,
        wallet: &Wallet,
    ) -> Result<DeleteResponse, ClientError> {
        self.delete_with(id, wallet, None).await
    }

    /// Deletes enrollment `id` and erases the bodies of the wallet's earlier
    /// log entries with it (the right to erasure, reaching the public log).
    /// The wallet's entries are found by an audit against node 0's latest
    /// co-signed checkpoint; its audit key is revealed to the nodes for this
    /// request only, so that each checks the entries are the wallet's.
    /// Every entry of this wallet is erased (not only this enrollment's):
    /// the call for a subject leaving the network. Entries of earlier
    /// erasing deletions stay, as the record of those erasures.
    pub async fn delete_and_erase(
        &self,
        id: EnrollmentId,
        wallet: &Wallet,
    ) -> Result<DeleteResponse, ClientError> {
        let audit = self.audit_subject(PartyId::P0, wallet.audit_key()).await?;
        let seqs: Vec<u64> = audit
            .entries
            .iter()
            .filter(|a| a.entry.erases.is_none())
            .map(|a| a.entry.seq)
            .collect();
        let erase = (!seqs.is_empty()).then(|| Erasure {
            audit_key: RevealedAuditKey::reveal(wallet.audit_key()),
            seqs,
        });
        self.delete_with(id, wallet, erase).await
    }

    async fn delete_with(
        &self,
        id: EnrollmentId,
        wallet: &Wallet,
        erase: Option<Erasure>,
    ) -> Result<DeleteResponse, ClientError> {
        let statement = DeletionRequest::new(
            self.network_id()?,
            Some(deletion_commitment(&id)),
            time::OffsetDateTime::now_utc(),
        );
        self.post(
            "/v1/delete",
            &DeleteRequest {
                request_id: new_request_id(),
                enrollment_id: id,
                statement: SignedStatement::sign(wallet, statement),
                audit_tag: Some(audit_tag(wallet)),
                erase,
            },
        )
        .await
    }

    /// Revokes consent tokens (one, or all issued before a time) on every
    /// node.
    pub async fn revoke(
        &self,
        wallet: &Wallet,
        revocation: Revocation,
    ) -> Result<SeqResponse, ClientError> {
        self.post(
            "/v1/revoke",
            &RevokeRequest {
                request_id: new_request_id(),
                statement: SignedStatement::sign(wallet, revocation),
                audit_tag: Some(audit_tag(wallet)),
            },
        )
        .await
    }

    /// Asks "who is this?" — always refused; for demonstrating the policy.
    pub async fn identify(&self, relying_party: &str) -> Result<SeqResponse, ClientError> {
        self.post(
            "/v1/identify",
            &IdentifyRequest {
                request_id: new_request_id(),
                relying_party: relying_party.to_owned(),
            },
        )
        .await
    }

    async fn get_text(&self, party: PartyId, path: &str) -> Result<String, ClientError> {
        let url = format!("{}{path}", self.net.node(party).api_url);
        let bytes = self
            .call(party, self.http[party.index()].get(&url), url.clone())
            .await?;
        String::from_utf8(bytes).map_err(|e| ClientError::BadResponse {
            party,
            url,
            message: format!("not UTF-8: {e}"),
        })
    }

    async fn get_json<A: DeserializeOwned>(
        &self,
        party: PartyId,
        path: &str,
    ) -> Result<A, ClientError> {
        let body = self.get_text(party, path).await?;
        serde_json::from_str(&body).map_err(|e| ClientError::BadResponse {
            party,
            url: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// The checkpoint policy of this network: its three nodes' log keys,
    /// 2 of 3 signatures.
    pub fn checkpoint_policy(&self) -> Result<CheckpointPolicy, ClientError> {
        Ok(self.net.checkpoint_policy()?)
    }

    /// Asks the coordinator for a cosigning round now; returns the note.
    pub async fn cosign(&self) -> Result<SignedNote, ClientError> {
        let url = format!("{}/v1/log/cosign", self.net.leader().api_url);
        let bytes = self
            .call(PartyId::P0, self.http[0].post(&url), url.clone())
            .await?;
        let text = String::from_utf8_lossy(&bytes);
        SignedNote::parse(&text).map_err(|e| ClientError::Log(e.into()))
    }

    /// A node's latest co-signed checkpoint (unverified: check it with
    /// [`Client::checkpoint_policy`]).
    pub async fn checkpoint(&self, party: PartyId) -> Result<SignedNote, ClientError> {
        let text = self.get_text(party, "/v1/log/checkpoint").await?;
        SignedNote::parse(&text).map_err(|e| ClientError::Log(e.into()))
    }

    /// Entries `start..end` as a node serves them (parsed; a node serving
    /// non-canonical bytes is an error naming it).
    pub async fn entries(
        &self,
        party: PartyId,
        start: u64,
        end: u64,
    ) -> Result<Vec<Leaf>, ClientError> {
        const PAGE: u64 = 10_000;
        let mut out = Vec::new();
        let mut at = start;
        while at < end {
            let to = (at + PAGE).min(end);
            let page: EntriesResponse = self
                .get_json(party, &format!("/v1/log/entries?start={at}&end={to}"))
                .await?;
            if page.entries.len() as u64 != to - at {
                return Err(ClientError::LogData {
                    party,
                    message: format!("returned {} entries for {at}..{to}", page.entries.len()),
                });
            }
            for text in &page.entries {
                out.push(
                    Leaf::from_bytes(text.as_bytes()).map_err(|e| ClientError::LogData {
                        party,
                        message: format!("served a malformed entry: {e}"),
                    })?,
                );
            }
            at = to;
        }
        Ok(out)
    }

    /// Inclusion proof of entry `seq` in the tree of size `size`, from a node.
    pub async fn inclusion_proof(
        &self,
        party: PartyId,
        seq: u64,
        size: u64,
    ) -> Result<InclusionProof, ClientError> {
        self.get_json(
            party,
            &format!("/v1/log/proof/inclusion?seq={seq}&size={size}"),
        )
        .await
    }

    /// Consistency proof between tree sizes `old` and `new`, from a node.
    pub async fn consistency_proof(
        &self,
        party: PartyId,
        old: u64,
        new: u64,
    ) -> Result<ConsistencyProof, ClientError> {
        self.get_json(
            party,
            &format!("/v1/log/proof/consistency?old={old}&new={new}"),
        )
        .await
    }

    /// A subject's audit against node `party`: fetches its latest co-signed
    /// checkpoint (checked against the network's keys, 2 of 3) and all
    /// entries up to it, rebuilds the tree, and returns exactly the
    /// entries `key` owns, each with a verified inclusion proof. Downloading
    /// everything means the node learns nothing about which entries are the
    /// subject's. A node serving a rewritten or missing entry fails the
    /// root check (an error naming the node).
    pub async fn audit_subject(
        &self,
        party: PartyId,
        key: &AuditKey,
    ) -> Result<SubjectAudit, ClientError> {
        let policy = self.checkpoint_policy()?;
        let note = self.checkpoint(party).await?;
        let checkpoint = policy.verify(&note)?;
        let leaves = self.entries(party, 0, checkpoint.size()).await?;
        let entries =
            subject_audit(key, &leaves, &checkpoint).map_err(|e| ClientError::LogData {
                party,
                message: format!("its entries do not match its co-signed checkpoint: {e}"),
            })?;
        // (subject_audit checked that the leaves cover the checkpoint.)
        let covered = leaves.get(..entries_len(&checkpoint)).unwrap_or(&leaves);
        let erased = erased_for_subject(key, covered)
            .into_iter()
            .cloned()
            .collect();
        Ok(SubjectAudit {
            checkpoint,
            entries,
            erased,
        })
    }

    /// An auditor's check of every node: each node's latest co-signed
    /// checkpoint is verified; checkpoints of equal size must agree; each is
    /// checked for consistency with `saved` (an earlier checkpoint the
    /// auditor kept); with `check_entries`, each node's entries are
    /// downloaded and must hash to its checkpoint's root.
    pub async fn audit_log(
        &self,
        saved: Option<&SignedNote>,
        check_entries: bool,
    ) -> Result<LogAudit, ClientError> {
        let policy = self.checkpoint_policy()?;
        let saved = saved.map(|n| policy.verify(n)).transpose()?;
        let mut out = LogAudit::default();
        for party in PartyId::ALL {
            match self.checkpoint(party).await {
                Ok(note) => match policy.verify(&note) {
                    Ok(cp) => out.checkpoints.push((party, cp)),
                    Err(e) => out
                        .tampered
                        .push((party, format!("serves an invalid checkpoint: {e}"))),
                },
                Err(e) => out.unreachable.push((party, e.to_string())),
            }
        }
        for (i, (_, a)) in out.checkpoints.iter().enumerate() {
            for (_, b) in &out.checkpoints[i + 1..] {
                if let Some(f) = detect_fork(a, b) {
                    out.forks.push(f);
                }
            }
        }
        if let Some(saved) = &saved {
            for (party, cp) in &out.checkpoints {
                let (old, new) = (saved.size().min(cp.size()), saved.size().max(cp.size()));
                match self.consistency_proof(*party, old, new).await {
                    Ok(proof) => {
                        if let AuditOutcome::Fork(f) = audit_consistency(saved, cp, &proof)? {
                            out.forks.push(*f);
                        }
                    }
                    Err(e) => out
                        .unreachable
                        .push((*party, format!("no consistency proof: {e}"))),
                }
            }
        }
        if check_entries {
            for (party, cp) in &out.checkpoints {
                let entries = match self.entries(*party, 0, cp.size()).await {
                    Ok(e) => e,
                    Err(e) => {
                        out.tampered.push((*party, e.to_string()));
                        continue;
                    }
                };
                let mut tree = MemoryTree::new();
                for e in &entries {
                    tree.push(e.leaf_hash());
                }
                if tree.root() != *cp.root() {
                    out.tampered.push((
                        *party,
                        format!(
                            "its {} entries do not hash to its co-signed root (an entry was rewritten or dropped)",
                            entries.len()
                        ),
                    ));
                }
            }
        }
        Ok(out)
    }

    /// A node's published ethics policy.
    pub async fn policy(&self, party: PartyId) -> Result<serde_json::Value, ClientError> {
        self.get_json(party, "/v1/policy").await
    }
}
