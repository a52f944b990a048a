//! A customer's erase (`DELETE /api/customers/{customer_id}/`), retention set from the admin
//! API and applied by the background job, and the audit log of both.

use std::time::{Duration, Instant};

use base64::Engine;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const DAY: &str = "from=2026-05-01&to=2026-05-01";

impl TestApp {
    async fn erase_as(&self, key: &str, customer: &str) -> reqwest::Response {
        self.client
            .delete(format!("{}/api/customers/{customer}/", self.base))
            .header("Authorization", format!("Api-Key {key}"))
            .send()
            .await
            .unwrap()
    }
}

/// Files under the agent's attachment directory.
fn files_of(app: &TestApp, agent: i64) -> usize {
    std::fs::read_dir(app.data_dir.join("attachments").join(agent.to_string())).map_or(0, |d| d.count())
}

#[tokio::test]
async fn erasing_a_customer_removes_their_conversations_and_files_at_once_and_a_repeat_is_harmless() {
    let app = spawn_app().await;
    let at = "2026-05-01T09:00:00Z";
    let gone = app.conversation("c1", json!({"customer_id": "cust-x", "timestamp": at})).await;
    let kept = app.conversation("c2", json!({"customer_id": "cust-y", "timestamp": at})).await;
    app.message("c1", "end_user", "my address is …", "2026-05-01T10:00:00Z").await;
    let mid = app.message("c1", "agent", "noted", "2026-05-01T10:00:02Z").await;
    app.message("c2", "end_user", "hi", "2026-05-01T11:00:00Z").await;
    let data = base64::engine::general_purpose::STANDARD.encode(b"passport scan");
    let r = app
        .post(
            "/api/attachments/",
            &json!({"attachments": [{"filename": "scan.png", "mime_type": "image/png", "data": data}],
                "message": mid, "sender": "end_user", "metadata": {}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(files_of(&app, app.agent_a), 1);
    let before: Value = app.get_json(&format!("/api/metrics/overview/?{DAY}")).await;
    assert_eq!(
        (before["total_conversations"].as_u64(), before["total_messages"].as_u64()),
        (Some(2), Some(3))
    );

    // A read key may not; another agent's key erases nothing of this agent's.
    assert_eq!(app.erase_as(&app.read_key, "cust-x").await.status(), 403);
    let r = app.erase_as(&app.other_key, "cust-x").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"conversations": 0, "messages": 0, "attachments": 0})
    );
    // A blank id is a 400 naming the field.
    let r = app.erase_as(&app.key, "%20").await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["customer_id"].is_array());

    let r = app.erase_as(&app.key, "cust-x").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"conversations": 1, "messages": 2, "attachments": 1})
    );
    // At once: the metrics (from the in-memory index), the conversation, the file.
    let after: Value = app.get_json(&format!("/api/metrics/overview/?{DAY}")).await;
    assert_eq!((after["total_conversations"].as_u64(), after["total_messages"].as_u64()), (Some(1), Some(1)));
    assert_eq!(app.get_as(&app.key, &format!("/api/conversations/{gone}/")).await.status(), 404);
    assert_eq!(app.get_as(&app.key, &format!("/api/conversations/{kept}/")).await.status(), 200);
    assert_eq!(app.get_as(&app.key, &format!("/api/track/{mid}/")).await.status(), 404);
    assert_eq!(files_of(&app, app.agent_a), 0, "the attachment file is deleted");
    let listed = app.get_json("/api/conversations/?include_deleted=true").await;
    assert_eq!(listed["count"], 1);

    // Again: nothing more, still 200.
    let r = app.erase_as(&app.key, "cust-x").await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["conversations"], 0);
    let again: Value = app.get_json(&format!("/api/metrics/overview/?{DAY}")).await;
    assert_eq!(again["total_conversations"], after["total_conversations"]);

    // The audit log (admins): who and how much, never the customer's id.
    let admin = app.admin().await;
    let r = app.dash_get(&admin, "/api/dash/erasures/").await;
    assert_eq!(r.status(), 200);
    let text = r.text().await.unwrap();
    assert!(!text.contains("cust-x"), "no personal data in the audit log: {text}");
    let log: Value = serde_json::from_str(&text).unwrap();
    let rows = log.as_array().unwrap();
    assert_eq!(rows.len(), 3, "{log}");
    assert_eq!(rows[1]["kind"], "erase");
    assert_eq!((rows[1]["conversations"].as_u64(), rows[1]["messages"].as_u64()), (Some(1), Some(2)));
    assert_eq!(rows[1]["agent"], app.agent_a);
    assert!(rows[1]["actor"].as_str().unwrap().starts_with("key:"));
    let theirs = app.dash_json(&admin, &format!("/api/dash/erasures/?agent={}", app.agent_b)).await;
    assert_eq!(theirs.as_array().unwrap().len(), 1);
    let bad = app.dash_get(&admin, "/api/dash/erasures/?agent=x").await;
    assert_eq!(bad.status(), 400);
    assert!(
        app.get_as(&app.key, "/api/dash/erasures/").await.status().is_client_error(),
        "keys may not read it"
    );
}

