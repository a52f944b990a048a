// The dashboard's view state, kept in the URL so a link reproduces the view: range, time zone,
// filters (overview and conversations) and the conversation list's own search and paging.
// Pure: parse URLSearchParams -> state, state -> canonical URLSearchParams, state -> API query.

import { type OutcomeFilter, outcomeApiParams, parseOutcome, writeOutcome } from "./outcome";
import { type DayRange, type RangePreset, RANGE_PRESETS, isDay, isTimeZone, presetRange } from "./dates";

/** Conversation dimensions the dashboard filters on (the metrics API's filter names). */
export const FILTER_KEYS = ["environment", "source", "device", "language", "country", "customer_id"] as const;
/** One filter dimension. */
export type FilterKey = (typeof FILTER_KEYS)[number];
/** Filters as set: one value per dimension; `unknown` matches a missing value. */
export type Filters = Partial<Record<FilterKey, string>>;

/** Labels of the filter dimensions. */
export const FILTER_LABELS: Record<FilterKey, string> = {
  environment: "Environment",
  source: "Source",
  device: "Device",
  language: "Language",
  country: "Country",
  customer_id: "Customer",
};

/** Range, zone and filters: shared by the overview and the conversations page. */
export interface DashboardState {
  /** The date preset; `custom` uses `from`/`to`. */
  range: RangePreset;
  /** First day of a custom range. */
  from: string | null;
  /** Last day of a custom range. */
  to: string | null;
  /** IANA zone chosen by the user; null means the browser's. */
  tz: string | null;
  /** Dimension filters. */
  filters: Filters;
  /** The range the overview is compared with (`compare=`), null for none. */
  compare: CompareMode | null;
  /** The daily chart overlays the compared range (`overlay=1`; only with `compare`). */
  overlay: boolean;
}

/** What the overview can be compared with (the metrics API's `compare=`). */
export type CompareMode = "previous" | "year";

/** The comparison choices, in the order the control shows them. */
export const COMPARE_MODES: ReadonlyArray<{ value: CompareMode; label: string; short: string }> = [
  { value: "previous", label: "Previous period", short: "vs previous period" },
  { value: "year", label: "A year earlier", short: "vs a year earlier" },
];

/** The conversation list's own controls, on top of the dashboard state. */
export interface ListState {
  /** Search in message text. */
  q: string;
  /** Only conversations with feedback. */
  hasFeedback: boolean;
  /** Only escalated (true), only not escalated (false), or both (null). */
  escalated: boolean | null;
  /** Only marked conversations. */
  marked: boolean;
  /** Only conversations where the bot failed this way (`outcome=`, src/state/outcome.ts). */
  outcome?: OutcomeFilter | null;
  /** Page, from 1. */
  page: number;
}

/** The default range when the URL names none. */
export const DEFAULT_RANGE: RangePreset = "30d";
/** Conversations per page of the list. */
export const PAGE_SIZE = 25;
/** Longest filter value or search the URL may carry (the API's own limit for ids). */
const MAX_VALUE = 255;

const PRESETS = new Set<string>(RANGE_PRESETS.map((p) => p.value));

function clean(v: string | null): string | null {
  if (v === null) return null;
  const t = v.trim();
  return t === "" || t.length > MAX_VALUE ? null : t;
}

/** Reads the dashboard state from a query string; anything malformed falls back to its default. */
export function parseDashboard(params: URLSearchParams): DashboardState {
  const rawRange = params.get("range") ?? "";
  let range: RangePreset = PRESETS.has(rawRange) ? (rawRange as RangePreset) : DEFAULT_RANGE;
  const from = clean(params.get("from"));
  const to = clean(params.get("to"));
  const goodFrom = from !== null && isDay(from) ? from : null;
  const goodTo = to !== null && isDay(to) ? to : null;
  // A link with only from/to (no range) means a custom range.
  if (!params.has("range") && (goodFrom || goodTo)) range = "custom";
  const tz = clean(params.get("tz"));
  const filters: Filters = {};
  for (const k of FILTER_KEYS) {
    const v = clean(params.get(k));
    if (v !== null) filters[k] = k === "country" ? v.toUpperCase() : v;
  }
  const rawCompare = params.get("compare");
  const compare = COMPARE_MODES.find((m) => m.value === rawCompare)?.value ?? null;
  return {
    range,
    from: range === "custom" ? goodFrom : null,
    to: range === "custom" ? goodTo : null,
    tz: tz !== null && isTimeZone(tz) ? tz : null,
    filters,
    compare,
    overlay: compare !== null && params.get("overlay") === "1",
  };
}

/** Reads the list controls from a query string. */
export function parseList(params: URLSearchParams): ListState {
  const esc = params.get("escalated");
  const page = Number.parseInt(params.get("page") ?? "1", 10);
  return {
    q: clean(params.get("q")) ?? "",
    hasFeedback: params.get("feedback") === "1",
    escalated: esc === "1" ? true : esc === "0" ? false : null,
    marked: params.get("marked") === "1",
    page: Number.isFinite(page) && page >= 1 && page <= 100_000 ? page : 1,
    ...outcomeOf(params),
  };
}

