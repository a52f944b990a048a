// The overview's LLM usage section end to end: the real release binary, SDK 0.1.x span batches
// (turns with LLM calls of priced and unpriced models) sent to POST /api/ingest/ as the SDK
// sends them, Debian's Chromium. Every figure of the section equals GET /api/metrics/llm/, each
// cost carries the price table's date, the top conversations link to their transcripts, a share
// link shows the section without conversations, and an agent without 0.1.x usage says so.

import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatUsd, pricesNote, tokenKinds } from "../src/views/llm/llm-format";
import { Server, context, launch, minusDays, openAs, screenshotDir, sidewaysOverflow, sleep, today } from "./harness";

const TZ = "Europe/Zagreb";
const ADMIN = { email: "admin@example.com", password: "admin-password-1" };
const TRACE = "0123456789abcdef0123456789abcdef";

let server: Server;
let browser: Browser;
let key = "";
let agentId = 0;
let plainId = 0;

/** A deterministic generator (the data is the same on every run). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

let spanSeq = 0;
const spanId = () => (++spanSeq).toString(16).padStart(16, "0");

/** One conversation block: a complete turn with its LLM calls. */
function block(cid: string, at: Date, calls: Array<{ model: string; attrs: Record<string, number> }>): unknown {
  const turn = spanId();
  const t0 = at.toISOString();
  const t1 = new Date(at.getTime() + 2000).toISOString();
  const msg = (sender: string, content: string, ts: string) => ({
    name: "agentsight.message",
    timestamp: ts,
    attributes: { "agentsight.message.sender": sender, "agentsight.message.content": content },
  });
  const span = (id: string, kind: string, attrs: Record<string, unknown>, events: unknown[], parent: string | null, end = t0) => ({
    span_id: id,
    trace_id: TRACE,
    parent_span_id: parent,
    kind,
    name: kind,
    started_at: t0,
    ended_at: end,
    duration_ms: 1.5,
    status: "ok",
    attributes: { "agentsight.span.kind": kind, "agentsight.turn.id": turn, ...attrs },
    events,
  });
  return {
    conversation_id: cid,
    environment: "production",
    spans: [
      span(turn, "turn", { "agentsight.turn.complete": true }, [msg("end_user", `Question of ${cid}`, t0), msg("agent", "An answer.", t1)], null, t1),
      ...calls.map((c) =>
        span(spanId(), "llm", { "gen_ai.system": "openai", "gen_ai.request.model": c.model, ...c.attrs }, [], turn),
      ),
    ],
  };
}

/** 14 conversations over the last 10 days: four priced models and an unpriced one. */
function blocks(): unknown[] {
  const rnd = lcg(20261207);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const models = ["gpt-4o-mini", "gpt-4o", "claude-sonnet-4-5", "gpt-5-mini"];
  const out: unknown[] = [];
  const now = Date.now();
  for (let i = 0; i < 14; i++) {
    const at = new Date(now - (1 + (i % 10)) * 86_400_000 - Math.floor(rnd() * 3_600_000));
    const n = 1 + Math.floor(rnd() * 3);
    const calls = Array.from({ length: n }, () => {
      const model = pick(models);
      const attrs: Record<string, number> = {
        "gen_ai.usage.input_tokens": 200 + Math.floor(rnd() * 4000),
        "gen_ai.usage.output_tokens": 40 + Math.floor(rnd() * 900),
      };
      if (rnd() < 0.4) attrs["agentsight.llm.cache_read_tokens"] = Math.floor(rnd() * 2000);
      if (model === "gpt-5-mini") attrs["agentsight.llm.reasoning_tokens"] = Math.floor(attrs["gen_ai.usage.output_tokens"]! / 2);
      return { model, attrs };
    });
    out.push(block(`llm-c${i + 1}`, at, calls));
  }
  // Unpriced only: counted in calls and tokens, never in a cost.
  out.push(
    block("llm-local", new Date(now - 2 * 86_400_000), [
      { model: "my-local-llama", attrs: { "gen_ai.usage.input_tokens": 900, "gen_ai.usage.output_tokens": 300 } },
    ]),
  );
  return out;
}

/** The API's answer for the page's default range (30 days ending today in the zone). */
async function apiLlm(id = agentId): Promise<any> {
  const to = today(TZ);
  const q = new URLSearchParams({ from: minusDays(to, 29), to, tz: TZ, agent: String(id) });
  const s = await server.login(ADMIN.email, ADMIN.password);
  const r = await server.api("GET", `/api/metrics/llm/?${q}`, { session: s });
  expect(r.status).toBe(200);
  return r.json;
}

