// The world map's geometry: Natural Earth 1:110m countries from world-atlas (TopoJSON) turned
// into GeoJSON for ECharts, keyed by ISO 3166-1 alpha-2 (the metrics API's country codes)
// instead of world-atlas's numeric ids, with rings that cross the antimeridian (Russia, Fiji)
// moved east by 360° so ECharts doesn't draw streaks across the map, and without Antarctica.

import type { Feature, FeatureCollection, Geometry, MultiPolygon, Polygon, Position } from "geojson";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";
import codes from "i18n-iso-countries/codes.json";

/** Natural Earth features without a numeric ISO id, by their world-atlas name. */
const UNNUMBERED: Record<string, string> = { Kosovo: "XK", "N. Cyprus": "CY", Somaliland: "SO" };
/** Antarctica: left out (nobody chats from there, and it takes a fifth of the height). */
const ANTARCTICA = "010";

const NUMERIC_TO_ALPHA2: Map<string, string> = new Map(
  (codes as string[][]).filter((c) => c.length >= 3).map((c) => [c[2] as string, c[0] as string]),
);

/** The alpha-2 code of a world-atlas feature (numeric id, or the name of an unnumbered one). */
export function alpha2Of(id: string | number | undefined, name: string | undefined): string | null {
  if (id !== undefined && id !== null) {
    const key = String(id).padStart(3, "0");
    return NUMERIC_TO_ALPHA2.get(key) ?? null;
  }
  return (name && UNNUMBERED[name]) || null;
}

/** A ring whose longitudes span more than 180° crosses the antimeridian: its western points move
 * east by 360° so the ring is drawn as one piece right of 180°E. Other rings are returned as is. */
export function unwrapRing(ring: Position[]): Position[] {
  let min = Infinity;
  let max = -Infinity;
  for (const p of ring) {
    const x = p[0] ?? 0;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  if (max - min <= 180) return ring;
  return ring.map((p) => ((p[0] ?? 0) < 0 ? [(p[0] ?? 0) + 360, ...p.slice(1)] : p));
}

function unwrapGeometry(g: Geometry): Geometry {
  if (g.type === "Polygon") return { type: "Polygon", coordinates: g.coordinates.map(unwrapRing) } satisfies Polygon;
  if (g.type === "MultiPolygon")
    return { type: "MultiPolygon", coordinates: g.coordinates.map((p) => p.map(unwrapRing)) } satisfies MultiPolygon;
  return g;
}

/** Countries for `echarts.registerMap`: `properties.name` is the alpha-2 code (what the map
 * series' data names), `properties.label` the Natural Earth name. Features with no code are kept
 * (drawn grey) under their own name. */
export function worldGeoJson(topology: Topology): FeatureCollection {
  const obj = topology.objects.countries as GeometryCollection<{ name: string }>;
  const fc = feature(topology, obj) as FeatureCollection<Geometry, { name: string }>;
  const features: Feature[] = [];
  for (const f of fc.features) {
    if (String(f.id) === ANTARCTICA) continue;
    const label = f.properties?.name ?? "";
    const code = alpha2Of(f.id as string | undefined, label);
    features.push({
      type: "Feature",
      id: f.id,
      properties: { name: code ?? label, label },
      geometry: unwrapGeometry(f.geometry),
    });
  }
  return { type: "FeatureCollection", features };
}
