// Peak hours: messages by local weekday (rows, Monday on top) and local hour (columns).

import { formatExact } from "../format";
import type { OverviewResponse } from "../api/types";
import type { ChartOption } from "./echarts";
import { TEXT } from "./common";
import { MUTED, SEQUENTIAL } from "./palette";

const DAY_NAMES: Record<string, string> = {
  mon: "Mon",
  tue: "Tue",
  wed: "Wed",
  thu: "Thu",
  fri: "Fri",
  sat: "Sat",
  sun: "Sun",
};

/** `[hour, weekdayRow, count]` cells, with rows numbered so Monday is drawn on top. */
export function heatmapCells(peak: OverviewResponse["peak_hours"]): Array<[number, number, number]> {
  const rows = peak.matrix.length;
  const cells: Array<[number, number, number]> = [];
  peak.matrix.forEach((row, d) => {
    row.forEach((count, h) => cells.push([h, rows - 1 - d, count]));
  });
  return cells;
}

/** The heatmap. */
export function heatmapOption(peak: OverviewResponse["peak_hours"]): ChartOption {
  const cells = heatmapCells(peak);
  const max = Math.max(1, ...cells.map((c) => c[2]));
  const days = peak.weekdays.map((d) => DAY_NAMES[d] ?? d).reverse();
  const hours = Array.from({ length: 24 }, (_, h) => String(h).padStart(2, "0"));
  return {
    textStyle: TEXT,
    aria: { enabled: true },
    grid: { left: 8, right: 8, top: 8, bottom: 44, containLabel: true },
    tooltip: {
      formatter: (p: unknown) => {
        const v = (p as { value: [number, number, number] }).value;
        const day = days[v[1]] ?? "";
        const h = hours[v[0]] ?? "";
        return `${day} ${h}:00–${h}:59<br><b>${formatExact(v[2])}</b> messages`;
      },
    },
    xAxis: {
      type: "category",
      data: hours,
      splitArea: { show: false },
      axisLabel: { color: MUTED, interval: 2 },
      axisTick: { show: false },
    },
    yAxis: { type: "category", data: days, axisLabel: { color: MUTED }, axisTick: { show: false } },
    visualMap: {
      min: 0,
      max,
      calculable: false,
      orient: "horizontal",
      left: "center",
      bottom: 0,
      itemHeight: 120,
      itemWidth: 10,
      text: [formatExact(max), "0"],
      textStyle: { color: MUTED },
      inRange: { color: SEQUENTIAL },
    },
    series: [
      {
        name: "Messages",
        type: "heatmap",
        data: cells,
        itemStyle: { borderColor: "#fff", borderWidth: 1 },
        emphasis: { itemStyle: { borderColor: "#111", borderWidth: 1 } },
      },
    ],
  };
}

/** True when no message falls in any hour. */
export function heatmapIsEmpty(peak: OverviewResponse["peak_hours"]): boolean {
  return peak.matrix.every((row) => row.every((c) => c === 0));
}
