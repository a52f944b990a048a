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

/** The charts of one view, by id: each drawn in the element `[data-chart="<id>"]` under `root`,
 * its instance kept while that element lives and made again when a render replaced it. */
export class ChartHosts<Id extends string = string> {
  private readonly hosts = new Map<Id, ChartHost>();

  constructor(
    private readonly root: () => ParentNode,
    private readonly onFilter: ((filter: ItemFilter) => void) | null = null,
  ) {}

  /** The chart of `id`, or null when its element is not on the page. */
  get(id: Id): ChartHost | null {
    const el = this.root().querySelector<HTMLElement>(`[data-chart="${id}"]`);
    let h = this.hosts.get(id) ?? null;
    if (!el) return null;
    if (h && h.el !== el) {
      h.dispose();
      h = null;
    }
    if (!h) {
      h = new ChartHost(el);
      h.onFilter(this.onFilter);
      this.hosts.set(id, h);
    }
    return h;
  }

  /** Downloads chart `id` (when it is drawn) as a PNG named `filename`, every run of characters
   * other than letters, digits, `.`, `-` and `_` made `_`. */
  download(id: Id, filename: string): void {
    const h = this.hosts.get(id);
    if (h) downloadDataUrl(h.png(), filename.replace(/[^\w.-]+/g, "_"));
  }

  /** Frees every chart. */
  dispose(): void {
    for (const h of this.hosts.values()) h.dispose();
    this.hosts.clear();
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
