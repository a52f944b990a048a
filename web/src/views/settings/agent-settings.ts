// One agent's settings (admin): name, escalation tool names, white-label (display name, logo,
// accent colour), API keys (create — shown once — and revoke), share links (create with an
// optional expiry, revoke), client reports (./client-reports.ts), retention and the audit log of
// removals.

import { html, nothing, render, type TemplateResult } from "lit-html";
import { ApiError } from "../../api/client";
import {
  createKey,
  createShare,
  listErasures,
  listKeys,
  listShares,
  logoSrc,
  revokeKey,
  revokeShare,
  updateAgent,
  type AgentPatch,
} from "../../api/endpoints";
import type { Agent, ApiKey, CreatedKey, CreatedShare, Erasure, Share } from "../../api/types";
import { agentTitle, topbar } from "../../components/shell";
import type { AppContext, View } from "../../context";
import { paths } from "../../router";
import { browserTimeZone, formatInstant } from "../../state/dates";
import { clientReports } from "./client-reports";

const msg = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));
/** The largest logo the server takes (decoded). */
const MAX_LOGO = 256 * 1024;

/** Splits the escalation textarea into tool names (one per line or comma-separated). */
export function parseToolList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter((s, i, a) => s !== "" && a.indexOf(s) === i);
}

/** The longest retention the server takes, in days. */
export const MAX_RETENTION_DAYS = 36_500;

/** The retention field's text as days (a whole number from 1 to {@link MAX_RETENTION_DAYS}),
 * or the message saying why it is not one. */
export function parseRetentionDays(text: string): { days: number } | { error: string } {
  const t = text.trim();
  if (!/^\d+$/.test(t)) return { error: "Enter a whole number of days." };
  const days = Number(t);
  if (days < 1 || days > MAX_RETENTION_DAYS) return { error: `Between 1 and ${MAX_RETENTION_DAYS} days.` };
  return { days };
}

/** Who removed, as the audit log's actor reads to a person. */
export function actorLabel(actor: string): string {
  if (actor === "retention") return "retention job";
  if (actor === "cli") return "command line";
  const [kind, id] = actor.split(":");
  if (kind === "key" && id) return `API key #${id}`;
  if (kind === "user" && id) return `user #${id}`;
  return actor;
}

