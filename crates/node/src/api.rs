//! The client API: HTTP/JSON, one router built by [`router`] so tests can
//! drive it without a socket. Errors become JSON bodies with a code and a
//! message in one place ([`IntoResponse`] for [`NodeError`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use sanctuary_proto::EnrollmentId;
use serde_json::json;

use crate::NodeError;
use crate::engine::{Node, Outcome};
use sanctuary_proto::wire::{
    DedupeOp, DeleteOp, EnrollOp, FestivalCheckinOp, IdentifyOp, MAX_ERASE, RevokeOp, VerifyOp,
};
use sanctuary_proto::wire::{
    DeleteRequest, DeleteResponse, EnrollRequest, EnrollResponse, EnrollStatus, EntriesResponse,
    ErrorBody, IdentifyRequest, MatchRequest, MatchResponse, Op, RevokeRequest, SeqResponse,
};

impl IntoResponse for NodeError {
    fn into_response(self) -> Response {
        let (status, code) = self.status();
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        // Include the source chain: it names the failing part, never a secret.
        let mut message = self.to_string();
        let mut src = std::error::Error::source(&self);
        while let Some(s) = src {
            message.push_str(": ");
            message.push_str(&s.to_string());
            src = s.source();
        }
        let refused_by = match &self {
            NodeError::Refused { party, .. } => Some(*party),
            _ => None,
        };
        (
            status,
            Json(ErrorBody {
                error: code.into(),
                message,
                refused_by,
            }),
        )
            .into_response()
    }
}

fn check_request_id(id: &str) -> Result<(), NodeError> {
    // Lower case only: the id is hashed into commitments as text and
    // logged as bytes, and both spellings must agree.
    if id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        Ok(())
    } else {
        Err(NodeError::BadRequest(
            "request_id must be 32 lower-case hex characters".into(),
        ))
    }
}

fn check_shares(n: usize) -> Result<(), NodeError> {
    if n == 3 {
        Ok(())
    } else {
        Err(NodeError::BadRequest(format!(
            "expected 3 sealed shares (one per node), got {n}"
        )))
    }
}

async fn enroll(
    State(node): State<Arc<Node>>,
    Json(req): Json<EnrollRequest>,
) -> Result<Json<EnrollResponse>, NodeError> {
    check_request_id(&req.request_id)?;
    check_shares(req.shares.len())?;
    if sanctuary_proto::wire::parse_components(&req.components).is_none() {
        return Err(NodeError::BadRequest(
            "components: expected 3 share component commitments of 64 hex characters".into(),
        ));
    }
    let id = EnrollmentId(rand::random());
    let op = Op::Enroll(EnrollOp {
        kind: req.kind,
        enrollment_id: id,
        site: req.site,
        statement: req.statement,
        audit_tag: req.audit_tag,
        components: req.components,
    });
    let (seq, outcome, _) = node
        .coordinate(&req.request_id, op, Some(req.shares), None)
        .await?;
    Ok(Json(match outcome {
        Outcome::Enrolled(id) => EnrollResponse {
            status: EnrollStatus::Enrolled,
            enrollment_id: Some(id),
            seq,
        },
        _ => EnrollResponse {
            status: EnrollStatus::AlreadyEnrolled,
            enrollment_id: None,
            seq,
        },
    }))
}

async fn run_match(
    node: &Node,
    req: MatchRequest,
    op: Op,
) -> Result<Json<MatchResponse>, NodeError> {
    check_request_id(&req.request_id)?;
    check_shares(req.shares.len())?;
    let (seq, _, results) = node
        .coordinate(&req.request_id, op, Some(req.shares), Some(req.client_key))
        .await?;
    Ok(Json(MatchResponse { seq, results }))
}

async fn verify(
    State(node): State<Arc<Node>>,
    Json(req): Json<MatchRequest>,
) -> Result<Json<MatchResponse>, NodeError> {
    let enrollment_id = req
        .enrollment_id
        .ok_or_else(|| NodeError::BadRequest("verify needs enrollment_id".into()))?;
    let op = Op::Verify(VerifyOp {
        kind: req.kind,
        enrollment_id,
        relying_party: req.relying_party.clone(),
        token: req.token.clone(),
    });
    run_match(&node, req, op).await
}

