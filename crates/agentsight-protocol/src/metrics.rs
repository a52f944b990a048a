//! The metrics API's response (`GET /api/metrics/overview/`), field for field as in
//! `docs/metrics.md`.

use serde::{Deserialize, Serialize};

/// The agent the metrics are for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentRef {
    /// Agent id.
    pub id: i64,
    /// Agent name.
    pub name: String,
}

/// The range as applied.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RangeRef {
    /// First local day (inclusive), `YYYY-MM-DD`.
    pub from: String,
    /// Last local day (inclusive).
    pub to: String,
    /// IANA time zone.
    pub tz: String,
}

/// Messages by sender.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BySender {
    /// End-user messages.
    pub end_user: u64,
    /// Agent messages.
    pub agent: u64,
    /// System messages.
    pub system: u64,
}

/// Messages by local weekday and hour.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeakHours {
    /// `mon` … `sun`, the rows of `matrix`.
    pub weekdays: Vec<String>,
    /// 7 rows of 24 counts.
    pub matrix: Vec<Vec<u64>>,
}

/// One local day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyRow {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// Messages on that local day.
    pub messages: u64,
    /// Conversations started that local day.
    pub conversations: u64,
}

/// One tool.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolRow {
    /// Action name.
    pub name: String,
    /// Calls in range.
    pub calls: u64,
    /// Mean known duration, null when none is known.
    pub avg_duration_ms: Option<f64>,
    /// Calls with a non-empty error message.
    pub errors: u64,
}

/// Conversations by country.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CountryRow {
    /// ISO alpha-2, or null.
    pub country: Option<String>,
    /// Conversations.
    pub conversations: u64,
}

/// Conversations by city.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CityRow {
    /// ISO alpha-2.
    pub country: Option<String>,
    /// City.
    pub city: Option<String>,
    /// Latitude.
    pub lat: Option<f64>,
    /// Longitude.
    pub lon: Option<f64>,
    /// Conversations.
    pub conversations: u64,
}

/// Conversations by device.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRow {
    /// Device or null.
    pub device: Option<String>,
    /// Conversations.
    pub conversations: u64,
}

/// Conversations by source.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceRow {
    /// Source or null.
    pub source: Option<String>,
    /// Conversations.
    pub conversations: u64,
}

/// Conversations by language.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LanguageRow {
    /// Language or null.
    pub language: Option<String>,
    /// Conversations.
    pub conversations: u64,
}

/// Human escalation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// Conversations in range with an escalation action (at any time).
    pub conversations: u64,
    /// `conversations / total_conversations`, 0 when there are none.
    pub rate: f64,
}

/// Ratings (numeric `metadata.feedback`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ratings {
    /// Conversations whose effective feedback is a rating.
    pub count: u64,
    /// Their mean, null when none.
    pub average: Option<f64>,
}

/// Feedback by effective sentiment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedbackSummary {
    /// Positive.
    pub positive: u64,
    /// Neutral.
    pub neutral: u64,
    /// Negative.
    pub negative: u64,
    /// All three.
    pub total: u64,
    /// `positive / total`, null when total is 0.
    pub satisfaction_rate: Option<f64>,
    /// Ratings.
    pub ratings: Ratings,
}

/// `GET /api/metrics/overview/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewResponse {
    /// The agent.
    pub agent: AgentRef,
    /// The range.
    pub range: RangeRef,
    /// Filters as applied (`unknown` means null).
    pub filters: serde_json::Map<String, serde_json::Value>,
    /// Messages in range (all senders).
    pub total_messages: u64,
    /// The same by sender.
    pub messages_by_sender: BySender,
    /// Conversations in range.
    pub total_conversations: u64,
    /// Conversations in range with `is_used`.
    pub unique_interactions: u64,
    /// `unique_interactions / total_conversations`, 0 when there are none.
    pub unique_interaction_rate: f64,
    /// Mean response time, null when there are no responses.
    pub avg_bot_response_time_ms: Option<f64>,
    /// Responses averaged.
    pub bot_responses: u64,
    /// Mean duration of conversations with at least one message.
    pub avg_conversation_duration_ms: Option<f64>,
    /// Weekday × hour.
    pub peak_hours: PeakHours,
    /// One row per local day.
    pub daily: Vec<DailyRow>,
    /// Tools.
    pub tools: Vec<ToolRow>,
    /// Countries.
    pub countries: Vec<CountryRow>,
    /// Top 100 cities.
    pub cities: Vec<CityRow>,
    /// Devices.
    pub devices: Vec<DeviceRow>,
    /// Sources.
    pub sources: Vec<SourceRow>,
    /// Languages.
    pub languages: Vec<LanguageRow>,
    /// Distinct non-empty customer ids.
    pub unique_users: u64,
    /// Human escalation.
    pub human_escalation: Escalation,
    /// Feedback.
    pub feedback: FeedbackSummary,
    /// With `compare=`: the same overview for the compared range (its own `range`; no
    /// `previous` of its own). Absent without `compare`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub previous: Option<Box<OverviewResponse>>,
}

