// Wire types of the API the dashboard calls, written by hand after the Rust types they mirror:
// `crates/agentsight-protocol/src/{metrics,v00}.rs` and `docs/dashboard-api.md`. (Generating
// them with ts-rs was weighed and left out: see docs/dashboard.md, "API types".) A field renamed
// on the server breaks the e2e suite, which compares what the page shows with the API's JSON.

/** `{id, name}` of the agent a metrics response is for. */
export interface AgentRef {
  id: number;
  name: string;
}

/** The range as the server applied it. */
export interface RangeRef {
  from: string;
  to: string;
  tz: string;
}

/** Conversations by one dimension value (null: unknown). */
export interface DimensionRow {
  conversations: number;
}

/** `GET /api/metrics/overview/` (crates/agentsight-protocol/src/metrics.rs `OverviewResponse`). */
export interface OverviewResponse {
  agent: AgentRef;
  range: RangeRef;
  filters: Record<string, unknown>;
  total_messages: number;
  messages_by_sender: { end_user: number; agent: number; system: number };
  total_conversations: number;
  unique_interactions: number;
  unique_interaction_rate: number;
  avg_bot_response_time_ms: number | null;
  bot_responses: number;
  avg_conversation_duration_ms: number | null;
  peak_hours: { weekdays: string[]; matrix: number[][] };
  daily: Array<{ date: string; messages: number; conversations: number }>;
  tools: ToolRow[];
  countries: Array<DimensionRow & { country: string | null }>;
  cities: CityRow[];
  devices: Array<DimensionRow & { device: string | null }>;
  sources: Array<DimensionRow & { source: string | null }>;
  languages: Array<DimensionRow & { language: string | null }>;
  unique_users: number;
  human_escalation: { conversations: number; rate: number };
  feedback: FeedbackSummary;
}

/** One tool of the overview. */
export interface ToolRow {
  name: string;
  calls: number;
  avg_duration_ms: number | null;
  errors: number;
}

/** One city of the overview. */
export interface CityRow {
  country: string | null;
  city: string | null;
  lat: number | null;
  lon: number | null;
  conversations: number;
}

/** Feedback by effective sentiment. */
export interface FeedbackSummary {
  positive: number;
  neutral: number;
  negative: number;
  total: number;
  satisfaction_rate: number | null;
  ratings: { count: number; average: number | null };
}

/** `GET /api/metrics/timeseries/`. */
export interface TimeseriesResponse {
  agent: AgentRef;
  range: RangeRef;
  filters: Record<string, unknown>;
  metric: string;
  interval: "hour" | "day" | "week";
  /** `start`: local RFC 3339 with offset (hours) or `YYYY-MM-DD` (days, weeks). */
  points: Array<{ start: string; value: number | null }>;
}

/** `GET /api/metrics/live/`. */
export interface LiveResponse {
  agent: AgentRef;
  now: string;
  active_conversations: number;
  messages_per_minute: Array<{ minute: string; messages: number }>;
}

/** Geolocation of a conversation. */
export interface GeoLocation {
  ip_address: string | null;
  country: string | null;
  region: string | null;
  city: string | null;
  latitude: number | null;
  longitude: number | null;
}

/** A conversation as the read API returns it. */
export interface Conversation {
  id: number;
  conversation_id: string;
  name: string | null;
  customer_id: string | null;
  customer_ip_address: string | null;
  device: string | null;
  source: string | null;
  language: string | null;
  environment: string | null;
  metadata: Record<string, unknown>;
  is_used: boolean;
  is_marked: boolean;
  is_deleted: boolean;
  deleted_at: string | null;
  started_at: string;
  ended_at: string | null;
  created_at: string;
  updated_at: string;
  message_count: number;
  geo_location: GeoLocation | null;
}

/** The paginated envelope of list endpoints. */
export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
  page_size: number;
  total_pages: number;
  current_page: number;
}

/** A file of a message. */
export interface Attachment {
  id: number;
  /** `image`, `audio`, `video`, `document`, ... (from the MIME type). */
  kind: string;
  filename: string;
  mime_type: string;
  size_bytes: number;
  file_url: string;
  message: number | null;
  conversation: number;
  sender: string | null;
  timestamp: string;
}

/** A tool call. */
export interface ActionLog {
  id: number;
  action_name: string;
  started_at: string | null;
  ended_at: string | null;
  duration_ms: number | null;
  tools_used: unknown;
  response: string | null;
  /** Empty when there was no error. */
  error_message: string;
  metadata: Record<string, unknown>;
}

/** A button press. */
export interface Button {
  id: number;
  button_event: string;
  label: string;
  value: string;
  metadata: Record<string, unknown>;
}

