// Pieces shared by the option builders: the filter a clicked item stands for, tooltip styling.

import type { FilterKey } from "../state/dashboard-state";

/** The filter a chart item sets when clicked (kept on the ECharts data item). */
export interface ItemFilter {
  key: FilterKey;
  value: string;
}

/** A data item that can be clicked to filter. */
export interface FilterItem {
  name: string;
  value: number;
  filter?: ItemFilter;
}

/** Reads the filter of a clicked item (ECharts hands the data item back as `params.data`). */
export function clickedFilter(data: unknown): ItemFilter | null {
  if (data && typeof data === "object" && "filter" in data) {
    const f = (data as { filter?: unknown }).filter;
    if (f && typeof f === "object" && "key" in f && "value" in f) {
      const { key, value } = f as { key: unknown; value: unknown };
      if (typeof key === "string" && typeof value === "string") return { key: key as FilterKey, value };
    }
  }
  return null;
}

/** Escapes text for the HTML of an ECharts tooltip. */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);
}

/** Shared text style. */
export const TEXT = { fontFamily: "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", color: "#1f2937" };
