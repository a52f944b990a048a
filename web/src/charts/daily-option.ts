// Messages (bars) and conversations (line) of the overview, one point per bucket of the range's
// grain (hour, day, week or month: grain.ts), with the compared range overlaid when asked.

import { formatCount, formatExact } from "../format";
import type { OverviewResponse, TimeseriesResponse } from "../api/types";
import type { ChartOption } from "./echarts";
import { TEXT } from "./common";
import { type Grain, bucketLabel, bucketLongLabel } from "./grain";
import { MUTED, SERIES } from "./palette";

/** One bucket of the chart: its start as the API gives it (`YYYY-MM-DD` or RFC 3339). */
export type DailyRow = OverviewResponse["daily"][number];

/** Rows of the chart from two time series of the same buckets (messages, conversations). */
export function seriesRows(
  messages: TimeseriesResponse["points"],
  conversations: TimeseriesResponse["points"],
): DailyRow[] {
  const conv = new Map(conversations.map((p) => [p.start, p.value ?? 0]));
  return messages.map((p) => ({ date: p.start, messages: p.value ?? 0, conversations: conv.get(p.start) ?? 0 }));
}

/**
 * The compared range's values laid over the range's buckets by position: the i-th bucket of
 * the compared range over the i-th of the range (both ranges have the same number of days, a
 * year back give or take a 29 February, and weeks and months are cut at the range's start).
 * Missing buckets are null; extra ones are dropped.
 */
export function alignByPosition(current: DailyRow[], previous: DailyRow[]): Array<DailyRow | null> {
  return current.map((_, i) => previous[i] ?? null);
}

/** The chart. `previous`: the compared range's rows to overlay (dashed lines), or none. */
export function dailyOption(daily: DailyRow[], grain: Grain = "day", previous?: DailyRow[]): ChartOption {
  const dates = daily.map((d) => d.date);
  const prev = previous ? alignByPosition(daily, previous) : null;
  const series: unknown[] = [
    {
      name: "Messages",
      type: "bar",
      data: daily.map((d) => d.messages),
      itemStyle: { color: SERIES.messages, borderRadius: [2, 2, 0, 0] },
      barMaxWidth: 28,
    },
    {
      name: "Conversations",
      type: "line",
      yAxisIndex: 1,
      data: daily.map((d) => d.conversations),
      itemStyle: { color: SERIES.conversations },
      lineStyle: { width: 2.5 },
      symbol: daily.length > 45 ? "none" : "circle",
      symbolSize: 6,
    },
  ];
  if (prev) {
    series.push(
      {
        name: "Messages, compared",
        type: "line",
        data: prev.map((d) => (d ? d.messages : null)),
        itemStyle: { color: SERIES.messages },
        lineStyle: { width: 2, type: "dashed", opacity: 0.75 },
        symbol: "none",
        connectNulls: false,
      },
      {
        name: "Conversations, compared",
        type: "line",
        yAxisIndex: 1,
        data: prev.map((d) => (d ? d.conversations : null)),
        itemStyle: { color: SERIES.conversations },
        lineStyle: { width: 2, type: "dashed", opacity: 0.85 },
        symbol: "none",
        connectNulls: false,
      },
    );
  }
  return {
    textStyle: TEXT,
    aria: { enabled: true, decal: { show: false } },
    grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
    // The compared lines stay out of the legend (one row on a phone too): the widget's subtitle
    // says what the dashed lines are, and the tooltip names each one with its date.
    legend: { top: 0, left: 0, itemGap: 16, textStyle: { color: MUTED }, data: ["Messages", "Conversations"] },
    tooltip: {
      trigger: "axis",
      formatter: (params: unknown) => tooltipText(params, daily, prev, grain),
    },
    xAxis: {
      type: "category",
      data: dates,
      axisLabel: { color: MUTED, hideOverlap: true, formatter: (d: string) => bucketLabel(d, grain) },
      axisTick: { alignWithLabel: true },
    },
    yAxis: [
      { type: "value", name: "", minInterval: 1, axisLabel: { color: MUTED, formatter: (v: number) => formatCount(v) } },
      {
        type: "value",
        name: "",
        minInterval: 1,
        splitLine: { show: false },
        axisLabel: { color: MUTED, formatter: (v: number) => formatCount(v) },
      },
    ],
    series,
  } as ChartOption;
}

/** The axis tooltip: the bucket, each series' value, and the compared bucket's own date. */
export function tooltipText(
  params: unknown,
  daily: DailyRow[],
  prev: Array<DailyRow | null> | null,
  grain: Grain,
): string {
  const items = (Array.isArray(params) ? params : [params]) as Array<{
    dataIndex: number;
    seriesName: string;
    value: unknown;
    marker?: string;
  }>;
  const i = items[0]?.dataIndex ?? 0;
  const row = daily[i];
  const lines = [row ? bucketLongLabel(row.date, grain) : ""];
  for (const p of items) {
    const v = typeof p.value === "number" ? formatExact(p.value) : "–";
    const compared = p.seriesName.endsWith(", compared");
    const when = compared && prev?.[i] ? ` (${bucketLongLabel(prev[i]!.date, grain)})` : "";
    lines.push(`${p.marker ?? ""}${p.seriesName}${when}: <b>${v}</b>`);
  }
  return lines.join("<br/>");
}

/** True when the chart has nothing to show. */
export function dailyIsEmpty(daily: DailyRow[]): boolean {
  return daily.every((d) => d.messages === 0 && d.conversations === 0);
}
