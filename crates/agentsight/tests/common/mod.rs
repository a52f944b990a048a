//! Running the real `agentsight` binary in tests.

#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_agentsight");

/// GETs `url` with an API key and reads its JSON body.
pub async fn get_json(client: &reqwest::Client, url: &str, key: &str) -> serde_json::Value {
    let r = client.get(url).header("Authorization", format!("Api-Key {key}")).send().await.unwrap();
    r.json().await.unwrap()
}

/// Runs a CLI command and returns its stdout, asserting success.
pub fn cli(data: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).arg("--data-dir").arg(data).output().unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The key a key-printing command printed on its last line.
pub fn last_line(s: &str) -> String {
    s.lines().last().unwrap_or_default().trim().to_string()
}

/// A server process on a free port.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub stdout_head: Vec<String>,
}

/// Starts `agentsight serve` on port 0 and waits for its "listening on" line. The caller owns
/// the child and waits for it.
#[allow(clippy::zombie_processes)]
pub fn serve(data: &Path) -> Server {
    serve_with(data, &[])
}

/// [`serve`] with more arguments.
#[allow(clippy::zombie_processes)]
pub fn serve_with(data: &Path, args: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(args)
        .env("AGENTSIGHT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut head = Vec::new();
    loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        head.push(line.clone());
        if let Some(rest) = line.strip_prefix("AgentSight listening on ") {
            let base = rest.split_whitespace().next().unwrap().to_string();
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Server { child, base, stdout_head: head };
        }
    }
}
