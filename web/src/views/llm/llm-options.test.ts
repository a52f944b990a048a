import { describe, expect, it } from "vitest";
import { MODEL_LIMIT, costByModelOption, costDailyOption } from "./llm-options";
import { sample, totals } from "./llm-fixture.test-data";

type Series = { data: Array<number | { value: number }> };
type Axis = { data: string[] };

describe("costDailyOption", () => {
  it("has one bar per local day with the API's cost", () => {
    const o = costDailyOption(sample);
    expect((o.xAxis as Axis).data).toEqual(["2026-08-15", "2026-08-16"]);
    expect((o.series as Series[])[0]!.data).toEqual([0.000078, 0.0000075]);
  });
  it("names the price table and the exact cost in the tooltip", () => {
    const f = (costDailyOption(sample).tooltip as { formatter: (p: unknown) => string }).formatter;
    const text = f([{ dataIndex: 0 }]);
    expect(text).toContain("0.000078 USD");
    expect(text).toContain("prices of 2025-11-30");
    expect(text).toContain("Calls 2");
  });
});

describe("costByModelOption", () => {
  it("puts the most expensive model at the top and keeps the API's order", () => {
    const o = costByModelOption(sample);
    // A horizontal bar chart draws its first category at the bottom.
    expect((o.yAxis as Axis).data).toEqual(["mystery-1", "claude-3-5-haiku", "gpt-4o-mini"]);
    const values = ((o.series as Series[])[0]!.data as Array<{ value: number }>).map((d) => d.value);
    expect(values).toEqual([0, 0.0000075, 0.000078]);
  });
  it("shows at most MODEL_LIMIT models and marks unpriced calls", () => {
    const many = {
      ...sample,
      by_model: Array.from({ length: 12 }, (_, i) => ({ model: `m${i}`, ...totals({ calls: 1, unpriced_calls: i === 0 ? 1 : 0 }) })),
    };
    const o = costByModelOption(many);
    expect((o.yAxis as Axis).data).toHaveLength(MODEL_LIMIT);
    expect((o.yAxis as Axis).data[MODEL_LIMIT - 1]).toBe("m0");
    const f = (o.tooltip as { formatter: (p: unknown) => string }).formatter;
    expect(f({ dataIndex: MODEL_LIMIT - 1 })).toContain("1 unpriced");
  });
});
