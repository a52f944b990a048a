// The overview of one agent: KPI cards and every widget of docs/metrics.md, driven by the URL
// (range, zone, filters), refreshed live. Also the body of a share page (read-only).

import { html, nothing, render, type TemplateResult } from "lit-html";
import { ApiError, isAbort } from "../../api/client";
import { getOverview, getTimeseries } from "../../api/endpoints";
import type { Agent, OverviewResponse } from "../../api/types";
import { barOption, breakdownIsEmpty, groups, pieOption, type Group } from "../../charts/breakdown-option";
import { ChartHosts, ensureWorldMap } from "../../charts/chart-host";
import type { ItemFilter } from "../../charts/common";
import { type DailyRow, dailyIsEmpty, dailyOption, seriesRows } from "../../charts/daily-option";
import { type Grain, grainFor, grainTitle } from "../../charts/grain";
import type { ChartOption } from "../../charts/echarts";
import { feedbackOption } from "../../charts/feedback-option";
import { heatmapIsEmpty, heatmapOption } from "../../charts/heatmap-option";
import { countryName, dimensionValueName } from "../../charts/labels";
import { mapIsEmpty, mapOption } from "../../charts/map-option";
import { errorRate, toolsOption } from "../../charts/tools-option";
import { controls } from "../../components/controls";
import { LiveStream, liveIndicator } from "../../components/live";
import { type WidgetState, widget } from "../../components/widget";
import type { AppContext, View } from "../../context";
import { formatCount, formatDuration, formatExact, formatPercent, formatRating } from "../../format";
import {
  type DashboardState,
  type FilterKey,
  COMPARE_MODES,
  dashboardSearch,
  filterValue,
  metricsParams,
  parseDashboard,
  withFilter,
} from "../../state/dashboard-state";
import { browserTimeZone } from "../../state/dates";
import { kpis } from "./kpis";
import { FailuresSection } from "../failures/failures-section";
import { LlmSection } from "../llm/llm-section";
import { UsersSection } from "../users/users-section";
import { paths } from "../../router";

/** What the page shows around the widgets. */
export interface OverviewFrame {
  /** The top bar. */
  header: () => TemplateResult;
  /** The agent id for the API (null on a share page). */
  agentId: number | null;
  /** Environments for the control. */
  environments: string[];
  /** The page title. */
  title: string;
  /** A note under the title (share pages). */
  note?: TemplateResult;
  /** The path the URL state is kept on. */
  path: string;
}

const SDK = "https://docs.agentsight.io";

function hint(...parts: Array<string | TemplateResult>): TemplateResult {
  return html`<span>${parts}</span>`;
}

/** Empty-state text per widget: what to send to fill it. */
const EMPTY: Record<string, TemplateResult> = {
  daily: hint(
    "No messages or conversations in this range. Point the SDK at this server (",
    html`<code>AGENTSIGHT_API_ENDPOINT</code>`,
    "), call ",
    html`<code>tracker.track_human_message("…")</code>`,
    " and ",
    html`<code>tracker.send_tracked_data()</code>`,
    ", or pick a wider range.",
  ),
  heatmap: hint("No messages in this range: peak hours fill in as ", html`<code>track_human_message</code>`, " / ", html`<code>track_agent_message</code>`, " calls arrive."),
  tools: hint("No tool calls in this range. Log them with ", html`<code>tracker.track_action("search", duration_ms=120)</code>`, "."),
  map: hint(
    "No geolocated conversations. Pass ",
    html`<code>customer_ip_address=…</code>`,
    " to ",
    html`<code>get_or_create_conversation</code>`,
    " and start the server with the geolocation data (",
    html`<code>scripts/fetch-geo.sh</code>`,
    ").",
  ),
  devices: hint("No conversations in this range. Pass ", html`<code>device="mobile"</code>`, " (desktop, tablet, mobile) to ", html`<code>get_or_create_conversation</code>`, "."),
  sources: hint("No conversations in this range. Pass ", html`<code>source="web"</code>`, " (web, whatsapp, …) to ", html`<code>get_or_create_conversation</code>`, "."),
  languages: hint("No conversations in this range. Pass ", html`<code>language="en"</code>`, " to ", html`<code>get_or_create_conversation</code>`, "."),
  feedback: hint(
    "No feedback in this range. Send it with ",
    html`<code>conversation_manager.submit_feedback(cid, "positive")</code>`,
    " or a ",
    html`<code>metadata={"feedback": 5}</code>`,
    " rating on the conversation.",
  ),
};

