// The overview's "Where the bot fails" section (`GET /api/metrics/failures/`, docs/metrics.md):
// unanswered and abandoned conversations, tool errors by tool, escalations by turn, the most
// frequent first questions. Every figure opens the conversation list filtered to the
// conversations it counted (not on a share page, which reads no conversations). Owns its fetch.

import { html, nothing, type TemplateResult } from "lit-html";
import { LatestFetch } from "../../api/client";
import { getFailures } from "../../api/endpoints";
import type { FailuresResponse } from "../../api/types";
import { type WidgetState, widget } from "../../components/widget";
import { formatExact, formatPercent } from "../../format";
import type { DashboardState } from "../../state/dashboard-state";
import { type OutcomeFilter, formatMinutes } from "../../state/outcome";
import { barWidths, failuresIsEmpty, figureOutcome, outcomeSearch, turnsLabel } from "./failures-model";

/** Where the section lives. */
export interface FailuresSectionOptions {
  /** The agent id for the API (null on a share page). */
  agentId: number | null;
  /** The conversation list's link for a query string, or null on share pages. */
  listHref: ((search: string) => string) | null;
  /** A transcript's link, or null on share pages. */
  transcriptHref: ((pk: number) => string) | null;
  /** The overview's state now (range and filters the links carry). */
  state: () => DashboardState;
  /** Renders the page again. */
  redraw: () => void;
}

const EMPTY = html`<span>No conversations in this range. Unanswered and abandoned conversations come from
  <code>track_human_message</code> / <code>track_agent_message</code> (or SDK 0.1.x turns), tool errors
  from actions with an <code>error_msg</code> (or tool spans with the status <code>error</code>).</span>`;

/** The section of one overview. */
export class FailuresSection {
  private readonly fetched = new LatestFetch<FailuresResponse>();
  private get data() {
    return this.fetched.data;
  }
  private get error() {
    return this.fetched.error;
  }
  private get loading() {
    return this.fetched.loading;
  }
  private lastParams: Record<string, string> = {};

  constructor(private readonly o: FailuresSectionOptions) {}

  /** Fetches for the overview's parameters (`compare` is not asked: the section has no comparison). */
  async load(params: Record<string, string>): Promise<void> {
    const { compare: _compare, ...rest } = params;
    const idle = new URLSearchParams(location.search).get("idle");
    const asked = idle && /^\d+$/.test(idle) ? { ...rest, idle_minutes: idle } : rest;
    this.lastParams = params;
    if (!(await this.fetched.run((signal) => getFailures(this.o.agentId, asked, signal)))) return;
    this.o.redraw();
  }

  /** A count that opens its conversations (plain text on a share page). */
  private link(n: number, outcome: OutcomeFilter, label: string, attr: string): TemplateResult {
    const text = formatExact(n);
    const href = this.o.listHref;
    if (!href) return html`<span data-figure=${attr} data-value=${n}>${text}</span>`;
    return html`<a href=${href(outcomeSearch(this.o.state(), outcome))} data-figure=${attr} data-value=${n}
      title=${`Open the ${label} conversations`} aria-label=${`${text} ${label} conversations: open the list`}>${text}</a>`;
  }

