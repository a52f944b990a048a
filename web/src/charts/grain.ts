// The grain of the messages-and-conversations chart, chosen from the range so that a bar stays
// readable: hours for one day, days up to about three months, weeks up to a year, then months
// (the metrics API's `interval`). Pure; tested in grain.test.ts.

import type { DayRange } from "../state/dates";
import { rangeDays } from "../state/dates";

/** A bucket size of `GET /api/metrics/timeseries/`. */
export type Grain = "hour" | "day" | "week" | "month";

/** The longest range drawn by day (about three months: 92 days is the longest quarter). */
export const MAX_DAILY_DAYS = 92;
/** The longest range drawn by week (a leap year). */
export const MAX_WEEKLY_DAYS = 366;

/** The grain for a range: 1 day → hour, ≤ 92 days → day, ≤ 366 days → week, above → month. */
export function grainFor(r: DayRange): Grain {
  const n = rangeDays(r);
  if (n <= 1) return "hour";
  if (n <= MAX_DAILY_DAYS) return "day";
  if (n <= MAX_WEEKLY_DAYS) return "week";
  return "month";
}

/** The chart's title for a grain. */
export function grainTitle(g: Grain): string {
  return `Messages and conversations per ${g}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * A bucket's label from its `start` as the API gives it: "14:00" (an hour: the local clock
 * time the server bucketed, offset ignored), "3 Nov" (a day, or the Monday a week starts on,
 * or the first day of a clipped week), "Nov 2026" (a month; a clipped first month too).
 */
export function bucketLabel(start: string, g: Grain): string {
  if (g === "hour") return /T(\d{2}:\d{2})/.exec(start)?.[1] ?? start;
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(start);
  if (!m) return start;
  const month = MONTHS[Number(m[2]) - 1] ?? m[2];
  if (g === "month") return `${month} ${m[1]}`;
  return `${Number(m[3])} ${month}`;
}

/** A bucket's label with its year where a tooltip needs it: "14:00", "3 Nov 2026", "week of 3 Nov 2026", "Nov 2026". */
export function bucketLongLabel(start: string, g: Grain): string {
  const year = start.slice(0, 4);
  switch (g) {
    case "hour":
      return `${start.slice(0, 10)} ${bucketLabel(start, g)}`;
    case "day":
      return `${bucketLabel(start, g)} ${year}`;
    case "week":
      return `week of ${bucketLabel(start, g)} ${year}`;
    case "month":
      return bucketLabel(start, g);
  }
}
