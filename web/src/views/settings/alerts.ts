// Settings › Alerts and notifications (admin): alert rules (create, enable, delete, send a
// test), their history (firing and resolved episodes), notification targets (webhooks and
// e-mail addresses, each with its latest send's outcome and a test button), the SMTP server
// (the password is write-only) and the sends log. docs/operations.md says what each does.

import { html, nothing, render, type TemplateResult } from "lit-html";
import { ApiError } from "../../api/client";
import {
  alertHistory,
  createRule,
  createTarget,
  deleteRule,
  deleteTarget,
  getSmtp,
  listRules,
  listSends,
  listTargets,
  putSmtp,
  setTargetEnabled,
  testRule,
  testSmtp,
  testTarget,
  updateRule,
  type AlertEvent,
  type AlertRule,
  type NotifyTarget,
  type Send,
  type Smtp,
} from "../../api/notify";
import { agentTitle, topbar } from "../../components/shell";
import type { AppContext, View } from "../../context";
import { browserTimeZone, formatInstant } from "../../state/dates";

const msg = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));

/** The rule kinds the server evaluates, with what the threshold is in. */
export const KINDS: { kind: string; label: string; unit: string; hours: string }[] = [
  { kind: "escalation_rate", label: "Human escalation rate", unit: "rate 0–1", hours: "24, 48, … (UTC days)" },
  { kind: "avg_response_time", label: "Average response time", unit: "milliseconds", hours: "24, 48, … (UTC days)" },
  { kind: "tool_error_rate", label: "Tool error rate", unit: "rate 0–1", hours: "24, 48, … (UTC days)" },
  { kind: "cost_per_day", label: "LLM cost per day", unit: "USD", hours: "24, 48, … (UTC days)" },
  { kind: "volume_drop", label: "Message volume drop vs. same hours last week", unit: "fraction 0–1", hours: "1–24 (last complete hours)" },
  { kind: "unanswered_rate", label: "Unanswered rate", unit: "rate 0–1", hours: "24, 48, … (UTC days)" },
];

/** The label of a rule kind. */
export const kindLabel = (kind: string): string => KINDS.find((k) => k.kind === kind)?.label ?? kind;

