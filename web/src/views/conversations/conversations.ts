// The conversation list of one agent: the dashboard's range and filters (shared with the overview
// through the URL), a search in message text, feedback / escalated / marked filters, paging, and
// CSV export of everything that matches.

import { html, nothing, render, type TemplateResult } from "lit-html";
import { ApiError, isAbort } from "../../api/client";
import { exportUrl, listConversations } from "../../api/endpoints";
import type { Agent, Conversation, Page } from "../../api/types";
import { countryName } from "../../charts/labels";
import { controls } from "../../components/controls";
import { topbar } from "../../components/shell";
import { stateView } from "../../components/widget";
import type { AppContext, View } from "../../context";
import { formatExact } from "../../format";
import { paths } from "../../router";
import {
  type DashboardState,
  type ListState,
  dashboardSearch,
  listParams,
  parseDashboard,
  parseList,
} from "../../state/dashboard-state";
import { browserTimeZone, formatInstant } from "../../state/dates";
import { OUTCOMES, type OutcomeKind, describeOutcome } from "../../state/outcome";

/** Mounts the list. */
export function mountConversations(root: HTMLElement, ctx: AppContext, agent: Agent): View {
  let state: DashboardState = parseDashboard(new URLSearchParams(location.search));
  let list: ListState = parseList(new URLSearchParams(location.search));
  let page: Page<Conversation> | null = null;
  let loading = true;
  let error: string | null = null;
  let requested = "";
  let abort: AbortController | null = null;

  const go = (s: DashboardState, l: ListState) => {
    const q = dashboardSearch(s, l).toString();
    ctx.navigate(paths.conversations(agent.id, q));
  };
  const tz = () => state.tz ?? browserTimeZone();

  async function load(): Promise<void> {
    const params = listParams(state, list, new Date(), browserTimeZone());
    requested = JSON.stringify(params);
    abort?.abort();
    const ac = new AbortController();
    abort = ac;
    loading = true;
    draw();
    try {
      page = await listConversations(agent.id, params, ac.signal);
      error = null;
    } catch (e) {
      if (isAbort(e)) return;
      error = e instanceof ApiError ? e.message : String(e);
      page = null;
    }
    if (!ac.signal.aborted) {
      loading = false;
      draw();
    }
  }

  const search = (e: Event) => {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const q = (f.elements.namedItem("q") as HTMLInputElement).value.trim();
    go(state, { ...list, q, page: 1 });
  };

  function row(c: Conversation): TemplateResult {
    const href = paths.transcript(agent.id, c.id, dashboardSearch(state, list).toString());
    const where = c.geo_location?.city
      ? `${c.geo_location.city}, ${countryName(c.geo_location.country)}`
      : c.geo_location?.country
        ? countryName(c.geo_location.country)
        : "–";
    return html`<tr data-conversation=${c.id}>
      <td>
        ${c.is_marked ? html`<span class="star" title="Marked" aria-label="Marked">★</span> ` : nothing}
        <a class="clip" href=${href} title=${c.conversation_id}>${c.name || c.conversation_id}</a>
        ${c.name ? html`<div class="muted mono clip hide-sm">${c.conversation_id}</div>` : nothing}
      </td>
      <td>${formatInstant(c.started_at, tz())}</td>
      <td class="num" data-messages=${c.message_count}>${formatExact(c.message_count)}</td>
      <td class="hide-sm">${c.customer_id ?? "–"}</td>
      <td class="hide-sm">${c.device ?? "–"}</td>
      <td class="hide-sm">${c.source ?? "–"}</td>
      <td class="hide-sm">${c.language ?? "–"}</td>
      <td class="hide-sm">${where}</td>
      <td class="hide-sm">${c.environment ?? "–"}</td>
    </tr>`;
  }

  function view(): TemplateResult {
    const params = listParams(state, list, new Date(), browserTimeZone());
    const empty = html`<span>No conversations match. ${
      list.q || list.hasFeedback || list.marked || list.escalated !== null || list.outcome || Object.keys(state.filters).length
        ? "Loosen the search or the filters, or pick a wider range."
        : html`Send some with the SDK: <code>tracker.get_or_create_conversation("c-1")</code>, then
            <code>track_human_message</code> and <code>send_tracked_data()</code>.`
    }</span>`;
    const st = loading && !page ? "loading" : error ? "error" : page && page.results.length === 0 ? "empty" : "ready";
    return html`${topbar(ctx, agent, "conversations")}
      <main id="main" tabindex="-1">
        <div class="page-head"><h1>Conversations</h1>
          ${page ? html`<span class="sub" data-count=${page.count}>${formatExact(page.count)} matching</span>` : nothing}
        </div>
        ${controls({ state, environments: agent.environments, suggestions: { device: ["desktop", "tablet", "mobile"] }, go: (s) => go(s, { ...list, page: 1 }) })}
        <div class="controls" role="group" aria-label="Conversation filters">
          <form class="group" role="search" @submit=${search}>
            <label class="sr-only" for="q">Search in messages</label>
            <input id="q" name="q" type="search" placeholder="Search in messages" .value=${list.q} maxlength="255" />
            <button class="btn" type="submit">Search</button>
          </form>
          <label class="check"><input type="checkbox" name="feedback" .checked=${list.hasFeedback}
            @change=${(e: Event) => go(state, { ...list, hasFeedback: (e.target as HTMLInputElement).checked, page: 1 })} /> Has feedback</label>
          <label class="check"><input type="checkbox" name="marked" .checked=${list.marked}
            @change=${(e: Event) => go(state, { ...list, marked: (e.target as HTMLInputElement).checked, page: 1 })} /> Marked</label>
          <span class="group">
            <label for="escalated">Escalated</label>
            <select id="escalated" @change=${(e: Event) => {
              const v = (e.target as HTMLSelectElement).value;
              go(state, { ...list, escalated: v === "" ? null : v === "1", page: 1 });
            }}>
              <option value="" ?selected=${list.escalated === null}>Any</option>
              <option value="1" ?selected=${list.escalated === true}>Escalated</option>
              <option value="0" ?selected=${list.escalated === false}>Not escalated</option>
            </select>
          </span>
          <span class="group">
            <label for="outcome">Where the bot failed</label>
            <select id="outcome" data-control="outcome" @change=${(e: Event) => {
              const v = (e.target as HTMLSelectElement).value as OutcomeKind | "";
              go(state, { ...list, outcome: v === "" ? null : { kind: v, idle: null, tool: null, turns: null }, page: 1 });
            }}>
              <option value="" ?selected=${!list.outcome}>Any</option>
              ${OUTCOMES.map((o) => html`<option value=${o.value} ?selected=${list.outcome?.kind === o.value}>${o.label}</option>`)}
            </select>
          </span>
          ${list.outcome && (list.outcome.idle !== null || list.outcome.tool !== null || list.outcome.turns !== null)
            ? html`<span class="outcome-chip badge" data-outcome-chip>${describeOutcome(list.outcome)}
                <button class="btn small" type="button" aria-label="Clear the failure filter"
                  @click=${() => go(state, { ...list, outcome: null, page: 1 })}>×</button></span>`
            : nothing}
          <span class="spacer"></span>
          <span class="group">
            <a class="btn" href=${exportUrl("conversations", agent.id, params)} download data-export="conversations">Export conversations (CSV)</a>
            <a class="btn" href=${exportUrl("messages", agent.id, params)} download data-export="messages">Export messages (CSV)</a>
          </span>
        </div>
        <div class="card">
          ${st === "ready" && page
            ? html`<div class="table-wrap"><table class="list" data-table="conversations">
                <thead><tr>
                  <th scope="col">Conversation</th><th scope="col">Started</th><th scope="col" class="num">Messages</th>
                  <th scope="col" class="hide-sm">Customer</th><th scope="col" class="hide-sm">Device</th>
                  <th scope="col" class="hide-sm">Source</th><th scope="col" class="hide-sm">Language</th>
                  <th scope="col" class="hide-sm">Location</th><th scope="col" class="hide-sm">Environment</th>
                </tr></thead>
                <tbody>${page.results.map(row)}</tbody>
              </table></div>
              <nav class="pager" aria-label="Pages">
                <button class="btn" ?disabled=${page.current_page <= 1} @click=${() => go(state, { ...list, page: page!.current_page - 1 })}>← Newer</button>
                <span class="info" data-page=${page.current_page}>Page ${page.current_page} of ${Math.max(1, page.total_pages)}</span>
                <button class="btn" ?disabled=${page.current_page >= page.total_pages} @click=${() => go(state, { ...list, page: page!.current_page + 1 })}>Older →</button>
                ${loading ? html`<span class="muted">Loading…</span>` : nothing}
              </nav>`
            : stateView(st, empty, error ?? undefined, () => void load(), true)}
        </div>
      </main>`;
  }

  function draw(): void {
    document.title = `Conversations · ${agent.name} · AgentSight`;
    render(view(), root);
  }

  draw();
  void load();
  return {
    update() {
      state = parseDashboard(new URLSearchParams(location.search));
      list = parseList(new URLSearchParams(location.search));
      if (JSON.stringify(listParams(state, list, new Date(), browserTimeZone())) !== requested) void load();
      else draw();
    },
    dispose() {
      abort?.abort();
    },
  };
}
