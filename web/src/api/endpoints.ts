// One typed function per endpoint the dashboard calls (docs/dashboard-api.md, docs/metrics.md,
// the README's read API). `agent` is null on a share page, where the share token implies it.

import { currentAuth, queryString, request } from "./client";
import type {
  Agent,
  ApiKey,
  AuthState,
  Branding,
  ConversationDetail,
  Conversation,
  CreatedKey,
  CreatedShare,
  DashUser,
  Erasure,
  FailuresResponse,
  LiveResponse,
  LlmMetricsResponse,
  UsersResponse,
  OverviewResponse,
  Page,
  ReportPreview,
  ReportSchedule,
  ReportSchedulePayload,
  ReportSend,
  Role,
  Session,
  Share,
  ShareInfo,
  TimeseriesResponse,
} from "./types";
import type { Send } from "./notify";

type Params = Record<string, string>;

function withAgent(agent: number | null, params: Params = {}): Params {
  return agent === null ? params : { agent: String(agent), ...params };
}

// --- auth

/** Whether the first admin still has to be set up. */
export const getAuthState = (signal?: AbortSignal) => request<AuthState>("/api/auth/state/", { signal });
/** Signs in. */
export const login = (email: string, password: string) =>
  request<Session>("/api/auth/login/", { method: "POST", body: { email, password } });
/** Creates the first admin with the one-time token `serve` printed. */
export const setupAdmin = (token: string, email: string, password: string) =>
  request<Session>("/api/auth/setup/", { method: "POST", body: { token, email, password } });
/** Signs out. */
export const logout = () => request<Record<string, never>>("/api/auth/logout/", { method: "POST", body: {} });
/** Changes your own password (ends your other sessions). */
export const changePassword = (current_password: string, new_password: string) =>
  request<Record<string, never>>("/api/auth/password/", { method: "POST", body: { current_password, new_password } });
/** The signed-in user, 401 when there is none. */
export const getMe = (signal?: AbortSignal) => request<Session>("/api/auth/me/", { signal });

// --- metrics

/** Every overview metric for the range and filters. */
export const getOverview = (agent: number | null, params: Params, signal?: AbortSignal) =>
  request<OverviewResponse>("/api/metrics/overview/", { query: withAgent(agent, params), signal });
/** One metric by local hour, day or week. */
export const getTimeseries = (agent: number | null, params: Params, signal?: AbortSignal) =>
  request<TimeseriesResponse>("/api/metrics/timeseries/", { query: withAgent(agent, params), signal });
/** LLM tokens, cost per model, day and conversation (SDK 0.1.x usage). */
export const getLlmMetrics = (agent: number | null, params: Params, signal?: AbortSignal) =>
  request<LlmMetricsResponse>("/api/metrics/llm/", { query: withAgent(agent, params), signal });
/** Where the bot fails: unanswered, abandoned, tool errors, escalations by turn, first questions. */
export const getFailures = (agent: number | null, params: Params, signal?: AbortSignal) =>
  request<FailuresResponse>("/api/metrics/failures/", { query: withAgent(agent, params), signal });

/** Users over time; `params.interval` is `day` or `week`. */
export const getUsers = (agent: number | null, params: Params, signal?: AbortSignal) =>
  request<UsersResponse>("/api/metrics/users/", { query: withAgent(agent, params), signal });
/** Conversations active in the last 5 minutes. */
export const getLive = (agent: number | null, signal?: AbortSignal) =>
  request<LiveResponse>("/api/metrics/live/", { query: withAgent(agent), signal });

/** The SSE stream URL (EventSource can't set headers: a share token goes in the query). */
export function liveStreamUrl(agent: number | null): string {
  const a = currentAuth();
  const q: Params = a.kind === "share" ? { share: a.token } : withAgent(agent);
  return `/api/dash/live/${queryString(q)}`;
}

// --- conversations (session only)

/** One page of conversations. */
export const listConversations = (agent: number, params: Params, signal?: AbortSignal) =>
  request<Page<Conversation>>("/api/conversations/", { query: withAgent(agent, params), signal });
/** A transcript. */
export const getConversation = (agent: number, pk: number, signal?: AbortSignal) =>
  request<ConversationDetail>(`/api/conversations/${pk}/`, { query: withAgent(agent), signal });
/** Marks or unmarks a conversation. */
export const markConversation = (agent: number, pk: number, isMarked: boolean) =>
  request<Conversation>(`/api/conversations/${pk}/mark/`, {
    method: "POST",
    query: withAgent(agent),
    body: { is_marked: isMarked },
  });
/** Renames a conversation. */
export const renameConversation = (agent: number, pk: number, name: string) =>
  request<Conversation>(`/api/conversations/${pk}/rename/`, {
    method: "PATCH",
    query: withAgent(agent),
    body: { name },
  });
/** The download URL of an attachment. */
export const attachmentUrl = (agent: number, id: number) =>
  `/api/attachments/${id}/download/${queryString(withAgent(agent))}`;
/** The CSV export URL of the conversations (or their messages) matching the list filters. */
export function exportUrl(kind: "conversations" | "messages", agent: number, params: Params): string {
  const { page: _page, page_size: _size, ...rest } = params;
  return `/api/dash/export/${kind}.csv${queryString(withAgent(agent, rest))}`;
}

// --- agents, keys, users, shares (dashboard API)

