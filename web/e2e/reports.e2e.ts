// Client reports in the settings, end to end: the real binary (AGENTSIGHT_BIN) with `demo` data,
// Debian's Chromium. An admin schedules a report on the agent's settings page and previews it:
// the preview (in a sandboxed iframe) shows the overview API's numbers and its chart image loads.

import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Server, context, launch, screenshotDir } from "./harness";

const TZ = "Europe/Zagreb";
const ADMIN = { email: "admin@example.com", password: "admin-password-1" };

let server: Server;
let browser: Browser;
let admin: { ctx: BrowserContext; errors: string[] };
let page: Page;
let agentId = 0;

beforeAll(async () => {
  server = new Server();
  server.cli(["user", "create", ADMIN.email, "--role", "admin", "--password-stdin"], `${ADMIN.password}\n`);
  server.cli(["demo", "--agent", "acme-demo", "--conversations", "200", "--days", "21"]);
  await server.start();
  const s = await server.login(ADMIN.email, ADMIN.password);
  const agents = await server.api("GET", "/api/dash/agents/", { session: s });
  agentId = agents.json.find((a: { name: string }) => a.name === "acme-demo").id;
  browser = await launch();
  admin = await context(browser, 1440, TZ);
  page = await admin.ctx.newPage();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("client reports in the settings", () => {
  it("schedules a report, names a bad field, and previews it with the overview's numbers", async () => {
    await page.goto(`${server.base}/login`);
    await page.fill("#email", ADMIN.email);
    await page.fill("#password", ADMIN.password);
    await page.click('button[type="submit"]');
    await page.waitForURL(/\/agents(\/\d+)?$/);
    await page.goto(`${server.base}/settings/agents/${agentId}`);
    await page.waitForSelector("#h-reports");
    await expect.poll(() => page.locator('section:has(#h-reports)').innerText()).toContain("No reports scheduled.");

    // A bad address is refused by the server, naming it.
    await page.selectOption("#r-weekday", "tuesday");
    await page.fill("#r-hour", "7");
    await page.fill("#r-tz", TZ);
    await page.fill("#r-to", "client@example.com, not-an-address");
    await page.click('[data-form="new-report"] button[type="submit"]');
    await expect.poll(() => page.locator('section:has(#h-reports) .form-error').innerText()).toContain("recipients[1]");
    admin.errors.splice(0); // that 400 was the point

    await page.fill("#r-to", "client@example.com, boss@example.com");
    await page.click('[data-form="new-report"] button[type="submit"]');
    const row = page.locator('[data-table="reports"] tr[data-report]');
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.innerText()).toContain(`Every Tuesday at 07:00 (${TZ})`);
    expect(await row.innerText()).toContain("client@example.com, boss@example.com");

    await row.locator('button:text-is("Preview")').click();
    const frame = page.frameLocator("[data-report-preview] iframe");
    const cell = frame.locator('[data-kpi="total_messages"]');
    await cell.waitFor({ timeout: 15_000 });
    const id = Number(await row.getAttribute("data-report"));
    const s = await server.login(ADMIN.email, ADMIN.password);
    const p = await server.api("POST", `/api/dash/reports/${id}/preview/`, { session: s }, {});
    expect(p.status).toBe(200);
    const q = new URLSearchParams({ agent: String(agentId), from: p.json.from, to: p.json.to, tz: TZ, compare: "previous" });
    const o = (await server.api("GET", `/api/metrics/overview/?${q}`, { session: s })).json;
    expect(o.total_messages).toBeGreaterThan(0);
    expect(Number(await cell.getAttribute("data-value"))).toBe(o.total_messages);
    expect(Number(await cell.getAttribute("data-previous"))).toBe(o.previous.total_messages);
    const conv = frame.locator('[data-kpi="total_conversations"]');
    expect(Number(await conv.getAttribute("data-value"))).toBe(o.total_conversations);
    // The chart is a data: image the page's policy lets the sandboxed frame show.
    const img = frame.locator('img[src^="data:image/png"]').first();
    await expect.poll(() => img.evaluate((el) => (el as HTMLImageElement).naturalWidth)).toBeGreaterThan(0);

    await page.locator("section:has(#h-reports)").screenshot({ path: join(screenshotDir(), "reports-settings-1440.png") });

    // Turned off, then deleted.
    await row.locator('button:text-is("Turn off")').click();
    await expect.poll(() => row.innerText()).toContain("off");
    page.once("dialog", (d) => void d.accept());
    await row.locator('button:text-is("Delete")').click();
    await expect.poll(() => page.locator('section:has(#h-reports)').innerText()).toContain("No reports scheduled.");
    expect(admin.errors).toEqual([]);
  });
});
