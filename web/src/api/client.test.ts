import { describe, expect, it } from "vitest";
import { ApiError, LatestFetch, errorMessage, queryString } from "./client";

describe("errorMessage", () => {
  it("prefers detail", () => {
    expect(errorMessage(400, { detail: "Invalid email or password." })).toBe("Invalid email or password.");
  });
  it("names each field", () => {
    expect(errorMessage(400, { tz: ["unknown time zone 'Mars/Olympus'"], from: ["bad date"] })).toBe(
      "tz: unknown time zone 'Mars/Olympus'; from: bad date",
    );
  });
  it("falls back to the status", () => {
    expect(errorMessage(502, null)).toBe("The server answered 502.");
    expect(errorMessage(0, null)).toBe("The server could not be reached.");
  });
});

describe("ApiError.fieldErrors", () => {
  it("reads one field", () => {
    const e = new ApiError(400, { password: ["too short"] }, "x");
    expect(e.fieldErrors("password")).toEqual(["too short"]);
    expect(e.fieldErrors("email")).toEqual([]);
  });
});

describe("queryString", () => {
  it("skips empty values and encodes the rest", () => {
    expect(queryString({ agent: 1, q: "a b", x: "", y: null, z: undefined, f: false })).toBe("?agent=1&q=a+b&f=false");
    expect(queryString({})).toBe("");
  });
});

describe("LatestFetch", () => {
  it("keeps the newest answer: an older fetch that ends later is dropped", async () => {
    const f = new LatestFetch<string>();
    let endOld: (v: string) => void = () => {};
    let oldSignal: AbortSignal | null = null;
    const old = f.run((signal) => {
      oldSignal = signal;
      return new Promise<string>((res) => (endOld = res));
    });
    expect(f.loading).toBe(true);
    expect(await f.run(async () => "new")).toBe(true);
    expect(oldSignal!.aborted).toBe(true);
    endOld("old");
    expect(await old).toBe(false);
    expect([f.data, f.error, f.loading]).toEqual(["new", null, false]);
  });

  it("shows a failure and clears the data", async () => {
    const f = new LatestFetch<string>();
    await f.run(async () => "x");
    expect(await f.run(async () => Promise.reject(new Error("boom")))).toBe(true);
    expect([f.data, f.error]).toEqual([null, "Error: boom"]);
  });
});
