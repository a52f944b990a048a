import { describe, expect, it } from "vitest";
import { formatBytes, formatCount, formatDuration, formatExact, formatPercent, formatRating } from "./format";

describe("formatCount", () => {
  it("keeps small counts exact", () => {
    expect(formatCount(0)).toBe("0");
    expect(formatCount(7)).toBe("7");
    expect(formatCount(999)).toBe("999");
  });
  it("abbreviates thousands, millions and billions with one decimal under 100", () => {
    expect(formatCount(1000)).toBe("1k");
    expect(formatCount(1234)).toBe("1.2k");
    expect(formatCount(12_345)).toBe("12.3k");
    expect(formatCount(123_456)).toBe("123k");
    expect(formatCount(1_250_000)).toBe("1.3M");
    expect(formatCount(3_400_000_000)).toBe("3.4B");
  });
  it("moves up a unit instead of printing 1000k", () => {
    expect(formatCount(999_960)).toBe("1M");
  });
  it("shows a dash for missing values", () => {
    expect(formatCount(null)).toBe("–");
    expect(formatCount(undefined)).toBe("–");
    expect(formatCount(Number.NaN)).toBe("–");
  });
});

describe("formatExact", () => {
  it("groups thousands", () => {
    expect(formatExact(12345)).toBe("12,345");
    expect(formatExact(null)).toBe("–");
  });
});

describe("formatDuration", () => {
  it("uses ms below a second", () => {
    expect(formatDuration(0)).toBe("0 ms");
    expect(formatDuration(850.4)).toBe("850 ms");
  });
  it("uses seconds with one decimal under 10", () => {
    expect(formatDuration(3400)).toBe("3.4 s");
    expect(formatDuration(3000)).toBe("3 s");
    expect(formatDuration(12_400)).toBe("12 s");
  });
  it("uses minutes, hours and days", () => {
    expect(formatDuration(150_000)).toBe("2.5 min");
    expect(formatDuration(4_320_000)).toBe("1.2 h");
    expect(formatDuration(5 * 86_400_000)).toBe("5 d");
  });
  it("shows a dash for null", () => {
    expect(formatDuration(null)).toBe("–");
  });
});

describe("formatPercent", () => {
  it("rounds to whole percent from 10%", () => {
    expect(formatPercent(0.123)).toBe("12%");
    expect(formatPercent(1)).toBe("100%");
  });
  it("keeps one decimal under 10%", () => {
    expect(formatPercent(0.045)).toBe("4.5%");
    expect(formatPercent(0.05)).toBe("5%");
    expect(formatPercent(0)).toBe("0%");
  });
  it("shows a dash for null", () => {
    expect(formatPercent(null)).toBe("–");
  });
});

describe("formatRating and formatBytes", () => {
  it("formats a mean rating", () => {
    expect(formatRating(4.25)).toBe("4.3 / 5");
    expect(formatRating(null)).toBe("–");
  });
  it("formats file sizes", () => {
    expect(formatBytes(512)).toBe("512 B");
    expect(formatBytes(1536)).toBe("1.5 KB");
    expect(formatBytes(12 * 1024 * 1024)).toBe("12 MB");
  });
});
