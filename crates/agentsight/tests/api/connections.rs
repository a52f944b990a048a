//! Connection limits: a slow or idle connection is closed after the header timeout, and at
//! the connection cap new clients wait until a connection closes, then are served.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{TestApp, spawn_app_with};

/// Far longer than any wait the tests expect: only a server that never closes reaches it.
const GENEROUS: Duration = Duration::from_secs(60);

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.base.trim_start_matches("http://")).await.unwrap()
}

/// Sends a complete keep-alive request and reads its response (head and body).
async fn get_healthz(s: &mut TcpStream) -> String {
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed before the response ended: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some(end) = text.find("\r\n\r\n") {
            let len: usize = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap())
                })
                .unwrap();
            if buf.len() >= end + 4 + len {
                return text;
            }
        }
    }
}

/// Reads until the server closes the connection; what it sent before closing.
async fn read_until_closed(s: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(GENEROUS, s.read_to_end(&mut buf))
        .await
        .expect("the server closes the connection")
        .unwrap_or_default();
    String::from_utf8_lossy(&buf).to_string()
}

#[tokio::test]
async fn half_sent_idle_and_kept_alive_idle_connections_are_closed_after_the_header_timeout() {
    let app = spawn_app_with(|s| s.header_read_timeout = Duration::from_secs(1)).await;
    // Half a request head, then nothing.
    let mut half = connect(&app).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n").await.unwrap();
    // Nothing at all.
    let mut silent = connect(&app).await;
    // One complete request, then idle on the kept-alive connection.
    let mut kept = connect(&app).await;
    assert!(get_healthz(&mut kept).await.starts_with("HTTP/1.1 200"));
    for (what, s) in [("half head", &mut half), ("silent", &mut silent), ("kept alive", &mut kept)] {
        let sent = read_until_closed(s).await;
        assert!(!sent.contains("200 OK"), "{what}: {sent}");
    }
    // The server still serves.
    assert_eq!(app.client.get(format!("{}/healthz", app.base)).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn at_the_connection_cap_a_new_client_waits_and_is_served_when_a_connection_closes() {
    let app = spawn_app_with(|s| {
        s.max_connections = 3;
        s.header_read_timeout = Duration::from_secs(300);
    })
    .await;
    // Three accepted keep-alive connections (each answered once), held open.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut s = connect(&app).await;
        assert!(get_healthz(&mut s).await.starts_with("HTTP/1.1 200"));
        held.push(s);
    }
    let base = app.base.clone();
    let newcomer = tokio::spawn(async move {
        let client = reqwest::Client::new();
        client.get(format!("{base}/healthz")).send().await.map(|r| r.status())
    });
    // While the cap is full it is not served (waiting can only make this pass, never fail
    // a correct server).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!newcomer.is_finished(), "served beyond the cap");
    // One connection closes: the newcomer is taken and served.
    drop(held.remove(0));
    let status = tokio::time::timeout(GENEROUS, newcomer).await.expect("served after a slot freed").unwrap();
    assert_eq!(status.unwrap(), 200);
    // The held connections were not disturbed.
    assert!(get_healthz(&mut held[0]).await.starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn idle_connections_holding_the_whole_cap_are_dropped_at_the_timeout_and_a_new_client_served() {
    let app = spawn_app_with(|s| {
        s.max_connections = 4;
        s.header_read_timeout = Duration::from_secs(1);
    })
    .await;
    let mut idle = Vec::new();
    for _ in 0..4 {
        let mut s = connect(&app).await;
        assert!(get_healthz(&mut s).await.starts_with("HTTP/1.1 200"));
        idle.push(s);
    }
    let r =
        tokio::time::timeout(GENEROUS, reqwest::Client::new().get(format!("{}/healthz", app.base)).send())
            .await
            .expect("served once the idle connections time out")
            .unwrap();
    assert_eq!(r.status(), 200);
    for s in &mut idle {
        read_until_closed(s).await;
    }
}
