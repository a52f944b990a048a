//! The tracking plane's domain commands, and their validation from the 0.0.x wire payloads.
//!
//! Each `validate_*` function takes a payload and the receiving context and returns either a
//! command the store writes as given, or a [`ValidationErrors`] naming every bad field.

use agentsight_protocol as wire;
use base64::Engine as _;
use serde_json::Value;

use crate::error::ValidationErrors;
use crate::limits::{self, check_chars};
use crate::normalize;
use crate::time::{self, Micros};

/// The agent a request acts for, as resolved from its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentScope {
    /// Agent id.
    pub agent_id: i64,
    /// The agent's environment slugs.
    pub environments: Vec<String>,
}

/// How a write names its conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationRef {
    /// By primary key; it must exist and belong to the agent.
    Pk(i64),
    /// By the client's id; created when it does not exist yet.
    Id(String),
}

/// Conversation dimensions as given; `None` never erases a stored value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationFields {
    /// Display name.
    pub name: Option<String>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Canonical IP address text.
    pub customer_ip_address: Option<String>,
    /// Device.
    pub device: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Environment slug.
    pub environment: Option<String>,
    /// Metadata object, serialized; replaces the stored one when given.
    pub metadata: Option<String>,
    /// Where `customer_ip_address` is (filled at ingest by the geolocation step); replaces the
    /// stored location as a whole when given.
    pub location: Option<Location>,
}

/// Resolves an address to a location (the offline geolocation database).
pub type Locator = std::sync::Arc<dyn Fn(std::net::IpAddr) -> Option<Location> + Send + Sync>;

/// What ingest adds to what the client sent: the location of the conversation's address, and
/// whether the address itself is kept. Applied after validation, before the store, on every
/// write path (0.0.x calls, span batches, and a span batch projected again from the archive).
#[derive(Clone, Default)]
pub struct Enrichment {
    /// Geolocation of `customer_ip_address`, when a database is loaded.
    pub locate: Option<Locator>,
    /// Keep the address itself (`--store-ip`); when false only its location is stored.
    pub store_ip: bool,
    /// The geolocation database files behind `locate` and when each was built (Unix seconds),
    /// for monitoring; empty when geolocation is off.
    pub databases: Vec<(String, u64)>,
}

impl std::fmt::Debug for Enrichment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrichment")
            .field("locate", &self.locate.is_some())
            .field("store_ip", &self.store_ip)
            .field("databases", &self.databases)
            .finish()
    }
}

impl Enrichment {
    /// Adds the location of the conversation's address and drops the address if it is not
    /// to be kept.
    pub fn apply(&self, c: &mut ConversationUpsert) {
        let Some(ip) =
            c.fields.customer_ip_address.as_deref().and_then(|s| s.parse::<std::net::IpAddr>().ok())
        else {
            return;
        };
        if let Some(locate) = &self.locate {
            c.fields.location = locate(ip);
        }
        if !self.store_ip {
            c.fields.customer_ip_address = None;
        }
    }
}

/// Where an IP address is, from the offline geolocation database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code, upper case (`HR`).
    pub country: String,
    /// Region or state, when known.
    pub region: Option<String>,
    /// City, when known.
    pub city: Option<String>,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
}

/// `POST /api/conversations/`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationUpsert {
    /// Agent.
    pub agent_id: i64,
    /// The client's id.
    pub conversation_id: String,
    /// Dimensions.
    pub fields: ConversationFields,
    /// Sticky: once true it stays true.
    pub is_used: bool,
    /// Event time (becomes `started_at` when this creates the row).
    pub event_time: Micros,
    /// Server receipt time.
    pub received_at: Micros,
}

/// `POST /api/track/`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// Agent.
    pub agent_id: i64,
    /// Conversation.
    pub conversation: ConversationRef,
    /// `end_user` | `agent` | `system`.
    pub sender: String,
    /// Text.
    pub content: String,
    /// Metadata object, serialized.
    pub metadata: String,
    /// Event time.
    pub event_time: Micros,
    /// Server receipt time.
    pub received_at: Micros,
}