/// One point of a time series.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Start of the bucket: local RFC 3339 with offset (hours) or `YYYY-MM-DD` (days, weeks,
    /// months).
    pub start: String,
    /// The value; null where a mean has nothing to average.
    pub value: Option<f64>,
}

/// `GET /api/metrics/timeseries/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesResponse {
    /// The agent.
    pub agent: AgentRef,
    /// The range.
    pub range: RangeRef,
    /// Filters as applied.
    pub filters: serde_json::Map<String, serde_json::Value>,
    /// The metric.
    pub metric: String,
    /// `hour` | `day` | `week` | `month`.
    pub interval: String,
    /// Every bucket of the range, oldest first.
    pub points: Vec<SeriesPoint>,
    /// With `compare=`: the same series for the compared range. Absent without `compare`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(no_recursion))]
    pub previous: Option<Box<TimeseriesResponse>>,
}

/// `GET /api/metrics/status/`: which engine answers metrics queries and its state.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineStatus {
    /// The engine, named by the backend (SQLite: `sqlite-index`, the in-memory index over the
    /// embedded store, or `sqlite-raw`).
    pub engine: String,
    /// `loading` (queries wait for it), `ready`, `failed` (a fallback answers), or `off`.
    pub phase: String,
    /// Approximate memory the engine holds for metrics, in bytes.
    pub approx_bytes: u64,
    /// A lasting storage failure the engine met (a damaged or unreadable file: the operator
    /// must act), said in full; absent when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
    /// Figures only this engine has, flattened into the answer (SQLite: `loads`, the index loads
    /// finished since start, `full_loads` of them reading every row; `from_snapshot` (1/0), the
    /// last load started from the snapshot file, and `replayed_groups`, the journal's write
    /// groups it replayed; `journal_groups`, groups of other processes applied since;
    /// `snapshot_seq` and `snapshots_written`; `spans_archived_batch` and `spans_projected_batch`, the last span
    /// batch acknowledged and the last projected, reads waiting while the second is behind).
    #[serde(flatten)]
    pub details: std::collections::BTreeMap<String, i64>,
}

/// Messages in one minute.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinuteCount {
    /// Start of the minute (UTC).
    pub minute: String,
    /// Messages.
    pub messages: u64,
}

/// `GET /api/metrics/live/`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LiveResponse {
    /// The agent.
    pub agent: AgentRef,
    /// The server's clock.
    pub now: String,
    /// Conversations with a message, action or button in the last 5 minutes.
    pub active_conversations: u64,
    /// Messages per minute over the last 60 minutes, oldest first.
    pub messages_per_minute: Vec<MinuteCount>,
}

/// A count of conversations and its share of the settled ones.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FailureCount {
    /// Conversations.
    pub conversations: u64,
    /// `conversations / settled`; `null` when no conversation is settled.
    pub rate: Option<f64>,
}

/// Errors of one tool (action name).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolErrorRow {
    /// Action name.
    pub name: String,
    /// Calls in range.
    pub calls: u64,
    /// Calls in range with a non-empty `error_msg`.
    pub errors: u64,
    /// `errors / calls`; `null` without calls in range.
    pub error_rate: Option<f64>,
    /// Conversations in range with an error of this tool (at any time).
    pub conversations: u64,
}

/// Tool errors.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolErrors {
    /// Tool calls in range (`token_usage` left out).
    pub calls: u64,
    /// Those with a non-empty `error_msg`.
    pub errors: u64,
    /// Conversations in range with a tool error (at any time).
    pub conversations: u64,
    /// Per tool with an error, most errors first.
    pub tools: Vec<ToolErrorRow>,
}

/// Escalated conversations with this many user messages before the escalation.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnsRow {
    /// User messages before the first escalation action.
    pub turns: u32,
    /// True on the last row: `turns` or more.
    pub or_more: bool,
    /// Conversations.
    pub conversations: u64,
}

