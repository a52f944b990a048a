// Conversations by one dimension (devices, sources, languages): a donut or horizontal bars.
// Each item carries the filter it sets when clicked; past the top N the rest is one "Other" item
// that filters nothing.

import { formatCount, formatExact, formatPercent } from "../format";
import { type FilterKey, filterValue } from "../state/dashboard-state";
import { type FilterItem, TEXT, esc } from "./common";
import type { ChartOption } from "./echarts";
import { dimensionValueName } from "./labels";
import { CATEGORICAL, MUTED } from "./palette";

/** One group of a dimension, as the overview lists them (count descending, nulls last). */
export interface Group {
  value: string | null;
  conversations: number;
}

/** The overview's rows of one dimension (`{device: "mobile", conversations: 3}`) as groups. */
export function groups<K extends string>(rows: Array<{ conversations: number } & { [k in K]: string | null }>, key: K): Group[] {
  return rows.map((r) => ({ value: r[key] ?? null, conversations: r.conversations }));
}

/** Items of a breakdown: the top `limit` groups, then "Other" for the rest. */
export function breakdownItems(key: FilterKey, groups: Group[], limit = 8): FilterItem[] {
  const items: FilterItem[] = groups.slice(0, limit).map((g) => ({
    name: dimensionValueName(key, g.value),
    value: g.conversations,
    filter: { key, value: filterValue(g.value) },
  }));
  const rest = groups.slice(limit).reduce((n, g) => n + g.conversations, 0);
  if (rest > 0) items.push({ name: "Other", value: rest });
  return items;
}

function tooltip(total: number) {
  return (p: unknown) => {
    const { name, value } = p as { name: string; value: number };
    const share = total > 0 ? ` (${formatPercent(value / total)})` : "";
    return `${esc(name)}<br><b>${formatExact(value)}</b> conversations${share}`;
  };
}

/** A donut of the groups. */
export function pieOption(key: FilterKey, groups: Group[]): ChartOption {
  const items = breakdownItems(key, groups, 6);
  const total = items.reduce((n, i) => n + i.value, 0);
  return {
    textStyle: TEXT,
    color: CATEGORICAL,
    aria: { enabled: true, decal: { show: true } },
    tooltip: { trigger: "item", formatter: tooltip(total) },
    legend: { bottom: 0, left: "center", type: "plain", itemGap: 8, textStyle: { color: MUTED } },
    series: [
      {
        name: key,
        type: "pie",
        radius: ["45%", "72%"],
        center: ["50%", "44%"],
        avoidLabelOverlap: true,
        label: { show: true, formatter: (p: { percent?: number }) => `${Math.round(p.percent ?? 0)}%`, color: MUTED },
        labelLine: { length: 6, length2: 6 },
        itemStyle: { borderColor: "#fff", borderWidth: 2 },
        data: items,
        cursor: "pointer",
      },
    ],
  };
}

/** Horizontal bars of the groups, the largest on top. */
export function barOption(key: FilterKey, groups: Group[]): ChartOption {
  const items = breakdownItems(key, groups, 8);
  const total = items.reduce((n, i) => n + i.value, 0);
  const shown = [...items].reverse();
  return {
    textStyle: TEXT,
    aria: { enabled: true },
    grid: { left: 8, right: 40, top: 4, bottom: 4, containLabel: true },
    tooltip: { trigger: "item", formatter: tooltip(total) },
    xAxis: { type: "value", show: false, minInterval: 1 },
    yAxis: {
      type: "category",
      data: shown.map((i) => i.name),
      axisLabel: { color: "#374151", width: 120, overflow: "truncate" },
      axisTick: { show: false },
      axisLine: { show: false },
    },
    series: [
      {
        name: key,
        type: "bar",
        data: shown.map((i) => ({ ...i, itemStyle: { color: i.filter ? CATEGORICAL[0] : "#9ca3af" } })),
        barMaxWidth: 18,
        label: {
          show: true,
          position: "right",
          color: MUTED,
          formatter: (p: { value?: unknown }) => formatCount(Number(p.value)),
        },
        cursor: "pointer",
      },
    ],
  };
}

/** True when no conversation is in any group. */
export function breakdownIsEmpty(groups: Group[]): boolean {
  return groups.every((g) => g.conversations === 0);
}
