//! The 0.1.x span plane's entry points: `GET /api/me/` and `POST /api/ingest/` (gzip bodies,
//! whole-batch validation, per-agent rate limit).

use agentsight_store::prelude::*;
use std::borrow::Cow;
use std::num::NonZeroU32;

use agentsight_core::archive::{self, ArchiveError, ArchivedBody, Encoding};
use agentsight_core::time::{now_micros, to_iso};
use agentsight_protocol::v01 as wire;
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::app::{AppState, Store};
use crate::error::ApiError;
use crate::extract::{ReadKey, WriteKey, parse_json, read_body};

/// What this server tells the SDK's preflight it supports.
pub const CAPABILITIES: &[&str] = &["gzip-ingest"];

/// Per-agent ingest throttle.
pub struct IngestLimiter {
    limiter: DefaultKeyedRateLimiter<i64>,
}

impl IngestLimiter {
    /// A limiter of `rate` batches per second with `burst`; `None` when `rate` is 0 (no limit).
    pub fn new(rate: u32, burst: u32) -> Option<IngestLimiter> {
        let rate = NonZeroU32::new(rate)?;
        let burst = NonZeroU32::new(burst.max(1)).unwrap_or(rate);
        Some(IngestLimiter { limiter: RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)) })
    }

    /// `Err(seconds to wait)` when the agent is over its rate.
    pub fn check(&self, agent_id: i64) -> Result<(), u64> {
        self.limiter.check_key(&agent_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// `GET /api/me/`: the key's agent, role, environments and this server's capabilities.
#[utoipa::path(
    get,
    path = "/api/me/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    responses((status = 200, description = "The key's agent.", body = wire::MeResponse)),
)]
pub(crate) async fn get_me<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadKey,
) -> Result<Json<wire::MeResponse>, ApiError> {
    let envs = st.config.environments(key.agent_id()).await?;
    let p = &key.0.principal;
    Ok(Json(wire::MeResponse {
        agent_id: p.agent_id,
        agent_name: p.agent_name.clone(),
        role: p.role.as_str().to_string(),
        environments: envs
            .into_iter()
            .map(|e| wire::EnvironmentResponse {
                id: e.id,
                slug: e.slug,
                name: e.name,
                is_production: e.is_production,
                created_at: to_iso(e.created_at),
                updated_at: to_iso(e.created_at),
            })
            .collect(),
        capabilities: CAPABILITIES.iter().map(|c| c.to_string()).collect(),
    }))
}

/// `POST /api/ingest/`: 201 once the batch is archived, durably (its projection follows, and
/// every read waits for it); 400 with the B6 body when any block is bad (nothing written); 429
/// with `Retry-After` over the agent's rate; 413 when the JSON, decompressed, is over the body
/// limit; 415 for an encoding other than gzip.
#[utoipa::path(
    post,
    path = "/api/ingest/",
    tag = "sdk-0.1.x",
    security(("api_key" = [])),
    params(("Content-Encoding" = Option<String>, Header, description = "`gzip` for a gzip body.")),
    request_body = wire::IngestPayload,
    responses(
        (status = 201, description = "Archived.", body = wire::IngestResponse),
        (status = 400, description = "Nothing was written: the bad blocks by index (B6), or the bad fields.", body = super::openapi::IngestBadRequest),
        (status = 429, description = "Over the agent's ingest rate (`Retry-After`).", body = super::openapi::ErrorDetail),
    ),
)]
pub(crate) async fn ingest_spans<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    req: Request,
) -> Result<(StatusCode, Json<wire::IngestResponse>), ApiError> {
    let received = now_micros();
    if let Some(l) = &st.ingest_limiter {
        l.check(key.agent_id()).map_err(|s| ApiError::Throttled(s.max(1)))?;
    }
    if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        if !ct.is_empty() && !ct.to_ascii_lowercase().contains("json") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "Unsupported media type \"{ct}\" in request; send application/json."
            )));
        }
    }
    let gzip = gzip_encoded(req.headers())?;
    // The body is kept as received for the archive (a gzip body stays the client's gzip); the
    // limit applies to the JSON, decompressed, so a small bomb cannot grow past it.
    let limit = st.settings.max_body_bytes;
    let raw = read_body(req, limit).await?;
    // Decompressing, parsing and validating take CPU in proportion to the body: they run off the
    // threads that serve requests, a bounded number at once, so one large batch cannot stall
    // everyone else.
    let (enrich, scope) = (st.enrich.clone(), key.scope().clone());
    let (batch, body) =
        st.cpu.run(move || read_batch(&raw, gzip, limit, &enrich, &scope, received)).await??;
    let out = agentsight_ingest::span_batch(&st.events, batch, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(wire::IngestResponse {
            accepted: out.accepted,
            duplicates: out.duplicates,
            batch_id: out.batch_id,
            conversations: out.conversations,
        }),
    ))
}

