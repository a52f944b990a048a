//! An acknowledged write is durable: kill the server with SIGKILL while writers are busy,
//! restart it, and find every message that got a 201.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_message_survives_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::last_line(&common::cli(dir.path(), &["agent", "create", "durable"]));
    let mut server = common::serve(dir.path());
    let client = reqwest::Client::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, i64)>();
    let mut tasks = Vec::new();
    for w in 0..32usize {
        let (client, key, base, tx) = (client.clone(), key.clone(), server.base.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..10_000 {
                let r = client
                    .post(format!("{base}/api/track/"))
                    .header("Authorization", format!("Api-Key {key}"))
                    .json(&json!({"conversation_id": format!("d-{w}"), "sender": "end_user",
                        "content": format!("message {i}"), "conversation": null}))
                    .send()
                    .await;
                let Ok(r) = r else { break };
                if r.status() != 201 {
                    break;
                }
                let Ok(v) = r.json::<Value>().await else { break };
                let _ = tx.send((w, v["id"].as_i64().unwrap()));
            }
        }));
    }
    drop(tx);
    let mut acked: HashMap<usize, BTreeSet<i64>> = HashMap::new();
    let mut n = 0;
    while let Some((w, id)) = rx.recv().await {
        acked.entry(w).or_default().insert(id);
        n += 1;
        if n == 2_000 {
            server.child.kill().unwrap(); // SIGKILL
            server.child.wait().unwrap();
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(n >= 2_000, "only {n} writes were acknowledged before the kill");

    let server = common::serve(dir.path());
    let mut found = 0;
    for (w, ids) in &acked {
        let look: Value = client
            .get(format!("{}/api/conversations/lookup/?conversation_id=d-{w}", server.base))
            .header("Authorization", format!("Api-Key {key}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let t: Value = client
            .get(format!("{}/api/conversations/{}/", server.base, look["id"]))
            .header("Authorization", format!("Api-Key {key}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let stored: BTreeSet<i64> =
            t["messages"].as_array().unwrap().iter().map(|m| m["id"].as_i64().unwrap()).collect();
        let missing: Vec<_> = ids.difference(&stored).collect();
        assert!(missing.is_empty(), "worker {w}: acknowledged but lost after SIGKILL: {missing:?}");
        found += ids.len();
    }
    assert_eq!(found, n);
    let mut child = server.child;
    child.kill().unwrap();
    child.wait().unwrap();
}