async fn dedupe(
    State(node): State<Arc<Node>>,
    Json(req): Json<MatchRequest>,
) -> Result<Json<MatchResponse>, NodeError> {
    if req.enrollment_id.is_some() {
        return Err(NodeError::BadRequest(
            "dedupe takes no enrollment_id".into(),
        ));
    }
    let subject = req
        .subject
        .clone()
        .ok_or_else(|| NodeError::BadRequest("dedupe needs the subject's key".into()))?;
    let op = Op::Dedupe(DedupeOp {
        kind: req.kind,
        relying_party: req.relying_party.clone(),
        subject,
        token: req.token.clone(),
    });
    run_match(&node, req, op).await
}

async fn delete(
    State(node): State<Arc<Node>>,
    Json(req): Json<DeleteRequest>,
) -> Result<Json<DeleteResponse>, NodeError> {
    check_request_id(&req.request_id)?;
    if let Some(e) = &req.erase
        && (e.seqs.is_empty()
            || e.seqs.len() > MAX_ERASE
            || e.seqs.windows(2).any(|w| w[0] >= w[1]))
    {
        return Err(NodeError::BadRequest(format!(
            "erase.seqs: 1 to {MAX_ERASE} sequence numbers, ascending, without repeats"
        )));
    }
    let erased = req
        .erase
        .as_ref()
        .map(|e| e.seqs.clone())
        .unwrap_or_default();
    let op = Op::Delete(DeleteOp {
        enrollment_id: req.enrollment_id,
        statement: req.statement,
        audit_tag: req.audit_tag,
        erase: req.erase,
    });
    let (seq, _, _) = node.coordinate(&req.request_id, op, None, None).await?;
    Ok(Json(DeleteResponse {
        seq,
        deleted: true,
        erased,
    }))
}

async fn revoke(
    State(node): State<Arc<Node>>,
    Json(req): Json<RevokeRequest>,
) -> Result<Json<SeqResponse>, NodeError> {
    check_request_id(&req.request_id)?;
    let op = Op::Revoke(RevokeOp {
        statement: req.statement,
        audit_tag: req.audit_tag,
    });
    let (seq, _, _) = node.coordinate(&req.request_id, op, None, None).await?;
    Ok(Json(SeqResponse { seq }))
}

async fn identify(
    State(node): State<Arc<Node>>,
    Json(req): Json<IdentifyRequest>,
) -> Result<Json<SeqResponse>, NodeError> {
    check_request_id(&req.request_id)?;
    let op = Op::Identify(IdentifyOp {
        relying_party: req.relying_party,
    });
    // Always refused by every node's policy; the refusal is logged.
    let (seq, _, _) = node.coordinate(&req.request_id, op, None, None).await?;
    Ok(Json(SeqResponse { seq }))
}

async fn festival_record(
    State(node): State<Arc<Node>>,
    Json(req): Json<sanctuary_proto::wire::FestivalRecordRequest>,
) -> Result<Json<SeqResponse>, NodeError> {
    check_request_id(&req.request_id)?;
    let op = Op::FestivalCheckin(FestivalCheckinOp {
        event: req.event,
        authorization: req.authorization,
        audit_tag: req.audit_tag,
    });
    let (seq, _, _) = node.coordinate(&req.request_id, op, None, None).await?;
    Ok(Json(SeqResponse { seq }))
}

async fn policy(State(node): State<Arc<Node>>) -> Json<serde_json::Value> {
    let mut v = serde_json::to_value(node.policy().published()).unwrap_or_default();
    // The key every personhood credential and festival admission verifies
    // under, published with the rules it is issued by.
    if let (Some(obj), Some(key)) = (v.as_object_mut(), node.weave.group_key()) {
        obj.insert("weave_group_key".into(), key.into());
    }
    Json(v)
}

fn text(body: String) -> Response {
    ([("content-type", "text/plain; charset=utf-8")], body).into_response()
}

/// The latest co-signed checkpoint (C2SP signed note, plain text).
async fn log_checkpoint(State(node): State<Arc<Node>>) -> Result<Response, NodeError> {
    let log = node.reader()?;
    match log.latest_checkpoint().await? {
        Some(note) => Ok(text(note.to_string())),
        None => Err(NodeError::NoCheckpoint),
    }
}

