//! `GET /api/metrics/failures/` and the conversation list's failure filters over HTTP
//! (`docs/metrics.md`, *Where the bot fails*); the definitions themselves are checked against
//! the reference by the store contract.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn failures_are_counted_and_each_opens_its_conversations() {
    let app = spawn_app().await;
    for id in ["u1", "u2", "a1", "e1"] {
        app.conversation(id, json!({"timestamp": "2026-05-01T09:00:00Z"})).await;
    }
    app.message("u1", "end_user", "Where is my order #A-1234?", "2026-05-01T10:00:00Z").await;
    app.message("u2", "end_user", "where is my ORDER b-77", "2026-05-01T10:00:00Z").await;
    app.message("u2", "system", "typing…", "2026-05-01T10:00:01Z").await;
    app.message("a1", "end_user", "hello", "2026-05-01T10:00:00Z").await;
    app.message("a1", "agent", "hi!", "2026-05-01T10:00:02Z").await;
    app.message("e1", "end_user", "human please", "2026-05-01T10:00:00Z").await;
    let e1 = app.conversation("e1", json!({})).await;
    let r = app
        .post(
            "/api/action_logs/",
            &json!({"conversation": e1, "conversation_id": "e1", "action_name": "fallback_to_human",
                "started_at": "2026-05-01T10:00:05Z"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post(
            "/api/action_logs/",
            &json!({"conversation": e1, "conversation_id": "e1", "action_name": "lookup",
                "error_msg": "timeout", "started_at": "2026-05-01T10:00:04Z"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    app.message("e1", "agent", "connecting you", "2026-05-01T10:00:06Z").await;

    let range = "from=2026-05-01&to=2026-05-01";
    let f = app.get_json(&format!("/api/metrics/failures/?{range}")).await;
    assert_eq!(
        (f["conversations"].as_u64(), f["engaged"].as_u64(), f["settled"].as_u64()),
        (Some(4), Some(4), Some(4))
    );
    assert_eq!(f["unanswered"], json!({"conversations": 2, "rate": 0.5}));
    assert_eq!(f["abandoned"], json!({"conversations": 1, "rate": 0.25}));
    assert_eq!(f["idle_minutes"], 30);
    assert_eq!(
        f["tool_errors"]["tools"],
        json!([{"name": "lookup", "calls": 1, "errors": 1, "error_rate": 1.0, "conversations": 1}])
    );
    assert_eq!(f["escalations"]["by_turns"][1], json!({"turns": 1, "or_more": false, "conversations": 1}));
    assert_eq!(f["first_questions"]["top"][0]["question"], "where is my order <id>");
    assert_eq!(f["first_questions"]["top"][0]["conversations"], 2);
    assert_eq!(f["first_questions"]["top"][0]["sample_conversation_id"], "u1");

    // Each number opens exactly its conversations.
    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["conversation_id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    for (filter, want) in [
        ("unanswered=true", vec!["u1", "u2"]),
        ("unanswered=false", vec!["a1", "e1"]),
        ("abandoned=true", vec!["a1"]),
        ("tool_error=true", vec!["e1"]),
        ("tool_error_name=lookup", vec!["e1"]),
        ("tool_error_name=fallback_to_human", vec![]),
        ("escalation_turns_min=1&escalation_turns_max=1", vec!["e1"]),
        ("escalation_turns_min=2", vec![]),
    ] {
        let l = app.get_json(&format!("/api/conversations/?{range}&{filter}")).await;
        assert_eq!(ids(&l), want, "{filter}");
    }

    // Bad parameters name themselves.
    for (path, field) in [
        ("/api/metrics/failures/?idle_minutes=0", "idle_minutes"),
        ("/api/metrics/failures/?idle_minutes=abc", "idle_minutes"),
        ("/api/metrics/failures/?idle_minutes=10081", "idle_minutes"),
        ("/api/metrics/failures/?top=101", "top"),
        ("/api/metrics/failures/?tz=Mars/Olympus&top=0", "top"),
        ("/api/conversations/?unanswered=maybe", "unanswered"),
        ("/api/conversations/?abandoned=true&idle_minutes=-5", "idle_minutes"),
        ("/api/conversations/?escalation_turns_min=x", "escalation_turns_min"),
        ("/api/conversations/?escalation_turns_max=100001", "escalation_turns_max"),
    ] {
        let r = app.get_as(&app.key, path).await;
        assert_eq!(r.status(), 400, "{path}");
        let body: Value = r.json().await.unwrap();
        assert!(body.get(field).is_some(), "{path}: {body}");
    }
    let both: Value =
        app.get_as(&app.key, "/api/metrics/failures/?tz=Mars/Olympus&top=0").await.json().await.unwrap();
    assert!(both.get("tz").is_some(), "every bad field is named: {both}");

    // A share link sees the counts, not the questions.
    let admin = app.admin().await;
    let a = app.agent_a;
    let by_session = app.dash_json(&admin, &format!("/api/metrics/failures/?agent={a}&{range}")).await;
    assert_eq!(by_session["unanswered"], f["unanswered"]);
    let r = app
        .dash_send(&admin, reqwest::Method::POST, &format!("/api/dash/agents/{a}/shares/"), json!({}))
        .await;
    let token = r.json::<Value>().await.unwrap()["token"].as_str().unwrap().to_string();
    let r = app.share_get(&token, &format!("/api/metrics/failures/?{range}")).await;
    assert_eq!(r.status(), 200);
    let shared: Value = r.json().await.unwrap();
    assert_eq!(shared["unanswered"], f["unanswered"]);
    assert_eq!(shared["first_questions"]["distinct"], f["first_questions"]["distinct"]);
    assert_eq!(shared["first_questions"]["top"], json!([]), "a share link reads no end-user text");
    let r = app.share_get(&token, &format!("/api/conversations/?{range}&unanswered=true")).await;
    assert_eq!(r.status(), 403);
}
