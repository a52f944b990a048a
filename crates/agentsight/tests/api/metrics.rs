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

/// `compare=previous|year`: the overview and the series carry the compared range's answer as
/// `previous`, with its own range; a bad mode or a compared range out of limits is a 400 naming
/// `compare`; without `compare` there is no `previous`.
#[tokio::test]
async fn compare_adds_the_previous_range_and_bad_modes_name_compare() {
    let app = spawn_app().await;
    // Two days in April (the previous two days of 3-4 May) and one in May 2025 (a year back).
    app.message("p1", "end_user", "a", "2026-05-01T10:00:00Z").await;
    app.message("p1", "agent", "b", "2026-05-01T10:00:04Z").await;
    app.message("p2", "end_user", "c", "2026-05-02T10:00:00Z").await;
    app.message("y1", "end_user", "d", "2025-05-03T10:00:00Z").await;
    app.message("n1", "end_user", "e", "2026-05-03T10:00:00Z").await;
    app.message("n1", "agent", "f", "2026-05-03T10:00:01Z").await;
    let base = "from=2026-05-03&to=2026-05-04";
    let o: Value = app.get_json(&format!("/api/metrics/overview/?{base}&compare=previous")).await;
    assert_eq!(
        (o["total_messages"].as_u64(), o["avg_bot_response_time_ms"].as_f64()),
        (Some(2), Some(1000.0))
    );
    let p = &o["previous"];
    assert_eq!(p["range"], json!({"from": "2026-05-01", "to": "2026-05-02", "tz": "UTC"}));
    assert_eq!((p["total_messages"].as_u64(), p["total_conversations"].as_u64()), (Some(3), Some(2)));
    assert_eq!(p["avg_bot_response_time_ms"], 4000.0);
    assert_eq!(p["daily"][0], json!({"date": "2026-05-01", "messages": 2, "conversations": 1}));
    assert!(p.get("previous").is_none(), "no previous of the previous");
    let plain = app.get_json(&format!("/api/metrics/overview/?{base}")).await;
    assert!(plain.get("previous").is_none());
    let mut without_previous = o.clone();
    without_previous.as_object_mut().unwrap().remove("previous");
    assert_eq!(without_previous, plain, "compare changes nothing else");

    let y: Value = app.get_json(&format!("/api/metrics/overview/?{base}&compare=year")).await;
    assert_eq!(y["previous"]["range"], json!({"from": "2025-05-03", "to": "2025-05-04", "tz": "UTC"}));
    assert_eq!(y["previous"]["total_messages"], 1);

    let s: Value = app
        .get_json(&format!("/api/metrics/timeseries/?metric=messages&interval=day&{base}&compare=previous"))
        .await;
    assert_eq!(
        s["points"],
        json!([{"start": "2026-05-03", "value": 2.0}, {"start": "2026-05-04", "value": 0.0}])
    );
    assert_eq!(
        s["previous"]["points"],
        json!([{"start": "2026-05-01", "value": 2.0}, {"start": "2026-05-02", "value": 1.0}])
    );
    let months: Value = app
        .get_json("/api/metrics/timeseries/?metric=messages&interval=month&from=2026-04-20&to=2026-05-31&compare=year")
        .await;
    assert_eq!(months["interval"], "month");
    assert_eq!(
        months["points"],
        json!([{"start": "2026-04-20", "value": 0.0}, {"start": "2026-05-01", "value": 5.0}])
    );
    assert_eq!(
        months["previous"]["points"],
        json!([{"start": "2025-04-20", "value": 0.0}, {"start": "2025-05-01", "value": 1.0}])
    );

    for (path, query) in [
        ("overview", "compare=last_week"),
        ("overview", "from=1970-01-01&to=1970-01-31&compare=previous"),
        ("overview", "from=1970-02-01&to=1970-02-28&compare=year"),
        ("timeseries", "metric=messages&compare=yesterday"),
        // 93 days fit an hourly series; a year back they are 94 (29 February 2028).
        ("timeseries", "metric=messages&interval=hour&from=2028-12-01&to=2029-03-03&compare=year"),
    ] {
        let r = app.get_as(&app.key, &format!("/api/metrics/{path}/?{query}")).await;
        assert_eq!(r.status(), 400, "{path}?{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["compare"],
            "{path}?{query}: {body}"
        );
    }
}

#[tokio::test]
async fn users_over_time_new_returning_active_and_cohorts() {
    let app = spawn_app().await;
    for (id, customer, at) in [
        ("u0", "ann", "2026-04-27T10:00:00Z"), // before the range: ann returns
        ("u1", "ann", "2026-05-05T10:00:00Z"),
        ("u2", "ben", "2026-05-04T10:00:00Z"),
        ("u3", "ben", "2026-05-12T10:00:00Z"),
        ("u4", "", "2026-05-12T11:00:00Z"),
    ] {
        app.conversation(id, json!({"customer_id": customer, "timestamp": at})).await;
    }
    let base = "from=2026-05-04&to=2026-05-17";
    let u: Value = app.get_json(&format!("/api/metrics/users/?{base}")).await;
    assert_eq!(u["interval"], "day");
    assert_eq!(u["totals"], json!({"users": 2, "new_users": 1, "returning_users": 1}));
    assert_eq!(u["new_returning"].as_array().unwrap().len(), 14);
    assert_eq!(u["new_returning"][0], json!({"start": "2026-05-04", "active": 1, "new": 1, "returning": 0}));
    assert_eq!(u["new_returning"][1], json!({"start": "2026-05-05", "active": 1, "new": 0, "returning": 1}));
    assert_eq!(
        u["active"]["weekly"],
        json!([{"start": "2026-05-04", "users": 2}, {"start": "2026-05-11", "users": 1}])
    );
    assert_eq!(u["active"]["monthly"], json!([{"start": "2026-05-04", "users": 2}]));
    assert_eq!(
        u["cohorts"],
        json!([{"week": "2026-05-04", "users": 1, "retained": [1, 1]}, {"week": "2026-05-11", "users": 0, "retained": [0]}])
    );
    let w: Value = app.get_json(&format!("/api/metrics/users/?{base}&interval=week")).await;
    assert_eq!(w["new_returning"][1], json!({"start": "2026-05-11", "active": 1, "new": 0, "returning": 1}));
    let overview: Value = app.get_json(&format!("/api/metrics/overview/?{base}")).await;
    assert_eq!(overview["unique_users"], u["totals"]["users"]);
    for bad in ["interval=hour", "interval=month", "tz=Mars/Olympus", "from=2026-13-01"] {
        let r = app.get_as(&app.key, &format!("/api/metrics/users/?{bad}")).await;
        assert_eq!(r.status(), 400, "{bad}");
        let body: Value = r.json().await.unwrap();
        let field = bad.split('=').next().unwrap();
        assert!(body.get(field).is_some(), "{bad}: {body}");
    }
}
