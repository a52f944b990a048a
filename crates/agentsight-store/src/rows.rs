//! Row types the stores return, and the inputs that only stores see.

use agentsight_core::dashboard::{Logo, UserRole};
use agentsight_core::keys::Role;
use agentsight_core::time::Micros;
use agentsight_core::tracking::AttachmentTarget;

/// An agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Environment slugs.
    pub environments: Vec<String>,
    /// Creation time.
    pub created_at: Micros,
}

/// An API key, without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRow {
    /// Id.
    pub id: i64,
    /// Agent id.
    pub agent_id: i64,
    /// Agent name.
    pub agent_name: String,
    /// The non-secret prefix.
    pub prefix: String,
    /// Role.
    pub role: Role,
    /// Creation time.
    pub created_at: Micros,
    /// Revocation time.
    pub revoked_at: Option<Micros>,
}

/// Who a valid key speaks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// Key id.
    pub key_id: i64,
    /// The stored hash (compared in constant time by the caller).
    pub key_hash: Vec<u8>,
    /// Agent id.
    pub agent_id: i64,
    /// Agent name.
    pub agent_name: String,
    /// The agent's environments.
    pub environments: Vec<String>,
    /// Role.
    pub role: Role,
}

/// A stored conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    /// Pk.
    pub id: i64,
    /// Agent.
    pub agent_id: i64,
    /// The client's id.
    pub conversation_id: String,
    /// Name.
    pub name: Option<String>,
    /// Customer.
    pub customer_id: Option<String>,
    /// IP address (None when not stored).
    pub customer_ip_address: Option<String>,
    /// Country (ISO alpha-2).
    pub country: Option<String>,
    /// Region.
    pub region: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Latitude.
    pub latitude: Option<f64>,
    /// Longitude.
    pub longitude: Option<f64>,
    /// Device.
    pub device: Option<String>,
    /// Source.
    pub source: Option<String>,
    /// Language.
    pub language: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Metadata (serialized object) or None.
    pub metadata: Option<String>,
    /// Used.
    pub is_used: bool,
    /// Marked.
    pub is_marked: bool,
    /// Soft-deleted.
    pub is_deleted: bool,
    /// Deletion time.
    pub deleted_at: Option<Micros>,
    /// Start (event time).
    pub started_at: Micros,
    /// Explicit end, else the latest message/action/button time.
    pub ended_at: Option<Micros>,
    /// Messages (not actions or buttons).
    pub message_count: i64,
    /// Row creation.
    pub created_at: Micros,
    /// Last change.
    pub updated_at: Micros,
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq)]
pub struct Upserted {
    /// The row after the write.
    pub row: ConversationRow,
    /// True when this call created it.
    pub created: bool,
}

/// Message kinds sharing the message id space (transcripts interleave them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A real message.
    Message,
    /// An action (tool call).
    Action,
    /// A button press.
    Button,
}

/// A message, action entry or button entry of a transcript.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    /// Id.
    pub id: i64,
    /// Conversation pk.
    pub conversation_pk: i64,
    /// Kind.
    pub kind: MessageKind,
    /// Sender.
    pub sender: String,
    /// Content.
    pub content: String,
    /// Metadata (serialized).
    pub metadata: String,
    /// Event time.
    pub ts: Micros,
}

/// An action log.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionLogRow {
    /// Id.
    pub id: i64,
    /// Its transcript entry.
    pub message_id: i64,
    /// Conversation pk.
    pub conversation_pk: i64,
    /// Name.
    pub action_name: String,
    /// Start.
    pub started_at: Option<Micros>,
    /// End.
    pub ended_at: Option<Micros>,
    /// Duration.
    pub duration_ms: Option<i64>,
    /// Tools used (serialized).
    pub tools_used: Option<String>,
    /// Response.
    pub response: Option<String>,
    /// Error.
    pub error_msg: Option<String>,
    /// Metadata (serialized).
    pub metadata: String,
    /// Event time.
    pub ts: Micros,
}

