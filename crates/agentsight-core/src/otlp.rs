//! OTLP/HTTP traces (`POST /v1/traces`): OpenTelemetry GenAI spans mapped onto the span plane.
//!
//! The HTTP layer decodes the request (protobuf or OTLP/JSON) into [`Request`]; [`map_request`]
//! turns its GenAI spans into a span batch of the 0.1.x form (sdk-protocol.md B2/B3: `turn`
//! spans with `agentsight.message` events, `llm` spans, `tool` spans, and a `conversation`
//! span for an evaluation alone), validates it with the span plane's own rules
//! ([`crate::spans::validate_span`], [`crate::spans::validate_batch`]) and hands back the body
//! and the validated batch for `SpanWriter::ingest_spans`. So OTLP data is archived, deduplicated
//! and projected by the same code as the SDK's, on every backend, and counts the same in every
//! metric. The mapping is documented in `docs/otlp.md`; the rules that matter most:
//!
//! - **Conversation**: `agentsight.conversation.id`, else `gen_ai.conversation.id`, else
//!   `session.id` (span attributes first, then the resource's); a span with none takes the
//!   conversation of another span of its trace in the same request, else its trace id.
//! - **Messages once**: a chat span carries the history so far. Of its input only the user
//!   messages after the last assistant message are new (what the previous chat call answered is
//!   already stored, as that call's output); of its output, the assistant messages with text.
//!   Both become the messages of one `turn` span whose id is derived from the chat span's ids, so
//!   a resend of the span is a duplicate the span plane ignores, and a later chat span that
//!   repeats the history adds only its new messages. System instructions and tool messages are
//!   not messages; a failed chat call (status error) adds none (its retry carries them again).
//! - **Resends**: every span made here has an id derived from the OTLP span's own ids and its
//!   start, so resending a request stores nothing twice.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::ValidationErrors;
use crate::spans::{self, BatchError, SpanIngest};
use crate::time::{Micros, to_iso};
use crate::tracking::AgentScope;
use agentsight_protocol::v01 as wire;

/// Spans in one request, at most: each OTLP span makes up to two spans of the span plane, whose
/// batch holds at most [`wire::MAX_SPANS_PER_BATCH`].
pub const MAX_SPANS_PER_REQUEST: usize = wire::MAX_SPANS_PER_BATCH / 2;

/// Errors listed in a partial success's message, at most; the rest are counted.
pub const MAX_REPORTED_ERRORS: usize = 20;

/// The `sdk.name` the archive records for batches that came over OTLP.
pub const SDK_NAME: &str = "otlp";

/// Attribute names read (besides the span plane's own, [`crate::spans::attr`]).
pub mod attr {
    /// The conversation, first choice (the SDK's own attribute).
    pub const CONVERSATION_ID: &str = "agentsight.conversation.id";
    /// The conversation (GenAI semantic conventions).
    pub const GEN_AI_CONVERSATION_ID: &str = "gen_ai.conversation.id";
    /// The conversation, last choice before the trace.
    pub const SESSION_ID: &str = "session.id";
    /// End user.
    pub const CUSTOMER_ID: &str = "agentsight.conversation.customer_id";
    /// End user, fallbacks.
    pub const USER_ID: [&str; 2] = ["user.id", "enduser.id"];
    /// End user's IP address.
    pub const CUSTOMER_IP: &str = "agentsight.conversation.customer_ip";
    /// End user's IP address, fallback.
    pub const CLIENT_ADDRESS: &str = "client.address";
    /// `desktop` | `tablet` | `mobile`.
    pub const DEVICE: &str = "agentsight.conversation.device";
    /// Channel (`web`, `whatsapp`, …).
    pub const SOURCE: &str = "agentsight.conversation.source";
    /// BCP-47 language tag.
    pub const LANGUAGE: &str = "agentsight.conversation.language";
    /// Conversation name.
    pub const NAME: &str = "agentsight.conversation.name";
    /// Environment slug (one of the agent's).
    pub const ENVIRONMENT: &str = "agentsight.conversation.environment";
    /// Conversation metadata (a JSON object).
    pub const METADATA: &str = "agentsight.conversation.metadata";
    /// `chat`, `execute_tool`, `embeddings`, `invoke_agent`, ….
    pub const OPERATION: &str = "gen_ai.operation.name";
    /// New-form history and answer (JSON).
    pub const INPUT_MESSAGES: &str = "gen_ai.input.messages";
    /// New-form answer.
    pub const OUTPUT_MESSAGES: &str = "gen_ai.output.messages";
    /// Tool name.
    pub const TOOL_NAME: &str = "gen_ai.tool.name";
    /// Tool arguments.
    pub const TOOL_ARGUMENTS: &str = "gen_ai.tool.call.arguments";
    /// Tool result.
    pub const TOOL_RESULT: &str = "gen_ai.tool.call.result";
    /// Error class.
    pub const ERROR_TYPE: &str = "error.type";
}

/// One decoded export request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// `resourceSpans`, each with its scopes' spans flattened.
    pub resources: Vec<Resource>,
}

/// A resource and its spans.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resource {
    /// Its attributes (AnyValue as JSON: kvlists as objects, bytes as base64).
    pub attributes: Map<String, Value>,
    /// Its spans, every scope's.
    pub spans: Vec<Span>,
}

/// One span.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Span {
    /// 16 bytes.
    pub trace_id: Vec<u8>,
    /// 8 bytes.
    pub span_id: Vec<u8>,
    /// 8 bytes, or empty for a root.
    pub parent_span_id: Vec<u8>,
    /// Name.
    pub name: String,
    /// Start, ns since the epoch.
    pub start_ns: u64,
    /// End, ns since the epoch.
    pub end_ns: u64,
    /// Status code.
    pub status: Status,
    /// Status message.
    pub status_message: String,
    /// Attributes.
    pub attributes: Map<String, Value>,
    /// Events.
    pub events: Vec<Event>,
}

/// A span's status code.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Status {
    /// Unset.
    #[default]
    Unset,
    /// Ok.
    Ok,
    /// Error.
    Error,
}

/// A span event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    /// Name.
    pub name: String,
    /// Time, ns since the epoch.
    pub time_ns: u64,
    /// Attributes.
    pub attributes: Map<String, Value>,
}

/// What [`map_request`] made of a request.
#[derive(Debug)]
pub struct Mapped {
    /// The span batch's body (0.1.x JSON), archived as the batch's body; empty when nothing is
    /// stored.
    pub body: String,
    /// The batch validated from `body`; `None` when nothing is stored.
    pub batch: Option<SpanIngest>,
    /// OTLP spans stored (mapped into the batch).
    pub stored: u64,
    /// OTLP spans that carry no GenAI data: accepted and not stored.
    pub ignored: u64,
    /// OTLP spans refused (the partial success's `rejected_spans`).
    pub rejected: u64,
    /// Why, the first [`MAX_REPORTED_ERRORS`] reasons.
    pub errors: Vec<String>,
}

