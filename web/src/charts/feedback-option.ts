// Feedback breakdown: conversations by effective sentiment (positive, neutral, negative).

import { formatExact, formatPercent } from "../format";
import type { FeedbackSummary } from "../api/types";
import { TEXT, esc } from "./common";
import type { ChartOption } from "./echarts";
import { MUTED, SENTIMENT } from "./palette";

/** The three sentiments in display order with their counts. */
export function feedbackItems(f: FeedbackSummary): Array<{ name: string; value: number; itemStyle: { color: string } }> {
  return [
    { name: "Positive", value: f.positive, itemStyle: { color: SENTIMENT.positive } },
    { name: "Neutral", value: f.neutral, itemStyle: { color: SENTIMENT.neutral } },
    { name: "Negative", value: f.negative, itemStyle: { color: SENTIMENT.negative } },
  ];
}

/** A donut of the sentiments. */
export function feedbackOption(f: FeedbackSummary): ChartOption {
  return {
    textStyle: TEXT,
    aria: { enabled: true, decal: { show: true } },
    tooltip: {
      trigger: "item",
      formatter: (p: unknown) => {
        const { name, value } = p as { name: string; value: number };
        const share = f.total > 0 ? ` (${formatPercent(value / f.total)})` : "";
        return `${esc(name)}<br><b>${formatExact(value)}</b> conversations${share}`;
      },
    },
    legend: { bottom: 0, left: "center", textStyle: { color: MUTED } },
    series: [
      {
        name: "Feedback",
        type: "pie",
        radius: ["45%", "72%"],
        center: ["50%", "44%"],
        label: { show: false },
        itemStyle: { borderColor: "#fff", borderWidth: 2 },
        data: feedbackItems(f),
      },
    ],
  };
}