impl NewMessage {
    /// Whether a re-send of this message is recognised ([`is_resendable`]).
    pub fn resendable(&self) -> bool {
        is_resendable(self.event_time, self.received_at)
    }
}

impl NewAction {
    /// Whether a re-send of this action is recognised ([`is_resendable`]).
    pub fn resendable(&self) -> bool {
        is_resendable(self.event_time, self.received_at)
    }
}

impl NewButton {
    /// Whether a re-send of this click is recognised ([`is_resendable`]).
    pub fn resendable(&self) -> bool {
        is_resendable(self.event_time, self.received_at)
    }
}

/// A 0.0.x message, action or button whose client gave its event time (`timestamp`, the moment
/// it was tracked, not sent) is the same item when it comes again with the same conversation,
/// event time and content: the SDK re-sends it after a network error, and the stores answer the
/// stored item instead of storing it twice (docs/sdk-protocol.md). An item without a client time
/// (its event time is its receipt time) is never taken for a re-send.
pub fn is_resendable(event_time: Micros, received_at: Micros) -> bool {
    event_time != received_at
}

/// `POST /api/action_logs/`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAction {
    /// Agent.
    pub agent_id: i64,
    /// Conversation.
    pub conversation: ConversationRef,
    /// Name.
    pub action_name: String,
    /// `started_at` when given, else the payload's event time.
    pub event_time: Micros,
    /// Start.
    pub started_at: Option<Micros>,
    /// End.
    pub ended_at: Option<Micros>,
    /// Duration.
    pub duration_ms: Option<i64>,
    /// Tools used, serialized JSON.
    pub tools_used: Option<String>,
    /// Response text.
    pub response: Option<String>,
    /// Error message.
    pub error_msg: Option<String>,
    /// Metadata, serialized.
    pub metadata: String,
    /// Server receipt time.
    pub received_at: Micros,
}

/// `POST /api/buttons/`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewButton {
    /// Agent.
    pub agent_id: i64,
    /// Conversation.
    pub conversation: ConversationRef,
    /// Event kind.
    pub button_event: String,
    /// Label.
    pub label: String,
    /// Value.
    pub value: String,
    /// Metadata, serialized.
    pub metadata: String,
    /// Event time.
    pub event_time: Micros,
    /// Server receipt time.
    pub received_at: Micros,
}

/// Where uploaded files belong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentTarget {
    /// A message (its conversation follows from it).
    Message(i64),
    /// A conversation, standalone.
    Conversation(ConversationRef),
}

/// One uploaded file, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedFile {
    /// Sanitized file name (no path).
    pub filename: String,
    /// MIME type as given (or `application/octet-stream`).
    pub mime_type: String,
    /// Content.
    pub data: Vec<u8>,
}

/// `POST /api/attachments/` in any of its four shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttachments {
    /// Agent.
    pub agent_id: i64,
    /// Target.
    pub target: AttachmentTarget,
    /// Sender.
    pub sender: Option<String>,
    /// Metadata, serialized.
    pub metadata: String,
    /// Event time.
    pub event_time: Micros,
    /// The files.
    pub files: Vec<UploadedFile>,
}

/// Where a feedback record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedbackSource {
    /// An API key (the SDK).
    Customer,
    /// The dashboard.
    Platform,
}

impl FeedbackSource {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            FeedbackSource::Customer => "customer",
            FeedbackSource::Platform => "platform",
        }
    }
}

/// `POST /api/conversation-feedbacks/`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFeedback {
    /// Agent.
    pub agent_id: i64,
    /// Conversation (must exist; never created by feedback).
    pub conversation: ConversationRef,
    /// Sentiment.
    pub sentiment: String,
    /// Source.
    pub source: FeedbackSource,
    /// Comment.
    pub comment: Option<String>,
    /// Metadata, serialized.
    pub metadata: String,
    /// Server time.
    pub created_at: Micros,
}

