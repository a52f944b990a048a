// Alerts end to end: the real release binary evaluating every second, Debian's Chromium, data
// through the real SDK 0.0.44, and a webhook receiver here that checks the signature. A rule
// and a webhook target created on Settings › Alerts fire on the data the SDK sent; the episode
// appears in the page's history with the overview API's number, and the signed notice arrives.

import { createHmac, timingSafeEqual } from "node:crypto";
import { type Server as HttpServer, createServer } from "node:http";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Server, context, launch, openAs, screenshotDir, sdk, today } from "./harness";

const ADMIN = { email: "admin@example.com", password: "admin-password-1" };
const SECRET = "e2e-webhook-signing-secret";

/** Two conversations, one handed to a human (`fallback_to_human`): an escalation rate of 0.5. */
const ESCALATION_SCENARIO = String.raw`
sent = []
for cid, human in (("alert-c1", False), ("alert-c2", True)):
    t.get_or_create_conversation(cid, customer_id="u-" + cid, device="mobile", source="web", language="en")
    t.track_human_message("Where is my order?")
    t.track_agent_message("Let me check.")
    if human:
        t.track_action("fallback_to_human", duration_ms=5)
    sent.append(t.send_tracked_data()["summary"])
emit({"sent": sent})
`;

let server: Server;
let browser: Browser;
let page: Page;
let hook: HttpServer;
let hookUrl = "";
let key = "";
const received: Array<{ body: any; signed: boolean }> = [];

beforeAll(async () => {
  hook = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      const ts = String(req.headers["x-agentsight-timestamp"] ?? "");
      const sig = Buffer.from(String(req.headers["x-agentsight-signature"] ?? ""));
      const want = Buffer.from(`sha256=${createHmac("sha256", SECRET).update(`${ts}.`).update(raw).digest("hex")}`);
      const signed = sig.length === want.length && timingSafeEqual(sig, want);
      received.push({ body: JSON.parse(raw.toString("utf8")), signed });
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((r) => hook.listen(0, "127.0.0.1", r));
  const addr = hook.address();
  hookUrl = `http://127.0.0.1:${typeof addr === "object" && addr ? addr.port : 0}/hooks/e2e`;
  server = new Server();
  key = server.cliLast(["agent", "create", "alert-bot"]);
  server.cli(["user", "create", ADMIN.email, "--role", "admin", "--password-stdin"], `${ADMIN.password}\n`);
  await server.start(["--alert-interval", "1", "--notify-retry-base", "1"]);
  browser = await launch();
  const c = await context(browser, 1440, "UTC");
  page = await c.ctx.newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  hook?.close();
});

describe("alerts", () => {
  it("a rule made in settings fires on SDK data, shows in the history and reaches the webhook signed", async () => {
    await openAs(page, server, ADMIN, "/settings/alerts");
    await page.waitForSelector('form[data-form="new-target"]');

    // A webhook target, then the rule, both through the page's forms.
    await page.selectOption("#t-kind", "webhook");
    await page.fill("#t-name", "e2e hook");
    await page.fill("#t-address", hookUrl);
    await page.fill("#t-secret", SECRET);
    await page.click('form[data-form="new-target"] button[type="submit"]');
    await page.waitForSelector('[data-table="targets"] tbody tr');
    expect(await page.locator('[data-table="targets"]').innerText()).not.toContain("/hooks/e2e");

    await page.selectOption("#r-kind", "escalation_rate");
    await page.fill("#r-threshold", "0.3");
    await page.fill("#r-window", "24");
    await page.click('form[data-form="new-rule"] button[type="submit"]');
    await page.waitForSelector('[data-table="alert-rules"] tbody tr');

    // The data, through the real SDK.
    const sent = sdk(server, key, ESCALATION_SCENARIO);
    for (const s of sent.sent) expect(s.errors, JSON.stringify(sent)).toBe(0);
    const day = today("UTC");
    const o = await server.api("GET", `/api/metrics/overview/?from=${day}&to=${day}&tz=UTC`, { key });
    expect(o.json.human_escalation.rate).toBe(0.5);

    // The page refreshes itself; the episode appears with the API's number.
    const row = page.locator('[data-table="alert-history"] tbody tr');
    await row.first().waitFor({ timeout: 60_000 });
    expect(await row.count()).toBe(1);
    expect(await row.first().locator("[data-state]").getAttribute("data-state")).toBe("firing");
    expect(Number(await row.first().locator("[data-value]").innerText())).toBe(o.json.human_escalation.rate);
    await page.locator('[data-table="alert-rules"] [data-state="firing"]').waitFor();
    await page.screenshot({ path: join(screenshotDir(), "alerts-1440.png"), fullPage: true });

    await expect.poll(() => received.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(1);
    expect(received[0]!.signed).toBe(true);
    expect(received[0]!.body.agentsight.state).toBe("firing");
    expect(received[0]!.body.agentsight.value).toBe(o.json.human_escalation.rate);
    expect(received[0]!.body.text).toContain("FIRING");

    // The sends log on the page shows the delivery.
    await page.locator('[data-table="sends"] [data-status="sent"]').first().waitFor({ timeout: 30_000 });
  }, 180_000);
});
