//! The OpenAPI 3.1 description of the client API, served at `/openapi.json`.

use serde_json::{Value, json};

fn sealed() -> Value {
    json!({"type": "object", "required": ["epk", "nonce", "ct"], "additionalProperties": false,
        "properties": {"epk": {"type": "string"}, "nonce": {"type": "string"}, "ct": {"type": "string"}}})
}

fn op(id: &str, summary: &str, request: Value, response: Value) -> Value {
    json!({"post": {"operationId": id, "summary": summary,
    "requestBody": {"required": true, "content": {"application/json": {"schema": request}}},
    "responses": {
        "200": {"description": "done", "content": {"application/json": {"schema": response}}},
        "400": {"description": "malformed request; nothing changed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "403": {"description": "refused by a node's consent or policy check; `error` is the rule or check (e.g. token_expired, no_open_identification), `refused_by` the node; the attempt is in the transparency log", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "404": {"description": "no such enrollment", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "413": {"description": "body too large"},
        "421": {"description": "not the coordinator (party 0)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        "503": {"description": "a node is unavailable or out of step; the error names it", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }}})
}

/// A GET route answering JSON.
fn get_json(id: &str, summary: &str, params: &[(&str, &str)]) -> Value {
    let params: Vec<Value> = params
        .iter()
        .map(|(name, what)| {
            json!({"name": name, "in": "query", "required": true, "description": what,
            "schema": {"type": "integer", "minimum": 0}})
        })
        .collect();
    json!({"get": {"operationId": id, "summary": summary, "parameters": params,
    "responses": {
        "200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}},
        "400": {"description": "bad parameters", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    }}})
}

/// A GET route answering text.
fn get_text(id: &str, summary: &str, what: &str) -> Value {
    json!({"get": {"operationId": id, "summary": summary,
        "responses": {"200": {"description": what, "content": {"text/plain": {"schema": {"type": "string"}}}}}}})
}

/// The document. `servers` is relative: the node that served it.
pub(crate) fn document() -> Value {
    let kind = json!({"type": "string", "enum": ["embedding", "iris"]});
    let shares = json!({"type": "array", "minItems": 3, "maxItems": 3, "items": sealed()});
    let rid = json!({"type": "string", "pattern": "^[0-9a-f]{32}$"});
    let eid = json!({"type": "string", "pattern": "^[0-9a-f]{32}$"});
    let tag = json!({"type": "object", "properties": {"nonce": {"type": "string"}, "tag": {"type": "string"}}});
    let statement = json!({"type": "object", "required": ["statement", "subject", "signature"],
        "description": "a statement signed by the subject's wallet key (Ed25519 over a domain-separated canonical encoding)"});
    let match_req = json!({"type": "object", "required": ["request_id", "kind", "shares", "client_key", "relying_party", "token"], "additionalProperties": false,
        "properties": {"request_id": rid, "kind": kind, "enrollment_id": eid, "shares": shares, "client_key": {"type": "string"},
            "relying_party": {"type": "string"}, "token": {"type": "string", "description": "the subject's Biscuit consent token (base64)"},
            "subject": {"type": "string", "description": "dedupe: the subject's Ed25519 key (hex)"}}});
    let seq = json!({"type": "object", "properties": {"seq": {"type": "integer"}}});
    let match_resp = json!({"type": "object", "properties": {"seq": {"type": "integer"}, "results": {"type": "array", "items": sealed()}}});
    json!({
        "openapi": "3.1.0",
        "servers": [{"url": "/", "description": "the node that served this document"}],
        "info": {"title": "Sanctuary node client API", "version": "1",
            "description": "Operations go to the coordinator (party 0). Template shares are sealed to each node; decision shares are sealed to the client, so no node learns a template and only the client learns a decision."},
        "paths": {
            "/v1/enroll": op("enroll", "Dedupe, then enroll if unique",
                json!({"type": "object", "required": ["request_id", "kind", "shares", "site", "statement", "components"], "additionalProperties": false,
                    "properties": {"request_id": rid, "kind": kind, "shares": shares, "site": {"type": "string"}, "statement": statement.clone(), "audit_tag": tag.clone(),
                        "components": {"type": "array", "minItems": 3, "maxItems": 3, "description": "SHA-256 commitment to each share component x0, x1, x2 (covered by the statement; written to the log entry)",
                            "items": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}}),
                json!({"type": "object", "properties": {"status": {"enum": ["enrolled", "already_enrolled"]}, "enrollment_id": eid, "seq": {"type": "integer"}}})),
            "/v1/verify": op("verify", "1:1 verification against one enrollment", match_req.clone(), match_resp.clone()),
            "/v1/dedupe": op("dedupe", "1:N: is this template already enrolled?", match_req, match_resp),
            "/v1/delete": op("delete", "Delete an enrollment's shares on every node that honours the request (one refusing node cannot block it), optionally erasing the bodies of the subject's earlier log entries",
                json!({"type": "object", "required": ["request_id", "enrollment_id", "statement"], "additionalProperties": false,
                    "properties": {"request_id": rid, "enrollment_id": eid, "statement": statement.clone(), "audit_tag": tag.clone(),
                        "erase": {"type": "object", "required": ["audit_key", "seqs"], "additionalProperties": false,
                            "description": "Erase these entries' bodies; each must carry a tag of the revealed audit key",
                            "properties": {"audit_key": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                "seqs": {"type": "array", "minItems": 1, "maxItems": 10000, "items": {"type": "integer", "minimum": 0}}}}}}),
                json!({"type": "object", "properties": {"seq": {"type": "integer"}, "deleted": {"type": "boolean"},
                    "erased": {"type": "array", "items": {"type": "integer"}}}})),
            "/v1/revoke": op("revoke", "Revoke consent tokens (one, or all issued before a time) on every node",
                json!({"type": "object", "required": ["request_id", "statement"], "additionalProperties": false,
                    "properties": {"request_id": rid, "statement": statement, "audit_tag": tag}}),
                seq.clone()),
            "/v1/identify": op("identify", "Open 1:N identification: always refused (rule no_open_identification) and recorded",
                json!({"type": "object", "required": ["request_id", "relying_party"], "additionalProperties": false,
                    "properties": {"request_id": rid, "relying_party": {"type": "string"}}}),
                seq),
            "/v1/festival/record": op("festivalRecord", "Identity Weaving: record a festival check-in in the transparency log (the subject's audit trail); nodes evaluate a pseudonym share only for a recorded check-in",
                json!({"type": "object", "required": ["request_id", "event", "authorization"], "additionalProperties": false,
                    "properties": {"request_id": rid, "event": {"type": "string", "maxLength": 128}, "authorization": {"type": "object"}, "audit_tag": {"type": "object"}}}),
                json!({"type": "object", "properties": {"seq": {"type": "integer"}}})),
            "/v1/policy": get_json("policy", "The ethics policy this node enforces, with every structural rule, its digest (what a subject signs at enrollment) and the notice made from it", &[]),
            "/v1/log/checkpoint": get_text("logCheckpoint", "Latest co-signed checkpoint", "C2SP signed note"),
            "/v1/log/cosign": {"post": {"operationId": "logCosign", "summary": "Coordinator: run a cosigning round now; returns the note",
                "responses": {"200": {"description": "the signed note", "content": {"text/plain": {"schema": {"type": "string"}}}}}}},
            "/v1/log/entries": get_json("logEntries", "Entries start..end (at most 10000) as canonical JSON strings",
                &[("start", "first sequence number"), ("end", "one past the last")]),
            "/v1/log/proof/inclusion": get_json("logInclusionProof", "RFC 9162 inclusion proof of entry seq in the tree of size size",
                &[("seq", "the entry"), ("size", "the tree size")]),
            "/v1/log/proof/consistency": get_json("logConsistencyProof", "RFC 9162 consistency proof between tree sizes old and new",
                &[("old", "the older tree size"), ("new", "the newer tree size")]),
            "/v1/credential/commit": op("credentialCommit", "Identity Weaving, FROST round 1: fresh nonce commitments of this node (kept 120 s for round 2)",
                json!({"type": "null"}),
                json!({"type": "object", "required": ["session", "index", "commitments"], "properties": {"session": {"type": "string"}, "index": {"type": "integer"}, "commitments": {"type": "object"}}})),
            "/v1/credential/sign": op("credentialSign", "Identity Weaving, FROST round 2: this node's signature share over a credential or admission draft. Refused unless the request is signed by the subject key of an enrollment on this node and every claim of the draft is one the node can check",
                json!({"type": "object", "required": ["session", "signing_package", "authorization"], "additionalProperties": false,
                    "properties": {"session": {"type": "string"}, "signing_package": {"type": "object"}, "authorization": {"type": "object"}, "evaluations": {"type": "array"}}}),
                json!({"type": "object", "properties": {"index": {"type": "integer"}, "share": {"type": "string"}}})),
            "/v1/festival/evaluate": op("festivalEvaluate", "Identity Weaving: this node's share of the festival pseudonym PRF on (event, subject), with a DLEQ proof. Same authorization rule as signing",
                json!({"type": "object", "required": ["event", "authorization"], "additionalProperties": false,
                    "properties": {"event": {"type": "string", "maxLength": 128}, "authorization": {"type": "object"}}}),
                json!({"type": "object", "properties": {"index": {"type": "integer"}, "point": {"type": "string"}, "c": {"type": "string"}, "s": {"type": "string"}}})),
            "/v1/health": get_json("health", "Node status, links and position", &[]),
            "/livez": get_json("livez", "Liveness: the process answers", &[]),
            "/readyz": {"get": {"operationId": "readyz", "summary": "Readiness: 200 when the node can take part in operations, 503 with the reason when not",
                "responses": {
                    "200": {"description": "ready", "content": {"application/json": {"schema": {"type": "object"}}}},
                    "503": {"description": "not ready (halted, or a peer link down)", "content": {"application/json": {"schema": {"type": "object"}}}}
                }}},
            "/metrics": get_text("metrics", "Prometheus metrics", "text exposition format 0.0.4"),
            "/openapi.json": get_json("openapi", "This document", &[])
        },
        "components": {"schemas": {"Error": {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}, "refused_by": {"type": "integer", "minimum": 0, "maximum": 2, "description": "the party that refused"}}}}}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route the router serves is described, and nothing else: the
    /// document cannot drift from the handlers unnoticed.
    #[test]
    fn every_route_is_documented() {
        let doc = document();
        let mut documented: Vec<String> = doc["paths"]
            .as_object()
            .expect("paths")
            .keys()
            .cloned()
            .collect();
        documented.sort();
        let mut served: Vec<String> = crate::api::ROUTES
            .iter()
            .map(|(_, path)| path.to_string())
            .collect();
        served.sort();
        served.dedup();
        assert_eq!(documented, served);
        for (method, path) in crate::api::ROUTES {
            assert!(
                doc["paths"][path].get(method).is_some(),
                "{method} {path} is served but not documented"
            );
        }
    }

    #[test]
    fn every_operation_has_an_id_and_every_parameter_a_schema() {
        let doc = document();
        let mut ids = Vec::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let id = op["operationId"].as_str();
                assert!(id.is_some(), "{method} {path} has no operationId");
                ids.push(id.map(str::to_owned));
                for p in op["parameters"].as_array().into_iter().flatten() {
                    assert!(
                        p.get("schema").is_some(),
                        "{method} {path}: parameter without schema"
                    );
                }
            }
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "operationIds are unique");
    }
}
