//! `GET /healthz` (liveness) and `GET /readyz` (readiness, [`crate::ready`]).

use agentsight_store::prelude::*;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::app::{AppState, Store};

/// 200 while the server runs.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses((status = 200, description = "The server runs.", body = super::openapi::Health)),
)]
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// 200 `{"ready": true, "checks": {…}}` when the server can do its job, 503 with the same shape
/// naming what is wrong otherwise (no credentials needed, as `/healthz`).
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    responses(
        (status = 200, description = "Ready.", body = super::openapi::Readiness),
        (status = 503, description = "Not ready: the checks name what is wrong.", body = super::openapi::Readiness),
    ),
)]
pub(crate) async fn readyz<S: Store>(State(st): State<AppState<S>>) -> (StatusCode, Json<Value>) {
    let engine = st.events.engine_status().await;
    let (ready, body) = crate::ready::readiness(
        &st.write_health,
        &engine.phase,
        engine.fault.as_deref(),
        st.enrich.locate.is_some(),
    );
    (if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE }, Json(body))
}
