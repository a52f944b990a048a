// The top bar: the agent (with its white-label name and logo), the pages of that agent, an
// agent switcher, settings for admins, and the user with sign-out. Share pages get a bar with
// the agent only.

import { html, nothing, type TemplateResult } from "lit-html";
import { logoSrc } from "../api/endpoints";
import type { Agent, Branding } from "../api/types";
import type { AppContext } from "../context";
import { paths } from "../router";

/** Which page of the agent is open. */
export type Section = "overview" | "conversations" | "settings" | "agents" | "none";

/** The name the agent is shown under: its display name, else its name. */
export function agentTitle(a: { name: string; branding?: Branding | null }): string {
  return a.branding?.display_name?.trim() || a.name;
}

/** The agent's mark and name; `compact` bars show only the mark on a phone (the page's heading
 * names the agent there), keeping the name for screen readers. */
function brand(title: string, b: Branding | null, href: string, compact = false): TemplateResult {
  const logo = b ? logoSrc(b) : null;
  return html`<a class=${compact ? "brand compact" : "brand"} href=${href} title=${title}>
    ${logo ? html`<img src=${logo} alt="" />` : html`<span class="dot" aria-hidden="true"></span>`}
    <span>${title}</span>
  </a>`;
}

function agentSwitcher(ctx: AppContext, agent: Agent, section: Section): TemplateResult | typeof nothing {
  if (ctx.agents.length < 2) return nothing;
  const go = (e: Event) => {
    const id = Number((e.target as HTMLSelectElement).value);
    const search = location.search.replace(/^\?/, "");
    ctx.navigate(section === "conversations" ? paths.conversations(id, search) : paths.overview(id, search));
  };
  return html`<label class="sr-only" for="agent-switch">Agent</label>
    <select id="agent-switch" @change=${go}>
      ${ctx.agents.map((a) => html`<option value=${a.id} ?selected=${a.id === agent.id}>${agentTitle(a)}</option>`)}
    </select>`;
}

/** The bar of a signed-in page; `agent` is the agent whose pages are open, if any. */
export function topbar(ctx: AppContext, agent: Agent | null, section: Section): TemplateResult {
  const user = ctx.session?.user;
  const admin = user?.role === "admin";
  const search = location.search.replace(/^\?/, "");
  const keep = section === "overview" || section === "conversations" ? search.replace(/(^|&)(q|feedback|escalated|marked|page)=[^&]*/g, "").replace(/^&/, "") : "";
  const cur = (s: Section) => (s === section ? "page" : undefined);
  return html`<header class="topbar">
    <div class="topbar-inner">
      ${agent ? brand(agentTitle(agent), agent.branding, paths.overview(agent.id), true) : brand("AgentSight", null, "/", true)}
      ${agent
        ? html`<nav class="nav" aria-label="Agent">
            <a href=${paths.overview(agent.id, keep)} aria-current=${cur("overview") ?? "false"}>Overview</a>
            <a href=${paths.conversations(agent.id, keep)} aria-current=${cur("conversations") ?? "false"}>Conversations</a>
          </nav>
          ${agentSwitcher(ctx, agent, section)}`
        : html`<nav class="nav" aria-label="Main"><a href=${paths.agents()} aria-current=${cur("agents") ?? "false"}>Agents</a></nav>`}
      <span class="spacer"></span>
      ${admin ? html`<nav class="nav" aria-label="Admin"><a href=${paths.settings()} aria-current=${cur("settings") ?? "false"}>Settings</a></nav>` : nothing}
      ${user
        ? html`<span class="user"><span class="email" title=${user.email}>${user.email}</span>
            <span class="badge">${user.role}</span>
            <button class="btn small" @click=${() => void ctx.signOut()}>Sign out</button></span>`
        : nothing}
    </div>
  </header>`;
}

/** The bar of a share page. */
export function shareTopbar(title: string, b: Branding | null): TemplateResult {
  return html`<header class="topbar">
    <div class="topbar-inner">
      ${brand(title, b, location.pathname)}
      <span class="spacer"></span>
      <span class="readonly-note">Read-only shared dashboard</span>
    </div>
  </header>`;
}
