//! The metrics API over HTTP: keys, validation, settings that apply to past data.

use serde_json::{Value, json};

use crate::helpers::{spawn_app, spawn_app_with};

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
        .post(
            "/api/action_logs/",
            &json!({"conversation": pk, "action_name": "call_support", "timestamp": "2026-05-01T09:01:00Z"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let before: Value = app.get_json(&format!("/api/metrics/overview/?{DAY}")).await;
    assert_eq!(before["human_escalation"]["conversations"], 0);
    let settings: Value = app.get_json("/api/agent/settings/").await;
    assert_eq!(settings["escalation_tools_default"], true);
    assert_eq!(
        settings["escalation_tools"],
        json!(["fallback_to_human", "open_ticket", "ticket", "contact_human"])
    );
    let patch = |key: String, body: Value| {
        let (client, url) = (app.client.clone(), format!("{}/api/agent/settings/", app.base));
        async move {
            client
                .patch(url)
                .header("Authorization", format!("Api-Key {key}"))
                .json(&body)
                .send()
                .await
                .unwrap()
        }
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

#[tokio::test]
async fn timeseries_bucket_by_local_hour_day_and_week_and_agree_with_the_overview() {
    let app = spawn_app().await;
    app.message("t1", "end_user", "a", "2026-11-01T05:30:00Z").await; // 01:30 EDT
    app.message("t1", "agent", "b", "2026-11-01T06:30:00Z").await; // 01:30 EST, the repeated hour
    app.message("t1", "end_user", "c", "2026-11-02T12:00:00Z").await;
    let base = "from=2026-11-01&to=2026-11-02&tz=America/New_York";
    let hours: Value =
        app.get_json(&format!("/api/metrics/timeseries/?metric=messages&interval=hour&{base}")).await;
    let points = hours["points"].as_array().unwrap();
    assert_eq!(points.len(), 25 + 24);
    assert_eq!(points[1], json!({"start": "2026-11-01T01:00:00-04:00", "value": 1.0}));
    assert_eq!(points[2], json!({"start": "2026-11-01T01:00:00-05:00", "value": 1.0}));
    let days: Value = app.get_json(&format!("/api/metrics/timeseries/?metric=messages&{base}")).await;
    assert_eq!(
        days["points"],
        json!([{"start": "2026-11-01", "value": 2.0}, {"start": "2026-11-02", "value": 1.0}])
    );
    let overview: Value = app.get_json(&format!("/api/metrics/overview/?{base}")).await;
    assert_eq!(overview["daily"][0]["messages"], 2);
    let avg: Value =
        app.get_json(&format!("/api/metrics/timeseries/?metric=avg_bot_response_time_ms&{base}")).await;
    assert_eq!(
        avg["points"],
        json!([{"start": "2026-11-01", "value": 3_600_000.0}, {"start": "2026-11-02", "value": null}])
    );
    let r = app.get_as(&app.key, "/api/metrics/timeseries/?metric=nope").await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn live_counts_recent_activity() {
    let app = spawn_app().await;
    let now = chrono::Utc::now();
    let ts = (now - chrono::Duration::seconds(30)).to_rfc3339();
    let old = (now - chrono::Duration::minutes(20)).to_rfc3339();
    app.message("l1", "end_user", "now", &ts).await;
    app.message("l2", "end_user", "earlier", &old).await;
    let live: Value = app.get_json("/api/metrics/live/").await;
    assert_eq!(live["active_conversations"], 1);
    let per_minute = live["messages_per_minute"].as_array().unwrap();
    assert_eq!(per_minute.len(), 60);
    assert_eq!(per_minute.iter().map(|m| m["messages"].as_u64().unwrap()).sum::<u64>(), 2);
}

async fn wait_for_engine(app: &crate::helpers::TestApp) -> Value {
    for _ in 0..500 {
        let s = app.get_json("/api/metrics/status/").await;
        if s["phase"] != "loading" {
            return s;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the metrics index did not load");
}

#[tokio::test]
async fn the_index_answers_once_loaded_and_sees_each_acknowledged_write_at_once() {
    let app = spawn_app().await;
    let s = wait_for_engine(&app).await;
    assert_eq!((s["engine"].as_str(), s["phase"].as_str()), (Some("sqlite-index"), Some("ready")));
    for i in 0..40 {
        let sender = if i % 2 == 0 { "end_user" } else { "agent" };
        app.message("rw", sender, "x", &format!("2026-05-01T10:00:{i:02}Z")).await;
        let o = app.get_json(&format!("/api/metrics/overview/?{DAY}")).await;
        assert_eq!(o["total_messages"], i + 1, "message {i} is counted by the next overview");
        assert_eq!(o["bot_responses"], (i + 1) / 2);
    }
}

#[tokio::test]
async fn without_the_index_raw_rows_give_the_same_overview() {
    let with = spawn_app().await;
    let without = spawn_app_with(|s| s.metrics_index = false).await;
    assert_eq!(wait_for_engine(&without).await["engine"], "sqlite-raw");
    wait_for_engine(&with).await;
    for app in [&with, &without] {
        app.conversation("d1", json!({"device": "mobile", "metadata": {"feedback": 5, "plan": "pro"}})).await;
        app.message("d1", "end_user", "hi", "2026-05-01T23:30:00Z").await;
        app.message("d1", "agent", "hello", "2026-05-01T23:30:04Z").await;
        app.message("d2", "end_user", "hej", "2026-05-02T00:10:00Z").await;
    }
    for q in [
        DAY.to_string(),
        format!("{DAY}&tz=Asia/Kathmandu"),
        "from=2026-05-01&to=2026-05-02&metadata=plan:pro".into(),
    ] {
        let a = with.get_json(&format!("/api/metrics/overview/?{q}")).await;
        let b = without.get_json(&format!("/api/metrics/overview/?{q}")).await;
        assert_eq!(a["agent"]["name"], b["agent"]["name"]);
        for field in [
            "total_messages",
            "total_conversations",
            "bot_responses",
            "daily",
            "peak_hours",
            "devices",
            "feedback",
        ] {
            assert_eq!(a[field], b[field], "{field} for {q}");
        }
    }
}

/// Language tags count in their canonical BCP-47 case: `pt-br`, `PT_BR` and `pt-BR` are one row
/// of the languages breakdown, and a filter in any case matches all three.
#[tokio::test]
async fn language_tags_in_any_case_are_one_value() {
    let app = spawn_app().await;
    for (cid, language) in [("l1", "pt-br"), ("l2", "PT_BR"), ("l3", "pt-BR"), ("l4", "zh-hant-tw")] {
        app.conversation(cid, json!({"language": language, "timestamp": "2026-05-01T09:00:00Z"})).await;
        app.message(cid, "end_user", "olá", "2026-05-01T10:00:00Z").await;
    }
    let o: Value = app.get_json(&format!("/api/metrics/overview/?{DAY}")).await;
    let mut rows: Vec<(String, u64)> = o["languages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["language"].as_str().unwrap().to_string(), r["conversations"].as_u64().unwrap()))
        .collect();
    rows.sort();
    assert_eq!(rows, [("pt-BR".to_string(), 3), ("zh-Hant-TW".to_string(), 1)]);
    for filter in ["pt-br", "PT-BR", "pt_BR"] {
        let o: Value = app.get_json(&format!("/api/metrics/overview/?{DAY}&language={filter}")).await;
        assert_eq!(o["total_conversations"], 3, "{filter}");
    }
}
