// Tool usage: calls per tool (bars), errors as a second series; the mean duration is in the
// tooltip and in the table beside the chart.

import { formatCount, formatDuration, formatExact } from "../format";
import type { ToolRow } from "../api/types";
import { TEXT, esc } from "./common";
import type { ChartOption } from "./echarts";
import { MUTED, SERIES } from "./palette";

/** The top tools by calls, the largest on top. */
export function toolsOption(tools: ToolRow[], limit = 10): ChartOption {
  const top = tools.slice(0, limit).reverse();
  return {
    textStyle: TEXT,
    aria: { enabled: true, decal: { show: true } },
    legend: { top: 0, left: 0, textStyle: { color: MUTED } },
    grid: { left: 8, right: 40, top: 30, bottom: 4, containLabel: true },
    tooltip: {
      trigger: "axis",
      axisPointer: { type: "shadow" },
      formatter: (ps: unknown) => {
        const list = ps as Array<{ dataIndex: number }>;
        const t = top[list[0]?.dataIndex ?? -1];
        if (!t) return "";
        return (
          `<b>${esc(t.name)}</b><br>${formatExact(t.calls)} calls · ${formatExact(t.errors)} errors` +
          `<br>average ${formatDuration(t.avg_duration_ms)}`
        );
      },
    },
    xAxis: { type: "value", show: false, minInterval: 1 },
    yAxis: {
      type: "category",
      data: top.map((t) => t.name),
      axisLabel: { color: "#374151", width: 130, overflow: "truncate" },
      axisTick: { show: false },
      axisLine: { show: false },
    },
    series: [
      {
        name: "Calls",
        type: "bar",
        data: top.map((t) => t.calls),
        itemStyle: { color: SERIES.messages },
        barMaxWidth: 16,
        label: { show: true, position: "right", color: MUTED, formatter: (p: { value?: unknown }) => formatCount(Number(p.value)) },
      },
      {
        name: "Errors",
        type: "bar",
        data: top.map((t) => t.errors),
        itemStyle: { color: SERIES.errors },
        barMaxWidth: 16,
      },
    ],
  };
}

/** Error rate of a tool (0 when it has no calls). */
export function errorRate(t: ToolRow): number {
  return t.calls > 0 ? t.errors / t.calls : 0;
}