/// A button press.
#[derive(Debug, Clone, PartialEq)]
pub struct ButtonRow {
    /// Id.
    pub id: i64,
    /// Its transcript entry.
    pub message_id: i64,
    /// Conversation pk.
    pub conversation_pk: i64,
    /// Event kind.
    pub button_event: String,
    /// Label.
    pub label: String,
    /// Value.
    pub value: String,
    /// Metadata (serialized).
    pub metadata: String,
    /// Event time.
    pub ts: Micros,
}

/// A file already written to blob storage, to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredFile {
    /// File name.
    pub filename: String,
    /// MIME type.
    pub mime_type: String,
    /// Size.
    pub size_bytes: i64,
    /// Where the blob store keeps it (relative path).
    pub storage_key: String,
}

/// Attachments to record.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentsInsert {
    /// Agent.
    pub agent_id: i64,
    /// Message or conversation.
    pub target: AttachmentTarget,
    /// Sender.
    pub sender: Option<String>,
    /// Metadata (serialized).
    pub metadata: String,
    /// Event time.
    pub event_time: Micros,
    /// The files.
    pub files: Vec<StoredFile>,
}

/// A recorded attachment.
#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentRow {
    /// Id.
    pub id: i64,
    /// Conversation pk.
    pub conversation_pk: i64,
    /// Message, if linked.
    pub message_id: Option<i64>,
    /// Sender.
    pub sender: Option<String>,
    /// File name.
    pub filename: String,
    /// MIME type.
    pub mime_type: String,
    /// Size.
    pub size_bytes: i64,
    /// Blob key.
    pub storage_key: String,
    /// Metadata (serialized).
    pub metadata: String,
    /// Event time.
    pub ts: Micros,
}

/// A feedback record.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackRow {
    /// Id.
    pub id: i64,
    /// Conversation pk.
    pub conversation_pk: i64,
    /// The client's conversation id.
    pub conversation_id: String,
    /// Sentiment.
    pub sentiment: String,
    /// Source.
    pub source: String,
    /// Comment.
    pub comment: Option<String>,
    /// Metadata (serialized).
    pub metadata: String,
    /// Time.
    pub created_at: Micros,
}

/// A conversation with everything in it.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    /// The conversation.
    pub conversation: ConversationRow,
    /// Messages, actions and buttons by event time, then id.
    pub messages: Vec<MessageRow>,
    /// Action logs.
    pub actions: Vec<ActionLogRow>,
    /// Buttons.
    pub buttons: Vec<ButtonRow>,
    /// Attachments, oldest first.
    pub attachments: Vec<AttachmentRow>,
    /// Feedback, oldest first.
    pub feedbacks: Vec<FeedbackRow>,
}

