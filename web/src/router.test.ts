import { describe, expect, it } from "vitest";
import { matchRoute, safeNext } from "./router";

describe("matchRoute", () => {
  it("matches every page", () => {
    expect(matchRoute("/")).toEqual({ name: "home" });
    expect(matchRoute("/login")).toEqual({ name: "login" });
    expect(matchRoute("/setup")).toEqual({ name: "setup" });
    expect(matchRoute("/agents")).toEqual({ name: "agents" });
    expect(matchRoute("/settings/alerts")).toEqual({ name: "alerts-settings" });
    expect(matchRoute("/settings/alerts/x")).toEqual({ name: "not-found" });
    expect(matchRoute("/agents/3")).toEqual({ name: "overview", agent: 3 });
    expect(matchRoute("/agents/3/")).toEqual({ name: "overview", agent: 3 });
    expect(matchRoute("/agents/3/conversations")).toEqual({ name: "conversations", agent: 3 });
    expect(matchRoute("/agents/3/conversations/42")).toEqual({ name: "transcript", agent: 3, pk: 42 });
    expect(matchRoute("/settings")).toEqual({ name: "settings" });
    expect(matchRoute("/settings/agents/2")).toEqual({ name: "agent-settings", agent: 2 });
    expect(matchRoute("/share/abcDEF123_-xyz")).toEqual({ name: "share", token: "abcDEF123_-xyz" });
  });
  it("refuses malformed ids and unknown paths", () => {
    expect(matchRoute("/agents/0")).toEqual({ name: "not-found" });
    expect(matchRoute("/agents/-1")).toEqual({ name: "not-found" });
    expect(matchRoute("/agents/1e3")).toEqual({ name: "not-found" });
    expect(matchRoute("/agents/1/conversations/x")).toEqual({ name: "not-found" });
    expect(matchRoute("/share/a<b")).toEqual({ name: "not-found" });
    expect(matchRoute("/nope")).toEqual({ name: "not-found" });
  });
});

describe("safeNext", () => {
  it("keeps app paths and refuses other origins", () => {
    expect(safeNext("/agents/1?range=7d")).toBe("/agents/1?range=7d");
    expect(safeNext("//evil.example")).toBe("/");
    expect(safeNext("https://evil.example")).toBe("/");
    expect(safeNext("/api/auth/logout/")).toBe("/");
    expect(safeNext(null)).toBe("/");
    expect(safeNext("/login?next=%2F")).toBe("/");
  });

  it("refuses backslashes, control characters and paths that leave the origin once normalized", () => {
    for (const evil of [
      "/\\evil.example",
      "/\\/evil.example",
      "\\\\evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "/ /evil.example",
      "/agents/../api/auth/logout/",
      "/./login",
      "javascript:alert(1)",
    ]) {
      expect(safeNext(evil), JSON.stringify(evil)).toBe("/");
    }
    // A percent-encoded backslash is a path character, not a separator: it stays in this origin.
    expect(safeNext("/%5C/ok")).toBe("/%5C/ok");
    expect(safeNext("/agents/2/conversations?q=a%20b#top")).toBe("/agents/2/conversations?q=a%20b#top");
  });
});
