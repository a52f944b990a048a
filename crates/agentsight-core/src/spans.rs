//! The 0.1.x span plane: validating a `POST /api/ingest/` batch into commands, and what each
//! span projects into (docs/sdk-protocol.md, B2–B4).
//!
//! A batch is validated whole before anything is written: [`validate_batch`] returns either a
//! [`SpanIngest`] the store writes in one transaction, or the list of bad blocks (index, the
//! raw block's `conversation_id`, field → messages). Every span is kept whole for the archive;
//! what it projects into is its [`SpanEffect`].

use std::fmt::Write as _;

use serde_json::{Map, Value};

use agentsight_protocol::v01 as wire;

use crate::error::ValidationErrors;
use crate::limits::{self, check_chars};
use crate::normalize;
use crate::prices::{self, TokenCounts};
use crate::time::{self, Micros};
use crate::tracking::{AgentScope, ConversationFields, ConversationUpsert, json_object};

/// Blocks listed in a 400 body at most (upstream lists 20); validation stops at the next bad one.
pub const MAX_REPORTED_BLOCKS: usize = 20;
/// Bad spans listed for one block at most; validation of the block stops at the next bad one.
pub const MAX_REPORTED_SPANS: usize = 20;
pub use wire::{MAX_BLOCKS_PER_BATCH, MAX_SPANS_PER_BATCH};
/// Span `kind` values longer than this are refused.
pub const MAX_KIND_CHARS: usize = 64;
/// Span names are stored clipped to this many characters (the archive keeps the whole span).
pub const MAX_SPAN_NAME_CHARS: usize = 255;
/// Model ids longer than this are refused.
pub const MAX_MODEL_CHARS: usize = 255;

/// Attribute names the projection reads (the SDK's semantic conventions).
pub mod attr {
    /// Span kind.
    pub const KIND: &str = "agentsight.span.kind";
    /// The turn a span belongs to (a turn's own span id on the turn).
    pub const TURN_ID: &str = "agentsight.turn.id";
    /// Turn completeness.
    pub const TURN_COMPLETE: &str = "agentsight.turn.complete";
    /// Why a turn is incomplete.
    pub const TURN_INCOMPLETE_REASON: &str = "agentsight.turn.incomplete_reason";
    /// The message event.
    pub const MESSAGE_EVENT: &str = "agentsight.message";
    /// Message sender.
    pub const MESSAGE_SENDER: &str = "agentsight.message.sender";
    /// Message text.
    pub const MESSAGE_CONTENT: &str = "agentsight.message.content";
    /// Message metadata (a JSON string).
    pub const MESSAGE_METADATA: &str = "agentsight.message.metadata";
    /// Span metadata (a JSON string).
    pub const METADATA: &str = "agentsight.metadata";
    /// Tool name.
    pub const TOOL_NAME: &str = "agentsight.tool.name";
    /// Tool arguments (a JSON string).
    pub const TOOL_ARGUMENTS: &str = "agentsight.tool.arguments";
    /// Tool response (Python repr).
    pub const TOOL_RESPONSE: &str = "agentsight.tool.response";
    /// Tool error text.
    pub const TOOL_ERROR: &str = "agentsight.tool.error";
    /// LLM provider.
    pub const LLM_SYSTEM: &str = "gen_ai.system";
    /// The billed model id.
    pub const LLM_MODEL: &str = "gen_ai.request.model";
    /// Uncached input tokens.
    pub const LLM_INPUT: &str = "gen_ai.usage.input_tokens";
    /// Output tokens.
    pub const LLM_OUTPUT: &str = "gen_ai.usage.output_tokens";
    /// Cache reads.
    pub const LLM_CACHE_READ: &str = "agentsight.llm.cache_read_tokens";
    /// Cache writes.
    pub const LLM_CACHE_WRITE: &str = "agentsight.llm.cache_write_tokens";
    /// Reasoning (subset of output).
    pub const LLM_REASONING: &str = "agentsight.llm.reasoning_tokens";
    /// Audio input (subset).
    pub const LLM_AUDIO_IN: &str = "agentsight.llm.audio_input_tokens";
    /// Audio output (subset).
    pub const LLM_AUDIO_OUT: &str = "agentsight.llm.audio_output_tokens";
    /// Embedding input.
    pub const LLM_EMBEDDING: &str = "agentsight.llm.embedding_tokens";
    /// False when a stream ended without usage (its 0/0 is unknown).
    pub const LLM_USAGE_REPORTED: &str = "agentsight.llm.usage_reported";
    /// Error text of a failed call.
    pub const LLM_ERROR: &str = "agentsight.llm.error";
    /// Button event.
    pub const BUTTON_EVENT: &str = "agentsight.button.event";
    /// Button label.
    pub const BUTTON_LABEL: &str = "agentsight.button.label";
    /// Button value.
    pub const BUTTON_VALUE: &str = "agentsight.button.value";
}

/// A validated batch: archived in one transaction, then projected in one (all or nothing each).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanIngest {
    /// Agent.
    pub agent_id: i64,
    /// `sdk.version` of the envelope.
    pub sdk_version: Option<String>,
    /// One per conversation block.
    pub blocks: Vec<SpanBlock>,
    /// Server receipt time.
    pub received_at: Micros,
    /// Bytes of the body's JSON (what the batch weighs while it waits to be projected).
    pub body_len: usize,
}