/// Filters of `GET /api/conversations/` (A2.6). Every set field must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConversationFilter {
    /// Has at least one action with this name.
    pub action_name: Option<String>,
    /// Exact client id.
    pub conversation_id: Option<String>,
    /// Exact customer id.
    pub customer_id: Option<String>,
    /// Exact IP.
    pub customer_ip_address: Option<String>,
    /// Exact device.
    pub device: Option<String>,
    /// Exact language.
    pub language: Option<String>,
    /// Exact source.
    pub source: Option<String>,
    /// Exact environment.
    pub environment: Option<String>,
    /// Some message contains this text (case-insensitive for ASCII).
    pub message_contains: Option<String>,
    /// Name contains this text (case-insensitive for ASCII).
    pub name: Option<String>,
    /// `metadata.key` equals value, for each pair.
    pub metadata: Vec<(String, String)>,
    /// Has (or has no) messages.
    pub has_messages: Option<bool>,
    /// Marked or not.
    pub is_marked: Option<bool>,
    /// Used or not.
    pub is_used: Option<bool>,
    /// Include soft-deleted rows.
    pub include_deleted: bool,
    /// Has (or has no) feedback records.
    pub has_feedback: Option<bool>,
    /// Some feedback has this sentiment.
    pub feedback_sentiment: Option<String>,
    /// Some feedback has this source.
    pub feedback_source: Option<String>,
    /// `started_at >=`.
    pub started_at_after: Option<Micros>,
    /// `started_at <=`.
    pub started_at_before: Option<Micros>,
    /// Exact country (ISO alpha-2).
    pub country: Option<String>,
    /// Dimensions that must be null (the `unknown` filter value).
    pub unknown: Vec<Dimension>,
    /// Has (or has not) an action named in `escalation_tools`.
    pub escalated: Option<bool>,
    /// The agent's escalation tool names, for `escalated` and `escalation_turns_*`.
    pub escalation_tools: Vec<String>,
    /// `customer_id` contains (ASCII case-insensitive).
    pub customer_id_contains: Option<String>,
    /// Has (or has no) action logs.
    pub has_action: Option<bool>,
    /// Is (or is not) unanswered at `idle_cutoff` (`docs/metrics.md`, *Where the bot fails*):
    /// its last user or bot message is a user message dated at or before the cutoff.
    pub unanswered: Option<bool>,
    /// Is (or is not) abandoned at `idle_cutoff`: it has a user message, its last user or bot
    /// message is a bot message dated at or before the cutoff, and it did not escalate.
    pub abandoned: Option<bool>,
    /// Now minus the idle time, for `unanswered` and `abandoned`.
    pub idle_cutoff: Micros,
    /// Has (or has no) action (not `token_usage`) with a non-empty `error_msg`.
    pub tool_error: Option<bool>,
    /// Has an action of this name with a non-empty `error_msg`.
    pub tool_error_name: Option<String>,
    /// Escalated with at least this many user messages before its first escalation action.
    pub escalation_turns_min: Option<u32>,
    /// Escalated with at most this many user messages before its first escalation action.
    pub escalation_turns_max: Option<u32>,
    /// `metadata` has this top-level key.
    pub metadata_key: Option<String>,
    /// Some top-level metadata value (or, with `metadata_key`, that key's value) equals this
    /// text.
    pub metadata_value: Option<String>,
    /// `conversation_id`, `name` or `customer_id` contains this text.
    pub search: Option<String>,
    /// Sort order.
    pub ordering: ConversationOrder,
}

/// A conversation column a filter can require to be null.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// `device`.
    Device,
    /// `source`.
    Source,
    /// `language`.
    Language,
    /// `environment`.
    Environment,
    /// `country`.
    Country,
    /// `customer_id`.
    CustomerId,
}

impl Dimension {
    /// The column (and query parameter) name.
    pub fn column(self) -> &'static str {
        match self {
            Dimension::Device => "device",
            Dimension::Source => "source",
            Dimension::Language => "language",
            Dimension::Environment => "environment",
            Dimension::Country => "country",
            Dimension::CustomerId => "customer_id",
        }
    }
}

/// How a conversation listing is sorted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ConversationOrder {
    /// Newest start first (the default).
    #[default]
    StartedDesc,
    /// Oldest start first.
    StartedAsc,
    /// Most recently changed first.
    UpdatedDesc,
    /// Least recently changed first.
    UpdatedAsc,
}

/// Page number (1-based) and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Page, from 1.
    pub page: i64,
    /// Rows per page.
    pub page_size: i64,
}

/// A dashboard user, without the password hash.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// E-mail (normalized, unique).
    pub email: String,
    /// Role.
    pub role: UserRole,
    /// Assigned agent ids, ascending (what a viewer may see).
    pub agents: Vec<i64>,
    /// Creation time.
    pub created_at: Micros,
}

/// A user to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewUser {
    /// E-mail (normalized).
    pub email: String,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Role.
    pub role: UserRole,
    /// Assigned agent ids.
    pub agents: Vec<i64>,
    /// Creation time.
    pub created_at: Micros,
}

/// A change to a user; `None` keeps the value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserPatch {
    /// New role.
    pub role: Option<UserRole>,
    /// New assigned agents.
    pub agents: Option<Vec<i64>>,
    /// New password hash (ends the user's sessions but `keep_session`).
    pub password_hash: Option<String>,
    /// A session (token hash) that survives a password change: the caller's own.
    pub keep_session: Option<[u8; 32]>,
}

/// A live session and its user.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    /// Session id.
    pub id: i64,
    /// The user.
    pub user: UserRow,
    /// When the session was created or last extended.
    pub refreshed_at: Micros,
    /// When it ends unless extended.
    pub expires_at: Micros,
}

