//! The span plane's reads: environments, the span archive, traces, token usage.

use std::collections::HashMap;

use agentsight_core::archive::{self, Encoding};
use agentsight_core::prices::TokenCounts;
use agentsight_store::{
    EnvironmentRow, PageRequest, SpanFilter, SpanRow, SpanState, StoreError, StoreResult, TokenUsageRow,
    UsageFilter, UsageGroupBy, UsageGroupRow,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use crate::sqlerr;
use crate::traces::{Candidates, Segments};

pub(crate) fn environments(conn: &Connection, agent_id: i64) -> StoreResult<Vec<EnvironmentRow>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT id, slug, name, is_production, created_at FROM environments WHERE agent_id = ?1 ORDER BY id",
        )
        .map_err(sqlerr)?;
    stmt.query_map([agent_id], |r| {
        Ok(EnvironmentRow {
            id: r.get(0)?,
            slug: r.get(1)?,
            name: r.get(2)?,
            is_production: r.get(3)?,
            created_at: r.get(4)?,
        })
    })
    .map_err(sqlerr)?
    .collect::<rusqlite::Result<Vec<_>>>()
    .map_err(sqlerr)
}

/// Where an archived span's text lies: the archived body of its batch and the byte range in
/// the decoded body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TextRef {
    batch: i64,
    offset: i64,
    len: i64,
}

impl TextRef {
    /// Reads `batch_id, text_offset, text_len` from three columns starting at `col`.
    pub(crate) fn at(r: &Row<'_>, col: usize) -> rusqlite::Result<TextRef> {
        Ok(TextRef { batch: r.get(col)?, offset: r.get(col + 1)?, len: r.get(col + 2)? })
    }
}

/// Archived bodies decoded so far: each is read and decompressed once however many of its
/// spans are asked for (a batch's spans are usually read together). Reads `batches`, the
/// archive's (a reader has it attached, the archive's writer has it as `main`).
#[derive(Default)]
pub(crate) struct Texts {
    decoded: HashMap<i64, String>,
    bytes: usize,
}

/// Decoded text kept at most before the cache starts over (a body is at most one request).
const MAX_CACHED_BYTES: usize = 64 << 20;

impl Texts {
    /// The text of one span as sent.
    pub(crate) fn text(&mut self, conn: &Connection, t: TextRef) -> StoreResult<String> {
        let damaged = |why: String| StoreError::internal(format!("archived batch {}: {why}", t.batch));
        if !self.decoded.contains_key(&t.batch) {
            let (encoding, body): (i64, Vec<u8>) = conn
                .prepare_cached("SELECT encoding, body FROM batches WHERE id = ?1")
                .and_then(|mut s| s.query_row([t.batch], |r| Ok((r.get(0)?, r.get(1)?))))
                .optional()
                .map_err(sqlerr)?
                .ok_or_else(|| damaged("missing from the archive".into()))?;
            let encoding = Encoding::from_code(encoding)
                .ok_or_else(|| damaged(format!("unknown encoding {encoding}")))?;
            let text = archive::decode_as(encoding, &body, archive::MAX_DECODED_BYTES)
                .map_err(|e| StoreError::internal_from(format!("archived batch {}", t.batch), e))?;
            if self.bytes + text.len() > MAX_CACHED_BYTES {
                self.decoded.clear();
                self.bytes = 0;
            }
            self.bytes += text.len();
            self.decoded.insert(t.batch, text);
        }
        let text = &self.decoded[&t.batch];
        usize::try_from(t.offset)
            .ok()
            .zip(usize::try_from(t.len).ok())
            .and_then(|(o, n)| text.get(o..o.checked_add(n)?))
            .map(str::to_string)
            .ok_or_else(|| damaged(format!("no text at {} + {}", t.offset, t.len)))
    }
}

/// Span rows are in the archive (`crate::archiving`), their conversations here: a span's
/// conversation is its agent's `conversation_id`.
const SPAN_JOIN: &str = "c.agent_id = s.agent_id AND c.conversation_id = s.conversation_id";

