// The "Client reports" section of an agent's settings (admin): its scheduled report mails
// (weekly or monthly, at a local hour, to a list of addresses), turned on or off, deleted,
// previewed as the client would receive them, sent now as a test, and the record of their
// sends with failures shown. The server validates and renders (docs/reports.md); these helpers only shape the form.

import { html, nothing, type TemplateResult } from "lit-html";
import { ApiError } from "../../api/client";
import {
  createReport,
  deleteReport,
  listReportSends,
  listReports,
  previewReport,
  testReport,
  updateReport,
} from "../../api/endpoints";
import type { Send } from "../../api/notify";
import type { ReportPreview, ReportSchedule, ReportSchedulePayload, ReportSend } from "../../api/types";
import type { AppContext } from "../../context";
import { browserTimeZone, formatInstant } from "../../state/dates";

const msg = (e: unknown) => (e instanceof ApiError || e instanceof Error ? e.message : String(e));

/** The weekdays a schedule takes, Monday first. */
export const WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] as const;

/** The most addresses one report goes to (the server's `MAX_REPORT_RECIPIENTS`). */
export const MAX_RECIPIENTS = 20;

const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const hh = (h: number) => `${String(h).padStart(2, "0")}:00`;

/** When a schedule sends, as a sentence: "Every Tuesday at 07:00 (Europe/Zagreb)". */
export function scheduleSummary(s: Pick<ReportSchedule, "cadence" | "weekday" | "day_of_month" | "hour" | "time_zone">): string {
  const at = `at ${hh(s.hour)} (${s.time_zone})`;
  if (s.cadence === "monthly") {
    const d = s.day_of_month ?? 1;
    const last = d > 28 ? ", or the month's last day when shorter" : "";
    return `Monthly on day ${d}${last}, ${at}`;
  }
  return `Every ${cap(s.weekday ?? "monday")} ${at}`;
}

/** The recipients field as addresses: split on commas, semicolons, spaces or lines, trimmed,
 * lower-cased, repeats dropped (the server checks each address and names a bad one). */
export function parseRecipients(text: string): string[] {
  return text
    .split(/[\s,;]+/)
    .map((s) => s.trim().toLowerCase())
    .filter((s, i, a) => s !== "" && a.indexOf(s) === i);
}

/** What the schedule form holds. */
export interface ScheduleForm {
  cadence: string;
  weekday: string;
  day_of_month: string;
  hour: string;
  time_zone: string;
  recipients: string;
}

/** The request body of the form: the weekday for a weekly schedule, the day for a monthly one;
 * numbers that are not numbers go as they are, so the server names the field. */
export function schedulePayload(f: ScheduleForm): ReportSchedulePayload {
  const num = (s: string): number => (/^-?\d+$/.test(s.trim()) ? Number(s.trim()) : Number.NaN);
  const body: ReportSchedulePayload = {
    cadence: f.cadence,
    hour: num(f.hour),
    time_zone: f.time_zone.trim(),
    recipients: parseRecipients(f.recipients),
  };
  if (f.cadence === "monthly") body.day_of_month = num(f.day_of_month);
  else body.weekday = f.weekday;
  return body;
}

/** Client-side checks before sending (the server's are authoritative): field → message. */
export function formProblems(f: ScheduleForm): Record<string, string> {
  const out: Record<string, string> = {};
  const b = schedulePayload(f);
  if (!Number.isInteger(b.hour) || (b.hour as number) < 0 || (b.hour as number) > 23) out.hour = "An hour from 0 to 23.";
  if (f.cadence === "monthly") {
    const d = b.day_of_month as number;
    if (!Number.isInteger(d) || d < 1 || d > 31) out.day_of_month = "A day from 1 to 31.";
  }
  const r = b.recipients ?? [];
  if (r.length === 0) out.recipients = "Give at least one e-mail address.";
  else if (r.length > MAX_RECIPIENTS) out.recipients = `At most ${MAX_RECIPIENTS} addresses.`;
  if (!b.time_zone) out.time_zone = "Give a time zone, such as Europe/Zagreb.";
  return out;
}

/** A send's outcome as shown: the words and whether it is good, pending or bad. */
export function sendOutcome(s: ReportSend): { text: string; tone: "ok" | "warn" | "bad" } {
  const tries = s.attempts && s.attempts > 1 ? ` (${s.attempts} attempts)` : "";
  if (s.state === "sent") return { text: "sent", tone: "ok" };
  if (s.state === "failed") return { text: `failed${tries}`, tone: "bad" };
  return { text: `sending${tries}`, tone: "warn" };
}

/** What became of a test send, as one line: every address it went to, or the failures. */
export function testOutcome(sends: Send[]): { text: string; ok: boolean } {
  const bad = sends.filter((s) => s.status !== "sent");
  if (sends.length === 0) return { text: "The schedule has no recipients.", ok: false };
  if (bad.length === 0) return { text: `Test report sent to ${sends.map((s) => s.recipient).join(", ")}.`, ok: true };
  const why = bad.map((s) => `${s.recipient}: ${s.status}${s.last_error ? ` (${s.last_error})` : ""}`).join("; ");
  return { text: `Test report not delivered to ${why}`, ok: false };
}

