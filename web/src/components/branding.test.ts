import { describe, expect, it } from "vitest";
import { accentOf, inkOn } from "./branding";

describe("branding", () => {
  it("accepts only #rrggbb accents", () => {
    expect(accentOf({ display_name: null, logo_url: null, accent_color: "#1f77b4" })).toBe("#1f77b4");
    expect(accentOf({ display_name: null, logo_url: null, accent_color: "red" })).toBeNull();
    expect(accentOf(null)).toBeNull();
  });
  it("picks readable text on the accent", () => {
    expect(inkOn("#ffff00")).toBe("#111827");
    expect(inkOn("#0072b2")).toBe("#ffffff");
  });
});