/// A share link, without its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareRow {
    /// Id.
    pub id: i64,
    /// The agent it shows.
    pub agent_id: i64,
    /// Label.
    pub label: Option<String>,
    /// Non-secret prefix of the token.
    pub token_prefix: String,
    /// Creation time.
    pub created_at: Micros,
    /// Expiry, if any.
    pub expires_at: Option<Micros>,
    /// Revocation time.
    pub revoked_at: Option<Micros>,
}

/// A share link to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewShare {
    /// The agent it shows.
    pub agent_id: i64,
    /// Label.
    pub label: Option<String>,
    /// Non-secret prefix of the token.
    pub token_prefix: String,
    /// SHA-256 of the token.
    pub token_hash: [u8; 32],
    /// Expiry.
    pub expires_at: Option<Micros>,
    /// Creation time.
    pub created_at: Micros,
}

/// An agent's white-label settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Branding {
    /// Name shown instead of the agent's.
    pub display_name: Option<String>,
    /// `#rrggbb`.
    pub accent_color: Option<String>,
    /// Changes with every new logo; `None` when there is no logo.
    pub logo_version: Option<i64>,
}

/// A change to branding: for each field, `None` keeps it, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BrandingPatch {
    /// Display name.
    pub display_name: Option<Option<String>>,
    /// Accent colour.
    pub accent_color: Option<Option<String>>,
    /// Logo.
    pub logo: Option<Option<Logo>>,
}

/// A conversation as exported, with what the export adds.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRow {
    /// The conversation.
    pub conversation: ConversationRow,
    /// Has an action in the escalation list.
    pub escalated: bool,
    /// Sentiment of the latest explicit feedback record.
    pub latest_feedback: Option<String>,
}

/// A position in an export, opaque to everyone but the backend that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportCursor(pub String);

/// One page of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPage {
    /// The conversations of this page.
    pub rows: Vec<ExportRow>,
    /// Where the next page starts; `None` after the last.
    pub next: Option<ExportCursor>,
}

/// What the projection of a span batch did (what its archiving stored is in [`IngestReceipt`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IngestOutcome {
    /// The conversations written, with whether the batch created each.
    pub conversations: Vec<(i64, bool)>,
    /// Messages projected (from complete turns).
    pub messages: u64,
}

/// A span batch's answer: archived (durable) and queued for projection.
pub struct IngestReceipt {
    /// Its id in the archive (batches are projected in this order).
    pub batch_id: i64,
    /// Spans stored now.
    pub accepted: u64,
    /// Spans already stored (resends): not stored again.
    pub duplicates: u64,
    /// Resolves once the batch is projected: what the projection did, or why it could not be
    /// (the batch then stays in the archive).
    pub projected:
        std::pin::Pin<Box<dyn std::future::Future<Output = crate::StoreResult<IngestOutcome>> + Send>>,
}

impl std::fmt::Debug for IngestReceipt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IngestReceipt")
            .field("batch_id", &self.batch_id)
            .field("accepted", &self.accepted)
            .field("duplicates", &self.duplicates)
            .finish_non_exhaustive()
    }
}

/// A span batch as the archive keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchivedBatch {
    /// Its id (the order batches are projected in).
    pub id: i64,
    /// The agent whose key sent it.
    pub agent_id: i64,
    /// When it was received.
    pub received_at: agentsight_core::time::Micros,
    /// The body as stored.
    pub body: agentsight_core::archive::ArchivedBody,
}

/// An environment of an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvironmentRow {
    /// Id.
    pub id: i64,
    /// Slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Production or not.
    pub is_production: bool,
    /// Creation time.
    pub created_at: Micros,
}

/// An archived span.
#[derive(Debug, Clone, PartialEq)]
pub struct SpanRow {
    /// Row id.
    pub id: i64,
    /// Conversation pk.
    pub conversation_pk: i64,
    /// The client's conversation id.
    pub conversation_id: String,
    /// The conversation's environment.
    pub environment: Option<String>,
    /// Span id.
    pub span_id: u64,
    /// Trace id.
    pub trace_id: String,
    /// Parent span id.
    pub parent_span_id: Option<u64>,
    /// Turn id.
    pub turn_id: Option<u64>,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Status.
    pub status: String,
    /// Start.
    pub started_at: Micros,
    /// End.
    pub ended_at: Micros,
    /// Duration.
    pub duration_ms: Option<f64>,
    /// `held`, `projected` or `archived`.
    pub state: SpanState,
    /// The SDK version of its batch.
    pub sdk_version: Option<String>,
    /// The span exactly as sent, when it was asked for.
    pub payload: Option<String>,
    /// Receipt time.
    pub received_at: Micros,
}

