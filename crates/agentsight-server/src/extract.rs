//! Request extractors: the API key (→ principal) and JSON bodies whose errors name the field.

use agentsight_store::prelude::*;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agentsight_core::keys::{self, Role};
use agentsight_core::tracking::AgentScope;
use agentsight_store::Principal;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::app::{AppState, Store};
use crate::error::ApiError;

/// How long a key lookup is reused; a revoked key stops working within this time.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(1);

/// A verified key: who it speaks for, and the validation scope of its agent.
#[derive(Debug)]
pub struct Authed {
    /// The key's principal.
    pub principal: Principal,
    /// Its agent's validation scope.
    pub scope: AgentScope,
}

/// A verified key and when it was verified.
type Cached = (Instant, Arc<Authed>);

/// Recently verified keys, by hash.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<[u8; 32], Cached>>,
}

impl KeyCache {
    fn get(&self, hash: &[u8; 32]) -> Option<Arc<Authed>> {
        let map = self.entries.lock().ok()?;
        map.get(hash).filter(|(at, _)| at.elapsed() < KEY_CACHE_TTL).map(|(_, p)| p.clone())
    }

    fn put(&self, hash: [u8; 32], p: Arc<Authed>) {
        if let Ok(mut map) = self.entries.lock() {
            if map.len() > 10_000 {
                map.retain(|_, (at, _)| at.elapsed() < KEY_CACHE_TTL);
            }
            map.insert(hash, (Instant::now(), p));
        }
    }
}

/// Any valid key of an agent (read or write).
#[derive(Debug, Clone)]
pub struct ReadKey(pub Arc<Authed>);

/// A valid key with the `write` role.
#[derive(Debug, Clone)]
pub struct WriteKey(pub Arc<Authed>);

impl ReadKey {
    /// The agent the key belongs to.
    pub fn agent_id(&self) -> i64 {
        self.0.principal.agent_id
    }

    /// The agent, as responses name it.
    pub fn agent_ref(&self) -> agentsight_store::AgentRef {
        agentsight_store::AgentRef {
            id: self.0.principal.agent_id,
            name: self.0.principal.agent_name.clone(),
        }
    }
}

impl WriteKey {
    /// The agent the key belongs to.
    pub fn agent_id(&self) -> i64 {
        self.0.principal.agent_id
    }

    /// The validation scope of the key's agent.
    pub fn scope(&self) -> &AgentScope {
        &self.0.scope
    }
}

/// The key of the `Authorization` header, verified (401 when missing or unknown).
pub(crate) async fn principal<S: Store>(parts: &Parts, state: &AppState<S>) -> Result<Arc<Authed>, ApiError> {
    principal_with(parts, state, false).await
}

/// [`principal`], also taking `Authorization: Bearer <key>` when `bearer` (OTLP exporters).
pub(crate) async fn principal_with<S: Store>(
    parts: &Parts,
    state: &AppState<S>,
    bearer: bool,
) -> Result<Arc<Authed>, ApiError> {
    let Some(header) = parts.headers.get(header::AUTHORIZATION) else {
        // A share link's holder gets told what the link can do, not asked for a key.
        return Err(if crate::auth::has_share_token(parts) {
            ApiError::Forbidden(crate::auth::SHARE_ONLY)
        } else {
            ApiError::Unauthenticated("Authentication credentials were not provided.")
        });
    };
    let value = header.to_str().map_err(|_| ApiError::Unauthenticated("Invalid API key."))?;
    let (scheme, key) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !(scheme.eq_ignore_ascii_case("Api-Key") || bearer && scheme.eq_ignore_ascii_case("Bearer")) {
        return Err(ApiError::Unauthenticated("Use the header 'Authorization: Api-Key <key>'."));
    }
    let key = key.trim();
    if !keys::is_well_formed(key) {
        return Err(ApiError::Unauthenticated("Invalid API key."));
    }
    let hash = keys::hash(key);
    if let Some(p) = state.keys.get(&hash) {
        return Ok(p);
    }
    let found = state.config.authenticate(hash).await?;
    match found {
        Some(p) if keys::hashes_equal(&p.key_hash, &hash) => {
            let scope = AgentScope { agent_id: p.agent_id, environments: p.environments.clone() };
            let authed = Arc::new(Authed { principal: p, scope });
            state.keys.put(hash, authed.clone());
            Ok(authed)
        }
        _ => Err(ApiError::Unauthenticated("Invalid API key.")),
    }
}

impl<S: Store> FromRequestParts<AppState<S>> for ReadKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        principal(parts, state).await.map(ReadKey)
    }
}

impl<S: Store> FromRequestParts<AppState<S>> for WriteKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        let p = principal(parts, state).await?;
        if p.principal.role != Role::Write {
            return Err(ApiError::Forbidden("This API key is read-only; writes need a write key."));
        }
        Ok(WriteKey(p))
    }
}

/// A JSON body deserialized into `T`, with the body limit and field-naming errors.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