/** The time zones the browser knows, for the form's suggestions. */
function timeZones(): string[] {
  const intl = Intl as unknown as { supportedValuesOf?: (k: string) => string[] };
  try {
    return intl.supportedValuesOf?.("timeZone") ?? [];
  } catch {
    return [];
  }
}

/** The section's state and view; `redraw` draws the page again. */
export function clientReports(ctx: AppContext, agent: number, redraw: () => void) {
  let schedules: ReportSchedule[] | null = null;
  const sends = new Map<number, ReportSend[]>();
  let preview: { id: number; report: ReportPreview } | null = null;
  /** The schedule whose "Send test" form is open. */
  let testing: number | null = null;
  let testLine: { id: number; text: string; ok: boolean } | null = null;
  let cadence = "weekly";
  let error: string | null = null;
  let formError: string | null = null;
  const tz = browserTimeZone();

  async function load(): Promise<void> {
    try {
      schedules = await listReports(agent);
      const lists = await Promise.all(schedules.map((s) => listReportSends(s.id)));
      sends.clear();
      schedules.forEach((s, i) => sends.set(s.id, lists[i] ?? []));
      error = null;
    } catch (e) {
      error = msg(e);
    }
    redraw();
  }

  async function add(e: Event): Promise<void> {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const get = (n: string) => (f.elements.namedItem(n) as HTMLInputElement | HTMLSelectElement | null)?.value ?? "";
    const form: ScheduleForm = {
      cadence: get("cadence"),
      weekday: get("weekday"),
      day_of_month: get("day_of_month"),
      hour: get("hour"),
      time_zone: get("time_zone"),
      recipients: get("recipients"),
    };
    const problems = formProblems(form);
    if (Object.keys(problems).length) {
      formError = Object.entries(problems).map(([k, v]) => `${k}: ${v}`).join("; ");
      redraw();
      return;
    }
    try {
      await createReport(agent, schedulePayload(form));
      formError = null;
      f.reset();
      cadence = "weekly";
      ctx.toast("Report scheduled.");
      await load();
    } catch (err) {
      formError = msg(err);
      redraw();
    }
  }

  async function toggle(s: ReportSchedule): Promise<void> {
    try {
      await updateReport(s.id, { enabled: !s.enabled });
      ctx.toast(s.enabled ? "Report turned off." : "Report turned on.");
      await load();
    } catch (e) {
      ctx.toast(msg(e), "error");
    }
  }

  async function remove(s: ReportSchedule): Promise<void> {
    if (!window.confirm(`Delete this report to ${s.recipients.join(", ")}?`)) return;
    try {
      await deleteReport(s.id);
      if (preview?.id === s.id) preview = null;
      ctx.toast("Report deleted.");
      await load();
    } catch (e) {
      ctx.toast(msg(e), "error");
    }
  }

  async function showPreview(s: ReportSchedule): Promise<void> {
    try {
      preview = { id: s.id, report: await previewReport(s.id) };
      error = null;
    } catch (e) {
      error = msg(e);
    }
    redraw();
  }

  async function sendTest(e: Event, s: ReportSchedule): Promise<void> {
    e.preventDefault();
    const to = ((e.target as HTMLFormElement).elements.namedItem("to") as HTMLInputElement).value.trim();
    try {
      const o = testOutcome(await testReport(s.id, to || undefined));
      testLine = { id: s.id, ...o };
      ctx.toast(o.text, o.ok ? "ok" : "error");
    } catch (err) {
      testLine = { id: s.id, text: msg(err), ok: false };
    }
    redraw();
  }

  function testForm(s: ReportSchedule): TemplateResult {
    return html`<form class="row" data-form="report-test" style="margin:6px 0" @submit=${(e: Event) => void sendTest(e, s)}>
      <div class="field"><label for="rt-${s.id}">Send the latest report now to</label>
        <input id="rt-${s.id}" name="to" type="email" placeholder=${s.recipients.join(", ")} /></div>
      <button class="btn small primary" type="submit">Send</button>
      <button class="btn small" type="button" @click=${() => { testing = null; redraw(); }}>Cancel</button>
    </form>`;
  }

  function sendsTable(list: ReportSend[]): TemplateResult {
    if (list.length === 0) return html`<p class="muted" style="margin:4px 0 0">Nothing sent yet.</p>`;
    return html`<table class="list" data-table="report-sends" style="margin-top:6px">
      <thead><tr><th scope="col">Period</th><th scope="col">Outcome</th><th scope="col">When</th><th scope="col">Error</th></tr></thead>
      <tbody>
        ${list.map((x) => {
          const o = sendOutcome(x);
          const when = x.sent_at ?? x.attempted_at;
          return html`<tr data-send=${x.period} class=${o.tone === "bad" ? "failed" : ""}>
            <td>${x.period_label || x.period}</td>
            <td><span class="badge ${o.tone}">${o.text}</span></td>
            <td>${when ? formatInstant(when, tz) : "–"}</td>
            <td>${x.error ? html`<span class="form-error">${x.error}</span>` : html`<span class="muted">–</span>`}</td>
          </tr>`;
        })}
      </tbody>
    </table>`;
  }

  function row(s: ReportSchedule): TemplateResult {
    const list = sends.get(s.id) ?? [];
    const failed = list.some((x) => x.state === "failed");
    return html`<tr data-report=${s.id}>
        <td>${scheduleSummary(s)}<div class="muted" style="font-size:0.85rem">next: ${formatInstant(s.next_send_at, tz)} (${s.next_period})</div></td>
        <td>${s.recipients.join(", ")}</td>
        <td>${s.enabled ? html`<span class="badge ok">on</span>` : html`<span class="badge">off</span>`}
          ${failed ? html` <span class="badge bad">failed sends</span>` : nothing}
          ${s.share_url ? nothing : html` <span class="badge warn">no dashboard link</span>`}</td>
        <td style="white-space:nowrap">
          <button class="btn small" @click=${() => void showPreview(s)}>Preview</button>
          <button class="btn small" @click=${() => { testing = testing === s.id ? null : s.id; testLine = null; redraw(); }}>Send test</button>
          <button class="btn small" @click=${() => void toggle(s)}>${s.enabled ? "Turn off" : "Turn on"}</button>
          <button class="btn small danger" @click=${() => void remove(s)}>Delete</button>
        </td>
      </tr>
      <tr data-report-sends=${s.id}><td colspan="4">
        ${testing === s.id ? testForm(s) : nothing}
        ${testLine?.id === s.id
          ? html`<div data-report-test-outcome class=${testLine.ok ? "muted" : "form-error"} role="status">${testLine.text}</div>`
          : nothing}
        ${sendsTable(list)}</td></tr>`;
  }

  function view(): TemplateResult {
    const zones = timeZones();
    return html`<section class="card" aria-labelledby="h-reports">
      <h2 id="h-reports">Client reports</h2>
      <p class="muted">A mail with this agent's KPIs, a daily chart and the top lists, in its white-label, weekly or
        monthly, with a link to a share dashboard made for it. Sending needs the server's mail settings.</p>
      ${error ? html`<div class="form-error" role="alert">${error}</div>` : nothing}
      ${schedules
        ? schedules.length === 0
          ? html`<p class="muted">No reports scheduled.</p>`
          : html`<div class="table-wrap"><table class="list" data-table="reports">
              <thead><tr><th scope="col">When</th><th scope="col">To</th><th scope="col">State</th><th scope="col"></th></tr></thead>
              <tbody>${schedules.map(row)}</tbody>
            </table></div>`
        : html`<p class="muted">Loading…</p>`}
      ${preview
        ? html`<div data-report-preview style="margin-top:12px">
            <div class="row" style="justify-content:space-between">
              <b>${preview.report.subject}</b>
              <button class="btn small" @click=${() => { preview = null; redraw(); }}>Close preview</button>
            </div>
            <iframe title="Report preview" sandbox="" style="width:100%;max-width:720px;height:900px;border:1px solid #e5e7eb;background:#fff;margin-top:8px"
              srcdoc=${preview.report.html}></iframe>
          </div>`
        : nothing}
      <h3>Schedule a report</h3>
      <form data-form="new-report" @submit=${(e: Event) => void add(e)}>
        <div class="row" style="margin-bottom:12px">
          <div class="field"><label for="r-cadence">Every</label>
            <select id="r-cadence" name="cadence" @change=${(e: Event) => { cadence = (e.target as HTMLSelectElement).value; redraw(); }}>
              <option value="weekly" ?selected=${cadence === "weekly"}>week</option>
              <option value="monthly" ?selected=${cadence === "monthly"}>month</option>
            </select></div>
          ${cadence === "weekly"
            ? html`<div class="field"><label for="r-weekday">On</label>
                <select id="r-weekday" name="weekday">${WEEKDAYS.map((d) => html`<option value=${d}>${cap(d)}</option>`)}</select></div>`
            : html`<div class="field"><label for="r-day">Day of the month</label>
                <input id="r-day" name="day_of_month" type="number" min="1" max="31" step="1" value="1" required /></div>`}
          <div class="field"><label for="r-hour">Hour</label>
            <input id="r-hour" name="hour" type="number" min="0" max="23" step="1" value="8" required /></div>
          <div class="field"><label for="r-tz">Time zone</label>
            <input id="r-tz" name="time_zone" type="text" list="r-tz-list" value=${tz} required />
            <datalist id="r-tz-list">${zones.map((z) => html`<option value=${z}></option>`)}</datalist></div>
        </div>
        <div class="field"><label for="r-to">Recipients (up to ${MAX_RECIPIENTS}, separated by commas or lines)</label>
          <textarea id="r-to" name="recipients" rows="2" required placeholder="client@example.com"></textarea></div>
        <button class="btn primary" type="submit">Schedule report</button>
      </form>
      ${formError ? html`<div class="form-error" role="alert" style="margin-top:8px">${formError}</div>` : nothing}
    </section>`;
  }

  return { load, view };
}
