//! Bad input: a DRF-shaped 4xx naming the field, never a 500, and nothing stored changes.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

async fn snapshot(app: &TestApp, pk: i64) -> Value {
    app.get_json(&format!("/api/conversations/{pk}/")).await
}

#[tokio::test]
async fn every_kind_of_bad_input_is_a_named_4xx_and_changes_nothing() {
    let app = spawn_app().await;
    let pk = app.conversation("v1", json!({"customer_id": "u1", "device": "desktop"})).await;
    app.message("v1", "end_user", "hello", "2026-05-01T10:00:00Z").await;
    let before = snapshot(&app, pk).await;

    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        ("/api/track/", b"{\"content\": \"x\", ".to_vec(), 400, "detail"),
        (
            "/api/track/",
            br#"{"content": 5, "sender": "agent", "conversation_id": "v1"}"#.to_vec(),
            400,
            "content",
        ),
        ("/api/conversations/", br#"{"conversation_id": "v1", "device": "fridge"}"#.to_vec(), 400, "device"),
        (
            "/api/conversations/",
            br#"{"conversation_id": "v1", "timestamp": "last tuesday"}"#.to_vec(),
            400,
            "timestamp",
        ),
        (
            "/api/conversations/",
            br#"{"conversation_id": "v1", "environment": "staging"}"#.to_vec(),
            400,
            "environment",
        ),
        (
            "/api/conversations/",
            br#"{"conversation_id": "v1", "metadata": "not an object"}"#.to_vec(),
            400,
            "metadata",
        ),
        (
            "/api/track/",
            br#"{"content": "x", "sender": "agent", "conversation": 999999}"#.to_vec(),
            400,
            "conversation",
        ),
        (
            "/api/conversation-feedbacks/",
            br#"{"sentiment": "meh", "conversation_id": "v1"}"#.to_vec(),
            400,
            "sentiment",
        ),
        (
            "/api/conversation-feedbacks/",
            br#"{"sentiment": "positive", "conversation_id": "nope"}"#.to_vec(),
            400,
            "conversation_id",
        ),
    ];
    for (path, body, status, field) in cases {
        let r = app.post_raw(path, body.clone()).await;
        assert_eq!(r.status().as_u16(), status, "{path} {}", String::from_utf8_lossy(&body));
        let v: Value = r.json().await.unwrap();
        assert!(v.get(field).is_some(), "{path}: expected {field} in {v}");
    }

    // Invalid UTF-8 inside a string.
    let mut body = br#"{"sender":"agent","conversation_id":"v1","content":""#.to_vec();
    body.extend_from_slice(&[0xc3, 0x28]);
    body.extend_from_slice(br#""}"#);
    let r = app.post_raw("/api/track/", body).await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("content").is_some());

    // A 10 MB string.
    let huge = json!({"sender": "agent", "conversation_id": "v1", "content": "x".repeat(10 << 20)});
    let r = app.post("/api/track/", &huge).await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["content"][0].as_str().unwrap().contains("100000"));

    // Deeply nested metadata, within and beyond serde_json's own recursion limit.
    for depth in [40usize, 5_000] {
        let body = format!(
            r#"{{"conversation_id":"v1","metadata":{}1{}}}"#,
            r#"{"a":"#.repeat(depth),
            "}".repeat(depth)
        );
        let r = app.post_raw("/api/conversations/", body.into_bytes()).await;
        assert_eq!(r.status(), 400, "depth {depth}");
        assert!(r.json::<Value>().await.unwrap().get("metadata").is_some());
    }

    // Wrong content type.
    let r = app
        .client
        .post(format!("{}/api/track/", app.base))
        .header("Authorization", format!("Api-Key {}", app.key))
        .header("Content-Type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    assert_eq!(snapshot(&app, pk).await, before, "bad input changed stored data");
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let app = crate::helpers::spawn_app_with(|s| s.max_body_bytes = 4096).await;
    let r = app
        .post(
            "/api/track/",
            &json!({"sender": "agent", "conversation_id": "x", "content": "y".repeat(10_000)}),
        )
        .await;
    assert_eq!(r.status(), 413);
    assert!(r.json::<Value>().await.unwrap()["detail"].as_str().unwrap().contains("4096"));
}