#[tokio::test]
async fn retention_set_by_an_admin_removes_conversations_past_it_in_the_background() {
    let app = spawn_app_with(|s| s.retention_interval = Duration::from_millis(100)).await;
    let old = app.conversation("old", json!({"timestamp": "2020-01-01T09:00:00Z"})).await;
    app.message("old", "end_user", "long ago", "2020-01-01T10:00:00Z").await;
    let now = agentsight_core::time::to_iso(agentsight_core::time::now_micros());
    let recent = app.conversation("recent", json!({})).await;
    app.message("recent", "end_user", "just now", &now).await;
    let admin = app.admin().await;
    let path = format!("/api/dash/agents/{}/", app.agent_a);
    for bad in [json!(0), json!(36_501), json!(-3), json!("ten")] {
        let r = app.dash_send(&admin, Method::PATCH, &path, json!({"retention_days": bad})).await;
        assert_eq!(r.status(), 400, "{bad}");
        assert!(r.json::<Value>().await.unwrap()["retention_days"].is_array(), "{bad}");
    }
    let shown = app.dash_json(&admin, &path).await;
    assert_eq!(shown["retention_days"], Value::Null);
    let r = app.dash_send(&admin, Method::PATCH, &path, json!({"retention_days": 30})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["retention_days"], 30);

    // The job runs every 100 ms here: wait until it has (bounded), then look.
    let started = Instant::now();
    while app.get_as(&app.key, &format!("/api/conversations/{old}/")).await.status() != 404 {
        assert!(started.elapsed() < Duration::from_secs(60), "the retention job never removed it");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.get_as(&app.key, &format!("/api/conversations/{recent}/")).await.status(), 200);
    let o: Value = app.get_json("/api/metrics/overview/?from=2020-01-01&to=2020-01-01").await;
    assert_eq!(o["total_conversations"], 0);
    // The audit record is written after the removal (the log and the events may live in
    // different stores): wait for it too, bounded.
    let log = loop {
        let log = app.dash_json(&admin, "/api/dash/erasures/").await;
        if !log.as_array().unwrap().is_empty() {
            break log;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the retention run was never recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(log[0]["kind"], "retention");
    assert_eq!(log[0]["actor"], "retention");
    assert_eq!(log[0]["conversations"], 1);
    assert_eq!(log.as_array().unwrap().len(), 1, "a run that removes nothing is not recorded");

    let r = app.dash_send(&admin, Method::PATCH, &path, json!({"retention_days": null})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["retention_days"], Value::Null);
}

#[tokio::test]
async fn an_admin_session_erases_for_the_agent_it_names_and_is_audited_as_the_user() {
    let app = spawn_app().await;
    app.conversation("c1", json!({"customer_id": "cust-z"})).await;
    let admin = app.admin().await;
    let r = app
        .dash(&admin, Method::DELETE, &format!("/api/customers/cust-z/?agent={}", app.agent_a), None, true)
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["conversations"], 1);
    let log = app.dash_json(&admin, "/api/dash/erasures/").await;
    assert!(log[0]["actor"].as_str().unwrap().starts_with("user:"), "{log}");
    let no_csrf = app
        .dash(&admin, Method::DELETE, &format!("/api/customers/cust-z/?agent={}", app.agent_a), None, false)
        .await;
    assert_eq!(no_csrf.status(), 403);
}
