import { describe, expect, it } from "vitest";
import type { FeedbackSummary, OverviewResponse, ToolRow } from "../api/types";
import { barOption, breakdownIsEmpty, breakdownItems, pieOption } from "./breakdown-option";
import { clickedFilter } from "./common";
import { alignByPosition, dailyIsEmpty, dailyOption, seriesRows, tooltipText } from "./daily-option";
import { feedbackItems, feedbackOption } from "./feedback-option";
import { heatmapCells, heatmapIsEmpty, heatmapOption } from "./heatmap-option";
import { cityPoints, citySize, countryItems, mapIsEmpty, mapOption } from "./map-option";
import { errorRate, toolsOption } from "./tools-option";

// The options are plain objects; these helpers read the parts the tests look at.
type AnyObj = Record<string, any>;
const series = (o: unknown): AnyObj[] => (o as AnyObj).series as AnyObj[];

const daily: OverviewResponse["daily"] = [
  { date: "2026-11-01", messages: 10, conversations: 2 },
  { date: "2026-11-02", messages: 0, conversations: 0 },
  { date: "2026-11-03", messages: 7, conversations: 3 },
];

describe("dailyOption", () => {
  it("has one category per day and the two series in order", () => {
    const o = dailyOption(daily) as AnyObj;
    expect(o.xAxis.data).toEqual(["2026-11-01", "2026-11-02", "2026-11-03"]);
    const [m, c] = series(o);
    expect(m?.name).toBe("Messages");
    expect(m?.type).toBe("bar");
    expect(m?.data).toEqual([10, 0, 7]);
    expect(c?.type).toBe("line");
    expect(c?.data).toEqual([2, 0, 3]);
    expect(c?.yAxisIndex).toBe(1);
  });
  it("is empty only when every day is zero", () => {
    expect(dailyIsEmpty(daily)).toBe(false);
    expect(dailyIsEmpty(daily.map((d) => ({ ...d, messages: 0, conversations: 0 })))).toBe(true);
  });
});

describe("heatmap", () => {
  const matrix = Array.from({ length: 7 }, () => Array.from({ length: 24 }, () => 0));
  matrix[0]![9] = 5; // Monday 09:00
  matrix[6]![23] = 2; // Sunday 23:00
  const peak = { weekdays: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], matrix };
  it("puts Monday on the top row and keeps every count", () => {
    const cells = heatmapCells(peak);
    expect(cells).toHaveLength(168);
    expect(cells).toContainEqual([9, 6, 5]);
    expect(cells).toContainEqual([23, 0, 2]);
    const o = heatmapOption(peak) as AnyObj;
    expect(o.yAxis.data[6]).toBe("Mon");
    expect(o.yAxis.data[0]).toBe("Sun");
    expect(o.visualMap.max).toBe(5);
    expect(o.xAxis.data).toHaveLength(24);
  });
  it("is empty when every cell is zero", () => {
    expect(heatmapIsEmpty(peak)).toBe(false);
    expect(heatmapIsEmpty({ ...peak, matrix: matrix.map((r) => r.map(() => 0)) })).toBe(true);
  });
});

describe("breakdowns", () => {
  const groups = [
    { value: "web", conversations: 50 },
    { value: "whatsapp", conversations: 30 },
    { value: null, conversations: 5 },
  ];
  it("labels groups, maps the null group to the unknown filter", () => {
    expect(breakdownItems("source", groups)).toEqual([
      { name: "web", value: 50, filter: { key: "source", value: "web" } },
      { name: "whatsapp", value: 30, filter: { key: "source", value: "whatsapp" } },
      { name: "Unknown", value: 5, filter: { key: "source", value: "unknown" } },
    ]);
  });
  it("names countries and languages, capitalizes devices", () => {
    expect(breakdownItems("language", [{ value: "de", conversations: 1 }])[0]?.name).toBe("German (de)");
    expect(breakdownItems("device", [{ value: "mobile", conversations: 1 }])[0]?.name).toBe("Mobile");
  });
  it("folds the rest into an Other item that filters nothing", () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ value: `s${i}`, conversations: 12 - i }));
    const items = breakdownItems("source", many, 8);
    expect(items).toHaveLength(9);
    expect(items[8]).toEqual({ name: "Other", value: 4 + 3 + 2 + 1 });
    expect(clickedFilter(items[8])).toBeNull();
    expect(clickedFilter(items[0])).toEqual({ key: "source", value: "s0" });
  });
  it("draws bars largest on top and a donut of the same items", () => {
    const bar = barOption("source", groups) as AnyObj;
    expect(bar.yAxis.data).toEqual(["Unknown", "whatsapp", "web"]);
    expect(series(bar)[0]?.data.map((d: AnyObj) => d.value)).toEqual([5, 30, 50]);
    const pie = pieOption("device", [{ value: "mobile", conversations: 3 }]) as AnyObj;
    expect(series(pie)[0]?.data[0]).toMatchObject({ name: "Mobile", value: 3, filter: { key: "device", value: "mobile" } });
  });
  it("is empty with no conversations", () => {
    expect(breakdownIsEmpty([])).toBe(true);
    expect(breakdownIsEmpty(groups)).toBe(false);
  });
});

describe("tools", () => {
  const tools: ToolRow[] = [
    { name: "search", calls: 10, avg_duration_ms: 120.5, errors: 1 },
    { name: "fallback_to_human", calls: 2, avg_duration_ms: null, errors: 0 },
  ];
  it("draws calls and errors, the most called on top", () => {
    const o = toolsOption(tools) as AnyObj;
    expect(o.yAxis.data).toEqual(["fallback_to_human", "search"]);
    expect(series(o)[0]?.data).toEqual([2, 10]);
    expect(series(o)[1]?.data).toEqual([0, 1]);
    expect(o.tooltip.formatter([{ dataIndex: 1 }])).toContain("average 121 ms");
    expect(o.tooltip.formatter([{ dataIndex: 0 }])).toContain("average –");
  });
  it("computes an error rate", () => {
    expect(errorRate(tools[0]!)).toBeCloseTo(0.1);
    expect(errorRate({ name: "x", calls: 0, avg_duration_ms: null, errors: 0 })).toBe(0);
  });
});

