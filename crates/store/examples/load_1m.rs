//! Start-up time: writes N enrollments of 4 KiB shares (512 u32 x 2) into a
//! fresh SQLite file, then reopens it and times `Store::load`.
//!
//! ```text
//! cargo run --release -p sanctuary-store --example load_1m -- [N] [DIR]
//! ```
//! N defaults to 100000; DIR to a temp dir (removed afterwards). A
//! `postgres://` URL instead of DIR runs against that (empty) database.

use std::time::Instant;

use rand::Rng;
use sanctuary_store::{AppliedOp, EnrollmentId, StateChange, Store};
use zeroize::Zeroizing;

const SHARE_BYTES: usize = 512 * 4 * 2;
const BATCH: u64 = 10_000;

fn peak_rss_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    let target = args.next();
    let tmp;
    let (url, path) = match target {
        Some(t) if t.starts_with("postgres") => (t, None),
        Some(dir) => {
            let p = std::path::Path::new(&dir).join(format!("load-{n}.db"));
            (format!("sqlite://{}", p.display()), Some(p))
        }
        None => {
            tmp = tempfile::tempdir()?;
            let p = tmp.path().join(format!("load-{n}.db"));
            (format!("sqlite://{}", p.display()), Some(p))
        }
    };

    let store = Store::open(&url).await?;
    let start = store.load().await?.next_seq;
    if start != 0 {
        return Err(format!("{} is not empty", sanctuary_store::redact_url(&url)).into());
    }
    let t = Instant::now();
    let mut rng = rand::rng();
    let mut seq = 0u64;
    while seq < n {
        let end = (seq + BATCH).min(n);
        let ops: Vec<AppliedOp> = (seq..end)
            .map(|s| {
                let mut share = Zeroizing::new(vec![0u8; SHARE_BYTES]);
                rng.fill(&mut share[..]);
                let mut id = [0u8; 16];
                id[..8].copy_from_slice(&s.to_be_bytes());
                rng.fill(&mut id[8..]);
                AppliedOp {
                    change: StateChange::Enroll {
                        id: EnrollmentId(id),
                        kind: "embedding".into(),
                        share,
                        subject: None,
                    },
                    ..AppliedOp::log_only(s, 0, format!("enroll op {s}").into_bytes(), Vec::new())
                }
            })
            .collect();
        store.apply_batch(&ops).await?;
        seq = end;
    }
    let write_s = t.elapsed().as_secs_f64();
    store.close().await;
    drop(store);
    let file_mib = path
        .as_ref()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| m.len() / (1024 * 1024));
    let rss_before = peak_rss_mib();

    let t = Instant::now();
    let store = Store::open(&url).await?;
    let open_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let loaded = store.load().await?;
    let load_s = t.elapsed().as_secs_f64();
    assert_eq!(loaded.enrollments.len() as u64, n);
    assert_eq!(loaded.next_seq, n);
    assert!(
        loaded
            .enrollments
            .windows(2)
            .all(|w| w[0].enrolled_seq < w[1].enrolled_seq)
    );
    let raw_mib = (n as usize * SHARE_BYTES) / (1024 * 1024);

    println!("backend            {}", store.backend());
    println!("enrollments        {n}");
    println!("share bytes        {raw_mib} MiB raw");
    println!(
        "write (batches of {BATCH})  {write_s:.2} s  ({:.0} enroll/s)",
        n as f64 / write_s
    );
    if let Some(m) = file_mib {
        println!("database file      {m} MiB");
    }
    println!("open               {:.3} s", open_s);
    println!(
        "load               {load_s:.2} s  ({:.0} MiB/s, {:.0} rows/s)",
        raw_mib as f64 / load_s,
        n as f64 / load_s
    );
    if let (Some(before), Some(after)) = (rss_before, peak_rss_mib()) {
        println!("peak RSS           {before} MiB before load, {after} MiB after");
    }
    Ok(())
}