/// Operator changes to a conversation (rename, mark, update, soft delete).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationPatch {
    /// New name.
    pub name: Option<String>,
    /// Marked flag.
    pub is_marked: Option<bool>,
    /// Customer id.
    pub customer_id: Option<String>,
    /// Device.
    pub device: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Metadata (replaces).
    pub metadata: Option<String>,
    /// Soft delete.
    pub delete: bool,
}

/// Why an upload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UploadError {
    /// Bad fields.
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    /// A file over the size limit.
    #[error("{field}: file exceeds {limit} bytes")]
    TooLarge {
        /// The file's field path.
        field: String,
        /// The limit in bytes.
        limit: usize,
    },
}

/// Validates a JSON object field: `null`/absent → `None`, an object within the size and depth
/// limits → its serialized text, anything else an error.
pub fn json_object(value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Object(_)) => {
            if depth(v) > limits::MAX_JSON_DEPTH {
                return Err(format!("Nesting deeper than {} levels is not allowed.", limits::MAX_JSON_DEPTH));
            }
            let s = v.to_string();
            if s.len() > limits::MAX_JSON_BYTES {
                return Err(format!(
                    "Ensure this object is no larger than {} bytes serialized.",
                    limits::MAX_JSON_BYTES
                ));
            }
            Ok(Some(s))
        }
        Some(_) => Err("Expected a JSON object.".to_string()),
    }
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn opt_text(errs: &mut ValidationErrors, field: &str, v: Option<&str>, max: usize) -> Option<String> {
    let t = normalize::trimmed(v)?;
    errs.check(field, check_chars(t, max)).map(|_| t.to_string())
}

/// The customer id of an erase request (`DELETE /api/customers/{customer_id}/`, `agentsight
/// erase`): trimmed as ingest trims it, not blank, at most [`limits::MAX_ID_CHARS`].
pub fn customer_id_to_erase(v: &str) -> Result<String, ValidationErrors> {
    let mut e = ValidationErrors::default();
    check_required(&mut e, "customer_id", v, limits::MAX_ID_CHARS);
    e.into_result(v.trim().to_string())
}

/// An agent's retention in days: 1 to [`limits::MAX_RETENTION_DAYS`].
pub fn retention_days(v: i64) -> Result<u32, String> {
    match u32::try_from(v) {
        Ok(d) if (1..=limits::MAX_RETENTION_DAYS).contains(&d) => Ok(d),
        _ => Err(format!("Ensure this value is between 1 and {}.", limits::MAX_RETENTION_DAYS)),
    }
}

fn check_required(errs: &mut ValidationErrors, field: &str, v: &str, max: usize) {
    if v.trim().is_empty() {
        errs.add(field, "This field may not be blank.");
    } else {
        errs.check(field, check_chars(v, max));
    }
}

fn required_text(errs: &mut ValidationErrors, field: &str, v: &str, max: usize) -> String {
    check_required(errs, field, v, max);
    v.to_string()
}

fn conversation_ref(
    errs: &mut ValidationErrors,
    pk: Option<&wire::PkRef>,
    conversation_id: Option<&str>,
) -> ConversationRef {
    match (pk, normalize::trimmed(conversation_id).filter(|s| *s != "None")) {
        (Some(wire::PkRef::Pk(pk)), _) => ConversationRef::Pk(*pk),
        (Some(wire::PkRef::Invalid(v)), _) => {
            errs.add("conversation", format!("Invalid pk \"{v}\" - object does not exist."));
            ConversationRef::Pk(0)
        }
        (None, Some(id)) => {
            errs.check("conversation_id", check_chars(id, limits::MAX_ID_CHARS));
            ConversationRef::Id(id.to_string())
        }
        (None, None) => {
            errs.add("conversation_id", "This field is required when conversation is null.");
            ConversationRef::Pk(0)
        }
    }
}

