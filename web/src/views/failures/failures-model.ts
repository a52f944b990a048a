// Pure helpers of the "Where the bot fails" section: what each figure links to on the
// conversation list, the turns histogram's labels and bar widths, empty checks.

import type { FailuresResponse } from "../../api/types";
import type { DashboardState, ListState } from "../../state/dashboard-state";
import { dashboardSearch } from "../../state/dashboard-state";
import type { OutcomeFilter } from "../../state/outcome";

/** The list state that shows the conversations behind one figure. */
export function outcomeList(outcome: OutcomeFilter): ListState {
  return { q: "", hasFeedback: false, escalated: null, marked: false, page: 1, outcome };
}

/** The query string of the conversation list for one figure: the overview's range and filters
 * (so the list shows the same conversations), and the outcome. */
export function outcomeSearch(s: DashboardState, outcome: OutcomeFilter): string {
  return dashboardSearch(s, outcomeList(outcome)).toString();
}

/** The outcome filter of a figure of this answer (its idle time carried along when not the default). */
export function figureOutcome(
  r: Pick<FailuresResponse, "idle_minutes">,
  kind: OutcomeFilter["kind"],
  extra: Partial<Pick<OutcomeFilter, "tool" | "turns">> = {},
): OutcomeFilter {
  const idle = (kind === "unanswered" || kind === "abandoned") && r.idle_minutes !== DEFAULT_IDLE ? r.idle_minutes : null;
  return { kind, idle, tool: extra.tool ?? null, turns: extra.turns ?? null };
}

/** The API's default idle time (minutes). */
export const DEFAULT_IDLE = 30;

/** The label of a row of `escalations.by_turns`: "0", "1", …, "10+". */
export function turnsLabel(row: { turns: number; or_more: boolean }): string {
  return row.or_more ? `${row.turns}+` : String(row.turns);
}

/** Each bar's width in % of the widest (0 when every count is 0). */
export function barWidths(counts: number[]): number[] {
  const max = Math.max(0, ...counts);
  return counts.map((c) => (max > 0 ? Math.round((c / max) * 1000) / 10 : 0));
}

/** True when the range has no conversation at all. */
export function failuresIsEmpty(r: FailuresResponse): boolean {
  return r.conversations === 0 && r.tool_errors.calls === 0;
}