async function sectionLoaded(p: Page): Promise<void> {
  await p.waitForSelector('[data-section="llm"]', { timeout: 15_000 });
  await p.waitForFunction(
    () =>
      document.querySelectorAll('[data-section="llm"] [data-widget][data-state="loading"]').length === 0 &&
      document.querySelectorAll('[data-section="llm"] [data-widget]').length > 0,
    null,
    { timeout: 15_000 },
  );
}

/** Every figure of the section equals the API's, exactly and as formatted, with the price date. */
async function expectSection(p: Page, m: any, share: boolean): Promise<void> {
  const note = pricesNote(m.price_table);
  expect(await p.locator('[data-section="llm"] [data-price-table]').getAttribute("data-price-table")).toBe(m.price_table);
  for (const w of ["llm-cost", "llm-daily", "llm-tokens", "llm-models", "llm-top"]) {
    expect(await p.locator(`[data-widget="${w}"]`).getAttribute("data-state"), w).toBe("ready");
  }
  // Every widget with a cost names the price table, and so does every cost's tooltip.
  for (const w of ["llm-cost", "llm-daily", "llm-models", "llm-top"]) {
    expect((await p.locator(`[data-widget="${w}"] .widget-head .sub`).innerText()).trim(), w).toBe(note);
  }
  const usd = async (sel: string) => {
    const el = p.locator(sel);
    return {
      exact: await el.getAttribute("data-exact"),
      text: (await el.innerText()).trim(),
      title: await el.getAttribute("title"),
    };
  };
  const want = (exact: string) => ({ exact, text: formatUsd(exact), title: `${exact} USD, ${note}` });
  expect(await usd('[data-llm-figures] [data-usd="total"]')).toEqual(want(m.totals.cost_usd));
  expect(await usd('[data-llm-figures] [data-usd="average"]')).toEqual(want(m.per_conversation.average_cost_usd));
  expect(await usd('[data-llm-figures] [data-usd="p95"]')).toEqual(want(m.per_conversation.p95_cost_usd));
  const count = async (name: string) => Number(await p.locator(`[data-llm-figures] [data-count="${name}"]`).getAttribute("data-value"));
  expect(await count("calls")).toBe(m.totals.calls);
  expect(await count("conversations")).toBe(m.per_conversation.conversations);
  expect(await count("errors")).toBe(m.totals.errors);
  expect(await count("unpriced")).toBe(m.totals.unpriced_calls);
  // Tokens by kind.
  const kinds = await p.locator('[data-table="llm-tokens"] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [tr.getAttribute("data-kind"), Number(tr.querySelector("[data-value]")?.getAttribute("data-value"))]),
  );
  expect(kinds).toEqual([...tokenKinds(m.totals).map((k) => [k.field, k.tokens]), ["total_tokens", m.totals.total_tokens]]);
  // Cost by model.
  const models = await p.locator('[data-table="llm-models"] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({
      model: tr.getAttribute("data-model"),
      calls: Number(tr.querySelector("[data-calls]")?.getAttribute("data-calls")),
      tokens: Number(tr.querySelector("[data-tokens]")?.getAttribute("data-tokens")),
      cost: tr.querySelector("[data-usd]")?.getAttribute("data-exact"),
    })),
  );
  expect(models).toEqual(m.by_model.slice(0, 8).map((r: any) => ({ model: r.model, calls: r.calls, tokens: r.total_tokens, cost: r.cost_usd })));
  // Cost per day: the table behind the chart, every day of the range.
  const days = await p.locator('[data-table="llm-daily"] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => [tr.getAttribute("data-date"), Number(tr.querySelector("[data-calls]")?.getAttribute("data-calls")), tr.querySelector("[data-usd]")?.getAttribute("data-exact")]),
  );
  expect(days).toEqual(m.daily.map((d: any) => [d.date, d.calls, d.cost_usd]));
  await p.waitForSelector('[data-chart="llm-daily"][data-rendered="1"]', { timeout: 10_000 });
  await p.waitForSelector('[data-chart="llm-models"][data-rendered="1"]', { timeout: 10_000 });
  // The most expensive conversations (none on a share link).
  if (share) {
    expect(await p.locator('[data-table="llm-top"]').count()).toBe(0);
    expect(await p.locator("[data-llm-top-note]").innerText()).toContain("not shown on a shared link");
    return;
  }
  const top = await p.locator('[data-table="llm-top"] tbody tr').evaluateAll((trs) =>
    trs.map((tr) => ({
      pk: Number(tr.getAttribute("data-conversation")),
      id: tr.querySelector("td.cid")?.textContent?.trim(),
      href: tr.querySelector("a")?.getAttribute("href"),
      calls: Number(tr.querySelector("[data-calls]")?.getAttribute("data-calls")),
      tokens: Number(tr.querySelector("[data-tokens]")?.getAttribute("data-tokens")),
      cost: tr.querySelector("[data-usd]")?.getAttribute("data-exact"),
      title: tr.querySelector("[data-usd]")?.getAttribute("title"),
    })),
  );
  expect(top).toEqual(
    m.top_conversations.map((c: any) => ({
      pk: c.conversation,
      id: c.conversation_id,
      href: `/agents/${agentId}/conversations/${c.conversation}`,
      calls: c.calls,
      tokens: c.total_tokens,
      cost: c.cost_usd,
      title: `${c.cost_usd} USD, ${note}`,
    })),
  );
}

