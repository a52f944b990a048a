// The world map: countries shaded by conversations (click one to filter on it), cities as points
// sized by conversations. The map itself ("world") is registered from world.ts.

import { formatExact } from "../format";
import type { CityRow, OverviewResponse } from "../api/types";
import { type FilterItem, TEXT, esc } from "./common";
import type { ChartOption } from "./echarts";
import { countryName } from "./labels";
import { MUTED, SEQUENTIAL } from "./palette";

/** The name the world map is registered under. */
export const WORLD = "world";

/** Countries as map data (the null group is not on the map). */
export function countryItems(countries: OverviewResponse["countries"]): FilterItem[] {
  return countries
    .filter((c): c is { country: string; conversations: number } => !!c.country)
    .map((c) => ({ name: c.country, value: c.conversations, filter: { key: "country", value: c.country } }));
}

/** A city point: `[lon, lat, conversations]` with its names for the tooltip. */
export interface CityPoint {
  name: string;
  value: [number, number, number];
  country: string | null;
}

/** Cities that have coordinates, as scatter points. */
export function cityPoints(cities: CityRow[]): CityPoint[] {
  return cities
    .filter((c) => c.lat !== null && c.lon !== null)
    .map((c) => ({
      name: c.city ?? countryName(c.country),
      value: [c.lon as number, c.lat as number, c.conversations],
      country: c.country,
    }));
}

/** Point size: the area grows with the count, from 4 px to 22 px. */
export function citySize(count: number, max: number): number {
  if (max <= 0) return 4;
  return Math.round(4 + 18 * Math.sqrt(Math.max(0, count) / max));
}

/** The map; `compact` (a narrow screen) leaves out the colour legend, which would cover it. */
export function mapOption(countries: OverviewResponse["countries"], cities: CityRow[], compact = false): ChartOption {
  const items = countryItems(countries);
  const points = cityPoints(cities);
  const maxCountry = Math.max(1, ...items.map((i) => i.value));
  const maxCity = Math.max(1, ...points.map((p) => p.value[2]));
  return {
    textStyle: TEXT,
    aria: { enabled: true },
    tooltip: {
      trigger: "item",
      formatter: (p: unknown) => {
        const q = p as { seriesType: string; name: string; value: unknown; data?: CityPoint };
        if (q.seriesType === "scatter" && q.data) {
          const where = q.data.country ? `, ${esc(countryName(q.data.country))}` : "";
          return `${esc(q.data.name)}${where}<br><b>${formatExact(q.data.value[2])}</b> conversations`;
        }
        const v = typeof q.value === "number" && Number.isFinite(q.value) ? q.value : 0;
        return `${esc(countryName(q.name))}<br><b>${formatExact(v)}</b> conversations`;
      },
    },
    visualMap: {
      show: !compact,
      type: "continuous",
      seriesIndex: 0,
      min: 0,
      max: maxCountry,
      left: 8,
      bottom: 8,
      itemHeight: 90,
      itemWidth: 10,
      text: [formatExact(maxCountry), "0"],
      textStyle: { color: MUTED },
      inRange: { color: SEQUENTIAL.slice(1) },
      calculable: false,
    },
    geo: {
      map: WORLD,
      roam: false,
      // Natural Earth without Antarctica, a little past 180°E for the unwrapped rings.
      boundingCoords: [
        [-170, 84],
        [191, -57],
      ],
      left: 4,
      right: 4,
      top: 4,
      bottom: 4,
      itemStyle: { areaColor: "#f3f4f6", borderColor: "#d1d5db", borderWidth: 0.5 },
      emphasis: { itemStyle: { areaColor: "#fde68a" }, label: { show: false } },
      select: { disabled: true },
      label: { show: false },
    },
    series: [
      {
        name: "Conversations by country",
        type: "map",
        geoIndex: 0,
        data: items,
        cursor: "pointer",
      },
      {
        name: "Cities",
        type: "scatter",
        coordinateSystem: "geo",
        data: points,
        symbolSize: (v: number[]) => citySize(v[2] ?? 0, maxCity),
        itemStyle: { color: "#E69F00", borderColor: "#7c2d12", borderWidth: 0.5, opacity: 0.85 },
        zlevel: 1,
      },
    ],
  };
}

/** True when no conversation has a known country. */
export function mapIsEmpty(countries: OverviewResponse["countries"]): boolean {
  return countryItems(countries).length === 0;
}