/** `{ outcome }` when the query string names one (left out otherwise). */
function outcomeOf(params: URLSearchParams): { outcome?: OutcomeFilter } {
  const o = parseOutcome(params);
  return o ? { outcome: o } : {};
}

/** The canonical query string of a state (defaults left out, a fixed key order). */
export function dashboardSearch(s: DashboardState, list?: ListState): URLSearchParams {
  const p = new URLSearchParams();
  if (s.range !== DEFAULT_RANGE) p.set("range", s.range);
  if (s.range === "custom") {
    if (s.from) p.set("from", s.from);
    if (s.to) p.set("to", s.to);
  }
  if (s.tz) p.set("tz", s.tz);
  if (s.compare) {
    p.set("compare", s.compare);
    if (s.overlay) p.set("overlay", "1");
  }
  for (const k of FILTER_KEYS) {
    const v = s.filters[k];
    if (v !== undefined && v !== "") p.set(k, v);
  }
  if (list) {
    if (list.q) p.set("q", list.q);
    if (list.hasFeedback) p.set("feedback", "1");
    if (list.escalated !== null) p.set("escalated", list.escalated ? "1" : "0");
    if (list.marked) p.set("marked", "1");
    writeOutcome(p, list.outcome);
    if (list.page > 1) p.set("page", String(list.page));
  }
  return p;
}

/** The same state with one filter set (replacing that dimension's value). */
export function withFilter(s: DashboardState, key: FilterKey, value: string | null): DashboardState {
  const filters: Filters = { ...s.filters };
  if (value === null || value === "") delete filters[key];
  else filters[key] = key === "country" ? value.toUpperCase() : value;
  return { ...s, filters };
}

/** One choice of the environment control. */
export interface EnvironmentOption {
  /** The filter value (`""`: no filter). */
  value: string;
  label: string;
  selected: boolean;
}

/**
 * The environment control's choices: All, the agent's environments, then Unknown (the filter
 * value `unknown`, which matches conversations stored without an environment, as SDK 0.1.x
 * sends them unless told one). A filter value the agent does not list (a link from before an
 * environment was removed) stays a choice, so the control shows what is applied.
 */
export function environmentOptions(environments: string[], selected: string | undefined): EnvironmentOption[] {
  const sel = selected?.trim() ?? "";
  const isUnknown = (v: string) => v.toLowerCase() === "unknown";
  const slugs = environments.filter((e, i, a) => e !== "" && !isUnknown(e) && a.indexOf(e) === i);
  const opts: EnvironmentOption[] = [{ value: "", label: "All", selected: sel === "" }];
  for (const e of slugs) opts.push({ value: e, label: e, selected: sel === e });
  if (sel !== "" && !isUnknown(sel) && !slugs.includes(sel)) opts.push({ value: sel, label: sel, selected: true });
  opts.push({ value: "unknown", label: "Unknown (none set)", selected: isUnknown(sel) });
  return opts;
}

/**
 * The add-filter field's suggestions: the values seen in the data (each once, in order), then
 * `unknown`, the value that matches conversations with none set (the field's placeholder is
 * only "value", so the suggestion is where a user finds it).
 */
export function filterValueOptions(suggestions: Partial<Record<string, string[]>>): string[] {
  const seen = Object.values(suggestions)
    .flat()
    .filter((v): v is string => typeof v === "string" && v !== "");
  const out = seen.filter((v, i, a) => a.indexOf(v) === i && v.toLowerCase() !== "unknown");
  out.push("unknown");
  return out;
}

/** The filter value a chart's group stands for: its value, or `unknown` for the null group. */
export function filterValue(v: string | null | undefined): string {
  return v === null || v === undefined || v === "" ? "unknown" : v;
}

/** The range in effect: the preset resolved in the zone on `now`. */
export function effectiveRange(s: DashboardState, now: Date, browserTz: string): DayRange & { tz: string } {
  const tz = s.tz ?? browserTz;
  const r = presetRange(s.range, now, tz, { from: s.from ?? undefined, to: s.to ?? undefined });
  return { ...r, tz };
}

/** Query parameters of the metrics API for this state (with `compare` when one is chosen). */
export function metricsParams(s: DashboardState, now: Date, browserTz: string): Record<string, string> {
  const r = effectiveRange(s, now, browserTz);
  const out: Record<string, string> = { from: r.from, to: r.to, tz: r.tz };
  for (const k of FILTER_KEYS) {
    const v = s.filters[k];
    if (v) out[k] = v;
  }
  if (s.compare) out.compare = s.compare;
  return out;
}

/** Query parameters of the conversation list (and its CSV export) for this state. */
export function listParams(s: DashboardState, l: ListState, now: Date, browserTz: string): Record<string, string> {
  const r = effectiveRange(s, now, browserTz);
  const out: Record<string, string> = { from: r.from, to: r.to, tz: r.tz };
  for (const k of FILTER_KEYS) {
    const v = s.filters[k];
    if (v) out[k] = v;
  }
  if (l.q) out.q = l.q;
  if (l.hasFeedback) out.has_feedback = "true";
  if (l.escalated !== null) out.escalated = String(l.escalated);
  if (l.marked) out.is_marked = "true";
  Object.assign(out, outcomeApiParams(l.outcome));
  out.page = String(l.page);
  out.page_size = String(PAGE_SIZE);
  return out;
}
