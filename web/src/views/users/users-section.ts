// The overview's "Users" section (`GET /api/metrics/users/`, docs/metrics.md, *Users over
// time*): new vs returning users per day or week, active users per day, week and month, and
// the weekly retention cohorts as a table shaded by share. Owns its fetch and its charts; the
// overview only places it.

import { html, nothing, type TemplateResult } from "lit-html";
import { LatestFetch } from "../../api/client";
import { getUsers } from "../../api/endpoints";
import type { UsersResponse } from "../../api/types";
import { ChartHosts } from "../../charts/chart-host";
import { bucketLongLabel } from "../../charts/grain";
import { type WidgetState, widget } from "../../components/widget";
import { formatExact } from "../../format";
import {
  clippedNote,
  cohortCellColors,
  cohortShare,
  percentLabel,
  usersInterval,
  usersIsEmpty,
  weekOffsetLabel,
} from "./users-format";
import { activeUsersOption, newReturningOption } from "./users-options";

/** Where the section lives. */
export interface UsersSectionOptions {
  /** The page's root (the section's charts are looked up in it). */
  root: HTMLElement;
  /** The agent id for the API (null on a share page). */
  agentId: number | null;
  /** Renders the page again (the section is part of its template). */
  redraw: () => void;
  /** For PNG file names. */
  title: string;
}

const EMPTY = html`<span data-users-empty>No users in this range. A user is a conversation's
  <code>customer_id</code>: pass it when the conversation is created (<code>get_or_create_conversation</code>,
  <code>open_conversation</code>).</span>`;

type ChartId = "users-new-returning" | "users-active";

/** The Users section of one overview. */
export class UsersSection {
  private readonly fetched = new LatestFetch<UsersResponse>();
  private get data() {
    return this.fetched.data;
  }
  private get error() {
    return this.fetched.error;
  }
  private get loading() {
    return this.fetched.loading;
  }
  private readonly hosts = new ChartHosts<ChartId>(() => this.o.root);
  private lastParams: Record<string, string> = {};

  constructor(private readonly o: UsersSectionOptions) {}

  /** Fetches for the overview's query parameters (a newer call aborts an older one). */
  async load(params: Record<string, string>): Promise<void> {
    this.lastParams = params;
    const interval = usersInterval(params as { from: string; to: string });
    if (!(await this.fetched.run((signal) => getUsers(this.o.agentId, { ...params, interval }, signal)))) return;
    this.o.redraw();
    this.paint();
  }

  private png(id: ChartId, name: string): () => void {
    return () => {
      const r = this.data;
      if (r) this.hosts.download(id, `${this.o.title}-${name}-${r.range.from}-${r.range.to}.png`);
    };
  }

  /** The section's template. */
  view(): TemplateResult {
    const r = this.data;
    const retry = () => void this.load(this.lastParams);
    const err = this.error ?? undefined;
    const head = html`<div class="section-head"><h2 class="section-title" id="h-users">Users</h2>
      ${r && !usersIsEmpty(r)
        ? html`<span class="sub" data-users-totals>${formatExact(r.totals.users)} users: ${formatExact(r.totals.new_users)} new,
            ${formatExact(r.totals.returning_users)} returning</span>`
        : nothing}</div>`;
    if (this.loading || !r || usersIsEmpty(r) || this.error) {
      const state: WidgetState = this.error ? "error" : this.loading && !r ? "loading" : "empty";
      return html`<section class="users-section" data-section="users" aria-labelledby="h-users">
        ${head}
        <div class="grid">
          ${widget({ id: "users", title: "New, returning and active users", size: "w12", state, empty: EMPTY, error: err, onRetry: retry })}
        </div>
      </section>`;
    }
    const note = clippedNote(r);
    return html`<section class="users-section" data-section="users" aria-labelledby="h-users">
      ${head}
      <div class="grid">
        ${widget({
          id: "users-new-returning",
          title: `New and returning users per ${r.interval}`,
          sub: "new: first conversation ever",
          size: "w6",
          state: "ready",
          empty: EMPTY,
          chart: "",
          onPng: this.png("users-new-returning", "new-returning-users"),
        })}
        ${widget({
          id: "users-active",
          title: "Active users",
          sub: "per day, week and month",
          size: "w6",
          state: "ready",
          empty: EMPTY,
          chart: "",
          onPng: this.png("users-active", "active-users"),
          body: html`<details class="users-months">
            <summary>Per month, as a table</summary>
            <table class="mini-table" data-table="users-monthly">
              <thead><tr><th scope="col">Month</th><th class="num" scope="col">Active users</th></tr></thead>
              <tbody>
                ${r.active.monthly.map(
                  (m) => html`<tr data-month=${m.start}><td>${bucketLongLabel(m.start, "month")}</td><td class="num" data-value=${m.users}>${formatExact(m.users)}</td></tr>`,
                )}
              </tbody>
            </table>
          </details>`,
        })}
        ${widget({
          id: "users-cohorts",
          title: "Weekly retention",
          sub: "share of each week's new users active in the weeks after",
          size: "w12",
          state: r.cohorts.length === 0 ? "empty" : "ready",
          empty: EMPTY,
          body: this.cohortTable(r),
          footer: note ? html`<p class="muted users-note" data-users-clipped>${note}</p>` : nothing,
        })}
      </div>
    </section>`;
  }

  private cohortTable(r: UsersResponse): TemplateResult {
    const weeks = r.cohorts.length;
    return html`<div class="cohort-scroll" tabindex="0" role="region" aria-label="Weekly retention table">
      <table class="mini-table cohort-table" data-table="users-cohorts">
        <thead>
          <tr>
            <th scope="col">Week</th>
            <th class="num" scope="col">New users</th>
            ${Array.from({ length: weeks }, (_, k) => html`<th class="num" scope="col">${weekOffsetLabel(k)}</th>`)}
          </tr>
        </thead>
        <tbody>
          ${r.cohorts.map(
            (c) => html`<tr data-week=${c.week}>
              <th scope="row">${bucketLongLabel(c.week, "week").replace(/^week of /, "")}</th>
              <td class="num" data-users=${c.users}>${formatExact(c.users)}</td>
              ${c.retained.map((n, k) => {
                const share = cohortShare(c, k);
                const { background, color } = cohortCellColors(share);
                return html`<td class="num cohort-cell" data-k=${k} data-retained=${n} style="background:${background};color:${color}"
                  title=${share === null ? "no new users this week" : `${formatExact(n)} of ${formatExact(c.users)}`}>${percentLabel(share)}</td>`;
              })}
            </tr>`,
          )}
        </tbody>
      </table>
    </div>`;
  }

  private host(id: ChartId) {
    return this.hosts.get(id);
  }

  /** Draws the charts (after the template is rendered). */
  paint(): void {
    const r = this.data;
    if (!r || usersIsEmpty(r)) return;
    this.host("users-new-returning")?.set(newReturningOption(r));
    this.host("users-active")?.set(activeUsersOption(r));
  }

  /** Stops fetching and frees the charts. */
  dispose(): void {
    this.fetched.stop();
    this.hosts.dispose();
  }
}
