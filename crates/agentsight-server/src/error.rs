//! The one error type of the HTTP layer and its table of codes, statuses and body shapes.
//!
//! Bodies are DRF-shaped because the SDKs parse them: `{"detail": "…"}`, or `{"field": ["…"]}`
//! for validation. [`ApiError::row`] is the table: one match from each variant to its code,
//! status, body and header; `IntoResponse` builds the response from that row alone. It is pure;
//! the code and the error with its whole chain of causes are attached to the response extensions
//! and logged by the middleware in `app.rs` (5xx at error, 4xx at debug).

use std::borrow::Cow;

use agentsight_core::ValidationErrors;
use agentsight_core::tracking::UploadError;
use agentsight_store::{BoxError, StoreError};
use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Fields failed validation.
    #[error("invalid fields")]
    Fields(#[source] ValidationErrors),
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
    /// The store cannot take the request now ([`StoreError::Unavailable`]); retry.
    #[error("unavailable")]
    Unavailable(#[source] StoreError),
    /// The disk under the store (its database, the span archive, the attachment files) is full:
    /// nothing was stored. Not a crash and not "busy": the same request succeeds once an operator
    /// frees space, without a restart (a [`StoreError::Storage`] of kind disk full).
    #[error("disk full")]
    DiskFull(#[source] StoreError),
    /// A bug or an I/O failure (a lasting storage failure among them); the body says nothing
    /// more, the log says all of it.
    #[error("internal: {context}")]
    Internal {
        /// What failed.
        context: Cow<'static, str>,
        /// The cause, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

/// `Retry-After` of a 503 for a busy store (a full write queue, a locked database).
pub const BUSY_RETRY_AFTER_SECS: u64 = 1;
/// `Retry-After` of a 503 for a database server the store cannot reach (restarting, down):
/// longer than busy, as a restart takes seconds.
pub const DEPENDENCY_RETRY_AFTER_SECS: u64 = 2;

/// How a dependency named by [`StoreError::unavailable_dependency`] is written in a `detail`.
fn display_name(dependency: &str) -> &str {
    match dependency {
        "postgresql" => "PostgreSQL",
        "clickhouse" => "ClickHouse",
        other => other,
    }
}
/// `Retry-After` (seconds) of a 503 for a full disk: space comes back when an operator acts, so
/// clients are asked to wait longer than for a busy queue.
pub const DISK_FULL_RETRY_AFTER_S: u64 = 10;

/// The error's code and the error with its causes (`"…: …"`), attached to the response for the
/// logging middleware.
#[derive(Debug, Clone)]
pub struct ErrorCode(pub &'static str, pub String);

/// Why an ingest request was refused (`agentsight_events_rejected_total{reason}` of `GET
/// /metrics`), attached to every error response: one reason per row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection(pub &'static str);

/// The rejection reasons, each with the statuses of the errors it covers (docs/operations.md).
pub const REJECTION_REASONS: &[&str] = &[
    "invalid",
    "unauthorized",
    "forbidden",
    "not_found",
    "too_large",
    "rate_limited",
    "unavailable",
    "disk_full",
    "internal",
];

/// A response body, as a row of the table gives it.
enum Body {
    /// `{"detail": "…", "code": "…"}`, the row's code.
    Detail(Cow<'static, str>),
    /// A body of its own shape (`{"field": ["…"]}`, the B6 rejection).
    Json(Value),
}

/// One row of the error table.
struct Row {
    code: &'static str,
    status: StatusCode,
    body: Body,
    header: Option<(HeaderName, HeaderValue)>,
}

/// A stable code for each kind of error, for logs and the `code` of detail bodies.
pub fn code(e: &ApiError) -> &'static str {
    e.row().code
}

impl ApiError {
    /// One field, one message.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError::Fields(ValidationErrors::single(field, message))
    }

    /// [`ApiError::Internal`] without a cause.
    pub fn internal(context: impl Into<Cow<'static, str>>) -> ApiError {
        ApiError::Internal { context: context.into(), source: None }
    }

    /// [`ApiError::Internal`] caused by `source`.
    pub fn internal_from(context: impl Into<Cow<'static, str>>, source: impl Into<BoxError>) -> ApiError {
        ApiError::Internal { context: context.into(), source: Some(source.into()) }
    }

    /// A file-system error of the server's own files (attachments): out of space (or quota) is
    /// [`ApiError::DiskFull`], anything else [`ApiError::Internal`]; `e` is kept as the cause.
    pub fn io(context: &'static str, e: std::io::Error) -> ApiError {
        use std::io::ErrorKind as K;
        // A store's own error carried as an io::Error (the PostgreSQL blob store): its mapping.
        if e.get_ref().is_some_and(|inner| inner.is::<StoreError>()) {
            if let Some(Ok(store)) = e.into_inner().map(|inner| inner.downcast::<StoreError>()) {
                return ApiError::from(store.context(context));
            }
            return ApiError::internal(context);
        }
        match e.kind() {
            K::StorageFull | K::QuotaExceeded => {
                StoreError::storage(agentsight_store::StorageFailure::DiskFull, context, e).into()
            }
            _ => ApiError::internal_from(context, e),
        }
    }

    /// The lasting storage failure behind this error, if there is one (for `/readyz`).
    fn storage_fault(&self) -> Option<crate::ready::StorageFault> {
        let source: &(dyn std::error::Error + 'static) = match self {
            ApiError::Internal { source: Some(s), .. } => s.as_ref(),
            ApiError::DiskFull(e) => return crate::ready::StorageFault::of(e),
            _ => return None,
        };
        source.downcast_ref::<StoreError>().and_then(crate::ready::StorageFault::of)
    }

    /// The table: this error's code, status, body and extra header.
    fn row(&self) -> Row {
        use StatusCode as S;
        let detail = |s: &'static str| Body::Detail(Cow::Borrowed(s));
        let text = |s: String| Body::Detail(Cow::Owned(s));
        let row = |code, status, body| Row { code, status, body, header: None };
        match self {
            ApiError::Fields(v) => row("invalid_fields", S::BAD_REQUEST, Body::Json(fields(v))),
            ApiError::BadRequest(d) => row("bad_request", S::BAD_REQUEST, text(d.clone())),
            ApiError::Unauthenticated(d) => Row {
                header: Some((header::WWW_AUTHENTICATE, HeaderValue::from_static("Api-Key"))),
                ..row("not_authenticated", S::UNAUTHORIZED, detail(d))
            },
            ApiError::Forbidden(d) => row("permission_denied", S::FORBIDDEN, detail(d)),
            ApiError::CsrfFailed => {
                row("csrf_failed", S::FORBIDDEN, detail("CSRF token missing or invalid."))
            }
            ApiError::ShareInvalid => {
                row("share_invalid", S::UNAUTHORIZED, detail("This share link has expired or was revoked."))
            }
            ApiError::TooManyAttempts(n) => Row {
                header: Some((header::RETRY_AFTER, HeaderValue::from(*n))),
                ..row(
                    "rate_limited",
                    S::TOO_MANY_REQUESTS,
                    text(format!("Too many sign-in attempts; retry in {n} seconds.")),
                )
            },
            ApiError::NotFound => row("not_found", S::NOT_FOUND, detail("Not found.")),
            ApiError::TooLarge { field: Some(f), limit } => row(
                "payload_too_large",
                S::PAYLOAD_TOO_LARGE,
                Body::Json(json!({ f: [format!("File is larger than the limit of {limit} bytes.")] })),
            ),
            ApiError::TooLarge { field: None, limit } => row(
                "payload_too_large",
                S::PAYLOAD_TOO_LARGE,
                text(format!("Request body is larger than the limit of {limit} bytes.")),
            ),
            ApiError::UnsupportedMediaType(d) => {
                row("unsupported_media_type", S::UNSUPPORTED_MEDIA_TYPE, text(d.clone()))
            }
            ApiError::IngestRejected(r) => row(
                "invalid_blocks",
                S::BAD_REQUEST,
                serde_json::to_value(r).map_or_else(|_| detail("Invalid batch."), Body::Json),
            ),
            ApiError::Throttled(s) => Row {
                header: Some((header::RETRY_AFTER, HeaderValue::from(*s))),
                ..row(
                    "throttled",
                    S::TOO_MANY_REQUESTS,
                    text(format!("Request was throttled. Expected available in {s} seconds.")),
                )
            },
            ApiError::Unavailable(e) => match e.unavailable_dependency() {
                None => Row {
                    header: Some((header::RETRY_AFTER, HeaderValue::from(BUSY_RETRY_AFTER_SECS))),
                    ..row("unavailable", S::SERVICE_UNAVAILABLE, detail("The server is busy; retry shortly."))
                },
                Some(dependency) => Row {
                    header: Some((header::RETRY_AFTER, HeaderValue::from(DEPENDENCY_RETRY_AFTER_SECS))),
                    ..row(
                        "unavailable",
                        S::SERVICE_UNAVAILABLE,
                        Body::Json(json!({
                            "detail": format!("{} is unavailable; retry shortly.", display_name(dependency)),
                            "code": "unavailable",
                            "dependency": dependency,
                        })),
                    )
                },
            },
            ApiError::DiskFull(_) => Row {
                header: Some((header::RETRY_AFTER, HeaderValue::from(DISK_FULL_RETRY_AFTER_S))),
                ..row(
                    "disk_full",
                    S::SERVICE_UNAVAILABLE,
                    detail("The server's disk is full; nothing was stored. Retry once space is freed."),
                )
            },
            ApiError::Internal { .. } => {
                row("internal", S::INTERNAL_SERVER_ERROR, detail("Internal server error."))
            }
        }
    }

    /// Why a request failing with this error was refused, one of [`REJECTION_REASONS`]: the
    /// client's data (`invalid`: 400 and 415), its credentials (`unauthorized`: 401,
    /// `forbidden`: 403), the address (`not_found`), the size (`too_large`), its rate
    /// (`rate_limited`: 429), or the server (`unavailable` and `disk_full`: 503, `internal`: 500).
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::Fields(_)
            | ApiError::BadRequest(_)
            | ApiError::IngestRejected(_)
            | ApiError::UnsupportedMediaType(_) => "invalid",
            ApiError::Unauthenticated(_) | ApiError::ShareInvalid => "unauthorized",
            ApiError::Forbidden(_) | ApiError::CsrfFailed => "forbidden",
            ApiError::NotFound => "not_found",
            ApiError::TooLarge { .. } => "too_large",
            ApiError::TooManyAttempts(_) | ApiError::Throttled(_) => "rate_limited",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::DiskFull(_) => "disk_full",
            ApiError::Internal { .. } => "internal",
        }
    }

    /// The status a request failing with this error is answered with.
    pub fn status(&self) -> StatusCode {
        self.row().status
    }

    #[cfg(test)]
    fn body(&self) -> Value {
        let row = self.row();
        body_of(row.code, row.body)
    }
}

/// `{"field": ["…", …], …}`.
fn fields(v: &ValidationErrors) -> Value {
    let mut m = Map::new();
    for (k, msgs) in &v.0 {
        m.insert(k.clone(), json!(msgs));
    }
    Value::Object(m)
}

/// The one place a body is made from a row.
fn body_of(code: &'static str, body: Body) -> Value {
    match body {
        Body::Detail(d) => json!({ "detail": d, "code": code }),
        Body::Json(v) => v,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let reason = self.reason();
        let Row { code, status, body, header } = self.row();
        let mut res = (status, Json(body_of(code, body))).into_response();
        if let Some((name, value)) = header {
            res.headers_mut().insert(name, value);
        }
        res.extensions_mut().insert(ErrorCode(code, agentsight_store::chain(&self).to_string()));
        res.extensions_mut().insert(Rejection(reason));
        if let Some(fault) = self.storage_fault() {
            res.extensions_mut().insert(fault);
        }
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
            e @ StoreError::Unavailable { .. } => ApiError::Unavailable(e),
            e @ StoreError::Storage { kind: agentsight_store::StorageFailure::DiskFull, .. } => {
                ApiError::DiskFull(e)
            }
            e @ (StoreError::Storage { .. } | StoreError::Internal { .. }) => {
                ApiError::internal_from("store", e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentsight_protocol::v01::IngestRejection;
    use agentsight_store::StorageFailure;

    #[test]
    fn field_errors_are_drf_shaped_and_five_hundreds_are_opaque() {
        let e = ApiError::field("device", "bad");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(e.body(), json!({"device": ["bad"]}));
        let e = ApiError::internal_from("writing", std::io::Error::other("disk on fire at /secret/path"));
        assert_eq!(e.body(), json!({"detail": "Internal server error.", "code": "internal"}));
        assert!(!e.body().to_string().contains("secret"));
    }

    #[test]
    fn unknown_references_name_their_field() {
        let e: ApiError = StoreError::UnknownReference { field: "conversation", value: "9".into() }.into();
        assert_eq!(e.body()["conversation"][0], "Invalid conversation \"9\" - object does not exist.");
    }

    #[test]
    fn unavailable_asks_to_retry() {
        let r = ApiError::from(StoreError::unavailable("write queue is full")).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let logged = r.extensions().get::<ErrorCode>().unwrap();
        assert_eq!(
            (logged.0, logged.1.as_str()),
            ("unavailable", "unavailable: store unavailable: write queue is full")
        );
    }

    /// A database server the store cannot reach is a 503 naming it (never a 500), with a
    /// longer `Retry-After` than busy.
    #[test]
    fn an_unreachable_dependency_is_named_in_the_503() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = StoreError::dependency_unavailable("postgresql", "PostgreSQL", refused).context("track");
        let api = ApiError::from(e);
        assert_eq!(
            api.body(),
            json!({"detail": "PostgreSQL is unavailable; retry shortly.", "code": "unavailable", "dependency": "postgresql"})
        );
        let r = api.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], DEPENDENCY_RETRY_AFTER_SECS.to_string().as_str());
        assert_eq!(r.extensions().get::<ErrorCode>().unwrap().0, "unavailable");
    }

    /// A lasting storage failure is a 500 (as every store failure but "busy" was), never the
    /// 503 that says "busy"; its log line carries the whole chain down to the OS's message.
    /// A full disk is a 503 with its own code and a longer `Retry-After` than "busy", never a
    /// 500; its log line carries the whole chain down to the OS's message, and the response
    /// carries the fault `/readyz` reports.
    #[test]
    fn a_full_disk_is_a_503_naming_it_with_retry_after_and_its_log_line_has_the_whole_chain() {
        let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
        let cause = full.to_string();
        let e = StoreError::storage(StorageFailure::DiskFull, "COMMIT", full);
        assert!(!e.is_unavailable());
        let e = ApiError::from(e);
        assert_eq!(
            e.body(),
            json!({"detail": "The server's disk is full; nothing was stored. Retry once space is freed.", "code": "disk_full"})
        );
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], DISK_FULL_RETRY_AFTER_S.to_string().as_str());
        let logged = r.extensions().get::<ErrorCode>().unwrap();
        assert_eq!(logged.0, "disk_full");
        assert_eq!(logged.1, format!("disk full: storage failure (disk full): COMMIT: {cause}"));
        let fault = r.extensions().get::<crate::ready::StorageFault>().expect("the fault for /readyz");
        assert_eq!(fault.kind, "disk full");
    }

    /// The attachment files' writes: out of space (ENOSPC, EDQUOT) is the same 503; any other
    /// I/O failure stays an opaque 500.
    #[test]
    fn an_attachment_write_out_of_space_is_disk_full_and_other_io_errors_are_internal() {
        for kind in [std::io::ErrorKind::StorageFull, std::io::ErrorKind::QuotaExceeded] {
            let e = ApiError::io("writing attachment", std::io::Error::from(kind));
            assert_eq!(
                (e.status(), super::code(&e)),
                (StatusCode::SERVICE_UNAVAILABLE, "disk_full"),
                "{kind:?}"
            );
        }
        let enospc = ApiError::io("writing attachment", std::io::Error::from_raw_os_error(28));
        assert_eq!(super::code(&enospc), "disk_full");
        let other = ApiError::io("writing attachment", std::io::Error::other("bad sector"));
        assert_eq!((other.status(), super::code(&other)), (StatusCode::INTERNAL_SERVER_ERROR, "internal"));
        // The PostgreSQL blob store carries its StoreError inside the io::Error: its own mapping.
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let down = StoreError::dependency_unavailable("postgresql", "PostgreSQL", refused);
        let e = ApiError::io("writing attachment", std::io::Error::other(down));
        assert_eq!((e.status(), super::code(&e)), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
        // Other lasting storage failures are not "full": they stay 500s.
        let ro = ApiError::from(StoreError::storage(
            StorageFailure::ReadOnly,
            "COMMIT",
            std::io::Error::other("ro"),
        ));
        assert_eq!(ro.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// Walks every variant through the table. `index` has no wildcard: a new variant does not
    /// compile until it has an entry in `expected`, and the test fails until `samples` has one
    /// of it.
    #[test]
    fn every_variant_has_a_row_of_the_table() {
        let expected: &[(&str, StatusCode, &str)] = &[
            ("invalid_fields", StatusCode::BAD_REQUEST, "invalid"),
            ("bad_request", StatusCode::BAD_REQUEST, "invalid"),
            ("not_authenticated", StatusCode::UNAUTHORIZED, "unauthorized"),
            ("permission_denied", StatusCode::FORBIDDEN, "forbidden"),
            ("csrf_failed", StatusCode::FORBIDDEN, "forbidden"),
            ("share_invalid", StatusCode::UNAUTHORIZED, "unauthorized"),
            ("rate_limited", StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ("not_found", StatusCode::NOT_FOUND, "not_found"),
            ("payload_too_large", StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ("unsupported_media_type", StatusCode::UNSUPPORTED_MEDIA_TYPE, "invalid"),
            ("invalid_blocks", StatusCode::BAD_REQUEST, "invalid"),
            ("throttled", StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ("unavailable", StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ("internal", StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            ("disk_full", StatusCode::SERVICE_UNAVAILABLE, "disk_full"),
        ];
        fn index(e: &ApiError) -> usize {
            match e {
                ApiError::Fields(_) => 0,
                ApiError::BadRequest(_) => 1,
                ApiError::Unauthenticated(_) => 2,
                ApiError::Forbidden(_) => 3,
                ApiError::CsrfFailed => 4,
                ApiError::ShareInvalid => 5,
                ApiError::TooManyAttempts(_) => 6,
                ApiError::NotFound => 7,
                ApiError::TooLarge { .. } => 8,
                ApiError::UnsupportedMediaType(_) => 9,
                ApiError::IngestRejected(_) => 10,
                ApiError::Throttled(_) => 11,
                ApiError::Unavailable(_) => 12,
                ApiError::Internal { .. } => 13,
                ApiError::DiskFull(_) => 14,
            }
        }
        let samples = vec![
            ApiError::field("device", "bad"),
            ApiError::BadRequest("JSON parse error".into()),
            ApiError::Unauthenticated("Invalid API key."),
            ApiError::Forbidden("Read keys cannot write."),
            ApiError::CsrfFailed,
            ApiError::ShareInvalid,
            ApiError::TooManyAttempts(30),
            ApiError::NotFound,
            ApiError::TooLarge { field: Some("file".into()), limit: 10 },
            ApiError::TooLarge { field: None, limit: 10 },
            ApiError::UnsupportedMediaType("Unsupported media type.".into()),
            ApiError::IngestRejected(Box::new(IngestRejection {
                detail: "bad".into(),
                conversations: vec![],
                truncated: false,
            })),
            ApiError::Throttled(2),
            ApiError::from(StoreError::unavailable("write queue is full")),
            ApiError::internal("handler panicked"),
            ApiError::from(StoreError::storage(
                StorageFailure::DiskFull,
                "COMMIT",
                std::io::Error::other("full"),
            )),
        ];
        let mut seen = vec![false; expected.len()];
        for e in samples {
            let i = index(&e);
            let (code, status, reason) = expected[i];
            let body = e.body();
            assert_eq!((e.row().code, e.status()), (code, status), "{e:?}");
            assert_eq!(e.reason(), reason, "{e:?}");
            assert!(REJECTION_REASONS.contains(&reason));
            assert_eq!(super::code(&e), code);
            if let Some(c) = body.get("code") {
                assert_eq!(c, code, "a detail body carries the row's code: {body}");
            }
            let r = e.into_response();
            assert_eq!(r.status(), status);
            assert_eq!(r.extensions().get::<ErrorCode>().map(|c| c.0), Some(code));
            assert_eq!(r.extensions().get::<Rejection>(), Some(&Rejection(reason)));
            seen[i] = true;
        }
        let missing: Vec<&str> =
            seen.iter().zip(expected).filter(|(s, _)| !**s).map(|(_, (code, _, _))| *code).collect();
        assert!(missing.is_empty(), "variants without a sample: {missing:?}");
    }

    /// The bodies, byte for byte as the SDKs and the API tests read them.
    #[test]
    fn bodies_keep_their_shape() {
        let text = |e: ApiError| e.body().to_string();
        assert_eq!(text(ApiError::NotFound), r#"{"code":"not_found","detail":"Not found."}"#);
        assert_eq!(
            text(ApiError::TooLarge { field: Some("file".into()), limit: 10 }),
            r#"{"file":["File is larger than the limit of 10 bytes."]}"#
        );
        assert_eq!(
            text(ApiError::TooManyAttempts(30)),
            r#"{"code":"rate_limited","detail":"Too many sign-in attempts; retry in 30 seconds."}"#
        );
        assert_eq!(
            text(ApiError::from(StoreError::unavailable("x"))),
            r#"{"code":"unavailable","detail":"The server is busy; retry shortly."}"#
        );
    }
}
