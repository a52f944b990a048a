import { describe, expect, it } from "vitest";
import type { UsersResponse } from "../../api/types";
import { SEQUENTIAL } from "../../charts/palette";
import {
  clippedNote,
  cohortCellColors,
  cohortShare,
  percentLabel,
  usersInterval,
  usersIsEmpty,
  weekOffsetLabel,
} from "./users-format";
import { USER_COLORS, activeUsersOption, newReturningOption } from "./users-options";

const sample: UsersResponse = {
  agent: { id: 1, name: "a" },
  range: { from: "2026-05-06", to: "2026-05-17", tz: "UTC" },
  filters: {},
  interval: "week",
  totals: { users: 5, new_users: 3, returning_users: 2 },
  new_returning: [
    { start: "2026-05-06", active: 4, new: 3, returning: 1 },
    { start: "2026-05-11", active: 3, new: 0, returning: 3 },
  ],
  active: {
    daily: [
      { start: "2026-05-06", users: 2 },
      { start: "2026-05-07", users: 1 },
    ],
    weekly: [
      { start: "2026-05-06", users: 4 },
      { start: "2026-05-11", users: 3 },
    ],
    monthly: [{ start: "2026-05-06", users: 5 }],
  },
  cohorts: [
    { week: "2026-05-06", users: 3, retained: [3, 1] },
    { week: "2026-05-11", users: 0, retained: [0] },
  ],
};

type Series = { name: string; data: unknown[]; stack?: string; step?: string };

describe("users format", () => {
  it("asks by day up to 92 days and by week above", () => {
    expect(usersInterval({ from: "2026-01-01", to: "2026-04-02" })).toBe("day");
    expect(usersInterval({ from: "2026-01-01", to: "2026-04-03" })).toBe("week");
  });
  it("computes a cohort cell's share, none for an empty cohort", () => {
    expect(cohortShare(sample.cohorts[0]!, 1)).toBeCloseTo(1 / 3);
    expect(cohortShare(sample.cohorts[0]!, 5)).toBeNull();
    expect(cohortShare(sample.cohorts[1]!, 0)).toBeNull();
  });
  it("prints shares as percentages with one decimal under 10", () => {
    expect([percentLabel(1), percentLabel(1 / 3), percentLabel(0.05), percentLabel(0), percentLabel(null)]).toEqual([
      "100%",
      "33%",
      "5.0%",
      "0%",
      "–",
    ]);
  });
  it("shades cells along the sequential ramp with readable text", () => {
    expect(cohortCellColors(0).background).toBe(SEQUENTIAL[0]);
    expect(cohortCellColors(1)).toEqual({ background: SEQUENTIAL[SEQUENTIAL.length - 1], color: "#ffffff" });
    expect(cohortCellColors(0.3).color).toBe("#111827");
    expect(cohortCellColors(null).background).toBe("transparent");
  });
  it("names week offsets and says when periods are cut to the range", () => {
    expect([weekOffsetLabel(0), weekOffsetLabel(3)]).toEqual(["Week 0", "+3"]);
    expect(clippedNote(sample)).toContain("week and month");
    const whole = { ...sample, range: { from: "2026-06-01", to: "2026-06-28", tz: "UTC" } };
    expect(clippedNote(whole)).toContain("month"); // Monday to Sunday, but not 1 to 30 June
    expect(clippedNote(whole)).not.toContain("week");
    expect(clippedNote({ ...sample, range: { from: "2026-06-01", to: "2026-06-30", tz: "UTC" } })).toContain("week");
    expect(usersIsEmpty(sample)).toBe(false);
    expect(usersIsEmpty({ ...sample, totals: { users: 0, new_users: 0, returning_users: 0 } })).toBe(true);
  });
});

describe("users charts", () => {
  it("stacks new and returning per period, labelled by the period's start", () => {
    const o = newReturningOption(sample);
    const s = o.series as Series[];
    expect(s.map((x) => [x.name, x.stack, x.data])).toEqual([
      ["New", "users", [3, 0]],
      ["Returning", "users", [1, 3]],
    ]);
    expect((o.xAxis as { data: string[] }).data).toEqual(["6 May", "11 May"]);
    const f = (o.tooltip as { formatter: (p: unknown) => string }).formatter;
    expect(f([{ dataIndex: 0 }])).toContain("week of 6 May 2026");
    expect(f([{ dataIndex: 0 }])).toContain("Active 4");
    expect((s[0] as unknown as { itemStyle: { color: string } }).itemStyle.color).toBe(USER_COLORS.new);
  });
  it("draws daily, weekly and monthly active users on one time axis, weeks and months as steps", () => {
    const o = activeUsersOption(sample);
    const s = o.series as Series[];
    expect(s.map((x) => x.name)).toEqual(["Daily", "Weekly", "Monthly"]);
    expect(s[0]!.data).toEqual([
      ["2026-05-06", 2],
      ["2026-05-07", 1],
    ]);
    expect(s[1]!.step).toBe("end");
    expect(s[2]!.data).toEqual([["2026-05-06", 5]]);
    expect((o.xAxis as { type: string }).type).toBe("time");
  });
});