fn metadata_text(errs: &mut ValidationErrors, field: &str, v: Option<&Value>) -> String {
    errs.check(field, json_object(v)).flatten().unwrap_or_else(|| "{}".to_string())
}

/// Validates a conversation upsert.
pub fn validate_conversation(
    scope: &AgentScope,
    p: &wire::ConversationPayload,
    received_at: Micros,
) -> Result<ConversationUpsert, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let conversation_id = p.conversation_id.trim().to_string();
    if conversation_id.is_empty() {
        e.add("conversation_id", "This field may not be blank.");
    }
    e.check("conversation_id", check_chars(&conversation_id, limits::MAX_ID_CHARS));
    let event_time = e.check("timestamp", time::event_time(p.timestamp.as_deref(), received_at));
    let fields = ConversationFields {
        name: opt_text(&mut e, "name", p.name.as_deref(), limits::MAX_NAME_CHARS),
        customer_id: opt_text(&mut e, "customer_id", p.customer_id.as_deref(), limits::MAX_ID_CHARS),
        customer_ip_address: normalize::trimmed(p.customer_ip_address.as_deref())
            .and_then(|v| e.check("customer_ip_address", normalize::ip_address(v)))
            .map(|ip| ip.to_string()),
        device: normalize::trimmed(p.device.as_deref()).and_then(|v| e.check("device", normalize::device(v))),
        source: normalize::trimmed(p.source.as_deref()).and_then(|v| e.check("source", normalize::source(v))),
        language: normalize::trimmed(p.language.as_deref())
            .and_then(|v| e.check("language", normalize::language(v))),
        environment: normalize::trimmed(p.environment.as_deref())
            .and_then(|v| e.check("environment", normalize::environment(v, &scope.environments))),
        metadata: e.check("metadata", json_object(p.metadata.as_ref())).flatten(),
        location: None,
    };
    let upsert = ConversationUpsert {
        agent_id: scope.agent_id,
        conversation_id,
        fields,
        // Absent (0.1.4's upload upsert): a new row is a visit, an existing one keeps its flag.
        is_used: p.is_used.unwrap_or(false),
        event_time: event_time.unwrap_or(received_at),
        received_at,
    };
    e.into_result(upsert)
}

/// Validates a message (taking the payload, whose content it keeps without copying).
pub fn validate_message(
    scope: &AgentScope,
    p: wire::TrackPayload,
    received_at: Micros,
) -> Result<NewMessage, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let conversation = conversation_ref(&mut e, p.conversation.as_ref(), p.conversation_id.as_deref());
    let event_time = e.check("timestamp", time::event_time(p.timestamp.as_deref(), received_at));
    let sender = e.check("sender", normalize::sender(&p.sender));
    check_required(&mut e, "content", &p.content, limits::MAX_CONTENT_CHARS);
    let content = p.content;
    let metadata = metadata_text(&mut e, "metadata", p.metadata.as_ref());
    let m = NewMessage {
        agent_id: scope.agent_id,
        conversation,
        sender: sender.unwrap_or_default(),
        content,
        metadata,
        event_time: event_time.unwrap_or(received_at),
        received_at,
    };
    e.into_result(m)
}

