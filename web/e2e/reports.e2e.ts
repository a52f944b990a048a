// Client reports in the settings, end to end: the real binary (AGENTSIGHT_BIN) with `demo` data,
// Debian's Chromium, a real SMTP receiver (aiosmtpd). An admin schedules a report on the agent's
// settings page and previews it: the preview (in a sandboxed iframe) shows the overview API's
// numbers and its chart image loads; "Send test" delivers it to the receiver, chart inline.

import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { Server, SmtpReceiver, context, launch, openAs, screenshotDir, until } from "./harness";

const TZ = "Europe/Zagreb";
const ADMIN = { email: "admin@example.com", password: "admin-password-1" };

let server: Server;
let browser: Browser;
let admin: { ctx: BrowserContext; errors: string[] };
let page: Page;
let agentId = 0;
let smtp: SmtpReceiver;

beforeAll(async () => {
  server = new Server();
  server.cli(["user", "create", ADMIN.email, "--role", "admin", "--password-stdin"], `${ADMIN.password}\n`);
  server.cli(["demo", "--agent", "acme-demo", "--conversations", "200", "--days", "21"]);
  smtp = new SmtpReceiver();
  await smtp.start();
  server.cli(["notify", "smtp", "set", "--host", "127.0.0.1", "--port", String(smtp.port), "--security", "none", "--from", "reports@example.com"]);
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
  smtp?.stop();
});

describe("client reports in the settings", () => {
  it("schedules a report, names a bad field, previews it with the overview's numbers and mails a test", async () => {
    await openAs(page, server, ADMIN, `/settings/agents/${agentId}`);
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

    // Send test: the latest report, now, to one address, as a real mail with the chart inline.
    await row.locator('button:text-is("Send test")').click();
    await page.fill('[data-form="report-test"] input[name="to"]', "ops@example.com");
    await page.click('[data-form="report-test"] button[type="submit"]');
    await expect.poll(() => page.locator("[data-report-test-outcome]").innerText(), { timeout: 20_000 }).toBe(
      "Test report sent to ops@example.com.",
    );
    const mail = await until("the test mail at the SMTP receiver", async () => smtp.messages()[0]);
    expect(mail).toMatch(/^X-RcptTo: ops@example\.com$/m);
    // (The subject is RFC 2047-encoded in the raw mail; the sends log has it as sent.)
    const log = await server.api("GET", "/api/settings/notify/sends/", { session: s });
    expect(log.json[0]).toMatchObject({ source: "test", recipient: "ops@example.com", status: "sent", subject: `[Test] ${p.json.subject}` });
    expect(mail).toMatch(/Content-Type: multipart\/related/);
    expect(mail).toMatch(/Content-Type: image\/png/);
    expect(mail).toMatch(/cid:/);
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