describe("feedback", () => {
  const f: FeedbackSummary = { positive: 6, neutral: 1, negative: 3, total: 10, satisfaction_rate: 0.6, ratings: { count: 0, average: null } };
  it("has the three sentiments in order", () => {
    expect(feedbackItems(f).map((i) => [i.name, i.value])).toEqual([
      ["Positive", 6],
      ["Neutral", 1],
      ["Negative", 3],
    ]);
    expect((feedbackOption(f) as AnyObj).tooltip.formatter({ name: "Positive", value: 6 })).toContain("60%");
  });
});

describe("map", () => {
  const countries = [
    { country: "HR", conversations: 8 },
    { country: "DE", conversations: 2 },
    { country: null, conversations: 4 },
  ];
  const cities = [
    { country: "HR", city: "Zagreb", lat: 45.8, lon: 15.97, conversations: 6 },
    { country: "HR", city: null, lat: null, lon: null, conversations: 2 },
  ];
  it("shades known countries and filters on click", () => {
    expect(countryItems(countries)).toEqual([
      { name: "HR", value: 8, filter: { key: "country", value: "HR" } },
      { name: "DE", value: 2, filter: { key: "country", value: "DE" } },
    ]);
    const o = mapOption(countries, cities) as AnyObj;
    expect(o.visualMap.max).toBe(8);
    expect(series(o)[0]?.type).toBe("map");
    expect(o.tooltip.formatter({ seriesType: "map", name: "HR", value: 8 })).toBe("Croatia<br><b>8</b> conversations");
    expect(o.tooltip.formatter({ seriesType: "map", name: "FR", value: Number.NaN })).toContain("<b>0</b>");
  });
  it("plots cities with coordinates as lon/lat points", () => {
    expect(cityPoints(cities)).toEqual([{ name: "Zagreb", value: [15.97, 45.8, 6], country: "HR" }]);
    expect(citySize(6, 6)).toBe(22);
    expect(citySize(0, 6)).toBe(4);
  });
  it("is empty with no known country", () => {
    expect(mapIsEmpty(countries)).toBe(false);
    expect(mapIsEmpty([{ country: null, conversations: 3 }])).toBe(true);
  });
});

describe("map on a narrow screen", () => {
  it("hides the colour legend", () => {
    const countries = [{ country: "HR", conversations: 1 }];
    expect((mapOption(countries, [], true) as AnyObj).visualMap.show).toBe(false);
    expect((mapOption(countries, []) as AnyObj).visualMap.show).toBe(true);
  });
});

describe("series rows and the compared overlay", () => {
  it("pairs the two series by bucket and labels the local hour", () => {
    const m = [
      { start: "2026-11-24T00:00:00+01:00", value: 3 },
      { start: "2026-11-24T01:00:00+01:00", value: 0 },
    ];
    const c = [{ start: "2026-11-24T00:00:00+01:00", value: 1 }];
    expect(seriesRows(m, c)).toEqual([
      { date: "2026-11-24T00:00:00+01:00", messages: 3, conversations: 1 },
      { date: "2026-11-24T01:00:00+01:00", messages: 0, conversations: 0 },
    ]);
    const o = dailyOption(seriesRows(m, c), "hour") as AnyObj;
    expect((o.xAxis.axisLabel.formatter as (d: string) => string)("2026-11-24T01:00:00+01:00")).toBe("01:00");
    expect(series(o)).toHaveLength(2);
  });
  it("labels weeks and months by their start", () => {
    const rows = [{ date: "2026-01-15", messages: 1, conversations: 1 }];
    const f = (g: "week" | "month") => ((dailyOption(rows, g) as AnyObj).xAxis.axisLabel.formatter as (d: string) => string)("2026-02-01");
    expect(f("week")).toBe("1 Feb");
    expect(f("month")).toBe("Feb 2026");
  });
  it("lays the compared range over the range by position, padding with nulls and dropping extras", () => {
    const prev = [
      { date: "2026-10-29", messages: 4, conversations: 1 },
      { date: "2026-10-30", messages: 5, conversations: 2 },
    ];
    expect(alignByPosition(daily, prev)).toEqual([prev[0], prev[1], null]);
    expect(alignByPosition(daily.slice(0, 1), prev)).toEqual([prev[0]]);
    const o = dailyOption(daily, "day", prev) as AnyObj;
    const [, , pm, pc] = series(o);
    expect(pm?.name).toBe("Messages, compared");
    expect(pm?.data).toEqual([4, 5, null]);
    expect(pc?.data).toEqual([1, 2, null]);
    expect(pc?.yAxisIndex).toBe(1);
    expect(pm?.lineStyle.type).toBe("dashed");
    expect(pc?.lineStyle.type).toBe("dashed");
    expect(o.legend.data).toEqual(["Messages", "Conversations"]);
    const text = tooltipText(
      [
        { dataIndex: 1, seriesName: "Messages", value: 0 },
        { dataIndex: 1, seriesName: "Messages, compared", value: 5 },
      ],
      daily,
      alignByPosition(daily, prev),
      "day",
    );
    expect(text).toBe("2 Nov 2026<br/>Messages: <b>0</b><br/>Messages, compared (30 Oct 2026): <b>5</b>");
  });
});