/// Validates an action (tool call, or the `token_usage` bookkeeping action).
pub fn validate_action(
    scope: &AgentScope,
    p: &wire::ActionPayload,
    received_at: Micros,
) -> Result<NewAction, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let conversation = conversation_ref(&mut e, p.conversation.as_ref(), p.conversation_id.as_deref());
    let payload_time = e.check("timestamp", time::event_time(p.timestamp.as_deref(), received_at));
    let action_name = required_text(&mut e, "action_name", &p.action_name, limits::MAX_ACTION_NAME_CHARS)
        .trim()
        .to_string();
    let ts = |e: &mut ValidationErrors, f: &str, v: Option<&str>| {
        normalize::trimmed(v).and_then(|s| e.check(f, time::parse_timestamp(s)))
    };
    let started_at = ts(&mut e, "started_at", p.started_at.as_deref());
    let ended_at = ts(&mut e, "ended_at", p.ended_at.as_deref());
    let duration_ms = p.duration_ms.as_ref().and_then(|n| {
        let v = n.as_f64().unwrap_or(-1.0);
        if v.is_finite() && (0.0..=9.0e15).contains(&v) {
            Some(v.round() as i64)
        } else {
            e.add("duration_ms", "Ensure this value is a non-negative number.");
            None
        }
    });
    let tools_used = e.check("tools_used", json_object(p.tools_used.as_ref())).flatten();
    let response = match &p.response {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => Some(other.to_string()),
    };
    if let Some(r) = &response {
        e.check("response", check_chars(r, limits::MAX_ACTION_TEXT_CHARS));
    }
    let error_msg = p.error_msg.clone().filter(|s| !s.is_empty());
    if let Some(m) = &error_msg {
        e.check("error_msg", check_chars(m, limits::MAX_ACTION_TEXT_CHARS));
    }
    let metadata = metadata_text(&mut e, "metadata", p.metadata.as_ref());
    let a = NewAction {
        agent_id: scope.agent_id,
        conversation,
        action_name,
        event_time: started_at.or(payload_time).unwrap_or(received_at),
        started_at,
        ended_at,
        duration_ms,
        tools_used,
        response,
        error_msg,
        metadata,
        received_at,
    };
    e.into_result(a)
}

/// Validates a button press.
pub fn validate_button(
    scope: &AgentScope,
    p: &wire::ButtonPayload,
    received_at: Micros,
) -> Result<NewButton, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let conversation = conversation_ref(&mut e, p.conversation.as_ref(), p.conversation_id.as_deref());
    let event_time = e.check("timestamp", time::event_time(p.timestamp.as_deref(), received_at));
    let b = NewButton {
        agent_id: scope.agent_id,
        conversation,
        button_event: required_text(&mut e, "button_event", &p.button_event, limits::MAX_BUTTON_CHARS),
        label: required_text(&mut e, "label", &p.label, limits::MAX_BUTTON_CHARS),
        value: required_text(&mut e, "value", &p.value, limits::MAX_BUTTON_CHARS),
        metadata: metadata_text(&mut e, "metadata", p.metadata.as_ref()),
        event_time: event_time.unwrap_or(received_at),
        received_at,
    };
    e.into_result(b)
}

/// Validates a feedback record.
pub fn validate_feedback(
    scope: &AgentScope,
    p: &wire::FeedbackPayload,
    source: FeedbackSource,
    received_at: Micros,
) -> Result<NewFeedback, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let conversation = conversation_ref(&mut e, p.conversation.as_ref(), p.conversation_id.as_deref());
    let sentiment = e.check("sentiment", normalize::sentiment(&p.sentiment));
    let comment = p.comment.clone().filter(|c| !c.is_empty());
    if let Some(c) = &comment {
        e.check("comment", check_chars(c, limits::MAX_COMMENT_CHARS));
    }
    let f = NewFeedback {
        agent_id: scope.agent_id,
        conversation,
        sentiment: sentiment.unwrap_or_default(),
        source,
        comment,
        metadata: metadata_text(&mut e, "metadata", p.metadata.as_ref()),
        created_at: received_at,
    };
    e.into_result(f)
}

/// Where the files of an upload belong, from the fields the SDK sends in any of its shapes.
///
/// With a `message`, the conversation follows from the message (the `"None"` strings of
/// message-linked uploads are ignored); otherwise `conversation` (pk) or `conversation_id`.
pub fn attachment_target(
    message: Option<&wire::PkRef>,
    conversation: Option<&wire::PkRef>,
    conversation_id: Option<&str>,
) -> Result<AttachmentTarget, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let target = match message {
        Some(wire::PkRef::Pk(m)) => AttachmentTarget::Message(*m),
        Some(wire::PkRef::Invalid(v)) => {
            e.add("message", format!("Invalid pk \"{v}\" - object does not exist."));
            AttachmentTarget::Message(0)
        }
        None => AttachmentTarget::Conversation(conversation_ref(&mut e, conversation, conversation_id)),
    };
    e.into_result(target)
}

