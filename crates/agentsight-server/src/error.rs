//! The one error type of the HTTP layer and its table of codes, statuses and body shapes.
//!
//! Bodies are DRF-shaped because the SDKs parse them: `{"detail": "…"}`, or `{"field": ["…"]}`
//! for validation. `IntoResponse` is pure; the code is attached to the response extensions and
//! logged by the middleware in `app.rs` (5xx at error, 4xx at debug).

use agentsight_core::ValidationErrors;
use agentsight_core::tracking::UploadError;
use agentsight_store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Fields failed validation.
    #[error("invalid fields")]
    Fields(ValidationErrors),
    /// The body is not valid JSON, or similar request-level trouble.
    #[error("{0}")]
    BadRequest(String),
    /// No key, or a key we do not know.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The key may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// A session-authenticated write without the right `X-CSRF-Token`.
    #[error("csrf token missing or invalid")]
    CsrfFailed,
    /// A share token that is unknown, expired or revoked.
    #[error("share link invalid")]
    ShareInvalid,
    /// Too many sign-in attempts; retry after this many seconds.
    #[error("rate limited")]
    TooManyAttempts(u64),
    /// Nothing of this agent's at that address.
    #[error("not found")]
    NotFound,
    /// A body or file over its limit; `field` names the file when there is one.
    #[error("payload too large")]
    TooLarge {
        /// The field (file) that was too large, if any.
        field: Option<String>,
        /// The limit in bytes.
        limit: usize,
    },
    /// A content type this route does not take.
    #[error("unsupported media type")]
    UnsupportedMediaType(String),
    /// Some blocks of an ingest batch are bad: nothing was written (the B6 body).
    #[error("ingest batch refused")]
    IngestRejected(Box<agentsight_protocol::v01::IngestRejection>),
    /// The agent sends faster than its ingest rate; retry after this many seconds.
    #[error("throttled")]
    Throttled(u64),
    /// The store cannot take writes now; retry.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A bug or an I/O failure; the body says nothing more.
    #[error("internal: {0}")]
    Internal(String),
}

/// A stable code for each kind of error, for logs and the `code` of detail bodies.
pub fn code(e: &ApiError) -> &'static str {
    match e {
        ApiError::Fields(_) => "invalid_fields",
        ApiError::BadRequest(_) => "bad_request",
        ApiError::Unauthenticated(_) => "not_authenticated",
        ApiError::Forbidden(_) => "permission_denied",
        ApiError::CsrfFailed => "csrf_failed",
        ApiError::ShareInvalid => "share_invalid",
        ApiError::TooManyAttempts(_) => "rate_limited",
        ApiError::NotFound => "not_found",
        ApiError::TooLarge { .. } => "payload_too_large",
        ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
        ApiError::Unavailable(_) => "unavailable",
        ApiError::Internal(_) => "internal",
        ApiError::IngestRejected(_) => "invalid_blocks",
        ApiError::Throttled(_) => "throttled",
    }
}