/// Reads the whole body up to `limit` bytes, answering 413 beyond it.
pub async fn read_body(req: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(req.into_body(), limit).await.map_err(|e| {
        // The limit is reported as http-body-util's error type somewhere in the source chain.
        let too_large = std::iter::successors(Some(&e as &(dyn std::error::Error + 'static)), |e| e.source())
            .any(|e| e.is::<http_body_util::LengthLimitError>());
        if too_large {
            ApiError::TooLarge { field: None, limit }
        } else {
            ApiError::BadRequest(format!("Could not read the request body: {e}"))
        }
    })
}

/// Parses JSON into `T`; a type error names the field's path, a syntax error inside a field
/// (invalid UTF-8, nesting too deep) names the field too.
pub fn parse_json<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<T, ApiError> {
    // The happy path parses directly; only a failure is parsed again to learn the field's path
    // (tracking the path costs on every value, and almost every request is valid).
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path_text = e.path().to_string();
        let inner = e.into_inner();
        // A syntax error deep inside a value (nesting, bad UTF-8) is reported on its top field.
        let depth = if inner.classify() == serde_json::error::Category::Data { 3 } else { 1 };
        let path = field_name(&path_text, depth);
        let msg = inner.to_string();
        if let Some(missing) = msg.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            return ApiError::field(missing, "This field is required.");
        }
        match (inner.classify(), path) {
            (serde_json::error::Category::Data, None) => {
                ApiError::field("non_field_errors", format!("Invalid data: {}", strip_position(&msg)))
            }
            (_, None) => ApiError::BadRequest(format!("JSON parse error - {}", strip_position(&msg))),
            (_, Some(field)) => ApiError::field(field, strip_position(&msg)),
        }
    })?;
    de.end().map_err(|e| {
        ApiError::BadRequest(format!("JSON parse error - {}", strip_position(&e.to_string())))
    })?;
    Ok(value)
}

/// The field to name for an error path: the root (`.`, `?`) is none; deeper paths are cut to
/// `depth` segments.
fn field_name(path: &str, depth: usize) -> Option<String> {
    if path == "." || path == "?" || path.is_empty() {
        return None;
    }
    Some(path.split('.').take(depth).collect::<Vec<_>>().join("."))
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

impl<S: Store, T: DeserializeOwned> FromRequest<AppState<S>> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState<S>) -> Result<Self, ApiError> {
        if let Some(ct) = req.headers().get(header::CONTENT_TYPE) {
            let ct = ct.to_str().unwrap_or("");
            if !ct.is_empty() && !ct.to_ascii_lowercase().contains("json") {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "Unsupported media type \"{ct}\" in request; send application/json."
                )));
            }
        }
        let bytes = read_body(req, state.settings.max_body_bytes).await?;
        if bytes.is_empty() {
            return Err(ApiError::BadRequest("JSON parse error - the body is empty".into()));
        }
        // U+0000 becomes U+FFFD before anything reads the body (normalize::NUL_REPLACEMENT).
        parse_json(&agentsight_core::normalize::json_nul_escapes_replaced(&bytes)).map(ApiJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentsight_protocol::TrackPayload;

    fn err_body(e: ApiError) -> serde_json::Value {
        use axum::response::IntoResponse;
        let r = e.into_response();
        let fut = axum::body::to_bytes(r.into_body(), 1 << 20);
        let bytes = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(fut).unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn wrong_types_and_missing_fields_are_named() {
        let e = parse_json::<TrackPayload>(br#"{"content": 5, "sender": "agent"}"#).unwrap_err();
        assert!(err_body(e)["content"][0].as_str().unwrap().contains("invalid type"));
        let e = parse_json::<TrackPayload>(br#"{"sender": "agent"}"#).unwrap_err();
        assert_eq!(err_body(e)["content"][0], "This field is required.");
    }

    #[test]
    fn malformed_json_is_a_detail_error() {
        let e = parse_json::<TrackPayload>(b"{not json").unwrap_err();
        assert!(err_body(e)["detail"].as_str().unwrap().starts_with("JSON parse error"));
        let e = parse_json::<TrackPayload>(br#"{"content":"a","sender":"agent"} trailing"#).unwrap_err();
        assert!(matches!(e, ApiError::BadRequest(_)));
    }

    #[test]
    fn invalid_utf8_inside_a_field_names_it() {
        let mut body = br#"{"sender":"agent","content":""#.to_vec();
        body.extend_from_slice(&[0xff, 0xfe]);
        body.extend_from_slice(br#""}"#);
        let e = parse_json::<TrackPayload>(&body).unwrap_err();
        assert!(err_body(e).get("content").is_some());
    }

    #[test]
    fn very_deep_json_is_refused_without_crashing() {
        let body = format!(
            r#"{{"content":"a","sender":"agent","metadata":{}1{}}}"#,
            r#"{"a":"#.repeat(100_000),
            "}".repeat(100_000)
        );
        let e = parse_json::<TrackPayload>(body.as_bytes()).unwrap_err();
        assert!(err_body(e).get("metadata").is_some());
    }
}
