//! `agentsight demo` against a real data dir, checked through the read API of a real server.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

/// Runs the demo and returns its stdout (asserting success).
fn demo(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["demo", "--conversations", "200", "--days", "7", "--seed", "1"];
    args.extend_from_slice(extra);
    common::cli(dir, &args)
}

/// The summary line without its timing (`…, in 0.3 s (…)`).
fn counts_of(stdout: &str) -> String {
    let line = stdout.lines().find(|l| l.starts_with("Demo data for agent")).expect("a summary line");
    line.split(", in ").next().unwrap().to_string()
}

struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Api-Key {}", self.key))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{path}");
        res.json().await.unwrap()
    }

    async fn count(&self, query: &str) -> i64 {
        self.get(&format!("/api/conversations/?include_deleted=true&page_size=1{query}")).await["count"]
            .as_i64()
            .unwrap()
    }
}

#[tokio::test]
async fn demo_fills_an_agent_with_varied_data_readable_through_the_api() {
    let dir = tempfile::tempdir().unwrap();
    let out = demo(dir.path(), &[]);
    let key = common::last_line(&out);
    assert!(agentsight_core::keys::is_well_formed(&key), "{out}");
    assert!(out.contains("200 conversations"), "{out}");

    // Running it again on the same agent reuses it and prints no key.
    let again = common::cli(dir.path(), &["demo", "--conversations", "5", "--agent", "other"]);
    assert!(agentsight_core::keys::is_well_formed(&common::last_line(&again)));
    let reuse = common::cli(dir.path(), &["demo", "--conversations", "0", "--agent", "other"]);
    assert!(!reuse.contains("ags_"), "{reuse}");

    let mut server = common::serve(dir.path());
    let api = Api { client: reqwest::Client::new(), base: server.base.clone(), key };

    assert_eq!(api.count("").await, 200);
    let unused = api.count("&is_used=false").await;
    let used = api.count("&is_used=true").await;
    assert_eq!(unused + used, 200);
    assert!((15..=70).contains(&unused), "about 20% visits, got {unused}");
    let with_feedback = api.count("&has_feedback=true").await;
    assert!(with_feedback >= 5, "explicit feedback records: {with_feedback}");

    // Every conversation, for the distribution of the dimensions.
    let mut rows = Vec::new();
    for page in 1..=2 {
        let p = api.get(&format!("/api/conversations/?include_deleted=true&page_size=100&page={page}")).await;
        rows.extend(p["results"].as_array().unwrap().iter().cloned());
    }
    assert_eq!(rows.len(), 200);
    let distinct = |field: &str| -> BTreeSet<String> {
        rows.iter().filter_map(|r| r[field].as_str().map(str::to_string)).collect()
    };
    let (devices, sources, languages) = (distinct("device"), distinct("source"), distinct("language"));
    assert!(devices.len() >= 3, "{devices:?}");
    assert!(sources.len() >= 4, "{sources:?}");
    assert!(languages.len() >= 5, "{languages:?}");
    assert!(rows.iter().any(|r| r["device"].is_null()), "some conversations without a device");
    assert!(distinct("customer_id").len() < 200, "repeat customers");
    assert!(distinct("customer_ip_address").len() > 50);
    assert!(rows.iter().any(|r| r["metadata"]["feedback"] != Value::Null), "metadata.feedback");
    assert!(rows.iter().all(|r| r["is_used"].as_bool() == Some(r["message_count"].as_i64().unwrap() > 0)));
    let messages: i64 = rows.iter().map(|r| r["message_count"].as_i64().unwrap()).sum();
    assert!((1200..=2800).contains(&messages), "about 10 messages a conversation, got {messages}");

    // Transcripts: both senders, tool calls, token usage.
    let mut senders = BTreeSet::new();
    let mut actions = BTreeSet::new();
    for r in rows.iter().filter(|r| r["message_count"].as_i64().unwrap() > 6).take(12) {
        let t = api.get(&format!("/api/conversations/{}/", r["id"])).await;
        for m in t["messages"].as_array().unwrap() {
            senders.insert(m["sender"].as_str().unwrap().to_string());
            if let Some(a) = m["action_name"].as_str() {
                actions.insert(a.to_string());
            }
        }
    }
    assert!(senders.contains("end_user") && senders.contains("agent"), "{senders:?}");
    assert!(actions.contains("token_usage") && actions.len() >= 3, "{actions:?}");

    server.child.kill().unwrap();
    server.child.wait().unwrap();

    // The same seed on a fresh data dir writes the same data.
    let dir2 = tempfile::tempdir().unwrap();
    let out2 = demo(dir2.path(), &[]);
    assert_eq!(counts_of(&out), counts_of(&out2));
    let other_seed = common::cli(
        tempfile::tempdir().unwrap().path(),
        &["demo", "--conversations", "200", "--days", "7", "--seed", "2"],
    );
    assert_ne!(counts_of(&out), counts_of(&other_seed));
}