beforeAll(async () => {
  server = new Server();
  key = server.cliLast(["agent", "create", "llm-bot"]);
  const plainKey = server.cliLast(["agent", "create", "plain-bot"]);
  server.cli(["user", "create", ADMIN.email, "--role", "admin", "--password-stdin"], `${ADMIN.password}\n`);
  await server.start();
  const r = await server.api("POST", "/api/ingest/", { key }, { sdk: { name: "agentsight-python", version: "0.1.4" }, conversations: blocks() });
  expect(r.status, JSON.stringify(r.json)).toBe(201);
  agentId = (await server.api("GET", "/api/metrics/live/", { key })).json.agent.id;
  plainId = (await server.api("GET", "/api/metrics/live/", { key: plainKey })).json.agent.id;
  browser = await launch();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe("the LLM usage section", () => {
  it("shows the API's tokens, costs per model, day and conversation, each with the price date", async () => {
    const m = await apiLlm();
    expect(m.totals.calls).toBeGreaterThan(15);
    expect(m.per_conversation.conversations).toBe(14);
    expect(m.totals.unpriced_calls).toBe(1);
    const c = await context(browser, 1440, TZ);
    const p = await c.ctx.newPage();
    await openAs(p, server, ADMIN, `/agents/${agentId}`);
    await sectionLoaded(p);
    await expectSection(p, m, false);
    // The most expensive conversation's link opens its transcript.
    const first = m.top_conversations[0];
    await p.click(`[data-table="llm-top"] tr[data-conversation="${first.conversation}"] a`);
    await p.waitForURL(new RegExp(`/agents/${agentId}/conversations/${first.conversation}$`));
    await p.waitForSelector("[data-transcript] [data-entry]");
    expect(await p.locator("[data-transcript]").innerText()).toContain(`Question of ${first.conversation_id}`);
    expect(c.errors).toEqual([]);

    // An agent without 0.1.x usage: the section says there is no LLM data, and nothing fails.
    await p.goto(`${server.base}/agents/${plainId}`);
    await p.waitForSelector('[data-widget="llm"][data-state="empty"] [data-llm-empty]', { timeout: 15_000 });
    expect(await p.locator('[data-widget="llm"]').innerText()).toContain("No LLM data in this range");
    expect(await p.locator('[data-section="llm"] [data-usd]').count()).toBe(0);
    expect(c.errors).toEqual([]);
    await c.ctx.close();
  });

  it("shows the same on a share link, without the conversations", async () => {
    const s = await server.login(ADMIN.email, ADMIN.password);
    const r = await server.api("POST", `/api/dash/agents/${agentId}/shares/`, { session: s }, { label: "llm" });
    expect(r.status).toBe(201);
    const m = await apiLlm();
    const shared = await server.api("GET", `/api/metrics/llm/?${new URLSearchParams({ from: m.range.from, to: m.range.to, tz: TZ })}`, { share: r.json.token });
    expect(shared.status).toBe(200);
    expect(shared.json.top_conversations).toEqual([]);
    expect(shared.json.per_conversation).toEqual(m.per_conversation);
    const anon = await context(browser, 1440, TZ);
    const p = await anon.ctx.newPage();
    await p.goto(server.base + r.json.url);
    await sectionLoaded(p);
    await expectSection(p, { ...m, top_conversations: [] }, true);
    expect(await p.locator('[data-section="llm"] a[href*="/conversations/"]').count()).toBe(0);
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
      await p.waitForSelector('[data-chart="llm-daily"][data-rendered="1"]');
      await p.waitForSelector('[data-chart="llm-models"][data-rendered="1"]');
      expect(await sidewaysOverflow(p), `sideways overflow at ${width} px`).toBe(0);
      await sleep(600);
      // The section alone, from the whole page (so the sticky top bar does not cover it).
      await p.evaluate(() => window.scrollTo(0, 0));
      const box = await p.locator('[data-section="llm"]').boundingBox();
      if (!box) throw new Error("no LLM section");
      const pad = 8;
      await p.screenshot({
        path: join(screenshotDir(), `llm-${width}.png`),
        fullPage: true,
        clip: { x: Math.max(0, box.x - pad), y: Math.max(0, box.y - pad), width: Math.min(width, box.width + 2 * pad), height: box.height + 2 * pad },
      });
      expect(c.errors).toEqual([]);
      await c.ctx.close();
    }
  });
});
