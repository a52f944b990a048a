// Pure helpers of the "Users" section (`GET /api/metrics/users/`, docs/metrics.md, *Users over
// time*): the grain of new vs returning, a retention cell's share, its label and its colour.

import type { CohortRow, UsersResponse } from "../../api/types";
import { SEQUENTIAL } from "../../charts/palette";
import { type DayRange, rangeDays } from "../../state/dates";

/** The longest range whose new vs returning users are drawn by day (as the main chart). */
export const MAX_DAILY_USER_DAYS = 92;

/** `interval` of the request: by day up to 92 days, by ISO week above. */
export function usersInterval(r: DayRange): "day" | "week" {
  return rangeDays(r) <= MAX_DAILY_USER_DAYS ? "day" : "week";
}

/** True when nobody with a customer id talked in the range. */
export function usersIsEmpty(r: UsersResponse): boolean {
  return r.totals.users === 0;
}

/** The share of a cohort active `k` weeks later, or null for an empty cohort. */
export function cohortShare(row: CohortRow, k: number): number | null {
  if (row.users === 0) return null;
  const n = row.retained[k];
  return n === undefined ? null : n / row.users;
}

/** A share as the table prints it: one decimal under 10 %, whole above; "–" for none. */
export function percentLabel(share: number | null): string {
  if (share === null) return "–";
  const pct = share * 100;
  if (pct === 0) return "0%";
  return pct < 10 ? `${pct.toFixed(1)}%` : `${Math.round(pct)}%`;
}

/** A cell's background and text colours: the sequential ramp by share, white text on the dark end. */
export function cohortCellColors(share: number | null): { background: string; color: string } {
  if (share === null) return { background: "transparent", color: "inherit" };
  const steps = SEQUENTIAL.length;
  const i = Math.min(steps - 1, Math.floor(share * steps));
  return { background: SEQUENTIAL[i]!, color: i >= 3 ? "#ffffff" : "#111827" };
}

/** Weeks after the cohort's, as the header names them: "Week 0", "+1", "+2", … */
export function weekOffsetLabel(k: number): string {
  return k === 0 ? "Week 0" : `+${k}`;
}

/**
 * What the section says about clipped periods: the first week (or month) starts at `from` when
 * the range starts mid-week (mid-month), and the last ends with `to`; their counts cover only
 * the range's days. Null when every period is whole.
 */
export function clippedNote(r: UsersResponse): string | null {
  const from = new Date(`${r.range.from}T00:00:00Z`);
  const to = new Date(`${r.range.to}T00:00:00Z`);
  const partial: string[] = [];
  if (from.getUTCDay() !== 1 || to.getUTCDay() !== 0) partial.push("week");
  const lastOfMonth = new Date(Date.UTC(to.getUTCFullYear(), to.getUTCMonth() + 1, 0)).getUTCDate();
  if (from.getUTCDate() !== 1 || to.getUTCDate() !== lastOfMonth) partial.push("month");
  if (partial.length === 0) return null;
  return `The first and last ${partial.join(" and ")} are cut to the range: they count only its days.`;
}
