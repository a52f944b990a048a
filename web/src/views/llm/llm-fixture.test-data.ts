// A `GET /api/metrics/llm/` answer for the section's unit tests.

import type { LlmMetricsResponse, LlmTotals } from "../../api/types";

export function totals(over: Partial<LlmTotals> = {}): LlmTotals {
  return {
    calls: 0,
    errors: 0,
    unreported_calls: 0,
    unpriced_calls: 0,
    input_tokens: 0,
    output_tokens: 0,
    cache_read_tokens: 0,
    cache_write_tokens: 0,
    embedding_tokens: 0,
    reasoning_tokens: 0,
    audio_input_tokens: 0,
    audio_output_tokens: 0,
    total_tokens: 0,
    cost_usd: "0.000000",
    ...over,
  };
}

export const sample: LlmMetricsResponse = {
  agent: { id: 1, name: "bot" },
  range: { from: "2026-08-15", to: "2026-08-16", tz: "UTC" },
  filters: {},
  price_table: "2025-11-30",
  totals: totals({ calls: 3, input_tokens: 170, output_tokens: 100, reasoning_tokens: 12, total_tokens: 270, cost_usd: "0.0000855" }),
  by_model: [
    { model: "gpt-4o-mini", ...totals({ calls: 2, cost_usd: "0.000078" }) },
    { model: "claude-3-5-haiku", ...totals({ calls: 1, cost_usd: "0.0000075" }) },
    { model: "mystery-1", ...totals({ calls: 1, unpriced_calls: 1 }) },
  ],
  daily: [
    { date: "2026-08-15", ...totals({ calls: 2, cost_usd: "0.000078" }) },
    { date: "2026-08-16", ...totals({ calls: 1, cost_usd: "0.0000075" }) },
  ],
  per_conversation: { conversations: 2, average_cost_usd: "0.00004275", p95_cost_usd: "0.000078" },
  top_conversations: [
    { conversation: 7, conversation_id: "c1", cost_usd: "0.000078", calls: 2, total_tokens: 250 },
    { conversation: 9, conversation_id: "c5", cost_usd: "0.0000075", calls: 1, total_tokens: 20 },
  ],
};
