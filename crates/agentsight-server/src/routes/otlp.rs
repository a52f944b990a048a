//! `POST /v1/traces`: OTLP/HTTP traces (protobuf or JSON, gzip or not), mapped onto the span
//! plane by `agentsight_core::otlp` and stored by `SpanWriter::ingest_spans` like a span batch
//! (docs/otlp.md).
//!
//! Answers as the OTLP/HTTP specification says: 200 with an `ExportTraceServiceResponse` in the
//! request's encoding (its `partial_success` counting the spans refused, and why); errors carry
//! a `google.rpc.Status` body in that encoding, with the status of the span plane's error table
//! (400, 401, 403, 413, 415, 429 and 503 with `Retry-After`).

use std::io::Read;

use agentsight_core::archive::ArchivedBody;
use agentsight_core::otlp::{self, Mapped};
use agentsight_core::time::now_micros;
use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode as SpanStatus;
use prost::Message;
use serde_json::{Map, Value};

use crate::app::{AppState, Store};
use crate::error::ApiError;
use crate::extract::{principal_with, read_body};

/// A write key given as `Authorization: Api-Key …` or `Authorization: Bearer …` (what OTLP
/// exporters' header settings make easy).
pub(crate) struct OtlpKey(std::sync::Arc<crate::extract::Authed>);

impl<S: Store> FromRequestParts<AppState<S>> for OtlpKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<S>) -> Result<Self, ApiError> {
        let p = principal_with(parts, state, true).await?;
        if p.principal.role != agentsight_core::keys::Role::Write {
            return Err(ApiError::Forbidden("This API key is read-only; writes need a write key."));
        }
        Ok(OtlpKey(p))
    }
}

/// The request's (and so the answer's) encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Protobuf,
    Json,
}

/// `google.rpc.Status`, the body of an OTLP error answer.
#[derive(Clone, PartialEq, Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

/// `POST /v1/traces`.
#[utoipa::path(
    post,
    path = "/v1/traces",
    tag = "otlp",
    security(("api_key" = []), ("bearer" = [])),
    params(("Content-Encoding" = Option<String>, Header, description = "`gzip` for a gzip body.")),
    request_body(
        content((Vec<u8> = "application/x-protobuf"), (Object = "application/json")),
        description = "An `ExportTraceServiceRequest`, protobuf or OTLP/JSON.",
    ),
    responses(
        (status = 200, description = "Accepted: `ExportTraceServiceResponse` (`{}` in JSON when all was taken).", content((super::openapi::OtlpResponse = "application/json"), (Vec<u8> = "application/x-protobuf"))),
        (status = 400, description = "Bad request (`google.rpc.Status`).", content((super::openapi::OtlpStatus = "application/json"), (Vec<u8> = "application/x-protobuf"))),
        (status = 401, description = "No key or an unknown one.", content((super::openapi::OtlpStatus = "application/json"), (Vec<u8> = "application/x-protobuf"))),
        (status = 403, description = "A read key.", content((super::openapi::OtlpStatus = "application/json"), (Vec<u8> = "application/x-protobuf"))),
        (status = 413, description = "Over the body limit.", content((super::openapi::OtlpStatus = "application/json"), (Vec<u8> = "application/x-protobuf"))),
        (status = 415, description = "Neither protobuf nor JSON.", content((super::openapi::OtlpStatus = "application/json"), (Vec<u8> = "application/x-protobuf"))),
        (status = 429, description = "Over the ingest rate.", content((super::openapi::OtlpStatus = "application/json"), (Vec<u8> = "application/x-protobuf"))),
        (status = 503, description = "Busy or disk full.", content((super::openapi::OtlpStatus = "application/json"), (Vec<u8> = "application/x-protobuf"))),
    ),
)]
pub(crate) async fn export_traces<S: Store>(
    State(st): State<AppState<S>>,
    key: Result<OtlpKey, ApiError>,
    req: Request,
) -> Response {
    let format = match req.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap_or("?")) {
        Some(ct) if ct.to_ascii_lowercase().starts_with("application/json") => Ok(Format::Json),
        None => Ok(Format::Protobuf),
        Some(ct) if ct.to_ascii_lowercase().starts_with("application/x-protobuf") => Ok(Format::Protobuf),
        Some(ct) => Err(ApiError::UnsupportedMediaType(format!(
            "Unsupported media type \"{ct}\"; send application/x-protobuf or application/json."
        ))),
    };
    let answer = match format {
        Ok(f) => (f, export(st, key, req, f).await),
        Err(e) => (Format::Protobuf, Err(e)),
    };
    match answer {
        // A full success is `{}` in JSON (no `partialSuccess: null`), as in protobuf (empty).
        (f, Ok(resp)) => encoded(
            f,
            StatusCode::OK,
            &resp,
            |r| r.encode_to_vec(),
            |r| match r.partial_success {
                None => Ok(b"{}".to_vec()),
                Some(_) => serde_json::to_vec(r),
            },
        ),
        (f, Err(e)) => error_response(f, e),
    }
}

