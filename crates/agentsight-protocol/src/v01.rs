//! The 0.1.x span plane (docs/sdk-protocol.md, Part B): `POST /api/ingest/` payloads, `GET /api/me/`,
//! and the REST data plane's request bodies and responses.
//!
//! The ingest payload is read in two steps so that a bad block can be reported by its index:
//! [`IngestPayload`] keeps each block as raw JSON, and each block is then read into
//! [`BlockPayload`], whose spans are again kept raw (the archive stores each span exactly as
//! sent) and read into [`SpanPayload`].

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// The SDK that sent a batch.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct SdkInfo {
    /// `agentsight-python`.
    pub name: Option<String>,
    /// `0.1.4`.
    pub version: Option<String>,
}

/// Conversation blocks in one batch at most. The SDK's exporter queues at most 2,048 spans, so
/// a real batch stays far below; a larger list is refused while it is parsed.
pub const MAX_BLOCKS_PER_BATCH: usize = 10_000;
/// Spans in one block at most (and, checked in validation, in one batch).
pub const MAX_SPANS_PER_BATCH: usize = 50_000;

/// `POST /api/ingest/`: the envelope; blocks are kept raw until each is validated.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize)]
pub struct IngestPayload<'a> {
    /// Which SDK sent it.
    #[serde(default)]
    pub sdk: Option<SdkInfo>,
    /// One block per conversation, at most [`MAX_BLOCKS_PER_BATCH`].
    #[serde(borrow, deserialize_with = "bounded::<_, _, MAX_BLOCKS_PER_BATCH>")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<BlockPayload>, max_items = 10_000))]
    pub conversations: Vec<&'a RawValue>,
}

/// A JSON array of at most `N` items: reading stops with an error at item `N + 1`, so the size of
/// what is built is bounded by the limit, not by how many items the body holds.
fn bounded<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>, const N: usize>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    struct Bounded<T, const N: usize>(std::marker::PhantomData<T>);
    impl<'de, T: Deserialize<'de>, const N: usize> serde::de::Visitor<'de> for Bounded<T, N> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            write!(f, "a list of at most {N} items")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(N).min(1024));
            while let Some(item) = seq.next_element()? {
                if v.len() == N {
                    return Err(serde::de::Error::custom(format!(
                        "Ensure this list has no more than {N} items; send the rest in another batch."
                    )));
                }
                v.push(item);
            }
            Ok(v)
        }
    }
    d.deserialize_seq(Bounded::<T, N>(std::marker::PhantomData))
}

/// One conversation's block of a batch. Unknown keys are refused (upstream does the same).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockPayload<'a> {
    /// The client's conversation id.
    pub conversation_id: String,
    /// The spans, sorted by start; each kept raw for the archive. At most
    /// [`MAX_SPANS_PER_BATCH`].
    #[serde(borrow, deserialize_with = "bounded::<_, _, MAX_SPANS_PER_BATCH>")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<SpanPayload>, max_items = 50_000))]
    pub spans: Vec<&'a RawValue>,
    /// Hoisted from the spans' attributes.
    pub customer_id: Option<String>,
    /// Hoisted.
    pub customer_ip_address: Option<String>,
    /// Hoisted.
    pub device: Option<String>,
    /// Hoisted.
    pub source: Option<String>,
    /// Hoisted.
    pub language: Option<String>,
    /// Hoisted.
    pub name: Option<String>,
    /// Hoisted (an agent slug).
    pub environment: Option<String>,
    /// Parsed back into an object by the exporter; `{}` clears.
    pub metadata: Option<Value>,
}