const CHARTS = ["daily", "heatmap", "tools", "map", "devices", "sources", "languages", "feedback"] as const;
type ChartId = (typeof CHARTS)[number];

/** Mounts the overview in `root`. */
export function mountOverview(root: HTMLElement, ctx: AppContext, frame: OverviewFrame): View {
  let state: DashboardState = parseDashboard(new URLSearchParams(location.search));
  let data: OverviewResponse | null = null;
  /** The messages-and-conversations chart: its grain, rows, and the compared range's rows. */
  let chart: { grain: Grain; rows: DailyRow[]; previous: DailyRow[] | null } | null = null;
  let loading = true;
  let error: string | null = null;
  let requested = "";
  let abort: AbortController | null = null;
  let refreshTimer: number | undefined;
  let lastFetch = 0;
  const hosts = new ChartHosts<ChartId>(() => root, (f) => onFilter(f));
  const live = new LiveStream(frame.agentId, { onUpdate: () => scheduleRefresh(), onChange: () => draw() });
  const agentId = frame.agentId;
  const llm = new LlmSection({
    root,
    agentId,
    transcriptHref: agentId === null ? null : (pk) => paths.transcript(agentId, pk),
    redraw: () => draw(),
    title: frame.title,
  });
  const users = new UsersSection({ root, agentId, redraw: () => draw(), title: frame.title });

  const failures = new FailuresSection({
    agentId,
    listHref: agentId === null ? null : (search) => paths.conversations(agentId, search),
    transcriptHref: agentId === null ? null : (pk) => paths.transcript(agentId, pk),
    state: () => state,
    redraw: () => draw(),
  });

  const go = (s: DashboardState) => {
    const q = dashboardSearch(s).toString();
    ctx.navigate(frame.path + (q ? `?${q}` : ""));
  };
  const onFilter = (f: ItemFilter) => go(withFilter(state, f.key, f.value));

  async function load(): Promise<void> {
    const params = metricsParams(state, new Date(), browserTimeZone());
    requested = JSON.stringify(params);
    abort?.abort();
    const ac = new AbortController();
    abort = ac;
    lastFetch = Date.now();
    void llm.load(params);
    void failures.load(params);
    void users.load(params);
    if (!data) loading = true;
    draw();
    try {
      // The grain follows the range (grain.ts); by day the overview's own rows are the chart.
      const grain = grainFor(params as { from: string; to: string });
      const series = (metric: string) =>
        getTimeseries(frame.agentId, { ...params, metric, interval: grain }, ac.signal);
      const [o, s] = await Promise.all([
        getOverview(frame.agentId, params, ac.signal),
        // Another grain is a nicety: without it the chart falls back to days.
        grain === "day"
          ? Promise.resolve(null)
          : Promise.all([series("messages"), series("conversations")]).catch(() => null),
      ]);
      if (ac.signal.aborted) return;
      data = o;
      chart = s
        ? {
            grain,
            rows: seriesRows(s[0].points, s[1].points),
            previous: s[0].previous && s[1].previous ? seriesRows(s[0].previous.points, s[1].previous.points) : null,
          }
        : { grain: "day", rows: o.daily, previous: o.previous?.daily ?? null };
      error = null;
    } catch (e) {
      if (isAbort(e)) return;
      error = e instanceof ApiError ? e.message : String(e);
      data = null;
    } finally {
      if (!ac.signal.aborted) {
        loading = false;
        draw();
        void paint();
      }
    }
  }

  /** Refetches after a live update, at most every 1.5 s. */
  function scheduleRefresh(): void {
    if (refreshTimer !== undefined) return;
    const wait = Math.max(0, 1500 - (Date.now() - lastFetch));
    refreshTimer = window.setTimeout(() => {
      refreshTimer = undefined;
      void load();
    }, wait);
  }

  function widgetState(empty: boolean): WidgetState {
    if (loading && !data) return "loading";
    if (error) return "error";
    if (!data) return "loading";
    return empty ? "empty" : "ready";
  }

  function png(id: ChartId, title: string) {
    return () => {
      hosts.download(id, `${frame.title}-${title}-${data?.range.from ?? ""}-${data?.range.to ?? ""}.png`);
    };
  }


  function dimTable(key: FilterKey, rows: Group[], total: number, limit = 6): TemplateResult {
    return html`<table class="mini-table" data-table=${key}>
      <thead><tr><th scope="col">${key === "country" ? "Country" : "Value"}</th><th class="num" scope="col">Conversations</th><th class="num" scope="col">Share</th></tr></thead>
      <tbody>
        ${rows.slice(0, limit).map(
          (g) => html`<tr data-value=${filterValue(g.value)}>
            <td><button class="filter" type="button" title="Filter on this"
              @click=${() => onFilter({ key, value: filterValue(g.value) })}>${dimensionValueName(key, g.value)}</button></td>
            <td class="num" data-count=${g.conversations}>${formatExact(g.conversations)}</td>
            <td class="num">${total > 0 ? formatPercent(g.conversations / total) : "–"}</td>
          </tr>`,
        )}
      </tbody>
    </table>`;
  }

  function view(): TemplateResult {
    const o = data;
    const retry = () => void load();
    const err = error ?? undefined;
    const total = o?.total_conversations ?? 0;
    const sugg: Partial<Record<FilterKey, string[]>> = o
      ? {
          source: o.sources.flatMap((r) => (r.source ? [r.source] : [])),
          language: o.languages.flatMap((r) => (r.language ? [r.language] : [])),
          country: o.countries.flatMap((r) => (r.country ? [r.country] : [])),
          device: ["desktop", "tablet", "mobile"],
        }
      : {};
    const cards = o ? kpis(o) : null;
    const compareShort = COMPARE_MODES.find((m) => m.value === state.compare)?.short ?? "";
    const c = chart;
    const kpiState = loading && !o ? "loading" : error ? "error" : "ready";
    const geoTotal = o ? o.countries.reduce((n, c) => n + c.conversations, 0) : 0;
    return html`${frame.header()}
      <main id="main" tabindex="-1">
        <div class="page-head">
          <h1>${frame.title}</h1>
          ${frame.note ?? nothing}
          ${liveIndicator(live)}
        </div>
        ${controls({
          state,
          compare: true,
          environments: frame.environments,
          suggestions: sugg,
          go,
        })}
        ${error ? html`<div class="form-error" role="alert" data-error="overview">Could not load the overview: ${error} <button class="btn small" @click=${retry}>Retry</button></div>` : nothing}
        <section class="kpis" aria-label="Key figures">
          ${(cards ?? kpiPlaceholders()).map(
            (k) => html`<div class="kpi" data-kpi=${k.id} data-value=${k.raw === null ? "" : String(k.raw)} data-state=${kpiState}
              title=${k.raw === null ? "" : formatExact(k.raw)}>
              <div class="label">${k.label}</div>
              <div class="value">${kpiState === "ready" ? k.value : kpiState === "loading" ? "…" : "–"}</div>
              ${kpiState === "ready" && k.change
                ? html`<div class="change ${k.change.verdict}" data-change=${k.change.direction} data-verdict=${k.change.verdict}
                    title=${k.change.label}>
                    <span aria-hidden="true">${k.change.text}</span>
                    <span class="sr-only">${k.change.label}</span>
                    <span class="vs" aria-hidden="true">${compareShort}</span>
                  </div>`
                : nothing}
              <div class="note">${kpiState === "ready" ? k.note : ""}</div>
            </div>`,
          )}
        </section>
        <div class="grid">
          ${widget({
            id: "daily",
            title: grainTitle(c?.grain ?? "day"),
            sub: o?.previous && state.overlay ? `dashed: the compared days, ${o.previous.range.from} – ${o.previous.range.to}` : undefined,
            actions: state.compare
              ? html`<button class="btn small" type="button" data-overlay aria-pressed=${state.overlay ? "true" : "false"}
                  title="Draw the compared range over this one" @click=${() => go({ ...state, overlay: !state.overlay })}>
                  Overlay ${state.compare === "year" ? "a year earlier" : "previous"}</button>`
              : nothing,
            size: "w8",
            state: widgetState(o ? dailyIsEmpty(o.daily) && !(state.overlay && o.previous && !dailyIsEmpty(o.previous.daily)) : true),
            empty: EMPTY.daily!,
            error: err,
            onRetry: retry,
            chart: "tall",
            onPng: png("daily", "daily"),
          })}
          ${widget({
            id: "feedback",
            title: "Feedback",
            size: "w4",
            state: widgetState(o ? o.feedback.total === 0 : true),
            empty: EMPTY.feedback!,
            error: err,
            onRetry: retry,
            chart: "",
            onPng: png("feedback", "feedback"),
            body: o
              ? html`<div class="fb-summary" data-feedback>
                  <span>Positive <b data-count="positive">${formatExact(o.feedback.positive)}</b></span>
                  <span>Neutral <b data-count="neutral">${formatExact(o.feedback.neutral)}</b></span>
                  <span>Negative <b data-count="negative">${formatExact(o.feedback.negative)}</b></span>
                  <span>Satisfaction <b>${formatPercent(o.feedback.satisfaction_rate)}</b></span>
                  ${o.feedback.ratings.count > 0
                    ? html`<span>Rating <b>${formatRating(o.feedback.ratings.average)}</b> (${formatExact(o.feedback.ratings.count)})</span>`
                    : nothing}
                </div>`
              : nothing,
          })}
          ${widget({
            id: "heatmap",
            title: "Peak hours",
            sub: o ? `messages by weekday and hour, ${o.range.tz}` : undefined,
            size: "w8",
            state: widgetState(o ? heatmapIsEmpty(o.peak_hours) : true),
            empty: EMPTY.heatmap!,
            error: err,
            onRetry: retry,
            chart: "fill",
            onPng: png("heatmap", "peak-hours"),
          })}
          ${widget({
            id: "tools",
            title: "Tool usage",
            size: "w4",
            state: widgetState(o ? o.tools.length === 0 : true),
            empty: EMPTY.tools!,
            error: err,
            onRetry: retry,
            chart: "",
            onPng: png("tools", "tools"),
            body: o
              ? html`<table class="mini-table" data-table="tools">
                  <thead><tr><th scope="col">Tool</th><th class="num" scope="col">Calls</th><th class="num" scope="col">Avg</th><th class="num" scope="col">Errors</th></tr></thead>
                  <tbody>
                    ${o.tools.slice(0, 8).map(
                      (t) => html`<tr data-tool=${t.name}>
                        <td>${t.name}</td>
                        <td class="num" data-calls=${t.calls}>${formatExact(t.calls)}</td>
                        <td class="num">${formatDuration(t.avg_duration_ms)}</td>
                        <td class="num ${t.errors > 0 ? "bad" : ""}" data-errors=${t.errors}
                          title=${`${formatPercent(errorRate(t))} of calls`}>${formatExact(t.errors)}</td>
                      </tr>`,
                    )}
                  </tbody>
                </table>`
              : nothing,
          })}
          ${widget({
            id: "map",
            title: "Where conversations come from",
            sub: o && geoTotal > 0 ? `${formatCount(o.countries.filter((c) => c.country).length)} countries` : undefined,
            size: "w8",
            state: widgetState(o ? mapIsEmpty(o.countries) : true),
            empty: EMPTY.map!,
            error: err,
            onRetry: retry,
            chart: "map",
            onPng: png("map", "map"),
            footer: html`<div class="attribution"><a href="https://db-ip.com" target="_blank" rel="noopener">IP Geolocation by DB-IP</a></div>`,
          })}
          ${widget({
            id: "countries",
            title: "Countries",
            size: "w4",
            state: widgetState(o ? o.countries.length === 0 : true),
            empty: EMPTY.map!,
            error: err,
            onRetry: retry,
            body: o ? dimTable("country", groups(o.countries, "country"), total, 10) : nothing,
          })}
          ${widget({
            id: "devices",
            title: "Devices",
            size: "w4",
            state: widgetState(o ? breakdownIsEmpty(groups(o.devices, "device")) : true),
            empty: EMPTY.devices!,
            error: err,
            onRetry: retry,
            chart: "",
            onPng: png("devices", "devices"),
            body: o ? dimTable("device", groups(o.devices, "device"), total) : nothing,
          })}
          ${widget({
            id: "sources",
            title: "Sources",
            size: "w4",
            state: widgetState(o ? breakdownIsEmpty(groups(o.sources, "source")) : true),
            empty: EMPTY.sources!,
            error: err,
            onRetry: retry,
            chart: "",
            onPng: png("sources", "sources"),
            body: o ? dimTable("source", groups(o.sources, "source"), total) : nothing,
          })}
          ${widget({
            id: "languages",
            title: "Languages",
            size: "w4",
            state: widgetState(o ? breakdownIsEmpty(groups(o.languages, "language")) : true),
            empty: EMPTY.languages!,
            error: err,
            onRetry: retry,
            chart: "",
            onPng: png("languages", "languages"),
            body: o ? dimTable("language", groups(o.languages, "language"), total) : nothing,
          })}
        </div>
        ${failures.view()}
        ${users.view()}
        ${llm.view()}
        <p class="muted" style="font-size:0.8rem;margin-top:16px">
          Numbers follow the definitions in the project's docs/metrics.md. Times in ${data?.range.tz ?? state.tz ?? browserTimeZone()}.
          <a href=${SDK} target="_blank" rel="noopener">SDK documentation</a>
        </p>
      </main>`;
  }

  function draw(): void {
    document.title = `${frame.title} · Overview · AgentSight`;
    render(view(), root);
  }

  const host = (id: ChartId) => hosts.get(id);

  async function paint(): Promise<void> {
    const o = data;
    if (!o) return;
    const set = (id: ChartId, empty: boolean, option: () => ChartOption) => {
      if (empty) return;
      host(id)?.set(option());
    };
    const c = chart;
    const overlay = state.overlay && c?.previous ? c.previous : undefined;
    const dailyEmpty = dailyIsEmpty(o.daily) && !(overlay && !dailyIsEmpty(overlay));
    set("daily", dailyEmpty, () => (c ? dailyOption(c.rows, c.grain, overlay) : dailyOption(o.daily)));
    set("heatmap", heatmapIsEmpty(o.peak_hours), () => heatmapOption(o.peak_hours));
    set("tools", o.tools.length === 0, () => toolsOption(o.tools));
    set("feedback", o.feedback.total === 0, () => feedbackOption(o.feedback));
    set("devices", breakdownIsEmpty(groups(o.devices, "device")), () => pieOption("device", groups(o.devices, "device")));
    set("sources", breakdownIsEmpty(groups(o.sources, "source")), () => barOption("source", groups(o.sources, "source")));
    set("languages", breakdownIsEmpty(groups(o.languages, "language")), () => barOption("language", groups(o.languages, "language")));
    if (!mapIsEmpty(o.countries)) {
      await ensureWorldMap();
      const el = root.querySelector<HTMLElement>('[data-chart="map"]');
      const compact = (el?.clientWidth ?? 1000) < 520;
      if (data === o) set("map", false, () => mapOption(o.countries, o.cities, compact));
    }
  }

  draw();
  void load();
  live.start();

  return {
    update() {
      const next = parseDashboard(new URLSearchParams(location.search));
      state = next;
      const params = JSON.stringify(metricsParams(state, new Date(), browserTimeZone()));
      if (params !== requested) void load();
      else {
        draw();
        void paint();
      }
    },
    dispose() {
      abort?.abort();
      live.stop();
      llm.dispose();
      failures.dispose();
      users.dispose();
      window.clearTimeout(refreshTimer);
      hosts.dispose();
    },
  };
}

function kpiPlaceholders() {
  return [
    "Total messages",
    "Total conversations",
    "Unique users",
    "Unique interactions",
    "Avg bot response time",
    "Avg conversation duration",
    "Human escalation rate",
    "Satisfaction",
  ].map((label, i) => ({ id: `kpi-${i}`, label, value: "", raw: null as number | null, note: "", change: null }));
}

/** The agent's page title. */
export function overviewTitle(a: Agent): string {
  return a.branding.display_name?.trim() || a.name;
}

export { countryName };
