//! `GET /healthz`.

use axum::Json;
use serde_json::{Value, json};

/// 200 while the server runs.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}