impl Mapped {
    /// The partial success's `error_message`: empty when nothing was refused.
    pub fn error_message(&self) -> String {
        if self.rejected == 0 {
            return String::new();
        }
        let mut m = format!("{} span(s) rejected: {}", self.rejected, self.errors.join("; "));
        if self.errors.len() == MAX_REPORTED_ERRORS {
            m.push_str("; (more not listed)");
        }
        m
    }
}

/// Maps a decoded request onto a validated span batch. `Err` names the request-level field when
/// the request is over a limit (then nothing is stored).
pub fn map_request(
    scope: &AgentScope,
    req: &Request,
    received_at: Micros,
) -> Result<Mapped, ValidationErrors> {
    let total: usize = req.resources.iter().map(|r| r.spans.len()).sum();
    if total > MAX_SPANS_PER_REQUEST {
        return Err(ValidationErrors::single(
            "resourceSpans",
            format!(
                "The request holds {total} spans, more than {MAX_SPANS_PER_REQUEST}; send them in smaller requests."
            ),
        ));
    }
    let mut out =
        Mapped { body: String::new(), batch: None, stored: 0, ignored: 0, rejected: 0, errors: vec![] };
    let all: Vec<(&Resource, &Span)> =
        req.resources.iter().flat_map(|r| r.spans.iter().map(move |s| (r, s))).collect();

    // A trace's conversation: the first explicit one among its spans in this request.
    let mut trace_conv: rustc_hash::FxHashMap<&[u8], String> = Default::default();
    for (r, s) in &all {
        if let Some(c) = explicit_conversation(r, s) {
            trace_conv.entry(s.trace_id.as_slice()).or_insert(c);
        }
    }

    // Conversations in the order they first appear, each with its spans' texts.
    let mut blocks: Vec<Block> = Vec::new();
    let mut index: rustc_hash::FxHashMap<String, usize> = Default::default();
    for (r, s) in &all {
        if !is_gen_ai(s) {
            out.ignored += 1;
            continue;
        }
        let sid = hex::encode(&s.span_id);
        let made = match convert(r, s) {
            Ok(m) => m,
            Err(e) => {
                out.reject(1, format!("span {sid}: {e}"));
                continue;
            }
        };
        if made.spans.is_empty() && made.evaluation.is_none() {
            out.ignored += 1;
            continue;
        }
        // Each span made is checked alone first, so one bad span costs only its OTLP span.
        let mut texts = Vec::with_capacity(made.spans.len());
        let mut bad = None;
        for v in &made.spans {
            let text = v.to_string();
            if let Err(e) = spans::validate_span(&text, "span") {
                bad = Some(e);
                break;
            }
            texts.push(text);
        }
        if let Some(e) = bad {
            out.reject(1, format!("span {sid}: {}", describe(&e)));
            continue;
        }
        let conversation = explicit_conversation(r, s)
            .or_else(|| trace_conv.get(s.trace_id.as_slice()).cloned())
            .unwrap_or_else(|| hex::encode(&s.trace_id));
        let at = *index.entry(conversation.clone()).or_insert_with(|| {
            blocks.push(Block { conversation_id: conversation, ..Block::default() });
            blocks.len() - 1
        });
        let b = &mut blocks[at];
        b.otlp_spans += 1;
        b.spans.extend(texts);
        for (field, keys) in DIMENSIONS {
            if !b.fields.contains_key(*field)
                && let Some(v) = keys.iter().find_map(|k| lookup(r, s, k))
            {
                b.fields.insert(field.to_string(), dimension_value(field, v));
            }
        }
        if let Some((t, e)) = made.evaluation
            && b.evaluation.as_ref().is_none_or(|(bt, _)| t >= *bt)
        {
            b.evaluation = Some((t, e));
        }
    }
    if blocks.len() > wire::MAX_BLOCKS_PER_BATCH {
        return Err(ValidationErrors::single(
            "resourceSpans",
            format!(
                "The request names more than {} conversations; send them in smaller requests.",
                wire::MAX_BLOCKS_PER_BATCH
            ),
        ));
    }

    // Each block alone through the span plane's validation: a bad one (its conversation fields)
    // costs only its own spans.
    let mut good = Vec::with_capacity(blocks.len());
    for b in blocks {
        // U+0000 (a protobuf string may hold it) becomes U+FFFD, as in every body.
        let text = b.text();
        let text = match crate::normalize::json_nul_escapes_replaced(text.as_bytes()) {
            std::borrow::Cow::Borrowed(_) => text,
            // ASCII replaced by ASCII: still UTF-8 (lossy only to avoid a panic path).
            std::borrow::Cow::Owned(v) => String::from_utf8_lossy(&v).into_owned(),
        };
        let one = format!("{{\"conversations\":[{text}]}}");
        let checked =
            serde_json::from_str::<wire::IngestPayload<'_>>(&one).map_err(|e| e.to_string()).and_then(|p| {
                spans::validate_batch(scope, &one, &p, received_at).map_err(|e| describe_batch(&e))
            });
        match checked {
            Ok(_) => {
                out.stored += b.otlp_spans;
                good.push(text);
            }
            Err(e) => out.reject(b.otlp_spans, format!("conversation {}: {e}", b.conversation_id)),
        }
    }
    if good.is_empty() {
        return Ok(out);
    }
    let body = format!(
        "{{\"sdk\":{{\"name\":\"{SDK_NAME}\",\"version\":null}},\"conversations\":[{}]}}",
        good.join(",")
    );
    let p: wire::IngestPayload<'_> =
        serde_json::from_str(&body).map_err(|e| ValidationErrors::single("resourceSpans", e.to_string()))?;
    // Every block passed alone, so the batch passes whole; an error here is reported, not stored.
    let batch = spans::validate_batch(scope, &body, &p, received_at)
        .map_err(|e| ValidationErrors::single("resourceSpans", describe_batch(&e)))?;
    drop(p);
    out.batch = Some(batch);
    out.body = body;
    Ok(out)
}

impl Mapped {
    fn reject(&mut self, spans: u64, why: String) {
        self.rejected += spans;
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(why);
        }
    }
}

/// Block fields and the attributes they come from, first choice first (span, then resource).
const DIMENSIONS: &[(&str, &[&str])] = &[
    ("customer_id", &[attr::CUSTOMER_ID, attr::USER_ID[0], attr::USER_ID[1]]),
    ("customer_ip_address", &[attr::CUSTOMER_IP, attr::CLIENT_ADDRESS]),
    ("device", &[attr::DEVICE]),
    ("source", &[attr::SOURCE]),
    ("language", &[attr::LANGUAGE]),
    ("name", &[attr::NAME]),
    ("environment", &[attr::ENVIRONMENT]),
    ("metadata", &[attr::METADATA]),
];