async fn export<S: Store>(
    st: AppState<S>,
    key: Result<OtlpKey, ApiError>,
    req: Request,
    format: Format,
) -> Result<ExportTraceServiceResponse, ApiError> {
    let key = key?;
    let received = now_micros();
    if let Some(l) = &st.ingest_limiter {
        l.check(key.0.principal.agent_id).map_err(|s| ApiError::Throttled(s.max(1)))?;
    }
    let gzip = super::spans::gzip_encoded(req.headers())?;
    let limit = st.settings.max_body_bytes;
    let raw = read_body(req, limit).await?;
    let (enrich, scope) = (st.enrich.clone(), key.0.scope.clone());
    // Decompressing, decoding, mapping and validating run off the request threads, a bounded
    // number at once, as for `/api/ingest/`.
    let (mut mapped, body) = st
        .cpu
        .run(move || -> Result<(Mapped, Option<ArchivedBody>), ApiError> {
            let bytes = if gzip { gunzip(&raw, limit)? } else { raw.to_vec() };
            let decoded = decode(&bytes, format)?;
            let mut mapped = otlp::map_request(&scope, &decoded, received)?;
            if let Some(b) = &mut mapped.batch {
                for block in &mut b.blocks {
                    enrich.apply(&mut block.upsert);
                }
            }
            let body = mapped.batch.is_some().then(|| ArchivedBody::of_plain(&mapped.body));
            Ok((mapped, body))
        })
        .await??;
    if let (Some(batch), Some(body)) = (mapped.batch.take(), body) {
        agentsight_ingest::span_batch(&st.events, batch, body).await?;
    }
    let partial_success = (mapped.rejected > 0).then(|| ExportTracePartialSuccess {
        rejected_spans: mapped.rejected as i64,
        error_message: mapped.error_message(),
    });
    Ok(ExportTraceServiceResponse { partial_success })
}

/// A gzip body inflated, at most `limit` bytes (413 beyond: a small bomb cannot grow).
fn gunzip(raw: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| ApiError::BadRequest(format!("The gzip body could not be read: {e}")))?;
    if out.len() > limit {
        return Err(ApiError::TooLarge { field: None, limit });
    }
    Ok(out)
}

/// The body decoded into the mapping's model.
fn decode(bytes: &[u8], format: Format) -> Result<otlp::Request, ApiError> {
    let req = match format {
        Format::Protobuf => ExportTraceServiceRequest::decode(bytes)
            .map_err(|e| ApiError::BadRequest(format!("The protobuf body could not be decoded: {e}")))?,
        Format::Json => serde_json::from_slice::<ExportTraceServiceRequest>(bytes)
            .map_err(|e| ApiError::BadRequest(format!("The OTLP/JSON body could not be decoded: {e}")))?,
    };
    Ok(otlp::Request {
        resources: req
            .resource_spans
            .into_iter()
            .map(|rs| otlp::Resource {
                attributes: rs.resource.map(|r| attributes(r.attributes)).unwrap_or_default(),
                spans: rs
                    .scope_spans
                    .into_iter()
                    .flat_map(|ss| ss.spans)
                    .map(|s| {
                        let (status, status_message) = match s.status {
                            Some(st) => (
                                match SpanStatus::try_from(st.code) {
                                    Ok(SpanStatus::Ok) => otlp::Status::Ok,
                                    Ok(SpanStatus::Error) => otlp::Status::Error,
                                    _ => otlp::Status::Unset,
                                },
                                st.message,
                            ),
                            None => (otlp::Status::Unset, String::new()),
                        };
                        otlp::Span {
                            trace_id: s.trace_id,
                            span_id: s.span_id,
                            parent_span_id: s.parent_span_id,
                            name: s.name,
                            start_ns: s.start_time_unix_nano,
                            end_ns: s.end_time_unix_nano,
                            status,
                            status_message,
                            attributes: attributes(s.attributes),
                            events: s
                                .events
                                .into_iter()
                                .map(|e| otlp::Event {
                                    name: e.name,
                                    time_ns: e.time_unix_nano,
                                    attributes: attributes(e.attributes),
                                })
                                .collect(),
                        }
                    })
                    .collect(),
            })
            .collect(),
    })
}

