// The overview's "LLM usage" section (SDK 0.1.x token usage, `GET /api/metrics/llm/`): tokens
// by kind, cost by model, cost per day, cost per conversation (average, p95) and the most
// expensive conversations linked to their transcripts, each cost beside the date of the price
// table it was computed with. Owns its fetch and its charts; the overview only places it.

import { html, nothing, type TemplateResult } from "lit-html";
import { LatestFetch } from "../../api/client";
import { getLlmMetrics } from "../../api/endpoints";
import type { LlmMetricsResponse } from "../../api/types";
import { ChartHosts } from "../../charts/chart-host";
import { type WidgetState, widget } from "../../components/widget";
import { formatCount, formatExact } from "../../format";
import { costDailyIsEmpty, formatUsd, llmIsEmpty, pricesNote, tokenKinds } from "./llm-format";
import { MODEL_LIMIT, costByModelOption, costDailyOption } from "./llm-options";

/** Where the section lives. */
export interface LlmSectionOptions {
  /** The page's root (the section's charts are looked up in it). */
  root: HTMLElement;
  /** The agent id for the API (null on a share page). */
  agentId: number | null;
  /** A transcript's link, or null where transcripts cannot be read (share pages). */
  transcriptHref: ((pk: number) => string) | null;
  /** Renders the page again (the section is part of its template). */
  redraw: () => void;
  /** For PNG file names. */
  title: string;
}

const EMPTY = html`<span data-llm-empty>No LLM data in this range. Token usage and cost come from LLM calls tracked
  with SDK 0.1.x (<code>agentsight.init()</code> with the OpenAI or Anthropic instrumentation, or
  <code>turn.llm_call(…)</code>) or OpenTelemetry GenAI spans sent to <code>/v1/traces</code>.</span>`;

type ChartId = "llm-daily" | "llm-models";

/** A cost with its exact value and the price table, as the section shows every cost. */
function cost(decimal: string | null, priceTable: string, attr: string): TemplateResult {
  return html`<span class="usd" data-usd=${attr} data-exact=${decimal ?? ""} title=${decimal === null ? "" : `${decimal} USD, ${pricesNote(priceTable)}`}
    >${formatUsd(decimal)}</span>`;
}

/** The LLM usage section of one overview. */
export class LlmSection {
  private readonly fetched = new LatestFetch<LlmMetricsResponse>();
  private get data() {
    return this.fetched.data;
  }
  private get error() {
    return this.fetched.error;
  }
  private get loading() {
    return this.fetched.loading;
  }
  private readonly hosts = new ChartHosts<ChartId>(() => this.o.root);
  private lastParams: Record<string, string> = {};

  constructor(private readonly o: LlmSectionOptions) {}

  /** Fetches for the overview's query parameters (a newer call aborts an older one). */
  async load(params: Record<string, string>): Promise<void> {
    this.lastParams = params;
    if (!(await this.fetched.run((signal) => getLlmMetrics(this.o.agentId, params, signal)))) return;
    this.o.redraw();
    this.paint();
  }

  private state(empty: boolean): WidgetState {
    if (this.error) return "error";
    if (!this.data) return "loading";
    return empty ? "empty" : "ready";
  }

  private png(id: ChartId, name: string): () => void {
    return () => {
      const r = this.data;
      if (r) this.hosts.download(id, `${this.o.title}-${name}-${r.range.from}-${r.range.to}.png`);
    };
  }

