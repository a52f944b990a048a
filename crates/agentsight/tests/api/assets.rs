//! The embedded dashboard: the page at `/` and every app route, hashed assets cached for a
//! year, unknown API paths still JSON 404s.

use crate::helpers::spawn_app;

/// The first `/assets/…` URL the page loads.
fn first_asset(html: &str, ext: &str) -> String {
    let end = html.find(ext).expect("an asset in the page");
    let start = html[..end].rfind("/assets/").expect("an /assets/ path");
    html[start..end + ext.len()].to_string()
}

#[tokio::test]
async fn the_page_is_served_at_the_root_and_at_every_app_route() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/login",
        "/setup?token=abc",
        "/agents/1",
        "/agents/1/conversations/9",
        "/share/abcdefgh12345678",
    ] {
        let res = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_eq!(res.headers()["content-type"], "text/html", "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let framing =
            if path.starts_with("/share/") { "frame-ancestors *" } else { "frame-ancestors 'none'" };
        assert!(csp.contains(framing), "{path}: {csp}");
        let body = res.text().await.unwrap();
        assert!(body.contains(r#"<div id="app""#), "{path}");
    }
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_and_a_missing_one_is_a_404() {
    let app = spawn_app().await;
    let html = app.client.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
    for ext in [".js", ".css"] {
        let asset = first_asset(&html, ext);
        let res = app.client.get(format!("{}{asset}", app.base)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{asset}");
        let ct = res.headers()["content-type"].to_str().unwrap().to_string();
        assert!(ct.starts_with(if ext == ".js" { "text/javascript" } else { "text/css" }), "{asset}: {ct}");
        assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert!(!res.bytes().await.unwrap().is_empty());
    }
    let res = app.client.get(format!("{}/assets/index-nothere.js", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn assets_are_gzipped_for_clients_that_take_it() {
    let app = spawn_app().await;
    let html = app.client.get(format!("{}/", app.base)).send().await.unwrap().text().await.unwrap();
    let asset = first_asset(&html, ".js");
    let plain = app.client.get(format!("{}{asset}", app.base)).send().await.unwrap().bytes().await.unwrap();
    let res = app
        .client
        .get(format!("{}{asset}", app.base))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-encoding"], "gzip");
    let gz = res.bytes().await.unwrap();
    assert!(gz.len() < plain.len() / 2, "{} vs {}", gz.len(), plain.len());
}

#[tokio::test]
async fn unknown_api_paths_and_writes_stay_json_404s() {
    let app = spawn_app().await;
    for path in ["/api/nope/", "/api", "/api/conversations"] {
        let res = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{path}");
    }
    let res = app.client.post(format!("{}/agents/1", app.base)).body("x").send().await.unwrap();
    assert_eq!(res.status(), 404);
    let res = app.client.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