/// What became of an archived span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanState {
    /// A turn's child waiting for its turn (an orphan if the turn never comes).
    Held,
    /// Projected into the tables.
    Projected,
    /// Archived only (incomplete turn's child, attachment, conversation or unknown kind).
    Archived,
}

impl SpanState {
    /// Stored code.
    pub fn code(self) -> i64 {
        match self {
            SpanState::Held => 0,
            SpanState::Projected => 1,
            SpanState::Archived => 2,
        }
    }

    /// From the stored code.
    pub fn from_code(c: i64) -> SpanState {
        match c {
            0 => SpanState::Held,
            1 => SpanState::Projected,
            _ => SpanState::Archived,
        }
    }

    /// Name in responses.
    pub fn as_str(self) -> &'static str {
        match self {
            SpanState::Held => "held",
            SpanState::Projected => "projected",
            SpanState::Archived => "archived",
        }
    }
}

/// Filters of `GET /api/spans/` (B5.7). Every set field must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpanFilter {
    /// Conversation pk.
    pub conversation: Option<i64>,
    /// The client's conversation id.
    pub conversation_id: Option<String>,
    /// The conversation's environment.
    pub environment: Option<String>,
    /// Kind.
    pub kind: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Parent span id.
    pub parent_span_id: Option<u64>,
    /// Span id.
    pub span_id: Option<u64>,
    /// Status.
    pub status: Option<String>,
    /// Trace id.
    pub trace_id: Option<String>,
    /// `started_at >=`.
    pub started_at_after: Option<Micros>,
    /// `started_at <=`.
    pub started_at_before: Option<Micros>,
    /// Newest first instead of oldest first.
    pub descending: bool,
}

/// A token usage row: one (turn, model), or one LLM call outside any turn.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenUsageRow {
    /// Id.
    pub id: i64,
    /// Conversation pk.
    pub conversation_pk: i64,
    /// The client's conversation id.
    pub conversation_id: String,
    /// The conversation's environment.
    pub environment: Option<String>,
    /// The turn (None for a call outside any turn).
    pub turn_id: Option<u64>,
    /// Model id.
    pub model: String,
    /// Provider.
    pub system: Option<String>,
    /// Calls.
    pub calls: i64,
    /// Calls that reported no usage.
    pub unreported_calls: i64,
    /// Failed calls.
    pub error_calls: i64,
    /// The counts.
    pub tokens: agentsight_core::prices::TokenCounts,
    /// Cost in pico-USD (None: unpriced).
    pub cost_pico: Option<i64>,
    /// `backend` | `unpriced` | `reported`.
    pub cost_source: String,
    /// The price table date used.
    pub price_table: Option<String>,
    /// Copied from the turn.
    pub incomplete: bool,
    /// Copied from the turn.
    pub incomplete_reason: Option<String>,
    /// First call's start.
    pub started_at: Micros,
    /// Last call's end.
    pub ended_at: Micros,
}

/// What restating costs did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restated {
    /// Usage rows priced (rows whose cost the SDK reported are left alone).
    pub rows: u64,
    /// Rows whose cost, cost source or table date changed.
    pub changed: u64,
}

/// Filters of `GET /api/token-usage/` (B5.6).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageFilter {
    /// Conversation pk.
    pub conversation: Option<i64>,
    /// The client's conversation id.
    pub conversation_id: Option<String>,
    /// `backend` | `unpriced` | `reported`.
    pub cost_source: Option<String>,
    /// The conversation's environment.
    pub environment: Option<String>,
    /// Incomplete or not.
    pub incomplete: Option<bool>,
    /// Model.
    pub model: Option<String>,
    /// Turn id.
    pub turn_id: Option<u64>,
    /// `started_at >=`.
    pub started_at_after: Option<Micros>,
    /// `started_at <=`.
    pub started_at_before: Option<Micros>,
}