impl SpanIngest {
    /// Spans in the batch.
    pub fn span_count(&self) -> usize {
        self.blocks.iter().map(|b| b.spans.len()).sum()
    }
}

/// One conversation's block.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanBlock {
    /// The conversation upsert (hoisted fields; `is_used` by the rule of `conversation` kinds;
    /// `event_time` = the earliest span start).
    pub upsert: ConversationUpsert,
    /// The spans, in the order sent; each one's [`SpanRecord::text`] is its byte range in the
    /// batch's body.
    pub spans: Vec<SpanRecord>,
}

/// One span: its archive row and what it projects into.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRecord {
    /// The 64-bit span id.
    pub span_id: u64,
    /// Trace id (lower-case hex).
    pub trace_id: String,
    /// Parent span id.
    pub parent_span_id: Option<u64>,
    /// The turn it belongs to (its own id for a turn).
    pub turn_id: Option<u64>,
    /// `turn`, `tool`, `llm`, … or anything else (archived only).
    pub kind: String,
    /// Name (clipped to [`MAX_SPAN_NAME_CHARS`]).
    pub name: String,
    /// `unset` | `ok` | `error` (as sent).
    pub status: String,
    /// Start.
    pub started_at: Micros,
    /// End (the start when absent).
    pub ended_at: Micros,
    /// Duration as sent.
    pub duration_ms: Option<f64>,
    /// Where the span exactly as sent lies: a byte range of the batch's body as received (of
    /// the text given to [`validate_span`] when validated alone).
    pub text: std::ops::Range<usize>,
    /// Projection.
    pub effect: SpanEffect,
}

/// What a span projects into.
#[derive(Debug, Clone, PartialEq)]
pub enum SpanEffect {
    /// A turn: its messages (projected only when complete).
    Turn(TurnEffect),
    /// A tool or task call → an action log.
    Tool(ToolEffect),
    /// An LLM call → a token usage row.
    Llm(LlmCall),
    /// A button press.
    Button(ButtonEffect),
    /// Archived only (`attachment`, `conversation` and unknown kinds).
    None,
}

/// A turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnEffect {
    /// `agentsight.turn.complete`.
    pub complete: bool,
    /// `error` | `abandoned` | `deadline` | `shutdown` when incomplete.
    pub incomplete_reason: Option<String>,
    /// Its `agentsight.message` events.
    pub messages: Vec<TurnMessage>,
}

/// A message event of a turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TurnMessage {
    /// `end_user` | `agent` | `system`.
    pub sender: String,
    /// Text.
    pub content: String,
    /// Metadata object, serialized.
    pub metadata: String,
    /// Event time.
    pub ts: Micros,
}

/// A tool or task call.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolEffect {
    /// Action name.
    pub name: String,
    /// Duration (rounded ms).
    pub duration_ms: Option<i64>,
    /// Arguments, a serialized object.
    pub tools_used: Option<String>,
    /// Response text.
    pub response: Option<String>,
    /// Error text.
    pub error: Option<String>,
    /// Metadata, serialized.
    pub metadata: String,
}

/// An LLM call.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmCall {
    /// `gen_ai.request.model`, or `unknown`.
    pub model: String,
    /// `gen_ai.system`.
    pub system: Option<String>,
    /// Counts.
    pub tokens: TokenCounts,
    /// False when the call reported no usage.
    pub usage_reported: bool,
    /// Failed.
    pub error: bool,
    /// Cost in pico-USD from the price table; `None` when the model is unpriced.
    pub cost_pico: Option<i64>,
}

/// A button press.
#[derive(Debug, Clone, PartialEq)]
pub struct ButtonEffect {
    /// Event.
    pub event: String,
    /// Label.
    pub label: String,
    /// Value.
    pub value: String,
    /// Metadata, serialized.
    pub metadata: String,
}

/// Why a batch was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchError {
    /// Something about the envelope (a field map: `conversations`, `sdk`).
    Envelope(ValidationErrors),
    /// Bad blocks: `(index, conversation_id as sent, errors)`, the first
    /// [`MAX_REPORTED_BLOCKS`]; `true` when there were more (validation stopped there).
    Blocks(Vec<(usize, Option<String>, ValidationErrors)>, bool),
}