const SPAN_COLUMNS: &str = "SELECT s.id, c.id, s.conversation_id, c.environment, s.span_id,
    s.trace_id, s.parent_span_id, s.turn_id, s.kind, s.name, s.status, s.started_at, s.ended_at,
    s.duration_ms, s.state, s.sdk_version, s.received_at, s.batch_id, s.text_offset, s.text_len";

/// The index that finds a conversation's spans in start order (and a resend: unique on
/// conversation, start and span id; migration 0008).
const CONVERSATION_INDEX: Access = Access::Index("spans_conversation");
/// The index that gives an agent's spans in time order.
const STARTED_INDEX: Access = Access::Index("spans_agent_started");

/// How a read reaches its rows: through an index it names, or by row id ranges (a trace's
/// candidate segments, `crate::traces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    Index(&'static str),
    Rowid,
}

/// `FROM table alias`, through `access` when given, joined to the row's conversation (`c`, on
/// `join`) when given. Without statistics SQLite's planner walks the agent's time-ordered index
/// to avoid sorting, even when a trace or a conversation names a few rows among millions, so
/// span and token-usage reads name their access path.
fn from_clause(table: &str, alias: &str, access: Option<Access>, join: Option<&str>) -> String {
    let access = match access {
        Some(Access::Index(i)) => format!(" INDEXED BY {i}"),
        Some(Access::Rowid) => " NOT INDEXED".to_string(),
        None => String::new(),
    };
    let join = join.map(|on| format!(" JOIN conversations c ON {on}")).unwrap_or_default();
    format!("FROM {table} {alias}{access}{join}")
}

fn span_from(access: Option<Access>) -> String {
    from_clause("spans", "s", access, Some(SPAN_JOIN))
}

/// A span row without its text, and where the text lies.
fn span_row(r: &Row<'_>) -> rusqlite::Result<(SpanRow, TextRef)> {
    let row = SpanRow {
        id: r.get(0)?,
        conversation_pk: r.get(1)?,
        conversation_id: r.get(2)?,
        environment: r.get(3)?,
        span_id: r.get::<_, i64>(4)? as u64,
        trace_id: r.get(5)?,
        parent_span_id: r.get::<_, Option<i64>>(6)?.map(|v| v as u64),
        turn_id: r.get::<_, Option<i64>>(7)?.map(|v| v as u64),
        kind: r.get(8)?,
        name: r.get(9)?,
        status: r.get(10)?,
        started_at: r.get(11)?,
        ended_at: r.get(12)?,
        duration_ms: r.get(13)?,
        state: SpanState::from_code(r.get(14)?),
        sdk_version: r.get(15)?,
        payload: None,
        received_at: r.get(16)?,
    };
    Ok((row, TextRef::at(r, 17)?))
}

/// The rows, with their texts when `payload`.
fn with_texts(conn: &Connection, rows: Vec<(SpanRow, TextRef)>, payload: bool) -> StoreResult<Vec<SpanRow>> {
    let mut texts = Texts::default();
    rows.into_iter()
        .map(|(mut row, at)| {
            if payload {
                row.payload = Some(texts.text(conn, at)?);
            }
            Ok(row)
        })
        .collect()
}

/// A `WHERE` on `table alias` under construction: clauses and their bound values (no user value
/// is formatted), and the index the query walks.
struct Where {
    table: &'static str,
    alias: &'static str,
    /// How a row meets its conversation.
    join_on: &'static str,
    clauses: Vec<String>,
    params: Vec<Value>,
    /// How the list reaches its rows: a trace's candidate row ids, the conversation's index
    /// when filtered by one, else the agent's rows in time order.
    index: Access,
}

