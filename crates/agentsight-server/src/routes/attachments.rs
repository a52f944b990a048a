//! `POST /api/attachments/` in all four 0.0.x shapes (base64 JSON or multipart, standalone or
//! linked to a message), and the download route.

use agentsight_core::ValidationErrors;
use agentsight_core::limits::MAX_FILES_PER_UPLOAD;
use agentsight_core::normalize;
use agentsight_core::time::{self, now_micros};
use agentsight_core::tracking::{self, AttachmentTarget, UploadedFile};
use agentsight_protocol::{self as wire, PkRef};
use agentsight_store::prelude::*;
use agentsight_store::{AttachmentsInsert, StoredFile};
use axum::Json;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::parse_pk;
use crate::app::{AppState, Store};
use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::extract::{WriteKey, parse_json, read_body};
use crate::present;

/// An upload, whatever shape it came in.
pub(crate) struct Upload {
    target: AttachmentTarget,
    sender: Option<String>,
    metadata: String,
    event_time: i64,
    pub(crate) files: Vec<UploadedFile>,
}

/// The longest plain (non-file) multipart field we read.
const MAX_FORM_FIELD_BYTES: usize = 64 * 1024;

/// `POST /api/attachments/`: 201 with the stored descriptors.
#[utoipa::path(
    post,
    path = "/api/attachments/",
    tag = "sdk-0.0.x",
    security(("api_key" = [])),
    request_body(
        content((wire::AttachmentsPayload = "application/json"), (super::openapi::MultipartUpload = "multipart/form-data")),
    ),
    responses((status = 201, description = "Stored.", body = super::openapi::AttachmentsCreated)),
)]
pub(crate) async fn upload_attachments<S: Store>(
    State(st): State<AppState<S>>,
    key: WriteKey,
    req: Request,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let received = now_micros();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let upload = if content_type.starts_with("multipart/form-data") {
        let mp = Multipart::from_request(req, &st).await.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        from_multipart(mp, st.settings.max_attachment_bytes, received).await?
    } else {
        let body = read_body(req, st.settings.max_upload_body_bytes()).await?;
        let body = normalize::json_nul_escapes_replaced(&body);
        let p: wire::AttachmentsPayload = parse_json(&body)?;
        from_json(&p, st.settings.max_attachment_bytes, received)?
    };
    let mut stored = Vec::with_capacity(upload.files.len());
    for f in &upload.files {
        match st.blobs.put(key.agent_id(), &f.data).await {
            Ok(k) => stored.push(StoredFile {
                filename: f.filename.clone(),
                mime_type: f.mime_type.clone(),
                size_bytes: f.data.len() as i64,
                storage_key: k,
            }),
            Err(e) => {
                discard(&st, &stored.iter().map(|s| s.storage_key.clone()).collect::<Vec<_>>()).await;
                return Err(ApiError::io("writing attachment", e));
            }
        }
    }
    let keys: Vec<String> = stored.iter().map(|s| s.storage_key.clone()).collect();
    let insert = AttachmentsInsert {
        agent_id: key.agent_id(),
        target: upload.target,
        sender: upload.sender,
        metadata: upload.metadata,
        event_time: upload.event_time,
        files: stored,
    };
    match st.events.insert_attachments(insert).await {
        Ok(rows) => {
            let items: Vec<_> = rows.iter().map(present::attachment).collect();
            Ok((StatusCode::CREATED, Json(json!({ "count": items.len(), "attachments": items }))))
        }
        Err(e) => {
            discard(&st, &keys).await;
            Err(super::dataplane::message_not_found(e))
        }
    }
}

/// Removes the bytes of an upload whose rows were not stored (a failure is logged: the bytes
/// are unreachable without their rows).
async fn discard<S: Store>(st: &AppState<S>, keys: &[String]) {
    if let Err(e) = st.blobs.discard(keys).await {
        tracing::warn!(error = %e, count = keys.len(), "could not remove the bytes of an attachment upload that failed");
    }
}

pub(crate) fn from_json(
    p: &wire::AttachmentsPayload,
    max_bytes: usize,
    received: i64,
) -> Result<Upload, ApiError> {
    let mut e = ValidationErrors::default();
    let target = e.check(
        "conversation",
        tracking::attachment_target(
            p.message.as_ref(),
            p.conversation.as_ref(),
            p.conversation_id.as_deref(),
        )
        .map_err(|v| {
            v.0.into_iter()
                .flat_map(|(k, m)| m.into_iter().map(move |m| format!("{k}: {m}")))
                .collect::<Vec<_>>()
                .join("; ")
        }),
    );
    let event_time = e.check("timestamp", time::event_time(p.timestamp.as_deref(), received));
    let sender =
        normalize::trimmed(p.sender.as_deref()).and_then(|s| e.check("sender", normalize::sender(s)));
    let metadata = e.check("metadata", tracking::json_object(p.metadata.as_ref())).flatten();
    if let Some(mode) = normalize::trimmed(p.mode.as_deref())
        && mode != "base64"
    {
        e.add("mode", "JSON uploads use mode base64; send form_data as multipart/form-data.");
    }
    e.into_result(())?;
    let files = tracking::decode_base64_files(&p.attachments, max_bytes)?;
    Ok(Upload {
        target: target.ok_or_else(|| ApiError::field("conversation", "A target is required."))?,
        sender,
        metadata: metadata.unwrap_or_else(|| "{}".into()),
        event_time: event_time.unwrap_or(received),
        files,
    })
}

