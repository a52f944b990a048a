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
}

/** The eight cards, in display order. */
export function kpis(o: OverviewResponse): Kpi[] {
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
