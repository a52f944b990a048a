import { describe, expect, it } from "vitest";
import {
  dashboardSearch,
  environmentOptions,
  filterValue,
  filterValueOptions,
  listParams,
  metricsParams,
  parseDashboard,
  parseList,
  withFilter,
} from "./dashboard-state";

const q = (s: string) => new URLSearchParams(s);
const now = new Date("2026-11-24T12:00:00Z");

describe("parseDashboard", () => {
  it("defaults to the last 30 days in the browser's zone with no filters", () => {
    expect(parseDashboard(q(""))).toEqual({ range: "30d", from: null, to: null, tz: null, filters: {}, compare: null, overlay: false });
  });
  it("reads the preset, zone and filters", () => {
    const s = parseDashboard(q("range=7d&tz=Europe/Zagreb&device=mobile&country=hr&source=web"));
    expect(s).toEqual({
      range: "7d",
      from: null,
      to: null,
      tz: "Europe/Zagreb",
      filters: { device: "mobile", country: "HR", source: "web" },
      compare: null,
      overlay: false,
    });
  });
  it("drops what is malformed instead of failing", () => {
    const s = parseDashboard(q("range=forever&tz=Mars/Olympus&from=2026-13-01&language=" + "x".repeat(300)));
    expect(s).toEqual({ range: "30d", from: null, to: null, tz: null, filters: {}, compare: null, overlay: false });
  });
  it("takes from/to without a range as a custom range", () => {
    expect(parseDashboard(q("from=2026-01-01&to=2026-01-31"))).toMatchObject({
      range: "custom",
      from: "2026-01-01",
      to: "2026-01-31",
    });
  });
  it("ignores from/to under a preset", () => {
    expect(parseDashboard(q("range=today&from=2026-01-01"))).toMatchObject({ range: "today", from: null });
  });
});

describe("compare", () => {
  it("reads compare and overlay, and drops an unknown mode or an overlay without a comparison", () => {
    expect(parseDashboard(q("compare=year&overlay=1"))).toMatchObject({ compare: "year", overlay: true });
    expect(parseDashboard(q("compare=previous"))).toMatchObject({ compare: "previous", overlay: false });
    expect(parseDashboard(q("compare=lastweek&overlay=1"))).toMatchObject({ compare: null, overlay: false });
  });
  it("keeps them in the URL after the zone, and asks the metrics API for the comparison", () => {
    const s = parseDashboard(q("device=mobile&overlay=1&compare=previous&range=7d"));
    expect(dashboardSearch(s).toString()).toBe("range=7d&compare=previous&overlay=1&device=mobile");
    expect(metricsParams(s, now, "UTC")).toEqual({
      from: "2026-11-18",
      to: "2026-11-24",
      tz: "UTC",
      device: "mobile",
      compare: "previous",
    });
    expect(metricsParams(parseDashboard(q("range=7d")), now, "UTC").compare).toBeUndefined();
    const l = parseList(q(""));
    expect(listParams(s, l, now, "UTC").compare).toBeUndefined();
  });
});

describe("dashboardSearch", () => {
  it("round-trips every field in a canonical order with defaults left out", () => {
    const text = "range=custom&from=2026-01-01&to=2026-01-31&tz=Asia/Tokyo&environment=production&source=web&device=mobile&language=en&country=HR&customer_id=u-1";
    expect(dashboardSearch(parseDashboard(q(text))).toString()).toBe(
      "range=custom&from=2026-01-01&to=2026-01-31&tz=Asia%2FTokyo&environment=production&source=web&device=mobile&language=en&country=HR&customer_id=u-1",
    );
    expect(dashboardSearch(parseDashboard(q("range=30d"))).toString()).toBe("");
  });
  it("adds the list controls", () => {
    const s = parseDashboard(q("device=mobile"));
    const l = parseList(q("q=refund&feedback=1&escalated=0&marked=1&page=3"));
    expect(dashboardSearch(s, l).toString()).toBe("device=mobile&q=refund&feedback=1&escalated=0&marked=1&page=3");
  });
});