/// A block's value: text for every field but `metadata`, which is an object (sent as JSON text or
/// as a kvlist); anything else is passed on for validation to refuse, naming the field.
fn dimension_value(field: &str, v: &Value) -> Value {
    match (field, v) {
        ("metadata", Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| v.clone()),
        ("metadata", _) => v.clone(),
        (_, Value::String(_)) => v.clone(),
        (_, other) => Value::String(other.to_string()),
    }
}

#[derive(Default)]
struct Block {
    conversation_id: String,
    fields: Map<String, Value>,
    evaluation: Option<(Micros, Value)>,
    spans: Vec<String>,
    otlp_spans: u64,
}

impl Block {
    /// The block as the span plane reads it; an evaluation becomes `metadata.feedback`.
    fn text(&self) -> String {
        let mut m = Map::new();
        m.insert("conversation_id".into(), Value::String(self.conversation_id.clone()));
        for (k, v) in &self.fields {
            m.insert(k.clone(), v.clone());
        }
        if let Some((_, e)) = &self.evaluation {
            let mut md = match m.remove("metadata") {
                Some(Value::Object(o)) => o,
                // Not an object: validation names `metadata`.
                Some(other) => {
                    m.insert("metadata".into(), other);
                    Map::new()
                }
                None => Map::new(),
            };
            if !m.contains_key("metadata") {
                md.insert("feedback".into(), e.clone());
                m.insert("metadata".into(), Value::Object(md));
            }
        }
        let head = Value::Object(m).to_string();
        format!("{},\"spans\":[{}]}}", &head[..head.len() - 1], self.spans.join(","))
    }
}

fn lookup<'a>(r: &'a Resource, s: &'a Span, k: &str) -> Option<&'a Value> {
    s.attributes.get(k).or_else(|| r.attributes.get(k)).filter(|v| match v {
        Value::Null => false,
        Value::String(t) => !t.trim().is_empty(),
        _ => true,
    })
}

fn explicit_conversation(r: &Resource, s: &Span) -> Option<String> {
    [attr::CONVERSATION_ID, attr::GEN_AI_CONVERSATION_ID, attr::SESSION_ID]
        .iter()
        .find_map(|k| lookup(r, s, k))
        .map(|v| match v {
            Value::String(t) => t.trim().to_string(),
            other => other.to_string(),
        })
}

/// A span with GenAI data: a `gen_ai.*` (or OpenLLMetry `llm.*`/`traceloop.*`) attribute or a
/// `gen_ai.*` event. Everything else (HTTP, database spans of the same app) is not stored.
fn is_gen_ai(s: &Span) -> bool {
    s.attributes
        .keys()
        .any(|k| k.starts_with("gen_ai.") || k.starts_with("llm.") || k.starts_with("traceloop."))
        || s.events.iter().any(|e| e.name.starts_with("gen_ai."))
}

