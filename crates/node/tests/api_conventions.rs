//! What an operator's tooling expects of the client API: liveness and
//! readiness probes that tell "up" from "able to serve", JSON error bodies
//! for every rejection (including the ones axum makes itself), and an
//! OpenAPI document that lists what is served.

mod common;

use common::*;
use sanctuary_client::{Client, NetworkFile};
use sanctuary_share::PartyId;

async fn get(client: &Client, party: PartyId, path: &str) -> (u16, serde_json::Value) {
    let (http, base) = client.pinned_http(party);
    let resp = http
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("send");
    let status = resp.status().as_u16();
    (status, resp.json().await.expect("a JSON body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_error_bodies_and_the_document() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let path = sanctuary_node::init_network(dir, ["127.0.0.1"; 3], "api-net", Default::default())
        .expect("init");
    let client = Client::new(NetworkFile::load(&path).expect("network file")).expect("client");
    let mut nodes: Vec<_> = (0..3).map(|i| start(config(dir, i))).collect();
    wait_ready(&client).await;

    for p in PartyId::ALL {
        assert_eq!(get(&client, p, "/livez").await.0, 200);
        let (status, body) = get(&client, p, "/readyz").await;
        assert_eq!(
            (status, &body["ready"]),
            (200, &serde_json::json!(true)),
            "{p}"
        );
    }

    // axum's own rejections answer the node's error shape.
    let (http, base) = client.pinned_http(PartyId::P0);
    let resp = http
        .post(format!("{base}/v1/enroll"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"], "bad_request");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    let resp = http
        .post(format!("{base}/v1/enroll"))
        .body("{}")
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 415);
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"], "unsupported_media_type");
    let (status, body) = get(&client, PartyId::P0, "/v1/no-such-route").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_found")));
    let resp = http
        .delete(format!("{base}/v1/enroll"))
        .send()
        .await
        .expect("send");
    assert_eq!(resp.status().as_u16(), 405);
    let body: serde_json::Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"], "method_not_allowed");

    let (status, doc) = get(&client, PartyId::P1, "/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/readyz"]["get"]["operationId"].is_string());

    // A peer down: the others stay live but are no longer ready, and say why.
    stop(nodes.remove(2)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (status, body) = loop {
        let (status, body) = get(&client, PartyId::P0, "/readyz").await;
        if status != 200 || std::time::Instant::now() > deadline {
            break (status, body);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert_eq!(status, 503, "not ready with a peer down: {body}");
    assert_eq!(body["ready"], false);
    assert!(
        body["reason"].as_str().is_some_and(|r| r.contains("P2")),
        "the reason names the peer: {body}"
    );
    assert_eq!(get(&client, PartyId::P0, "/livez").await.0, 200);
    for n in nodes {
        stop(n).await;
    }
}
