import { describe, expect, it } from "vitest";
import { dashboardSearch, listParams, parseDashboard, parseList } from "./dashboard-state";
import { describeOutcome, formatMinutes, outcomeApiParams, parseOutcome } from "./outcome";

const q = (s: string) => new URLSearchParams(s);

describe("the list's outcome filter", () => {
  it("reads what the URL says and drops what it cannot mean", () => {
    expect(parseOutcome(q("outcome=unanswered&idle=120"))).toEqual({ kind: "unanswered", idle: 120, tool: null, turns: null });
    expect(parseOutcome(q("outcome=unanswered&idle=0"))?.idle).toBeNull();
    expect(parseOutcome(q("outcome=unanswered&idle=10081"))?.idle).toBeNull();
    expect(parseOutcome(q("outcome=abandoned&idle=1e3"))?.idle).toBeNull();
    expect(parseOutcome(q("outcome=tool_error&tool=lookup"))?.tool).toBe("lookup");
    expect(parseOutcome(q("outcome=unanswered&tool=lookup"))?.tool).toBeNull();
    expect(parseOutcome(q("outcome=escalated&turns=3"))?.turns).toEqual({ min: 3, max: 3 });
    expect(parseOutcome(q("outcome=escalated&turns=10%2B"))?.turns).toEqual({ min: 10, max: null });
    expect(parseOutcome(q("outcome=escalated&turns=-1"))?.turns).toBeNull();
    expect(parseOutcome(q("outcome=nope"))).toBeNull();
    expect(parseOutcome(q(""))).toBeNull();
  });

  it("asks the API for exactly the conversations the widget counted", () => {
    expect(outcomeApiParams(parseOutcome(q("outcome=unanswered")))).toEqual({ unanswered: "true" });
    expect(outcomeApiParams(parseOutcome(q("outcome=abandoned&idle=60")))).toEqual({ abandoned: "true", idle_minutes: "60" });
    expect(outcomeApiParams(parseOutcome(q("outcome=tool_error")))).toEqual({ tool_error: "true" });
    expect(outcomeApiParams(parseOutcome(q("outcome=tool_error&tool=crm")))).toEqual({ tool_error_name: "crm" });
    expect(outcomeApiParams(parseOutcome(q("outcome=escalated")))).toEqual({ escalated: "true" });
    expect(outcomeApiParams(parseOutcome(q("outcome=escalated&turns=2")))).toEqual({ escalation_turns_min: "2", escalation_turns_max: "2" });
    expect(outcomeApiParams(parseOutcome(q("outcome=escalated&turns=10%2B")))).toEqual({ escalation_turns_min: "10" });
    expect(outcomeApiParams(null)).toEqual({});
  });

  it("round-trips through the list's URL and its API parameters", () => {
    const search = q("range=custom&from=2026-05-01&to=2026-05-02&tz=UTC&outcome=escalated&turns=10%2B&page=2");
    const s = parseDashboard(search);
    const l = parseList(search);
    expect(dashboardSearch(s, l).toString()).toBe("range=custom&from=2026-05-01&to=2026-05-02&tz=UTC&outcome=escalated&turns=10%2B&page=2");
    const p = listParams(s, l, new Date("2026-05-03T00:00:00Z"), "UTC");
    expect(p.escalation_turns_min).toBe("10");
    expect(p.escalation_turns_max).toBeUndefined();
    expect(parseList(q("page=1"))).not.toHaveProperty("outcome");
  });

  it("names the filter for people", () => {
    expect(describeOutcome({ kind: "unanswered", idle: 120, tool: null, turns: null })).toBe("Unanswered (quiet 2 h)");
    expect(describeOutcome({ kind: "tool_error", idle: null, tool: "crm", turns: null })).toBe("Tool error: crm");
    expect(describeOutcome({ kind: "escalated", idle: null, tool: null, turns: { min: 1, max: 1 } })).toBe("Escalated to a human after 1 user message");
    expect(describeOutcome({ kind: "escalated", idle: null, tool: null, turns: { min: 10, max: null } })).toBe("Escalated to a human after 10 or more user messages");
    expect(formatMinutes(30)).toBe("30 min");
    expect(formatMinutes(1440)).toBe("1 day");
    expect(formatMinutes(2880)).toBe("2 days");
  });
});