/// Keeps only the last path component of a client file name, without control characters.
pub fn sanitize_filename(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("").trim();
    let clean: String = base.chars().filter(|c| !c.is_control()).take(limits::MAX_FILENAME_CHARS).collect();
    if clean.is_empty() || clean == "." || clean == ".." { "attachment".to_string() } else { clean }
}

/// Validates a MIME type (`type/subtype`), falling back to `application/octet-stream`.
pub fn mime_type(v: Option<&str>) -> Result<String, String> {
    match normalize::trimmed(v) {
        None => Ok("application/octet-stream".to_string()),
        Some(m) => {
            check_chars(m, limits::MAX_MIME_CHARS)?;
            let ok = m.split_once('/').is_some_and(|(a, b)| {
                !a.is_empty() && !b.is_empty() && m.chars().all(|c| c.is_ascii_graphic() || c == ' ')
            });
            if ok { Ok(m.to_string()) } else { Err(format!("'{m}' is not a MIME type.")) }
        }
    }
}

/// Decodes the files of a base64 JSON upload, checking each against `max_bytes`.
pub fn decode_base64_files(
    files: &[wire::AttachmentFilePayload],
    max_bytes: usize,
) -> Result<Vec<UploadedFile>, UploadError> {
    let mut e = ValidationErrors::default();
    if files.is_empty() {
        e.add("attachments", "At least one attachment is required.");
    }
    if files.len() > limits::MAX_FILES_PER_UPLOAD {
        e.add(
            "attachments",
            format!("Ensure this list has no more than {} items.", limits::MAX_FILES_PER_UPLOAD),
        );
        return Err(e.into());
    }
    let mut out = Vec::with_capacity(files.len());
    for (i, f) in files.iter().enumerate() {
        // Base64 grows data by 4/3: refuse before decoding what cannot fit.
        if f.data.len() / 4 * 3 > max_bytes + 3 {
            return Err(UploadError::TooLarge { field: format!("attachments[{i}].data"), limit: max_bytes });
        }
        let data = match base64::engine::general_purpose::STANDARD.decode(f.data.trim()) {
            Ok(d) => d,
            Err(_) => {
                e.add(format!("attachments[{i}].data"), "Invalid base64 data.");
                continue;
            }
        };
        if data.len() > max_bytes {
            return Err(UploadError::TooLarge { field: format!("attachments[{i}].data"), limit: max_bytes });
        }
        let mime = e.check(&format!("attachments[{i}].mime_type"), mime_type(f.mime_type.as_deref()));
        let filename = sanitize_filename(f.filename.as_deref().unwrap_or(&format!("attachment_{i}")));
        out.push(UploadedFile { filename, mime_type: mime.unwrap_or_default(), data });
    }
    e.into_result(out).map_err(UploadError::from)
}

/// The kind of a file from its MIME type, as the read API reports it.
pub fn attachment_kind(mime: &str) -> &'static str {
    let m = mime.to_ascii_lowercase();
    if m.starts_with("image/") {
        "image"
    } else if m.starts_with("audio/") {
        "audio"
    } else if m.starts_with("video/") {
        "video"
    } else if m.starts_with("text/")
        || m == "application/pdf"
        || m.contains("msword")
        || m.contains("officedocument")
        || m.contains("opendocument")
        || m == "application/rtf"
    {
        "document"
    } else {
        "file"
    }
}

