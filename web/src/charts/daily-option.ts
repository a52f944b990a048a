// Daily messages (bars) and conversations (line) of the overview, one point per local day.

import { formatCount, formatExact } from "../format";
import type { OverviewResponse } from "../api/types";
import { dayLabel } from "../state/dates";
import type { ChartOption } from "./echarts";
import { TEXT } from "./common";
import { MUTED, SERIES } from "./palette";

/** The daily chart. */
export function dailyOption(daily: OverviewResponse["daily"]): ChartOption {
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
        formatter: (d: string) => dayLabel(d).replace(/^\w+ /, ""),
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