describe("withFilter", () => {
  it("sets, replaces and removes one dimension without touching the rest", () => {
    const s = parseDashboard(q("device=mobile"));
    const a = withFilter(s, "country", "hr");
    expect(a.filters).toEqual({ device: "mobile", country: "HR" });
    expect(withFilter(a, "device", "desktop").filters).toEqual({ device: "desktop", country: "HR" });
    expect(withFilter(a, "device", null).filters).toEqual({ country: "HR" });
    expect(s.filters).toEqual({ device: "mobile" });
  });
  it("maps the null group to unknown", () => {
    expect(filterValue(null)).toBe("unknown");
    expect(filterValue("web")).toBe("web");
  });
});

describe("API parameters", () => {
  it("resolves the preset in the chosen zone and passes the filters", () => {
    const s = parseDashboard(q("range=7d&tz=Pacific/Kiritimati&device=mobile"));
    // 12:00 UTC is already the 25th at UTC+14.
    expect(metricsParams(s, now, "UTC")).toEqual({
      from: "2026-11-19",
      to: "2026-11-25",
      tz: "Pacific/Kiritimati",
      device: "mobile",
    });
  });
  it("uses the browser's zone when none is chosen", () => {
    expect(metricsParams(parseDashboard(q("range=today")), now, "America/New_York")).toEqual({
      from: "2026-11-24",
      to: "2026-11-24",
      tz: "America/New_York",
    });
  });
  it("builds the conversation list query", () => {
    const s = parseDashboard(q("range=today&source=web"));
    const l = parseList(q("q=refund&feedback=1&escalated=1&marked=1&page=2"));
    expect(listParams(s, l, now, "UTC")).toEqual({
      from: "2026-11-24",
      to: "2026-11-24",
      tz: "UTC",
      source: "web",
      q: "refund",
      has_feedback: "true",
      escalated: "true",
      is_marked: "true",
      page: "2",
      page_size: "25",
    });
  });
  it("rejects a silly page", () => {
    expect(parseList(q("page=-4")).page).toBe(1);
    expect(parseList(q("page=abc")).page).toBe(1);
  });
});

describe("environmentOptions", () => {
  const pick = (o: { value: string; selected: boolean }[]) => o.filter((x) => x.selected).map((x) => x.value);
  it("offers All, the agent's environments, then Unknown for conversations without one", () => {
    const o = environmentOptions(["production", "development"], undefined);
    expect(o.map((x) => x.value)).toEqual(["", "production", "development", "unknown"]);
    expect(o.at(-1)?.label).toBe("Unknown (none set)");
    expect(pick(o)).toEqual([""]);
  });
  it("selects Unknown for the filter value unknown, in any case", () => {
    expect(pick(environmentOptions(["production"], "unknown"))).toEqual(["unknown"]);
    expect(pick(environmentOptions(["production"], "Unknown"))).toEqual(["unknown"]);
  });
  it("selects the applied environment", () => {
    expect(pick(environmentOptions(["production", "staging"], "staging"))).toEqual(["staging"]);
  });
  it("keeps an applied value the agent no longer lists, and never offers unknown twice", () => {
    const o = environmentOptions(["production", "unknown", "production"], "qa");
    expect(o.map((x) => x.value)).toEqual(["", "production", "qa", "unknown"]);
    expect(pick(o)).toEqual(["qa"]);
  });
});

describe("filterValueOptions", () => {
  it("lists each seen value once, in order, then unknown", () => {
    expect(filterValueOptions({ source: ["web", "app"], device: ["mobile", "web"] })).toEqual(["web", "app", "mobile", "unknown"]);
  });
  it("offers unknown once even when the data names it, and when there is nothing else", () => {
    expect(filterValueOptions({ source: ["Unknown", "web", ""] })).toEqual(["web", "unknown"]);
    expect(filterValueOptions({})).toEqual(["unknown"]);
  });
});
