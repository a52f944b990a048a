// The dashboard end to end: the real release binary, data sent through the real SDK 0.0.44,
// Debian's Chromium. One server for the whole file; the tests run in order.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatCount, formatDuration, formatPercent } from "../src/format";
import { kpis } from "../src/views/overview/kpis";
import { Server, context, launch, minusDays, screenshotDir, sdk, sidewaysOverflow, signIn, sleep, today, until } from "./harness";
import { LIVE_SCENARIO, MAIN_SCENARIO, WRITE_SCENARIO } from "./data";

const TZ = "Europe/Zagreb";
const ADMIN = { email: "admin@example.com", password: "admin-password-1" };
const VIEWER = { email: "viewer@example.com", password: "viewer-password-1" };

let server: Server;
let browser: Browser;
let mainKey = "";
let readKey = "";
let otherKey = "";
let mainId = 0;
let otherId = 0;
let demoId = 0;
let admin: { ctx: BrowserContext; errors: string[] };
let page: Page;

/** The overview the page should show (default range: 30 days ending today in the zone). */
async function apiOverview(extra: Record<string, string> = {}, key = mainKey): Promise<any> {
  const to = today(TZ);
  const q = new URLSearchParams({ from: minusDays(to, 29), to, tz: TZ, ...extra });
  const r = await server.api("GET", `/api/metrics/overview/?${q}`, { key });
  expect(r.status).toBe(200);
  return r.json;
}

/** Waits until no widget of the overview is loading. */
async function overviewLoaded(p: Page): Promise<void> {
  await p.waitForSelector('[data-kpi="total_messages"][data-state="ready"]', { timeout: 15_000 });
  await p.waitForFunction(() => document.querySelectorAll('[data-widget][data-state="loading"]').length === 0, null, {
    timeout: 15_000,
  });
}

async function kpi(p: Page, id: string): Promise<{ raw: string; text: string }> {
  const el = p.locator(`[data-kpi="${id}"]`);
  return { raw: (await el.getAttribute("data-value")) ?? "", text: (await el.locator(".value").innerText()).trim() };
}

/** Every KPI card equals the API's number, exactly (data-value) and as formatted. */
async function expectKpis(p: Page, o: any): Promise<void> {
  const want: Array<[string, number | null, string]> = [
    ["total_messages", o.total_messages, formatCount(o.total_messages)],
    ["total_conversations", o.total_conversations, formatCount(o.total_conversations)],
    ["unique_users", o.unique_users, formatCount(o.unique_users)],
    ["unique_interactions", o.unique_interactions, formatCount(o.unique_interactions)],
    ["avg_bot_response_time_ms", o.avg_bot_response_time_ms, formatDuration(o.avg_bot_response_time_ms)],
    ["avg_conversation_duration_ms", o.avg_conversation_duration_ms, formatDuration(o.avg_conversation_duration_ms)],
    ["human_escalation_rate", o.human_escalation.rate, formatPercent(o.human_escalation.rate)],
    ["satisfaction_rate", o.feedback.satisfaction_rate, formatPercent(o.feedback.satisfaction_rate)],
  ];
  for (const [id, raw, text] of want) {
    const got = await kpi(p, id);
    expect(got.raw === "" ? null : Number(got.raw), id).toBe(raw);
    expect(got.text, id).toBe(text);
  }
  const rate = await p.locator('[data-kpi="unique_interactions"] .note').innerText();
  expect(rate).toContain(formatPercent(o.unique_interaction_rate));
}

async function shoot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: join(screenshotDir(), `${name}.png`), fullPage: true });
}