/// Validates a whole batch: `p` is the envelope parsed from `body` (its blocks still raw,
/// borrowed from `body`, so each span's place in the body is known).
pub fn validate_batch(
    scope: &AgentScope,
    body: &str,
    p: &wire::IngestPayload<'_>,
    received_at: Micros,
) -> Result<SpanIngest, BatchError> {
    if p.conversations.is_empty() {
        return Err(BatchError::Envelope(ValidationErrors::single(
            "conversations",
            "This list may not be empty.",
        )));
    }
    // The work and memory of a batch are bounded by its limits, not by how much is wrong in it:
    // validation stops once the errors to report are known.
    let mut blocks = Vec::with_capacity(p.conversations.len());
    let mut bad = Vec::new();
    let mut spans_left = MAX_SPANS_PER_BATCH;
    for (i, raw) in p.conversations.iter().enumerate() {
        match validate_block(scope, body, raw.get(), received_at, &mut spans_left) {
            Ok(b) if bad.is_empty() => blocks.push(b),
            Ok(_) => {}
            Err(BlockError::TooManySpans) => {
                return Err(BatchError::Envelope(ValidationErrors::single(
                    "conversations",
                    format!(
                        "The batch holds more than {MAX_SPANS_PER_BATCH} spans; send the rest in another batch."
                    ),
                )));
            }
            Err(BlockError::Invalid(_, _)) if bad.len() == MAX_REPORTED_BLOCKS => {
                return Err(BatchError::Blocks(bad, true));
            }
            Err(BlockError::Invalid(cid, e)) => bad.push((i, cid, e)),
        }
    }
    if !bad.is_empty() {
        return Err(BatchError::Blocks(bad, false));
    }
    let sdk_version = p.sdk.as_ref().and_then(|s| s.version.clone()).map(|v| v.chars().take(64).collect());
    Ok(SpanIngest { agent_id: scope.agent_id, sdk_version, blocks, received_at, body_len: body.len() })
}

/// A batch validated whole ([`validate_batch`]) and each block's upsert enriched: at ingest,
/// and again for a batch projected from an archive after a restart.
pub fn validate_and_enrich(
    enrich: &crate::tracking::Enrichment,
    scope: &AgentScope,
    body: &str,
    p: &wire::IngestPayload<'_>,
    received_at: Micros,
) -> Result<SpanIngest, BatchError> {
    let mut batch = validate_batch(scope, body, p, received_at)?;
    for b in &mut batch.blocks {
        enrich.apply(&mut b.upsert);
    }
    Ok(batch)
}

/// Reads the `conversation_id` back from a block that did not parse.
fn raw_conversation_id(raw: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Id {
        conversation_id: Option<Value>,
    }
    match serde_json::from_str::<Id>(raw).ok()?.conversation_id? {
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// The message of a serde error without its position.
fn serde_message(e: &serde_json::Error) -> String {
    let m = e.to_string();
    match m.find(" at line ") {
        Some(i) => m[..i].to_string(),
        None => m,
    }
}

fn parse_named<'a, T: serde::Deserialize<'a>>(raw: &'a str, prefix: &str) -> Result<T, ValidationErrors> {
    if let Ok(v) = serde_json::from_str::<T>(raw) {
        return Ok(v);
    }
    let de = &mut serde_json::Deserializer::from_str(raw);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let msg = serde_message(&inner);
            let field = if let Some(missing) =
                msg.strip_prefix("missing field `").and_then(|m| m.split('`').next())
            {
                return Err(ValidationErrors::single(join(prefix, missing), "This field is required."));
            } else if let Some(unknown) =
                msg.strip_prefix("unknown field `").and_then(|m| m.split('`').next())
            {
                return Err(ValidationErrors::single(join(prefix, unknown), "Unknown field."));
            } else if path == "." || path == "?" {
                if prefix.is_empty() { "non_field_errors".to_string() } else { prefix.to_string() }
            } else {
                join(prefix, &path)
            };
            Err(ValidationErrors::single(field, msg))
        }
    }
}

fn join(prefix: &str, field: &str) -> String {
    if prefix.is_empty() { field.to_string() } else { format!("{prefix}.{field}") }
}

/// The byte range of `part` in `whole` when `part` is a slice of it.
fn range_in(whole: &str, part: &str) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

/// Why a block was refused.
enum BlockError {
    /// Its fields: the conversation id as sent, and the errors.
    Invalid(Option<String>, ValidationErrors),
    /// It took the batch past [`MAX_SPANS_PER_BATCH`].
    TooManySpans,
}