/// What one OTLP span makes: spans of the span plane and an evaluation (time, feedback object).
struct Made {
    spans: Vec<Value>,
    evaluation: Option<(Micros, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Chat,
    Embeddings,
    Tool,
    Other,
}

fn op_of(s: &Span) -> Op {
    let a = &s.attributes;
    match a.get(attr::OPERATION).and_then(Value::as_str).map(str::trim) {
        Some("chat" | "text_completion" | "generate_content" | "completion") => return Op::Chat,
        Some("embeddings" | "embedding") => return Op::Embeddings,
        Some("execute_tool") => return Op::Tool,
        Some(_) => return Op::Other,
        None => {}
    }
    match a.get("llm.request.type").and_then(Value::as_str) {
        Some("chat" | "completion") => return Op::Chat,
        Some("embedding") => return Op::Embeddings,
        _ => {}
    }
    if a.get("traceloop.span.kind").and_then(Value::as_str) == Some("tool") {
        return Op::Tool;
    }
    let has_messages = a.contains_key(attr::INPUT_MESSAGES)
        || a.contains_key(attr::OUTPUT_MESSAGES)
        || a.keys().any(|k| k.starts_with("gen_ai.prompt.") || k.starts_with("gen_ai.completion."))
        || s.events.iter().any(|e| e.name.ends_with(".message") || e.name == "gen_ai.choice");
    if has_messages || a.contains_key("gen_ai.request.model") || a.contains_key("gen_ai.usage.input_tokens") {
        Op::Chat
    } else {
        Op::Other
    }
}

fn micros(ns: u64) -> Micros {
    (ns / 1000) as Micros
}

fn convert(r: &Resource, s: &Span) -> Result<Made, String> {
    let _ = r;
    if s.trace_id.len() != 16 || s.trace_id.iter().all(|b| *b == 0) {
        return Err("traceId: Must be 16 bytes, not all zero.".into());
    }
    if s.span_id.len() != 8 || s.span_id.iter().all(|b| *b == 0) {
        return Err("spanId: Must be 8 bytes, not all zero.".into());
    }
    let trace = hex::encode(&s.trace_id);
    let sid = hex::encode(&s.span_id);
    let parent = (s.parent_span_id.len() == 8 && s.parent_span_id.iter().any(|b| *b != 0))
        .then(|| hex::encode(&s.parent_span_id));
    let start = micros(s.start_ns);
    let end = micros(s.end_ns.max(s.start_ns));
    let duration_ms = (s.end_ns.saturating_sub(s.start_ns)) as f64 / 1e6;
    let error = s.status == Status::Error;
    let status = match s.status {
        Status::Unset => "unset",
        Status::Ok => "ok",
        Status::Error => "error",
    };
    let base = |id: &str, parent: Option<&str>, kind: &str, attributes: Map<String, Value>, events: Value| {
        json!({"span_id": id, "trace_id": trace, "parent_span_id": parent, "kind": kind, "name": s.name,
            "started_at": to_iso(start), "ended_at": to_iso(end), "duration_ms": duration_ms,
            "status": status, "attributes": attributes, "events": events})
    };
    let a = &s.attributes;
    let error_text = || {
        let t = if !s.status_message.trim().is_empty() {
            s.status_message.clone()
        } else {
            a.get(attr::ERROR_TYPE).map(text_of).unwrap_or_default()
        };
        if t.trim().is_empty() { "error".to_string() } else { t }
    };
    let mut out = Vec::new();
    match op_of(s) {
        Op::Chat | Op::Embeddings => {
            let embeddings = op_of(s) == Op::Embeddings;
            let mut la = Map::new();
            let model =
                ["gen_ai.request.model", "gen_ai.response.model"].iter().find_map(|k| lookup(r, s, k));
            if let Some(m) = model {
                la.insert(spans::attr::LLM_MODEL.into(), Value::String(text_of(m)));
            }
            if let Some(p) = ["gen_ai.provider.name", "gen_ai.system"].iter().find_map(|k| lookup(r, s, k)) {
                la.insert(spans::attr::LLM_SYSTEM.into(), Value::String(text_of(p)));
            }
            let usage = |keys: &[&str]| keys.iter().find_map(|k| a.get(*k)).cloned();
            let input = usage(&["gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens"]);
            let output = usage(&["gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"]);
            let cache_read =
                usage(&["gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens"]);
            let cache_write = usage(&[
                "gen_ai.usage.cache_creation.input_tokens",
                "gen_ai.usage.cache_creation_input_tokens",
            ]);
            let reasoning = usage(&["gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens"]);
            if input.is_none() && output.is_none() {
                la.insert(spans::attr::LLM_USAGE_REPORTED.into(), Value::Bool(false));
            }
            // The conventions count cached input inside `input_tokens`; the span plane's input
            // is the uncached part (B3), so the cached parts are taken out of it.
            let n = |v: &Option<Value>| v.as_ref().and_then(Value::as_i64).unwrap_or(0);
            let input = match &input {
                Some(Value::Number(x)) if x.as_i64().is_some() => Some(json!(
                    n(&input).saturating_sub(n(&cache_read)).saturating_sub(n(&cache_write)).max(0)
                )),
                other => other.clone(),
            };
            let put = |la: &mut Map<String, Value>, k: &str, v: Option<Value>| {
                if let Some(v) = v {
                    la.insert(k.into(), v);
                }
            };
            if embeddings {
                put(&mut la, spans::attr::LLM_EMBEDDING, input);
            } else {
                put(&mut la, spans::attr::LLM_INPUT, input);
            }
            put(&mut la, spans::attr::LLM_OUTPUT, output);
            put(&mut la, spans::attr::LLM_CACHE_READ, cache_read);
            put(&mut la, spans::attr::LLM_CACHE_WRITE, cache_write);
            put(&mut la, spans::attr::LLM_REASONING, reasoning);
            if error {
                la.insert(spans::attr::LLM_ERROR.into(), Value::String(error_text()));
            }
            out.push(base(&sid, parent.as_deref(), "llm", la, json!([])));
            if !embeddings && !error {
                let input = input_messages(s);
                let output = output_messages(s);
                let mut events = Vec::new();
                for m in new_user_messages(&input) {
                    events.push(message_event("end_user", &m.text, start));
                }
                for m in output.iter().filter(|m| matches!(m.role, Role::Assistant | Role::Other)) {
                    if !m.text.trim().is_empty() {
                        events.push(message_event("agent", &m.text, end));
                    }
                }
                if !events.is_empty() {
                    let turn = derived_id(&s.trace_id, &s.span_id, s.start_ns);
                    let mut ta = Map::new();
                    ta.insert(spans::attr::TURN_COMPLETE.into(), Value::Bool(true));
                    out.push(base(&turn, Some(&sid), "turn", ta, Value::Array(events)));
                }
            }
        }
        Op::Tool => {
            let mut ta = Map::new();
            let traceloop = !a.contains_key(attr::TOOL_NAME) && a.contains_key("traceloop.entity.name");
            let name = if traceloop { a.get("traceloop.entity.name") } else { a.get(attr::TOOL_NAME) };
            if let Some(n) = name {
                ta.insert(spans::attr::TOOL_NAME.into(), Value::String(text_of(n)));
            }
            let args = if traceloop { a.get("traceloop.entity.input") } else { a.get(attr::TOOL_ARGUMENTS) };
            if let Some(v) = args {
                ta.insert(spans::attr::TOOL_ARGUMENTS.into(), arguments_object(v));
            }
            let result = if traceloop { a.get("traceloop.entity.output") } else { a.get(attr::TOOL_RESULT) };
            if let Some(v) = result {
                ta.insert(spans::attr::TOOL_RESPONSE.into(), Value::String(text_of(v)));
            }
            if error || a.contains_key(attr::ERROR_TYPE) {
                ta.insert(spans::attr::TOOL_ERROR.into(), Value::String(error_text()));
            }
            out.push(base(&sid, parent.as_deref(), "tool", ta, json!([])));
        }
        Op::Other => {}
    }
    let evaluation = evaluation_of(s);
    if out.is_empty() && evaluation.is_some() {
        // An evaluation alone: a `conversation` span (archived only; it does not mark the
        // conversation used) carries the block whose metadata holds it.
        out.push(base(&sid, parent.as_deref(), "conversation", Map::new(), json!([])));
    }
    Ok(Made { spans: out, evaluation })
}

/// The id of the turn made from a chat span: 16 hex digits from a hash of its trace id, span id
/// and start, never zero.
fn derived_id(trace: &[u8], span: &[u8], start_ns: u64) -> String {
    let mut h = Sha256::new();
    h.update(b"agentsight.otlp.turn\0");
    h.update(trace);
    h.update(span);
    h.update(start_ns.to_be_bytes());
    let d = h.finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    let v = u64::from_be_bytes(b).max(1);
    spans::span_id_hex(v)
}

fn message_event(sender: &str, content: &str, at: Micros) -> Value {
    json!({"name": spans::attr::MESSAGE_EVENT, "timestamp": to_iso(at),
        "attributes": {spans::attr::MESSAGE_SENDER: sender, spans::attr::MESSAGE_CONTENT: content}})
}

/// Tool arguments as the span plane takes them: a JSON object (as text); anything else is
/// wrapped as `{"arguments": …}`.
fn arguments_object(v: &Value) -> Value {
    match v {
        Value::Object(_) => Value::String(v.to_string()),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(_)) => v.clone(),
            Ok(other) => Value::String(json!({ "arguments": other }).to_string()),
            Err(_) => Value::String(json!({ "arguments": s }).to_string()),
        },
        other => Value::String(json!({ "arguments": other }).to_string()),
    }
}

/// `gen_ai.evaluation.result` events, or `gen_ai.evaluation.*` span attributes: the latest, as
/// the feedback object the metrics read (`sentiment` from the label, `rating` from the score).
fn evaluation_of(s: &Span) -> Option<(Micros, Value)> {
    let read = |a: &Map<String, Value>| -> Option<Value> {
        let label = a.get("gen_ai.evaluation.score.label").map(text_of).filter(|t| !t.trim().is_empty());
        let score = a.get("gen_ai.evaluation.score.value").and_then(|v| match v {
            Value::Number(_) => Some(v.clone()),
            Value::String(t) => t.trim().parse::<f64>().ok().map(|f| json!(f)),
            _ => None,
        });
        if label.is_none() && score.is_none() {
            return None;
        }
        let mut m = Map::new();
        if let Some(l) = label {
            m.insert("sentiment".into(), Value::String(l));
        }
        if let Some(v) = score {
            m.insert("rating".into(), v);
        }
        for (k, key) in [("name", "gen_ai.evaluation.name"), ("explanation", "gen_ai.evaluation.explanation")]
        {
            if let Some(v) = a.get(key) {
                m.insert(k.into(), Value::String(text_of(v)));
            }
        }
        Some(Value::Object(m))
    };
    let mut best: Option<(Micros, Value)> =
        read(&s.attributes).map(|v| (micros(s.end_ns.max(s.start_ns)), v));
    for e in s.events.iter().filter(|e| e.name == "gen_ai.evaluation.result") {
        if let Some(v) = read(&e.attributes) {
            let t = micros(e.time_ns);
            if best.as_ref().is_none_or(|(bt, _)| t >= *bt) {
                best = Some((t, v));
            }
        }
    }
    best
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    System,
    User,
    Assistant,
    Tool,
    Other,
}

