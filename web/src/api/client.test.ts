import { describe, expect, it } from "vitest";
import { ApiError, errorMessage, queryString } from "./client";

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
