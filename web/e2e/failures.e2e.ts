// "Where the bot fails" end to end: the real release binary, conversations sent through the
// 0.0.x API as the SDK sends them, Debian's Chromium. The section's figures equal
// GET /api/metrics/failures/; a click on "unanswered" opens the conversation list filtered to
// exactly the conversations GET /api/conversations/?unanswered=true lists; the list's control
// shows the filter; a share link shows the counts without links or questions; screenshots of
// the section at 1440 and 375 px.

import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Server, context, launch, minusDays, openAs, screenshotDir, sidewaysOverflow, sleep, today } from "./harness";

const TZ = "Europe/Zagreb";
const ADMIN = { email: "admin@example.com", password: "admin-password-1" };

let server: Server;
let browser: Browser;
let key = "";
let agentId = 0;

const iso = (msAgo: number) => new Date(Date.now() - msAgo).toISOString();
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A conversation: its messages (sender, text, how long ago) and actions (name, error, how long ago). */
async function conversation(
  id: string,
  messages: Array<[string, string, number]>,
  actions: Array<[string, string | null, number]> = [],
): Promise<void> {
  const first = Math.max(...messages.map((m) => m[2]), ...actions.map((a) => a[2]));
  let r = await server.api("POST", "/api/conversations/", { key }, { conversation_id: id, timestamp: iso(first + 60_000), device: "desktop" });
  expect(r.status, JSON.stringify(r.json)).toBeLessThan(300);
  const pk = r.json.id;
  for (const [sender, content, ago] of messages) {
    r = await server.api("POST", "/api/track/", { key }, { conversation_id: id, conversation: pk, sender, content, timestamp: iso(ago), metadata: {} });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  }
  for (const [name, error, ago] of actions) {
    r = await server.api("POST", "/api/action_logs/", { key }, { conversation: pk, conversation_id: id, action_name: name, error_msg: error, started_at: iso(ago), duration_ms: 40 });
    expect(r.status, JSON.stringify(r.json)).toBe(201);
  }
}

async function seed(): Promise<void> {
  const questions = [
    "Where is my order #A-1234?",
    "where is my order b-77",
    "Where is my ORDER x991?!",
    "How do I reset my password?",
    "how do i reset my password",
    "Can I talk to a human?",
    "Do you ship to Croatia?",
  ];
  // Unanswered: the user asked, the bot never replied.
  for (let i = 0; i < 3; i++) await conversation(`unanswered-${i}`, [["end_user", questions[i]!, (i + 1) * DAY + 2 * HOUR]]);
  // Abandoned: the bot replied, the user never came back.
  for (let i = 0; i < 4; i++) {
    await conversation(`abandoned-${i}`, [
      ["end_user", questions[(i + 3) % questions.length]!, (i + 1) * DAY + HOUR],
      ["agent", "Here is how.", (i + 1) * DAY + HOUR - 5_000],
    ]);
  }
  // Answered twice, with a failed tool call on the way; the bot had the last word, so these
  // are abandoned too (docs/metrics.md: the user never came back after the bot's reply).
  for (let i = 0; i < 3; i++) {
    await conversation(
      `tool-${i}`,
      [
        ["end_user", "Where is my order #C-55?", 2 * DAY],
        ["agent", "Looking it up…", 2 * DAY - 3_000],
        ["end_user", "thanks", 2 * DAY - 60_000],
        ["agent", "You're welcome.", 2 * DAY - 61_000],
      ],
      [
        ["order_lookup", i < 2 ? "timeout after 5 s" : null, 2 * DAY - 2_000],
        ["crm_search", i === 0 ? "HTTP 502" : null, 2 * DAY - 2_500],
      ],
    );
  }
  // Escalations after 0, 1 and 3 user messages.
  await conversation("escalated-0", [["end_user", "Can I talk to a human?", 3 * DAY - 2_000], ["agent", "Connecting you.", 3 * DAY - 3_000]], [["fallback_to_human", null, 3 * DAY]]);
  await conversation("escalated-1", [["end_user", "Can I talk to a human?", 3 * DAY], ["agent", "Connecting you.", 3 * DAY - 2_000]], [["fallback_to_human", null, 3 * DAY - 1_000]]);
  await conversation(
    "escalated-3",
    [
      ["end_user", "My invoice is wrong", 4 * DAY],
      ["agent", "Which one?", 4 * DAY - 1_000],
      ["end_user", "INV-2231", 4 * DAY - 2_000],
      ["agent", "Checking.", 4 * DAY - 3_000],
      ["end_user", "still wrong", 4 * DAY - 4_000],
      ["agent", "A colleague will help.", 4 * DAY - 6_000],
    ],
    [["open_ticket", null, 4 * DAY - 5_000]],
  );
}