/** One entry of a transcript: a message, or an action / button as a synthetic entry. */
export interface Message {
  id: number;
  conversation: number;
  timestamp: string;
  sender: string;
  content: string;
  action_name: string | null;
  metadata: Record<string, unknown>;
  attachments: Attachment[];
  action_logs: ActionLog[];
  button: Button | null;
}

/** A feedback record. */
export interface Feedback {
  id: number;
  conversation: number;
  conversation_id: string;
  sentiment: string;
  source: string;
  comment: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
}

/** `GET /api/conversations/{pk}/`: the conversation's fields with its transcript. */
export interface ConversationDetail extends Conversation {
  messages: Message[];
  feedbacks: Feedback[];
}

/** A dashboard user's role. */
export type Role = "admin" | "viewer";

/** The signed-in user (`agents`: a viewer's assigned agents; `[]` for an admin, who sees all). */
export interface User {
  id: number;
  email: string;
  role: Role;
  agents: number[];
  created_at?: string;
}

/** `GET /api/auth/me/` and the login / setup answers. */
export interface Session {
  user: User;
  csrf_token: string;
}

/** `GET /api/auth/state/`. */
export interface AuthState {
  needs_setup: boolean;
  /** Whether this browser's cookie is a live session (then `me/` answers 200). */
  signed_in: boolean;
}

/** White-label settings of an agent. */
export interface Branding {
  display_name: string | null;
  logo_url: string | null;
  accent_color: string | null;
}

/** An agent as the dashboard API returns it. */
export interface Agent {
  id: number;
  name: string;
  created_at: string;
  environments: string[];
  escalation_tools: string[];
  escalation_tools_default: boolean;
  branding: Branding;
  /** Days a conversation is kept after its last event; null: kept for ever. */
  retention_days: number | null;
}

/** One record of the audit log of removals (no personal data). */
export interface Erasure {
  id: number;
  at: string;
  agent: number;
  kind: "retention" | "erase";
  /** `key:<id>`, `user:<id>`, `cli` or `retention`. */
  actor: string;
  conversations: number;
  messages: number;
}

/** An API key (the secret is never listed). */
export interface ApiKey {
  id: number;
  prefix: string;
  role: "write" | "read";
  created_at: string;
  revoked_at: string | null;
}

/** A key just created: the only time its secret is shown. */
export interface CreatedKey extends ApiKey {
  key: string;
}

/** A dashboard user as the admin lists them. */
export interface DashUser extends User {
  created_at: string;
}

/** A share link. */
export interface Share {
  id: number;
  agent_id: number;
  label: string | null;
  token_prefix: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

/** A share link just created (the token and its URL are shown once). */
export interface CreatedShare extends Share {
  token: string;
  url: string;
}

/** `GET /api/share/info/`. */
export interface ShareInfo {
  agent: AgentRef & { environments: string[] };
  branding: Branding;
  expires_at: string | null;
}

/** An SSE `update` event: data of the agent was committed. */
export interface LiveUpdate {
  agent_id: number;
  at: string;
  writes: number;
  messages: number;
  conversations: number;
}

// --- LLM usage (`GET /api/metrics/llm/`, crates/agentsight-protocol/src/v01.rs `LlmMetricsResponse`).
// Kept in one block apart from the rest so that it merges cleanly with generated types.

/** Token counts, calls and cost of a set of LLM usage rows. Costs are exact decimal USD strings. */
export interface LlmTotals {
  calls: number;
  errors: number;
  unreported_calls: number;
  unpriced_calls: number;
  input_tokens: number;
  output_tokens: number;
  cache_read_tokens: number;
  cache_write_tokens: number;
  embedding_tokens: number;
  reasoning_tokens: number;
  audio_input_tokens: number;
  audio_output_tokens: number;
  total_tokens: number;
  cost_usd: string;
}

/** One of the most expensive conversations. */
export interface LlmConversationRow {
  conversation: number;
  conversation_id: string;
  cost_usd: string;
  calls: number;
  total_tokens: number;
}

/** `GET /api/metrics/llm/`. */
export interface LlmMetricsResponse {
  agent: AgentRef;
  range: RangeRef;
  filters: Record<string, unknown>;
  /** The date of the server's price table (`YYYY-MM-DD`). */
  price_table: string;
  totals: LlmTotals;
  by_model: Array<LlmTotals & { model: string }>;
  daily: Array<LlmTotals & { date: string }>;
  per_conversation: { conversations: number; average_cost_usd: string | null; p95_cost_usd: string | null };
  /** Empty on a share page. */
  top_conversations: LlmConversationRow[];
}
