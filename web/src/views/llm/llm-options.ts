// ECharts options of the LLM usage section: cost per local day and cost by model. Pure.

import type { LlmMetricsResponse } from "../../api/types";
import { TEXT, esc } from "../../charts/common";
import type { ChartOption } from "../../charts/echarts";
import { CATEGORICAL, MUTED, SERIES } from "../../charts/palette";
import { formatExact } from "../../format";
import { dayLabel } from "../../state/dates";
import { formatUsd, formatUsdNumber, pricesNote } from "./llm-format";

/** Models shown in the cost-by-model chart (the table lists the same). */
export const MODEL_LIMIT = 8;

/** Cost per local day (bars), with calls in the tooltip. */
export function costDailyOption(r: LlmMetricsResponse): ChartOption {
  const rows = r.daily;
  return {
    textStyle: TEXT,
    aria: { enabled: true, decal: { show: false } },
    grid: { left: 8, right: 8, top: 16, bottom: 8, containLabel: true },
    tooltip: {
      trigger: "axis",
      formatter: (p: unknown) => {
        const i = (Array.isArray(p) ? (p[0] as { dataIndex?: number }) : (p as { dataIndex?: number })).dataIndex ?? 0;
        const d = rows[i];
        if (!d) return "";
        return `${esc(d.date)}<br>Cost <b>${esc(formatUsd(d.cost_usd))}</b> (${esc(d.cost_usd)} USD, ${esc(pricesNote(r.price_table))})<br>Calls ${formatExact(d.calls)}`;
      },
    },
    xAxis: {
      type: "category",
      data: rows.map((d) => d.date),
      axisLabel: { color: MUTED, hideOverlap: true, formatter: (d: string) => dayLabel(d).replace(/^\w+ /, "") },
      axisTick: { alignWithLabel: true },
    },
    yAxis: { type: "value", axisLabel: { color: MUTED, formatter: (v: number) => formatUsdNumber(v) } },
    series: [
      {
        name: "Cost (USD)",
        type: "bar",
        data: rows.map((d) => Number(d.cost_usd)),
        itemStyle: { color: SERIES.messages, borderRadius: [2, 2, 0, 0] },
        barMaxWidth: 28,
      },
    ],
  };
}

/** Cost by model, largest at the top (the API's order), at most [`MODEL_LIMIT`] models. */
export function costByModelOption(r: LlmMetricsResponse): ChartOption {
  const rows = r.by_model.slice(0, MODEL_LIMIT).reverse();
  return {
    textStyle: TEXT,
    aria: { enabled: true, decal: { show: true } },
    grid: { left: 8, right: 16, top: 8, bottom: 8, containLabel: true },
    tooltip: {
      trigger: "item",
      formatter: (p: unknown) => {
        const d = rows[(p as { dataIndex?: number }).dataIndex ?? 0];
        if (!d) return "";
        return `${esc(d.model)}<br>Cost <b>${esc(formatUsd(d.cost_usd))}</b> (${esc(pricesNote(r.price_table))})<br>Calls ${formatExact(d.calls)}${d.unpriced_calls > 0 ? ` (${formatExact(d.unpriced_calls)} unpriced)` : ""}`;
      },
    },
    xAxis: {
      type: "value",
      splitNumber: 3,
      axisLabel: { color: MUTED, hideOverlap: true, formatter: (v: number) => formatUsdNumber(v) },
    },
    yAxis: {
      type: "category",
      data: rows.map((d) => d.model),
      axisLabel: { color: MUTED, width: 140, overflow: "truncate" },
    },
    series: [
      {
        name: "Cost (USD)",
        type: "bar",
        data: rows.map((d, i) => ({
          value: Number(d.cost_usd),
          itemStyle: { color: CATEGORICAL[(rows.length - 1 - i) % CATEGORICAL.length] },
        })),
        barMaxWidth: 22,
      },
    ],
  };
}
