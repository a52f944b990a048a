//! `GET /readyz`: ready on a fresh app; a write the file system really refuses makes it not
//! ready, naming the failure, until a later write succeeds.

use agentsight_store::prelude::*;
use reqwest::StatusCode;
use rustix::process::{Resource, Rlimit, Signal, getrlimit, setrlimit};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

/// Waits until the metrics engine has loaded (a fresh app's index loads in the background;
/// `/readyz` says "loading" meanwhile, which is its job).
async fn engine_loaded(app: &TestApp) {
    while app.store.engine_status().await.phase == "loading" {
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let r = app.client.get(format!("{}/readyz", app.base)).send().await.unwrap();
    (r.status(), r.json().await.unwrap())
}

#[tokio::test]
async fn readyz_is_200_on_a_fresh_app_without_credentials_and_names_every_check() {
    let app = spawn_app().await;
    engine_loaded(&app).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["checks"]["stores"]["ok"], true);
    assert_eq!(body["checks"]["metrics_engine"]["ok"], true);
    // The test data dir has no geolocation files: ready, but reported off.
    assert_eq!(body["checks"]["geolocation"]["status"], "off");
    assert_eq!(body["checks"]["geolocation"]["ok"], true);
}

/// Lowers this process's file size limit to 0 while alive: every write to a regular file fails
/// with EFBIG, even as root (where permissions do not stop writes). SIGXFSZ, which such a write
/// raises, is caught so the process is not killed. The limit is process-wide: nextest runs each
/// test in a process of its own.
struct NoFileWrites {
    old: Rlimit,
}

impl NoFileWrites {
    fn start() -> NoFileWrites {
        let old = getrlimit(Resource::Fsize);
        setrlimit(Resource::Fsize, Rlimit { current: Some(0), maximum: old.maximum }).unwrap();
        NoFileWrites { old }
    }
}

impl Drop for NoFileWrites {
    fn drop(&mut self) {
        setrlimit(Resource::Fsize, Rlimit { current: self.old.current, maximum: self.old.maximum }).unwrap();
    }
}

#[tokio::test]
async fn a_write_the_disk_refuses_makes_it_not_ready_until_a_write_succeeds() {
    let app = spawn_app().await;
    engine_loaded(&app).await;
    let _caught =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(Signal::XFSZ.as_raw()))
            .unwrap();
    let refused = {
        let _limit = NoFileWrites::start();
        app.post("/api/conversations/", &json!({ "conversation_id": "refused" })).await
    };
    let (refused_status, retry_after) = (refused.status(), refused.headers().get("retry-after").cloned());

    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["ready"], false);
    let stores = &body["checks"]["stores"];
    assert_eq!(stores["ok"], false, "{body}");
    // SQLite reports a refused write as an I/O error (or a full disk for a short write).
    let kind = stores["status"].as_str().unwrap();
    assert!(kind == "I/O error" || kind == "disk full", "{body}");
    // A full disk is a 503 asking to retry later (error.rs); any other lasting failure a 500.
    if kind == "disk full" {
        assert_eq!(refused_status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(retry_after.is_some(), "a 503 for a full disk says when to retry");
    } else {
        assert_eq!(refused_status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert!(stores["error"].as_str().unwrap().contains("storage failure"), "{body}");
    assert_eq!(stores["request"], "POST /api/conversations/");
    // Reads that succeed do not make it ready again.
    app.get_json("/api/conversations/").await;
    assert_eq!(readyz(&app).await.0, StatusCode::SERVICE_UNAVAILABLE);

    // The disk takes writes again: the next successful write clears it.
    app.conversation("accepted", json!({})).await;
    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
