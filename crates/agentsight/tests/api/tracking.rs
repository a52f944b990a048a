//! The tracking plane end to end: upsert rules, message resolution, transcripts, attachments.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn upsert_is_idempotent_sticky_and_never_erases_with_null() {
    let app = spawn_app().await;
    let r = app
        .post(
            "/api/conversations/",
            &json!({"conversation_id": "c1", "is_used": false,
            "customer_id": "u1", "device": "Mobile", "source": " WhatsApp ", "metadata": {"plan": "pro"}}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["is_used"], false);
    assert_eq!(first["source"], "whatsapp");
    let r = app
        .post(
            "/api/conversations/",
            &json!({"conversation_id": "c1", "is_used": true,
            "customer_id": null, "device": null, "metadata": null, "language": "EN-us"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let second: Value = r.json().await.unwrap();
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["customer_id"], "u1");
    assert_eq!(second["device"], "mobile");
    assert_eq!(second["metadata"], json!({"plan": "pro"}));
    assert_eq!(second["language"], "en-US");
    assert_eq!(second["is_used"], true);
    let third: Value = app
        .post("/api/conversations/", &json!({"conversation_id": "c1", "is_used": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(third["is_used"], true, "is_used is sticky");
    let list = app.get_json("/api/conversations/?conversation_id=c1").await;
    assert_eq!(list["count"], 1);
}

#[tokio::test]
async fn a_message_without_a_pk_creates_its_conversation_and_orders_the_transcript() {
    let app = spawn_app().await;
    app.message("c3", "agent", "second", "2026-05-01T10:00:05+00:00").await;
    app.message("c3", "end_user", "first", "2026-05-01T10:00:01+00:00").await;
    let pk = app.get_json("/api/conversations/lookup/?conversation_id=c3").await["id"].as_i64().unwrap();
    let t = app.get_json(&format!("/api/conversations/{pk}/")).await;
    let contents: Vec<&str> =
        t["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["first", "second"]);
    assert_eq!(t["is_used"], true);
    assert_eq!(
        t["started_at"], "2026-05-01T10:00:05.000000Z",
        "started at the first payload that created it"
    );
    assert_eq!(t["ended_at"], "2026-05-01T10:00:05.000000Z");
    assert_eq!(t["message_count"], 2);
}

#[tokio::test]
async fn actions_and_buttons_appear_in_the_transcript_as_synthetic_messages() {
    let app = spawn_app().await;
    let pk = app.conversation("c4", json!({})).await;
    let r = app
        .post(
            "/api/action_logs/",
            &json!({"conversation": pk, "conversation_id": "c4",
            "action_name": "fallback_to_human", "duration_ms": 5, "tools_used": {"crm": "x"},
            "response": "ok", "error_msg": "boom", "started_at": "2026-05-01T10:00:00Z"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let r = app
        .post(
            "/api/buttons/",
            &json!({"conversation": pk, "button_event": "feedback",
            "label": "Yes", "value": "yes", "timestamp": "2026-05-01T10:00:01Z"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let t = app.get_json(&format!("/api/conversations/{pk}/")).await;
    let m = t["messages"].as_array().unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(m[0]["content"], "Action fallback_to_human performed");
    assert_eq!(m[0]["action_logs"][0]["error_message"], "boom");
    assert_eq!(m[0]["action_logs"][0]["tools_used"], json!({"crm": "x"}));
    assert_eq!(m[1]["button"]["value"], "yes");
    assert_eq!(t["message_count"], 0, "actions and buttons are not messages");
    let by_action = app.get_json("/api/conversations/?action_name=fallback_to_human").await;
    assert_eq!(by_action["count"], 1);
}

#[tokio::test]
async fn attachments_round_trip_in_json_and_multipart_shapes() {
    let app = spawn_app().await;
    let pk = app.conversation("c5", json!({})).await;
    let mid = app.message("c5", "agent", "see file", "2026-05-01T10:00:00Z").await;
    let png = [0x89u8, b'P', b'N', b'G', 1, 2, 3];
    let b64 = base64::engine::general_purpose::STANDARD.encode(png);
    // (b) message-linked JSON with the SDK's "None" quirks.
    let r = app
        .post("/api/attachments/", &json!({"attachments": [{"filename": "a.png", "mime_type": "image/png", "data": b64}],
            "message": mid, "conversation": "None", "conversation_id": "None", "sender": "agent", "metadata": {}}))
        .await;
    assert_eq!(r.status(), 201);
    // (c) standalone multipart without a conversation_id field.
    let form = reqwest::multipart::Form::new()
        .text("conversation", pk.to_string())
        .text("sender", "end_user")
        .text("mode", "form_data")
        .text("metadata", "{\"k\": 1}")
        .part(
            "attachment_0",
            reqwest::multipart::Part::bytes(b"%PDF-1.4 x".to_vec())
                .file_name("d.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let r = app
        .client
        .post(format!("{}/api/attachments/", app.base))
        .header("Authorization", format!("Api-Key {}", app.key))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let listing = app.get_json(&format!("/api/conversations/{pk}/attachments/")).await;
    assert_eq!(listing["total_attachments"], 2);
    let groups = listing["messages"].as_array().unwrap();
    assert_eq!(groups[0]["message_id"], mid);
    assert_eq!(groups[1]["message_id"], Value::Null);
    let file = &groups[0]["attachments"][0];
    assert_eq!(file["type"], "image");
    let r = app.get_as(&app.key, file["file_url"].as_str().unwrap()).await;
    assert_eq!(r.headers()["content-type"], "image/png");
    assert_eq!(r.bytes().await.unwrap().as_ref(), png);
    let t = app.get_json(&format!("/api/conversations/{pk}/")).await;
    assert_eq!(t["messages"][0]["attachments"][0]["filename"], "a.png");
}

#[tokio::test]
async fn an_attachment_download_is_sandboxed_and_never_sniffed() {
    let app = spawn_app().await;
    let pk = app.conversation("c6", json!({})).await;
    let html = b"<html><script>fetch('/api/auth/me/')</script></html>";
    let b64 = base64::engine::general_purpose::STANDARD.encode(html);
    let r = app
        .post(
            "/api/attachments/",
            &json!({"attachments": [{"filename": "x.html", "mime_type": "text/html", "data": b64}],
            "conversation": pk, "sender": "end_user"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let listing = app.get_json(&format!("/api/conversations/{pk}/attachments/")).await;
    let url = listing["messages"][0]["attachments"][0]["file_url"].as_str().unwrap().to_string();
    let r = app.get_as(&app.key, &url).await;
    assert_eq!(r.status(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.split(';').any(|d| d.trim() == "sandbox"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(r.bytes().await.unwrap().as_ref(), html);
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_dir_databases_and_attachments_are_readable_by_their_owner_only() {
    use std::os::unix::fs::MetadataExt;
    let app = spawn_app().await;
    let pk = app.conversation("p1", json!({})).await;
    let b64 = base64::engine::general_purpose::STANDARD.encode(b"secret");
    let r = app
        .post(
            "/api/attachments/",
            &json!({"attachments": [{"filename": "s.txt", "mime_type": "text/plain", "data": b64}],
            "conversation": pk, "sender": "end_user"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().mode() & 0o777;
    let d = &app.data_dir;
    assert_eq!(mode(d), 0o700, "data dir");
    let mut files = 0;
    for name in ["agentsight.db", "agentsight.archive.db"] {
        for suffix in ["", "-wal", "-shm"] {
            let p = d.join(format!("{name}{suffix}"));
            if suffix.is_empty() || p.exists() {
                assert_eq!(mode(&p), 0o600, "{}", p.display());
                files += 1;
            }
        }
    }
    assert!(d.join("agentsight.db-wal").exists() && files >= 4, "the WAL files were checked too");
    let attachments = d.join("attachments");
    assert_eq!(mode(&attachments), 0o700);
    let agent_dir = std::fs::read_dir(&attachments).unwrap().next().unwrap().unwrap().path();
    assert_eq!(mode(&agent_dir), 0o700);
    let file = std::fs::read_dir(&agent_dir).unwrap().next().unwrap().unwrap().path();
    assert_eq!(mode(&file), 0o600);
    assert_eq!(std::fs::read(&file).unwrap(), b"secret");
}

#[tokio::test]
async fn an_attachment_over_the_limit_is_413_and_nothing_is_stored() {
    let app = crate::helpers::spawn_app_with(|s| s.max_attachment_bytes = 1000).await;
    let pk = app.conversation("c6", json!({})).await;
    let big = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 2000]);
    let r = app
        .post("/api/attachments/", &json!({"attachments": [{"filename": "a.bin", "mime_type": "application/octet-stream", "data": big}],
            "conversation": pk, "mode": "base64"}))
        .await;
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert!(body.get("attachments[0].data").is_some(), "{body}");
    let listing = app.get_json(&format!("/api/conversations/{pk}/attachments/")).await;
    assert_eq!(listing["total_attachments"], 0);
}

#[tokio::test]
async fn manage_calls_rename_mark_update_feedback_and_soft_delete() {
    let app = spawn_app().await;
    let pk = app.conversation("c7", json!({"customer_id": "u"})).await;
    let client = &app.client;
    let auth = format!("Api-Key {}", app.key);
    let r = client
        .patch(format!("{}/api/conversations/{pk}/rename/", app.base))
        .header("Authorization", &auth)
        .json(&json!({"name": " Renamed "}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "Renamed");
    let r = client
        .post(format!("{}/api/conversations/{pk}/mark/", app.base))
        .header("Authorization", &auth)
        .json(&json!({"is_marked": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["is_marked"], true);
    let r = client
        .patch(format!("{}/api/conversations/{pk}/update/", app.base))
        .header("Authorization", &auth)
        .json(&json!({"metadata": {"a": 1}, "language": "EN"}))
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["metadata"], json!({"a": 1}));
    assert_eq!(v["language"], "en");
    let r = app
        .post(
            "/api/conversation-feedbacks/",
            &json!({"sentiment": "Positive", "conversation_id": "c7", "comment": "ok"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["source"], "customer");
    let r = client
        .delete(format!("{}/api/conversations/{pk}/delete/", app.base))
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["is_deleted"], true);
    assert_eq!(app.get_json("/api/conversations/").await["count"], 0);
    let all = app
        .get_json("/api/conversations/?include_deleted=true&has_feedback=true&is_marked=true&metadata=a:1")
        .await;
    assert_eq!(all["count"], 1);
    assert_eq!(app.get_json(&format!("/api/conversations/{pk}/")).await["feedbacks"][0]["comment"], "ok");
}

#[tokio::test]
async fn listing_pages_and_filters_by_message_text() {
    let app = spawn_app().await;
    for i in 0..7 {
        app.message(
            &format!("p{i}"),
            "end_user",
            if i % 2 == 0 { "Refund please" } else { "hello" },
            &format!("2026-05-0{}T10:00:00Z", i + 1),
        )
        .await;
    }
    let p1 = app.get_json("/api/conversations/?page_size=3").await;
    assert_eq!(p1["count"], 7);
    assert_eq!(p1["total_pages"], 3);
    assert_eq!(p1["results"][0]["conversation_id"], "p6", "newest first");
    assert!(p1["next"].as_str().unwrap().contains("page=2"));
    let p3 = app.get_json("/api/conversations/?page_size=3&page=3").await;
    assert_eq!(p3["results"].as_array().unwrap().len(), 1);
    assert_eq!(p3["next"], Value::Null);
    let refunds = app.get_json("/api/conversations/?message_contains=refund").await;
    assert_eq!(refunds["count"], 4);
    let window =
        app.get_json("/api/conversations/?started_at_after=2026-05-02&started_at_before=2026-05-03").await;
    assert_eq!(window["count"], 2);
}

#[tokio::test]
async fn page_links_use_the_configured_public_url_and_not_the_host_header() {
    for (public, want) in [
        (None, "http://evil.example/api/conversations/?page_size=1&page=2"),
        (Some("https://as.example.com/"), "https://as.example.com/api/conversations/?page_size=1&page=2"),
    ] {
        let app = crate::helpers::spawn_app_with(|s| s.public_url = public.map(str::to_string)).await;
        app.conversation("a", json!({})).await;
        app.conversation("b", json!({})).await;
        let r = app
            .client
            .get(format!("{}/api/conversations/?page_size=1", app.base))
            .header("Authorization", format!("Api-Key {}", app.key))
            .header("Host", "evil.example")
            .send()
            .await
            .unwrap();
        let page: Value = r.json().await.unwrap();
        assert_eq!(page["next"], want, "public URL {public:?}");
    }
}

/// 0.0.x re-sends (docs/sdk-protocol.md): the SDK retries a POST after a network error with the
/// same body (`timestamp` is when the item was tracked). The retry is answered like the first
/// attempt (same status and body, same id) and nothing is stored twice; a message without a
/// `timestamp` is never taken for a re-send.
#[tokio::test]
async fn a_resent_message_action_or_button_is_answered_as_stored_and_stored_once() {
    let app = spawn_app().await;
    let pk = app.conversation("r1", json!({})).await;
    let posts = [
        (
            "/api/track/",
            json!({"conversation": pk, "conversation_id": "r1", "sender": "end_user", "content": "hi",
                "metadata": {"a": 1}, "timestamp": "2026-05-01T10:00:00.123456Z"}),
        ),
        (
            "/api/action_logs/",
            json!({"conversation": pk, "conversation_id": "r1", "action_name": "lookup", "duration_ms": 5,
                "response": "ok", "metadata": {}, "timestamp": "2026-05-01T10:00:01Z"}),
        ),
        (
            "/api/buttons/",
            json!({"conversation": pk, "button_event": "feedback", "label": "Yes", "value": "yes",
                "metadata": {}, "timestamp": "2026-05-01T10:00:02Z"}),
        ),
    ];
    for (path, body) in &posts {
        let first = app.post(path, body).await;
        assert_eq!(first.status(), 201, "{path}");
        let first: Value = first.json().await.unwrap();
        let again = app.post(path, body).await;
        assert_eq!(again.status(), 201, "{path}");
        let again: Value = again.json().await.unwrap();
        assert_eq!(again, first, "{path}");
    }
    let t = app.get_json(&format!("/api/conversations/{pk}/")).await;
    let m = t["messages"].as_array().unwrap();
    assert_eq!(m.len(), 3, "{m:?}");
    assert_eq!(t["message_count"], 1);
    // One microsecond later is another message.
    let mut later = posts[0].1.clone();
    later["timestamp"] = json!("2026-05-01T10:00:00.123457Z");
    assert_eq!(app.post("/api/track/", &later).await.status(), 201);
    // No timestamp: stored each time.
    let untimed = json!({"conversation": pk, "conversation_id": "r1", "sender": "agent", "content": "same"});
    let u1: Value = app.post("/api/track/", &untimed).await.json().await.unwrap();
    let u2: Value = app.post("/api/track/", &untimed).await.json().await.unwrap();
    assert_ne!(u1["id"], u2["id"]);
    let t = app.get_json(&format!("/api/conversations/{pk}/")).await;
    assert_eq!(t["message_count"], 4);
}