  /** The section's template. */
  view(): TemplateResult {
    const r = this.data;
    const retry = () => void this.load(this.lastParams);
    const err = this.error ?? undefined;
    const head = html`<div class="section-head"><h2 class="section-title" id="h-llm">LLM usage</h2>
      ${r && !llmIsEmpty(r) ? html`<span class="sub" data-price-table=${r.price_table}>costs at ${pricesNote(r.price_table)}</span>` : nothing}</div>`;
    if (this.loading || !r || llmIsEmpty(r) || this.error) {
      const state: WidgetState = this.error ? "error" : this.loading && !r ? "loading" : "empty";
      return html`<section class="llm-section" data-section="llm" aria-labelledby="h-llm">
        ${head}
        <div class="grid">
          ${widget({ id: "llm", title: "LLM calls, tokens and cost", size: "w12", state, empty: EMPTY, error: err, onRetry: retry })}
        </div>
      </section>`;
    }
    const p = r.price_table;
    const t = r.totals;
    const pc = r.per_conversation;
    const note = pricesNote(p);
    return html`<section class="llm-section" data-section="llm" aria-labelledby="h-llm">
      ${head}
      <div class="grid">
        ${widget({
          id: "llm-cost",
          title: "LLM cost",
          sub: note,
          size: "w4",
          state: "ready",
          empty: EMPTY,
          body: html`<dl class="llm-figures" data-llm-figures>
            <div><dt>Total cost</dt><dd>${cost(t.cost_usd, p, "total")}</dd></div>
            <div><dt>LLM calls</dt><dd data-count="calls" data-value=${t.calls}>${formatExact(t.calls)}</dd></div>
            <div><dt>Conversations with a cost</dt><dd data-count="conversations" data-value=${pc.conversations}>${formatExact(pc.conversations)}</dd></div>
            <div><dt>Cost per conversation, average</dt><dd>${cost(pc.average_cost_usd, p, "average")}</dd></div>
            <div><dt>Cost per conversation, p95</dt><dd>${cost(pc.p95_cost_usd, p, "p95")}</dd></div>
            <div><dt>Failed calls</dt><dd data-count="errors" data-value=${t.errors} class=${t.errors > 0 ? "bad" : ""}>${formatExact(t.errors)}</dd></div>
            ${t.unpriced_calls > 0
              ? html`<div><dt>Calls of unpriced models (not in the cost)</dt><dd data-count="unpriced" data-value=${t.unpriced_calls}>${formatExact(t.unpriced_calls)}</dd></div>`
              : nothing}
          </dl>`,
        })}
        ${widget({
          id: "llm-daily",
          title: "LLM cost per day",
          sub: note,
          size: "w8",
          state: this.state(costDailyIsEmpty(r)),
          empty: html`<span>No priced LLM calls in this range.</span>`,
          error: err,
          onRetry: retry,
          chart: "",
          onPng: this.png("llm-daily", "llm-cost-per-day"),
          body: html`<details class="llm-days">
            <summary>As a table</summary>
            <table class="mini-table" data-table="llm-daily">
              <thead><tr><th scope="col">Day</th><th class="num" scope="col">Calls</th><th class="num" scope="col">Tokens</th><th class="num" scope="col">Cost</th></tr></thead>
              <tbody>
                ${r.daily.map(
                  (d) => html`<tr data-date=${d.date}>
                    <td>${d.date}</td>
                    <td class="num" data-calls=${d.calls}>${formatExact(d.calls)}</td>
                    <td class="num" data-tokens=${d.total_tokens}>${formatExact(d.total_tokens)}</td>
                    <td class="num">${cost(d.cost_usd, p, "day")}</td>
                  </tr>`,
                )}
              </tbody>
            </table>
          </details>`,
        })}
        ${widget({
          id: "llm-tokens",
          title: "Tokens by kind",
          sub: `${formatCount(t.total_tokens)} in all`,
          size: "w4",
          state: "ready",
          empty: EMPTY,
          body: html`<table class="mini-table" data-table="llm-tokens">
            <thead><tr><th scope="col">Kind</th><th class="num" scope="col">Tokens</th></tr></thead>
            <tbody>
              ${tokenKinds(t).map(
                (k) => html`<tr data-kind=${k.field}>
                  <td>${k.subsetOf ? html`<span class="muted">of which</span> ${k.label.toLowerCase()} <span class="muted">(in ${k.subsetOf})</span>` : k.label}</td>
                  <td class="num" data-value=${k.tokens}>${formatExact(k.tokens)}</td>
                </tr>`,
              )}
              <tr data-kind="total_tokens"><th scope="row">Total</th><td class="num" data-value=${t.total_tokens}><b>${formatExact(t.total_tokens)}</b></td></tr>
            </tbody>
          </table>`,
        })}
        ${widget({
          id: "llm-models",
          title: "Cost by model",
          sub: note,
          size: "w4",
          state: "ready",
          empty: EMPTY,
          chart: "",
          onPng: this.png("llm-models", "llm-cost-by-model"),
          body: html`<table class="mini-table" data-table="llm-models">
            <thead><tr><th scope="col">Model</th><th class="num" scope="col">Calls</th><th class="num" scope="col">Tokens</th><th class="num" scope="col">Cost</th></tr></thead>
            <tbody>
              ${r.by_model.slice(0, MODEL_LIMIT).map(
                (m) => html`<tr data-model=${m.model}>
                  <td class="model">${m.model}</td>
                  <td class="num" data-calls=${m.calls}>${formatExact(m.calls)}</td>
                  <td class="num" data-tokens=${m.total_tokens} title=${formatExact(m.total_tokens)}>${formatCount(m.total_tokens)}</td>
                  <td class="num">${m.unpriced_calls === m.calls && m.calls > 0 ? html`<span class="muted" data-usd="model" data-exact=${m.cost_usd} title="not in the price table">unpriced</span>` : cost(m.cost_usd, p, "model")}</td>
                </tr>`,
              )}
            </tbody>
          </table>`,
        })}
        ${widget({
          id: "llm-top",
          title: "Most expensive conversations",
          sub: note,
          size: "w4",
          state: "ready",
          empty: EMPTY,
          body: this.topTable(r),
        })}
      </div>
    </section>`;
  }

  private topTable(r: LlmMetricsResponse): TemplateResult {
    if (r.top_conversations.length === 0) {
      return html`<p class="muted" data-llm-top-note>${this.o.transcriptHref
        ? "No conversation has a priced LLM call in this range."
        : "Conversations are not shown on a shared link."}</p>`;
    }
    const href = this.o.transcriptHref;
    return html`<table class="mini-table" data-table="llm-top">
      <thead><tr><th scope="col">Conversation</th><th class="num" scope="col">Calls</th><th class="num" scope="col">Tokens</th><th class="num" scope="col">Cost</th></tr></thead>
      <tbody>
        ${r.top_conversations.map(
          (c) => html`<tr data-conversation=${c.conversation}>
            <td class="cid">${href ? html`<a href=${href(c.conversation)}>${c.conversation_id}</a>` : c.conversation_id}</td>
            <td class="num" data-calls=${c.calls}>${formatExact(c.calls)}</td>
            <td class="num" data-tokens=${c.total_tokens} title=${formatExact(c.total_tokens)}>${formatCount(c.total_tokens)}</td>
            <td class="num">${cost(c.cost_usd, r.price_table, "conversation")}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
  }

  private host(id: ChartId) {
    return this.hosts.get(id);
  }

  /** Draws the charts (after the template is rendered). */
  paint(): void {
    const r = this.data;
    if (!r || llmIsEmpty(r)) return;
    if (!costDailyIsEmpty(r)) this.host("llm-daily")?.set(costDailyOption(r));
    this.host("llm-models")?.set(costByModelOption(r));
  }

  /** Stops fetching and frees the charts. */
  dispose(): void {
    this.fetched.stop();
    this.hosts.dispose();
  }
}
