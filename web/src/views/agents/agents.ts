// The agent picker: every agent the user may see, with a link to its overview.

import { html, render } from "lit-html";
import { topbar, agentTitle } from "../../components/shell";
import type { AppContext, View } from "../../context";
import { canEdit } from "../../context";
import { paths } from "../../router";

/** Mounts the picker. */
export function mountAgents(root: HTMLElement, ctx: AppContext): View {
  const draw = () => {
    document.title = "Agents · AgentSight";
    render(
      html`${topbar(ctx, null, "agents")}
        <main id="main" tabindex="-1">
          <h1>Agents</h1>
          ${ctx.agents.length === 0
            ? html`<div class="card">
                <p>No agents ${canEdit(ctx) ? "yet" : "are assigned to you"}.</p>
                ${canEdit(ctx)
                  ? html`<p>Create one under <a href=${paths.settings()}>Settings</a>, or with
                      <code>agentsight agent create NAME</code>.</p>`
                  : html`<p>Ask an admin to give you access to an agent.</p>`}
              </div>`
            : html`<div class="card table-wrap">
                <table class="list" data-table="agents">
                  <thead><tr><th scope="col">Agent</th><th scope="col" class="hide-sm">Environments</th><th scope="col"></th></tr></thead>
                  <tbody>
                    ${ctx.agents.map(
                      (a) => html`<tr data-agent=${a.id}>
                        <td><a href=${paths.overview(a.id)}>${agentTitle(a)}</a>
                          ${a.branding.display_name ? html`<span class="muted"> (${a.name})</span>` : ""}</td>
                        <td class="hide-sm">${a.environments.join(", ")}</td>
                        <td><a href=${paths.conversations(a.id)}>Conversations</a></td>
                      </tr>`,
                    )}
                  </tbody>
                </table>
              </div>`}
        </main>`,
      root,
    );
  };
  draw();
  return { update: draw, dispose: () => undefined };
}