/** The API's answer for the page's default range (30 days ending today in the zone). */
async function apiFailures(): Promise<any> {
  const to = today(TZ);
  const q = new URLSearchParams({ from: minusDays(to, 29), to, tz: TZ, agent: String(agentId) });
  const s = await server.login(ADMIN.email, ADMIN.password);
  const r = await server.api("GET", `/api/metrics/failures/?${q}`, { session: s });
  expect(r.status).toBe(200);
  return r.json;
}

async function apiList(filter: string): Promise<string[]> {
  const to = today(TZ);
  const q = new URLSearchParams({ from: minusDays(to, 29), to, tz: TZ, page_size: "100" });
  const r = await server.api("GET", `/api/conversations/?${q}&${filter}`, { key });
  expect(r.status).toBe(200);
  return r.json.results.map((c: any) => c.id).sort((a: number, b: number) => a - b);
}

async function sectionLoaded(p: Page): Promise<void> {
  await p.waitForSelector('[data-section="failures"]', { timeout: 15_000 });
  await p.waitForFunction(
    () =>
      document.querySelectorAll('[data-section="failures"] [data-widget][data-state="loading"]').length === 0 &&
      document.querySelectorAll('[data-section="failures"] [data-widget]').length > 1,
    null,
    { timeout: 15_000 },
  );
}

const figure = async (p: Page, name: string) =>
  Number(await p.locator(`[data-failures-figures] [data-figure="${name}"]`).getAttribute("data-value"));

