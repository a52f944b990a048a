import { describe, expect, it } from "vitest";
import type { OverviewResponse } from "../../api/types";
import { kpis } from "./kpis";

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