fn attributes(kvs: Vec<KeyValue>) -> Map<String, Value> {
    kvs.into_iter().map(|kv| (kv.key, kv.value.map_or(Value::Null, any))).collect()
}

/// An `AnyValue` as JSON: arrays and kvlists nest, bytes are base64.
fn any(v: AnyValue) -> Value {
    use base64::Engine;
    match v.value {
        None => Value::Null,
        Some(any_value::Value::StringValue(s)) => Value::String(s),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(b),
        Some(any_value::Value::IntValue(i)) => Value::from(i),
        Some(any_value::Value::DoubleValue(d)) => {
            serde_json::Number::from_f64(d).map_or(Value::Null, Value::Number)
        }
        Some(any_value::Value::ArrayValue(a)) => Value::Array(a.values.into_iter().map(any).collect()),
        Some(any_value::Value::KvlistValue(kv)) => Value::Object(attributes(kv.values)),
        Some(any_value::Value::BytesValue(b)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        #[allow(unreachable_patterns)]
        Some(_) => Value::Null,
    }
}

fn encoded<T>(
    format: Format,
    status: StatusCode,
    v: &T,
    proto: impl FnOnce(&T) -> Vec<u8>,
    json: impl FnOnce(&T) -> Result<Vec<u8>, serde_json::Error>,
) -> Response {
    let (ct, bytes) = match format {
        Format::Protobuf => ("application/x-protobuf", proto(v)),
        Format::Json => ("application/json", json(v).unwrap_or_else(|_| b"{}".to_vec())),
    };
    let mut res = (status, Body::from(bytes)).into_response();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    res
}

/// An error as OTLP answers it: the status (and `Retry-After`, `WWW-Authenticate`) of the error
/// table, with a `google.rpc.Status` body naming the problem.
fn error_response(format: Format, e: ApiError) -> Response {
    let message = match &e {
        ApiError::Fields(v) => {
            let parts: Vec<String> = v.0.iter().map(|(k, m)| format!("{k}: {}", m.join(" "))).collect();
            parts.join("; ")
        }
        ApiError::TooLarge { limit, .. } => {
            format!("Request body is larger than the limit of {limit} bytes.")
        }
        ApiError::Throttled(s) => format!("Request was throttled. Expected available in {s} seconds."),
        ApiError::Unavailable(_) => "The server is busy; retry shortly.".to_string(),
        ApiError::Internal { .. } => "Internal server error.".to_string(),
        other => other.to_string(),
    };
    // gRPC codes: INVALID_ARGUMENT, UNAUTHENTICATED, PERMISSION_DENIED, RESOURCE_EXHAUSTED,
    // UNAVAILABLE, INTERNAL.
    let status = e.status();
    let code = match status.as_u16() {
        400 | 413 | 415 => 3,
        401 => 16,
        403 => 7,
        429 => 8,
        503 => 14,
        _ => 13,
    };
    let template = e.into_response();
    let body = RpcStatus { code, message };
    let mut res = encoded(
        format,
        status,
        &body,
        |b| b.encode_to_vec(),
        |b| serde_json::to_vec(&serde_json::json!({"code": b.code, "message": b.message})),
    );
    let (parts, _) = template.into_parts();
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = parts.headers.get(&name) {
            res.headers_mut().insert(name, v.clone());
        }
    }
    // The error code and chain for the logging middleware.
    *res.extensions_mut() = parts.extensions;
    res
}