beforeAll(async () => {
  server = new Server();
  mainKey = server.cliLast(["agent", "create", "support-bot"]);
  readKey = server.cliLast(["key", "create", "--agent", "support-bot", "--role", "read"]);
  otherKey = server.cliLast(["agent", "create", "other-bot"]);
  server.cli(["user", "create", ADMIN.email, "--role", "admin", "--password-stdin"], `${ADMIN.password}\n`);
  server.cli(["user", "create", VIEWER.email, "--role", "viewer", "--agent", "other-bot", "--password-stdin"], `${VIEWER.password}\n`);
  const demoArgs = ["demo", "--agent", "acme-demo", "--conversations", "400", "--days", "30"];
  if (process.env.AGENTSIGHT_GEO_DIR) demoArgs.push("--geo-dir", process.env.AGENTSIGHT_GEO_DIR);
  server.cli(demoArgs);
  await server.start();
  const sent = sdk(server, mainKey, MAIN_SCENARIO);
  for (const s of sent.sent) expect(s.errors, JSON.stringify(sent)).toBe(0);
  const me = await server.api("GET", "/api/metrics/live/", { key: mainKey });
  mainId = me.json.agent.id;
  otherId = (await server.api("GET", "/api/metrics/live/", { key: otherKey })).json.agent.id;
  browser = await launch();
  admin = await context(browser, 1440, TZ);
  page = await admin.ctx.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("the dashboard", () => {
  it("signs in (a wrong password is refused) and lists the agents", async () => {
    await page.goto(`${server.base}/`);
    await page.waitForURL(/\/login/);
    await signIn(page, { email: ADMIN.email, password: "wrong-password-x" });
    await expect.poll(() => page.locator(".form-error").innerText()).toContain("Invalid email or password");
    await signIn(page, ADMIN);
    await page.waitForURL(/\/agents$/);
    const names = await page.locator('[data-table="agents"] tbody tr td:first-child a').allInnerTexts();
    expect(names).toEqual(expect.arrayContaining(["support-bot", "other-bot", "acme-demo"]));
    demoId = Number(await page.locator('[data-table="agents"] tr:has-text("acme-demo")').getAttribute("data-agent"));
    expect(demoId).toBeGreaterThan(0);
    await page.click(`[data-table="agents"] a:text-is("support-bot")`);
    await page.waitForURL(new RegExp(`/agents/${mainId}$`));
    await overviewLoaded(page);
  });

  it("shows every widget, with the numbers of the metrics API", async () => {
    const o = await apiOverview();
    expect(o.total_conversations).toBe(8);
    await expectKpis(page, o);
    for (const w of ["daily", "heatmap", "tools", "map", "countries", "devices", "sources", "languages", "feedback"]) {
      expect(await page.locator(`[data-widget="${w}"]`).getAttribute("data-state"), w).toBe("ready");
    }
    for (const c of ["daily", "heatmap", "tools", "map", "devices", "sources", "languages", "feedback"]) {
      await page.waitForSelector(`[data-chart="${c}"][data-rendered="1"]`, { timeout: 10_000 });
    }
    // Tool usage: every tool's calls, errors.
    const rows = await page.locator('[data-table="tools"] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => ({
        name: tr.getAttribute("data-tool"),
        calls: Number(tr.querySelector("[data-calls]")?.getAttribute("data-calls")),
        errors: Number(tr.querySelector("[data-errors]")?.getAttribute("data-errors")),
      })),
    );
    expect(rows).toEqual(o.tools.slice(0, 8).map((t: any) => ({ name: t.name, calls: t.calls, errors: t.errors })));
    expect(rows.find((r) => r.name === "send_email")?.errors).toBe(1);
    // Breakdowns: each dimension's counts.
    const table = async (key: string) =>
      page.locator(`[data-table="${key}"] tbody tr`).evaluateAll((trs) =>
        trs.map((tr) => [tr.getAttribute("data-value"), Number(tr.querySelector("[data-count]")?.getAttribute("data-count"))]),
      );
    const expected = (rows: any[], key: string, n: number) => rows.slice(0, n).map((r) => [r[key] ?? "unknown", r.conversations]);
    expect(await table("device")).toEqual(expected(o.devices, "device", 6));
    expect(await table("source")).toEqual(expected(o.sources, "source", 6));
    expect(await table("language")).toEqual(expected(o.languages, "language", 6));
    expect(await table("country")).toEqual(expected(o.countries, "country", 10));
    expect(o.countries.some((c: any) => c.country !== null)).toBe(true);
    // Feedback counts, the attribution of the map.
    for (const s of ["positive", "neutral", "negative"]) {
      expect(Number(await page.locator(`[data-feedback] [data-count="${s}"]`).innerText()), s).toBe(o.feedback[s]);
    }
    const attribution = page.locator('[data-widget="map"] .attribution a');
    expect(await attribution.innerText()).toBe("IP Geolocation by DB-IP");
    expect(await attribution.getAttribute("href")).toBe("https://db-ip.com");
    // Any chart saves as a PNG.
    const [png] = await Promise.all([page.waitForEvent("download"), page.click('[data-widget="daily"] button:text-is("PNG")')]);
    expect(png.suggestedFilename()).toMatch(/\.png$/);
    expect(readFileSync(await png.path()).subarray(1, 4).toString()).toBe("PNG");
    expect(admin.errors).toEqual([]);
  });

  it("sets a filter from the keyboard alone", async () => {
    const o = await apiOverview();
    const second = o.sources[1];
    const target = `[data-table="source"] tr[data-value="${second.source ?? "unknown"}"] button`;
    await page.focus("body");
    let reached = false;
    for (let i = 0; i < 250 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate((sel) => document.activeElement === document.querySelector(sel), target);
    }
    expect(reached, "the filter button is reachable with Tab").toBe(true);
    await page.keyboard.press("Enter");
    await page.waitForURL(new RegExp(`source=${second.source}`));
    await until("the filtered numbers", async () => (await kpi(page, "total_conversations")).raw === String(second.conversations));
    await page.click('.chip[data-filter="source"] button');
    await page.waitForURL((u) => !u.search.includes("source="));
    await overviewLoaded(page);
  });

  it("adds a filter when a chart slice is clicked: the URL and the numbers change", async () => {
    const o = await apiOverview();
    const top = o.devices[0];
    const total = o.devices.reduce((n: number, d: any) => n + d.conversations, 0);
    // The donut's first slice starts at 12 o'clock and runs clockwise: click its middle.
    // Click only once the donut has finished drawing (its slices grow while it animates).
    await page.waitForSelector('[data-chart="devices"][data-rendered="1"]');
    await page.locator('[data-chart="devices"]').scrollIntoViewIfNeeded();
    const box = await page.locator('[data-chart="devices"]').boundingBox();
    if (!box) throw new Error("no devices chart");
    const angle = (Math.PI * top.conversations) / total; // half the slice, in radians
    const r = (Math.min(box.width, box.height) / 2) * ((0.45 + 0.72) / 2);
    const cx = box.x + box.width * 0.5;
    const cy = box.y + box.height * 0.44;
    await page.mouse.click(cx + r * Math.sin(angle), cy - r * Math.cos(angle));
    await page.waitForURL(new RegExp(`device=${top.device}`));
    await overviewLoaded(page);
    const filtered = await apiOverview({ device: top.device });
    expect(filtered.total_conversations).toBe(top.conversations);
    expect(filtered.total_conversations).toBeLessThan(o.total_conversations);
    await until("the filtered numbers", async () => (await kpi(page, "total_conversations")).raw === String(filtered.total_conversations));
    await expectKpis(page, filtered);
    expect(await page.locator('.chip[data-filter="device"]').count()).toBe(1);
    // The URL alone reproduces the view.
    const url = page.url();
    const again = await admin.ctx.newPage();
    await again.goto(url);
    await overviewLoaded(again);
    await expectKpis(again, filtered);
    await again.close();
    // Removing the chip goes back.
    await page.click('.chip[data-filter="device"] button');
    await page.waitForURL((u) => !u.search.includes("device="));
    await until("the unfiltered numbers", async () => (await kpi(page, "total_conversations")).raw === String(o.total_conversations));
  });

  it("shows a new message sent through the SDK within 5 s, without a reload", async () => {
    if (new URL(page.url()).search !== "") {
      await page.goto(`${server.base}/agents/${mainId}`);
      await overviewLoaded(page);
    }
    await page.evaluate(() => ((window as unknown as { __noReload: number }).__noReload = 42));
    await page.waitForSelector('[data-live][data-status="live"]', { timeout: 15_000 });
    const before = Number((await kpi(page, "total_messages")).raw);
    const summary = sdk(server, mainKey, LIVE_SCENARIO, { cid: "e2e-live", tag: String(Date.now()) });
    expect(summary.errors).toBe(0);
    const sentAt = Date.now();
    await until("the new messages on the page", async () => Number((await kpi(page, "total_messages")).raw) === before + 2, 5000, 100);
    const took = Date.now() - sentAt;
    expect(took).toBeLessThan(5000);
    expect(await page.evaluate(() => (window as unknown as { __noReload?: number }).__noReload)).toBe(42);
    await until("the active count", async () => Number(await page.locator("[data-active]").getAttribute("data-active")) >= 1, 8000);
    const o = await apiOverview();
    await expectKpis(page, o);
  });

  it("lists conversations, finds one by message text, and shows its transcript", async () => {
    await page.click('nav a:text-is("Conversations")');
    await page.waitForURL(new RegExp(`/agents/${mainId}/conversations`));
    await page.waitForSelector('[data-table="conversations"]');
    const all = await server.api("GET", `/api/conversations/?page_size=100`, { key: mainKey });
    expect(Number(await page.locator("[data-count]").first().getAttribute("data-count"))).toBe(all.json.count);
    await page.fill("#q", "zebra-quartz");
    await page.press("#q", "Enter");
    await page.waitForURL(/q=zebra-quartz/);
    await until("one result", async () => (await page.locator('[data-table="conversations"] tbody tr').count()) === 1);
    // The CSV exports hold what the list shows (the search applies).
    const csv = async (which: string) => {
      const [d] = await Promise.all([page.waitForEvent("download"), page.click(`[data-export="${which}"]`)]);
      return readFileSync(await d.path(), "utf8").trim().split(/\r?\n/);
    };
    const convRows = await csv("conversations");
    expect(convRows[0]).toMatch(/^id,conversation_id,/);
    expect(convRows.length).toBe(2);
    expect(convRows[1]).toContain("e2e-transcript");
    const msgRows = await csv("messages");
    expect(msgRows.some((l) => l.includes("zebra-quartz"))).toBe(true);
    expect(msgRows.every((l, i) => i === 0 || l.includes("e2e-transcript"))).toBe(true);
    await page.click('[data-table="conversations"] tbody tr a');
    await page.waitForURL(/\/conversations\/\d+/);
    await page.waitForSelector("[data-transcript]");
    const pk = Number(new URL(page.url()).pathname.split("/").pop());
    const detail = (await server.api("GET", `/api/conversations/${pk}/`, { key: mainKey })).json;
    // Messages in order, the tool call inline with its duration, the feedback.
    const kinds = await page.locator("[data-transcript] > [data-entry]").evaluateAll((els) => els.map((e) => e.getAttribute("data-entry")));
    expect(kinds).toEqual(detail.messages.map((m: any) => (m.action_logs.length ? (m.action_logs[0].action_name === "token_usage" ? "tokens" : "tool") : m.button ? "button" : "message")));
    const texts = await page.locator('[data-transcript] > [data-entry="message"]').allInnerTexts();
    const msgs = detail.messages.filter((m: any) => !m.action_logs.length && !m.button);
    expect(texts.length).toBe(msgs.length);
    msgs.forEach((m: any, i: number) => expect(texts[i]).toContain(m.content));
    const tool = page.locator('[data-entry="tool"][data-tool="lookup_receipt"]');
    expect(await tool.innerText()).toContain("250 ms");
    await tool.locator("summary").click();
    expect(await tool.innerText()).toContain("total 42.00");
    // The image is previewed (it loaded), the PDF downloads.
    const img = page.locator('[data-entry="message"] img[alt="receipt.png"]');
    await until("the image to load", async () => img.evaluate((e) => (e as HTMLImageElement).naturalWidth === 4));
    const pdf = page.locator('[data-entry="message"] a.file:has-text("invoice.pdf")');
    const [download] = await Promise.all([page.waitForEvent("download"), pdf.click()]);
    expect(download.suggestedFilename()).toBe("invoice.pdf");
    expect(readFileSync(await download.path()).subarray(0, 5).toString()).toBe("%PDF-");
    expect(await page.locator("[data-feedbacks]").innerText()).toContain("quick and right");
    // Mark and rename (admin), checked at the API.
    await page.click('[data-action="mark"]');
    await until("marked", async () => (await server.api("GET", `/api/conversations/${pk}/`, { key: mainKey })).json.is_marked === true);
    await page.click('button:text-is("Rename")');
    await page.fill("#name", "Receipt question");
    await page.click('button:text-is("Save")');
    await until("renamed", async () => (await server.api("GET", `/api/conversations/${pk}/`, { key: mainKey })).json.name === "Receipt question");
    expect(await page.locator("[data-name]").innerText()).toContain("Receipt question");
    expect(admin.errors).toEqual([]);
  });

  it("keeps a viewer to their own agent, in the page and at the API", async () => {
    const v = await context(browser, 1440, TZ);
    const p = await v.ctx.newPage();
    await p.goto(`${server.base}/login`);
    await signIn(p, VIEWER);
    await p.waitForURL(new RegExp(`/agents/${otherId}$`));
    await p.goto(`${server.base}/agents/${mainId}`);
    await p.waitForSelector("h1:text-is('Not found')");
    expect(await p.locator("nav a:text-is('Settings')").count()).toBe(0);
    const s = await server.login(VIEWER.email, VIEWER.password);
    expect((await server.api("GET", "/api/dash/agents/", { session: s })).json.map((a: any) => a.id)).toEqual([otherId]);
    expect((await server.api("GET", `/api/metrics/overview/?agent=${mainId}`, { session: s })).status).toBe(404);
    expect((await server.api("GET", `/api/conversations/?agent=${mainId}`, { session: s })).status).toBe(404);
    expect((await server.api("GET", `/api/metrics/overview/?agent=${otherId}`, { session: s })).status).toBe(200);
    expect((await server.api("PATCH", `/api/dash/agents/${otherId}/`, { session: s }, { name: "x" })).status).toBe(403);
    await v.ctx.close();
  });

  it("shares a read-only overview without an account, until the link is revoked", async () => {
    // White-label first: display name, accent colour, logo.
    await page.goto(`${server.base}/settings/agents/${mainId}`);
    await page.fill("#b-name", "Acme Support");
    await page.fill("#b-accent", "#7b2cbf");
    await page.check('input[name="use_accent"]');
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="32"><rect width="64" height="32" fill="#7b2cbf"/></svg>';
    await page.setInputFiles("#b-logo", { name: "logo.svg", mimeType: "image/svg+xml", buffer: Buffer.from(svg) });
    await page.click('button:text-is("Save branding")');
    await page.waitForSelector("img.logo-preview");
    const logoLoads = async (p: Page) =>
      until("the logo to load", async () => p.locator(".brand img").evaluate((e) => (e as HTMLImageElement).naturalWidth > 0));
    await page.goto(`${server.base}/agents/${mainId}`);
    await overviewLoaded(page);
    expect(await page.locator(".brand span").innerText()).toBe("Acme Support");
    await logoLoads(page);
    await page.goto(`${server.base}/settings/agents/${mainId}`);
    await page.fill("#s-label", "Client view");
    await page.click('button:text-is("Create share link")');
    const url = await page.locator("[data-share-url]").innerText();
    expect(url).toMatch(/\/share\/[\w-]+$/);
    const token = url.split("/share/")[1] ?? "";
    // A browser with no session sees the overview with the API's numbers.
    const anon = await context(browser, 1440, TZ);
    const p = await anon.ctx.newPage();
    await p.goto(url);
    await overviewLoaded(p);
    await expectKpis(p, await apiOverview());
    expect(await p.locator("nav a:text-is('Conversations')").count()).toBe(0);
    expect(await p.locator("text=Read-only shared dashboard").count()).toBe(1);
    expect(await p.locator(".brand span").innerText()).toBe("Acme Support");
    await logoLoads(p);
    expect(await p.evaluate(() => getComputedStyle(document.documentElement).getPropertyValue("--accent").trim())).toBe("#7b2cbf");
    // It cannot change anything, nor read transcripts.
    expect((await server.api("GET", "/api/metrics/overview/", { share: token })).status).toBe(200);
    expect((await server.api("GET", "/api/conversations/", { share: token })).status).toBe(403);
    expect((await server.api("PATCH", `/api/dash/agents/${mainId}/`, { share: token }, { name: "hacked" })).status).toBe(403);
    expect((await server.api("POST", `/api/dash/agents/${mainId}/shares/`, { share: token }, {})).status).toBe(403);
    expect((await server.api("POST", "/api/track/", { share: token }, { content: "x", sender: "end_user", conversation_id: "s" })).status).toBeGreaterThanOrEqual(401);
    // Revoked from the settings page: the link stops working.
    page.once("dialog", (d) => void d.accept());
    await page.click('[data-table="shares"] tr:has-text("Client view") button:text-is("Revoke")');
    await until("revoked", async () => (await server.api("GET", "/api/metrics/overview/", { share: token })).status === 401);
    await p.reload();
    await p.waitForSelector("h1:text-is('This link does not work')");
    await anon.ctx.close();
  });

  it("creates an API key shown once, and a revoked key stops working", async () => {
    await page.goto(`${server.base}/settings/agents/${mainId}`);
    await page.click('button:text-is("New write key")');
    const key = (await page.locator("[data-new-key] [data-secret]").innerText()).trim();
    expect(key).toMatch(/^ags_/);
    expect(sdk(server, key, WRITE_SCENARIO, { cid: "e2e-newkey" }).errors).toBe(0);
    const prefix = key.slice(0, 12);
    await page.reload();
    expect(await page.locator("[data-new-key]").count()).toBe(0);
    expect(await page.locator("body").innerText()).not.toContain(key);
    page.once("dialog", (d) => void d.accept());
    await page.click(`[data-table="keys"] tr:has-text("${prefix}") button:text-is("Revoke")`);
    await page.waitForSelector(`[data-table="keys"] tr:has-text("${prefix}") .badge:text-is("revoked")`);
    await until("the key refused", async () => (await server.api("GET", "/api/metrics/live/", { key })).status === 401, 3000);
    expect((await server.api("POST", "/api/track/", { key }, { content: "x", sender: "end_user", conversation_id: "e2e-newkey" })).status).toBe(401);
    expect((await server.api("GET", "/api/metrics/live/", { key: readKey })).status).toBe(200);
  });

  it("signs out, and a link opened while signed out comes back after signing in", async () => {
    await page.goto(`${server.base}/agents/${mainId}`);
    await overviewLoaded(page);
    await page.click('button:text-is("Sign out")');
    await page.waitForURL(/\/login$/);
    const link = `/agents/${mainId}/conversations?range=7d&device=mobile`;
    await page.goto(server.base + link);
    await page.waitForURL(/\/login\?next=/);
    await signIn(page, ADMIN);
    await page.waitForURL((u) => u.pathname + u.search === link);
    await page.waitForSelector('[data-table="conversations"]');
  });

  it("takes the screenshots of the overview, the conversations and a transcript at 1440 and 375 px", async () => {
    for (const width of [1440, 375]) {
      const c = await context(browser, width, TZ);
      await c.ctx.addCookies(await admin.ctx.cookies());
      const p = await c.ctx.newPage();
      await p.goto(`${server.base}/agents/${demoId}`);
      await overviewLoaded(p);
      await p.waitForSelector('[data-chart="map"][data-rendered="1"]');
      await sleep(600);
      // The layout at this width: the top bar is one row (on a phone, with the agent switcher,
      // a row that scrolls sideways), nothing runs off the page sideways, and the add-filter
      // field shows its whole placeholder.
      const layout = await p.evaluate(() => {
        const bar = document.querySelector(".topbar-inner") as HTMLElement;
        // Rows: the items' vertical centres, those within 8 px of each other counted once.
        const centres = [...bar.children]
          .map((el) => el.getBoundingClientRect())
          .filter((r) => r.width > 0 && r.height > 0)
          .map((r) => r.top + r.height / 2)
          .sort((a, b) => a - b);
        const rows = centres.filter((c, i) => i === 0 || c - (centres[i - 1] ?? -Infinity) > 8).length;
        const input = document.querySelector("#filter-value") as HTMLInputElement;
        const cs = getComputedStyle(input);
        const ctx2d = document.createElement("canvas").getContext("2d")!;
        ctx2d.font = cs.font;
        const room = input.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        return {
          barRows: rows,
          barScrolls: bar.scrollWidth <= bar.clientWidth || getComputedStyle(bar).overflowX === "auto",
          pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
          placeholderFits: ctx2d.measureText(input.placeholder).width <= room,
        };
      });
      expect(layout).toEqual({ barRows: 1, barScrolls: true, pageOverflow: 0, placeholderFits: true });
      await shoot(p, `overview-${width}`);
      await p.goto(`${server.base}/agents/${demoId}/conversations`);
      await p.waitForSelector('[data-table="conversations"] tbody tr');
      await shoot(p, `conversations-${width}`);
      // A conversation with a real exchange (the demo has visits without messages too).
      const href = await p
        .locator('[data-table="conversations"] tbody tr')
        .evaluateAll((trs) => trs.find((tr) => Number(tr.querySelector("[data-messages]")?.getAttribute("data-messages")) >= 6)?.querySelector("a")?.getAttribute("href"));
      if (!href) throw new Error("no demo conversation with 6 messages on the first page");
      await p.goto(server.base + href);
      await p.waitForSelector("[data-transcript] [data-entry]");
      await shoot(p, `transcript-${width}`);
      expect(c.errors).toEqual([]);
      await c.ctx.close();
    }
  });

  it("compares with the previous period: arrows, their colour and words, the overlay, and a grain that follows the range", async () => {
    // An agent with known numbers: 7 days ending today (the "7 days" preset) against the 7 before.
    const s = await server.login(ADMIN.email, ADMIN.password);
    const created = await server.api("POST", "/api/dash/agents/", { session: s }, { name: "compare-bot" });
    expect(created.status).toBe(201);
    const agentId = created.json.id as number;
    const key = (await server.api("POST", `/api/dash/agents/${agentId}/keys/`, { session: s }, { role: "write" })).json.key as string;
    const to = today(TZ);
    const at = (day: string, hms: string) => `${day}T${hms}Z`; // noon UTC is the same day in Zagreb
    const exchange = async (cid: string, day: string, minute: number, replySeconds: number, escalate = false) => {
      const t0 = at(day, `12:${String(minute).padStart(2, "0")}:00`);
      const c = await server.api("POST", "/api/conversations/", { key }, { conversation_id: cid, timestamp: t0 });
      expect(c.status).toBeLessThan(300);
      for (const [sender, ts] of [["end_user", t0], ["agent", at(day, `12:${String(minute).padStart(2, "0")}:0${replySeconds}`)]]) {
        const r = await server.api("POST", "/api/track/", { key }, { conversation: c.json.id, sender, content: `${cid} ${sender}`, timestamp: ts });
        expect(r.status, JSON.stringify(r.json)).toBe(201);
      }
      if (escalate) {
        const r = await server.api("POST", "/api/action_logs/", { key }, { conversation: c.json.id, action_name: "fallback_to_human", timestamp: t0 });
        expect(r.status).toBe(201);
      }
    };
    // Previous 7 days: 2 conversations, 4 messages, replies in 4 s, no escalation.
    await exchange("prev-1", minusDays(to, 9), 0, 4);
    await exchange("prev-2", minusDays(to, 9), 10, 4);
    // This week: 3 conversations, 6 messages, replies in 2 s, one escalated.
    await exchange("now-1", minusDays(to, 2), 0, 2, true);
    await exchange("now-2", minusDays(to, 2), 10, 2);
    await exchange("now-3", minusDays(to, 1), 20, 2);

    // The choice is a control whose value lands in the URL.
    await page.goto(`${server.base}/agents/${agentId}?range=7d`);
    await overviewLoaded(page);
    expect(await page.locator('[data-kpi="total_messages"] .change').count()).toBe(0);
    await page.selectOption("#compare", "previous");
    await page.waitForURL((u) => u.searchParams.get("compare") === "previous");
    await overviewLoaded(page);
    await page.waitForSelector('[data-kpi="total_messages"] .change');
    const change = async (id: string) => {
      const el = page.locator(`[data-kpi="${id}"] .change`);
      return {
        direction: await el.getAttribute("data-change"),
        verdict: await el.getAttribute("data-verdict"),
        text: (await el.locator('[aria-hidden="true"]').first().innerText()).trim(),
        words: ((await el.locator(".sr-only").textContent()) ?? "").trim(),
        colour: await el.evaluate((e) => getComputedStyle(e).color),
      };
    };
    const blue = "rgb(0, 95, 153)";
    const vermillion = "rgb(178, 60, 0)";
    expect(await change("total_messages")).toEqual({
      direction: "up", verdict: "good", text: "▲ 50%", words: "Up 50% from 4 in the compared range, better.", colour: blue,
    });
    expect(await change("total_conversations")).toMatchObject({ direction: "up", verdict: "good", text: "▲ 50%" });
    // A falling response time is good.
    expect(await change("avg_bot_response_time_ms")).toEqual({
      direction: "down", verdict: "good", text: "▼ 50%", words: "Down 50% from 4 s in the compared range, better.", colour: blue,
    });
    // A rising escalation rate is bad, in percentage points.
    expect(await change("human_escalation_rate")).toMatchObject({ direction: "up", verdict: "bad", text: "▲ 33 pts", colour: vermillion });
    // No feedback in either range: no figure.
    expect(await change("satisfaction_rate")).toMatchObject({ direction: "none", verdict: "neutral", text: "no data" });
    // Every card agrees with what the API's previous block gives through the same rules.
    const api = await server.api("GET", `/api/metrics/overview/?${new URLSearchParams({ from: minusDays(to, 6), to, tz: TZ, compare: "previous" })}`, { key });
    expect(api.json.previous.range).toEqual({ from: minusDays(to, 13), to: minusDays(to, 7), tz: TZ });
    expect(api.json.previous.total_messages).toBe(4);
    for (const k of kpis(api.json)) {
      const got = await change(k.id);
      expect([k.id, got.direction, got.text], k.id).toEqual([k.id, k.change?.direction, k.change?.text]);
    }

    // The overlay: a toggle kept in the URL, naming the compared days.
    await page.click("[data-overlay]");
    await page.waitForURL((u) => u.searchParams.get("overlay") === "1");
    await expect.poll(() => page.locator('[data-widget="daily"] .sub').innerText()).toBe(`dashed: the compared days, ${minusDays(to, 13)} – ${minusDays(to, 7)}`);
    expect(await page.getAttribute("[data-overlay]", "aria-pressed")).toBe("true");
    await page.waitForSelector('[data-chart="daily"][data-rendered="1"]');

    // The grain follows the range: a day by hour, a quarter by day, a year by week, more by month.
    const title = async (from: string, until: string) => {
      await page.goto(`${server.base}/agents/${agentId}?range=custom&from=${from}&to=${until}&compare=year`);
      await overviewLoaded(page);
      return (await page.locator("#h-daily").innerText()).trim();
    };
    expect(await title(to, to)).toBe("Messages and conversations per hour");
    expect(await title(minusDays(to, 91), to)).toBe("Messages and conversations per day");
    expect(await title(minusDays(to, 364), to)).toBe("Messages and conversations per week");
    expect(await title(minusDays(to, 800), to)).toBe("Messages and conversations per month");
    expect(admin.errors).toEqual([]);
  });

  it("takes the screenshots of the comparison (cards and overlaid chart) at 1440 and 375 px", async () => {
    for (const width of [1440, 375]) {
      const c = await context(browser, width, TZ);
      await c.ctx.addCookies(await admin.ctx.cookies());
      const p = await c.ctx.newPage();
      await p.goto(`${server.base}/agents/${demoId}?range=7d&compare=previous&overlay=1`);
      await overviewLoaded(p);
      await p.waitForSelector('[data-kpi="total_messages"] .change');
      await p.waitForSelector('[data-chart="daily"][data-rendered="1"]');
      await sleep(600);
      expect(await sidewaysOverflow(p)).toBe(0);
      const box = await p.evaluate(() => {
        const a = document.querySelector(".controls")!.getBoundingClientRect();
        const b = document.querySelector('[data-widget="daily"]')!.getBoundingClientRect();
        return { x: 0, y: Math.max(0, a.top + window.scrollY - 8), width: document.documentElement.clientWidth, height: b.bottom - a.top + 16 };
      });
      await p.screenshot({ path: join(screenshotDir(), `compare-${width}.png`), fullPage: true, clip: box });
      expect(c.errors).toEqual([]);
      await c.ctx.close();
    }
  });
});
