//! The server's parsers of untrusted bytes, reachable without HTTP: the entry points of the fuzz
//! targets (`fuzz/`, docs/fuzzing.md). Each runs the same functions a request runs, from the
//! bytes a client controls to the validated command, and stops before the store.
//!
//! Every function answers `Ok` or the [`ApiError`] the request would get. [`TARGETS`] are the
//! fuzz targets' inputs, decoded from one byte string each; [`check`] is their oracle: an error
//! must be a 4xx, since bad input is the client's fault, and a 5xx (or a panic, which the server
//! turns into a 500) for it is a bug. The unit tests below replay every committed seed and
//! regression input (`fuzz/seeds/<target>/`, `fuzz/regressions/<target>/`) through the same
//! functions, so the regressions run with the ordinary test suite too.

use std::collections::HashMap;

use agentsight_core::time::Micros;
use agentsight_core::tracking::{self, AgentScope, Enrichment, FeedbackSource};
use agentsight_core::{dataplane, metrics};
use agentsight_protocol::{self as wire, v01};
use axum::extract::{FromRequest, Multipart, Query};
use axum::http::{HeaderMap, Request, Uri, header};

use crate::error::ApiError;
use crate::extract::parse_json;
use crate::routes;

/// The instant every target calls "now" (2026-01-01T00:00:00Z), so a run is repeatable.
pub const NOW: Micros = 1_767_225_600_000_000;

/// The scope of the agent the targets write as: the environments every new agent has.
pub fn scope() -> AgentScope {
    AgentScope { agent_id: 1, environments: vec!["production".into(), "development".into()] }
}

/// The JSON bodies of the write routes, by number (`kind % JSON_KINDS`): parsed into the wire
/// type, then validated as the route does.
pub const JSON_KINDS: u8 = 13;

/// The write route `kind` (see [`JSON_KINDS`]) given `body`.
pub fn json_body(kind: u8, body: &[u8]) -> Result<(), ApiError> {
    let scope = scope();
    match kind % JSON_KINDS {
        // POST /api/conversations/
        0 => {
            let p: wire::ConversationPayload = parse_json(body)?;
            let mut cmd = tracking::validate_conversation(&scope, &p, NOW)?;
            Enrichment { locate: None, store_ip: false, databases: vec![] }.apply(&mut cmd);
        }
        // POST /api/track/
        1 => {
            let p: wire::TrackPayload = parse_json(body)?;
            tracking::validate_message(&scope, p, NOW)?;
        }
        // POST /api/action_logs/
        2 => {
            let p: wire::ActionPayload = parse_json(body)?;
            tracking::validate_action(&scope, &p, NOW)?;
        }
        // POST /api/buttons/
        3 => {
            let p: wire::ButtonPayload = parse_json(body)?;
            tracking::validate_button(&scope, &p, NOW)?;
        }
        // POST /api/conversation-feedbacks/
        4 => {
            let p: wire::FeedbackPayload = parse_json(body)?;
            tracking::validate_feedback(&scope, &p, FeedbackSource::Customer, NOW)?;
        }
        // POST /api/attachments/ as JSON (base64 and data: URLs)
        5 => {
            attachments_json(body, 1 << 20)?;
        }
        // PATCH /api/conversations/{pk}/rename/, POST …/mark/, PATCH …/update/
        6 => {
            let p: wire::RenamePayload = parse_json(body)?;
            tracking::validate_patch(&wire::UpdatePayload { name: Some(p.name), ..Default::default() })?;
        }
        7 => {
            let _: wire::MarkPayload = parse_json(body)?;
        }
        8 => {
            let p: wire::UpdatePayload = parse_json(body)?;
            tracking::validate_patch(&p)?;
        }
        // POST /api/feedbacks/, PATCH /api/feedbacks/{id}/
        9 => {
            let p: v01::FeedbackCreatePayload = parse_json(body)?;
            dataplane::validate_feedback_create(&scope, &p, FeedbackSource::Customer, NOW)?;
        }
        10 => {
            let p: v01::FeedbackPatchPayload = parse_json(body)?;
            dataplane::validate_feedback_change(&p, NOW)?;
        }
        // POST /api/actions/, PATCH /api/actions/{id}/
        11 => {
            let p: v01::ActionCreatePayload = parse_json(body)?;
            dataplane::validate_action_def(
                Some(&p.name),
                p.display_name.as_deref(),
                p.description.as_deref(),
                true,
            )?;
        }
        // PATCH /api/track/{pk}/
        _ => {
            let p: v01::MessagePatchPayload = parse_json(body)?;
            dataplane::validate_message_metadata(&p)?;
        }
    }
    Ok(())
}

/// `POST /api/ingest/`'s body (`gzip`: sent with `Content-Encoding: gzip`), read as the route
/// reads it with a body limit of `limit`: decompressed, parsed, validated whole and enriched.
/// The number of spans of the batch.
pub fn span_batch(body: &[u8], gzip: bool, limit: usize) -> Result<usize, ApiError> {
    let enrich = Enrichment::default();
    let (batch, _archived) = routes::spans::read_batch(body, gzip, limit, &enrich, &scope(), NOW)?;
    Ok(batch.span_count())
}