/** Mounts the page. */
export function mountAlertsSettings(root: HTMLElement, ctx: AppContext): View {
  let rules: AlertRule[] | null = null;
  let history: AlertEvent[] = [];
  let targets: NotifyTarget[] = [];
  let smtp: Smtp | null = null;
  let sends: Send[] = [];
  let loadError: string | null = null;
  const errors: Record<string, string | null> = {};
  let lastTest: string | null = null;
  let disposed = false;

  async function load(): Promise<void> {
    try {
      [rules, history, targets, smtp, sends] = await Promise.all([
        listRules(),
        alertHistory(),
        listTargets(),
        getSmtp(),
        listSends(),
      ]);
      loadError = null;
    } catch (e) {
      loadError = msg(e);
    }
    draw();
  }

  async function act(key: string, f: () => Promise<unknown>, ok?: string): Promise<void> {
    try {
      await f();
      errors[key] = null;
      if (ok) ctx.toast(ok);
    } catch (e) {
      errors[key] = msg(e);
    }
    await load();
  }

  const val = (f: HTMLFormElement, n: string) => (f.elements.namedItem(n) as HTMLInputElement).value.trim();

  function addRule(e: Event): void {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    void act("rule", async () => {
      await createRule({
        agent: Number(val(f, "agent")),
        kind: val(f, "kind"),
        threshold: Number(val(f, "threshold")),
        window_hours: Number(val(f, "window_hours")),
      });
      f.reset();
    }, "Alert rule created.");
  }

  function addTarget(e: Event): void {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const kind = val(f, "kind");
    void act("target", async () => {
      await createTarget(
        kind === "email"
          ? { kind, name: val(f, "name"), email: val(f, "address") }
          : { kind, name: val(f, "name"), url: val(f, "address"), secret: val(f, "secret") },
      );
      f.reset();
    }, "Target added.");
  }

  function saveSmtp(e: Event): void {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const username = val(f, "username");
    const password = (f.elements.namedItem("password") as HTMLInputElement).value;
    void act("smtp", async () => {
      await putSmtp({
        host: val(f, "host"),
        port: Number(val(f, "port")),
        security: val(f, "security"),
        username: username || null,
        password: password || null,
        from: val(f, "from"),
      });
      (f.elements.namedItem("password") as HTMLInputElement).value = "";
    }, "SMTP settings saved.");
  }

  function sendTestMail(e: Event): void {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    void act("smtp-test", async () => {
      const s = await testSmtp(val(f, "to"));
      lastTest = `Test mail: ${s.status}${s.last_error ? ` (${s.last_error})` : ""}`;
    });
  }

  const tz = browserTimeZone();
  const when = (iso: string | null | undefined) => (iso ? formatInstant(iso, tz) : "—");
  const err = (key: string) =>
    errors[key] ? html`<div class="form-error" role="alert" style="margin-top:8px">${errors[key]}</div>` : nothing;
  const agentName = (id: number) => {
    const a = ctx.agents.find((x) => x.id === id);
    return a ? agentTitle(a) : `agent ${id}`;
  };
  const status = (s: string | null | undefined) =>
    s ? html`<span class="badge" data-status=${s}>${s}</span>` : html`<span class="muted">—</span>`;

  function ruleRow(r: AlertRule): TemplateResult {
    return html`<tr data-rule=${r.id}>
      <td>${agentName(r.agent)}</td>
      <td>${kindLabel(r.kind)}</td>
      <td>&gt; ${r.threshold}</td>
      <td>${r.window_hours} h</td>
      <td><span class="badge" data-state=${r.state}>${r.state}</span>${r.enabled ? nothing : html` <span class="muted">disabled</span>`}</td>
      <td style="white-space:nowrap">
        <button class="btn small" data-action="test-rule" @click=${() =>
          void act("rules", async () => {
            const t = await testRule(r.id);
            lastTest = `Rule ${r.id}: value ${t.value ?? "none"} (${t.fires ? "would fire" : "would not fire"}), ${t.sends.length} test notice(s) sent`;
          })}>Send test</button>
        <button class="btn small" @click=${() =>
          void act("rules", () => updateRule(r.id, { agent: r.agent, kind: r.kind, threshold: r.threshold, window_hours: r.window_hours, enabled: !r.enabled }))}>${r.enabled ? "Disable" : "Enable"}</button>
        <button class="btn small danger" @click=${() => {
          if (window.confirm("Delete this rule and its history?")) void act("rules", () => deleteRule(r.id), "Rule deleted.");
        }}>Delete</button>
      </td>
    </tr>`;
  }

  function targetRow(t: NotifyTarget): TemplateResult {
    return html`<tr data-target=${t.id}>
      <td>${t.name}</td>
      <td>${t.kind}</td>
      <td>${t.address}${t.has_secret ? html` <span class="muted">(signed)</span>` : nothing}</td>
      <td>${status(t.last_status)}${t.last_error ? html`<div class="form-error" style="font-size:0.85rem">${t.last_error}</div>` : nothing}</td>
      <td style="white-space:nowrap">
        <button class="btn small" data-action="test-target" @click=${() =>
          void act("targets", async () => {
            const s = await testTarget(t.id);
            lastTest = `Test to ${t.name}: ${s.status}${s.last_error ? ` (${s.last_error})` : ""}`;
          })}>Send test</button>
        <button class="btn small" @click=${() => void act("targets", () => setTargetEnabled(t.id, !t.enabled))}>${t.enabled ? "Disable" : "Enable"}</button>
        <button class="btn small danger" @click=${() => {
          if (window.confirm(`Remove ${t.name}?`)) void act("targets", () => deleteTarget(t.id), "Target removed.");
        }}>Remove</button>
      </td>
    </tr>`;
  }

  function view(): TemplateResult {
    const s = smtp;
    return html`${topbar(ctx, null, "settings")}
      <main id="main" tabindex="-1">
        <h1>Alerts and notifications</h1>
        ${loadError ? html`<div class="form-error" role="alert">${loadError}</div>` : nothing}
        ${lastTest ? html`<div class="card" role="status" data-test-result>${lastTest}</div>` : nothing}

        <section class="card" aria-labelledby="h-rules">
          <h2 id="h-rules">Alert rules</h2>
          <p class="muted">Evaluated every minute by the server; a rule fires when its value is above the threshold, once per episode, and every enabled target is told when it fires and when it resolves.</p>
          ${rules === null
            ? html`<p class="muted">Loading…</p>`
            : rules.length === 0
              ? html`<p class="muted">No rules yet.</p>`
              : html`<div class="table-wrap"><table class="list" data-table="alert-rules">
                  <thead><tr><th scope="col">Agent</th><th scope="col">Metric</th><th scope="col">Threshold</th><th scope="col">Window</th><th scope="col">State</th><th scope="col"></th></tr></thead>
                  <tbody>${rules.map(ruleRow)}</tbody></table></div>`}
          ${err("rules")}
          <h3>New rule</h3>
          <form class="row" data-form="new-rule" @submit=${addRule}>
            <div class="field"><label for="r-agent">Agent</label>
              <select id="r-agent" name="agent" required>${ctx.agents.map((a) => html`<option value=${a.id}>${agentTitle(a)}</option>`)}</select></div>
            <div class="field"><label for="r-kind">Metric</label>
              <select id="r-kind" name="kind">${KINDS.map((k) => html`<option value=${k.kind}>${k.label} (${k.unit})</option>`)}</select></div>
            <div class="field"><label for="r-threshold">Threshold</label><input id="r-threshold" name="threshold" type="number" step="any" min="0" required /></div>
            <div class="field"><label for="r-window">Window (hours)</label><input id="r-window" name="window_hours" type="number" min="1" max="744" value="24" required /></div>
            <button class="btn primary" type="submit">Create rule</button>
          </form>
          <p class="muted" style="font-size:0.85rem">Windows: ${KINDS.map((k) => `${k.label}: ${k.hours}`).join("; ")}.</p>
          ${err("rule")}
        </section>

        <section class="card" aria-labelledby="h-history">
          <h2 id="h-history">History</h2>
          ${history.length === 0
            ? html`<p class="muted">No alert has fired.</p>`
            : html`<div class="table-wrap"><table class="list" data-table="alert-history">
                <thead><tr><th scope="col">Fired</th><th scope="col">Agent</th><th scope="col">Metric</th><th scope="col">Value</th><th scope="col">Threshold</th><th scope="col">State</th><th scope="col">Resolved</th></tr></thead>
                <tbody>${history.map(
                  (e) => html`<tr data-event=${e.id} data-rule=${e.rule}>
                    <td>${when(e.fired_at)}</td><td>${agentName(e.agent)}</td><td>${kindLabel(e.kind)}</td>
                    <td data-value>${e.fired_value}</td><td>${e.threshold}</td>
                    <td><span class="badge" data-state=${e.state}>${e.state}</span></td>
                    <td>${when(e.resolved_at)}${e.resolved_value != null ? html` <span class="muted">(${e.resolved_value})</span>` : nothing}</td>
                  </tr>`,
                )}</tbody></table></div>`}
        </section>

        <section class="card" aria-labelledby="h-targets">
          <h2 id="h-targets">Targets</h2>
          <p class="muted">Webhooks get a Slack-compatible JSON body signed with <code>X-AgentSight-Signature</code>; e-mail goes through the SMTP server below.</p>
          ${targets.length === 0
            ? html`<p class="muted">No targets yet.</p>`
            : html`<div class="table-wrap"><table class="list" data-table="targets">
                <thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Address</th><th scope="col">Last send</th><th scope="col"></th></tr></thead>
                <tbody>${targets.map(targetRow)}</tbody></table></div>`}
          ${err("targets")}
          <h3>Add a target</h3>
          <form class="row" data-form="new-target" @submit=${addTarget}>
            <div class="field"><label for="t-kind">Kind</label>
              <select id="t-kind" name="kind"><option value="webhook">webhook</option><option value="email">e-mail</option></select></div>
            <div class="field"><label for="t-name">Name</label><input id="t-name" name="name" type="text" maxlength="100" required /></div>
            <div class="field"><label for="t-address">URL or e-mail address</label><input id="t-address" name="address" type="text" maxlength="2000" required /></div>
            <div class="field"><label for="t-secret">Signing secret (webhooks)</label><input id="t-secret" name="secret" type="password" maxlength="256" autocomplete="off" /></div>
            <button class="btn primary" type="submit">Add target</button>
          </form>
          ${err("target")}
        </section>

        <section class="card" aria-labelledby="h-smtp">
          <h2 id="h-smtp">SMTP server</h2>
          <form data-form="smtp" @submit=${saveSmtp}>
            <div class="row" style="margin-bottom:12px">
              <div class="field"><label for="s-host">Host</label><input id="s-host" name="host" type="text" required .value=${s?.host ?? ""} /></div>
              <div class="field"><label for="s-port">Port</label><input id="s-port" name="port" type="number" min="1" max="65535" required .value=${String(s?.port ?? 587)} /></div>
              <div class="field"><label for="s-security">Security</label>
                <select id="s-security" name="security">${["starttls", "tls", "none"].map((v) => html`<option value=${v} ?selected=${(s?.security ?? "starttls") === v}>${v}</option>`)}</select></div>
              <div class="field"><label for="s-user">User name</label><input id="s-user" name="username" type="text" autocomplete="off" .value=${s?.username ?? ""} /></div>
              <div class="field"><label for="s-password">Password</label><input id="s-password" name="password" type="password" autocomplete="new-password"
                placeholder=${s?.password_set ? "(saved; leave empty to keep)" : ""} /></div>
              <div class="field"><label for="s-from">From</label><input id="s-from" name="from" type="email" required .value=${s?.from ?? ""} /></div>
            </div>
            <button class="btn primary" type="submit">Save SMTP settings</button>
          </form>
          ${err("smtp")}
          <form class="row" style="margin-top:12px" data-form="smtp-test" @submit=${sendTestMail}>
            <div class="field"><label for="s-to">Send a test mail to</label><input id="s-to" name="to" type="email" required /></div>
            <button class="btn" type="submit" ?disabled=${!s?.configured}>Send test</button>
          </form>
          ${err("smtp-test")}
        </section>

        <section class="card" aria-labelledby="h-sends">
          <h2 id="h-sends">Sends</h2>
          ${sends.length === 0
            ? html`<p class="muted">Nothing sent yet.</p>`
            : html`<div class="table-wrap"><table class="list" data-table="sends">
                <thead><tr><th scope="col">When</th><th scope="col">Channel</th><th scope="col">Source</th><th scope="col">To</th><th scope="col">Subject</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Error</th></tr></thead>
                <tbody>${sends.map(
                  (x) => html`<tr data-send=${x.id}>
                    <td>${when(x.created_at)}</td><td>${x.channel}</td><td>${x.source}</td><td>${x.recipient}</td><td>${x.subject}</td>
                    <td>${status(x.status)}${x.next_attempt_at ? html` <span class="muted">retry ${when(x.next_attempt_at)}</span>` : nothing}</td>
                    <td>${x.attempts}</td><td>${x.last_error ?? ""}</td>
                  </tr>`,
                )}</tbody></table></div>`}
        </section>
      </main>`;
  }

  function draw(): void {
    if (disposed) return;
    document.title = "Alerts · Settings · AgentSight";
    render(view(), root);
  }
  draw();
  void load();
  // The server evaluates in the background: refresh the state and history now and then.
  const timer = window.setInterval(() => void load(), 5000);
  return {
    update: draw,
    dispose: () => {
      disposed = true;
      window.clearInterval(timer);
    },
  };
}
