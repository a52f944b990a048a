//! Instant restart of the single box: the metrics index's snapshot file (`agentsight.index`)
//! and its journal. A clean stop writes the snapshot and the next start reads it with nothing
//! to replay; `agentsight demo` writing while the server runs is applied from the journal, not
//! by a reload; after kill -9 the start replays the journal after the last snapshot, and the
//! numbers equal those of an index built from every row.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use serde_json::{Value, json};

const OVERVIEW: &str = "/api/metrics/overview/?from=2020-01-01";

async fn overview(client: &reqwest::Client, s: &common::Server, key: &str) -> Value {
    let v = common::get_json(client, &format!("{}{OVERVIEW}", s.base), key).await;
    assert!(v["total_conversations"].as_u64().is_some(), "{v}");
    v
}

async fn status(client: &reqwest::Client, s: &common::Server, key: &str) -> Value {
    common::get_json(client, &format!("{}/api/metrics/status/", s.base), key).await
}

fn stop(mut s: common::Server) {
    let pid = s.child.id().to_string();
    std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let st = s.child.wait().unwrap();
    assert!(st.success(), "SIGTERM should stop the server cleanly: {st:?}");
}

fn kill(mut s: common::Server) {
    s.child.kill().unwrap(); // SIGKILL
    s.child.wait().unwrap();
}

fn demo(dir: &Path, args: &[&str]) -> String {
    let mut all = vec!["demo", "--days", "20"];
    all.extend_from_slice(args);
    common::cli(dir, &all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_reads_the_snapshot_and_replays_only_the_journal_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::last_line(&demo(dir.path(), &["--conversations", "300"]));
    let client = reqwest::Client::new();

    // First start: no snapshot, every row read.
    let s = common::serve(dir.path());
    let first = overview(&client, &s, &key).await;
    let st = status(&client, &s, &key).await;
    assert_eq!((st["from_snapshot"].as_i64(), st["full_loads"].as_i64()), (Some(0), Some(1)), "{st}");
    stop(s);
    assert!(dir.path().join("agentsight.index").is_file(), "a clean stop writes the snapshot");

    // Clean restart: the snapshot, nothing to replay, the same numbers.
    let s = common::serve(dir.path());
    assert_eq!(overview(&client, &s, &key).await, first);
    let st = status(&client, &s, &key).await;
    assert_eq!(st["from_snapshot"], 1, "{st}");
    assert_eq!((st["replayed_groups"].as_i64(), st["full_loads"].as_i64()), (Some(0), Some(0)), "{st}");

    // `demo` writes while the server runs: applied from the journal, no load.
    demo(dir.path(), &["--conversations", "40", "--seed", "9"]);
    let after_demo = overview(&client, &s, &key).await;
    assert!(
        after_demo["total_conversations"].as_u64() > first["total_conversations"].as_u64(),
        "{after_demo}"
    );
    let st = status(&client, &s, &key).await;
    assert_eq!((st["loads"].as_i64(), st["full_loads"].as_i64()), (Some(1), Some(0)), "no reload: {st}");
    assert!(st["journal_groups"].as_i64().unwrap() > 0, "{st}");

    // More writes over the API, then kill -9: no snapshot at the stop.
    for i in 0..20 {
        let r = client
            .post(format!("{}/api/track/", s.base))
            .header("Authorization", format!("Api-Key {key}"))
            .json(&json!({"conversation_id": format!("k-{}", i % 3), "sender": if i % 2 == 0 { "end_user" } else { "agent" },
                "content": format!("message {i}"), "conversation": null}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let before_kill = overview(&client, &s, &key).await;
    kill(s);

    let s = common::serve(dir.path());
    let replayed = overview(&client, &s, &key).await;
    let st = status(&client, &s, &key).await;
    assert_eq!((st["from_snapshot"].as_i64(), st["full_loads"].as_i64()), (Some(1), Some(0)), "{st}");
    assert!(st["replayed_groups"].as_i64().unwrap() >= 20, "the demo's and the API's groups: {st}");
    assert_eq!(replayed, before_kill);
    stop(s);

    // The same numbers from every row.
    std::fs::remove_file(dir.path().join("agentsight.index")).unwrap();
    let s = common::serve(dir.path());
    let rebuilt = overview(&client, &s, &key).await;
    let st = status(&client, &s, &key).await;
    assert_eq!((st["from_snapshot"].as_i64(), st["full_loads"].as_i64()), (Some(0), Some(1)), "{st}");
    assert_eq!(rebuilt, replayed);
    stop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_snapshot_is_not_used_and_the_numbers_stay() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::last_line(&demo(dir.path(), &["--conversations", "100"]));
    let client = reqwest::Client::new();
    let s = common::serve(dir.path());
    let want = overview(&client, &s, &key).await;
    stop(s);
    let file = dir.path().join("agentsight.index");
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0x40;
    std::fs::write(&file, &bytes).unwrap();
    let s = common::serve(dir.path());
    assert_eq!(overview(&client, &s, &key).await, want);
    let st = status(&client, &s, &key).await;
    assert_eq!((st["from_snapshot"].as_i64(), st["full_loads"].as_i64()), (Some(0), Some(1)), "{st}");
    stop(s);
}