/// Coordinator: runs a cosigning round now.
async fn log_cosign(State(node): State<Arc<Node>>) -> Result<Response, NodeError> {
    Ok(text(node.cosign_now().await?.to_string()))
}

#[derive(serde::Deserialize)]
struct Range {
    start: u64,
    end: u64,
}

/// Most entries one request returns.
const MAX_ENTRIES: u64 = 10_000;

async fn log_entries(
    State(node): State<Arc<Node>>,
    Query(r): Query<Range>,
) -> Result<Json<EntriesResponse>, NodeError> {
    if r.end < r.start || r.end - r.start > MAX_ENTRIES {
        return Err(NodeError::BadRequest(format!(
            "entries: need start <= end and at most {MAX_ENTRIES} per request"
        )));
    }
    let rows = node.store.ops(r.start, r.end).await?;
    Ok(Json(EntriesResponse {
        start: r.start,
        entries: rows
            .into_iter()
            .map(|r| String::from_utf8_lossy(&r.entry).into_owned())
            .collect(),
    }))
}

#[derive(serde::Deserialize)]
struct InclusionQuery {
    seq: u64,
    size: u64,
}

async fn log_inclusion(
    State(node): State<Arc<Node>>,
    Query(q): Query<InclusionQuery>,
) -> Result<Json<sanctuary_log::InclusionProof>, NodeError> {
    Ok(Json(node.reader()?.inclusion_proof(q.seq, q.size).await?))
}

#[derive(serde::Deserialize)]
struct ConsistencyQuery {
    old: u64,
    new: u64,
}

async fn log_consistency(
    State(node): State<Arc<Node>>,
    Query(q): Query<ConsistencyQuery>,
) -> Result<Json<sanctuary_log::ConsistencyProof>, NodeError> {
    Ok(Json(node.reader()?.consistency_proof(q.old, q.new).await?))
}

/// Why this node cannot serve operations now (halted, or a peer link
/// down), or `None` when it can.
fn not_ready_because(node: &Node) -> Option<String> {
    if let Some(why) = node.halted.lock().ok().and_then(|h| h.clone()) {
        return Some(format!("halted: {why}"));
    }
    let down: Vec<String> = node
        .mesh
        .links()
        .into_iter()
        .filter(|l| !l.connected)
        .map(|l| l.peer.to_string())
        .collect();
    (!down.is_empty()).then(|| format!("peer link down: {}", down.join(", ")))
}

/// Liveness: the process answers. (A halted node is still live: restarting
/// it would not repair what halted it.)
async fn livez() -> Json<serde_json::Value> {
    Json(json!({"live": true}))
}

/// Readiness: 200 when the node can take part in operations, 503 with the
/// reason when it cannot (a load balancer or orchestrator stops sending).
async fn readyz(State(node): State<Arc<Node>>) -> Response {
    match not_ready_because(&node) {
        None => Json(json!({"ready": true})).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": reason})),
        )
            .into_response(),
    }
}

async fn health(State(node): State<Arc<Node>>) -> Json<serde_json::Value> {
    let st = node.state.lock().await;
    let (emb, iris) = st.counts();
    let links: Vec<_> = node
        .mesh
        .links()
        .into_iter()
        .map(|l| json!({"peer": l.peer, "connected": l.connected, "last_error": l.last_error}))
        .collect();
    let halted = node.halted.lock().ok().and_then(|h| h.clone());
    let ready = not_ready_because(&node).is_none();
    Json(json!({
        "network": node.cfg.network,
        "party": node.party(),
        "ready": ready,
        "halted": halted,
        "next_seq": st.next_seq,
        "log_root": st.root.to_hex(),
        "enrolled": {"embedding": emb, "iris": iris},
        "storage": node.storage(),
        "seal_key": node.seal_public(),
        "links": links,
    }))
}