#[derive(Debug, Clone, PartialEq)]
struct Msg {
    role: Role,
    text: String,
}

fn role_of(r: &str) -> Role {
    match r.trim().to_ascii_lowercase().as_str() {
        "system" | "developer" => Role::System,
        "user" | "human" => Role::User,
        "assistant" | "ai" | "model" | "bot" => Role::Assistant,
        "tool" | "function" | "ipython" => Role::Tool,
        _ => Role::Other,
    }
}

/// The user messages of a chat call's input that no earlier call carried: those after its last
/// assistant message (all of them in the first call), without system or tool messages.
fn new_user_messages(input: &[Msg]) -> impl Iterator<Item = &Msg> {
    let from = input.iter().rposition(|m| m.role == Role::Assistant).map_or(0, |i| i + 1);
    input[from..].iter().filter(|m| m.role == Role::User && !m.text.trim().is_empty())
}

/// The text of a message's content: a string, a list of parts (`{"type": "text", "content" |
/// "text": …}`, also as JSON text), or an object with `content`/`text`.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => {
            let t = s.trim_start();
            if t.starts_with('[')
                && let Ok(Value::Array(parts)) = serde_json::from_str::<Value>(t)
                && !parts.is_empty()
                && parts.iter().all(|p| p.get("type").is_some())
            {
                return parts_text(&parts);
            }
            s.clone()
        }
        Value::Array(parts) => parts_text(parts),
        Value::Object(o) => o.get("content").or_else(|| o.get("text")).map(text_of).unwrap_or_default(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn parts_text(parts: &[Value]) -> String {
    let texts: Vec<String> = parts
        .iter()
        .filter(|p| p.get("type").and_then(Value::as_str).is_none_or(|t| t == "text"))
        .filter_map(|p| p.get("content").or_else(|| p.get("text")).map(text_of))
        .collect();
    texts.join("\n")
}

/// A list of `{"role", "parts" | "content"}` messages (the new form's JSON, or the older
/// `gen_ai.prompt`/`gen_ai.completion` event attributes), as text or as an array.
fn message_list(v: &Value, default_role: Role) -> Vec<Msg> {
    let parsed;
    let items = match v {
        Value::Array(a) => a,
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Array(a)) => {
                parsed = a;
                &parsed
            }
            _ => return vec![],
        },
        _ => return vec![],
    };
    items.iter().filter_map(|m| one_message(m, default_role)).collect()
}

fn one_message(m: &Value, default_role: Role) -> Option<Msg> {
    let o = m.as_object()?;
    // `gen_ai.choice` bodies nest the message.
    if let Some(inner) = o.get("message").filter(|v| v.is_object()) {
        return one_message(inner, default_role);
    }
    let role = o.get("role").and_then(Value::as_str).map(role_of).unwrap_or(default_role);
    let text = match o.get("parts") {
        Some(Value::Array(p)) => parts_text(p),
        _ => o.get("content").map(text_of).unwrap_or_default(),
    };
    Some(Msg { role, text })
}

fn input_messages(s: &Span) -> Vec<Msg> {
    let a = &s.attributes;
    if let Some(v) = a.get(attr::INPUT_MESSAGES) {
        return message_list(v, Role::User);
    }
    let mut from_events = Vec::new();
    let mut seen = false;
    for e in &s.events {
        let role = match e.name.as_str() {
            "gen_ai.system.message" => Role::System,
            "gen_ai.user.message" => Role::User,
            "gen_ai.assistant.message" => Role::Assistant,
            "gen_ai.tool.message" => Role::Tool,
            "gen_ai.content.prompt" => {
                seen = true;
                if let Some(v) = e.attributes.get("gen_ai.prompt") {
                    from_events.extend(message_list(v, Role::User));
                }
                continue;
            }
            _ => continue,
        };
        seen = true;
        let text = event_content(&e.attributes);
        from_events.push(Msg { role, text });
    }
    if seen {
        return from_events;
    }
    numbered(a, "gen_ai.prompt.", Role::User)
}

fn output_messages(s: &Span) -> Vec<Msg> {
    let a = &s.attributes;
    if let Some(v) = a.get(attr::OUTPUT_MESSAGES) {
        return message_list(v, Role::Assistant);
    }
    let mut from_events = Vec::new();
    let mut seen = false;
    for e in &s.events {
        match e.name.as_str() {
            "gen_ai.choice" => {
                seen = true;
                let m = e
                    .attributes
                    .get("message")
                    .and_then(|v| match v {
                        Value::String(t) => serde_json::from_str::<Value>(t).ok(),
                        other => Some(other.clone()),
                    })
                    .and_then(|v| one_message(&v, Role::Assistant));
                from_events
                    .push(m.unwrap_or(Msg { role: Role::Assistant, text: event_content(&e.attributes) }));
            }
            "gen_ai.content.completion" => {
                seen = true;
                if let Some(v) = e.attributes.get("gen_ai.completion") {
                    from_events.extend(message_list(v, Role::Assistant));
                }
            }
            _ => {}
        }
    }
    if seen {
        return from_events;
    }
    numbered(a, "gen_ai.completion.", Role::Assistant)
}

fn event_content(a: &Map<String, Value>) -> String {
    a.get("content")
        .or_else(|| a.get("gen_ai.event.content"))
        .map(|v| match v {
            // `gen_ai.event.content` holds the event body as JSON text.
            Value::String(t) if t.trim_start().starts_with('{') => {
                serde_json::from_str::<Value>(t).map(|o| text_of(&o)).unwrap_or_else(|_| t.clone())
            }
            other => text_of(other),
        })
        .unwrap_or_default()
}

