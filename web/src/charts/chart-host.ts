// Owns one ECharts instance: init on a container, setOption, resize with the container, click
// handling, PNG export, dispose. Views never call echarts directly.

import { echarts, type ChartOption } from "./echarts";
import { type ItemFilter, clickedFilter } from "./common";

/** A chart in a container element. */
export class ChartHost {
  private chart: echarts.ECharts;
  private observer: ResizeObserver;
  private clickHandler: ((f: ItemFilter) => void) | null = null;

  constructor(readonly el: HTMLElement) {
    this.chart = echarts.init(el, undefined, { renderer: "canvas" });
    this.observer = new ResizeObserver(() => this.chart.resize());
    this.observer.observe(el);
    this.chart.on("click", (params) => {
      const f = clickedFilter((params as { data?: unknown }).data);
      if (f && this.clickHandler) this.clickHandler(f);
    });
  }

  /** Replaces the chart's option (not merged: every render is the whole picture). The `finished`
   * listener is registered first so a test can wait on `data-rendered`. */
  set(option: ChartOption): void {
    this.el.removeAttribute("data-rendered");
    this.chart.off("finished");
    this.chart.on("finished", () => this.el.setAttribute("data-rendered", "1"));
    this.chart.setOption(option, { notMerge: true });
  }

  /** Calls `f` with the filter of a clicked bar, slice or country. */
  onFilter(f: ((filter: ItemFilter) => void) | null): void {
    this.clickHandler = f;
  }

  /** The chart as a PNG data URL (2x, white background). */
  png(): string {
    return this.chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#ffffff" });
  }

  /** Stops observing and frees the instance. */
  dispose(): void {
    this.observer.disconnect();
    this.chart.dispose();
  }
}

/** Registers the world map once (the geometry chunk is loaded on first use). */
let worldReady: Promise<void> | null = null;
export function ensureWorldMap(): Promise<void> {
  if (!worldReady) {
    worldReady = Promise.all([import("./world"), import("world-atlas/countries-110m.json")]).then(([w, atlas]) => {
      const topo = (atlas as { default?: unknown }).default ?? atlas;
      echarts.registerMap("world", w.worldGeoJson(topo as never) as never);
    });
  }
  return worldReady;
}

/** Saves a data URL as a file. */
export function downloadDataUrl(url: string, filename: string): void {
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
}