/// Validates an operator's update of a conversation.
pub fn validate_patch(p: &wire::UpdatePayload) -> Result<ConversationPatch, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let patch = ConversationPatch {
        name: p.name.as_deref().map(str::trim).and_then(|n| {
            if n.is_empty() {
                e.add("name", "This field may not be blank.");
                None
            } else {
                e.check("name", check_chars(n, limits::MAX_NAME_CHARS)).map(|_| n.to_string())
            }
        }),
        is_marked: p.is_marked,
        customer_id: opt_text(&mut e, "customer_id", p.customer_id.as_deref(), limits::MAX_ID_CHARS),
        device: normalize::trimmed(p.device.as_deref()).and_then(|v| e.check("device", normalize::device(v))),
        language: normalize::trimmed(p.language.as_deref())
            .and_then(|v| e.check("language", normalize::language(v))),
        source: normalize::trimmed(p.source.as_deref()).and_then(|v| e.check("source", normalize::source(v))),
        metadata: e.check("metadata", json_object(p.metadata.as_ref())).flatten(),
        delete: false,
    };
    if patch == ConversationPatch::default() && e.is_empty() {
        e.add("non_field_errors", "At least one field is required.");
    }
    e.into_result(patch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> AgentScope {
        AgentScope { agent_id: 1, environments: vec!["production".into(), "development".into()] }
    }

    fn conv(v: Value) -> Result<ConversationUpsert, ValidationErrors> {
        let p: wire::ConversationPayload = serde_json::from_value(v).unwrap();
        validate_conversation(&scope(), &p, 1_000)
    }

    #[test]
    fn the_sdk_upsert_with_explicit_nulls_is_valid_and_keeps_nones() {
        let c = conv(json!({"timestamp": "2026-08-15T10:58:29.710236+00:00", "conversation_id": "c-1",
            "customer_id": null, "customer_ip_address": null, "device": null, "source": " Web ",
            "language": "EN", "name": null, "environment": "development", "metadata": null, "is_used": false}))
        .unwrap();
        assert_eq!(c.fields.customer_id, None);
        assert_eq!(c.fields.source.as_deref(), Some("web"));
        assert_eq!(c.fields.language.as_deref(), Some("en"));
        assert!(!c.is_used);
        assert_eq!(c.event_time, time::parse_timestamp("2026-08-15T10:58:29.710236Z").unwrap());
    }

    #[test]
    fn every_bad_field_is_named() {
        let e = conv(json!({"conversation_id": "", "device": "phone", "environment": "staging",
            "timestamp": "nope", "metadata": [1], "customer_ip_address": "1.2.3"}))
        .unwrap_err();
        let fields: Vec<_> = e.0.keys().cloned().collect();
        assert_eq!(
            fields,
            ["conversation_id", "customer_ip_address", "device", "environment", "metadata", "timestamp"]
        );
    }

    #[test]
    fn deep_metadata_is_refused() {
        let mut v = json!(1);
        for _ in 0..40 {
            v = json!({ "a": v });
        }
        let e = conv(json!({"conversation_id": "c", "metadata": v})).unwrap_err();
        assert!(e.0.contains_key("metadata"));
    }

    #[test]
    fn a_message_needs_a_conversation_and_content() {
        let p: wire::TrackPayload =
            serde_json::from_value(json!({"content": " ", "sender": "bot", "conversation": null})).unwrap();
        let e = validate_message(&scope(), p, 0).unwrap_err();
        assert_eq!(e.0.keys().cloned().collect::<Vec<_>>(), ["content", "conversation_id", "sender"]);
    }

    #[test]
    fn an_action_is_timed_by_started_at_when_given() {
        let p: wire::ActionPayload = serde_json::from_value(json!({"action_name": "lookup",
            "conversation_id": "c", "timestamp": "2026-01-01T00:00:10Z",
            "started_at": "2026-01-01T00:00:05Z", "duration_ms": 150.4}))
        .unwrap();
        let a = validate_action(&scope(), &p, 0).unwrap();
        assert_eq!(a.event_time, time::parse_timestamp("2026-01-01T00:00:05Z").unwrap());
        assert_eq!(a.duration_ms, Some(150));
    }

    #[test]
    fn message_linked_uploads_take_the_message_and_ignore_none_strings() {
        let t = attachment_target(Some(&wire::PkRef::Pk(7)), None, Some("None")).unwrap();
        assert_eq!(t, AttachmentTarget::Message(7));
        let t = attachment_target(None, None, Some("c-1")).unwrap();
        assert_eq!(t, AttachmentTarget::Conversation(ConversationRef::Id("c-1".into())));
        assert!(attachment_target(None, None, Some("None")).is_err());
    }

    #[test]
    fn base64_files_are_decoded_and_sized() {
        let f = wire::AttachmentFilePayload {
            filename: Some("../../etc/a.txt".into()),
            mime_type: Some("text/plain".into()),
            data: "aGVsbG8=".into(),
        };
        let out = decode_base64_files(std::slice::from_ref(&f), 10).unwrap();
        assert_eq!(out[0].data, b"hello");
        assert_eq!(out[0].filename, "a.txt");
        assert!(matches!(
            decode_base64_files(std::slice::from_ref(&f), 4),
            Err(UploadError::TooLarge { .. })
        ));
        let bad = wire::AttachmentFilePayload { data: "***".into(), ..f };
        assert!(matches!(decode_base64_files(&[bad], 10), Err(UploadError::Invalid(_))));
    }

    proptest::proptest! {
        #[test]
        fn validation_never_panics(s in ".*", n in proptest::num::i64::ANY) {
            let v = json!({"conversation_id": s, "device": s, "source": s, "language": s,
                "customer_ip_address": s, "timestamp": s, "metadata": {"n": n}});
            let p: wire::ConversationPayload = serde_json::from_value(v).unwrap();
            let _ = validate_conversation(&scope(), &p, 0);
        }
    }

    #[test]
    fn enrichment_adds_the_location_and_drops_the_address_when_not_kept() {
        let scope = AgentScope { agent_id: 1, environments: vec![] };
        let upsert = |ip: &str| {
            let p = wire::ConversationPayload {
                conversation_id: "c".into(),
                customer_ip_address: Some(ip.into()),
                ..Default::default()
            };
            validate_conversation(&scope, &p, 0).unwrap()
        };
        let locate: Locator = std::sync::Arc::new(|ip: std::net::IpAddr| {
            (ip.to_string() == "203.0.113.7").then(|| Location { country: "HR".into(), ..Default::default() })
        });
        let mut c = upsert("203.0.113.7");
        Enrichment { locate: Some(locate.clone()), store_ip: false, databases: vec![] }.apply(&mut c);
        assert_eq!(c.fields.location.as_ref().map(|l| l.country.as_str()), Some("HR"));
        assert_eq!(c.fields.customer_ip_address, None);
        let mut c = upsert("198.51.100.1");
        Enrichment { locate: Some(locate), store_ip: true, databases: vec![] }.apply(&mut c);
        assert_eq!(c.fields.location, None);
        assert_eq!(c.fields.customer_ip_address.as_deref(), Some("198.51.100.1"));
    }

    #[test]
    fn an_erase_request_names_a_customer_and_a_retention_is_bounded() {
        assert_eq!(customer_id_to_erase("  cust-7 ").unwrap(), "cust-7");
        let blank = customer_id_to_erase("   ").unwrap_err();
        assert_eq!(blank.0.keys().cloned().collect::<Vec<_>>(), ["customer_id"]);
        assert!(customer_id_to_erase(&"x".repeat(limits::MAX_ID_CHARS + 1)).is_err());
        assert_eq!(retention_days(30), Ok(30));
        assert_eq!(retention_days(i64::from(limits::MAX_RETENTION_DAYS)), Ok(limits::MAX_RETENTION_DAYS));
        for bad in [0, -1, i64::from(limits::MAX_RETENTION_DAYS) + 1, i64::MAX] {
            assert!(retention_days(bad).is_err(), "{bad}");
        }
    }
}
