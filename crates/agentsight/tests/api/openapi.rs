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