pub(crate) async fn from_multipart(
    mut mp: Multipart,
    max_bytes: usize,
    received: i64,
) -> Result<Upload, ApiError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut files: Vec<UploadedFile> = Vec::new();
    let mut e = ValidationErrors::default();
    while let Some(mut field) = mp.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or("").to_string();
        if field.file_name().is_some() || name.starts_with("attachment") {
            if files.len() >= MAX_FILES_PER_UPLOAD {
                return Err(ApiError::field(
                    name,
                    format!("At most {MAX_FILES_PER_UPLOAD} files per upload."),
                ));
            }
            let filename = tracking::sanitize_filename(field.file_name().unwrap_or(&name));
            let mime = e.check(&name, tracking::mime_type(field.content_type()));
            let mut data = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if data.len() + chunk.len() > max_bytes {
                    return Err(ApiError::TooLarge { field: Some(name), limit: max_bytes });
                }
                data.extend_from_slice(&chunk);
            }
            files.push(UploadedFile { filename, mime_type: mime.unwrap_or_default(), data });
        } else {
            let mut text = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                if text.len() + chunk.len() > MAX_FORM_FIELD_BYTES {
                    return Err(ApiError::field(
                        name,
                        format!("Ensure this field is no larger than {MAX_FORM_FIELD_BYTES} bytes."),
                    ));
                }
                text.extend_from_slice(&chunk);
            }
            match String::from_utf8(text) {
                Ok(t) => {
                    let t = normalize::nul_replaced(&t).into_owned();
                    fields.push((name, t))
                }
                Err(_) => e.add(name, "Not valid UTF-8."),
            }
        }
    }
    let get = |k: &str| fields.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let pk = |k: &str| {
        get(k).and_then(|v| {
            let t = v.trim();
            if t.is_empty() || t == "None" || t == "null" {
                None
            } else {
                Some(
                    t.parse::<i64>()
                        .ok()
                        .filter(|n| *n > 0)
                        .map(PkRef::Pk)
                        .unwrap_or_else(|| PkRef::Invalid(t.to_string())),
                )
            }
        })
    };
    let target = match tracking::attachment_target(
        pk("message").as_ref(),
        pk("conversation").as_ref(),
        get("conversation_id"),
    ) {
        Ok(t) => Some(t),
        Err(v) => {
            for (k, msgs) in v.0 {
                for m in msgs {
                    e.add(k.clone(), m);
                }
            }
            None
        }
    };
    let event_time = e.check("timestamp", time::event_time(get("timestamp"), received));
    let sender = normalize::trimmed(get("sender")).and_then(|s| e.check("sender", normalize::sender(s)));
    let metadata = match normalize::trimmed(get("metadata")) {
        None => None,
        Some(m) => match serde_json::from_slice::<Value>(&normalize::json_nul_escapes_replaced(m.as_bytes()))
        {
            Ok(v) => e.check("metadata", tracking::json_object(Some(&v))).flatten(),
            Err(_) => {
                e.add("metadata", "Must be a JSON object encoded as a string.");
                None
            }
        },
    };
    if files.is_empty() {
        e.add("attachments", "At least one file part (attachment_0, …) is required.");
    }
    e.into_result(())?;
    Ok(Upload {
        target: target.ok_or_else(|| ApiError::field("conversation", "A target is required."))?,
        sender,
        metadata: metadata.unwrap_or_else(|| "{}".into()),
        event_time: event_time.unwrap_or(received),
        files,
    })
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge { field: None, limit: 0 }
    } else {
        ApiError::BadRequest(format!("Malformed multipart body: {}", e.body_text()))
    }
}

/// `GET /api/attachments/{id}/download/`: the bytes with the stored content type.
#[utoipa::path(
    get,
    path = "/api/attachments/{id}/download/",
    tag = "sdk-0.0.x",
    security(("api_key" = []), ("session" = [])),
    params(("id" = i64, Path, description = "Attachment id."), super::openapi::AgentQuery),
    responses(
        (status = 200, description = "The file, with its stored content type.", content_type = "application/octet-stream", body = Vec<u8>),
    ),
)]
pub(crate) async fn download_attachment<S: Store>(
    State(st): State<AppState<S>>,
    key: ReadAccess,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let a = st.events.attachment(key.agent_id(), parse_pk(&id)?).await?.ok_or(ApiError::NotFound)?;
    let bytes = st
        .blobs
        .get(&a.storage_key)
        .await
        .map_err(|e| ApiError::internal_from(format!("reading attachment {}", a.id), e))?;
    let mut res = bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&a.mime_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    let ascii: String = a
        .filename
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || ".-_ ".contains(c) { c } else { '_' })
        .collect();
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // An uploaded HTML or SVG file opened in the browser runs in a unique origin, no scripts:
    // it cannot act on the dashboard's session.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    Ok(res)
}
