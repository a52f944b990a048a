// One conversation: its facts, the messages in order with tool calls, buttons and attachments
// inline, its feedback; admins can mark and rename it.

import { html, nothing, render, type TemplateResult } from "lit-html";
import { ApiError, isAbort } from "../../api/client";
import { attachmentUrl, getConversation, markConversation, renameConversation } from "../../api/endpoints";
import type { Agent, Attachment, ConversationDetail } from "../../api/types";
import { countryName } from "../../charts/labels";
import { topbar } from "../../components/shell";
import { stateView } from "../../components/widget";
import { type AppContext, type View, canEdit } from "../../context";
import { formatBytes, formatDuration } from "../../format";
import { paths } from "../../router";
import { parseDashboard } from "../../state/dashboard-state";
import { browserTimeZone, formatInstant, formatTime } from "../../state/dates";
import { type Entry, entries, isPreviewable, senderLabel, toolDuration } from "./entries";

/** Mounts the transcript of conversation `pk`. */
export function mountTranscript(root: HTMLElement, ctx: AppContext, agent: Agent, pk: number): View {
  let detail: ConversationDetail | null = null;
  let error: string | null = null;
  let loading = true;
  let renaming = false;
  let busy = false;
  const abort = new AbortController();
  const tz = () => parseDashboard(new URLSearchParams(location.search)).tz ?? browserTimeZone();
  const back = () => paths.conversations(agent.id, location.search.replace(/^\?/, ""));

  async function load(): Promise<void> {
    loading = true;
    draw();
    try {
      detail = await getConversation(agent.id, pk, abort.signal);
      error = null;
    } catch (e) {
      if (isAbort(e)) return;
      error = e instanceof ApiError ? (e.status === 404 ? "There is no such conversation for this agent." : e.message) : String(e);
    }
    loading = false;
    draw();
  }

  async function toggleMark(): Promise<void> {
    if (!detail) return;
    busy = true;
    draw();
    try {
      const c = await markConversation(agent.id, pk, !detail.is_marked);
      detail = { ...detail, is_marked: c.is_marked };
      ctx.toast(c.is_marked ? "Marked." : "Unmarked.");
    } catch (e) {
      ctx.toast(e instanceof Error ? e.message : String(e), "error");
    }
    busy = false;
    draw();
  }

  async function rename(e: Event): Promise<void> {
    e.preventDefault();
    if (!detail) return;
    const name = ((e.target as HTMLFormElement).elements.namedItem("name") as HTMLInputElement).value.trim();
    busy = true;
    draw();
    try {
      const c = await renameConversation(agent.id, pk, name);
      detail = { ...detail, name: c.name };
      renaming = false;
      ctx.toast("Renamed.");
    } catch (err) {
      ctx.toast(err instanceof Error ? err.message : String(err), "error");
    }
    busy = false;
    draw();
  }

  function files(list: Attachment[]): TemplateResult | typeof nothing {
    if (list.length === 0) return nothing;
    return html`<div class="attachments">
      ${list.map((a) => {
        const url = attachmentUrl(agent.id, a.id);
        return isPreviewable(a)
          ? html`<a href=${url} target="_blank" rel="noopener" data-attachment=${a.id} title=${a.filename}>
              <img src=${url} alt=${a.filename} loading="lazy" /></a>`
          : html`<a class="file" href=${url} download=${a.filename} data-attachment=${a.id}><span class="tag">File</span> ${a.filename}
              <span class="muted">${formatBytes(a.size_bytes)}</span></a>`;
      })}
    </div>`;
  }

  function entryView(e: Entry): TemplateResult {
    const time = formatTime(e.m.timestamp, tz());
    switch (e.kind) {
      case "message":
        return html`<div class="msg ${e.m.sender}" data-entry="message" data-sender=${e.m.sender}>
          <div class="meta">${senderLabel(e.m.sender)} · <time datetime=${e.m.timestamp}>${time}</time></div>
          <div class="text">${e.m.content}</div>${files(e.m.attachments)}
        </div>`;
      case "tool": {
        const a = e.action;
        const d = toolDuration(a);
        const err = a.error_message !== "";
        return html`<div class="event ${err ? "error" : ""}" data-entry="tool" data-tool=${a.action_name}>
          <span class="tag">Tool</span> <b>${a.action_name}</b>${d !== null ? html` · <span data-duration=${d}>${formatDuration(d)}</span>` : nothing}
          · <time datetime=${e.m.timestamp}>${time}</time>
          ${err ? html`<div class="bad" data-error>Error: ${a.error_message}</div>` : nothing}
          ${a.response || (a.tools_used && Object.keys(a.tools_used as object).length)
            ? html`<details><summary>Details</summary>
                ${a.tools_used && Object.keys(a.tools_used as object).length ? html`<div>Tools used</div><pre>${JSON.stringify(a.tools_used, null, 2)}</pre>` : nothing}
                ${a.response ? html`<div>Response</div><pre>${a.response}</pre>` : nothing}
              </details>`
            : nothing}
          ${files(e.m.attachments)}
        </div>`;
      }
      case "tokens":
        return html`<div class="event" data-entry="tokens"><span class="tag">Tokens</span> ${e.prompt ?? "?"} prompt + ${e.completion ?? "?"} completion
          = ${e.total ?? "?"} · <time datetime=${e.m.timestamp}>${time}</time></div>`;
      case "button":
        return html`<div class="event" data-entry="button"><span class="tag">Button</span> User pressed <b>${e.button.label}</b>
          ${e.button.value && e.button.value !== e.button.label ? html`(<code>${e.button.value}</code>)` : nothing}
          <span class="muted">${e.button.button_event}</span> · <time datetime=${e.m.timestamp}>${time}</time></div>`;
    }
  }

  function view(): TemplateResult {
    const d = detail;
    const c = d;
    const edit = canEdit(ctx);
    const duration = c?.ended_at ? Date.parse(c.ended_at) - Date.parse(c.started_at) : null;
    return html`${topbar(ctx, agent, "conversations")}
      <main id="main" tabindex="-1">
        <p><a href=${back()}>← All conversations</a></p>
        ${!d
          ? html`<div class="card">${stateView(loading ? "loading" : "error", html``, error ?? undefined, () => void load(), true)}</div>`
          : html`<div class="page-head">
                ${renaming
                  ? html`<form class="row" @submit=${rename}>
                      <div class="field"><label for="name">Name</label>
                        <input id="name" name="name" type="text" maxlength="255" .value=${c?.name ?? ""} required /></div>
                      <button class="btn primary" type="submit" ?disabled=${busy}>Save</button>
                      <button class="btn" type="button" @click=${() => { renaming = false; draw(); }}>Cancel</button>
                    </form>`
                  : html`<h1 data-name>${c?.is_marked ? html`<span class="star" aria-label="Marked">★</span> ` : nothing}${c?.name || c?.conversation_id}</h1>`}
                ${edit && !renaming
                  ? html`<button class="btn small" @click=${() => { renaming = true; draw(); }}>Rename</button>
                      <button class="btn small" data-action="mark" ?disabled=${busy} @click=${() => void toggleMark()}>
                        ${c?.is_marked ? "Unmark" : "Mark"}</button>`
                  : nothing}
              </div>
              <div class="two-col">
                <section class="card" aria-label="Messages">
                  <div class="transcript" data-transcript>
                    ${d.messages.length === 0 ? html`<p class="muted">No messages in this conversation yet.</p>` : entries(d.messages).map(entryView)}
                  </div>
                </section>
                <aside>
                  <section class="card" aria-label="Details">
                    <h2>Details</h2>
                    <dl class="facts">
                      <div><dt>Conversation id</dt><dd class="mono">${c?.conversation_id}</dd></div>
                      <div><dt>Customer</dt><dd>${c?.customer_id ?? "–"}</dd></div>
                      <div><dt>Started</dt><dd>${c ? formatInstant(c.started_at, tz()) : ""}</dd></div>
                      <div><dt>Ended</dt><dd>${c?.ended_at ? formatInstant(c.ended_at, tz()) : "–"}</dd></div>
                      <div><dt>Duration</dt><dd>${formatDuration(duration)}</dd></div>
                      <div><dt>Messages</dt><dd>${c?.message_count}</dd></div>
                      <div><dt>Device</dt><dd>${c?.device ?? "–"}</dd></div>
                      <div><dt>Source</dt><dd>${c?.source ?? "–"}</dd></div>
                      <div><dt>Language</dt><dd>${c?.language ?? "–"}</dd></div>
                      <div><dt>Location</dt><dd>${c?.geo_location ? [c.geo_location.city, countryName(c.geo_location.country)].filter(Boolean).join(", ") : "–"}</dd></div>
                      <div><dt>Environment</dt><dd>${c?.environment ?? "–"}</dd></div>
                      <div><dt>Used</dt><dd>${c?.is_used ? "yes" : "no (opened only)"}</dd></div>
                    </dl>
                    ${c && Object.keys(c.metadata).length
                      ? html`<h3>Metadata</h3><pre class="mono" style="white-space:pre-wrap;font-size:0.8rem">${JSON.stringify(c.metadata, null, 2)}</pre>`
                      : nothing}
                  </section>
                  <section class="card" aria-label="Feedback" data-feedbacks>
                    <h2>Feedback</h2>
                    ${d.feedbacks.length === 0
                      ? html`<p class="muted">No feedback records.${c && "feedback" in c.metadata ? html` Metadata says <code>${JSON.stringify(c.metadata.feedback)}</code>.` : ""}</p>`
                      : d.feedbacks.map(
                          (f) => html`<p data-sentiment=${f.sentiment}>
                            <span class="badge ${f.sentiment === "positive" ? "ok" : f.sentiment === "negative" ? "bad" : ""}">${f.sentiment}</span>
                            <span class="muted">${f.source} · ${formatInstant(f.created_at, tz())}</span>
                            ${f.comment ? html`<br />${f.comment}` : nothing}
                          </p>`,
                        )}
                  </section>
                </aside>
              </div>`}
      </main>`;
  }

  function draw(): void {
    document.title = `${detail ? detail.name || detail.conversation_id : "Conversation"} · AgentSight`;
    render(view(), root);
  }

  draw();
  void load();
  return { update: draw, dispose: () => abort.abort() };
}
