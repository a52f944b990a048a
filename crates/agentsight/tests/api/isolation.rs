//! Keys: 401 without or with an unknown key, 403 for a read key writing, 404 across agents.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn missing_malformed_and_unknown_keys_are_401() {
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/api/conversations/", app.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.json::<Value>().await.unwrap()["detail"].is_string());
    for bad in ["nope", "ags_1a2b3c4d5e6f7890abcdef1234567890_a1b2c3"] {
        assert_eq!(app.get_as(bad, "/api/conversations/").await.status(), 401);
    }
    let r = app
        .client
        .get(format!("{}/api/conversations/", app.base))
        .header("Authorization", format!("Bearer {}", app.key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401, "only the Api-Key scheme is accepted");
}

#[tokio::test]
async fn a_read_key_reads_but_cannot_write() {
    let app = spawn_app().await;
    app.conversation("r1", json!({})).await;
    assert_eq!(app.get_as(&app.read_key, "/api/conversations/").await.status(), 200);
    let r = app
        .post_as(
            &app.read_key,
            "/api/track/",
            &json!({"conversation_id": "r1", "content": "x", "sender": "agent"}),
        )
        .await;
    assert_eq!(r.status(), 403);
    let found = app.get_json("/api/conversations/lookup/?conversation_id=r1").await;
    assert_eq!(found["message_count"], 0, "the refused write stored nothing");
}

#[tokio::test]
async fn an_agent_never_sees_or_writes_another_agents_conversation() {
    let app = spawn_app().await;
    let pk = app.conversation("secret", json!({"customer_id": "vip"})).await;
    assert_eq!(app.get_as(&app.other_key, &format!("/api/conversations/{pk}/")).await.status(), 404);
    assert_eq!(
        app.get_as(&app.other_key, &format!("/api/conversations/{pk}/attachments/")).await.status(),
        404
    );
    assert_eq!(
        app.get_as(&app.other_key, "/api/conversations/lookup/?conversation_id=secret").await.status(),
        404
    );
    let listed: Value = app.get_as(&app.other_key, "/api/conversations/").await.json().await.unwrap();
    assert_eq!(listed["count"], 0);
    let r = app
        .post_as(
            &app.other_key,
            "/api/track/",
            &json!({"conversation": pk, "conversation_id": "secret", "content": "x", "sender": "agent"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("conversation").is_some());
    let r = app
        .client
        .delete(format!("{}/api/conversations/{pk}/delete/", app.base))
        .header("Authorization", format!("Api-Key {}", app.other_key))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let mine = app.get_json(&format!("/api/conversations/{pk}/")).await;
    assert_eq!(mine["messages"].as_array().unwrap().len(), 0);
    assert_eq!(mine["is_deleted"], false);
}

#[tokio::test]
async fn a_write_refused_before_its_body_is_read_closes_the_connection_and_says_so() {
    let app = spawn_app().await;
    let body = json!({"conversation_id": "x", "content": "x", "sender": "agent"});
    let refused = app.post_as(&app.read_key, "/api/track/", &body).await;
    assert_eq!(refused.status(), 403);
    assert_eq!(refused.headers()["connection"], "close");
    let accepted = app.post("/api/track/", &body).await;
    assert_eq!(accepted.status(), 201);
    assert!(accepted.headers().get("connection").is_none_or(|v| v != "close"));
}