/// Human escalations and when they happened.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EscalationTurns {
    /// Escalated conversations in range (the overview's `human_escalation.conversations`).
    pub conversations: u64,
    /// `conversations / total conversations` (0 when none).
    pub rate: f64,
    /// By turns before escalating, 0 to 9 and then 10 or more.
    pub by_turns: Vec<TurnsRow>,
}

/// One normalized first question.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirstQuestionRow {
    /// The normalized text.
    pub question: String,
    /// Conversations that opened with it.
    pub conversations: u64,
    /// The pk of one of them (the smallest).
    pub sample_conversation: i64,
    /// Its client id.
    pub sample_conversation_id: String,
}

/// The most frequent first questions.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FirstQuestions {
    /// Conversations with a user message.
    pub conversations: u64,
    /// Distinct normalized first questions.
    pub distinct: u64,
    /// The most frequent (empty on a share link).
    pub top: Vec<FirstQuestionRow>,
}

/// `GET /api/metrics/failures/`: where the bot fails (`docs/metrics.md`).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailuresResponse {
    /// The agent.
    pub agent: AgentRef,
    /// The range as applied.
    pub range: RangeRef,
    /// The filters as applied.
    pub filters: serde_json::Map<String, serde_json::Value>,
    /// The instant liveness was measured against.
    pub now: String,
    /// The idle time as applied.
    pub idle_minutes: i64,
    /// Conversations in range.
    pub conversations: u64,
    /// With at least one user message.
    pub engaged: u64,
    /// Engaged and still live.
    pub awaiting: u64,
    /// Engaged and quiet for `idle_minutes`.
    pub settled: u64,
    /// The last user message got no bot reply.
    pub unanswered: FailureCount,
    /// The user never came back after the bot's reply.
    pub abandoned: FailureCount,
    /// Tool errors.
    pub tool_errors: ToolErrors,
    /// Escalations by turn.
    pub escalations: EscalationTurns,
    /// The most frequent first questions.
    pub first_questions: FirstQuestions,
}

/// Users of the whole range (`docs/metrics.md`, *Users over time*).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsersTotals {
    /// Users active in the range (the overview's `unique_users`).
    pub users: u64,
    /// Of them, those first seen in the range.
    pub new_users: u64,
    /// Of them, those first seen before it.
    pub returning_users: u64,
}

/// New and returning users of one period.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewReturningPoint {
    /// The period's first local day, `YYYY-MM-DD`.
    pub start: String,
    /// Users active in the period.
    pub active: u64,
    /// Of them, those whose first conversation ever is in the period.
    pub new: u64,
    /// The others: first seen before the period.
    pub returning: u64,
}

/// Active users of one period.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveUsersPoint {
    /// The period's first local day, `YYYY-MM-DD`.
    pub start: String,
    /// Distinct users with a conversation in the period.
    pub users: u64,
}

/// Active users per local day, ISO week and calendar month.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActiveUsers {
    /// Per local day (DAU).
    pub daily: Vec<ActiveUsersPoint>,
    /// Per ISO week, Monday first, clipped to the range (WAU).
    pub weekly: Vec<ActiveUsersPoint>,
    /// Per calendar month, clipped to the range (MAU).
    pub monthly: Vec<ActiveUsersPoint>,
}

/// One row of the weekly retention table.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortRow {
    /// The cohort's week: its first local day in the range, `YYYY-MM-DD`.
    pub week: String,
    /// Users first seen that week (and active in it).
    pub users: u64,
    /// `retained[k]`: how many of them are active in the k-th week after it (`retained[0]` is
    /// `users`), up to the range's last week.
    pub retained: Vec<u64>,
}

/// `GET /api/metrics/users/`: users over time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsersResponse {
    /// The agent.
    pub agent: AgentRef,
    /// The range.
    pub range: RangeRef,
    /// Filters as applied.
    pub filters: serde_json::Map<String, serde_json::Value>,
    /// `day` | `week`: the grain of `new_returning`.
    pub interval: String,
    /// The whole range.
    pub totals: UsersTotals,
    /// New and returning users per period of `interval`, oldest first.
    pub new_returning: Vec<NewReturningPoint>,
    /// Active users per day, week and month.
    pub active: ActiveUsers,
    /// The weekly retention cohorts, oldest first (the range's last 52 weeks at most).
    pub cohorts: Vec<CohortRow>,
}