/// One span as the exporter serializes it (B2). `otel` and anything else is only archived.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize)]
pub struct SpanPayload {
    /// 16 hex digits.
    pub span_id: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// The parent's span id.
    pub parent_span_id: Option<String>,
    /// `agentsight.span.kind`, or `unknown`.
    pub kind: Option<String>,
    /// Span name.
    #[serde(default)]
    pub name: Option<String>,
    /// ISO start.
    pub started_at: Option<String>,
    /// ISO end.
    pub ended_at: Option<String>,
    /// Milliseconds, 3 decimals.
    pub duration_ms: Option<f64>,
    /// `unset` | `ok` | `error`.
    pub status: Option<String>,
    /// Flat OTel attributes.
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
    /// Span events (messages, exceptions).
    #[serde(default)]
    pub events: Vec<EventPayload>,
}

/// A span event.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Deserialize)]
pub struct EventPayload {
    /// `agentsight.message`, `exception`, ….
    pub name: String,
    /// ISO time.
    pub timestamp: Option<String>,
    /// Attributes.
    #[serde(default)]
    pub attributes: serde_json::Map<String, Value>,
}

/// One rejected block of the 400 body (B6).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BlockRejection {
    /// The block's position in the request.
    pub index: usize,
    /// Read back from the raw block; absent when it had none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// Field → messages.
    pub errors: std::collections::BTreeMap<String, Vec<String>>,
}

/// The 400 body of a refused ingest batch (B6).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IngestRejection {
    /// A human-readable summary.
    pub detail: String,
    /// The offending blocks (at most 20).
    pub conversations: Vec<BlockRejection>,
    /// Present (true) when more blocks were bad than are listed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// An accepted batch: archived, durably (its projection into conversations, messages and usage
/// follows; every read waits for it).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IngestResponse {
    /// Spans stored now.
    pub accepted: u64,
    /// Spans already stored (resends), ignored.
    pub duplicates: u64,
    /// The batch's id in the archive.
    pub batch_id: i64,
    /// Conversation blocks in the batch.
    pub conversations: u64,
}

/// An environment of the agent.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EnvironmentResponse {
    /// Id.
    pub id: i64,
    /// Slug (`production`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Production or not.
    pub is_production: bool,
    /// Creation time.
    pub created_at: String,
    /// Last change.
    pub updated_at: String,
}

/// `GET /api/me/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MeResponse {
    /// The key's agent.
    pub agent_id: i64,
    /// Its name.
    pub agent_name: String,
    /// `write` | `read`.
    pub role: String,
    /// The agent's environments.
    pub environments: Vec<EnvironmentResponse>,
    /// What this server supports (`gzip-ingest`).
    pub capabilities: Vec<String>,
}

/// An archived span (`GET /api/spans/`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SpanResponse {
    /// Row id (for `GET /api/spans/{id}/`).
    pub id: i64,
    /// Conversation pk.
    pub conversation: i64,
    /// The client's conversation id.
    pub conversation_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// Parent span id.
    pub parent_span_id: Option<String>,
    /// The turn it belongs to.
    pub turn_id: Option<String>,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// `unset` | `ok` | `error`.
    pub status: String,
    /// Start.
    pub started_at: String,
    /// End.
    pub ended_at: String,
    /// Duration in ms.
    pub duration_ms: Option<f64>,
    /// `projected`, `held` (waiting for its turn, or an orphan) or `archived`.
    pub projection: String,
    /// The SDK version of the batch that brought it.
    pub sdk_version: Option<String>,
    /// The conversation's environment.
    pub environment: Option<String>,
    /// When the server received it.
    pub received_at: String,
    /// The span as sent (only with `payload=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<Value>,
}

/// A span in a trace tree.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceNode {
    /// The span.
    #[serde(flatten)]
    pub span: SpanResponse,
    /// Its children, oldest first.
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub children: Vec<TraceNode>,
}

/// `GET /api/traces/{trace_id}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TraceResponse {
    /// Trace id.
    pub trace_id: String,
    /// Spans in the trace (at most the limit).
    pub span_count: usize,
    /// More spans exist than were returned.
    pub truncated: bool,
    /// Spans whose parent is not in the trace, with their subtrees.
    pub roots: Vec<TraceNode>,
}