#[tokio::test]
async fn unknown_paths_and_missing_slashes_are_json_404s() {
    let app = spawn_app().await;
    for path in ["/api/track", "/api/nothing/", "/api/conversations/abc/"] {
        let r = app.get_as(&app.key, path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert_eq!(r.json::<Value>().await.unwrap()["detail"], "Not found.");
    }
}

/// Dates beyond 1970..=9999 once overflowed the metrics' day arithmetic (a panic, a 500).
const FAR_DATES: [&str; 4] = ["%2B262142-12-31", "262142-12-31", "10000-01-01", "1969-12-31"];

#[tokio::test]
async fn dates_outside_1970_to_9999_are_400s_naming_the_field_on_every_endpoint() {
    let app = spawn_app().await;
    for date in FAR_DATES {
        for (path, field) in [
            ("/api/metrics/overview/", "from"),
            ("/api/metrics/overview/", "to"),
            ("/api/metrics/timeseries/", "from"),
            ("/api/metrics/timeseries/", "to"),
            ("/api/metrics/users/", "from"),
            ("/api/metrics/users/", "to"),
            ("/api/metrics/llm/", "from"),
            ("/api/metrics/llm/", "to"),
            ("/api/conversations/", "from"),
            ("/api/conversations/", "to"),
            ("/api/conversations/", "started_at_after"),
            ("/api/conversations/", "started_at_before"),
            ("/api/spans/", "started_at_after"),
            ("/api/spans/", "started_at_before"),
            ("/api/token-usage/", "started_at_after"),
            ("/api/token-usage/summary/", "started_at_before"),
            ("/api/feedbacks/", "created_at_after"),
        ] {
            let r = app.get_as(&app.key, &format!("{path}?{field}={date}")).await;
            assert_eq!(r.status(), 400, "{path}?{field}={date}");
            let body: Value = r.json().await.unwrap();
            assert!(body.get(field).is_some(), "{path}?{field}={date}: {body}");
        }
    }
    // The edges themselves are accepted.
    for q in ["from=1970-01-01&to=1970-01-02", "from=9999-12-30&to=9999-12-31"] {
        for path in [
            "/api/metrics/overview/?",
            "/api/metrics/timeseries/?metric=messages&",
            "/api/metrics/llm/?",
            "/api/metrics/users/?interval=week&",
            "/api/conversations/?",
        ] {
            assert_eq!(app.get_as(&app.key, &format!("{path}{q}")).await.status(), 200, "{path}{q}");
        }
    }
}

#[tokio::test]
async fn too_many_metadata_filter_pairs_are_a_400_naming_metadata() {
    use agentsight_core::limits::MAX_METADATA_FILTER_PAIRS;
    let app = spawn_app().await;
    app.conversation("m1", json!({"metadata": {"k0": "v0", "k1": "v1"}})).await;
    let pairs = |n: usize| (0..n).map(|i| format!("k{i}:v{i}")).collect::<Vec<_>>().join(",");
    for n in [MAX_METADATA_FILTER_PAIRS + 1, 2000] {
        let r = app.get_as(&app.key, &format!("/api/conversations/?metadata={}", pairs(n))).await;
        assert_eq!(r.status(), 400, "{n} pairs");
        let body: Value = r.json().await.unwrap();
        assert!(
            body["metadata"][0].as_str().unwrap().contains(&MAX_METADATA_FILTER_PAIRS.to_string()),
            "{body}"
        );
    }
    let r = app.get_as(&app.key, &format!("/api/conversations/?metadata={}", pairs(2))).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["count"], 1);
    let r = app
        .get_as(&app.key, &format!("/api/conversations/?metadata={}", pairs(MAX_METADATA_FILTER_PAIRS)))
        .await;
    assert_eq!(r.status(), 200, "exactly the limit is fine");
}

/// U+0000 in a body is stored as U+FFFD on every backend (PostgreSQL cannot hold it), in the
/// 0.0.x bodies, the 0.1.x span batches and metadata keys alike; in a query or path it is a 400
/// naming the parameter.
#[tokio::test]
async fn nul_characters_are_replaced_in_bodies_and_refused_in_queries() {
    let app = spawn_app().await;
    let r = app
        .post_raw(
            "/api/track/",
            br#"{"conversation_id": "n\u00001", "sender": "end_user", "content": "a\u0000b \\u0000",
                "metadata": {"k\u0000": "v\u0000"}}"#
                .to_vec(),
        )
        .await;
    assert_eq!(r.status().as_u16(), 201);
    let m: Value = r.json().await.unwrap();
    assert_eq!(m["content"], "a\u{FFFD}b \\u0000", "an escaped backslash stays text");
    assert_eq!(m["metadata"], json!({"k\u{FFFD}": "v\u{FFFD}"}));
    let c = app.get_json("/api/conversations/lookup/?conversation_id=n%EF%BF%BD1").await;
    assert!(c["id"].as_i64().is_some(), "{c}");

    for path in [
        "/api/conversations/?customer_id=a%00b",
        "/api/metrics/overview/?from=2026-01-01&to=2026-01-02&customer_id=%00",
        "/api/conversations/lookup/?conversation_id=n%001",
    ] {
        let r = app.get_as(&app.key, path).await;
        assert_eq!(r.status().as_u16(), 400, "{path}");
        let v: Value = r.json().await.unwrap();
        let field = if path.contains("conversation_id") { "conversation_id" } else { "customer_id" };
        assert!(v[field][0].as_str().unwrap().contains("U+0000"), "{path}: {v}");
    }
    let r = app.get_as(&app.key, "/api/conversations/a%00/").await;
    assert_eq!(r.status().as_u16(), 400);
}