fn validate_block(
    scope: &AgentScope,
    body: &str,
    raw: &str,
    received_at: Micros,
    spans_left: &mut usize,
) -> Result<SpanBlock, BlockError> {
    let b: wire::BlockPayload<'_> =
        parse_named(raw, "").map_err(|e| BlockError::Invalid(raw_conversation_id(raw), e))?;
    *spans_left = spans_left.checked_sub(b.spans.len()).ok_or(BlockError::TooManySpans)?;
    let mut e = ValidationErrors::default();
    let conversation_id = b.conversation_id.trim().to_string();
    if conversation_id.is_empty() {
        e.add("conversation_id", "This field may not be blank.");
    }
    e.check("conversation_id", check_chars(&conversation_id, limits::MAX_ID_CHARS));
    let text = |e: &mut ValidationErrors, f: &str, v: Option<&str>, max: usize| {
        let t = normalize::trimmed(v)?;
        e.check(f, check_chars(t, max)).map(|_| t.to_string())
    };
    let fields = ConversationFields {
        name: text(&mut e, "name", b.name.as_deref(), limits::MAX_NAME_CHARS),
        customer_id: text(&mut e, "customer_id", b.customer_id.as_deref(), limits::MAX_ID_CHARS),
        customer_ip_address: normalize::trimmed(b.customer_ip_address.as_deref())
            .and_then(|v| e.check("customer_ip_address", normalize::ip_address(v)))
            .map(|ip| ip.to_string()),
        device: normalize::trimmed(b.device.as_deref()).and_then(|v| e.check("device", normalize::device(v))),
        source: normalize::trimmed(b.source.as_deref()).and_then(|v| e.check("source", normalize::source(v))),
        language: normalize::trimmed(b.language.as_deref())
            .and_then(|v| e.check("language", normalize::language(v))),
        environment: normalize::trimmed(b.environment.as_deref())
            .and_then(|v| e.check("environment", normalize::environment(v, &scope.environments))),
        metadata: e.check("metadata", json_object(b.metadata.as_ref())).flatten(),
        location: None,
    };
    let mut spans = Vec::with_capacity(b.spans.len());
    let mut prefix = String::new();
    let mut bad_spans = 0;
    for (i, s) in b.spans.iter().enumerate() {
        if bad_spans == MAX_REPORTED_SPANS {
            e.add(
                "spans",
                format!("More than {MAX_REPORTED_SPANS} spans are invalid; the first are listed."),
            );
            break;
        }
        // One buffer for every span's name in errors (`spans[3]`), not an allocation each.
        prefix.clear();
        let _ = write!(prefix, "spans[{i}]");
        match (validate_span(s.get(), &prefix), range_in(body, s.get())) {
            (Ok(mut r), Some(at)) => {
                r.text = at;
                spans.push(r)
            }
            // The parsers borrow every span from the body; a span elsewhere is a caller's bug.
            (Ok(_), None) => e.add(prefix.clone(), "The span is not part of the request body."),
            (Err(se), _) => {
                bad_spans += 1;
                for (k, msgs) in se.0 {
                    for m in msgs {
                        e.add(k.clone(), m);
                    }
                }
            }
        }
    }
    if !e.is_empty() {
        return Err(BlockError::Invalid(Some(b.conversation_id), e));
    }
    let is_used = spans.iter().any(|s| s.kind != "conversation");
    let event_time = spans.iter().map(|s| s.started_at).min().unwrap_or(received_at);
    Ok(SpanBlock {
        upsert: ConversationUpsert {
            agent_id: scope.agent_id,
            conversation_id,
            fields,
            is_used,
            event_time,
            received_at,
        },
        spans,
    })
}

/// Parses a span id: 1–16 hex digits.
pub fn parse_span_id(s: &str) -> Option<u64> {
    let t = s.trim();
    if t.is_empty() || t.len() > 16 {
        return None;
    }
    u64::from_str_radix(t, 16).ok()
}

/// A span id as 16 lower-case hex digits.
pub fn span_id_hex(id: u64) -> String {
    format!("{id:016x}")
}

fn str_attr<'a>(a: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    a.get(k).and_then(Value::as_str)
}

fn bool_attr(a: &Map<String, Value>, k: &str) -> Option<bool> {
    match a.get(k)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

fn count_attr(e: &mut ValidationErrors, prefix: &str, a: &Map<String, Value>, k: &str) -> i64 {
    match a.get(k) {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => {
            match n.as_i64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)) {
                Some(v) if (0..=limits::MAX_TOKENS_PER_CALL).contains(&v) => v,
                Some(v) if v > 0 => {
                    e.add(
                        format!("{prefix}.attributes.{k}"),
                        format!(
                            "Ensure this value is less than or equal to {}.",
                            limits::MAX_TOKENS_PER_CALL
                        ),
                    );
                    0
                }
                _ => {
                    e.add(format!("{prefix}.attributes.{k}"), "Ensure this value is a non-negative integer.");
                    0
                }
            }
        }
        Some(_) => {
            e.add(format!("{prefix}.attributes.{k}"), "A non-negative integer is required.");
            0
        }
    }
}

/// A JSON-string attribute that must hold an object (an object sent as such is taken too);
/// absent → `None`. `field` names it in an error, and is built only then.
fn json_string_object(
    e: &mut ValidationErrors,
    field: impl FnOnce() -> String,
    v: Option<&Value>,
) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(obj @ Value::Object(_)) => e.check_with(field, json_object(Some(&obj))).flatten(),
            Ok(_) | Err(_) => {
                e.add(field(), "Must be a JSON object encoded as a string.");
                None
            }
        },
        Some(obj @ Value::Object(_)) => e.check_with(field, json_object(Some(obj))).flatten(),
        Some(_) => {
            e.add(field(), "Must be a JSON object encoded as a string.");
            None
        }
    }
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max { s.to_string() } else { s.chars().take(max).collect() }
}

