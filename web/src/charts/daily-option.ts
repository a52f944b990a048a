// Daily messages (bars) and conversations (line) of the overview, one point per local day.

import { formatCount, formatExact } from "../format";
import type { OverviewResponse, TimeseriesResponse } from "../api/types";
import { dayLabel } from "../state/dates";
import type { ChartOption } from "./echarts";
import { TEXT } from "./common";
import { MUTED, SERIES } from "./palette";

/** Messages and conversations per local hour of one day, from two hourly time series:
 * `{date: "14:00", …}` rows for the same chart. */
export function hourlyRows(
  messages: TimeseriesResponse["points"],
  conversations: TimeseriesResponse["points"],
): OverviewResponse["daily"] {
  const conv = new Map(conversations.map((p) => [p.start, p.value ?? 0]));
  return messages.map((p) => ({
    // "2026-11-24T14:00:00+01:00" -> "14:00" (the local hour as the server bucketed it).
    date: /T(\d{2}:\d{2})/.exec(p.start)?.[1] ?? p.start,
    messages: p.value ?? 0,
    conversations: conv.get(p.start) ?? 0,
  }));
}

/** The daily chart (or, with `hourly`, the hourly one: labels are already "HH:MM"). */
export function dailyOption(daily: OverviewResponse["daily"], hourly = false): ChartOption {
  const dates = daily.map((d) => d.date);
  return {
    textStyle: TEXT,
    aria: { enabled: true, decal: { show: false } },
    grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
    legend: { top: 0, left: 0, itemGap: 16, textStyle: { color: MUTED } },
    tooltip: {
      trigger: "axis",
      valueFormatter: (v) => formatExact(typeof v === "number" ? v : Number(v)),
    },
    xAxis: {
      type: "category",
      data: dates,
      axisLabel: {
        color: MUTED,
        hideOverlap: true,
        formatter: (d: string) => (hourly ? d : dayLabel(d).replace(/^\w+ /, "")),
      },
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
    series: [
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
    ],
  };
}

/** True when the daily chart has nothing to show. */
export function dailyIsEmpty(daily: OverviewResponse["daily"]): boolean {
  return daily.every((d) => d.messages === 0 && d.conversations === 0);
}
