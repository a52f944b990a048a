//! Shutdown (what SIGTERM starts; here the future `run_until_stopped` was given resolves): the
//! server stops accepting, ends the live feed's streams, lets the request in flight finish,
//! and cuts what is still open at the shutdown timeout.

use std::time::Duration;

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::helpers::{TestApp, spawn_app_until};

/// Far longer than any wait the tests expect: only a server that never finishes reaches it.
const GENEROUS: Duration = Duration::from_secs(60);

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_string()
}

/// A `POST /api/track/` on a raw connection, its head sent with `Expect: 100-continue`, and the
/// first `sent` bytes of its body sent once the server asked for the body, i.e. once the handler
/// reads it: the request is in flight. The connection and the whole body.
async fn request_in_flight(app: &TestApp, cid: &str, sent: usize) -> (TcpStream, Vec<u8>) {
    let body = json!({"conversation_id": cid, "sender": "end_user", "content": "sent across the shutdown",
        "timestamp": chrono::Utc::now().to_rfc3339(), "conversation": null, "metadata": {}})
    .to_string()
    .into_bytes();
    let mut s = TcpStream::connect(addr(app)).await.unwrap();
    let head = format!(
        "POST /api/track/ HTTP/1.1\r\nHost: test\r\nAuthorization: Api-Key {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        app.key,
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while !String::from_utf8_lossy(&got).contains("100 Continue\r\n\r\n") {
        let n = tokio::time::timeout(GENEROUS, s.read(&mut buf)).await.expect("100 Continue").unwrap();
        assert!(n > 0, "closed before asking for the body: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    s.write_all(&body[..sent]).await.unwrap();
    (s, body)
}

/// Waits until the server no longer accepts connections (its listener is closed).
async fn until_refused(app: &TestApp) {
    tokio::time::timeout(GENEROUS, async {
        while TcpStream::connect(addr(app)).await.is_ok() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the server stops accepting");
}

async fn read_to_close(s: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(GENEROUS, s.read_to_end(&mut out))
        .await
        .expect("the server closes the connection");
    String::from_utf8_lossy(&out).to_string()
}

#[tokio::test]
async fn at_shutdown_the_request_in_flight_is_answered_and_the_live_feed_ends() {
    let (stop, stopped) = oneshot::channel::<()>();
    let (app, running) = spawn_app_until(|s| s.shutdown_timeout = GENEROUS * 10, async move {
        let _ = stopped.await;
    })
    .await;
    let admin = app.admin().await;
    let mut feed = app.dash_get(&admin, &format!("/api/dash/live/?agent={}", app.agent_a)).await;
    assert_eq!(feed.status(), 200);
    let first = tokio::time::timeout(GENEROUS, feed.chunk()).await.unwrap().unwrap();
    assert!(first.is_some(), "the feed sends its first event");
    let (mut s, body) = request_in_flight(&app, "in-flight", 10).await;

    stop.send(()).unwrap();
    until_refused(&app).await;
    // Shutdown has begun; the request in flight gets the rest of its body and its answer.
    s.write_all(&body[10..]).await.unwrap();
    let answer = read_to_close(&mut s).await;
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    // The live feed's stream ends by itself (a stream left open would hold the drain for ten
    // times GENEROUS, and this test would time out below).
    tokio::time::timeout(GENEROUS, async { while feed.chunk().await.unwrap().is_some() {} })
        .await
        .expect("the live feed ends at shutdown");
    let drained = tokio::time::timeout(GENEROUS, running).await.expect("the server stops").unwrap().unwrap();
    assert_eq!(drained.cut, 0, "{drained:?}");
    assert!(drained.open >= 2, "the feed and the request were open: {drained:?}");
    // What was answered is committed.
    let db = rusqlite::Connection::open(app.store.path()).unwrap();
    let content: String = db
        .query_row(
            "SELECT m.content FROM messages m JOIN conversations c ON c.id = m.conversation_pk
             WHERE c.conversation_id = 'in-flight'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(content, "sent across the shutdown");
}

#[tokio::test]
async fn a_request_still_in_flight_at_the_shutdown_timeout_is_cut_and_the_server_stops() {
    let (stop, stopped) = oneshot::channel::<()>();
    let (app, running) = spawn_app_until(|s| s.shutdown_timeout = Duration::from_secs(1), async move {
        let _ = stopped.await;
    })
    .await;
    // Half a body, and the rest never comes.
    let (mut s, _) = request_in_flight(&app, "never-finished", 10).await;
    stop.send(()).unwrap();
    let drained = tokio::time::timeout(GENEROUS, running).await.expect("the server stops").unwrap().unwrap();
    assert_eq!((drained.open, drained.cut), (1, 1), "{drained:?}");
    let answer = read_to_close(&mut s).await;
    assert!(!answer.contains("HTTP/1.1 201"), "{answer}");
}