/// Validates one span (`prefix` names it in errors: `spans[3]`) and works out its effect.
/// Also used by the store to project a held span from its archived payload.
pub fn validate_span(raw: &str, prefix: &str) -> Result<SpanRecord, ValidationErrors> {
    let s: wire::SpanPayload = parse_named(raw, prefix)?;
    let mut e = ValidationErrors::default();
    let f = |name: &str| format!("{prefix}.{name}");
    let span_id = parse_span_id(&s.span_id);
    if span_id.is_none() {
        e.add(f("span_id"), "Must be 16 hexadecimal digits.");
    }
    let trace_id = s.trace_id.trim().to_ascii_lowercase();
    if trace_id.is_empty() || trace_id.len() > 32 || !trace_id.bytes().all(|c| c.is_ascii_hexdigit()) {
        e.add(f("trace_id"), "Must be 32 hexadecimal digits.");
    }
    let parent_span_id = match normalize::trimmed(s.parent_span_id.as_deref()) {
        None => None,
        Some(p) => {
            let v = parse_span_id(p);
            if v.is_none() {
                e.add(f("parent_span_id"), "Must be 16 hexadecimal digits.");
            }
            v
        }
    };
    let kind = normalize::trimmed(s.kind.as_deref()).unwrap_or("unknown").to_ascii_lowercase();
    e.check_with(|| f("kind"), check_chars(&kind, MAX_KIND_CHARS));
    let started_at = match normalize::trimmed(s.started_at.as_deref()) {
        None => {
            e.add(f("started_at"), "This field is required.");
            None
        }
        Some(t) => e.check_with(|| f("started_at"), time::parse_timestamp(t)),
    };
    let ended_at = normalize::trimmed(s.ended_at.as_deref())
        .and_then(|t| e.check_with(|| f("ended_at"), time::parse_timestamp(t)));
    if let Some(d) = s.duration_ms
        && !(d.is_finite() && d >= 0.0)
    {
        e.add(f("duration_ms"), "Ensure this value is a non-negative number.");
    }
    let a = &s.attributes;
    let turn_id = if kind == "turn" {
        span_id
    } else {
        match a.get(attr::TURN_ID) {
            None | Some(Value::Null) => None,
            Some(Value::String(t)) => {
                let v = parse_span_id(t);
                if v.is_none() {
                    e.add(f(&format!("attributes.{}", attr::TURN_ID)), "Must be 16 hexadecimal digits.");
                }
                v
            }
            Some(_) => {
                e.add(f(&format!("attributes.{}", attr::TURN_ID)), "Must be 16 hexadecimal digits.");
                None
            }
        }
    };
    let status = normalize::trimmed(s.status.as_deref()).unwrap_or("unset").to_ascii_lowercase();
    let name = clip(s.name.as_deref().unwrap_or(""), MAX_SPAN_NAME_CHARS);
    let started = started_at.unwrap_or(0);
    let metadata =
        || json_string_object(&mut ValidationErrors::default(), String::new, a.get(attr::METADATA));
    let effect = match kind.as_str() {
        "turn" => {
            let complete = bool_attr(a, attr::TURN_COMPLETE).unwrap_or(status != "error");
            let incomplete_reason = (!complete).then(|| {
                str_attr(a, attr::TURN_INCOMPLETE_REASON)
                    .map(|r| clip(r, 64))
                    .unwrap_or_else(|| "unknown".into())
            });
            let mut messages = Vec::new();
            for (j, ev) in s.events.iter().enumerate().filter(|(_, ev)| ev.name == attr::MESSAGE_EVENT) {
                let ef = |n: &str| format!("{prefix}.events[{j}].{n}");
                let sender = match str_attr(&ev.attributes, attr::MESSAGE_SENDER) {
                    Some(v) => e.check_with(
                        || ef(&format!("attributes.{}", attr::MESSAGE_SENDER)),
                        normalize::sender(v),
                    ),
                    None => {
                        e.add(ef(&format!("attributes.{}", attr::MESSAGE_SENDER)), "This field is required.");
                        None
                    }
                };
                let content = match ev.attributes.get(attr::MESSAGE_CONTENT) {
                    Some(Value::String(c)) => c.clone(),
                    None | Some(Value::Null) => String::new(),
                    Some(other) => other.to_string(),
                };
                e.check_with(
                    || ef(&format!("attributes.{}", attr::MESSAGE_CONTENT)),
                    check_chars(&content, limits::MAX_CONTENT_CHARS),
                );
                let md = json_string_object(
                    &mut e,
                    || ef(&format!("attributes.{}", attr::MESSAGE_METADATA)),
                    ev.attributes.get(attr::MESSAGE_METADATA),
                );
                let ts = match normalize::trimmed(ev.timestamp.as_deref()) {
                    None => started,
                    Some(t) => e.check_with(|| ef("timestamp"), time::parse_timestamp(t)).unwrap_or(started),
                };
                messages.push(TurnMessage {
                    sender: sender.unwrap_or_default(),
                    content,
                    metadata: md.unwrap_or_else(|| "{}".into()),
                    ts,
                });
            }
            messages.sort_by_key(|m| m.ts);
            SpanEffect::Turn(TurnEffect { complete, incomplete_reason, messages })
        }
        "tool" | "task" => {
            let tool_name =
                str_attr(a, attr::TOOL_NAME).map(str::trim).filter(|n| !n.is_empty()).unwrap_or(name.trim());
            let tool_name = if tool_name.is_empty() {
                kind.clone()
            } else {
                clip(tool_name, limits::MAX_ACTION_NAME_CHARS)
            };
            let tools_used = json_string_object(
                &mut e,
                || f(&format!("attributes.{}", attr::TOOL_ARGUMENTS)),
                a.get(attr::TOOL_ARGUMENTS),
            );
            let text = |k: &str| match a.get(k) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(clip(s, limits::MAX_ACTION_TEXT_CHARS)),
                Some(other) => Some(clip(&other.to_string(), limits::MAX_ACTION_TEXT_CHARS)),
            };
            SpanEffect::Tool(ToolEffect {
                name: tool_name,
                duration_ms: s.duration_ms.filter(|d| d.is_finite() && *d >= 0.0).map(|d| d.round() as i64),
                tools_used,
                response: text(attr::TOOL_RESPONSE),
                // A failed tool is one with an error text or with the span status `error`
                // (docs/metrics.md: tool errors): the latter without a text gets this one.
                error: text(attr::TOOL_ERROR)
                    .filter(|t| !t.is_empty())
                    .or_else(|| (status == "error").then(|| TOOL_STATUS_ERROR.to_string())),
                metadata: metadata().unwrap_or_else(|| "{}".into()),
            })
        }
        "llm" => {
            let model =
                str_attr(a, attr::LLM_MODEL).map(str::trim).filter(|m| !m.is_empty()).unwrap_or("unknown");
            e.check_with(
                || f(&format!("attributes.{}", attr::LLM_MODEL)),
                check_chars(model, MAX_MODEL_CHARS),
            );
            let tokens = TokenCounts {
                input: count_attr(&mut e, prefix, a, attr::LLM_INPUT),
                output: count_attr(&mut e, prefix, a, attr::LLM_OUTPUT),
                cache_read: count_attr(&mut e, prefix, a, attr::LLM_CACHE_READ),
                cache_write: count_attr(&mut e, prefix, a, attr::LLM_CACHE_WRITE),
                embedding: count_attr(&mut e, prefix, a, attr::LLM_EMBEDDING),
                reasoning: count_attr(&mut e, prefix, a, attr::LLM_REASONING),
                audio_input: count_attr(&mut e, prefix, a, attr::LLM_AUDIO_IN),
                audio_output: count_attr(&mut e, prefix, a, attr::LLM_AUDIO_OUT),
            };
            let error = status == "error" || a.get(attr::LLM_ERROR).is_some_and(|v| !v.is_null() && v != "");
            SpanEffect::Llm(LlmCall {
                cost_pico: prices::cost_pico(model, &tokens),
                model: model.to_string(),
                system: str_attr(a, attr::LLM_SYSTEM).map(|s| clip(s, 64)),
                tokens,
                usage_reported: bool_attr(a, attr::LLM_USAGE_REPORTED).unwrap_or(true),
                error,
            })
        }
        "button" => {
            let t = |k: &str| clip(str_attr(a, k).unwrap_or(""), limits::MAX_BUTTON_CHARS);
            let label = t(attr::BUTTON_LABEL);
            SpanEffect::Button(ButtonEffect {
                event: {
                    let ev = t(attr::BUTTON_EVENT);
                    if ev.is_empty() { name.clone() } else { ev }
                },
                value: t(attr::BUTTON_VALUE),
                label: if label.is_empty() { name.clone() } else { label },
                metadata: metadata().unwrap_or_else(|| "{}".into()),
            })
        }
        _ => SpanEffect::None,
    };
    let started_at = started_at.unwrap_or(0);
    let rec = SpanRecord {
        span_id: span_id.unwrap_or(0),
        trace_id,
        parent_span_id,
        turn_id,
        kind,
        name,
        status,
        started_at,
        ended_at: ended_at.unwrap_or(started_at).max(started_at),
        duration_ms: s.duration_ms,
        text: 0..raw.len(),
        effect,
    };
    e.into_result(rec)
}

