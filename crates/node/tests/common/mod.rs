//! Helpers shared by the node integration tests: an in-process three-node
//! network on loopback (free ports, mutual TLS, SQLite in a temp dir).
#![allow(dead_code)] // each test binary uses a subset

use std::path::Path;
use std::time::Duration;

use sanctuary_client::Client;
use sanctuary_node::NodeConfig;
use sanctuary_template::{Embedding, EmbeddingParams, Template};

#[allow(unused_imports)] // each test binary uses a subset
pub(crate) use sanctuary_devnet::inproc::{Running, start, start_with, stop};

pub(crate) fn config(dir: &Path, i: usize) -> NodeConfig {
    sanctuary_devnet::inproc::config(dir, i).expect("config")
}

pub(crate) async fn wait_ready(client: &Client) {
    sanctuary_devnet::wait_ready(client, Duration::from_secs(30))
        .await
        .expect("nodes ready");
}

pub(crate) fn person(seed: u64, params: &EmbeddingParams) -> Embedding {
    // A deterministic pseudo-random direction.
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Embedding::new(
        (0..params.dim)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 2001) as f32 / 1000.0 - 1.0
            })
            .collect(),
    )
}

pub(crate) fn template(e: &Embedding, params: &EmbeddingParams) -> Template {
    Template::Embedding(e.quantize(params).expect("valid"))
}

/// A fresh capture of `e`: each value moved by up to ±0.1.
pub(crate) fn noisy(e: &Embedding, seed: u64) -> Embedding {
    let mut x = seed | 1;
    Embedding::new(
        e.values()
            .iter()
            .map(|v| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                v + ((x % 201) as f32 / 1000.0 - 0.1)
            })
            .collect(),
    )
}

/// Rolls node `i`'s SQLite database back to its first `size` log entries,
/// as if it had missed everything after (node stopped).
pub(crate) async fn roll_back(dir: &std::path::Path, i: usize, size: i64) {
    use sqlx::Connection;
    let url = format!(
        "sqlite://{}",
        dir.join(format!("node-{i}/node.db")).display()
    );
    let mut c = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("connect");
    for sql in [
        "DELETE FROM oplog WHERE seq >= $1",
        // A Merkle node exists in a tree of `size` leaves only if its whole
        // subtree is inside it.
        "DELETE FROM log_hashes WHERE ((idx + 1) << level) > $1",
        "DELETE FROM enrollments WHERE enrolled_seq >= $1",
        "DELETE FROM revocations WHERE seq >= $1",
        "DELETE FROM consent_records WHERE seq >= $1",
    ] {
        sqlx::query(sql)
            .bind(size)
            .execute(&mut c)
            .await
            .expect("roll back");
    }
    c.close().await.expect("close");
}

/// The last log entry `party` serves (with its body).
pub(crate) async fn last_entry(
    client: &Client,
    party: sanctuary_share::PartyId,
) -> sanctuary_log::Entry {
    let size = client.health(party).await.expect("health")["next_seq"]
        .as_u64()
        .expect("size");
    client
        .entries(party, size - 1, size)
        .await
        .expect("entries")
        .pop()
        .and_then(|l| l.entry().cloned())
        .expect("an entry with its body")
}
