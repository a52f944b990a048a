import { describe, expect, it } from "vitest";
import { parseToolList } from "./agent-settings";

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
