// The overview's Users section end to end: the real release binary, conversations with customer
// ids sent through POST /api/conversations/ (a cohort of new users a week over the last weeks,
// some coming back, some first seen before the range), Debian's Chromium. The section's totals
// and every cell of the retention table equal GET /api/metrics/users/; it fits 1440 and 375 px
// and takes the screenshots of the section.

import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cohortShare, percentLabel, usersInterval } from "../src/views/users/users-format";
import { Server, context, launch, minusDays, screenshotDir, sidewaysOverflow, sleep, today } from "./harness";

const TZ = "Europe/Zagreb";
const ADMIN = { email: "admin@example.com", password: "admin-password-1" };

let server: Server;
let browser: Browser;
let key = "";
let agentId = 0;

/** A deterministic generator (the data is the same on every run). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Noon (UTC) of a local day `n` days before today. */
function dayAt(n: number): string {
  return `${minusDays(today(TZ), n)}T10:00:00Z`;
}

async function send(): Promise<void> {
  const rnd = lcg(7);
  let seq = 0;
  const conv = async (customer: string, daysAgo: number) => {
    const r = await server.api("POST", "/api/conversations/", { key }, {
      conversation_id: `c${++seq}`,
      customer_id: customer,
      timestamp: dayAt(daysAgo),
    });
    expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
  };
  // Regulars first seen 60 days ago: returning whenever they come back in the range.
  for (let u = 0; u < 6; u++) {
    await conv(`regular-${u}`, 60);
    for (let d = 0; d < 30; d += 3) if (rnd() < 0.5) await conv(`regular-${u}`, d);
  }
  // New users through the range; some come back in later weeks.
  for (let u = 0; u < 40; u++) {
    const first = Math.floor(rnd() * 29);
    await conv(`user-${u}`, first);
    for (let back = first - 7; back >= 0; back -= 7) if (rnd() < 0.45) await conv(`user-${u}`, back);
  }
}

async function apiUsers(): Promise<any> {
  const to = today(TZ);
  const from = minusDays(to, 29);
  const q = new URLSearchParams({ from, to, tz: TZ, agent: String(agentId), interval: usersInterval({ from, to }) });
  const s = await server.login(ADMIN.email, ADMIN.password);
  const r = await server.api("GET", `/api/metrics/users/?${q}`, { session: s });
  expect(r.status).toBe(200);
  return r.json;
}

async function sectionLoaded(p: Page): Promise<void> {
  await p.waitForSelector('[data-section="users"]', { timeout: 15_000 });
  await p.waitForFunction(
    () =>
      document.querySelectorAll('[data-section="users"] [data-widget][data-state="loading"]').length === 0 &&
      document.querySelectorAll('[data-section="users"] [data-widget]').length > 0,
    null,
    { timeout: 15_000 },
  );
}

async function login(width: number): Promise<{ p: Page; close: () => Promise<void>; errors: string[] }> {
  const s = await server.login(ADMIN.email, ADMIN.password);
  const c = await context(browser, width, TZ);
  await c.ctx.addCookies([{ name: "agentsight_session", value: s.cookie.split("=").slice(1).join("="), url: server.base }]);
  const p = await c.ctx.newPage();
  await p.goto(`${server.base}/agents/${agentId}`);
  await sectionLoaded(p);
  return { p, close: () => c.ctx.close(), errors: c.errors };
}

beforeAll(async () => {
  server = new Server();
  key = server.cliLast(["agent", "create", "users-bot"]);
  server.cli(["user", "create", ADMIN.email, "--role", "admin", "--password-stdin"], `${ADMIN.password}\n`);
  await server.start();
  await send();
  agentId = (await server.api("GET", "/api/metrics/live/", { key })).json.agent.id;
  browser = await launch();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("the Users section", () => {
  it("shows the API's totals and retention table", async () => {
    const m = await apiUsers();
    expect(m.totals.users).toBeGreaterThan(40);
    expect(m.totals.returning_users).toBeGreaterThan(0);
    expect(m.cohorts.length).toBeGreaterThan(3);
    const { p, close, errors } = await login(1440);
    const totals = await p.locator("[data-users-totals]").innerText();
    expect(totals.replace(/\s+/g, " ")).toContain(`${m.totals.users} users: ${m.totals.new_users} new, ${m.totals.returning_users} returning`);
    const rows = await p.locator('[data-table="users-cohorts"] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        week: tr.getAttribute("data-week"),
        users: Number(tr.querySelector("[data-users]")?.getAttribute("data-users")),
        cells: [...tr.querySelectorAll("[data-retained]")].map((td) => [Number(td.getAttribute("data-retained")), td.textContent?.trim()]),
      })),
    );
    expect(rows).toEqual(
      m.cohorts.map((c: any) => ({
        week: c.week,
        users: c.users,
        cells: c.retained.map((n: number, k: number) => [n, percentLabel(cohortShare(c, k))]),
      })),
    );
    await p.waitForSelector('[data-chart="users-new-returning"][data-rendered="1"]', { timeout: 10_000 });
    await p.waitForSelector('[data-chart="users-active"][data-rendered="1"]', { timeout: 10_000 });
    expect(errors).toEqual([]);
    await close();
  });

  it("fits 1440 and 375 px, and takes the screenshots of the section", async () => {
    for (const width of [1440, 375]) {
      const { p, close, errors } = await login(width);
      await p.waitForSelector('[data-chart="users-new-returning"][data-rendered="1"]');
      await p.waitForSelector('[data-chart="users-active"][data-rendered="1"]');
      expect(await sidewaysOverflow(p), `sideways overflow at ${width} px`).toBe(0);
      await sleep(600);
      await p.evaluate(() => window.scrollTo(0, 0));
      const box = await p.locator('[data-section="users"]').boundingBox();
      if (!box) throw new Error("no Users section");
      const pad = 8;
      await p.screenshot({
        path: join(screenshotDir(), `users-${width}.png`),
        fullPage: true,
        clip: { x: Math.max(0, box.x - pad), y: Math.max(0, box.y - pad), width: Math.min(width, box.width + 2 * pad), height: box.height + 2 * pad },
      });
      expect(errors).toEqual([]);
      await close();
    }
  });
});
