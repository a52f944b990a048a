import { describe, expect, it } from "vitest";
import type { Topology } from "topojson-specification";
import atlas from "world-atlas/countries-110m.json";
import { alpha2Of, unwrapRing, worldGeoJson } from "./world";

const world = worldGeoJson(atlas as unknown as Topology);

function lons(name: string): number[] {
  const f = world.features.find((x) => x.properties?.name === name);
  if (!f) throw new Error(`no ${name}`);
  const g = f.geometry;
  const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
  return polys.flat(2).map((p) => p[0] ?? 0);
}

describe("alpha2Of", () => {
  it("maps ISO numeric ids, with or without leading zeros", () => {
    expect(alpha2Of("191", "Croatia")).toBe("HR");
    expect(alpha2Of("076", "Brazil")).toBe("BR");
    expect(alpha2Of(76, "Brazil")).toBe("BR");
    expect(alpha2Of("840", "United States of America")).toBe("US");
  });
  it("knows the features Natural Earth leaves unnumbered", () => {
    expect(alpha2Of(undefined, "Kosovo")).toBe("XK");
    expect(alpha2Of(undefined, "Atlantis")).toBeNull();
  });
});

describe("unwrapRing", () => {
  it("leaves ordinary rings alone", () => {
    const r = [[10, 0], [20, 0], [20, 10], [10, 0]];
    expect(unwrapRing(r)).toBe(r);
  });
  it("moves the western points of a ring across the antimeridian east by 360", () => {
    expect(unwrapRing([[179, 0], [-179, 0], [-179, 1], [179, 0]])).toEqual([[179, 0], [181, 0], [181, 1], [179, 0]]);
  });
});

describe("worldGeoJson", () => {
  it("names every country by its alpha-2 code", () => {
    const names = new Set(world.features.map((f) => f.properties?.name));
    for (const c of ["HR", "DE", "US", "BR", "JP", "RU", "FJ", "XK", "AU", "ZA", "IN", "CN"]) expect(names.has(c)).toBe(true);
    // Every feature but none got a code.
    const unnamed = world.features.filter((f) => !/^[A-Z]{2}$/.test(String(f.properties?.name)));
    expect(unnamed.map((f) => f.properties?.label)).toEqual([]);
  });
  it("leaves out Antarctica", () => {
    expect(world.features.some((f) => f.properties?.name === "AQ")).toBe(false);
  });
  it("has no ring spanning more than 180 degrees (no streaks)", () => {
    for (const f of world.features) {
      const g = f.geometry;
      const polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
      for (const ring of polys.flat(1)) {
        const xs = ring.map((p) => p[0] ?? 0);
        expect(Math.max(...xs) - Math.min(...xs), String(f.properties?.name)).toBeLessThanOrEqual(180);
      }
    }
  });
  it("keeps Russia and Fiji east of the antimeridian instead of wrapping", () => {
    expect(Math.max(...lons("RU"))).toBeGreaterThan(180);
    expect(Math.min(...lons("FJ"))).toBeGreaterThan(0);
  });
});