/// The error's code, attached to the response for the logging middleware.
#[derive(Debug, Clone)]
pub struct ErrorCode(pub &'static str, pub String);

impl ApiError {
    /// One field, one message.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Fields(ValidationErrors::single(field, message))
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::Fields(_) | ApiError::BadRequest(_) | ApiError::IngestRejected(_) => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::CsrfFailed => StatusCode::FORBIDDEN,
            ApiError::ShareInvalid => StatusCode::UNAUTHORIZED,
            ApiError::TooManyAttempts(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn body(&self) -> Value {
        let detail = |d: &str| json!({ "detail": d, "code": code(self) });
        match self {
            ApiError::Fields(v) => {
                let mut m = Map::new();
                for (k, msgs) in &v.0 {
                    m.insert(k.clone(), json!(msgs));
                }
                Value::Object(m)
            }
            ApiError::BadRequest(d) => detail(d),
            ApiError::Unauthenticated(d) | ApiError::Forbidden(d) => detail(d),
            ApiError::CsrfFailed => detail("CSRF token missing or invalid."),
            ApiError::ShareInvalid => detail("This share link has expired or was revoked."),
            ApiError::TooManyAttempts(n) => {
                detail(&format!("Too many sign-in attempts; retry in {n} seconds."))
            }
            ApiError::NotFound => detail("Not found."),
            ApiError::TooLarge { field: Some(f), limit } => {
                json!({ f: [format!("File is larger than the limit of {limit} bytes.")] })
            }
            ApiError::TooLarge { field: None, limit } => {
                detail(&format!("Request body is larger than the limit of {limit} bytes."))
            }
            ApiError::UnsupportedMediaType(d) => detail(d),
            ApiError::Unavailable(_) => detail("The server is busy; retry shortly."),
            ApiError::IngestRejected(r) => {
                serde_json::to_value(r).unwrap_or_else(|_| detail("Invalid batch."))
            }
            ApiError::Throttled(s) => {
                detail(&format!("Request was throttled. Expected available in {s} seconds."))
            }
            ApiError::Internal(_) => detail("Internal server error."),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status(), Json(self.body())).into_response();
        match &self {
            ApiError::Unavailable(_) => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            ApiError::Unauthenticated(_) => {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Api-Key"));
            }
            ApiError::TooManyAttempts(n) => {
                if let Ok(v) = HeaderValue::from_str(&n.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::Throttled(s) => {
                res.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*s));
            }
            _ => {}
        }
        res.extensions_mut().insert(ErrorCode(code(&self), self.to_string()));
        res
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(e: ValidationErrors) -> Self {
        ApiError::Fields(e)
    }
}

impl From<agentsight_core::spans::BatchError> for ApiError {
    fn from(e: agentsight_core::spans::BatchError) -> Self {
        use agentsight_core::spans::{BatchError, MAX_REPORTED_BLOCKS};
        use agentsight_protocol::v01::{BlockRejection, IngestRejection};
        match e {
            BatchError::Envelope(v) => ApiError::Fields(v),
            BatchError::Blocks(bad, more) => {
                let n = bad.len();
                let first: Vec<String> = bad
                    .iter()
                    .take(3)
                    .map(|(i, cid, errs)| {
                        let fields: Vec<&str> = errs.0.keys().map(String::as_str).collect();
                        format!(
                            "block {i} ({}): {}",
                            cid.as_deref().unwrap_or("no conversation_id"),
                            fields.join(", ")
                        )
                    })
                    .collect();
                let count = if more { format!("More than {n}") } else { n.to_string() };
                let detail = format!(
                    "{count} conversation block(s) are invalid; nothing in this batch was stored. {}",
                    first.join("; ")
                );
                let conversations = bad
                    .into_iter()
                    .take(MAX_REPORTED_BLOCKS)
                    .map(|(index, conversation_id, errs)| BlockRejection {
                        index,
                        conversation_id,
                        errors: errs.0,
                    })
                    .collect();
                ApiError::IngestRejected(Box::new(IngestRejection {
                    detail,
                    conversations,
                    truncated: more || n > MAX_REPORTED_BLOCKS,
                }))
            }
        }
    }
}

impl From<agentsight_ingest::IngestError> for ApiError {
    fn from(e: agentsight_ingest::IngestError) -> Self {
        use agentsight_ingest::IngestError;
        match e {
            IngestError::Invalid(v) => v.into(),
            IngestError::Batch(b) => b.into(),
            IngestError::Store(s) => s.into(),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Invalid(v) => ApiError::Fields(v),
            UploadError::TooLarge { field, limit } => ApiError::TooLarge { field: Some(field), limit },
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownReference { field, value } => {
                ApiError::field(field, format!("Invalid {field} \"{value}\" - object does not exist."))
            }
            StoreError::Conflict { field, message } => ApiError::field(field, message),
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            StoreError::Internal(m) => ApiError::Internal(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_are_drf_shaped_and_five_hundreds_are_opaque() {
        let e = ApiError::field("device", "bad");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.body(), json!({"device": ["bad"]}));
        let e = ApiError::Internal("disk on fire at /secret/path".into());
        assert_eq!(e.body()["detail"], "Internal server error.");
        assert!(!e.body().to_string().contains("secret"));
    }

    #[test]
    fn unknown_references_name_their_field() {
        let e: ApiError = StoreError::UnknownReference { field: "conversation", value: "9".into() }.into();
        assert_eq!(e.body()["conversation"][0], "Invalid conversation \"9\" - object does not exist.");
    }

    #[test]
    fn unavailable_asks_to_retry() {
        let r = ApiError::Unavailable("queue full".into()).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    }
}