/// OpenLLMetry's `gen_ai.prompt.N.role`/`.content` (or `gen_ai.completion.N.…`), by N.
fn numbered(a: &Map<String, Value>, prefix: &str, default_role: Role) -> Vec<Msg> {
    let mut by_n: std::collections::BTreeMap<u64, (Option<Role>, Option<String>)> = Default::default();
    for (k, v) in a {
        let Some(rest) = k.strip_prefix(prefix) else { continue };
        let Some((n, field)) = rest.split_once('.') else { continue };
        let Ok(n) = n.parse::<u64>() else { continue };
        let e = by_n.entry(n).or_default();
        match field {
            "role" => e.0 = v.as_str().map(role_of),
            "content" => e.1 = Some(text_of(v)),
            _ => {}
        }
    }
    by_n.into_values()
        .filter(|(r, c)| r.is_some() || c.is_some())
        .map(|(r, c)| Msg { role: r.unwrap_or(default_role), text: c.unwrap_or_default() })
        .collect()
}

fn describe(e: &ValidationErrors) -> String {
    let parts: Vec<String> = e.0.iter().map(|(k, m)| format!("{k}: {}", m.join(" "))).collect();
    parts.join(", ")
}

fn describe_batch(e: &BatchError) -> String {
    match e {
        BatchError::Envelope(v) => describe(v),
        BatchError::Blocks(bad, _) => {
            let parts: Vec<String> = bad.iter().map(|(_, _, v)| describe(v)).collect();
            parts.join("; ")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spans::{SpanEffect, SpanRecord};

    const T0: u64 = 1_786_000_000_000_000_000; // ns

    fn scope() -> AgentScope {
        AgentScope { agent_id: 1, environments: vec!["production".into(), "development".into()] }
    }

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    fn span(id: u8, trace: u8, start_s: u64, end_s: u64, a: Value) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: vec![id; 8],
            parent_span_id: vec![],
            name: "span".into(),
            start_ns: T0 + start_s * 1_000_000_000,
            end_ns: T0 + end_s * 1_000_000_000,
            status: Status::Ok,
            status_message: String::new(),
            attributes: attrs(a),
            events: vec![],
        }
    }

    fn request(resource: Value, spans: Vec<Span>) -> Request {
        Request { resources: vec![Resource { attributes: attrs(resource), spans }] }
    }

    fn map(req: &Request) -> Mapped {
        map_request(&scope(), req, 0).expect("maps")
    }

    /// Every message of the batch, in batch order: (conversation, sender, content, ts in s from T0).
    fn messages(m: &Mapped) -> Vec<(String, String, String, i64)> {
        let mut out = vec![];
        for b in &m.batch.as_ref().expect("a batch").blocks {
            for s in &b.spans {
                if let SpanEffect::Turn(t) = &s.effect {
                    for msg in &t.messages {
                        out.push((
                            b.upsert.conversation_id.clone(),
                            msg.sender.clone(),
                            msg.content.clone(),
                            (msg.ts - (T0 / 1000) as i64) / 1_000_000,
                        ));
                    }
                }
            }
        }
        out
    }

    fn spans_of(m: &Mapped) -> Vec<&SpanRecord> {
        m.batch.as_ref().map(|b| b.blocks.iter().flat_map(|b| b.spans.iter()).collect()).unwrap_or_default()
    }

    fn msgs(pairs: &[(&str, &str)]) -> String {
        let v: Vec<Value> = pairs
            .iter()
            .map(|(r, t)| json!({"role": r, "parts": [{"type": "text", "content": t}]}))
            .collect();
        Value::Array(v).to_string()
    }

    #[test]
    fn new_form_messages_history_once_in_order_without_system_or_tools() {
        // Turn 1: one chat call. Turn 2: a tool loop (a tool call, then the answer).
        let chat1 = span(
            1,
            1,
            0,
            2,
            json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "c1",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.system_instructions": "[{\"type\":\"text\",\"content\":\"be brief\"}]",
            "gen_ai.input.messages": msgs(&[("system", "be brief"), ("user", "hi")]),
            "gen_ai.output.messages": msgs(&[("assistant", "hello")])}),
        );
        let chat2 = span(
            2,
            2,
            10,
            11,
            json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "c1",
            "gen_ai.input.messages": msgs(&[("system", "be brief"), ("user", "hi"), ("assistant", "hello"), ("user", "order 7?")]),
            "gen_ai.output.messages": json!([{"role": "assistant", "parts": [{"type": "tool_call", "name": "lookup"}]}]).to_string()}),
        );
        let chat3 = span(
            3,
            2,
            12,
            14,
            json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "c1",
            "gen_ai.input.messages": json!([{"role": "user", "parts": [{"type": "text", "content": "hi"}]},
                {"role": "assistant", "parts": [{"type": "text", "content": "hello"}]},
                {"role": "user", "parts": [{"type": "text", "content": "order 7?"}]},
                {"role": "assistant", "parts": [{"type": "tool_call", "name": "lookup"}]},
                {"role": "tool", "parts": [{"type": "tool_call_response", "response": "shipped"}]}]).to_string(),
            "gen_ai.output.messages": msgs(&[("assistant", "It shipped.")])}),
        );
        let m = map(&request(json!({}), vec![chat1, chat2, chat3]));
        assert_eq!(m.rejected, 0, "{}", m.error_message());
        assert_eq!(
            messages(&m),
            vec![
                ("c1".into(), "end_user".into(), "hi".into(), 0),
                ("c1".into(), "agent".into(), "hello".into(), 2),
                ("c1".into(), "end_user".into(), "order 7?".into(), 10),
                ("c1".into(), "agent".into(), "It shipped.".into(), 14),
            ]
        );
        assert_eq!(m.stored, 3);
        // Three llm calls, two turns (the tool-call-only answer has no text).
        let kinds: Vec<&str> = spans_of(&m).iter().map(|s| s.kind.as_str()).collect();
        assert_eq!(kinds.iter().filter(|k| **k == "llm").count(), 3);
        assert_eq!(kinds.iter().filter(|k| **k == "turn").count(), 3);
    }

    #[test]
    fn the_same_request_maps_to_the_same_ids_so_a_resend_is_a_duplicate() {
        let chat = span(
            1,
            1,
            0,
            2,
            json!({"gen_ai.operation.name": "chat", "session.id": "s",
            "gen_ai.input.messages": msgs(&[("user", "hi")]), "gen_ai.output.messages": msgs(&[("assistant", "yo")])}),
        );
        let req = request(json!({}), vec![chat]);
        let (a, b) = (map(&req), map(&req));
        let ids = |m: &Mapped| spans_of(m).iter().map(|s| (s.span_id, s.started_at)).collect::<Vec<_>>();
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a.body, b.body);
        assert_eq!(
            a.batch.as_ref().unwrap().blocks[0].upsert.conversation_id,
            "s",
            "session.id is the fallback"
        );
    }

    #[test]
    fn older_event_form_messages() {
        let mut chat = span(
            1,
            1,
            0,
            3,
            json!({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.conversation.id": "ev"}),
        );
        let ev = |name: &str, a: Value| Event { name: name.into(), time_ns: T0, attributes: attrs(a) };
        chat.events = vec![
            ev("gen_ai.system.message", json!({"content": "You are a bot"})),
            ev("gen_ai.user.message", json!({"content": "first"})),
            ev("gen_ai.assistant.message", json!({"content": "answer one"})),
            ev("gen_ai.user.message", json!({"content": "second"})),
            ev(
                "gen_ai.choice",
                json!({"index": 0, "finish_reason": "stop",
                "message": "{\"role\":\"assistant\",\"content\":\"answer two\"}"}),
            ),
        ];
        let m = map(&request(json!({}), vec![chat]));
        assert_eq!(
            messages(&m),
            vec![
                ("ev".into(), "end_user".into(), "second".into(), 0),
                ("ev".into(), "agent".into(), "answer two".into(), 3)
            ]
        );
    }

    #[test]
    fn prompt_and_completion_events_and_messages_as_kvlists() {
        // Semantic conventions 1.26/1.27: the history as JSON on `gen_ai.content.*` events.
        let mut a = span(
            1,
            1,
            0,
            2,
            json!({"gen_ai.system": "openai", "gen_ai.request.model": "gpt-4o", "session.id": "v"}),
        );
        a.events = vec![
            Event {
                name: "gen_ai.content.prompt".into(),
                time_ns: T0,
                attributes: attrs(
                    json!({"gen_ai.prompt": "[{\"role\":\"system\",\"content\":\"s\"},{\"role\":\"user\",\"content\":\"old style\"}]"}),
                ),
            },
            Event {
                name: "gen_ai.content.completion".into(),
                time_ns: T0,
                attributes: attrs(
                    json!({"gen_ai.completion": "[{\"role\":\"assistant\",\"content\":\"ok\"}]"}),
                ),
            },
        ];
        // The new form sent as OTLP arrays/kvlists rather than JSON text.
        let b = span(
            2,
            2,
            10,
            11,
            json!({"gen_ai.operation.name": "chat", "session.id": "v",
            "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "kv"}]}],
            "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": "list"}]}]}),
        );
        let m = map(&request(json!({}), vec![a, b]));
        assert_eq!(
            messages(&m).into_iter().map(|(_, s, c, t)| (s, c, t)).collect::<Vec<_>>(),
            vec![
                ("end_user".into(), "old style".into(), 0),
                ("agent".into(), "ok".into(), 2),
                ("end_user".into(), "kv".into(), 10),
                ("agent".into(), "list".into(), 11),
            ]
        );
    }

    #[test]
    fn openllmetry_numbered_prompts_and_completions() {
        let chat = span(
            1,
            1,
            0,
            1,
            json!({"llm.request.type": "chat", "gen_ai.system": "Anthropic",
            "gen_ai.request.model": "claude-3-5-sonnet-20241022", "session.id": "ol",
            "gen_ai.prompt.0.role": "system", "gen_ai.prompt.0.content": "sys",
            "gen_ai.prompt.1.role": "user", "gen_ai.prompt.1.content": "[{\"type\":\"text\",\"text\":\"parts\"}]",
            "gen_ai.prompt.10.role": "user", "gen_ai.prompt.10.content": "tenth",
            "gen_ai.completion.0.role": "assistant", "gen_ai.completion.0.content": "done",
            "gen_ai.usage.prompt_tokens": 100, "gen_ai.usage.completion_tokens": 20}),
        );
        let m = map(&request(json!({}), vec![chat]));
        assert_eq!(
            messages(&m).into_iter().map(|(_, s, c, _)| (s, c)).collect::<Vec<_>>(),
            vec![
                ("end_user".into(), "parts".into()),
                ("end_user".into(), "tenth".into()),
                ("agent".into(), "done".into())
            ],
            "N orders numerically (10 after 1), the system prompt is not a user message"
        );
        let llm = spans_of(&m).into_iter().find_map(|s| match &s.effect {
            SpanEffect::Llm(l) => Some(l.clone()),
            _ => None,
        });
        let llm = llm.expect("an llm call");
        assert_eq!((llm.tokens.input, llm.tokens.output), (100, 20));
        assert!(llm.cost_pico.is_some(), "priced from the table");
    }

    #[test]
    fn usage_takes_cached_input_out_and_marks_unreported_and_failed_calls() {
        let a = span(
            1,
            1,
            0,
            1,
            json!({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 50,
            "gen_ai.usage.cache_read.input_tokens": 400, "session.id": "u"}),
        );
        let b = span(2, 1, 2, 3, json!({"gen_ai.operation.name": "chat", "session.id": "u"}));
        let mut c = span(
            3,
            1,
            4,
            5,
            json!({"gen_ai.operation.name": "chat", "session.id": "u",
            "gen_ai.response.model": "gpt-4o", "error.type": "timeout",
            "gen_ai.input.messages": msgs(&[("user", "lost")])}),
        );
        c.status = Status::Error;
        let e = span(
            4,
            1,
            6,
            7,
            json!({"gen_ai.operation.name": "embeddings", "session.id": "u",
            "gen_ai.request.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 30}),
        );
        let m = map(&request(json!({}), vec![a, b, c, e]));
        let calls: Vec<_> = spans_of(&m)
            .into_iter()
            .filter_map(|s| match &s.effect {
                SpanEffect::Llm(l) => Some(l.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(calls.len(), 4);
        assert_eq!(
            (calls[0].tokens.input, calls[0].tokens.cache_read, calls[0].tokens.output),
            (600, 400, 50)
        );
        assert!(calls[0].usage_reported && !calls[1].usage_reported);
        assert_eq!(calls[1].model, "unknown");
        assert!(calls[2].error && calls[2].model == "gpt-4o");
        assert_eq!((calls[3].tokens.input, calls[3].tokens.embedding), (0, 30));
        assert!(messages(&m).is_empty(), "a failed call adds no message");
    }

    #[test]
    fn tool_spans_by_name_with_duration_and_errors() {
        let ok = span(
            1,
            1,
            0,
            2,
            json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order",
            "gen_ai.tool.call.arguments": "{\"id\":7}", "gen_ai.tool.call.result": "shipped", "session.id": "t"}),
        );
        let mut bad = span(
            2,
            1,
            3,
            4,
            json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "refund",
            "gen_ai.tool.call.arguments": "not json", "session.id": "t"}),
        );
        bad.status = Status::Error;
        bad.status_message = "card declined".into();
        let traceloop = span(
            3,
            1,
            5,
            6,
            json!({"traceloop.span.kind": "tool", "traceloop.entity.name": "search",
            "traceloop.entity.input": "{\"args\":[],\"kwargs\":{}}", "session.id": "t"}),
        );
        let m = map(&request(json!({}), vec![ok, bad, traceloop]));
        let tools: Vec<_> = spans_of(&m)
            .into_iter()
            .filter_map(|s| match &s.effect {
                SpanEffect::Tool(t) => Some(t.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(tools.len(), 3);
        assert_eq!(
            (tools[0].name.as_str(), tools[0].duration_ms, tools[0].error.as_deref()),
            ("lookup_order", Some(2000), None)
        );
        assert_eq!(tools[0].tools_used.as_deref(), Some("{\"id\":7}"));
        assert_eq!(tools[0].response.as_deref(), Some("shipped"));
        assert_eq!((tools[1].name.as_str(), tools[1].error.as_deref()), ("refund", Some("card declined")));
        assert_eq!(tools[1].tools_used.as_deref(), Some("{\"arguments\":\"not json\"}"));
        assert_eq!(tools[2].name, "search");
    }

    #[test]
    fn evaluation_becomes_metadata_feedback_and_alone_marks_nothing_used() {
        let mut chat = span(
            1,
            1,
            0,
            1,
            json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "f",
            "agentsight.conversation.metadata": "{\"plan\":\"pro\"}"}),
        );
        chat.events = vec![Event {
            name: "gen_ai.evaluation.result".into(),
            time_ns: T0,
            attributes: attrs(
                json!({"gen_ai.evaluation.name": "helpfulness", "gen_ai.evaluation.score.label": "positive",
                "gen_ai.evaluation.score.value": 4.5}),
            ),
        }];
        let alone =
            span(2, 2, 0, 1, json!({"gen_ai.conversation.id": "g", "gen_ai.evaluation.score.value": 2}));
        let m = map(&request(json!({}), vec![chat, alone]));
        let blocks = &m.batch.as_ref().unwrap().blocks;
        let md: Value = serde_json::from_str(blocks[0].upsert.fields.metadata.as_deref().unwrap()).unwrap();
        assert_eq!(
            md,
            json!({"plan": "pro", "feedback": {"sentiment": "positive", "rating": 4.5, "name": "helpfulness"}})
        );
        let md: Value = serde_json::from_str(blocks[1].upsert.fields.metadata.as_deref().unwrap()).unwrap();
        assert_eq!(md, json!({"feedback": {"rating": 2}}));
        assert!(!blocks[1].upsert.is_used, "an evaluation alone is a `conversation` span");
        assert_eq!(blocks[1].spans[0].kind, "conversation");
    }

    #[test]
    fn dimensions_from_the_namespace_with_fallbacks_span_before_resource() {
        let res = json!({"service.name": "bot", "user.id": "res-user", "agentsight.conversation.source": "WhatsApp",
            "agentsight.conversation.environment": "production"});
        let a = span(
            1,
            1,
            0,
            1,
            json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "d1",
            "client.address": "203.0.113.7", "agentsight.conversation.device": "mobile",
            "agentsight.conversation.language": "en_us"}),
        );
        let b = span(
            2,
            2,
            0,
            1,
            json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "d2",
            "agentsight.conversation.customer_id": "span-user", "user.id": "ignored"}),
        );
        let m = map(&request(res, vec![a, b]));
        let blocks = &m.batch.as_ref().unwrap().blocks;
        let f = &blocks[0].upsert.fields;
        assert_eq!(f.customer_id.as_deref(), Some("res-user"));
        assert_eq!(f.customer_ip_address.as_deref(), Some("203.0.113.7"));
        assert_eq!(
            (f.device.as_deref(), f.source.as_deref(), f.language.as_deref()),
            (Some("mobile"), Some("whatsapp"), Some("en-US"))
        );
        assert_eq!(f.environment.as_deref(), Some("production"));
        assert_eq!(blocks[1].upsert.fields.customer_id.as_deref(), Some("span-user"));
    }

    #[test]
    fn conversation_falls_back_to_the_trace_and_spans_share_their_traces_one() {
        let chat =
            span(1, 9, 0, 1, json!({"gen_ai.operation.name": "chat", "gen_ai.conversation.id": "named"}));
        let tool =
            span(2, 9, 0, 1, json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "x"}));
        let lone =
            span(3, 8, 0, 1, json!({"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "y"}));
        let http = span(4, 8, 0, 1, json!({"http.request.method": "GET"}));
        let m = map(&request(json!({}), vec![chat, tool, lone, http]));
        let ids: Vec<&str> =
            m.batch.as_ref().unwrap().blocks.iter().map(|b| b.upsert.conversation_id.as_str()).collect();
        assert_eq!(ids, ["named", "08080808080808080808080808080808"]);
        assert_eq!(m.batch.as_ref().unwrap().blocks[0].spans.len(), 2);
        assert_eq!((m.stored, m.ignored, m.rejected), (3, 1, 0));
    }

    #[test]
    fn bad_spans_and_blocks_are_rejected_alone_naming_the_field() {
        let good = span(
            1,
            1,
            0,
            1,
            json!({"gen_ai.operation.name": "chat", "session.id": "ok",
            "gen_ai.usage.input_tokens": 5}),
        );
        let bad_tokens = span(
            2,
            1,
            0,
            1,
            json!({"gen_ai.operation.name": "chat", "session.id": "ok",
            "gen_ai.usage.output_tokens": "many"}),
        );
        let bad_env = span(
            3,
            2,
            0,
            1,
            json!({"gen_ai.operation.name": "chat", "session.id": "env",
            "agentsight.conversation.environment": "staging"}),
        );
        let long = span(
            4,
            3,
            0,
            1,
            json!({"gen_ai.operation.name": "chat", "session.id": "long",
            "gen_ai.input.messages": msgs(&[("user", &"x".repeat(crate::limits::MAX_CONTENT_CHARS + 1))])}),
        );
        let mut bad_id = span(5, 4, 0, 1, json!({"gen_ai.operation.name": "chat"}));
        bad_id.span_id = vec![1, 2, 3];
        let m = map(&request(json!({}), vec![good, bad_tokens, bad_env, long, bad_id]));
        assert_eq!((m.stored, m.rejected), (1, 4));
        let msg = m.error_message();
        assert!(msg.contains("gen_ai.usage.output_tokens"), "{msg}");
        assert!(msg.contains("conversation env: environment"), "{msg}");
        assert!(msg.contains("agentsight.message.content"), "{msg}");
        assert!(msg.contains("spanId"), "{msg}");
        assert_eq!(spans_of(&m).len(), 1);
    }

    #[test]
    fn too_many_spans_is_a_request_error_naming_resource_spans() {
        let s = span(1, 1, 0, 1, json!({}));
        let req = request(json!({}), vec![s; MAX_SPANS_PER_REQUEST + 1]);
        let e = map_request(&scope(), &req, 0).unwrap_err();
        assert!(e.0.contains_key("resourceSpans"));
    }

    #[test]
    fn non_gen_ai_requests_store_nothing() {
        let m = map(&request(json!({}), vec![span(1, 1, 0, 1, json!({"db.system": "postgresql"}))]));
        assert!(m.batch.is_none() && m.body.is_empty());
        assert_eq!((m.stored, m.ignored, m.rejected), (0, 1, 0));
    }
}