impl Where {
    /// Rows of `agent_id` in `table alias`, reached through `index`, meeting their
    /// conversation on `join_on`.
    fn new(
        table: &'static str,
        alias: &'static str,
        join_on: &'static str,
        agent_id: i64,
        index: Access,
    ) -> Where {
        Where {
            table,
            alias,
            join_on,
            clauses: vec![format!("{alias}.agent_id = ?")],
            params: vec![Value::Integer(agent_id)],
            index,
        }
    }

    /// A clause reads the conversation's columns (`c.`), so the query joins it.
    fn joins(&self) -> bool {
        self.clauses.iter().any(|c| c.starts_with("c."))
    }

    /// `FROM` for a page: through the index, with the conversation (its columns are selected).
    fn from(&self) -> String {
        from_clause(self.table, self.alias, Some(self.index), Some(self.join_on))
    }

    /// The count of the rows. Unfiltered, it counts the entries of the smallest index that holds
    /// the agent (no table row read: about 30 ms for a million spans, against 290 ms through the
    /// time-ordered walk and the join); the join only when a clause needs the conversation.
    fn count_sql(&self) -> String {
        let index = if self.clauses.len() == 1 { None } else { Some(self.index) };
        format!(
            "SELECT count(*) {} WHERE {}",
            from_clause(self.table, self.alias, index, self.joins().then_some(self.join_on)),
            self.sql()
        )
    }

    fn eq_text(&mut self, col: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.clauses.push(format!("{col} = ?"));
            self.params.push(Value::Text(v.clone()));
        }
    }

    fn eq_int(&mut self, col: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.clauses.push(format!("{col} = ?"));
            self.params.push(Value::Integer(v));
        }
    }

    fn cmp(&mut self, col: &str, op: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.clauses.push(format!("{col} {op} ?"));
            self.params.push(Value::Integer(v));
        }
    }

    fn sql(&self) -> String {
        self.clauses.join(" AND ")
    }
}

/// The key of the trace index (migration 0006): the trace id's first 15 hex digits, right-padded
/// with zeros, as an integer (60 bits, never negative). A character that is not a lowercase hex
/// digit counts as 0, as in the migration's SQL; stored trace ids are lowercase hex.
pub(crate) fn trace_key(trace_id: &str) -> i64 {
    let digits = trace_id.bytes().chain(std::iter::repeat(b'0')).take(15);
    digits.fold(0i64, |key, c| {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0,
        };
        (key << 4) | i64::from(d)
    })
}

/// The spans of `f`; `trace` holds where the spans of `f.trace_id` may be, when it names one.
fn span_where(agent_id: i64, f: &SpanFilter, trace: Option<&Candidates>) -> Where {
    let mut w = Where::new("spans", "s", SPAN_JOIN, agent_id, STARTED_INDEX);
    if let Some(pk) = f.conversation {
        // The conversation's id, then its spans through their index.
        w.clauses.push(
            "s.conversation_id = (SELECT conversation_id FROM conversations WHERE id = ? AND agent_id = ?)"
                .into(),
        );
        w.params.extend([Value::Integer(pk), Value::Integer(agent_id)]);
    }
    w.eq_text("s.conversation_id", &f.conversation_id);
    w.eq_text("c.environment", &f.environment);
    w.eq_text("s.kind", &f.kind);
    w.eq_text("s.name", &f.name);
    w.eq_int("s.parent_span_id", f.parent_span_id.map(|v| v as i64));
    w.eq_int("s.span_id", f.span_id.map(|v| v as i64));
    w.eq_text("s.status", &f.status);
    w.eq_int("s.trace_key", f.trace_id.as_deref().map(trace_key));
    w.eq_text("s.trace_id", &f.trace_id);
    w.cmp("s.started_at", ">=", f.started_at_after);
    w.cmp("s.started_at", "<=", f.started_at_before);
    let trace = f.trace_id.as_ref().and(trace);
    if let Some(t) = trace {
        let (sql, ids) = t.sql("s");
        w.clauses.push(sql);
        w.params.extend(ids.into_iter().map(Value::Integer));
    }
    w.index = if trace.is_some() {
        Access::Rowid
    } else if f.conversation.is_some() || f.conversation_id.is_some() {
        CONVERSATION_INDEX
    } else {
        STARTED_INDEX
    };
    w
}