/// `POST /api/attachments/` with a JSON body (the two base64 shapes): the files it holds, each at
/// most `max_bytes`.
pub fn attachments_json(body: &[u8], max_bytes: usize) -> Result<usize, ApiError> {
    let p: wire::AttachmentsPayload = parse_json(body)?;
    Ok(routes::attachments::from_json(&p, max_bytes, NOW)?.files.len())
}

/// `POST /api/attachments/` as `multipart/form-data` with this `Content-Type` header and body
/// (the two multipart shapes), read as the route reads it: the number of files, each at most
/// `max_bytes`.
pub async fn attachments_multipart(
    content_type: &str,
    body: Vec<u8>,
    max_bytes: usize,
) -> Result<usize, ApiError> {
    let req = Request::builder()
        .method("POST")
        .uri("/api/attachments/")
        .header(header::CONTENT_TYPE, content_type)
        .body(axum::body::Body::from(body))
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let mp = Multipart::from_request(req, &()).await.map_err(|e| ApiError::BadRequest(e.body_text()))?;
    Ok(routes::attachments::from_multipart(mp, max_bytes, NOW).await?.files.len())
}

/// A request target's query string, given to every listing's and the metrics' query parsers (as
/// if sent to each route), and to the link of the next page. A target that is not a valid URI
/// never reaches a handler (the HTTP parser refuses it): `Ok`.
pub fn query(query: &[u8]) -> Result<(), ApiError> {
    let Ok(query) = std::str::from_utf8(query) else { return Ok(()) };
    let Ok(uri) = format!("/api/conversations/?{query}").parse::<Uri>() else { return Ok(()) };
    let Query(q) = Query::<HashMap<String, String>>::try_from_uri(&uri)
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let results = [
        routes::conversations::full_param(&q).map(drop),
        routes::conversations::parse_list_query(&q).map(drop).map_err(ApiError::from),
        routes::archive::span_query(&q).map(drop).map_err(ApiError::from),
        routes::archive::usage_query(&q).map(drop).map_err(ApiError::from),
        routes::archive::summary_query(&q).map(drop).map_err(ApiError::from),
        routes::dataplane::feedback_query(&q).map(drop).map_err(ApiError::from),
        routes::dataplane::action_query(&q).map(drop).map_err(ApiError::from),
        metrics_query(&q),
    ];
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, axum::http::HeaderValue::from_static("example.com"));
    routes::conversations::page_url(None, &headers, &uri, 2);
    // The first refusal, as a request would see it.
    results.into_iter().collect::<Result<Vec<()>, ApiError>>().map(drop)
}

/// `GET /api/metrics/timeseries/`'s query (the overview's and the LLM metrics' are its first half).
fn metrics_query(q: &HashMap<String, String>) -> Result<(), ApiError> {
    let mq = metrics::query::parse(q, &scope().environments, NOW)?;
    metrics::series::parse(&mq, q)?;
    Ok(())
}

/// The data the routes decode from base64: a branding logo's `data:` URL (`PATCH
/// /api/dash/agents/{id}/`, `kind` even) or a base64 JSON upload's file (`kind` odd: `text` is
/// its `data`, with this `filename` and `mime_type`), each file at most `max_bytes`.
pub fn base64_data(
    kind: u8,
    text: &str,
    filename: Option<&str>,
    mime_type: Option<&str>,
    max_bytes: usize,
) -> Result<usize, ApiError> {
    if kind.is_multiple_of(2) {
        return agentsight_core::dashboard::logo_from_data_url(text)
            .map(|logo| logo.bytes.len())
            .map_err(|m| ApiError::field("branding.logo", m));
    }
    let file = wire::AttachmentFilePayload {
        filename: filename.map(str::to_string),
        mime_type: mime_type.map(str::to_string),
        data: text.to_string(),
    };
    let files = tracking::decode_base64_files(std::slice::from_ref(&file), max_bytes)?;
    Ok(files.iter().map(|f| f.data.len()).sum())
}

