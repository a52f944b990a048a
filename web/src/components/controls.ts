// The view controls: date presets and a custom range, the time zone, the environment, the
// active filters as removable chips, and a form to add one. Every change becomes a new URL.

import { html, nothing, type TemplateResult } from "lit-html";
import { dimensionValueName } from "../charts/labels";
import {
  COMPARE_MODES,
  type DashboardState,
  FILTER_KEYS,
  FILTER_LABELS,
  type FilterKey,
  effectiveRange,
  environmentOptions,
  filterValueOptions,
  withFilter,
} from "../state/dashboard-state";
import { RANGE_PRESETS, type RangePreset, browserTimeZone, isDay, timeZones } from "../state/dates";

/** What the controls need. */
export interface ControlsSpec {
  state: DashboardState;
  environments: string[];
  /** Known values per dimension, offered while typing a filter. */
  suggestions: Partial<Record<FilterKey, string[]>>;
  go: (s: DashboardState) => void;
  /** Show the comparison control (the overview). */
  compare?: boolean;
  /** Extra things on the right of the bar (the live indicator). */
  extra?: TemplateResult | typeof nothing;
}

let zones: string[] | null = null;

/** The controls bar and the chips. */
export function controls(c: ControlsSpec): TemplateResult {
  const s = c.state;
  const browserTz = browserTimeZone();
  const r = effectiveRange(s, new Date(), browserTz);
  zones ??= timeZones();
  const tz = s.tz ?? browserTz;
  const zoneList = zones.includes(tz) ? zones : [tz, ...zones];
  const setPreset = (p: RangePreset) =>
    c.go(p === "custom" ? { ...s, range: "custom", from: r.from, to: r.to } : { ...s, range: p, from: null, to: null });
  const setDay = (which: "from" | "to") => (e: Event) => {
    const v = (e.target as HTMLInputElement).value;
    if (!isDay(v)) return;
    const next = { ...s, range: "custom" as const, from: r.from, to: r.to, [which]: v };
    if (next.from > next.to) [next.from, next.to] = [next.to, next.from];
    c.go(next);
  };
  const setTz = (e: Event) => {
    const v = (e.target as HTMLSelectElement).value;
    c.go({ ...s, tz: v === browserTz ? null : v });
  };
  const setCompare = (e: Event) => {
    const v = (e.target as HTMLSelectElement).value;
    const mode = COMPARE_MODES.find((m) => m.value === v)?.value ?? null;
    c.go({ ...s, compare: mode, overlay: mode ? s.overlay : false });
  };
  const setEnv = (e: Event) => c.go(withFilter(s, "environment", (e.target as HTMLSelectElement).value || null));
  const addFilter = (e: Event) => {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const key = (form.elements.namedItem("key") as HTMLSelectElement).value as FilterKey;
    const input = form.elements.namedItem("value") as HTMLInputElement;
    const value = input.value.trim();
    if (!value) return;
    input.value = "";
    c.go(withFilter(s, key, value));
  };
  const chips = FILTER_KEYS.filter((k) => k !== "environment" && s.filters[k] !== undefined);
  return html`<div class="controls" role="group" aria-label="View">
      <div class="seg" role="group" aria-label="Date range">
        ${RANGE_PRESETS.map(
          (p) => html`<button type="button" aria-pressed=${s.range === p.value ? "true" : "false"} data-range=${p.value}
            @click=${() => setPreset(p.value)}>${p.label}</button>`,
        )}
      </div>
      ${s.range === "custom"
        ? html`<span class="group">
            <label class="sr-only" for="from">From</label>
            <input id="from" type="date" .value=${r.from} max=${r.to} @change=${setDay("from")} />
            <span aria-hidden="true">–</span>
            <label class="sr-only" for="to">To</label>
            <input id="to" type="date" .value=${r.to} min=${r.from} @change=${setDay("to")} />
          </span>`
        : html`<span class="muted" data-range-label>${r.from === r.to ? r.from : `${r.from} – ${r.to}`}</span>`}
      <span class="group">
        <label for="tz">Time zone</label>
        <select id="tz" @change=${setTz}>
          ${zoneList.map((z) => html`<option value=${z} ?selected=${z === tz}>${z}${z === browserTz ? " (yours)" : ""}</option>`)}
        </select>
      </span>
      <span class="group">
        <label for="env">Environment</label>
        <select id="env" @change=${setEnv}>
          ${environmentOptions(c.environments, s.filters.environment).map(
            (o) => html`<option value=${o.value} ?selected=${o.selected}>${o.label}</option>`,
          )}
        </select>
      </span>
      ${c.compare
        ? html`<span class="group">
            <label for="compare">Compare</label>
            <select id="compare" @change=${setCompare}>
              <option value="" ?selected=${s.compare === null}>Nothing</option>
              ${COMPARE_MODES.map((m) => html`<option value=${m.value} ?selected=${s.compare === m.value}>${m.label}</option>`)}
            </select>
          </span>`
        : nothing}
      <span class="spacer"></span>
      ${c.extra ?? nothing}
    </div>
    <div class="chips" aria-label="Filters">
      ${chips.map((k) => {
        const v = s.filters[k] ?? "";
        return html`<span class="chip" data-filter=${k}>
          <span>${FILTER_LABELS[k]}: <b>${dimensionValueName(k, v)}</b></span>
          <button type="button" aria-label="Remove filter ${FILTER_LABELS[k]}" @click=${() => c.go(withFilter(s, k, null))}>×</button>
        </span>`;
      })}
      <form class="add-filter" @submit=${addFilter}>
        <label class="sr-only" for="filter-key">Filter on</label>
        <select id="filter-key" name="key">
          ${FILTER_KEYS.filter((k) => k !== "environment").map((k) => html`<option value=${k}>${FILTER_LABELS[k]}</option>`)}
        </select>
        <label class="sr-only" for="filter-value">Value</label>
        <input id="filter-value" name="value" type="text" list="filter-values" placeholder="value" maxlength="255" />
        <datalist id="filter-values">
          ${filterValueOptions(c.suggestions).map((v) => html`<option value=${v}></option>`)}
        </datalist>
        <button class="btn small" type="submit">Add filter</button>
      </form>
    </div>`;
}
