import { describe, expect, it } from "vitest";
import type { OverviewResponse } from "../../api/types";
import { kpiChange, kpis } from "./kpis";

const sample: OverviewResponse = {
  agent: { id: 1, name: "bot" },
  range: { from: "2026-11-01", to: "2026-11-30", tz: "UTC" },
  filters: {},
  total_messages: 12_345,
  messages_by_sender: { end_user: 6000, agent: 6300, system: 45 },
  total_conversations: 800,
  unique_interactions: 640,
  unique_interaction_rate: 0.8,
  avg_bot_response_time_ms: 3400,
  bot_responses: 5900,
  avg_conversation_duration_ms: 150_000,
  peak_hours: { weekdays: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], matrix: [] },
  daily: [],
  tools: [],
  countries: [],
  cities: [],
  devices: [],
  sources: [],
  languages: [],
  unique_users: 512,
  human_escalation: { conversations: 96, rate: 0.12 },
  feedback: { positive: 30, neutral: 5, negative: 15, total: 50, satisfaction_rate: 0.6, ratings: { count: 10, average: 4.2 } },
};

describe("kpis", () => {
  it("has every card of the overview with formatted and exact values", () => {
    const k = kpis(sample);
    expect(k.map((c) => [c.id, c.value, c.raw])).toEqual([
      ["total_messages", "12.3k", 12_345],
      ["total_conversations", "800", 800],
      ["unique_users", "512", 512],
      ["unique_interactions", "640", 640],
      ["avg_bot_response_time_ms", "3.4 s", 3400],
      ["avg_conversation_duration_ms", "2.5 min", 150_000],
      ["human_escalation_rate", "12%", 0.12],
      ["satisfaction_rate", "60%", 0.6],
    ]);
    expect(k[3]?.note).toBe("80% of conversations");
    expect(k[7]?.note).toBe("30 of 50 positive · rating 4.2 / 5");
  });
  it("shows dashes and plain notes with no data", () => {
    const k = kpis({
      ...sample,
      avg_bot_response_time_ms: null,
      bot_responses: 0,
      avg_conversation_duration_ms: null,
      feedback: { positive: 0, neutral: 0, negative: 0, total: 0, satisfaction_rate: null, ratings: { count: 0, average: null } },
    });
    expect(k[4]).toMatchObject({ value: "–", raw: null, note: "no responses yet" });
    expect(k[5]?.value).toBe("–");
    expect(k[7]).toMatchObject({ value: "–", note: "no feedback yet" });
  });
});

describe("kpiChange", () => {
  it("gives the percent of the previous value, its direction, and whether that is good", () => {
    expect(kpiChange(112, 100, "relative", "up", "100")).toEqual({
      direction: "up",
      text: "▲ 12%",
      verdict: "good",
      label: "Up 12% from 100 in the compared range, better.",
    });
    expect(kpiChange(97, 100, "relative", "up", "100")).toMatchObject({ direction: "down", text: "▼ 3%", verdict: "bad" });
    // A falling response time is good; a longer conversation is neither.
    expect(kpiChange(1500, 2000, "relative", "down", "2 s")).toMatchObject({ text: "▼ 25%", verdict: "good" });
    expect(kpiChange(2100, 2000, "relative", "down", "2 s")).toMatchObject({ text: "▲ 5%", verdict: "bad" });
    expect(kpiChange(90_000, 60_000, "relative", "neither", "1 min")).toMatchObject({ text: "▲ 50%", verdict: "neutral" });
    expect(kpiChange(5, 5, "relative", "up", "5")).toMatchObject({ direction: "same", text: "= 0%", verdict: "neutral" });
    expect(kpiChange(1001, 1000, "relative", "up", "1k")).toMatchObject({ direction: "up", text: "▲ 0.1%" });
    expect(kpiChange(100_001, 100_000, "relative", "up", "100k")).toMatchObject({ direction: "up", text: "▲ 0%" });
    expect(kpiChange(250, 100, "relative", "up", "100")).toMatchObject({ text: "▲ 150%" });
  });
  it("gives rates in percentage points", () => {
    expect(kpiChange(0.15, 0.12, "points", "down", "12%")).toMatchObject({ direction: "up", text: "▲ 3 pts", verdict: "bad" });
    expect(kpiChange(0.6, 0.8, "points", "up", "80%")).toMatchObject({ direction: "down", text: "▼ 20 pts", verdict: "bad" });
    expect(kpiChange(0.125, 0.12, "points", "down", "12%")).toMatchObject({ text: "▲ 0.5 pts" });
  });
  it("shows no figure when the previous value is 0 or either is missing", () => {
    expect(kpiChange(10, 0, "relative", "up", "0")).toMatchObject({ direction: "none", verdict: "neutral", text: "no data before" });
    expect(kpiChange(null, 2000, "relative", "down", "2 s")).toMatchObject({ direction: "none", text: "no data now" });
    expect(kpiChange(1000, null, "relative", "down", "–").direction).toBe("none");
    expect(kpiChange(0.5, null, "points", "up", "–").direction).toBe("none");
    expect(kpiChange(null, null, "points", "up", "–")).toMatchObject({ direction: "none", text: "no data" });
    expect(kpiChange(0.2, 0, "points", "down", "0%")).toMatchObject({ direction: "up", text: "▲ 20 pts", verdict: "bad" });
  });
});

describe("kpis with a previous range", () => {
  it("puts each card's change on it, judged per KPI", () => {
    const previous: OverviewResponse = {
      ...sample,
      total_messages: 10_000,
      total_conversations: 800,
      avg_bot_response_time_ms: 4000,
      human_escalation: { conversations: 80, rate: 0.1 },
      unique_users: 0,
      avg_conversation_duration_ms: null,
    };
    const k = kpis({ ...sample, previous });
    const by = Object.fromEntries(k.map((c) => [c.id, c.change]));
    expect(by.total_messages).toMatchObject({ text: "▲ 23%", verdict: "good" });
    expect(by.total_conversations).toMatchObject({ text: "= 0%", verdict: "neutral" });
    expect(by.avg_bot_response_time_ms).toMatchObject({ text: "▼ 15%", verdict: "good", label: "Down 15% from 4 s in the compared range, better." });
    expect(by.human_escalation_rate).toMatchObject({ text: "▲ 2 pts", verdict: "bad" });
    expect(by.unique_users?.direction).toBe("none");
    expect(by.avg_conversation_duration_ms?.direction).toBe("none");
    expect(kpis(sample).every((c) => c.change === null)).toBe(true);
  });
});