/// A fuzz target: its name (the binary in `fuzz/`, and the directory of its seeds and
/// regression inputs) and what it does with its input.
pub type Target = (&'static str, fn(&[u8]) -> Result<(), ApiError>);

/// Every fuzz target.
pub const TARGETS: &[Target] = &[
    ("json_bodies", json_bodies_input),
    ("span_batch", span_batch_input),
    ("gzip_body", gzip_body_input),
    ("multipart", multipart_input),
    ("query", query),
    ("base64_data", base64_data_input),
];

/// The oracle: `Ok`, or an error answered with a 4xx.
///
/// # Panics
///
/// When the error would be answered with anything but a 4xx.
pub fn check(target: &str, r: Result<(), ApiError>) {
    if let Err(e) = r {
        let status = e.status();
        assert!(status.is_client_error(), "{target}: {e:?} is answered with {status}, not a 4xx");
    }
}

/// `json_bodies`: the first byte picks the route ([`json_body`]), the rest is the body.
pub fn json_bodies_input(data: &[u8]) -> Result<(), ApiError> {
    let Some((&kind, body)) = data.split_first() else { return Ok(()) };
    json_body(kind, body)
}

/// The body limit of `span_batch` (the server's default is larger; the parsers do not depend on
/// it).
pub const SPAN_BATCH_LIMIT: usize = 1 << 20;

/// `span_batch`: the input is a plain JSON body.
pub fn span_batch_input(data: &[u8]) -> Result<(), ApiError> {
    span_batch(data, false, SPAN_BATCH_LIMIT).map(drop)
}

/// The body limit of `gzip_body`: small, so the output limit is crossed often.
pub const GZIP_LIMIT: usize = 64 * 1024;

/// `gzip_body`: the first byte chooses what the rest is: raw bytes sent as gzip (even), or a
/// body gzipped here first (odd; bit 1 splits it into two members, bit 2 appends a truncated
/// member), so the JSON behind a valid stream is reached too.
pub fn gzip_body_input(data: &[u8]) -> Result<(), ApiError> {
    use std::io::Write as _;
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = enc.write_all(data);
        enc.finish().unwrap_or_default()
    }
    let Some((&mode, rest)) = data.split_first() else { return Ok(()) };
    let body = if mode & 1 == 0 {
        rest.to_vec()
    } else {
        let (a, b) = rest.split_at(if mode & 2 != 0 { rest.len() / 2 } else { rest.len() });
        let mut body = gzip(a);
        if !b.is_empty() {
            body.extend(gzip(b));
        }
        if mode & 4 != 0 {
            body.extend_from_slice(&[0x1f, 0x8b, 8, 0]);
        }
        body
    };
    span_batch(&body, true, GZIP_LIMIT).map(drop)
}

/// Each file of `multipart` and `base64_data` at most: small, so the limit is crossed often.
pub const MAX_FUZZ_FILE: usize = 4096;

/// `multipart`: the body with boundary `XBOUNDARY`; when the input starts with `CT:`, its first
/// line is the Content-Type header instead.
pub fn multipart_input(data: &[u8]) -> Result<(), ApiError> {
    let (content_type, body) = match data.strip_prefix(b"CT:") {
        Some(rest) => {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let Ok(ct) = std::str::from_utf8(&rest[..end]) else { return Ok(()) };
            (ct.to_string(), rest.get(end + 1..).unwrap_or_default())
        }
        None => ("multipart/form-data; boundary=XBOUNDARY".to_string(), data),
    };
    futures::executor::block_on(attachments_multipart(&content_type, body.to_vec(), MAX_FUZZ_FILE)).map(drop)
}

/// `base64_data`: the first byte picks a logo (even) or an upload's file (odd); then up to two
/// NUL bytes split the filename and the MIME type from the data.
pub fn base64_data_input(data: &[u8]) -> Result<(), ApiError> {
    let Some((&kind, rest)) = data.split_first() else { return Ok(()) };
    let Ok(text) = std::str::from_utf8(rest) else { return Ok(()) };
    let mut parts = text.splitn(3, '\0');
    let (first, second, third) = (parts.next().unwrap_or(""), parts.next(), parts.next());
    let (filename, mime, payload) = match (second, third) {
        (Some(m), Some(d)) => (Some(first), Some(m), d),
        (Some(d), None) => (Some(first), None, d),
        _ => (None, None, first),
    };
    base64_data(kind, payload, filename, mime, MAX_FUZZ_FILE).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The committed inputs of a target: its seeds and its regression inputs.
    fn inputs(target: &str) -> Vec<std::path::PathBuf> {
        let fuzz = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let mut files = Vec::new();
        for dir in ["seeds", "regressions"] {
            let Ok(entries) = std::fs::read_dir(fuzz.join(dir).join(target)) else { continue };
            files.extend(entries.map(|e| e.unwrap().path()).filter(|p| p.is_file()));
        }
        files.sort();
        files
    }

    #[test]
    fn every_seed_and_regression_input_is_answered_with_ok_or_a_4xx() {
        for &(name, run) in TARGETS {
            let files = inputs(name);
            assert!(!files.is_empty(), "{name} has no seeds");
            for f in files {
                let data = std::fs::read(&f).unwrap();
                eprintln!("{}", f.display());
                check(name, run(&data));
            }
        }
    }

    #[test]
    #[should_panic(expected = "not a 4xx")]
    fn the_oracle_fails_on_a_5xx() {
        check("oracle", Err(ApiError::internal("a bug")));
    }

    #[test]
    fn the_oracle_passes_a_4xx() {
        check("oracle", Err(ApiError::field("x", "bad")));
        check("oracle", Err(ApiError::TooLarge { field: None, limit: 1 }));
    }

    #[test]
    fn the_seeds_are_valid_examples() {
        // Most seeds are accepted whole, so fuzzing starts from inputs that reach validation's end.
        for &(name, run) in TARGETS {
            let ok = inputs(name).iter().filter(|f| run(&std::fs::read(f).unwrap()).is_ok()).count();
            assert!(ok > 0, "no seed of {name} is accepted");
        }
    }
}