/** The agents the user may see. */
export const listAgents = (signal?: AbortSignal) => request<Agent[]>("/api/dash/agents/", { signal });
/** Creates an agent (admin). */
export const createAgent = (name: string) => request<Agent>("/api/dash/agents/", { method: "POST", body: { name } });
/** What an agent's PATCH may change. */
export interface AgentPatch {
  name?: string;
  escalation_tools?: string[] | null;
  branding?: { display_name?: string | null; accent_color?: string | null; logo?: string | null };
  retention_days?: number | null;
}
/** One agent. */
export const getAgent = (id: number, signal?: AbortSignal) => request<Agent>(`/api/dash/agents/${id}/`, { signal });
/** Changes an agent (admin). */
export const updateAgent = (id: number, patch: AgentPatch) =>
  request<Agent>(`/api/dash/agents/${id}/`, { method: "PATCH", body: patch });

/** The audit log of removals (retention, erase) of one agent, newest first (admin). */
export const listErasures = (agent: number, signal?: AbortSignal) =>
  request<Erasure[]>(`/api/dash/erasures/?agent=${agent}`, { signal });

/** An agent's keys. */
export const listKeys = (agent: number, signal?: AbortSignal) =>
  request<ApiKey[]>(`/api/dash/agents/${agent}/keys/`, { signal });
/** Creates a key; the answer carries the secret, shown once. */
export const createKey = (agent: number, role: "write" | "read") =>
  request<CreatedKey>(`/api/dash/agents/${agent}/keys/`, { method: "POST", body: { role } });
/** Revokes a key. */
export const revokeKey = (id: number) =>
  request<{ id: number; revoked_at: string }>(`/api/dash/keys/${id}/`, { method: "DELETE" });

/** Every dashboard user (admin). */
export const listUsers = (signal?: AbortSignal) => request<DashUser[]>("/api/dash/users/", { signal });
/** Creates a user (admin). */
export const createUser = (u: { email: string; password: string; role: Role; agents: number[] }) =>
  request<DashUser>("/api/dash/users/", { method: "POST", body: u });
/** Changes a user's role, agents or password (admin). */
export const updateUser = (id: number, patch: { role?: Role; agents?: number[]; password?: string }) =>
  request<DashUser>(`/api/dash/users/${id}/`, { method: "PATCH", body: patch });
/** Deletes a user (admin). */
export const deleteUser = (id: number) => request<unknown>(`/api/dash/users/${id}/`, { method: "DELETE" });

/** An agent's share links. */
export const listShares = (agent: number, signal?: AbortSignal) =>
  request<Share[]>(`/api/dash/agents/${agent}/shares/`, { signal });
/** Creates a share link. */
export const createShare = (agent: number, body: { expires_at: string | null; label: string | null }) =>
  request<CreatedShare>(`/api/dash/agents/${agent}/shares/`, { method: "POST", body });
/** Revokes a share link. */
export const revokeShare = (id: number) => request<Share>(`/api/dash/shares/${id}/`, { method: "DELETE" });
// --- scheduled client reports (admin)

/** An agent's report schedules. */
export const listReports = (agent: number, signal?: AbortSignal) =>
  request<ReportSchedule[]>(`/api/dash/agents/${agent}/reports/`, { signal });
/** Creates a report schedule (with the share link its mails carry). */
export const createReport = (agent: number, body: ReportSchedulePayload) =>
  request<ReportSchedule>(`/api/dash/agents/${agent}/reports/`, { method: "POST", body });
/** Changes the fields given. */
export const updateReport = (id: number, body: ReportSchedulePayload) =>
  request<ReportSchedule>(`/api/dash/reports/${id}/`, { method: "PATCH", body });
/** Deletes a schedule (its share link is revoked when no other schedule uses it). */
export const deleteReport = (id: number) => request<unknown>(`/api/dash/reports/${id}/`, { method: "DELETE" });
/** The recorded sends, newest first. */
export const listReportSends = (id: number, signal?: AbortSignal) =>
  request<ReportSend[]>(`/api/dash/reports/${id}/sends/`, { signal });
/** Renders the report of a period (default the latest full one); nothing is sent. */
export const previewReport = (id: number, period?: string) =>
  request<ReportPreview>(`/api/dash/reports/${id}/preview/`, {
    method: "POST",
    query: period ? { period } : {},
  });

/** Sends the report of the latest full period now to `to` (or, without it, to the schedule's
 * recipients), marked as a test: one send of the log per address, with its first attempt. */
export const testReport = (id: number, to?: string) =>
  request<Send[]>(`/api/dash/reports/${id}/test/`, { method: "POST", body: to ? { to } : {} });

/** What a share token shows (agent, branding). */
export const getShareInfo = (signal?: AbortSignal) => request<ShareInfo>("/api/share/info/", { signal });

/** A logo URL usable in `<img src>` (which can't send headers). A session's cookie is enough (the
 * agent is in the path); on a share page the token must be in the URL: the server's `logo_url`
 * for a share already carries it, and it is added only when missing. */
export function logoSrc(b: Branding): string | null {
  if (!b.logo_url) return null;
  const a = currentAuth();
  if (a.kind !== "share" || /[?&]share=/.test(b.logo_url)) return b.logo_url;
  const sep = b.logo_url.includes("?") ? "&" : "?";
  return `${b.logo_url}${sep}share=${encodeURIComponent(a.token)}`;
}
