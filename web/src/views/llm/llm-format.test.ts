import { describe, expect, it } from "vitest";
import { costDailyIsEmpty, formatUsd, formatUsdNumber, llmIsEmpty, pricesNote, tokenKinds } from "./llm-format";
import { sample, totals } from "./llm-fixture.test-data";

describe("formatUsd", () => {
  it("writes dollars, cents and fractions of a cent readably", () => {
    expect(formatUsd("1234.5678")).toBe("$1,234.57");
    expect(formatUsd("1.000000")).toBe("$1.00");
    expect(formatUsd("0.0123")).toBe("$0.0123");
    expect(formatUsd("0.500000")).toBe("$0.50");
    expect(formatUsd("0.000039")).toBe("$0.000039");
    expect(formatUsd("0.0000585")).toBe("$0.0000585");
    expect(formatUsd("0.000000000005")).toBe("$0.000000000005");
    expect(formatUsd("0.00001234567")).toBe("$0.0000123");
    expect(formatUsd("0.000000")).toBe("$0.00");
  });
  it("says – for null and for anything not a decimal", () => {
    expect(formatUsd(null)).toBe("–");
    expect(formatUsd(undefined)).toBe("–");
    expect(formatUsd("1e-7")).toBe("–");
    expect(formatUsd("")).toBe("–");
  });
  it("formats axis numbers the same way, without exponents", () => {
    expect(formatUsdNumber(1e-7)).toBe("$0.0000001");
    expect(formatUsdNumber(0.00005)).toBe("$0.00005");
    expect(formatUsdNumber(Number.NaN)).toBe("–");
  });
});

describe("the LLM section's helpers", () => {
  it("names the price table beside a cost", () => {
    expect(pricesNote("2025-11-30")).toBe("prices of 2025-11-30");
  });
  it("lists the five counted kinds and only the subsets there are", () => {
    const kinds = tokenKinds(sample.totals);
    expect(kinds.map((k) => k.field)).toEqual([
      "input_tokens",
      "output_tokens",
      "cache_read_tokens",
      "cache_write_tokens",
      "embedding_tokens",
      "reasoning_tokens",
    ]);
    expect(kinds.find((k) => k.field === "reasoning_tokens")?.subsetOf).toBe("output");
    expect(kinds.slice(0, 5).reduce((n, k) => n + k.tokens, 0)).toBe(sample.totals.total_tokens);
  });
  it("is empty without usage rows, and the daily chart without costs", () => {
    expect(llmIsEmpty(sample)).toBe(false);
    expect(llmIsEmpty({ ...sample, totals: totals() })).toBe(true);
    expect(costDailyIsEmpty(sample)).toBe(false);
    expect(costDailyIsEmpty({ ...sample, daily: sample.daily.map((d) => ({ ...d, cost_usd: "0.000000" })) })).toBe(true);
  });
});
