import { describe, expect, it } from "vitest";
import { actorLabel, parseRetentionDays, parseToolList } from "./agent-settings";

describe("parseToolList", () => {
  it("takes one name per line or comma, trimmed, without blanks or repeats", () => {
    expect(parseToolList(" fallback_to_human\nopen_ticket, ticket\n\nticket ,contact_human ")).toEqual([
      "fallback_to_human",
      "open_ticket",
      "ticket",
      "contact_human",
    ]);
    expect(parseToolList("")).toEqual([]);
  });
});

describe("parseRetentionDays", () => {
  it("takes a whole number of days from 1 to 36500", () => {
    expect(parseRetentionDays(" 90 ")).toEqual({ days: 90 });
    expect(parseRetentionDays("36500")).toEqual({ days: 36500 });
    for (const bad of ["", "0", "36501", "-3", "1.5", "ten", "1e3"]) {
      expect(parseRetentionDays(bad)).toHaveProperty("error");
    }
  });
});

describe("actorLabel", () => {
  it("names who removed without anything about the customer", () => {
    expect(actorLabel("retention")).toBe("retention job");
    expect(actorLabel("cli")).toBe("command line");
    expect(actorLabel("key:7")).toBe("API key #7");
    expect(actorLabel("user:2")).toBe("user #2");
    expect(actorLabel("other")).toBe("other");
  });
});