/// A page of a span list; `LIMIT` and `OFFSET` are bound after the filters.
fn list_sql(w: &Where, order: &str) -> String {
    format!(
        "{SPAN_COLUMNS} {} WHERE {} ORDER BY s.started_at {order}, s.id {order} LIMIT ? OFFSET ?",
        w.from(),
        w.sql()
    )
}

/// Where the spans of a trace may be (the segments' filters brought up to date through `conn`).
pub(crate) fn trace_candidates(
    conn: &Connection,
    segments: &Segments,
    agent_id: i64,
    trace_id: &str,
) -> StoreResult<Candidates> {
    segments.refresh(conn)?;
    segments.candidates(agent_id, trace_key(trace_id))
}

pub(crate) fn list_spans(
    conn: &Connection,
    segments: &Segments,
    agent_id: i64,
    f: &SpanFilter,
    page: PageRequest,
    payload: bool,
) -> StoreResult<(i64, Vec<SpanRow>)> {
    let trace = f.trace_id.as_deref().map(|t| trace_candidates(conn, segments, agent_id, t)).transpose()?;
    let mut w = span_where(agent_id, f, trace.as_ref());
    let count: i64 =
        conn.query_row(&w.count_sql(), params_from_iter(w.params.iter()), |r| r.get(0)).map_err(sqlerr)?;
    let order = if f.descending { "DESC" } else { "ASC" };
    let sql = list_sql(&w, order);
    w.params.push(Value::Integer(page.page_size));
    w.params.push(Value::Integer((page.page - 1).saturating_mul(page.page_size)));
    let mut stmt = conn.prepare(&sql).map_err(sqlerr)?;
    let rows = stmt
        .query_map(params_from_iter(w.params.iter()), span_row)
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    Ok((count, with_texts(conn, rows, payload)?))
}

pub(crate) fn span(conn: &Connection, agent_id: i64, id: i64, payload: bool) -> StoreResult<Option<SpanRow>> {
    let row = conn
        .query_row(
            &format!("{SPAN_COLUMNS} {} WHERE s.id = ?1 AND s.agent_id = ?2", span_from(None)),
            params![id, agent_id],
            span_row,
        )
        .optional()
        .map_err(sqlerr)?;
    Ok(with_texts(conn, row.into_iter().collect(), payload)?.pop())
}

/// The spans of a trace in `where_ids` (the candidates' condition): ?1 agent, ?2 trace id, ?3
/// limit, ?4 its `trace_key`, then the condition's values.
fn trace_sql(where_ids: &str) -> String {
    format!(
        "{SPAN_COLUMNS} {} WHERE s.agent_id = ?1 AND s.trace_key = ?4 AND s.trace_id = ?2 AND {where_ids}
         ORDER BY s.started_at, s.id LIMIT ?3",
        span_from(Some(Access::Rowid))
    )
}

pub(crate) fn trace(
    conn: &Connection,
    segments: &Segments,
    agent_id: i64,
    trace_id: &str,
    limit: i64,
) -> StoreResult<(Vec<SpanRow>, bool)> {
    let (where_ids, ids) = trace_candidates(conn, segments, agent_id, trace_id)?.sql("s");
    let mut values = vec![
        Value::Integer(agent_id),
        Value::Text(trace_id.to_string()),
        Value::Integer(limit + 1),
        Value::Integer(trace_key(trace_id)),
    ];
    values.extend(ids.into_iter().map(Value::Integer));
    let mut stmt = conn.prepare(&trace_sql(&where_ids)).map_err(sqlerr)?;
    let mut rows = stmt
        .query_map(params_from_iter(values.iter()), span_row)
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    let truncated = rows.len() as i64 > limit;
    rows.truncate(limit.max(0) as usize);
    Ok((with_texts(conn, rows, false)?, truncated))
}