/// The `error_msg` of a tool span whose status is `error` and that carries no
/// `agentsight.tool.error` text.
pub const TOOL_STATUS_ERROR: &str = "span status: error";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> AgentScope {
        AgentScope { agent_id: 1, environments: vec!["production".into(), "development".into()] }
    }

    fn turn_span(id: &str, complete: bool) -> Value {
        json!({"span_id": id, "trace_id": "0123456789abcdef0123456789abcdef", "parent_span_id": null,
            "kind": "turn", "name": "turn", "started_at": "2026-08-15T10:00:00+00:00",
            "ended_at": "2026-08-15T10:00:02+00:00", "duration_ms": 2000.0, "status": if complete {"ok"} else {"error"},
            "attributes": {"agentsight.conversation.id": "c1", "agentsight.span.kind": "turn",
                "agentsight.turn.id": id, "agentsight.turn.complete": complete},
            "events": [
                {"name": "agentsight.message", "timestamp": "2026-08-15T10:00:01+00:00",
                 "attributes": {"agentsight.message.sender": "agent", "agentsight.message.content": "hello"}},
                {"name": "agentsight.message", "timestamp": "2026-08-15T10:00:00.5+00:00",
                 "attributes": {"agentsight.message.sender": "end_user", "agentsight.message.content": "hi",
                   "agentsight.message.metadata": "{\"k\": 1}"}}],
            "otel": {"span_kind": "INTERNAL"}})
    }

    fn batch(v: Value) -> Result<SpanIngest, BatchError> {
        batch_with_body(v).map(|(b, _)| b)
    }

    /// The batch and the body it was read from.
    fn batch_with_body(v: Value) -> Result<(SpanIngest, String), BatchError> {
        let text = v.to_string();
        let p: wire::IngestPayload<'_> = serde_json::from_str(&text).unwrap();
        let b = validate_batch(&scope(), &text, &p, 5)?;
        Ok((b, text))
    }

    #[test]
    fn validation_stops_once_the_reported_errors_are_known() {
        // Thousands of empty blocks (what a 16 KB gzip bomb expands to): the first
        // MAX_REPORTED_BLOCKS are reported, with the rest only flagged.
        let empty: Vec<Value> = (0..5_000).map(|_| json!({})).collect();
        let Err(BatchError::Blocks(bad, more)) = batch(json!({"conversations": empty})) else {
            panic!("not block errors")
        };
        assert_eq!(bad.len(), MAX_REPORTED_BLOCKS);
        assert!(more);
        assert_eq!(bad.last().map(|b| b.0), Some(MAX_REPORTED_BLOCKS - 1));
        // Exactly the reported number: nothing more to flag.
        let empty: Vec<Value> = (0..MAX_REPORTED_BLOCKS).map(|_| json!({})).collect();
        let Err(BatchError::Blocks(bad, more)) = batch(json!({"conversations": empty})) else {
            panic!("not block errors")
        };
        assert_eq!((bad.len(), more), (MAX_REPORTED_BLOCKS, false));
        // A block of many bad spans lists the first ones and says there were more.
        let spans: Vec<Value> = (0..1_000).map(|_| json!({})).collect();
        let Err(BatchError::Blocks(bad, _)) =
            batch(json!({"conversations": [{"conversation_id": "c", "spans": spans}]}))
        else {
            panic!("not block errors")
        };
        let errs = &bad[0].2.0;
        assert!(errs.contains_key("spans"), "{errs:?}");
        assert!(!errs.keys().any(|k| k.starts_with(&format!("spans[{MAX_REPORTED_SPANS}]"))), "{errs:?}");
    }

    #[test]
    fn a_batch_past_the_span_limit_is_refused_whole() {
        // The count is checked before a block's spans are read, so they need not be valid.
        let block = |n: usize| json!({"conversation_id": "c1", "spans": vec![json!(1); n]});
        let half = MAX_SPANS_PER_BATCH / 2;
        let Err(BatchError::Envelope(e)) = batch(json!({"conversations": [block(half), block(half + 1)]}))
        else {
            panic!("not an envelope error")
        };
        assert!(e.0.contains_key("conversations"), "{e:?}");
    }

    #[test]
    fn a_turn_yields_its_messages_in_time_order_and_the_span_is_kept_whole() {
        let (b, text) = batch_with_body(json!({"sdk": {"version": "0.1.4"}, "conversations": [
            {"conversation_id": "c1", "spans": [turn_span("00000000000000aa", true)], "device": "Mobile",
             "metadata": {"plan": "pro"}}]}))
        .unwrap();
        assert_eq!(b.sdk_version.as_deref(), Some("0.1.4"));
        let blk = &b.blocks[0];
        assert!(blk.upsert.is_used);
        assert_eq!(blk.upsert.fields.device.as_deref(), Some("mobile"));
        assert_eq!(blk.upsert.fields.metadata.as_deref(), Some(r#"{"plan":"pro"}"#));
        let s = &blk.spans[0];
        assert_eq!(s.span_id, 0xaa);
        assert_eq!(s.turn_id, Some(0xaa));
        assert!(text[s.text.clone()].starts_with('{') && text[s.text.clone()].contains("\"otel\""));
        let SpanEffect::Turn(t) = &s.effect else { panic!("not a turn") };
        assert!(t.complete);
        assert_eq!(t.messages.iter().map(|m| m.sender.as_str()).collect::<Vec<_>>(), ["end_user", "agent"]);
        assert_eq!(t.messages[0].metadata, r#"{"k":1}"#);
    }

    #[test]
    fn each_span_is_located_byte_for_byte_in_the_body() {
        let (a, b) = (turn_span("00000000000000a1", true), turn_span("00000000000000a2", false));
        // Whitespace as the client wrote it (a newline too), not as serde_json would.
        let sent = [a.to_string().replacen("{", "{\n ", 1), b.to_string()];
        let body = format!(
            r#"{{"conversations": [{{"conversation_id": "c1", "spans": [{},  {}]}}]}}"#,
            sent[0], sent[1]
        );
        let p: wire::IngestPayload<'_> = serde_json::from_str(&body).unwrap();
        let blk = &validate_batch(&scope(), &body, &p, 5).unwrap().blocks[0];
        assert_eq!(blk.spans.iter().map(|s| &body[s.text.clone()]).collect::<Vec<_>>(), sent);
        // A body that is not the one the envelope was read from locates no span: refused.
        let copy = body.clone();
        let BatchError::Blocks(bad, _) = validate_batch(&scope(), &copy, &p, 5).unwrap_err() else {
            panic!("not block errors")
        };
        assert!(bad[0].2.0.contains_key("spans[0]"));
    }

    #[test]
    fn bad_blocks_are_all_named_with_their_index_and_id() {
        let e = batch(json!({"conversations": [
            {"conversation_id": "ok", "spans": []},
            {"conversation_id": "wa-bad", "spans": [], "environment": "staging"},
            {"conversation_id": "x", "spans": [{"span_id": "zz", "trace_id": "ab", "started_at": "nope"}]},
            {"conversation_id": "y", "spans": [], "colour": "red"}]}))
        .unwrap_err();
        let BatchError::Blocks(bad, _) = e else { panic!("not block errors") };
        assert_eq!(bad.len(), 3);
        assert_eq!((bad[0].0, bad[0].1.as_deref()), (1, Some("wa-bad")));
        assert_eq!(bad[0].2.0["environment"], ["Unknown environment: 'staging'."]);
        assert_eq!(
            bad[1].2.0.keys().cloned().collect::<Vec<_>>(),
            ["spans[0].span_id", "spans[0].started_at"]
        );
        assert_eq!((bad[2].1.as_deref(), bad[2].2.0.contains_key("colour")), (Some("y"), true));
    }

    #[test]
    fn a_bad_field_deep_in_a_span_is_named_by_its_full_path() {
        let good = turn_span("00000000000000a1", true);
        let mut turn = turn_span("00000000000000a2", true);
        turn["ended_at"] = json!("soon");
        turn["events"][1]["timestamp"] = json!("later");
        turn["events"][1]["attributes"]["agentsight.message.sender"] = json!("robot");
        turn["events"][1]["attributes"]["agentsight.message.metadata"] = json!("[1]");
        let mut tool = turn_span("00000000000000a3", true);
        tool["kind"] = json!("tool");
        tool["attributes"] =
            json!({"agentsight.turn.id": "00000000000000a2", "agentsight.tool.arguments": "nope"});
        let mut llm = turn_span("00000000000000a4", true);
        llm["kind"] = json!("llm");
        llm["attributes"] = json!({"gen_ai.request.model": "m".repeat(MAX_MODEL_CHARS + 1)});
        let e = batch(json!({"conversations": [{"conversation_id": "c", "spans": [good, turn, tool, llm]}]}))
            .unwrap_err();
        let BatchError::Blocks(bad, _) = e else { panic!("not block errors") };
        assert_eq!(
            bad[0].2.0.keys().cloned().collect::<Vec<_>>(),
            [
                "spans[1].ended_at",
                "spans[1].events[1].attributes.agentsight.message.metadata",
                "spans[1].events[1].attributes.agentsight.message.sender",
                "spans[1].events[1].timestamp",
                "spans[2].attributes.agentsight.tool.arguments",
                "spans[3].attributes.gen_ai.request.model",
            ]
        );
    }

    #[test]
    fn conversation_only_blocks_do_not_mark_the_conversation_used() {
        let mut s = turn_span("00000000000000ab", true);
        s["kind"] = json!("conversation");
        s["events"] = json!([]);
        let b = batch(json!({"conversations": [{"conversation_id": "c", "spans": [s]}]})).unwrap();
        assert!(!b.blocks[0].upsert.is_used);
        assert_eq!(b.blocks[0].spans[0].effect, SpanEffect::None);
    }

    #[test]
    fn llm_spans_are_priced_and_unknown_kinds_archived() {
        let mut l = turn_span("00000000000000ac", true);
        l["kind"] = json!("llm");
        l["attributes"] = json!({"agentsight.turn.id": "00000000000000aa", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.system": "openai", "gen_ai.usage.input_tokens": 80, "gen_ai.usage.output_tokens": 45});
        let r = validate_span(&l.to_string(), "spans[0]").unwrap();
        assert_eq!(r.turn_id, Some(0xaa));
        let SpanEffect::Llm(c) = r.effect else { panic!("not llm") };
        assert_eq!((c.tokens.input, c.tokens.output, c.cost_pico), (80, 45, Some(39_000_000)));
        let mut u = turn_span("00000000000000ad", true);
        u["kind"] = json!("retriever");
        assert_eq!(validate_span(&u.to_string(), "s").unwrap().effect, SpanEffect::None);
        l["attributes"]["gen_ai.usage.input_tokens"] = json!(-3);
        assert!(
            validate_span(&l.to_string(), "s")
                .unwrap_err()
                .0
                .contains_key("s.attributes.gen_ai.usage.input_tokens")
        );
        // A count beyond the limit is refused by name; at the limit every count is priced
        // without overflow (a fuzzer found the sum of products overflowing).
        l["attributes"]["gen_ai.usage.input_tokens"] = json!(i64::MAX);
        let e = validate_span(&l.to_string(), "s").unwrap_err().0;
        assert!(e["s.attributes.gen_ai.usage.input_tokens"][0].contains("less than or equal to 1000000000"));
        l["attributes"]["gen_ai.usage.input_tokens"] = json!(u64::MAX);
        assert!(validate_span(&l.to_string(), "s").is_err());
        let max = limits::MAX_TOKENS_PER_CALL;
        for k in [
            attr::LLM_INPUT,
            attr::LLM_OUTPUT,
            attr::LLM_CACHE_READ,
            attr::LLM_CACHE_WRITE,
            attr::LLM_EMBEDDING,
        ] {
            l["attributes"][k] = json!(max);
        }
        l["attributes"]["gen_ai.request.model"] = json!("gpt-4.1-nano");
        let SpanEffect::Llm(c) = validate_span(&l.to_string(), "s").unwrap().effect else {
            panic!("not llm")
        };
        assert!(c.cost_pico.unwrap() > 0);
    }

    #[test]
    fn an_empty_batch_is_refused() {
        assert!(matches!(batch(json!({"conversations": []})), Err(BatchError::Envelope(_))));
    }
}
