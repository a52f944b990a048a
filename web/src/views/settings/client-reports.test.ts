import { describe, expect, it } from "vitest";
import type { ReportSend } from "../../api/types";
import type { Send } from "../../api/notify";
import {
  formProblems,
  parseRecipients,
  schedulePayload,
  scheduleSummary,
  sendOutcome,
  testOutcome,
  type ScheduleForm,
} from "./client-reports";

const form = (over: Partial<ScheduleForm> = {}): ScheduleForm => ({
  cadence: "weekly",
  weekday: "tuesday",
  day_of_month: "1",
  hour: "7",
  time_zone: " Europe/Zagreb ",
  recipients: "Client@Example.com, boss@example.com\nclient@example.com;  ",
  ...over,
});

describe("parseRecipients", () => {
  it("splits on commas, semicolons, spaces and lines, lower-cases and drops repeats", () => {
    expect(parseRecipients(" A@x.com,b@x.com;\n a@X.com  c@x.com ")).toEqual(["a@x.com", "b@x.com", "c@x.com"]);
    expect(parseRecipients("  \n ")).toEqual([]);
  });
});

describe("schedulePayload", () => {
  it("sends the weekday for a weekly schedule and the day for a monthly one", () => {
    expect(schedulePayload(form())).toEqual({
      cadence: "weekly",
      weekday: "tuesday",
      hour: 7,
      time_zone: "Europe/Zagreb",
      recipients: ["client@example.com", "boss@example.com"],
    });
    const m = schedulePayload(form({ cadence: "monthly", day_of_month: "31" }));
    expect(m.day_of_month).toBe(31);
    expect(m).not.toHaveProperty("weekday");
  });
});

describe("formProblems", () => {
  it("names each field the server would refuse", () => {
    expect(formProblems(form())).toEqual({});
    expect(Object.keys(formProblems(form({ hour: "24", recipients: "", time_zone: " " })))).toEqual([
      "hour",
      "recipients",
      "time_zone",
    ]);
    expect(formProblems(form({ hour: "7.5" }))).toHaveProperty("hour");
    expect(formProblems(form({ cadence: "monthly", day_of_month: "0" }))).toHaveProperty("day_of_month");
    expect(formProblems(form({ cadence: "weekly", day_of_month: "0" }))).toEqual({});
    const many = Array.from({ length: 21 }, (_, i) => `u${i}@example.com`).join(",");
    expect(formProblems(form({ recipients: many }))).toHaveProperty("recipients");
  });
});

describe("scheduleSummary", () => {
  it("says when a schedule sends", () => {
    const s = { cadence: "weekly", weekday: "tuesday", day_of_month: null, hour: 7, time_zone: "Europe/Zagreb" };
    expect(scheduleSummary(s)).toBe("Every Tuesday at 07:00 (Europe/Zagreb)");
    expect(scheduleSummary({ ...s, cadence: "monthly", weekday: null, day_of_month: 3, hour: 18 })).toBe(
      "Monthly on day 3, at 18:00 (Europe/Zagreb)",
    );
    expect(scheduleSummary({ ...s, cadence: "monthly", weekday: null, day_of_month: 31 })).toContain("last day");
  });
});

describe("sendOutcome", () => {
  const send = (over: Partial<ReportSend>): ReportSend => ({
    period: "2026-W20",
    period_label: "11–17 May 2026",
    state: "sent",
    sent_at: null,
    attempted_at: null,
    attempts: null,
    error: null,
    ...over,
  });
  it("shows failures as bad with their attempts", () => {
    expect(sendOutcome(send({}))).toEqual({ text: "sent", tone: "ok" });
    expect(sendOutcome(send({ state: "failed", attempts: 3 }))).toEqual({ text: "failed (3 attempts)", tone: "bad" });
    expect(sendOutcome(send({ state: "failed", attempts: 1 }))).toEqual({ text: "failed", tone: "bad" });
    expect(sendOutcome(send({ state: "sending", attempts: 1 }))).toEqual({ text: "sending", tone: "warn" });
  });
});

describe("testOutcome", () => {
  const send = (recipient: string, status: string, last_error: string | null = null): Send =>
    ({ id: 1, channel: "email", source: "test", recipient, subject: "s", status, attempts: 1, last_error,
       created_at: "2026-12-07T10:00:00Z" }) as Send;
  it("names every address a test went to", () => {
    expect(testOutcome([send("a@x.com", "sent"), send("b@x.com", "sent")])).toEqual({
      text: "Test report sent to a@x.com, b@x.com.",
      ok: true,
    });
  });
  it("names each failure with its error", () => {
    const o = testOutcome([send("a@x.com", "sent"), send("b@x.com", "retrying", "SMTP 127.0.0.1:25: refused")]);
    expect(o.ok).toBe(false);
    expect(o.text).toBe("Test report not delivered to b@x.com: retrying (SMTP 127.0.0.1:25: refused)");
    expect(testOutcome([]).ok).toBe(false);
  });
});
