// A dashboard widget: a titled card whose body is loading, empty (with how to send the data it
// shows), failed (with a retry), or ready (the chart and/or a table).

import { html, nothing, type TemplateResult } from "lit-html";

/** The four states of a widget. */
export type WidgetState = "loading" | "empty" | "error" | "ready";

/** What a widget shows. */
export interface WidgetSpec {
  id: string;
  title: string;
  sub?: string | TemplateResult | undefined;
  size?: "w4" | "w6" | "w8" | "w12";
  state: WidgetState;
  /** Shown in the empty state: what to send to fill this widget. */
  empty: TemplateResult;
  error?: string | undefined;
  onRetry?: () => void;
  /** Class of the chart element (`tall`, `map`); no chart when undefined. */
  chart?: string | undefined;
  /** Saves the chart as PNG. */
  onPng?: () => void;
  /** Shown under the chart when ready (tables, notes). */
  body?: TemplateResult | typeof nothing;
  /** Shown under the body in every state (attribution). */
  footer?: TemplateResult | typeof nothing;
  /** Extra buttons in the head, before PNG (a toggle). */
  actions?: TemplateResult | typeof nothing;
}

/** The overlay of a state (nothing when ready). */
export function stateView(
  state: WidgetState,
  empty: TemplateResult,
  error?: string,
  onRetry?: () => void,
  inline = false,
): TemplateResult | typeof nothing {
  const cls = inline ? "state inline" : "state";
  switch (state) {
    case "loading":
      return html`<div class=${cls} data-state="loading"><div class="spinner" aria-hidden="true"></div><span>Loading…</span></div>`;
    case "error":
      return html`<div class="${cls} error" data-state="error" role="alert">
        <span>Could not load this: ${error ?? "unknown error"}</span>
        ${onRetry ? html`<button class="btn small" @click=${onRetry}>Retry</button>` : nothing}
      </div>`;
    case "empty":
      return html`<div class=${cls} data-state="empty">${empty}</div>`;
    case "ready":
      return nothing;
  }
}

/** The widget card. The chart element is always there (hidden while not ready) so its ECharts
 * instance lives as long as the page. */
export function widget(w: WidgetSpec): TemplateResult {
  return html`<section class="widget ${w.size ?? "w4"}" data-widget=${w.id} data-state=${w.state} aria-labelledby="h-${w.id}">
    <div class="widget-head">
      <h2 id="h-${w.id}">${w.title}</h2>
      ${w.sub ? html`<span class="sub">${w.sub}</span>` : nothing}
      <div class="actions">
        ${w.actions ?? nothing}
        ${w.onPng && w.chart !== undefined
          ? html`<button class="btn small" ?disabled=${w.state !== "ready"} @click=${w.onPng}
              aria-label="Download ${w.title} as PNG" title="Download as PNG">PNG</button>`
          : nothing}
      </div>
    </div>
    <div class="widget-body">
      ${w.chart !== undefined
        ? html`<div class="chart ${w.chart} ${w.state === "ready" ? "" : "is-hidden"}" data-chart=${w.id} role="img"
            aria-label=${w.title}></div>`
        : nothing}
      ${w.state === "ready" ? (w.body ?? nothing) : nothing}
      ${stateView(w.state, w.empty, w.error, w.onRetry, w.chart === undefined)}
    </div>
    ${w.footer ?? nothing}
  </section>`;
}
