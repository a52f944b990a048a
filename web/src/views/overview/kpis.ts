// The KPI cards of the overview: value, exact number in the title, and a note. Pure: data in,
// the list of cards out (rendered by overview.ts, tested in kpis.test.ts).

import type { OverviewResponse } from "../../api/types";
import { formatCount, formatDuration, formatExact, formatPercent, formatRating } from "../../format";

/** One card. */
export interface Kpi {
  /** Stable id (the metrics API's field name). */
  id: string;
  label: string;
  /** The formatted value. */
  value: string;
  /** The exact value (also in `data-value`), null when there is none. */
  raw: number | null;
  /** A short line under the value. */
  note: string;
  /** The change from the compared range (`previous` of the overview), null without one. */
  change: KpiChange | null;
}

/** Which way a KPI is good (docs/metrics.md, *Comparison with another range*). */
export type Better = "up" | "down" | "neither";

/** How a KPI's change is measured: percent of the previous value, or percentage points (rates). */
export type ChangeKind = "relative" | "points";

/** The change of one KPI from the compared range. */
export interface KpiChange {
  /** `none`: no figure (the previous value is 0 or missing, or the current one is). */
  direction: "up" | "down" | "same" | "none";
  /** What the card shows: "▲ 12%", "▼ 3 pts", "= 0%", "no data before", "no data now" or "no data". */
  text: string;
  /** Whether the move is good (colour and words say it; `neutral` when neither or none). */
  verdict: "good" | "bad" | "neutral";
  /** The whole change in words, for screen readers and the tooltip. */
  label: string;
}

/** The percentage shown for a change: one decimal under 10, whole above ("4.5", "12"). */
function figure(p: number): string {
  const a = Math.abs(p);
  if (a < 10) return String(Number(a.toFixed(1)));
  return String(Math.round(a));
}

/**
 * The change of a KPI from `previous` to `current`: `relative` is (current − previous) /
 * previous in percent (none when previous is 0 or null, or current is null); `points` is the
 * difference of two rates in percentage points (none when either is null). The direction is the
 * sign of the exact difference; `better` says which way is good.
 */
export function kpiChange(
  current: number | null,
  previous: number | null,
  kind: ChangeKind,
  better: Better,
  previousText: string,
): KpiChange {
  const none = (why: string, text = "no data before"): KpiChange => ({ direction: "none", text, verdict: "neutral", label: why });
  if (current === null && previous === null) return none("No change to show: no value in either range.", "no data");
  if (current === null) return none("No change to show: no value in this range.", "no data now");
  if (previous === null) return none("No change to show: no value in the compared range.");
  if (kind === "relative" && previous === 0) return none(`No percentage: the compared range had 0.`);
  const diff = current - previous;
  const amount = kind === "relative" ? `${figure((diff / previous) * 100)}%` : `${figure(diff * 100)} pts`;
  const direction = diff > 0 ? "up" : diff < 0 ? "down" : "same";
  const verdict = direction === "same" || better === "neither" ? "neutral" : direction === better ? "good" : "bad";
  const arrow = direction === "up" ? "▲" : direction === "down" ? "▼" : "=";
  const words = direction === "up" ? "Up" : direction === "down" ? "Down" : "No change,";
  const judged = verdict === "good" ? ", better" : verdict === "bad" ? ", worse" : "";
  return {
    direction,
    text: `${arrow} ${amount}`,
    verdict,
    label: `${words} ${amount} from ${previousText} in the compared range${judged}.`,
  };
}

/** How each card is compared: its kind of change and which way is good. */
export const KPI_COMPARISON: Record<string, { kind: ChangeKind; better: Better }> = {
  total_messages: { kind: "relative", better: "up" },
  total_conversations: { kind: "relative", better: "up" },
  unique_users: { kind: "relative", better: "up" },
  unique_interactions: { kind: "relative", better: "up" },
  avg_bot_response_time_ms: { kind: "relative", better: "down" },
  avg_conversation_duration_ms: { kind: "relative", better: "neither" },
  human_escalation_rate: { kind: "points", better: "down" },
  satisfaction_rate: { kind: "points", better: "up" },
};

/** The eight cards, in display order, each with its change when the overview has `previous`. */
export function kpis(o: OverviewResponse): Kpi[] {
  const cards = cardsOf(o);
  const before = o.previous ? cardsOf(o.previous) : null;
  return cards.map((c, i) => {
    const p = before?.[i];
    const how = KPI_COMPARISON[c.id];
    const change = p && how ? kpiChange(c.raw, p.raw, how.kind, how.better, p.value) : null;
    return { ...c, change };
  });
}

function cardsOf(o: OverviewResponse): Array<Omit<Kpi, "change">> {
  const f = o.feedback;
  const ratings = f.ratings.count > 0 ? ` · rating ${formatRating(f.ratings.average)}` : "";
  return [
    {
      id: "total_messages",
      label: "Total messages",
      value: formatCount(o.total_messages),
      raw: o.total_messages,
      note: `${formatCount(o.messages_by_sender.end_user)} from users · ${formatCount(o.messages_by_sender.agent)} from the bot`,
    },
    {
      id: "total_conversations",
      label: "Total conversations",
      value: formatCount(o.total_conversations),
      raw: o.total_conversations,
      note: "started in this range",
    },
    {
      id: "unique_users",
      label: "Unique users",
      value: formatCount(o.unique_users),
      raw: o.unique_users,
      note: "distinct customer ids",
    },
    {
      id: "unique_interactions",
      label: "Unique interactions",
      value: formatCount(o.unique_interactions),
      raw: o.unique_interactions,
      note: `${formatPercent(o.unique_interaction_rate)} of conversations`,
    },
    {
      id: "avg_bot_response_time_ms",
      label: "Avg bot response time",
      value: formatDuration(o.avg_bot_response_time_ms),
      raw: o.avg_bot_response_time_ms,
      note: o.bot_responses > 0 ? `over ${formatCount(o.bot_responses)} responses` : "no responses yet",
    },
    {
      id: "avg_conversation_duration_ms",
      label: "Avg conversation duration",
      value: formatDuration(o.avg_conversation_duration_ms),
      raw: o.avg_conversation_duration_ms,
      note: "first to last event",
    },
    {
      id: "human_escalation_rate",
      label: "Human escalation rate",
      value: formatPercent(o.human_escalation.rate),
      raw: o.human_escalation.rate,
      note: `${formatExact(o.human_escalation.conversations)} ${o.human_escalation.conversations === 1 ? "conversation" : "conversations"} escalated`,
    },
    {
      id: "satisfaction_rate",
      label: "Satisfaction",
      value: formatPercent(f.satisfaction_rate),
      raw: f.satisfaction_rate,
      note: f.total > 0 ? `${formatCount(f.positive)} of ${formatCount(f.total)} positive${ratings}` : "no feedback yet",
    },
  ];
}
