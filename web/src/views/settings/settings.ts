// Settings (admin): the agents (create; each links to its own page), the dashboard users (create
// viewers, assign agents, change role, delete), and your own password.

import { html, nothing, render, type TemplateResult } from "lit-html";
import { ApiError } from "../../api/client";
import { changePassword, createAgent, createUser, deleteUser, listUsers, updateUser } from "../../api/endpoints";
import type { DashUser, Role } from "../../api/types";
import { agentTitle, topbar } from "../../components/shell";
import type { AppContext, View } from "../../context";
import { paths } from "../../router";
import { formatInstant, browserTimeZone } from "../../state/dates";

const msg = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));

/** Mounts the settings page. */
export function mountSettings(root: HTMLElement, ctx: AppContext): View {
  let users: DashUser[] | null = null;
  let usersError: string | null = null;
  let agentError: string | null = null;
  let userError: string | null = null;
  let pwError: string | null = null;
  let editing: number | null = null;

  async function loadUsers(): Promise<void> {
    try {
      users = await listUsers();
      usersError = null;
    } catch (e) {
      usersError = msg(e);
    }
    draw();
  }

  async function addAgent(e: Event): Promise<void> {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const input = f.elements.namedItem("name") as HTMLInputElement;
    try {
      const a = await createAgent(input.value.trim());
      agentError = null;
      input.value = "";
      await ctx.refreshAgents();
      ctx.toast(`Agent ${a.name} created.`);
    } catch (err) {
      agentError = msg(err);
    }
    draw();
  }

  function checkedAgents(f: HTMLFormElement): number[] {
    return Array.from(f.querySelectorAll<HTMLInputElement>('input[name="agents"]:checked')).map((i) => Number(i.value));
  }

  async function addUser(e: Event): Promise<void> {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const get = (n: string) => (f.elements.namedItem(n) as HTMLInputElement).value;
    try {
      const u = await createUser({
        email: get("email").trim(),
        password: get("password"),
        role: get("role") as Role,
        agents: checkedAgents(f),
      });
      userError = null;
      f.reset();
      ctx.toast(`User ${u.email} created.`);
      await loadUsers();
    } catch (err) {
      userError = msg(err);
      draw();
    }
  }

  async function saveUser(e: Event, u: DashUser): Promise<void> {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const role = (f.elements.namedItem("role") as HTMLSelectElement).value as Role;
    try {
      await updateUser(u.id, { role, agents: checkedAgents(f) });
      editing = null;
      userError = null;
      ctx.toast(`Saved ${u.email}.`);
      await loadUsers();
    } catch (err) {
      userError = msg(err);
      draw();
    }
  }

  async function removeUser(u: DashUser): Promise<void> {
    if (!window.confirm(`Delete the user ${u.email}? Their sessions end at once.`)) return;
    try {
      await deleteUser(u.id);
      ctx.toast(`Deleted ${u.email}.`);
      await loadUsers();
    } catch (err) {
      ctx.toast(msg(err), "error");
    }
  }

  async function password(e: Event): Promise<void> {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const get = (n: string) => (f.elements.namedItem(n) as HTMLInputElement).value;
    if (get("new_password") !== get("new_password2")) {
      pwError = "The new passwords differ.";
      draw();
      return;
    }
    try {
      await changePassword(get("current_password"), get("new_password"));
      pwError = null;
      f.reset();
      ctx.toast("Password changed; your other sessions were signed out.");
    } catch (err) {
      pwError = msg(err);
    }
    draw();
  }

  const agentChecks = (selected: number[]): TemplateResult => html`<fieldset class="field" style="border:none;padding:0;margin:0 0 12px">
    <legend class="muted" style="font-size:0.9rem">Agents (for viewers)</legend>
    ${ctx.agents.length === 0 ? html`<span class="muted">No agents yet.</span>` : nothing}
    ${ctx.agents.map(
      (a) => html`<label class="check" style="margin-right:12px"><input type="checkbox" name="agents" value=${a.id} ?checked=${selected.includes(a.id)} />
        ${agentTitle(a)}</label>`,
    )}
  </fieldset>`;

  function userRow(u: DashUser): TemplateResult {
    const me = ctx.session?.user.id === u.id;
    if (editing === u.id)
      return html`<tr data-user=${u.id}><td colspan="4">
        <form @submit=${(e: Event) => void saveUser(e, u)}>
          <b>${u.email}</b>
          <div class="row" style="margin:8px 0">
            <div class="field"><label for="role-${u.id}">Role</label>
              <select id="role-${u.id}" name="role">
                <option value="viewer" ?selected=${u.role === "viewer"}>viewer</option>
                <option value="admin" ?selected=${u.role === "admin"}>admin</option>
              </select></div>
          </div>
          ${agentChecks(u.agents)}
          <button class="btn primary" type="submit">Save</button>
          <button class="btn" type="button" @click=${() => { editing = null; draw(); }}>Cancel</button>
        </form></td></tr>`;
    return html`<tr data-user=${u.id}>
      <td>${u.email}${me ? html` <span class="badge">you</span>` : nothing}</td>
      <td><span class="badge">${u.role}</span></td>
      <td>${u.role === "admin" ? html`<span class="muted">all agents</span>` : u.agents.map((id) => ctx.agents.find((a) => a.id === id)).filter(Boolean).map((a) => agentTitle(a!)).join(", ") || html`<span class="muted">none</span>`}</td>
      <td style="white-space:nowrap">
        <button class="btn small" @click=${() => { editing = u.id; draw(); }}>Edit</button>
        ${me ? nothing : html`<button class="btn small danger" @click=${() => void removeUser(u)}>Delete</button>`}
      </td>
    </tr>`;
  }

  function view(): TemplateResult {
    const tz = browserTimeZone();
    return html`${topbar(ctx, null, "settings")}
      <main id="main" tabindex="-1">
        <h1>Settings</h1>
        <p><a class="btn" href=${paths.alertsSettings()} data-link="alerts">Alerts and notifications</a></p>
        <section class="card" aria-labelledby="h-agents">
          <h2 id="h-agents">Agents</h2>
          <div class="table-wrap"><table class="list" data-table="settings-agents">
            <thead><tr><th scope="col">Agent</th><th scope="col" class="hide-sm">Created</th><th scope="col"></th></tr></thead>
            <tbody>
              ${ctx.agents.map(
                (a) => html`<tr data-agent=${a.id}>
                  <td>${agentTitle(a)}${a.branding.display_name ? html` <span class="muted">(${a.name})</span>` : nothing}</td>
                  <td class="hide-sm">${formatInstant(a.created_at, tz)}</td>
                  <td style="white-space:nowrap"><a class="btn small" href=${paths.agentSettings(a.id)}>Keys, sharing, branding</a>
                    <a class="btn small" href=${paths.overview(a.id)}>Overview</a></td>
                </tr>`,
              )}
            </tbody>
          </table></div>
          <form class="row" style="margin-top:12px" @submit=${(e: Event) => void addAgent(e)}>
            <div class="field"><label for="new-agent">New agent</label>
              <input id="new-agent" name="name" type="text" maxlength="255" required placeholder="support-bot" /></div>
            <button class="btn primary" type="submit">Create agent</button>
          </form>
          ${agentError ? html`<div class="form-error" role="alert" style="margin-top:8px">${agentError}</div>` : nothing}
        </section>

        <section class="card" aria-labelledby="h-users">
          <h2 id="h-users">Users</h2>
          <p class="muted">Admins see every agent and change settings; viewers see only their agents, read-only.</p>
          ${usersError ? html`<div class="form-error" role="alert">${usersError}</div>` : nothing}
          ${users
            ? html`<div class="table-wrap"><table class="list" data-table="users">
                <thead><tr><th scope="col">E-mail</th><th scope="col">Role</th><th scope="col">Agents</th><th scope="col"></th></tr></thead>
                <tbody>${users.map(userRow)}</tbody>
              </table></div>`
            : html`<p class="muted">Loading…</p>`}
          <h3>Add a user</h3>
          <form @submit=${(e: Event) => void addUser(e)} data-form="new-user">
            <div class="row" style="margin-bottom:12px">
              <div class="field"><label for="u-email">E-mail</label><input id="u-email" name="email" type="email" required autocomplete="off" /></div>
              <div class="field"><label for="u-password">Password</label><input id="u-password" name="password" type="password" minlength="10" required autocomplete="new-password" /></div>
              <div class="field"><label for="u-role">Role</label>
                <select id="u-role" name="role"><option value="viewer">viewer</option><option value="admin">admin</option></select></div>
            </div>
            ${agentChecks([])}
            <button class="btn primary" type="submit">Create user</button>
          </form>
          ${userError ? html`<div class="form-error" role="alert" style="margin-top:8px">${userError}</div>` : nothing}
        </section>

        <section class="card" aria-labelledby="h-pw">
          <h2 id="h-pw">Your password</h2>
          <form class="row" @submit=${(e: Event) => void password(e)}>
            <div class="field"><label for="pw-cur">Current</label><input id="pw-cur" name="current_password" type="password" required autocomplete="current-password" /></div>
            <div class="field"><label for="pw-new">New</label><input id="pw-new" name="new_password" type="password" minlength="10" required autocomplete="new-password" /></div>
            <div class="field"><label for="pw-new2">New again</label><input id="pw-new2" name="new_password2" type="password" required autocomplete="new-password" /></div>
            <button class="btn" type="submit">Change password</button>
          </form>
          ${pwError ? html`<div class="form-error" role="alert" style="margin-top:8px">${pwError}</div>` : nothing}
        </section>
      </main>`;
  }

  function draw(): void {
    document.title = "Settings · AgentSight";
    render(view(), root);
  }
  draw();
  void loadUsers();
  return { update: draw, dispose: () => undefined };
}
