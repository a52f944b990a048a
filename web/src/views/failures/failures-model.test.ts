import { describe, expect, it } from "vitest";
import { parseDashboard, parseList } from "../../state/dashboard-state";
import { barWidths, figureOutcome, outcomeSearch, turnsLabel } from "./failures-model";

describe("where the bot fails: links and labels", () => {
  it("links a figure to the list with the overview's range and filters", () => {
    const s = parseDashboard(new URLSearchParams("range=7d&tz=Europe/Zagreb&device=mobile"));
    const search = outcomeSearch(s, figureOutcome({ idle_minutes: 30 }, "unanswered"));
    expect(search).toBe("range=7d&tz=Europe%2FZagreb&device=mobile&outcome=unanswered");
    const back = parseList(new URLSearchParams(search));
    expect(back.outcome).toEqual({ kind: "unanswered", idle: null, tool: null, turns: null });
    expect(back.page).toBe(1);
  });

  it("carries a non-default idle time, a tool and the turns", () => {
    const s = parseDashboard(new URLSearchParams(""));
    expect(outcomeSearch(s, figureOutcome({ idle_minutes: 120 }, "abandoned"))).toBe("outcome=abandoned&idle=120");
    expect(outcomeSearch(s, figureOutcome({ idle_minutes: 120 }, "tool_error", { tool: "crm lookup" }))).toBe("outcome=tool_error&tool=crm+lookup");
    expect(outcomeSearch(s, figureOutcome({ idle_minutes: 30 }, "escalated", { turns: { min: 10, max: null } }))).toBe("outcome=escalated&turns=10%2B");
  });

  it("labels and scales the turns histogram", () => {
    expect(turnsLabel({ turns: 3, or_more: false })).toBe("3");
    expect(turnsLabel({ turns: 10, or_more: true })).toBe("10+");
    expect(barWidths([0, 5, 10])).toEqual([0, 50, 100]);
    expect(barWidths([0, 0])).toEqual([0, 0]);
    expect(barWidths([1, 3])).toEqual([33.3, 100]);
  });
});
