//! `--trusted-proxy`: X-Forwarded-For/-Proto/-Host are believed from a trusted peer only. The
//! test client connects from 127.0.0.1: untrusted by default, trusted when the settings say so.

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app_with};

const PASSWORD: &str = "a long password";

async fn login_with(app: &TestApp, email: &str, password: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = app
        .client
        .post(format!("{}/api/auth/login/", app.base))
        .json(&json!({"email": email, "password": password}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.send().await.unwrap()
}

async fn setup_admin(app: &TestApp, headers: &[(&str, &str)]) -> Response {
    let token = app.setup_token.clone().expect("a setup token");
    let mut req = app
        .client
        .post(format!("{}/api/auth/setup/", app.base))
        .json(&json!({"token": token, "email": "admin@example.com", "password": PASSWORD}));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    assert_eq!(r.status(), 201);
    r
}

fn set_cookie(r: &Response) -> String {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("agentsight_session="))
        .expect("a session cookie")
        .to_string()
}

fn is_secure(cookie: &str) -> bool {
    cookie.split(';').any(|a| a.trim().eq_ignore_ascii_case("secure"))
}

/// More failed sign-ins than one client may make, sent at once (each for another e-mail, so
/// only the per-client budgets are spent), the `i`th with `X-Forwarded-For: xff(i)`; the
/// statuses. All arrive well within the seconds the limiter takes to grant another attempt.
async fn burst_of_sign_ins(app: &TestApp, tag: &str, xff: impl Fn(u32) -> String) -> Vec<u16> {
    let n = agentsight_server::auth::LOGIN_PER_CLIENT_PER_MINUTE + 5;
    let mut attempts = tokio::task::JoinSet::new();
    for i in 0..n {
        let req = app
            .client
            .post(format!("{}/api/auth/login/", app.base))
            .header("X-Forwarded-For", xff(i))
            .json(&json!({"email": format!("{tag}{i}@example.com"), "password": "wrong password!"}));
        attempts.spawn(async move { req.send().await.unwrap().status().as_u16() });
    }
    let statuses = attempts.join_all().await;
    assert!(statuses.iter().all(|s| *s == 400 || *s == 429), "{statuses:?}");
    statuses
}

async fn next_link(app: &TestApp, headers: &[(&str, &str)]) -> Value {
    let mut req = app
        .client
        .get(format!("{}/api/conversations/?page_size=1", app.base))
        .header("Authorization", format!("Api-Key {}", app.key));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let page: Value = req.send().await.unwrap().json().await.unwrap();
    page["next"].clone()
}

const SPOOF: [(&str, &str); 3] = [
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "evil.example"),
    ("X-Forwarded-For", "203.0.113.66"),
];

#[tokio::test]
async fn forwarded_headers_from_an_untrusted_peer_change_nothing() {
    let app = spawn_app_with(|_| {}).await;
    let r = setup_admin(&app, &SPOOF).await;
    assert!(!is_secure(&set_cookie(&r)), "a spoofed X-Forwarded-Proto gives no Secure cookie");
    let r = login_with(&app, "admin@example.com", PASSWORD, &SPOOF).await;
    assert_eq!(r.status(), 200);
    assert!(!is_secure(&set_cookie(&r)), "{}", set_cookie(&r));
    // Every attempt claims another client: the limiter still counts the one real peer.
    let statuses = burst_of_sign_ins(&app, "u", |i| format!("198.51.100.{}", i + 1)).await;
    assert!(statuses.contains(&429), "spoofed X-Forwarded-For addresses escaped the limit: {statuses:?}");
    // Links are built on the Host header, not on what X-Forwarded-* claims.
    app.conversation("a", json!({})).await;
    app.conversation("b", json!({})).await;
    let host = app.base.trim_start_matches("http://").to_string();
    assert_eq!(next_link(&app, &SPOOF).await, format!("http://{host}/api/conversations/?page_size=1&page=2"));
}

#[tokio::test]
async fn forwarded_headers_from_a_trusted_proxy_are_believed() {
    let app = spawn_app_with(|s| {
        s.trusted_proxies = vec![agentsight_server::proxy::parse_trusted_proxy("127.0.0.0/8").unwrap()];
    })
    .await;
    let r = setup_admin(&app, &[("X-Forwarded-Proto", "https")]).await;
    assert!(is_secure(&set_cookie(&r)), "{}", set_cookie(&r));
    let r = login_with(&app, "admin@example.com", PASSWORD, &[]).await;
    assert!(!is_secure(&set_cookie(&r)), "plain http through the proxy: no Secure");
    let r = login_with(&app, "admin@example.com", PASSWORD, &[("X-Forwarded-Proto", "https")]).await;
    assert!(is_secure(&set_cookie(&r)), "{}", set_cookie(&r));
    // The client is the right-most address the proxy did not add for itself: what a client
    // writes in front of it is not believed, and another client has its own budget.
    let many = burst_of_sign_ins(&app, "u", |i| format!("198.51.101.{i}")).await;
    assert!(many.iter().all(|s| *s == 400), "each client behind the proxy has its own budget: {many:?}");
    let one = burst_of_sign_ins(&app, "v", |i| format!("10.9.9.{i}, 198.51.100.7, 127.0.0.2")).await;
    assert!(one.contains(&429), "one client, whatever it writes in front, has one budget: {one:?}");
    app.conversation("a", json!({})).await;
    app.conversation("b", json!({})).await;
    assert_eq!(
        next_link(&app, &SPOOF).await,
        "https://evil.example/api/conversations/?page_size=1&page=2",
        "the proxy's scheme and host make the links when no public URL is set"
    );
}

#[tokio::test]
async fn an_https_public_url_makes_session_cookies_secure() {
    let app = spawn_app_with(|s| s.public_url = Some("https://as.example.com".into())).await;
    let r = setup_admin(&app, &[]).await;
    assert!(is_secure(&set_cookie(&r)), "{}", set_cookie(&r));
    let r = login_with(&app, "admin@example.com", PASSWORD, &[]).await;
    assert!(is_secure(&set_cookie(&r)), "{}", set_cookie(&r));
}