const USAGE_COLUMNS: &str =
    "SELECT u.id, u.conversation_pk, c.conversation_id, c.environment, u.turn_id, u.model,
    u.system, u.calls, u.unreported_calls, u.error_calls, u.input_tokens, u.output_tokens,
    u.cache_read_tokens, u.cache_write_tokens, u.embedding_tokens, u.reasoning_tokens,
    u.audio_input_tokens, u.audio_output_tokens, u.cost_pico, u.cost_source, u.price_table,
    u.incomplete, u.incomplete_reason, u.started_at, u.ended_at";

fn usage_row(r: &Row<'_>) -> rusqlite::Result<TokenUsageRow> {
    Ok(TokenUsageRow {
        id: r.get(0)?,
        conversation_pk: r.get(1)?,
        conversation_id: r.get(2)?,
        environment: r.get(3)?,
        turn_id: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
        model: r.get(5)?,
        system: r.get(6)?,
        calls: r.get(7)?,
        unreported_calls: r.get(8)?,
        error_calls: r.get(9)?,
        tokens: TokenCounts {
            input: r.get(10)?,
            output: r.get(11)?,
            cache_read: r.get(12)?,
            cache_write: r.get(13)?,
            embedding: r.get(14)?,
            reasoning: r.get(15)?,
            audio_input: r.get(16)?,
            audio_output: r.get(17)?,
        },
        cost_pico: r.get(18)?,
        cost_source: r.get(19)?,
        price_table: r.get(20)?,
        incomplete: r.get(21)?,
        incomplete_reason: r.get(22)?,
        started_at: r.get(23)?,
        ended_at: r.get(24)?,
    })
}

/// The index of `UNIQUE (conversation_pk, turn_key, model)`: a conversation's usage rows.
const USAGE_CONVERSATION_INDEX: Access = Access::Index("sqlite_autoindex_token_usage_1");
/// The index that gives an agent's usage rows in time order.
const USAGE_STARTED_INDEX: Access = Access::Index("token_usage_agent_started");

fn usage_where(agent_id: i64, f: &UsageFilter) -> Where {
    // As for spans: a conversation's rows through its index, not a walk of the agent's rows.
    let conversation = f.conversation.is_some() || f.conversation_id.is_some();
    let index = if conversation { USAGE_CONVERSATION_INDEX } else { USAGE_STARTED_INDEX };
    let mut w = Where::new("token_usage", "u", "c.id = u.conversation_pk", agent_id, index);
    w.eq_int("u.conversation_pk", f.conversation);
    if f.conversation_id.is_some() {
        w.eq_int("c.agent_id", Some(agent_id));
    }
    w.eq_text("c.conversation_id", &f.conversation_id);
    w.eq_text("u.cost_source", &f.cost_source);
    w.eq_text("c.environment", &f.environment);
    w.eq_int("u.incomplete", f.incomplete.map(i64::from));
    w.eq_text("u.model", &f.model);
    w.eq_int("u.turn_id", f.turn_id.map(|v| v as i64));
    w.cmp("u.started_at", ">=", f.started_at_after);
    w.cmp("u.started_at", "<=", f.started_at_before);
    w
}

fn usage_list_sql(w: &Where) -> String {
    format!(
        "{USAGE_COLUMNS} {} WHERE {} ORDER BY u.started_at DESC, u.id DESC LIMIT ? OFFSET ?",
        w.from(),
        w.sql()
    )
}

pub(crate) fn list_token_usage(
    conn: &Connection,
    agent_id: i64,
    f: &UsageFilter,
    page: PageRequest,
) -> StoreResult<(i64, Vec<TokenUsageRow>)> {
    let mut w = usage_where(agent_id, f);
    let count: i64 =
        conn.query_row(&w.count_sql(), params_from_iter(w.params.iter()), |r| r.get(0)).map_err(sqlerr)?;
    let sql = usage_list_sql(&w);
    w.params.push(Value::Integer(page.page_size));
    w.params.push(Value::Integer((page.page - 1).saturating_mul(page.page_size)));
    let mut stmt = conn.prepare(&sql).map_err(sqlerr)?;
    let rows = stmt
        .query_map(params_from_iter(w.params.iter()), usage_row)
        .map_err(sqlerr)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(sqlerr)?;
    Ok((count, rows))
}

