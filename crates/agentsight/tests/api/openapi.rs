//! `GET /api/openapi.json` and `GET /api/reference/`: served without credentials, the document
//! the binary prints with `agentsight openapi`, and a page rendered from it.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_openapi_document_is_served_without_credentials() {
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/api/openapi.json", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/json");
    let text = r.text().await.unwrap();
    assert_eq!(text, agentsight_server::openapi_document(), "the served document is the printed one");
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    // Every plane is there.
    for p in ["/api/track/", "/api/ingest/", "/v1/traces", "/api/metrics/overview/", "/api/dash/agents/"] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
}

#[tokio::test]
async fn the_reference_page_is_served_from_the_same_document() {
    let app = spawn_app().await;
    let r = app.client.get(format!("{}/api/reference/", app.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/html; charset=utf-8");
    assert!(r.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    let page = r.text().await.unwrap();
    assert!(page.contains("AgentSight API reference"));
    assert!(page.contains("<code>/api/conversations/{pk}/rename/</code>"));
    assert!(page.contains("id=\"schema-TrackPayload\""));
}

/// Found by Schemathesis (`scripts/schemathesis.sh --max-examples 500`): a metadata key with a
/// backslash or a NUL was written into a SQLite JSON path, which SQLite refused: 500 on
/// `metadata-values/` and on the list filters `metadata_key=` and `metadata=key:value`. Every
/// key is a key: matched as text, answered 200. A NUL is stored as U+FFFD
/// (docs/sdk-protocol.md §1), so that key is asked for with U+FFFD; `%00` in a query is a 400
/// naming the parameter.
#[tokio::test]
async fn metadata_keys_with_backslashes_quotes_or_nul_are_matched_not_refused() {
    let app = spawn_app().await;
    let metadata = serde_json::json!({"\\": "back", "a\"b": "quote", "n\u{0}l": "nul", "plain": 7});
    app.conversation("c-odd-keys", serde_json::json!({ "metadata": metadata })).await;
    app.conversation("c-other", serde_json::json!({ "metadata": {"plain": 8} })).await;
    for (key, value, raw) in
        [("%5C", "back", "\"back\""), ("a%22b", "quote", "\"quote\""), ("n%EF%BF%BDl", "nul", "\"nul\"")]
    {
        let v = app.get_json(&format!("/api/conversations/metadata-values/?key={key}")).await;
        assert_eq!(v["values"], serde_json::json!([value]), "key {key}: {v} ({raw})");
        let list = app.get_json(&format!("/api/conversations/?metadata_key={key}")).await;
        assert_eq!(list["count"], 1, "metadata_key={key}");
        let list = app.get_json(&format!("/api/conversations/?metadata={key}:{value}")).await;
        assert_eq!(list["count"], 1, "metadata={key}:{value}");
        let list =
            app.get_json(&format!("/api/conversations/?metadata_key={key}&metadata_value={value}")).await;
        assert_eq!(list["count"], 1, "metadata_key={key}&metadata_value={value}");
    }
    let r = app.get_as(&app.key, "/api/conversations/metadata-values/?key=n%00l").await;
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.json::<serde_json::Value>().await.unwrap()["key"].is_array());
    // Values of other JSON types keep their JSON form.
    let v = app.get_json("/api/conversations/metadata-values/?key=plain").await;
    assert_eq!(v["values"], serde_json::json!([7, 8]));
    // A key no conversation has.
    let v = app.get_json("/api/conversations/metadata-values/?key=%5C%5C").await;
    assert_eq!(v["values"], serde_json::json!([]));
}
