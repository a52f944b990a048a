//! CSV export of the conversations matching the list filters, and of their transcript entries:
//! streamed in keyset pages, so a large export holds neither a reader nor much memory.

use agentsight_store::prelude::*;
use std::borrow::Cow;
use std::collections::HashMap;

use agentsight_core::metrics::feedback;
use agentsight_core::time::{now_micros, to_iso};
use agentsight_store::{ConversationFilter, ExportCursor, ExportRow, MessageKind, MessageRow};
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::conversations::dashboard_query;
use crate::app::{AppState, Store};
use crate::auth::ReadAccess;
use crate::error::ApiError;

/// Conversations read per page of the export.
const PAGE: i64 = 500;

/// The conversations file's columns.
pub const CONVERSATION_COLUMNS: [&str; 18] = [
    "id",
    "conversation_id",
    "name",
    "customer_id",
    "started_at",
    "ended_at",
    "message_count",
    "device",
    "source",
    "language",
    "environment",
    "country",
    "city",
    "is_used",
    "is_marked",
    "escalated",
    "feedback",
    "metadata",
];

/// The messages file's columns.
pub const MESSAGE_COLUMNS: [&str; 7] =
    ["conversation_pk", "conversation_id", "message_id", "timestamp", "kind", "sender", "content"];

/// A text cell a spreadsheet would run as a formula gets a leading `'` (OWASP's advice on CSV
/// injection); everything else is as stored. Spreadsheets skip leading blanks and invisible
/// characters and read full-width signs as their ASCII forms, so the first character after any
/// of those counts: `=`, `+`, `-`, `@` or their full-width `＝ ＋ － ＠`, or a tab or carriage
/// return anywhere in the leading blanks.
pub fn safe_cell(s: &str) -> Cow<'_, str> {
    let mut chars = s.chars();
    let dangerous = loop {
        match chars.next() {
            None => break false,
            Some('\t' | '\r') => break true,
            Some(c) if c.is_whitespace() || is_invisible(c) => continue,
            Some(c) => break matches!(c, '=' | '+' | '-' | '@' | '＝' | '＋' | '－' | '＠'),
        }
    };
    if dangerous { Cow::Owned(format!("'{s}")) } else { Cow::Borrowed(s) }
}

/// Zero-width and other invisible format characters a spreadsheet may skip before a formula.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' // soft hyphen
        | '\u{180E}' // Mongolian vowel separator
        | '\u{200B}'..='\u{200F}' // zero-width space, (non-)joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // bidi isolates
        | '\u{FEFF}' // byte order mark / zero-width no-break space
    )
}

fn opt(s: &Option<String>) -> Cow<'_, str> {
    s.as_deref().map(safe_cell).unwrap_or(Cow::Borrowed(""))
}

fn conversation_record(r: &ExportRow) -> Vec<String> {
    let c = &r.conversation;
    let meta: Option<serde_json::Value> = c.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok());
    let fb = feedback::effective(r.latest_feedback.as_deref(), meta.as_ref())
        .map(|f| f.sentiment.as_str().to_string())
        .unwrap_or_default();
    vec![
        c.id.to_string(),
        safe_cell(&c.conversation_id).into_owned(),
        opt(&c.name).into_owned(),
        opt(&c.customer_id).into_owned(),
        to_iso(c.started_at),
        c.ended_at.map(to_iso).unwrap_or_default(),
        c.message_count.to_string(),
        opt(&c.device).into_owned(),
        opt(&c.source).into_owned(),
        opt(&c.language).into_owned(),
        opt(&c.environment).into_owned(),
        opt(&c.country).into_owned(),
        opt(&c.city).into_owned(),
        c.is_used.to_string(),
        c.is_marked.to_string(),
        r.escalated.to_string(),
        fb,
        c.metadata.clone().unwrap_or_default(),
    ]
}

fn message_record(cid: &str, m: &MessageRow) -> Vec<String> {
    let kind = match m.kind {
        MessageKind::Message => "message",
        MessageKind::Action => "action",
        MessageKind::Button => "button",
    };
    vec![
        m.conversation_pk.to_string(),
        safe_cell(cid).into_owned(),
        m.id.to_string(),
        to_iso(m.ts),
        kind.to_string(),
        safe_cell(&m.sender).into_owned(),
        safe_cell(&m.content).into_owned(),
    ]
}

