import { describe, expect, it } from "vitest";
import { addDays, isDay, isTimeZone, localDay, presetRange, rangeDays, formatInstant } from "./dates";

describe("localDay", () => {
  it("is the calendar day in the zone, not in UTC", () => {
    const now = new Date("2026-11-24T23:30:00Z");
    expect(localDay(now, "UTC")).toBe("2026-11-24");
    expect(localDay(now, "Europe/Zagreb")).toBe("2026-11-25");
    expect(localDay(now, "America/Los_Angeles")).toBe("2026-11-24");
    expect(localDay(new Date("2026-11-24T05:00:00Z"), "America/Los_Angeles")).toBe("2026-11-23");
  });
});

describe("addDays and isDay", () => {
  it("crosses months and leap days", () => {
    expect(addDays("2028-02-28", 1)).toBe("2028-02-29");
    expect(addDays("2026-03-01", -1)).toBe("2026-02-28");
    expect(addDays("2026-12-31", 1)).toBe("2027-01-01");
  });
  it("accepts only real days", () => {
    expect(isDay("2026-02-28")).toBe(true);
    expect(isDay("2026-02-30")).toBe(false);
    expect(isDay("2026-2-3")).toBe(false);
    expect(isDay("yesterday")).toBe(false);
  });
});

describe("presetRange", () => {
  const now = new Date("2026-11-24T23:30:00Z");
  it("ends today in the zone", () => {
    expect(presetRange("today", now, "Europe/Zagreb")).toEqual({ from: "2026-11-25", to: "2026-11-25" });
    expect(presetRange("7d", now, "UTC")).toEqual({ from: "2026-11-18", to: "2026-11-24" });
    expect(presetRange("30d", now, "UTC")).toEqual({ from: "2026-10-26", to: "2026-11-24" });
    expect(presetRange("month", now, "UTC")).toEqual({ from: "2026-11-01", to: "2026-11-24" });
  });
  it("keeps a custom range, swapping reversed ends and defaulting bad ones", () => {
    expect(presetRange("custom", now, "UTC", { from: "2026-01-01", to: "2026-01-31" })).toEqual({
      from: "2026-01-01",
      to: "2026-01-31",
    });
    expect(presetRange("custom", now, "UTC", { from: "2026-01-31", to: "2026-01-01" })).toEqual({
      from: "2026-01-01",
      to: "2026-01-31",
    });
    expect(presetRange("custom", now, "UTC", { from: "nope" })).toEqual({ from: "2026-10-26", to: "2026-11-24" });
  });
  it("counts days inclusively", () => {
    expect(rangeDays(presetRange("7d", now, "UTC"))).toBe(7);
    expect(rangeDays({ from: "2026-03-01", to: "2026-03-31" })).toBe(31);
  });
});

describe("time zones", () => {
  it("knows real zones only", () => {
    expect(isTimeZone("Europe/Zagreb")).toBe(true);
    expect(isTimeZone("Mars/Olympus")).toBe(false);
  });
  it("shows an instant in the zone", () => {
    expect(formatInstant("2026-11-24T23:30:00Z", "Europe/Zagreb")).toBe("25 Nov 2026, 00:30");
  });
});