beforeAll(async () => {
  server = new Server();
  key = server.cliLast(["agent", "create", "support-bot"]);
  server.cli(["user", "create", ADMIN.email, "--role", "admin", "--password-stdin"], `${ADMIN.password}\n`);
  await server.start();
  await seed();
  agentId = (await server.api("GET", "/api/metrics/live/", { key })).json.agent.id;
  browser = await launch();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("where the bot fails", () => {
  it("shows the API's figures, and a click on unanswered filters the conversation list", async () => {
    const f = await apiFailures();
    expect(f.unanswered.conversations).toBe(3);
    expect(f.abandoned.conversations).toBe(7);
    expect(f.tool_errors.tools.map((t: any) => [t.name, t.errors, t.conversations])).toEqual([
      ["order_lookup", 2, 2],
      ["crm_search", 1, 1],
    ]);
    expect(f.escalations.by_turns.filter((b: any) => b.conversations > 0).map((b: any) => b.turns)).toEqual([0, 1, 3]);
    expect(f.first_questions.top[0]).toMatchObject({ question: "where is my order <id>", conversations: 6 });

    const c = await context(browser, 1440, TZ);
    const p = await c.ctx.newPage();
    await openAs(p, server, ADMIN, `/agents/${agentId}`);
    await sectionLoaded(p);
    expect(await figure(p, "unanswered")).toBe(f.unanswered.conversations);
    expect(await figure(p, "abandoned")).toBe(f.abandoned.conversations);
    expect(await figure(p, "tool_error")).toBe(f.tool_errors.conversations);
    expect(await figure(p, "awaiting")).toBe(f.awaiting);
    const tools = await p.locator('[data-table="tool-errors"] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [tr.getAttribute("data-tool"), Number(tr.querySelector("[data-errors]")?.getAttribute("data-errors"))]),
    );
    expect(tools).toEqual(f.tool_errors.tools.map((t: any) => [t.name, t.errors]));
    const questions = await p.locator('[data-table="first-questions"] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => [tr.getAttribute("data-question"), Number(tr.querySelector("[data-value]")?.getAttribute("data-value"))]),
    );
    expect(questions).toEqual(f.first_questions.top.map((q: any) => [q.question, q.conversations]));

    // The click: the list opens with the filter applied, showing exactly those conversations.
    const want = await apiList("unanswered=true");
    expect(want.length).toBe(3);
    await p.click('[data-failures-figures] a[data-figure="unanswered"]');
    await p.waitForURL(/\/conversations\?.*outcome=unanswered/);
    await p.waitForFunction(() => document.querySelector('[data-table="conversations"] tbody tr') !== null, null, { timeout: 15_000 });
    await p.waitForFunction(() => document.querySelector('[data-count]')?.getAttribute("data-count") === "3", null, { timeout: 15_000 });
    const rows = await p.locator('[data-table="conversations"] tbody tr').evaluateAll((trs) =>
      trs.map((tr) => Number(tr.getAttribute("data-conversation"))).sort((a, b) => a - b),
    );
    expect(rows).toEqual(want);
    expect(await p.locator('[data-control="outcome"]').inputValue()).toBe("unanswered");

    // The control changes the filter: tool errors.
    await p.selectOption('[data-control="outcome"]', "tool_error");
    await p.waitForURL(/outcome=tool_error/);
    const toolRows = await apiList("tool_error=true");
    await p.waitForFunction((n) => document.querySelector("[data-count]")?.getAttribute("data-count") === String(n), toolRows.length, { timeout: 15_000 });
    expect(toolRows.length).toBe(2);

    // A turns bar opens the conversations escalated after that many user messages.
    await p.goto(`${server.base}/agents/${agentId}`);
    await sectionLoaded(p);
    await p.click('[data-table="escalation-turns"] tr[data-turns="3"] a');
    await p.waitForURL(/outcome=escalated&turns=3/);
    await p.waitForFunction(() => document.querySelector("[data-count]")?.getAttribute("data-count") === "1", null, { timeout: 15_000 });
    expect(await p.locator("[data-outcome-chip]").innerText()).toContain("after 3 user messages");
    expect(c.errors).toEqual([]);
    await c.ctx.close();
  });

  it("shows the counts on a share link, without links or questions", async () => {
    const s = await server.login(ADMIN.email, ADMIN.password);
    const r = await server.api("POST", `/api/dash/agents/${agentId}/shares/`, { session: s }, { label: "failures" });
    expect(r.status).toBe(201);
    const f = await apiFailures();
    const anon = await context(browser, 1440, TZ);
    const p = await anon.ctx.newPage();
    await p.goto(server.base + r.json.url);
    await sectionLoaded(p);
    expect(await figure(p, "unanswered")).toBe(f.unanswered.conversations);
    expect(await p.locator('[data-section="failures"] a').count()).toBe(0);
    expect(await p.locator("[data-questions-note]").innerText()).toContain("not shown on a shared link");
    expect(anon.errors).toEqual([]);
    await anon.ctx.close();
  });

  it("fits 1440 and 375 px, and takes the screenshots of the section", async () => {
    const s = await server.login(ADMIN.email, ADMIN.password);
    for (const width of [1440, 375]) {
      const c = await context(browser, width, TZ);
      await c.ctx.addCookies([{ name: "agentsight_session", value: s.cookie.split("=").slice(1).join("="), url: server.base }]);
      const p = await c.ctx.newPage();
      await p.goto(`${server.base}/agents/${agentId}`);
      await sectionLoaded(p);
      expect(await sidewaysOverflow(p), `sideways overflow at ${width} px`).toBe(0);
      await sleep(400);
      await p.evaluate(() => window.scrollTo(0, 0));
      const box = await p.locator('[data-section="failures"]').boundingBox();
      if (!box) throw new Error("no failures section");
      const pad = 8;
      await p.screenshot({
        path: join(screenshotDir(), `failures-${width}.png`),
        fullPage: true,
        clip: { x: Math.max(0, box.x - pad), y: Math.max(0, box.y - pad), width: Math.min(width, box.width + 2 * pad), height: box.height + 2 * pad },
      });
      expect(c.errors).toEqual([]);
      await c.ctx.close();
    }
  });
});
