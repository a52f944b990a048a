import { describe, expect, it } from "vitest";
import { bucketLabel, bucketLongLabel, grainFor } from "./grain";

describe("grainFor", () => {
  it("draws one day by hour, up to 92 days by day, up to a year by week, then by month", () => {
    expect(grainFor({ from: "2026-11-03", to: "2026-11-03" })).toBe("hour");
    expect(grainFor({ from: "2026-11-03", to: "2026-11-04" })).toBe("day");
    expect(grainFor({ from: "2026-11-01", to: "2026-11-30" })).toBe("day");
    expect(grainFor({ from: "2026-10-01", to: "2026-12-31" })).toBe("day"); // 92 days
    expect(grainFor({ from: "2026-09-30", to: "2026-12-31" })).toBe("week"); // 93 days
    expect(grainFor({ from: "2027-03-01", to: "2028-02-29" })).toBe("week"); // 366 days, a leap year
    expect(grainFor({ from: "2026-01-01", to: "2026-12-31" })).toBe("week");
    expect(grainFor({ from: "2025-12-31", to: "2026-12-31" })).toBe("week"); // 366 days
    expect(grainFor({ from: "2025-12-30", to: "2026-12-31" })).toBe("month"); // 367 days
    expect(grainFor({ from: "2017-01-01", to: "2026-12-31" })).toBe("month");
  });
});

describe("bucketLabel", () => {
  it("labels hours by the local clock, days and weeks by day, months by month", () => {
    expect(bucketLabel("2026-11-01T01:00:00-05:00", "hour")).toBe("01:00");
    expect(bucketLabel("2026-11-03", "day")).toBe("3 Nov");
    expect(bucketLabel("2026-11-02", "week")).toBe("2 Nov");
    expect(bucketLabel("2026-11-01", "month")).toBe("Nov 2026");
    expect(bucketLabel("2026-01-15", "month")).toBe("Jan 2026"); // a first month clipped to the range
    expect(bucketLongLabel("2026-11-02", "week")).toBe("week of 2 Nov 2026");
    expect(bucketLongLabel("2026-11-01T01:00:00-04:00", "hour")).toBe("2026-11-01 01:00");
    expect(bucketLongLabel("2026-11-03", "day")).toBe("3 Nov 2026");
  });
});