/// A span batch's body read, validated whole and enriched: the batch to store and the body as it
/// will be archived (a gzip body as the client sent it).
pub(crate) fn read_batch(
    raw: &[u8],
    gzip: bool,
    limit: usize,
    enrich: &agentsight_ingest::Enrichment,
    scope: &agentsight_core::tracking::AgentScope,
    received: agentsight_core::time::Micros,
) -> Result<(agentsight_core::spans::SpanIngest, ArchivedBody), ApiError> {
    if raw.is_empty() {
        return Err(ApiError::BadRequest("JSON parse error - the body is empty".into()));
    }
    let not_utf8 = || ApiError::BadRequest("JSON parse error - the body is not UTF-8".into());
    let (text, body): (Cow<'_, str>, ArchivedBody) = if gzip {
        let text = archive::decode_as(Encoding::Gzip, raw, limit as u64).map_err(|e| match e {
            ArchiveError::TooLarge(_) => ApiError::TooLarge { field: None, limit },
            ArchiveError::NotText => not_utf8(),
            e => ApiError::BadRequest(format!("The gzip body could not be read: {e}")),
        })?;
        (Cow::Owned(text), ArchivedBody::of_gzip(raw.to_vec()))
    } else {
        let text = std::str::from_utf8(raw).map_err(|_| not_utf8())?;
        (Cow::Borrowed(text), ArchivedBody::of_plain(text))
    };
    // U+0000 becomes U+FFFD (normalize::NUL_REPLACEMENT); the archive then holds the text as
    // stored, not the client's body.
    let (text, body) = match agentsight_core::normalize::json_nul_escapes_replaced(text.as_bytes()) {
        Cow::Borrowed(_) => (text, body),
        Cow::Owned(fixed) => {
            let fixed = String::from_utf8(fixed).map_err(|_| not_utf8())?;
            let body = ArchivedBody::of_plain(&fixed);
            (Cow::Owned(fixed), body)
        }
    };
    let p: wire::IngestPayload<'_> = parse_json(text.as_bytes())?;
    Ok((agentsight_ingest::read_span_batch(enrich, scope, &text, &p, received)?, body))
}

/// Whether the body is gzip (`Content-Encoding: gzip`/`x-gzip`; none or `identity`: plain); any
/// other encoding is a 415. Shared by the span batches and OTLP.
pub(crate) fn gzip_encoded(headers: &axum::http::HeaderMap) -> Result<bool, ApiError> {
    match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap_or("?").trim()) {
        None | Some("" | "identity") => Ok(false),
        Some(e) if e.eq_ignore_ascii_case("gzip") || e.eq_ignore_ascii_case("x-gzip") => Ok(true),
        Some(e) => Err(ApiError::UnsupportedMediaType(format!(
            "Unsupported Content-Encoding \"{e}\"; send gzip or no encoding."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_answers_a_wait_once_the_burst_is_spent() {
        let l = IngestLimiter::new(1, 2).unwrap();
        assert!(l.check(1).is_ok() && l.check(1).is_ok());
        assert_eq!(l.check(1), Err(1));
        assert!(l.check(2).is_ok(), "another agent has its own budget");
        assert!(IngestLimiter::new(0, 5).is_none());
    }
}
