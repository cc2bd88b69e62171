//! Node processes for a local network, and waiting for them to be ready.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use sanctuary_client::Client;
use sanctuary_share::PartyId;

/// The three node processes of a network directory written by
/// `network init` (`node-<i>/node.toml`), each run as `EXE node --config`.
/// They are stopped (SIGTERM, then SIGKILL) when dropped, so no node
/// outlives the demo, a benchmark or a test, whatever path it leaves by.
#[derive(Debug)]
pub struct Nodes {
    exe: PathBuf,
    dir: PathBuf,
    children: Vec<Option<Child>>,
}

impl Nodes {
    /// Starts the three nodes of `dir` with the `sanctuary` executable
    /// `exe` (the running one for the demo, `CARGO_BIN_EXE_sanctuary` in
    /// tests); each logs to its `node-<i>/node.log`.
    pub fn start(exe: &Path, dir: &Path) -> anyhow::Result<Nodes> {
        let mut nodes = Nodes {
            exe: exe.to_owned(),
            dir: dir.to_owned(),
            children: vec![None, None, None],
        };
        for i in 0..3 {
            nodes.start_one(i)?;
        }
        Ok(nodes)
    }

    /// (Re)starts node `i`.
    pub fn start_one(&mut self, i: usize) -> anyhow::Result<()> {
        let node_dir = self.dir.join(format!("node-{i}"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(node_dir.join("node.log"))?;
        let child = Command::new(&self.exe)
            .arg("node")
            .arg("--config")
            .arg(node_dir.join("node.toml"))
            .env("SANCTUARY_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start node {i}"))?;
        self.children[i] = Some(child);
        Ok(())
    }

    /// Stops node `i` (SIGTERM: it closes its database cleanly; SIGKILL
    /// after 5 s).
    pub fn stop_one(&mut self, i: usize) {
        let Some(mut c) = self.children[i].take() else {
            return;
        };
        if let Ok(pid) = i32::try_from(c.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match c.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    break;
                }
            }
        }
    }

    /// The running node processes' ids, in party order.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().flatten().map(Child::id).collect()
    }

    /// Kills node `i` at once (SIGKILL: no clean shutdown), as a crash.
    pub fn kill_one(&mut self, i: usize) {
        if let Some(mut c) = self.children[i].take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The network directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops every node.
    pub fn stop(&mut self) {
        for c in self.children.iter().flatten() {
            if let Ok(pid) = i32::try_from(c.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
        for i in 0..self.children.len() {
            self.stop_one(i);
        }
    }
}

impl Drop for Nodes {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until all three nodes report ready (peer links up, not halted).
pub async fn wait_ready(client: &Client, limit: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    for party in PartyId::ALL {
        loop {
            match client.health(party).await {
                Ok(h) if h["ready"] == true => break,
                _ if Instant::now() > deadline => {
                    bail!("node {party} did not become ready within {limit:?} (see its node.log)")
                }
                _ => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
    Ok(())
}
