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
        let look = common::get_json(
            &client,
            &format!("{}/api/conversations/lookup/?conversation_id=d-{w}", server.base),
            &key,
        )
        .await;
        let t =
            common::get_json(&client, &format!("{}/api/conversations/{}/", server.base, look["id"]), &key)
                .await;
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

/// Turns (conversations) per span batch: big enough that the projection falls behind the
/// archive under the test's load, so the kill leaves batches to project at the next start.
const TURNS_PER_BATCH: u64 = 40;

/// A span batch of [`TURNS_PER_BATCH`] conversations `{prefix}-{j}`, each one turn: a question
/// and an answer, an LLM call and a tool call.
fn span_batch(prefix: &str, n: u64) -> Value {
    let block = |j: u64| {
        let cid = format!("{prefix}-{j}");
        let id = |k: u64| format!("{:016x}", (n * TURNS_PER_BATCH + j) * 4 + k);
        let (turn, llm, tool) = (id(1), id(2), id(3));
        let trace = format!("{:032x}", n * TURNS_PER_BATCH + j + 1);
        let attrs = |kind: &str, extra: Value| {
            let mut a = json!({"agentsight.conversation.id": cid, "agentsight.span.kind": kind, "agentsight.turn.id": turn});
            a.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            a
        };
        let span = |id: &str, kind: &str, parent: Value, extra: Value, events: Value| {
            json!({"span_id": id, "trace_id": trace, "parent_span_id": parent, "kind": kind, "name": kind,
                "started_at": "2026-08-15T10:00:01+00:00", "ended_at": "2026-08-15T10:00:02+00:00",
                "duration_ms": 1000.0, "status": "ok", "attributes": attrs(kind, extra), "events": events})
        };
        let msg = |sender: &str, content: &str| {
            json!({"name": "agentsight.message", "timestamp": "2026-08-15T10:00:01.500+00:00",
                "attributes": {"agentsight.message.sender": sender, "agentsight.message.content": content}})
        };
        json!({"conversation_id": cid, "spans": [
            span(&turn, "turn", Value::Null, json!({"agentsight.turn.complete": true}),
                json!([msg("end_user", "question"), msg("agent", "answer")])),
            span(&llm, "llm", json!(turn), json!({"gen_ai.request.model": "gpt-4o-mini",
                "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 5}), json!([])),
            span(&tool, "tool", json!(turn), json!({"agentsight.tool.name": "lookup"}), json!([]))]})
    };
    json!({"sdk": {"name": "agentsight-python", "version": "0.1.4"},
        "conversations": (0..TURNS_PER_BATCH).map(block).collect::<Vec<_>>()})
}

/// A span batch is acknowledged once archived, and projected after: kill the server with
/// SIGKILL while span batches pour in and its projection is behind, restart it, and find every
/// acknowledged batch's spans, messages and usage (what was not projected at the kill is
/// projected from the archive at the start).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_acknowledged_span_batch_is_there_after_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let key = common::last_line(&common::cli(dir.path(), &["agent", "create", "durable"]));
    let mut server = common::serve(dir.path());
    let client = reqwest::Client::new();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut tasks = Vec::new();
    for w in 0..16u64 {
        let (client, key, base, tx) = (client.clone(), key.clone(), server.base.clone(), tx.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            loop {
                let prefix = format!("s-{w}-{i}");
                let r = client
                    .post(format!("{base}/api/ingest/"))
                    .header("Authorization", format!("Api-Key {key}"))
                    .json(&span_batch(&prefix, w * 1_000_000 + i))
                    .send()
                    .await;
                match r.map(|r| r.status().as_u16()) {
                    Ok(201) => {
                        let _ = tx.send(prefix);
                        i += 1;
                    }
                    // Over the agent's rate: the exporter waits and sends the batch again.
                    Ok(429) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
                    _ => break,
                }
            }
        }));
    }
    drop(tx);
    let mut acked: Vec<String> = Vec::new();
    while let Some(prefix) = rx.recv().await {
        acked.push(prefix);
        if acked.len() == 600 {
            server.child.kill().unwrap(); // SIGKILL
            server.child.wait().unwrap();
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert!(acked.len() >= 600, "only {} batches were acknowledged before the kill", acked.len());
    let db_path = dir.path().join("agentsight.db");
    let archive_path = dir.path().join("agentsight.archive.db");
    let marks = || {
        let db = rusqlite::Connection::open(&db_path).unwrap();
        let projected: i64 = db.query_row("SELECT projected FROM span_log", [], |r| r.get(0)).unwrap();
        let archive = rusqlite::Connection::open(&archive_path).unwrap();
        let archived: i64 = archive.query_row("SELECT max(id) FROM batches", [], |r| r.get(0)).unwrap();
        (projected, archived)
    };
    let (projected, archived) = marks();
    assert!(archived >= acked.len() as i64, "{archived} batches archived, {} acknowledged", acked.len());
    assert!(
        projected < archived,
        "the kill left nothing to project ({projected} of {archived}): the test shows nothing"
    );

    let server = common::serve(dir.path());
    assert_eq!(marks(), (archived, archived), "every archived batch projected at the start");
    let db = rusqlite::Connection::open(&db_path).unwrap();
    db.execute("ATTACH DATABASE ?1 AS archive", [archive_path.to_str().unwrap()]).unwrap();
    let per_conversation = |sql: &str| -> std::collections::HashMap<String, i64> {
        let mut stmt = db.prepare(sql).unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let spans = per_conversation("SELECT conversation_id, count(*) FROM archive.spans GROUP BY 1");
    let messages = per_conversation(
        "SELECT c.conversation_id, count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_pk
         WHERE m.kind = 0 GROUP BY 1",
    );
    let usage = per_conversation(
        "SELECT c.conversation_id, sum(u.calls) FROM token_usage u JOIN conversations c ON c.id = u.conversation_pk GROUP BY 1",
    );
    for prefix in &acked {
        for j in 0..TURNS_PER_BATCH {
            let cid = format!("{prefix}-{j}");
            let found = (spans.get(&cid), messages.get(&cid), usage.get(&cid));
            assert_eq!(
                found,
                (Some(&3), Some(&2), Some(&1)),
                "{cid}: acknowledged, not all there after SIGKILL"
            );
        }
    }
    // Through the API too (its reads wait for nothing now).
    let last = &acked[acked.len() - 1];
    let url = format!("{}/api/conversations/lookup/?conversation_id={last}-0", server.base);
    let t = common::get_json(&client, &url, &key).await;
    assert_eq!(t["message_count"], 2, "{t}");
    let mut child = server.child;
    child.kill().unwrap();
    child.wait().unwrap();
}