/// A token usage row (`GET /api/token-usage/`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TokenUsageResponse {
    /// Id.
    pub id: i64,
    /// Conversation pk.
    pub conversation: i64,
    /// The client's conversation id.
    pub conversation_id: String,
    /// The turn's span id (null for a call outside any turn).
    pub turn_id: Option<String>,
    /// Model id.
    pub model: String,
    /// Provider.
    pub system: Option<String>,
    /// LLM calls.
    pub calls: i64,
    /// Calls that reported no usage (their zeros are unknown).
    pub unreported_calls: i64,
    /// Failed calls.
    pub error_calls: i64,
    /// Uncached input.
    pub input_tokens: i64,
    /// Output.
    pub output_tokens: i64,
    /// Cache reads.
    pub cache_read_tokens: i64,
    /// Cache writes.
    pub cache_write_tokens: i64,
    /// Embedding input.
    pub embedding_tokens: i64,
    /// Reasoning (subset of output).
    pub reasoning_tokens: i64,
    /// Audio input (subset of input).
    pub audio_input_tokens: i64,
    /// Audio output (subset of output).
    pub audio_output_tokens: i64,
    /// The five billable kinds added.
    pub total_tokens: i64,
    /// Decimal string; null when unpriced.
    pub cost_usd: Option<String>,
    /// What the SDK reported (0.1.4 never does).
    pub cost_usd_reported: Option<String>,
    /// `backend` | `unpriced` | `reported`.
    pub cost_source: String,
    /// The price table date the cost comes from.
    pub price_table: Option<String>,
    /// The turn was incomplete.
    pub incomplete: bool,
    /// Why.
    pub incomplete_reason: Option<String>,
    /// The conversation's environment.
    pub environment: Option<String>,
    /// First call's start.
    pub started_at: String,
    /// Last call's end.
    pub ended_at: String,
}

/// One group of `GET /api/token-usage/summary/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UsageGroupResponse {
    /// Model, conversation id or `YYYY-MM-DD` (UTC).
    pub group: String,
    /// LLM calls.
    pub calls: i64,
    /// Usage rows.
    pub rows: i64,
    /// Failed calls.
    pub error_calls: i64,
    /// Uncached input.
    pub input_tokens: i64,
    /// Output.
    pub output_tokens: i64,
    /// Cache reads.
    pub cache_read_tokens: i64,
    /// Cache writes.
    pub cache_write_tokens: i64,
    /// Embedding input.
    pub embedding_tokens: i64,
    /// Reasoning.
    pub reasoning_tokens: i64,
    /// Audio input.
    pub audio_input_tokens: i64,
    /// Audio output.
    pub audio_output_tokens: i64,
    /// Billable total.
    pub total_tokens: i64,
    /// Cost of the priced rows, in USD.
    pub cost_usd: f64,
    /// The same in EUR (with `currency=eur`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cost_eur: Option<f64>,
    /// Rows whose model has no price (not in `cost_usd`).
    pub unpriced_rows: i64,
}

/// `GET /api/token-usage/summary/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UsageSummaryResponse {
    /// `model` | `conversation` | `day`.
    pub group_by: String,
    /// `usd` | `eur`.
    pub currency: String,
    /// The groups, largest cost first.
    pub results: Vec<UsageGroupResponse>,
}

/// `POST /api/feedbacks/` (B5.4): one of three kinds.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackCreatePayload {
    /// `conversation` (default) | `message` | `agent`.
    pub kind: Option<String>,
    /// `positive` | `neutral` | `negative`.
    pub sentiment: String,
    /// The client's conversation id (conversation kind).
    pub conversation_id: Option<String>,
    /// Conversation pk (conversation kind).
    #[serde(default, deserialize_with = "crate::v00::de_pk_ref")]
    pub conversation: Option<crate::v00::PkRef>,
    /// Message pk (message kind).
    #[serde(default, deserialize_with = "crate::v00::de_pk_ref")]
    pub message: Option<crate::v00::PkRef>,
    /// Agent id (agent kind; must be the key's).
    pub agent: Option<i64>,
    /// Comment.
    pub comment: Option<String>,
    /// Topic slug (message kind).
    pub topic: Option<String>,
    /// Reason slug (message kind).
    pub reason: Option<String>,
    /// Environment slug (agent kind only).
    pub environment: Option<String>,
}