pub(crate) fn usage_summary(
    conn: &Connection,
    agent_id: i64,
    f: &UsageFilter,
    group_by: UsageGroupBy,
) -> StoreResult<Vec<UsageGroupRow>> {
    let w = usage_where(agent_id, f);
    let key = match group_by {
        UsageGroupBy::Model => "u.model",
        UsageGroupBy::Conversation => "c.conversation_id",
        UsageGroupBy::Day => "date(u.started_at / 1000000, 'unixepoch')",
    };
    let sql = format!(
        "SELECT {key}, sum(u.calls), count(*), sum(u.error_calls), sum(u.input_tokens), sum(u.output_tokens),
            sum(u.cache_read_tokens), sum(u.cache_write_tokens), sum(u.embedding_tokens),
            sum(u.reasoning_tokens), sum(u.audio_input_tokens), sum(u.audio_output_tokens),
            coalesce(sum(u.cost_pico / 1000000), 0), sum(u.cost_pico IS NULL),
            coalesce(sum(u.cost_pico % 1000000), 0)
         {} WHERE {} GROUP BY 1 ORDER BY 13 DESC, 15 DESC, 1",
        w.from(),
        w.sql()
    );
    let mut stmt = conn.prepare(&sql).map_err(sqlerr)?;
    stmt.query_map(params_from_iter(w.params.iter()), |r| {
        Ok(UsageGroupRow {
            group: r.get(0)?,
            calls: r.get(1)?,
            rows: r.get(2)?,
            error_calls: r.get(3)?,
            tokens: TokenCounts {
                input: r.get(4)?,
                output: r.get(5)?,
                cache_read: r.get(6)?,
                cache_write: r.get(7)?,
                embedding: r.get(8)?,
                reasoning: r.get(9)?,
                audio_input: r.get(10)?,
                audio_output: r.get(11)?,
            },
            cost_pico: agentsight_core::prices::join_split_sum(r.get(12)?, r.get(14)?),
            unpriced_rows: r.get(13)?,
        })
    })
    .map_err(sqlerr)?
    .collect::<rusqlite::Result<Vec<_>>>()
    .map_err(sqlerr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_trace_key_is_the_first_fifteen_hex_digits() {
        assert_eq!(trace_key("0123456789abcdef0123456789abcdef"), 0x0012_3456_789a_bcde);
        assert_eq!(trace_key("ffffffffffffffffffffffffffffffff"), 0x0fff_ffff_ffff_ffff);
        assert_eq!(trace_key("abc"), 0x0abc_0000_0000_0000);
        assert_eq!(trace_key("abc0"), trace_key("abc"));
        assert_eq!(trace_key(""), 0);
        assert!(trace_key("ffffffffffffffff") >= 0);
    }

    #[test]
    fn span_reads_name_their_access_path() {
        let (c, _dir) = crate::migrate::test_db();
        let plan = |sql: &str, n: usize| -> String {
            let sql = format!("EXPLAIN QUERY PLAN {sql}");
            let mut stmt = c.prepare(&sql).unwrap();
            let params: Vec<Value> = (0..n).map(|_| Value::Integer(1)).collect();
            let rows = stmt.query_map(params_from_iter(params.iter()), |r| r.get::<_, String>(3)).unwrap();
            rows.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        // A trace: its candidate segments and the spans after the last one, by row id (an
        // index on random trace ids is what `crate::traces` does without).
        let cands = Candidates { ranges: vec![(1, 100), (201, 300)], open_after: 400 };
        let (ids, values) = cands.sql("s");
        let trace = plan(&trace_sql(&ids), 4 + values.len());
        assert!(
            trace.contains("MULTI-INDEX OR")
                && trace.contains("SEARCH s USING INTEGER PRIMARY KEY (rowid>?)"),
            "{trace}"
        );
        assert!(trace.contains("SEARCH s USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"), "{trace}");
        assert!(!trace.contains("spans_agent_started"), "{trace}");
        let filters = [
            (
                SpanFilter { trace_id: Some("abc".into()), ..SpanFilter::default() },
                "INTEGER PRIMARY KEY (rowid>?)",
            ),
            (
                SpanFilter { trace_id: Some("abc".into()), conversation: Some(7), ..SpanFilter::default() },
                "INTEGER PRIMARY KEY (rowid>?)",
            ),
            (
                SpanFilter { conversation: Some(7), kind: Some("llm".into()), ..SpanFilter::default() },
                "INDEX spans_conversation (agent_id=? AND conversation_id=?)",
            ),
            (
                SpanFilter { conversation_id: Some("c1".into()), ..SpanFilter::default() },
                "INDEX spans_conversation (agent_id=? AND conversation_id=?)",
            ),
        ];
        let uses = |plan: &str, search: &str| {
            plan.contains(&format!("SEARCH s USING {search}"))
                || plan.contains(&format!("SEARCH s USING COVERING {search}"))
        };
        for (f, search) in filters {
            let w = span_where(1, &f, Some(&cands));
            let list = plan(&list_sql(&w, "ASC"), w.params.len() + 2);
            assert!(uses(&list, search), "{f:?}: {list}");
            let count = plan(&w.count_sql(), w.params.len());
            assert!(uses(&count, search), "{f:?}: {count}");
        }
        // Unfiltered: the page walks the agent's spans in time order (LIMIT stops it early), the
        // count reads one index and no table row.
        let w = span_where(1, &SpanFilter::default(), None);
        let list = plan(&list_sql(&w, "DESC"), w.params.len() + 2);
        assert!(list.contains("SEARCH s USING INDEX spans_agent_started (agent_id=?)"), "{list}");
        assert!(!list.contains("TEMP B-TREE"), "no sort: {list}");
        let count = plan(&w.count_sql(), w.params.len());
        assert!(count.contains("USING COVERING INDEX") && !count.contains("SEARCH c"), "{count}");
        let w = span_where(
            1,
            &SpanFilter { environment: Some("production".into()), ..SpanFilter::default() },
            None,
        );
        let count = plan(&w.count_sql(), w.params.len());
        assert!(
            count.contains(
                "SEARCH c USING INDEX sqlite_autoindex_conversations_1 (agent_id=? AND conversation_id=?)"
            ),
            "{count}"
        );
        // Token usage: a conversation's rows through its index, the rest in time order.
        for (f, search) in [
            (
                UsageFilter { conversation: Some(7), ..UsageFilter::default() },
                "sqlite_autoindex_token_usage_1 (conversation_pk=?)",
            ),
            (
                UsageFilter { conversation_id: Some("c1".into()), ..UsageFilter::default() },
                "sqlite_autoindex_token_usage_1 (conversation_pk=?)",
            ),
            (
                UsageFilter { model: Some("m".into()), ..UsageFilter::default() },
                "token_usage_agent_started (agent_id=?)",
            ),
        ] {
            let w = usage_where(1, &f);
            let list = plan(&usage_list_sql(&w), w.params.len() + 2);
            assert!(list.contains(&format!("SEARCH u USING INDEX {search}")), "{f:?}: {list}");
            let count = plan(&w.count_sql(), w.params.len());
            assert!(count.contains(&format!("SEARCH u USING INDEX {search}")), "{f:?}: {count}");
        }
        let w = usage_where(1, &UsageFilter::default());
        let count = plan(&w.count_sql(), w.params.len());
        assert!(count.contains("USING COVERING INDEX") && !count.contains("SEARCH c"), "{count}");
    }
}