/** Mounts the page of agent `id`. */
export function mountAgentSettings(root: HTMLElement, ctx: AppContext, id: number): View {
  let keys: ApiKey[] | null = null;
  let shares: Share[] | null = null;
  let erasures: Erasure[] | null = null;
  let newKey: CreatedKey | null = null;
  let newShare: CreatedShare | null = null;
  const errors: Record<string, string | null> = {};
  const agent = (): Agent | undefined => ctx.agents.find((a) => a.id === id);
  const tz = browserTimeZone();
  const reports = clientReports(ctx, id, () => draw());

  async function loadLists(): Promise<void> {
    try {
      [keys, shares, erasures] = await Promise.all([listKeys(id), listShares(id), listErasures(id)]);
      errors.lists = null;
    } catch (e) {
      errors.lists = msg(e);
    }
    draw();
  }

  async function patch(section: string, p: AgentPatch, done: string): Promise<void> {
    try {
      await updateAgent(id, p);
      errors[section] = null;
      await ctx.refreshAgents();
      ctx.toast(done);
    } catch (e) {
      errors[section] = msg(e);
    }
    draw();
  }

  const field = (f: HTMLFormElement, n: string) => (f.elements.namedItem(n) as HTMLInputElement).value;

  async function saveBranding(e: Event): Promise<void> {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const display = field(f, "display_name").trim();
    const useAccent = (f.elements.namedItem("use_accent") as HTMLInputElement).checked;
    const branding: AgentPatch["branding"] = {
      display_name: display === "" ? null : display,
      accent_color: useAccent ? field(f, "accent_color") : null,
    };
    const file = (f.elements.namedItem("logo") as HTMLInputElement).files?.[0];
    if (file) {
      if (file.size > MAX_LOGO) {
        errors.branding = `The logo is ${Math.round(file.size / 1024)} KiB; at most 256 KiB.`;
        draw();
        return;
      }
      branding.logo = await readDataUrl(file);
    }
    await patch("branding", { branding }, "Branding saved.");
  }

  async function saveRetention(e: Event): Promise<void> {
    e.preventDefault();
    const r = parseRetentionDays(field(e.target as HTMLFormElement, "days"));
    if ("error" in r) {
      errors.retention = r.error;
      draw();
      return;
    }
    await patch("retention", { retention_days: r.days }, `Conversations are kept ${r.days} days.`);
  }

  async function addKey(role: "write" | "read"): Promise<void> {
    try {
      newKey = await createKey(id, role);
      errors.keys = null;
      await loadLists();
    } catch (e) {
      errors.keys = msg(e);
      draw();
    }
  }

  async function dropKey(k: ApiKey): Promise<void> {
    if (!window.confirm(`Revoke the key ${k.prefix}…? Apps using it stop working within a second.`)) return;
    try {
      await revokeKey(k.id);
      ctx.toast(`Key ${k.prefix} revoked.`);
      if (newKey?.id === k.id) newKey = null;
      await loadLists();
    } catch (e) {
      ctx.toast(msg(e), "error");
    }
  }

  async function addShare(e: Event): Promise<void> {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const label = field(f, "label").trim();
    const exp = field(f, "expires");
    try {
      newShare = await createShare(id, {
        label: label === "" ? null : label,
        expires_at: exp ? new Date(exp).toISOString() : null,
      });
      errors.shares = null;
      f.reset();
      await loadLists();
    } catch (err) {
      errors.shares = msg(err);
      draw();
    }
  }

  async function dropShare(s: Share): Promise<void> {
    if (!window.confirm(`Revoke the share link ${s.label ?? s.token_prefix}? It stops working at once.`)) return;
    try {
      await revokeShare(s.id);
      ctx.toast("Share link revoked.");
      await loadLists();
    } catch (e) {
      ctx.toast(msg(e), "error");
    }
  }

  const err = (k: string) => (errors[k] ? html`<div class="form-error" role="alert" style="margin-top:8px">${errors[k]}</div>` : nothing);
  const copy = (text: string) => () => {
    void navigator.clipboard?.writeText(text).then(
      () => ctx.toast("Copied."),
      () => ctx.toast("Copy failed: select the text and copy it.", "error"),
    );
  };

  function view(): TemplateResult {
    const a = agent();
    if (!a)
      return html`${topbar(ctx, null, "settings")}<main id="main"><div class="card"><p>No such agent.</p>
        <a href=${paths.settings()}>Back to settings</a></div></main>`;
    const b = a.branding;
    const logo = logoSrc(b);
    const shareUrl = newShare ? new URL(newShare.url, location.origin).toString() : "";
    return html`${topbar(ctx, null, "settings")}
      <main id="main" tabindex="-1">
        <p><a href=${paths.settings()}>← Settings</a></p>
        <div class="page-head"><h1>${agentTitle(a)}</h1><span class="sub">agent #${a.id} · <a href=${paths.overview(a.id)}>overview</a></span></div>

        <section class="card" aria-labelledby="h-name">
          <h2 id="h-name">Name</h2>
          <form class="row" @submit=${(e: Event) => {
            e.preventDefault();
            void patch("name", { name: field(e.target as HTMLFormElement, "name").trim() }, "Renamed.");
          }}>
            <div class="field"><label for="agent-name">Name</label>
              <input id="agent-name" name="name" type="text" maxlength="255" required .value=${a.name} /></div>
            <button class="btn primary" type="submit">Rename</button>
          </form>
          ${err("name")}
        </section>

        <section class="card" aria-labelledby="h-esc">
          <h2 id="h-esc">Human escalation</h2>
          <p class="muted">A conversation counts as escalated when it has an action with one of these names.
            ${a.escalation_tools_default ? "This is the default list." : "This agent has its own list."}</p>
          <form @submit=${(e: Event) => {
            e.preventDefault();
            const tools = parseToolList(field(e.target as HTMLFormElement, "tools"));
            void patch("esc", { escalation_tools: tools }, "Escalation tools saved.");
          }}>
            <div class="field"><label for="esc-tools">Tool names, one per line</label>
              <textarea id="esc-tools" name="tools" rows="4" .value=${a.escalation_tools.join("\n")}></textarea></div>
            <button class="btn primary" type="submit">Save</button>
            <button class="btn" type="button" ?disabled=${a.escalation_tools_default}
              @click=${() => void patch("esc", { escalation_tools: null }, "Default list restored.")}>Restore default</button>
          </form>
          ${err("esc")}
        </section>

        <section class="card" aria-labelledby="h-retention">
          <h2 id="h-retention">Retention</h2>
          <p class="muted">${a.retention_days === null
            ? "Conversations are kept for ever."
            : `Conversations are removed, with everything in them, ${a.retention_days} days after their last event.`}
            The server checks every few minutes.</p>
          <form class="row" @submit=${(e: Event) => void saveRetention(e)}>
            <div class="field"><label for="ret-days">Keep for (days)</label>
              <input id="ret-days" name="days" type="number" min="1" max=${MAX_RETENTION_DAYS} step="1" required
                .value=${a.retention_days === null ? "" : String(a.retention_days)} /></div>
            <button class="btn primary" type="submit">Save</button>
            <button class="btn" type="button" ?disabled=${a.retention_days === null}
              @click=${() => void patch("retention", { retention_days: null }, "Conversations are kept for ever.")}>Keep for ever</button>
          </form>
          ${err("retention")}
          <h3 style="margin-top:16px">Removals</h3>
          ${erasures
            ? erasures.length === 0
              ? html`<p class="muted">Nothing removed yet.</p>`
              : html`<div class="table-wrap"><table class="list" data-table="erasures">
                  <thead><tr><th scope="col">When</th><th scope="col">Why</th><th scope="col">By</th><th scope="col">Conversations</th><th scope="col" class="hide-sm">Messages</th></tr></thead>
                  <tbody>
                    ${erasures.map(
                      (r) => html`<tr data-erasure=${r.id}>
                        <td>${formatInstant(r.at, tz)}</td>
                        <td>${r.kind === "erase" ? "customer's erase" : "retention"}</td>
                        <td>${actorLabel(r.actor)}</td>
                        <td>${r.conversations}</td><td class="hide-sm">${r.messages}</td>
                      </tr>`,
                    )}
                  </tbody>
                </table></div>`
            : html`<p class="muted">Loading…</p>`}
        </section>

        <section class="card" aria-labelledby="h-brand">
          <h2 id="h-brand">White-label</h2>
          <p class="muted">Shown to this agent's viewers and on its share links.</p>
          <form @submit=${(e: Event) => void saveBranding(e)}>
            <div class="row" style="margin-bottom:12px">
              <div class="field"><label for="b-name">Display name</label>
                <input id="b-name" name="display_name" type="text" maxlength="100" .value=${b.display_name ?? ""} placeholder=${a.name} /></div>
              <div class="field"><label for="b-accent">Accent colour</label>
                <span class="row"><input id="b-accent" name="accent_color" type="color" .value=${b.accent_color ?? "#0072b2"} />
                <label class="check"><input type="checkbox" name="use_accent" .checked=${b.accent_color !== null} /> use it</label></span></div>
              <div class="field"><label for="b-logo">Logo (PNG, JPEG, WebP or SVG, ≤ 256 KiB)</label>
                <input id="b-logo" name="logo" type="file" accept="image/png,image/jpeg,image/webp,image/svg+xml" /></div>
              ${logo ? html`<div class="field"><span class="muted" style="font-size:0.85rem">Current logo</span><img class="logo-preview" src=${logo} alt="Current logo" /></div>` : nothing}
            </div>
            <button class="btn primary" type="submit">Save branding</button>
            ${logo ? html`<button class="btn" type="button" @click=${() => void patch("branding", { branding: { logo: null } }, "Logo removed.")}>Remove logo</button>` : nothing}
          </form>
          ${err("branding")}
        </section>

        <section class="card" aria-labelledby="h-keys">
          <h2 id="h-keys">API keys</h2>
          <p class="muted">Write keys send data with the SDK; read keys only read. Keys are stored hashed: a new key is shown once.</p>
          ${newKey
            ? html`<div class="notice" data-new-key>
                <b>New ${newKey.role} key — copy it now, it is not shown again:</b>
                <div class="secret"><code data-secret>${newKey.key}</code><button class="btn small" @click=${copy(newKey.key)}>Copy</button>
                  <button class="btn small" @click=${() => { newKey = null; draw(); }}>Done</button></div>
              </div>`
            : nothing}
          ${keys
            ? html`<div class="table-wrap"><table class="list" data-table="keys">
                <thead><tr><th scope="col">Key</th><th scope="col">Role</th><th scope="col" class="hide-sm">Created</th><th scope="col">State</th><th scope="col"></th></tr></thead>
                <tbody>
                  ${keys.map(
                    (k) => html`<tr data-key=${k.id}>
                      <td class="mono">${k.prefix}…</td><td>${k.role}</td>
                      <td class="hide-sm">${formatInstant(k.created_at, tz)}</td>
                      <td>${k.revoked_at ? html`<span class="badge bad">revoked</span>` : html`<span class="badge ok">active</span>`}</td>
                      <td>${k.revoked_at ? nothing : html`<button class="btn small danger" @click=${() => void dropKey(k)}>Revoke</button>`}</td>
                    </tr>`,
                  )}
                </tbody>
              </table></div>`
            : html`<p class="muted">Loading…</p>`}
          <div class="row" style="margin-top:10px">
            <button class="btn primary" @click=${() => void addKey("write")}>New write key</button>
            <button class="btn" @click=${() => void addKey("read")}>New read key</button>
          </div>
          ${err("keys")}${err("lists")}
        </section>

        <section class="card" aria-labelledby="h-shares">
          <h2 id="h-shares">Share links</h2>
          <p class="muted">A share link shows this agent's overview, read-only, to anyone who has it — no account, no transcripts.</p>
          ${newShare
            ? html`<div class="notice" data-new-share>
                <b>New share link — copy it now, it is not shown again:</b>
                <div class="secret"><code data-share-url>${shareUrl}</code><button class="btn small" @click=${copy(shareUrl)}>Copy</button>
                  <a class="btn small" href=${newShare.url} target="_blank" rel="noopener">Open</a>
                  <button class="btn small" @click=${() => { newShare = null; draw(); }}>Done</button></div>
              </div>`
            : nothing}
          ${shares
            ? shares.length === 0
              ? html`<p class="muted">No share links yet.</p>`
              : html`<div class="table-wrap"><table class="list" data-table="shares">
                  <thead><tr><th scope="col">Label</th><th scope="col" class="hide-sm">Token</th><th scope="col">Expires</th><th scope="col">State</th><th scope="col"></th></tr></thead>
                  <tbody>
                    ${shares.map((s) => {
                      const expired = s.expires_at !== null && Date.parse(s.expires_at) <= Date.now();
                      return html`<tr data-share=${s.id}>
                        <td>${s.label ?? html`<span class="muted">–</span>`}</td>
                        <td class="mono hide-sm">${s.token_prefix}…</td>
                        <td>${s.expires_at ? formatInstant(s.expires_at, tz) : "never"}</td>
                        <td>${s.revoked_at ? html`<span class="badge bad">revoked</span>` : expired ? html`<span class="badge warn">expired</span>` : html`<span class="badge ok">active</span>`}</td>
                        <td>${s.revoked_at ? nothing : html`<button class="btn small danger" @click=${() => void dropShare(s)}>Revoke</button>`}</td>
                      </tr>`;
                    })}
                  </tbody>
                </table></div>`
            : html`<p class="muted">Loading…</p>`}
          <form class="row" style="margin-top:10px" @submit=${(e: Event) => void addShare(e)}>
            <div class="field"><label for="s-label">Label</label><input id="s-label" name="label" type="text" maxlength="100" placeholder="Acme Inc." /></div>
            <div class="field"><label for="s-exp">Expires (optional)</label><input id="s-exp" name="expires" type="datetime-local" /></div>
            <button class="btn primary" type="submit">Create share link</button>
          </form>
          ${err("shares")}
        </section>

        ${reports.view()}
      </main>`;
  }

  function draw(): void {
    document.title = `${agent()?.name ?? "Agent"} · Settings · AgentSight`;
    render(view(), root);
  }
  draw();
  void loadLists();
  void reports.load();
  return { update: draw, dispose: () => undefined };
}

function readDataUrl(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error ?? new Error("could not read the file"));
    r.readAsDataURL(file);
  });
}
