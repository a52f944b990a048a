import { afterEach, describe, expect, it } from "vitest";
import { setAuth } from "./client";
import { exportUrl, liveStreamUrl, logoSrc } from "./endpoints";

const b = (logo_url: string | null) => ({ display_name: null, accent_color: null, logo_url });

afterEach(() => setAuth({ kind: "none" }));

describe("URLs the page puts in src and href", () => {
  it("keeps a session's logo URL, and puts the share token in it once on a share page", () => {
    setAuth({ kind: "session", csrf: "x" });
    expect(logoSrc(b("/api/dash/agents/7/logo/?v=3"))).toBe("/api/dash/agents/7/logo/?v=3");
    expect(logoSrc(b(null))).toBeNull();
    setAuth({ kind: "share", token: "shr_abc" });
    expect(logoSrc(b("/api/dash/agents/7/logo/?v=3"))).toBe("/api/dash/agents/7/logo/?v=3&share=shr_abc");
    expect(logoSrc(b("/api/dash/agents/7/logo/?v=3&share=shr_abc"))).toBe(
      "/api/dash/agents/7/logo/?v=3&share=shr_abc",
    );
  });
  it("opens the live stream with the agent, or the share token", () => {
    setAuth({ kind: "session", csrf: "x" });
    expect(liveStreamUrl(3)).toBe("/api/dash/live/?agent=3");
    setAuth({ kind: "share", token: "shr_abc" });
    expect(liveStreamUrl(null)).toBe("/api/dash/live/?share=shr_abc");
  });
  it("exports with the list filters but not the page", () => {
    expect(exportUrl("messages", 2, { q: "refund", page: "3", page_size: "25", tz: "UTC" })).toBe(
      "/api/dash/export/messages.csv?agent=2&q=refund&tz=UTC",
    );
  });
});
