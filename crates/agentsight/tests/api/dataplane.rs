//! The 0.1.x data plane: `/api/feedbacks/` (three kinds), `/api/actions/`, `/api/track/{pk}/`
//! and the conversation metadata keys and values, with their 404s and named 400s.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    key: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = app
        .client
        .request(method, format!("{}{path}", app.base))
        .header("Authorization", format!("Api-Key {key}"));
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.unwrap()
}

async fn json_of(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    r.json().await.unwrap()
}

#[tokio::test]
async fn feedback_of_three_kinds_lists_updates_and_deletes() {
    let app = spawn_app().await;
    let mid = app.message("f1", "agent", "Hello", "2026-05-01T10:00:00Z").await;
    let vote = json_of(
        app.post(
            "/api/feedbacks/",
            &json!({"kind": "message", "message": mid, "sentiment": "negative", "comment": "slow"}),
        )
        .await,
        201,
    )
    .await;
    let again = json_of(
        app.post("/api/feedbacks/", &json!({"kind": "message", "message": mid, "sentiment": "positive"}))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (again["id"].clone(), again["sentiment"].clone(), again["comment"].clone()),
        (vote["id"].clone(), json!("positive"), json!("slow"))
    );
    let agent = json_of(
        app.post(
            "/api/feedbacks/",
            &json!({"kind": "agent", "sentiment": "neutral", "environment": "development"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!((agent["kind"].as_str(), agent["environment"].as_str()), (Some("agent"), Some("development")));
    let conv = json_of(
        app.post(
            "/api/feedbacks/",
            &json!({"kind": "conversation", "conversation_id": "f1", "sentiment": "positive"}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(conv["kind"], "conversation");

    let list = app.get_json("/api/feedbacks/").await;
    assert_eq!(list["count"], 3);
    let kinds: Vec<&str> =
        list["results"].as_array().unwrap().iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["conversation", "agent", "message"], "newest first");
    assert_eq!(app.get_json("/api/feedbacks/?kind=agent").await["count"], 1);

    for f in [&vote, &agent, &conv] {
        let path = format!("/api/feedbacks/{}/", f["id"]);
        assert_eq!(app.get_json(&path).await["id"], f["id"]);
        let patched = json_of(
            send(&app, reqwest::Method::PATCH, &app.key, &path, Some(json!({"comment": "edited"}))).await,
            200,
        )
        .await;
        assert_eq!(patched["comment"], "edited");
        assert_eq!(app.get_as(&app.other_key, &path).await.status(), 404, "another agent's feedback");
        let r = send(&app, reqwest::Method::DELETE, &app.other_key, &path, None).await;
        assert_eq!(r.status(), 404);
        assert_eq!(send(&app, reqwest::Method::DELETE, &app.key, &path, None).await.status(), 204);
        assert_eq!(app.get_as(&app.key, &path).await.status(), 404);
    }
    let r = app
        .post_as(
            &app.other_key,
            "/api/feedbacks/",
            &json!({"kind": "message", "message": mid, "sentiment": "positive"}),
        )
        .await;
    assert!([400, 404].contains(&r.status().as_u16()), "another agent's message: {}", r.status());
    let r =
        app.post("/api/feedbacks/", &json!({"kind": "message", "message": mid, "sentiment": "great!"})).await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("sentiment").is_some(), "the 400 names the field");
    let r = app
        .post(
            "/api/feedbacks/",
            &json!({"kind": "message", "message": mid, "sentiment": "positive", "topic": "no spaces"}),
        )
        .await;
    assert!(r.json::<Value>().await.unwrap().get("topic").is_some());
}

/// A feedback page may start at most `MAX_FEEDBACK_OFFSET` rows in (a deep page costs as much
/// as every row before it, on both backends): beyond, a 400 naming `page`; the last page
/// allowed is answered.
#[tokio::test]
async fn deep_feedback_pages_are_refused_naming_page() {
    use agentsight_core::limits::MAX_FEEDBACK_OFFSET;
    let app = spawn_app().await;
    let last = MAX_FEEDBACK_OFFSET / 100 + 1;
    let ok = app.get_as(&app.key, &format!("/api/feedbacks/?page_size=100&page={last}")).await;
    assert_ne!(ok.status(), 400, "the last page allowed is not refused");
    for q in
        [format!("page_size=100&page={}", last + 1), format!("page_size=1&page={}", MAX_FEEDBACK_OFFSET + 2)]
    {
        let r = app.get_as(&app.key, &format!("/api/feedbacks/?{q}")).await;
        assert_eq!(r.status(), 400, "{q}");
        let body: Value = r.json().await.unwrap();
        assert!(body["page"][0].as_str().unwrap().contains("created_at_before"), "{q}: {body}");
    }
}

#[tokio::test]
async fn actions_are_created_listed_patched_and_show_their_logs() {
    let app = spawn_app().await;
    let created = json_of(
        app.post("/api/actions/", &json!({"name": "lookup", "display_name": "Order lookup"})).await,
        201,
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    let r = app.post("/api/actions/", &json!({"name": "lookup"})).await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("name").is_some(), "a taken name is a 400 naming name");
    let r = app.post("/api/actions/", &json!({"display_name": "nameless"})).await;
    assert!(r.json::<Value>().await.unwrap().get("name").is_some());
    for (i, cid) in ["a1", "a2"].iter().enumerate() {
        let body = json!({"conversation_id": cid, "action_name": "lookup", "timestamp": format!("2026-05-01T10:00:0{i}Z")});
        assert_eq!(app.post("/api/action_logs/", &body).await.status().as_u16() / 100, 2);
    }
    let list = app.get_json("/api/actions/").await;
    assert_eq!(list["count"], 1);
    assert_eq!(list["results"][0]["name"], "lookup");
    let path = format!("/api/actions/{id}/");
    assert_eq!(app.get_json(&path).await["display_name"], "Order lookup");
    let patched = json_of(
        send(&app, reqwest::Method::PATCH, &app.key, &path, Some(json!({"description": "Finds orders"})))
            .await,
        200,
    )
    .await;
    assert_eq!(
        (patched["description"].as_str(), patched["name"].as_str()),
        (Some("Finds orders"), Some("lookup"))
    );
    let r = send(&app, reqwest::Method::PATCH, &app.key, &path, Some(json!({}))).await;
    assert_eq!(r.status(), 400);
    let logs = app.get_json(&format!("/api/actions/{id}/logs/")).await;
    let cids: Vec<&str> =
        logs.as_array().unwrap().iter().map(|l| l["conversation_id"].as_str().unwrap()).collect();
    assert_eq!(cids, ["a2", "a1"], "newest first");
    for p in [path.clone(), format!("/api/actions/{id}/logs/")] {
        assert_eq!(app.get_as(&app.other_key, &p).await.status(), 404, "another agent's action: {p}");
    }
    let r =
        send(&app, reqwest::Method::PATCH, &app.other_key, &path, Some(json!({"description": "x"}))).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_message_is_read_and_its_metadata_replaced_and_metadata_keys_and_values_listed() {
    let app = spawn_app().await;
    app.conversation("m1", json!({"metadata": {"plan": "pro", "vip": true}})).await;
    app.conversation("m2", json!({"metadata": {"plan": "free"}})).await;
    let mid = app.message("m1", "end_user", "Hi", "2026-05-01T10:00:00Z").await;
    let path = format!("/api/track/{mid}/");
    let got = app.get_json(&path).await;
    assert_eq!((got["content"].as_str(), got["conversation_id"].as_str()), (Some("Hi"), Some("m1")));
    assert_eq!(got["feedback"], Value::Null);
    let patched = json_of(
        send(&app, reqwest::Method::PATCH, &app.key, &path, Some(json!({"metadata": {"rated": true}}))).await,
        200,
    )
    .await;
    assert_eq!(patched["metadata"], json!({"rated": true}));
    let r = send(&app, reqwest::Method::PATCH, &app.key, &path, Some(json!({"metadata": [1]}))).await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("metadata").is_some(), "the 400 names metadata");
    assert_eq!(app.get_as(&app.other_key, &path).await.status(), 404, "another agent's message");
    let r = send(&app, reqwest::Method::PATCH, &app.other_key, &path, Some(json!({"metadata": {}}))).await;
    assert_eq!(r.status(), 404);

    assert_eq!(app.get_json("/api/conversations/metadata-keys/").await["keys"], json!(["plan", "vip"]));
    assert_eq!(app.get_json("/api/conversations/message-metadata-keys/").await["keys"], json!(["rated"]));
    let v = app.get_json("/api/conversations/metadata-values/?key=plan").await;
    assert_eq!(v["values"], json!(["free", "pro"]));
    let look = app.get_json("/api/conversations/lookup/?conversation_id=m1").await;
    assert_eq!(look["metadata"], json!({"plan": "pro", "vip": true}), "{look}");
    assert_eq!(app.get_json("/api/conversations/metadata-values/?key=vip").await["values"], json!([true]));
    let r = app.get_as(&app.key, "/api/conversations/metadata-values/").await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("key").is_some());
    let other = app.get_as(&app.other_key, "/api/conversations/metadata-keys/").await;
    assert_eq!(other.json::<Value>().await.unwrap()["keys"], json!([]));
}