/// `PATCH /api/feedbacks/{id}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedbackPatchPayload {
    /// Sentiment.
    pub sentiment: Option<String>,
    /// Comment.
    pub comment: Option<String>,
    /// Topic slug.
    pub topic: Option<String>,
    /// Reason slug.
    pub reason: Option<String>,
}

/// A feedback record of any kind.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeedbackItemResponse {
    /// Id.
    pub id: i64,
    /// `conversation` | `message` | `agent`.
    pub kind: String,
    /// Agent id.
    pub agent: i64,
    /// Conversation pk.
    pub conversation: Option<i64>,
    /// The client's conversation id.
    pub conversation_id: Option<String>,
    /// Message pk.
    pub message: Option<i64>,
    /// Sentiment.
    pub sentiment: String,
    /// `customer` (API key) | `platform`.
    pub source: String,
    /// Comment.
    pub comment: Option<String>,
    /// Topic.
    pub topic: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Environment.
    pub environment: Option<String>,
    /// Metadata (0.0.x conversation feedback only; `{}` otherwise).
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::HashMap<String, Value>))]
    pub metadata: Value,
    /// Created.
    pub created_at: String,
    /// Changed.
    pub updated_at: String,
}

/// `GET /api/feedbacks/`: the paging envelope plus `counts`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FeedbackPage {
    /// The envelope.
    #[serde(flatten)]
    pub page: crate::v00::Page<FeedbackItemResponse>,
    /// `{"all": N}`: rows matching the filters.
    pub counts: Value,
}

/// `POST /api/actions/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionCreatePayload {
    /// Name (unique per agent).
    pub name: String,
    /// Display name (default: the name).
    pub display_name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// `PATCH /api/actions/{id}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionPatchPayload {
    /// Name.
    pub name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

/// An action definition.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionResponse {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: Option<String>,
    /// Logs recorded under this name.
    pub log_count: i64,
    /// Created.
    pub created_at: String,
    /// Changed.
    pub updated_at: String,
}

/// An action log in `GET /api/actions/{id}/logs/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActionLogItemResponse {
    /// The log.
    #[serde(flatten)]
    pub log: crate::v00::ActionLogResponse,
    /// Its transcript entry.
    pub message: i64,
    /// Conversation pk.
    pub conversation: i64,
    /// The client's conversation id.
    pub conversation_id: String,
    /// Event time.
    pub timestamp: String,
}

/// `PATCH /api/track/{pk}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagePatchPayload {
    /// Replaces the message's metadata.
    pub metadata: Value,
}

/// `GET /api/track/{pk}/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MessageDetailResponse {
    /// The message as in a transcript.
    #[serde(flatten)]
    pub message: crate::v00::MessageResponse,
    /// The client's conversation id.
    pub conversation_id: String,
    /// The message's vote (message feedback), if any.
    pub feedback: Option<FeedbackItemResponse>,
}