fn csv_bytes(rows: impl IntoIterator<Item = Vec<String>>) -> Result<Bytes, std::io::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.write_record(&r).map_err(std::io::Error::other)?;
    }
    w.into_inner().map(Bytes::from).map_err(|e| std::io::Error::other(e.to_string()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Conversations,
    Messages,
}

struct Pager<S: Store> {
    st: AppState<S>,
    agent_id: i64,
    filter: ConversationFilter,
    after: Option<ExportCursor>,
    header: bool,
    done: bool,
    kind: Kind,
}

impl<S: Store> Pager<S> {
    async fn next(&mut self) -> Option<Result<Bytes, std::io::Error>> {
        if self.header {
            self.header = false;
            let cols: &[&str] =
                if self.kind == Kind::Conversations { &CONVERSATION_COLUMNS } else { &MESSAGE_COLUMNS };
            return Some(csv_bytes([cols.iter().map(|c| c.to_string()).collect()]));
        }
        if self.done {
            return None;
        }
        let page = match self
            .st
            .events
            .export_conversations(self.agent_id, self.filter.clone(), self.after.take(), PAGE)
            .await
        {
            Ok(p) => p,
            Err(e) => return Some(Err(std::io::Error::other(e.to_string()))),
        };
        self.after = page.next;
        self.done = self.after.is_none();
        let page = page.rows;
        if page.is_empty() {
            return None;
        }
        match self.kind {
            Kind::Conversations => Some(csv_bytes(page.iter().map(conversation_record))),
            Kind::Messages => {
                let ids: HashMap<i64, String> = page
                    .iter()
                    .map(|r| (r.conversation.id, r.conversation.conversation_id.clone()))
                    .collect();
                let pks = page.iter().map(|r| r.conversation.id).collect();
                match self.st.events.export_entries(self.agent_id, pks).await {
                    Ok(entries) => Some(csv_bytes(entries.iter().map(|m| {
                        message_record(ids.get(&m.conversation_pk).map(String::as_str).unwrap_or(""), m)
                    }))),
                    Err(e) => Some(Err(std::io::Error::other(e.to_string()))),
                }
            }
        }
    }
}

async fn export<S: Store>(
    st: AppState<S>,
    access: ReadAccess,
    q: HashMap<String, String>,
    kind: Kind,
) -> Result<Response, ApiError> {
    let (filter, _) = dashboard_query(&st, access.agent_id(), &q).await?;
    let pager =
        Pager { st, agent_id: access.agent_id(), filter, after: None, header: true, done: false, kind };
    let stream = futures::stream::unfold(pager, |mut p| async move { p.next().await.map(|b| (b, p)) });
    let what = if kind == Kind::Conversations { "conversations" } else { "messages" };
    let day = to_iso(now_micros()).get(..10).unwrap_or("").replace('-', "");
    let mut res = Body::from_stream(stream).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"agent-{}-{what}-{day}.csv\"",
        access.agent_id()
    )) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

/// `GET /api/dash/export/conversations.csv?agent=<id>&<list filters>`.
#[utoipa::path(
    get,
    path = "/api/dash/export/conversations.csv",
    tag = "dashboard",
    security(("api_key" = []), ("session" = [])),
    params(super::openapi::ConversationQuery),
    responses(
        (status = 200, description = "The conversations as CSV.", content_type = "text/csv", body = String),
    ),
)]
pub(crate) async fn export_conversations<S: Store>(
    State(st): State<AppState<S>>,
    access: ReadAccess,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    export(st, access, q, Kind::Conversations).await
}

/// `GET /api/dash/export/messages.csv?agent=<id>&<list filters>`.
#[utoipa::path(
    get,
    path = "/api/dash/export/messages.csv",
    tag = "dashboard",
    security(("api_key" = []), ("session" = [])),
    params(super::openapi::ConversationQuery),
    responses(
        (status = 200, description = "Their messages as CSV.", content_type = "text/csv", body = String),
    ),
)]
pub(crate) async fn export_messages<S: Store>(
    State(st): State<AppState<S>>,
    access: ReadAccess,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    export(st, access, q, Kind::Messages).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_looking_cells_are_defused_and_others_kept() {
        assert_eq!(safe_cell("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(safe_cell("-1+2"), "'-1+2");
        assert_eq!(safe_cell("@cmd"), "'@cmd");
        assert_eq!(safe_cell("hello, \"world\""), "hello, \"world\"");
        assert_eq!(safe_cell(""), "");
    }

    #[test]
    fn formulas_behind_blanks_invisible_characters_or_full_width_signs_are_defused() {
        for cell in [
            " =1+1",
            "   @SUM(A1)",
            "\u{00A0}=1+1",
            "\u{200B}=1+1",
            "\u{FEFF}+1",
            "\u{2060}\u{200D} -2",
            "\n=1+1",
            "\r\n=1+1",
            "\u{3000}=1",
            "＝1+1",
            "＋1",
            "－1",
            "＠A1",
            " \u{00A0}\u{200B}＝HYPERLINK(\"x\")",
            "\tfoo",
            "\rfoo",
            "  \tfoo",
        ] {
            assert_eq!(safe_cell(cell), format!("'{cell}"), "{cell:?}");
        }
        for cell in [" hello", "\u{00A0}1=1", "a=b", "\u{200B}x", "   ", "1-2", "e-mail"] {
            assert_eq!(safe_cell(cell), cell, "{cell:?}");
        }
    }

    #[test]
    fn records_are_quoted_per_rfc_4180() {
        let b = csv_bytes([vec!["a,b".to_string(), "say \"hi\"".to_string(), "x\ny".to_string()]]).unwrap();
        assert_eq!(&b[..], b"\"a,b\",\"say \"\"hi\"\"\",\"x\ny\"\n");
    }
}
