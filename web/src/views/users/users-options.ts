// ECharts options of the "Users" section: new vs returning users (stacked bars) and active users
// per day, week and month (lines on one time axis, weeks and months as steps). Pure.

import type { UsersResponse } from "../../api/types";
import { TEXT, esc } from "../../charts/common";
import type { ChartOption } from "../../charts/echarts";
import { bucketLabel, bucketLongLabel } from "../../charts/grain";
import { CATEGORICAL, MUTED } from "../../charts/palette";
import { formatExact } from "../../format";

/** Colours: new users blue, returning orange (Okabe–Ito, apart for every colour blindness). */
export const USER_COLORS = { new: CATEGORICAL[0]!, returning: CATEGORICAL[1]!, day: CATEGORICAL[0]!, week: CATEGORICAL[2]!, month: CATEGORICAL[3]! };

/** New and returning users per day or week, stacked (their sum is the period's active users). */
export function newReturningOption(r: UsersResponse): ChartOption {
  const g = r.interval === "week" ? "week" : "day";
  const rows = r.new_returning;
  return {
    textStyle: TEXT,
    aria: { enabled: true, decal: { show: true } },
    legend: { top: 0, left: 0, textStyle: { color: MUTED } },
    grid: { left: 8, right: 8, top: 32, bottom: 8, containLabel: true },
    tooltip: {
      trigger: "axis",
      formatter: (p: unknown) => {
        const i = (Array.isArray(p) ? (p[0] as { dataIndex?: number }) : (p as { dataIndex?: number })).dataIndex ?? 0;
        const d = rows[i];
        if (!d) return "";
        return `${esc(bucketLongLabel(d.start, g))}<br>New <b>${formatExact(d.new)}</b><br>Returning <b>${formatExact(d.returning)}</b><br>Active ${formatExact(d.active)}`;
      },
    },
    xAxis: {
      type: "category",
      data: rows.map((d) => bucketLabel(d.start, g)),
      axisLabel: { color: MUTED, hideOverlap: true },
      axisTick: { alignWithLabel: true },
    },
    yAxis: { type: "value", minInterval: 1, axisLabel: { color: MUTED } },
    series: [
      { name: "New", type: "bar", stack: "users", data: rows.map((d) => d.new), itemStyle: { color: USER_COLORS.new }, barMaxWidth: 28 },
      {
        name: "Returning",
        type: "bar",
        stack: "users",
        data: rows.map((d) => d.returning),
        itemStyle: { color: USER_COLORS.returning, borderRadius: [2, 2, 0, 0] },
        barMaxWidth: 28,
      },
    ],
  };
}

/** Active users per day (DAU), ISO week (WAU) and calendar month (MAU) on one time axis. */
export function activeUsersOption(r: UsersResponse): ChartOption {
  const pts = (rows: { start: string; users: number }[]) => rows.map((p) => [p.start, p.users]);
  return {
    textStyle: TEXT,
    aria: { enabled: true, decal: { show: false } },
    legend: { top: 0, left: 0, textStyle: { color: MUTED } },
    grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
    tooltip: { trigger: "axis" },
    xAxis: { type: "time", axisLabel: { color: MUTED, hideOverlap: true } },
    yAxis: { type: "value", minInterval: 1, axisLabel: { color: MUTED } },
    series: [
      { name: "Daily", type: "line", showSymbol: false, data: pts(r.active.daily), lineStyle: { width: 1.5 }, itemStyle: { color: USER_COLORS.day } },
      { name: "Weekly", type: "line", step: "end", showSymbol: false, data: pts(r.active.weekly), lineStyle: { width: 2, type: "dashed" }, itemStyle: { color: USER_COLORS.week } },
      { name: "Monthly", type: "line", step: "end", showSymbol: false, data: pts(r.active.monthly), lineStyle: { width: 2, type: "dotted" }, itemStyle: { color: USER_COLORS.month } },
    ],
  };
}