async fn metrics(State(node): State<Arc<Node>>) -> impl IntoResponse {
    let st = node.state.lock().await;
    let (emb, iris) = st.counts();
    let party = node.party().index();
    let mut out = String::new();
    out.push_str("# HELP sanctuary_operations_total Operations this node took part in.\n# TYPE sanctuary_operations_total counter\n");
    for (name, v) in &node.metrics.ops {
        out.push_str(&format!(
            "sanctuary_operations_total{{party=\"{party}\",op=\"{name}\"}} {}\n",
            v.load(Ordering::Relaxed)
        ));
    }
    out.push_str("# HELP sanctuary_operation_failures_total Operations that failed on this node.\n# TYPE sanctuary_operation_failures_total counter\n");
    out.push_str(&format!(
        "sanctuary_operation_failures_total{{party=\"{party}\"}} {}\n",
        node.metrics.failures.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP sanctuary_mpc_bytes_sent_total Bytes this node sent in MPC sessions.\n# TYPE sanctuary_mpc_bytes_sent_total counter\n");
    out.push_str(&format!(
        "sanctuary_mpc_bytes_sent_total{{party=\"{party}\"}} {}\n",
        node.metrics.bytes_sent.load(Ordering::Relaxed)
    ));
    out.push_str("# HELP sanctuary_enrolled Enrollments held.\n# TYPE sanctuary_enrolled gauge\n");
    out.push_str(&format!(
        "sanctuary_enrolled{{party=\"{party}\",kind=\"embedding\"}} {emb}\n"
    ));
    out.push_str(&format!(
        "sanctuary_enrolled{{party=\"{party}\",kind=\"iris\"}} {iris}\n"
    ));
    out.push_str(&format!(
        "sanctuary_next_seq{{party=\"{party}\"}} {}\n",
        st.next_seq
    ));
    ([("content-type", "text/plain; version=0.0.4")], out)
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

/// Declares the routes once: the router is built from this list, and the
/// OpenAPI test checks the document against [`ROUTES`].
macro_rules! routes {
    ($($method:ident $path:literal => $handler:expr),* $(,)?) => {
        /// Every (method, path) the client API serves.
        #[cfg_attr(not(test), allow(dead_code, reason = "read by the OpenAPI test"))]
        pub(crate) const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn add_routes(r: Router<Arc<Node>>) -> Router<Arc<Node>> {
            r $(.route($path, $method($handler)))*
        }
    };
}

routes! {
    get "/v1/health" => health,
    get "/livez" => livez,
    get "/readyz" => readyz,
    get "/metrics" => metrics,
    get "/openapi.json" => openapi,
    post "/v1/enroll" => enroll,
    post "/v1/verify" => verify,
    post "/v1/dedupe" => dedupe,
    post "/v1/delete" => delete,
    post "/v1/revoke" => revoke,
    post "/v1/identify" => identify,
    post "/v1/festival/record" => festival_record,
    get "/v1/policy" => policy,
    get "/v1/log/checkpoint" => log_checkpoint,
    post "/v1/log/cosign" => log_cosign,
    get "/v1/log/entries" => log_entries,
    get "/v1/log/proof/inclusion" => log_inclusion,
    get "/v1/log/proof/consistency" => log_consistency,
    post "/v1/credential/commit" => crate::weave::commit,
    post "/v1/credential/sign" => crate::weave::sign,
    post "/v1/festival/evaluate" => crate::weave::evaluate,
}

/// Rejections axum makes itself (a body that is not JSON, a missing field,
/// an unknown path or method) answer with the same JSON error body as the
/// node's own errors, so a client parses one shape.
async fn json_rejections(resp: Response) -> Response {
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return resp;
    }
    let (_, body) = resp.into_parts();
    // These bodies are axum's short messages; cap what is read anyway.
    let text = axum::body::to_bytes(body, 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let error = match status {
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_request",
        s if s.is_client_error() => "bad_request",
        _ => "internal",
    };
    let message = if text.trim().is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request failed")
            .to_owned()
    } else {
        text
    };
    let body = ErrorBody {
        error: error.to_owned(),
        message,
        refused_by: None,
    };
    (status, Json(body)).into_response()
}

/// The client API router of `node`.
pub fn router(node: Arc<Node>) -> Router {
    let limit = node.cfg.max_body_bytes;
    // Every node serves every route; operations on a node other than the
    // coordinator answer 421 naming the coordinator.
    add_routes(Router::new())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(axum::middleware::map_response(json_rejections))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(node)
}
