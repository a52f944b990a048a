// Wire types of the API the dashboard calls: names for the schemas of the OpenAPI document the
// server generates from its Rust types (`web/openapi.json`, printed by `agentsight openapi`),
// turned into TypeScript by openapi-typescript (`npm run gen` writes `schema.ts`; `npm run build`
// runs it). scripts/test.sh fails when either file differs from what the binary makes. Where the
// dashboard reads a field more narrowly than the wire says (an enum the server writes as a
// string), the narrowing is here, next to its schema.

import type { components } from "./schema";

type Schemas = components["schemas"];

/** `{id, name}` of the agent a metrics response is for. */
export type AgentRef = Schemas["AgentRef"];

/** The range as the server applied it. */
export type RangeRef = Schemas["RangeRef"];

/** Conversations by one dimension value (null: unknown). */
export interface DimensionRow {
  conversations: number;
}

/** `GET /api/metrics/overview/` (crates/agentsight-protocol/src/metrics.rs `OverviewResponse`). */
export type OverviewResponse = Schemas["OverviewResponse"];

/** One tool of the overview. */
export type ToolRow = Schemas["ToolRow"];

/** One city of the overview. */
export type CityRow = Schemas["CityRow"];

/** Feedback by effective sentiment. */
export type FeedbackSummary = Schemas["FeedbackSummary"];

/** `GET /api/metrics/timeseries/`. */
export type TimeseriesResponse = Omit<Schemas["TimeseriesResponse"], "interval"> & {
  interval: "hour" | "day" | "week" | "month";
};

/** `GET /api/metrics/live/`. */
export type LiveResponse = Schemas["LiveResponse"];

/** Geolocation of a conversation. */
export type GeoLocation = Schemas["GeoLocationResponse"];

/** A conversation as the read API returns it. */
export type Conversation = Schemas["ConversationResponse"];

/** The paginated envelope of list endpoints. */
export type Page<T> = Omit<Schemas["Page_ConversationResponse"], "results"> & { results: T[] };

/** A file of a message. */
export type Attachment = Schemas["AttachmentResponse"];

/** A tool call. */
export type ActionLog = Schemas["ActionLogResponse"];

/** A button press. */
export type Button = Schemas["ButtonResponse"];

/** One entry of a transcript: a message, or an action / button as a synthetic entry. */
export type Message = Schemas["MessageResponse"];

/** A feedback record. */
export type Feedback = Schemas["FeedbackResponse"];

/** `GET /api/conversations/{pk}/`: the conversation's fields with its transcript. */
export type ConversationDetail = Schemas["ConversationDetailResponse"];

/** A dashboard user's role. */
export type Role = "admin" | "viewer";

/** The signed-in user (`agents`: a viewer's assigned agents; `[]` for an admin, who sees all). */
export type User = Omit<Schemas["UserResponse"], "role"> & { role: Role };

/** `GET /api/auth/me/` and the login / setup answers. */
export type Session = Omit<Schemas["SessionResponse"], "user"> & { user: User };

/** `GET /api/auth/state/`. */
export type AuthState = Schemas["AuthState"];

/** White-label settings of an agent. */
export type Branding = Schemas["BrandingResponse"];

/** An agent as the dashboard API returns it. */
export type Agent = Schemas["AgentResponse"];

/** One record of the audit log of removals (no personal data). */
export type Erasure = Omit<Schemas["ErasureResponse"], "kind"> & { kind: "retention" | "erase" };

/** An API key (the secret is never listed). */
export type ApiKey = Omit<Schemas["KeyResponse"], "role" | "key"> & { role: "write" | "read" };

/** A key just created: the only time its secret is shown. */
export type CreatedKey = ApiKey & { key: string };

/** A dashboard user as the admin lists them. */
export type DashUser = User;

/** A share link. */
export type Share = Omit<Schemas["ShareResponse"], "token" | "url">;

/** A share link just created (the token and its URL are shown once). */
export type CreatedShare = Share & { token: string; url: string };

/** `GET /api/share/info/`. */
export type ShareInfo = Schemas["ShareInfoResponse"];

/** An SSE `update` event: data of the agent was committed. */
export type LiveUpdate = Schemas["LiveUpdate"];

/** Token counts, calls and cost of a set of LLM usage rows. Costs are exact decimal USD strings. */
export type LlmTotals = Schemas["LlmTotals"];

/** One of the most expensive conversations. */
export type LlmConversationRow = Schemas["LlmConversationRow"];

/** `GET /api/metrics/llm/` (`top_conversations` is empty on a share page). */
export type LlmMetricsResponse = Schemas["LlmMetricsResponse"];

/** A scheduled client report (`docs/reports.md`). */
export type ReportSchedule = Schemas["ReportScheduleResponse"];

/** The fields of a report schedule to create (all) or change (those given). */
export type ReportSchedulePayload = Schemas["ReportSchedulePayload"];

/** One recorded send of a report schedule. */
export type ReportSend = Schemas["ReportSendResponse"];

/** A report rendered for the settings page (`html` with its images as `data:` URIs). */
export type ReportPreview = Schemas["ReportPreviewResponse"];

/** `GET /api/metrics/failures/`: where the bot fails (`first_questions.top` is empty on a share page). */
export type FailuresResponse = Schemas["FailuresResponse"];

/** One tool's errors. */
export type ToolErrorRow = Schemas["ToolErrorRow"];

/** `GET /api/metrics/users/`: new vs returning users, active users, weekly retention cohorts. */
export type UsersResponse = Schemas["UsersResponse"];

/** One row of the weekly retention table. */
export type CohortRow = Schemas["CohortRow"];
