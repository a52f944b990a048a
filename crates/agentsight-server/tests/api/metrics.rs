//! The metrics API over HTTP: keys, validation, settings that apply to past data.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

const DAY: &str = "from=2026-05-01&to=2026-05-01";

#[tokio::test]
async fn the_overview_counts_only_the_keys_agent_and_read_keys_may_ask() {
    let app = spawn_app().await;
    app.message("m1", "end_user", "hi", "2026-05-01T10:00:00Z").await;
    app.message("m1", "agent", "hello", "2026-05-01T10:00:02Z").await;
    app.post_as(&app.other_key, "/api/track/", &json!({"conversation_id": "x", "sender": "agent", "content": "other", "timestamp": "2026-05-01T10:00:00Z"}))
        .await;
    let r = app.get_as(&app.read_key, &format!("/api/metrics/overview/?{DAY}")).await;
    assert_eq!(r.status(), 200);
    let o: Value = r.json().await.unwrap();
    assert_eq!(o["total_messages"], 2);
    assert_eq!(o["total_conversations"], 1);
    assert_eq!(o["bot_responses"], 1);
    assert_eq!(o["avg_bot_response_time_ms"], 2000.0);
    assert_eq!(o["agent"]["name"], "agent-a");
    assert_eq!(o["range"], json!({"from": "2026-05-01", "to": "2026-05-01", "tz": "UTC"}));
    let r = app.client.get(format!("{}/api/metrics/overview/", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn bad_parameters_are_400s_naming_the_field() {
    let app = spawn_app().await;
    for (query, field) in [
        ("from=2026-05-02&to=2026-05-01", "from"),
        ("from=2000-01-01&to=2026-05-01", "to"),
        ("from=2026-13-01", "from"),
        ("tz=Mars/Olympus", "tz"),
        ("device=fridge", "device"),
        ("environment=staging", "environment"),
        ("country=Croatia", "country"),
        ("metadata=novalue", "metadata"),
    ] {
        let r = app.get_as(&app.key, &format!("/api/metrics/overview/?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert!(body.get(field).is_some(), "{query}: {body}");
    }
}

#[tokio::test]
async fn escalation_tool_names_are_per_agent_and_apply_to_past_data() {
    let app = spawn_app().await;
    let pk = app.conversation("e1", json!({"timestamp": "2026-05-01T09:00:00Z"})).await;
    let r = app
        .post("/api/action_logs/", &json!({"conversation": pk, "action_name": "call_support", "timestamp": "2026-05-01T09:01:00Z"}))
        .await;
    assert_eq!(r.status(), 201);
    let before: Value = app.get_json(&format!("/api/metrics/overview/?{DAY}")).await;
    assert_eq!(before["human_escalation"]["conversations"], 0);
    let settings: Value = app.get_json("/api/agent/settings/").await;
    assert_eq!(settings["escalation_tools_default"], true);
    assert_eq!(settings["escalation_tools"], json!(["fallback_to_human", "open_ticket", "ticket", "contact_human"]));
    let patch = |key: String, body: Value| {
        let (client, url) = (app.client.clone(), format!("{}/api/agent/settings/", app.base));
        async move { client.patch(url).header("Authorization", format!("Api-Key {key}")).json(&body).send().await.unwrap() }
    };
    assert_eq!(patch(app.read_key.clone(), json!({"escalation_tools": ["x"]})).await.status(), 403);
    assert_eq!(patch(app.key.clone(), json!({"escalation_tools": [" "]})).await.status(), 400);
    let r = patch(app.key.clone(), json!({"escalation_tools": [" call_support ", "call_support"]})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["escalation_tools"], json!(["call_support"]));
    let after: Value = app.get_json(&format!("/api/metrics/overview/?{DAY}")).await;
    assert_eq!(after["human_escalation"], json!({"conversations": 1, "rate": 1.0}));
    let other: Value = app.get_as(&app.other_key, "/api/agent/settings/").await.json().await.unwrap();
    assert_eq!(other["escalation_tools_default"], true, "another agent keeps the default");
    let r = patch(app.key.clone(), json!({"escalation_tools": null})).await;
    assert_eq!(r.json::<Value>().await.unwrap()["escalation_tools_default"], true);
}