  /** The section's template. */
  view(): TemplateResult {
    const r = this.data;
    const retry = () => void this.load(this.lastParams);
    const head = html`<div class="section-head"><h2 class="section-title" id="h-failures">Where the bot fails</h2>
      ${r ? html`<span class="sub" data-idle=${r.idle_minutes}>unanswered and abandoned after ${formatMinutes(r.idle_minutes)} of quiet</span>` : nothing}</div>`;
    if (this.loading || !r || this.error || failuresIsEmpty(r)) {
      const state: WidgetState = this.error ? "error" : this.loading && !r ? "loading" : "empty";
      return html`<section class="failures-section" data-section="failures" aria-labelledby="h-failures">
        ${head}
        <div class="grid">
          ${widget({ id: "failures", title: "Unanswered, abandoned, tool errors, escalations", size: "w12", state, empty: EMPTY, error: this.error ?? undefined, onRetry: retry })}
        </div>
      </section>`;
    }
    const u = r.unanswered;
    const a = r.abandoned;
    const te = r.tool_errors;
    const esc = r.escalations;
    const widths = barWidths(esc.by_turns.map((b) => b.conversations));
    return html`<section class="failures-section" data-section="failures" aria-labelledby="h-failures">
      ${head}
      <div class="grid">
        ${widget({
          id: "failures-outcomes",
          title: "Unanswered and abandoned",
          sub: `of ${formatExact(r.settled)} settled conversations with a user message`,
          size: "w4",
          state: "ready",
          empty: EMPTY,
          body: html`<dl class="llm-figures" data-failures-figures>
            <div><dt>Unanswered <span class="muted">(the last user message got no reply)</span></dt>
              <dd class=${u.conversations > 0 ? "bad" : ""}>${this.link(u.conversations, figureOutcome(r, "unanswered"), "unanswered", "unanswered")}
                <span class="muted" data-rate="unanswered">${formatPercent(u.rate)}</span></dd></div>
            <div><dt>Abandoned <span class="muted">(no reply from the user after the bot's)</span></dt>
              <dd>${this.link(a.conversations, figureOutcome(r, "abandoned"), "abandoned", "abandoned")}
                <span class="muted" data-rate="abandoned">${formatPercent(a.rate)}</span></dd></div>
            <div><dt>Still live <span class="muted">(active in the last ${formatMinutes(r.idle_minutes)})</span></dt>
              <dd data-figure="awaiting" data-value=${r.awaiting}>${formatExact(r.awaiting)}</dd></div>
            <div><dt>Conversations with a tool error</dt>
              <dd>${this.link(te.conversations, figureOutcome(r, "tool_error"), "tool error", "tool_error")}</dd></div>
          </dl>`,
        })}
        ${widget({
          id: "failures-tools",
          title: "Tool errors by tool",
          sub: `${formatExact(te.errors)} of ${formatExact(te.calls)} calls failed`,
          size: "w4",
          state: te.tools.length === 0 ? "empty" : "ready",
          empty: html`<span>No tool call failed in this range.</span>`,
          body: html`<div class="table-wrap"><table class="mini-table" data-table="tool-errors">
            <thead><tr><th scope="col">Tool</th><th class="num" scope="col">Errors</th><th class="num" scope="col">Rate</th><th class="num" scope="col">Conversations</th></tr></thead>
            <tbody>
              ${te.tools.map(
                (t) => html`<tr data-tool=${t.name}>
                  <td class="model">${t.name}</td>
                  <td class="num" data-errors=${t.errors} title=${`${formatExact(t.errors)} of ${formatExact(t.calls)} calls`}>${formatExact(t.errors)}</td>
                  <td class="num">${formatPercent(t.error_rate)}</td>
                  <td class="num">${this.link(t.conversations, figureOutcome(r, "tool_error", { tool: t.name }), `${t.name} error`, "tool_conversations")}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>`,
        })}
        ${widget({
          id: "failures-escalations",
          title: "Escalated after N user messages",
          sub: `${formatExact(esc.conversations)} escalated (${formatPercent(esc.rate)})`,
          size: "w4",
          state: esc.conversations === 0 ? "empty" : "ready",
          empty: html`<span>No conversation escalated to a human in this range (the agent's escalation actions, Settings).</span>`,
          body: html`<div class="table-wrap"><table class="mini-table turns" data-table="escalation-turns">
            <thead><tr><th scope="col">User messages before</th><th scope="col">Conversations</th></tr></thead>
            <tbody>
              ${esc.by_turns.map(
                (b, i) => html`<tr data-turns=${turnsLabel(b)}>
                  <td>${turnsLabel(b)}</td>
                  <td><span class="bar" style=${`width:${widths[i]}%`} aria-hidden="true"></span>
                    ${b.conversations > 0
                      ? this.link(b.conversations, figureOutcome(r, "escalated", { turns: { min: b.turns, max: b.or_more ? null : b.turns } }), `escalated after ${turnsLabel(b)} user messages`, "turns")
                      : html`<span class="muted">0</span>`}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>`,
        })}
        ${widget({
          id: "failures-questions",
          title: "Most frequent first questions",
          sub: `${formatExact(r.first_questions.distinct)} distinct among ${formatExact(r.first_questions.conversations)} conversations; numbers, ids and e-mails masked`,
          size: "w12",
          state: r.first_questions.conversations === 0 ? "empty" : "ready",
          empty: html`<span>No user message in this range.</span>`,
          body: this.questions(r),
        })}
      </div>
    </section>`;
  }

  private questions(r: FailuresResponse): TemplateResult {
    if (r.first_questions.top.length === 0) {
      return html`<p class="muted" data-questions-note>${this.o.transcriptHref ? "No first question has any words left once normalized." : "Questions are not shown on a shared link: they are what end users typed."}</p>`;
    }
    const t = this.o.transcriptHref;
    return html`<div class="table-wrap"><table class="mini-table" data-table="first-questions">
      <thead><tr><th scope="col">First question (normalized)</th><th class="num" scope="col">Conversations</th><th scope="col">Example</th></tr></thead>
      <tbody>
        ${r.first_questions.top.map(
          (q) => html`<tr data-question=${q.question}>
            <td class="question">${q.question}</td>
            <td class="num" data-value=${q.conversations}>${formatExact(q.conversations)}</td>
            <td class="cid">${t ? html`<a href=${t(q.sample_conversation)}>${q.sample_conversation_id}</a>` : q.sample_conversation_id}</td>
          </tr>`,
        )}
      </tbody>
    </table></div>`;
  }

  /** Stops fetching. */
  dispose(): void {
    this.fetched.stop();
  }
}