/// Token counts, calls and cost of a set of LLM usage rows (`GET /api/metrics/llm/`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LlmTotals {
    /// LLM calls.
    pub calls: i64,
    /// Failed calls.
    pub errors: i64,
    /// Calls that reported no usage.
    pub unreported_calls: i64,
    /// Calls of models without a price (not in the cost).
    pub unpriced_calls: i64,
    /// Uncached input.
    pub input_tokens: i64,
    /// Output (reasoning included).
    pub output_tokens: i64,
    /// Cache reads.
    pub cache_read_tokens: i64,
    /// Cache writes.
    pub cache_write_tokens: i64,
    /// Embedding input.
    pub embedding_tokens: i64,
    /// Reasoning (a subset of output).
    pub reasoning_tokens: i64,
    /// Audio input (a subset of input).
    pub audio_input_tokens: i64,
    /// Audio output (a subset of output).
    pub audio_output_tokens: i64,
    /// input + output + cache reads + cache writes + embedding.
    pub total_tokens: i64,
    /// Cost of the priced calls, USD, exact decimal.
    pub cost_usd: String,
}

/// One model.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LlmModelRow {
    /// Model id.
    pub model: String,
    /// Its totals.
    #[serde(flatten)]
    pub totals: LlmTotals,
}

/// One local day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LlmDayRow {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Its totals.
    #[serde(flatten)]
    pub totals: LlmTotals,
}

/// `GET /api/metrics/llm/`: token and cost metrics over the overview's range and filters.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LlmMetricsResponse {
    /// The agent.
    pub agent: crate::metrics::AgentRef,
    /// The range.
    pub range: crate::metrics::RangeRef,
    /// Filters as applied.
    pub filters: serde_json::Map<String, Value>,
    /// The price table date of the server.
    pub price_table: String,
    /// Everything in range.
    pub totals: LlmTotals,
    /// By model, largest cost first, then most calls, then model.
    pub by_model: Vec<LlmModelRow>,
    /// By local day, zero-filled, oldest first.
    pub daily: Vec<LlmDayRow>,
    /// Cost per conversation over the conversations with priced usage in range.
    pub per_conversation: LlmPerConversation,
    /// The most expensive conversations, most expensive first (empty on a share link).
    pub top_conversations: Vec<LlmConversationRow>,
}

/// Cost per conversation (`GET /api/metrics/llm/`, docs/metrics.md).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LlmPerConversation {
    /// Conversations with at least one priced usage row in range.
    pub conversations: i64,
    /// Their mean cost, USD, exact decimal rounded to 10⁻¹²; `null` without conversations.
    pub average_cost_usd: Option<String>,
    /// Their 95th percentile cost (nearest rank), USD, exact decimal; `null` without conversations.
    pub p95_cost_usd: Option<String>,
}

/// One of the most expensive conversations.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LlmConversationRow {
    /// The conversation's row id (its transcript: `GET /api/conversations/{pk}/`).
    pub conversation: i64,
    /// The client's conversation id.
    pub conversation_id: String,
    /// Cost of its priced calls in range, USD, exact decimal.
    pub cost_usd: String,
    /// Its LLM calls in range (priced or not).
    pub calls: i64,
    /// Its tokens in range (input + output + cache reads + cache writes + embedding).
    pub total_tokens: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_over_its_bound_stops_parsing_with_an_error() {
        let list = |n: usize, item: &str| vec![item; n].join(",");
        let at = format!(r#"{{"conversations": [{}]}}"#, list(MAX_BLOCKS_PER_BATCH, "{}"));
        let p: IngestPayload<'_> = serde_json::from_str(&at).unwrap();
        assert_eq!(p.conversations.len(), MAX_BLOCKS_PER_BATCH);
        let over = format!(r#"{{"conversations": [{}]}}"#, list(MAX_BLOCKS_PER_BATCH + 1, "{}"));
        let e = serde_json::from_str::<IngestPayload<'_>>(&over).unwrap_err().to_string();
        assert!(e.contains("no more than 10000 items"), "{e}");
        let spans =
            format!(r#"{{"conversation_id": "c", "spans": [{}]}}"#, list(MAX_SPANS_PER_BATCH + 1, "1"));
        let e = serde_json::from_str::<BlockPayload<'_>>(&spans).unwrap_err().to_string();
        assert!(e.contains("no more than 50000 items"), "{e}");
    }
}