/// How `GET /api/token-usage/summary/` groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageGroupBy {
    /// By model id.
    Model,
    /// By the client's conversation id.
    Conversation,
    /// By UTC day of the row's start.
    Day,
}

/// One group of a usage summary.
#[derive(Debug, Clone, PartialEq)]
pub struct UsageGroupRow {
    /// The group's key.
    pub group: String,
    /// Calls.
    pub calls: i64,
    /// Rows.
    pub rows: i64,
    /// Failed calls.
    pub error_calls: i64,
    /// Summed counts.
    pub tokens: agentsight_core::prices::TokenCounts,
    /// Summed cost of the priced rows (pico-USD).
    pub cost_pico: i64,
    /// Rows without a price.
    pub unpriced_rows: i64,
}

/// A feedback record of any kind, as `/api/feedbacks/` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedbackItem {
    /// Id (conversation feedback below 1,000,000,001; votes and agent feedback above).
    pub id: i64,
    /// `conversation` | `message` | `agent`.
    pub kind: String,
    /// Agent.
    pub agent_id: i64,
    /// Conversation pk (none for agent feedback).
    pub conversation_pk: Option<i64>,
    /// The client's conversation id.
    pub conversation_id: Option<String>,
    /// Message (message votes).
    pub message_id: Option<i64>,
    /// Sentiment.
    pub sentiment: String,
    /// `customer` | `platform`.
    pub source: String,
    /// Comment.
    pub comment: Option<String>,
    /// Topic slug (message votes).
    pub topic: Option<String>,
    /// Reason slug (message votes).
    pub reason: Option<String>,
    /// Environment (agent feedback; else the conversation's).
    pub environment: Option<String>,
    /// Metadata (0.0.x conversation feedback), serialized.
    pub metadata: String,
    /// Created.
    pub created_at: Micros,
    /// Last change.
    pub updated_at: Micros,
}

/// Filters of `GET /api/feedbacks/`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackFilter {
    /// Kind.
    pub kind: Option<String>,
    /// Sentiment.
    pub sentiment: Option<String>,
    /// Conversation pk.
    pub conversation: Option<i64>,
    /// The client's conversation id.
    pub conversation_id: Option<String>,
    /// Message pk.
    pub message: Option<i64>,
    /// Has a comment or not.
    pub has_comment: Option<bool>,
    /// Comment contains (ASCII case-insensitive).
    pub comment_contains: Option<String>,
    /// Topic.
    pub topic: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// `created_at >=`.
    pub created_at_after: Option<Micros>,
    /// `created_at <=`.
    pub created_at_before: Option<Micros>,
    /// Oldest first instead of newest first.
    pub ascending: bool,
}

/// An action definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionRow {
    /// Id.
    pub id: i64,
    /// Name (what tools and action logs carry).
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Logs with this name.
    pub log_count: i64,
    /// Created.
    pub created_at: Micros,
    /// Changed.
    pub updated_at: Micros,
}

/// Filters of `GET /api/actions/`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionFilter {
    /// Exact name.
    pub name: Option<String>,
    /// Name contains.
    pub name_contains: Option<String>,
    /// Exact display name.
    pub display_name: Option<String>,
    /// Name or display name contains.
    pub search: Option<String>,
}

/// An action log with where it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct ActionLogItem {
    /// The log.
    pub log: ActionLogRow,
    /// The client's conversation id.
    pub conversation_id: String,
}

/// One message with everything attached to it (`GET /api/track/{pk}/`).
#[derive(Debug, Clone, PartialEq)]
pub struct MessageDetail {
    /// The message.
    pub message: MessageRow,
    /// The client's conversation id.
    pub conversation_id: String,
    /// Files.
    pub attachments: Vec<AttachmentRow>,
    /// Its action log (action entries).
    pub action: Option<ActionLogRow>,
    /// Its button (button entries).
    pub button: Option<ButtonRow>,
    /// Its vote.
    pub vote: Option<FeedbackItem>,
}
