// fetch with one error type, abort, JSON, the session's CSRF token on writes, and the share
// token on a share page. Every endpoint function in endpoints.ts goes through `request`.

/** An answer that was not 2xx, or no answer at all (status 0). */
export class ApiError extends Error {
  /** HTTP status; 0 when the request did not reach the server. */
  readonly status: number;
  /** The DRF-shaped body, when there was one. */
  readonly body: unknown;

  constructor(status: number, body: unknown, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }

  /** The messages of one field of a `{"field": ["…"]}` body. */
  fieldErrors(field: string): string[] {
    if (this.body && typeof this.body === "object" && field in this.body) {
      const v = (this.body as Record<string, unknown>)[field];
      if (Array.isArray(v)) return v.map(String);
      if (typeof v === "string") return [v];
    }
    return [];
  }
}

/** Reads a DRF-shaped error body into one sentence: `detail`, else `field: message; …`. */
export function errorMessage(status: number, body: unknown): string {
  if (body && typeof body === "object") {
    const b = body as Record<string, unknown>;
    if (typeof b.detail === "string") return b.detail;
    const parts: string[] = [];
    for (const [k, v] of Object.entries(b)) {
      const msgs = Array.isArray(v) ? v.map(String).join(" ") : typeof v === "string" ? v : JSON.stringify(v);
      parts.push(k === "non_field_errors" ? msgs : `${k}: ${msgs}`);
    }
    if (parts.length) return parts.join("; ");
  }
  if (status === 0) return "The server could not be reached.";
  return `The server answered ${status}.`;
}

/** How requests are authenticated. */
export type Auth = { kind: "none" } | { kind: "session"; csrf: string } | { kind: "share"; token: string };

let auth: Auth = { kind: "none" };
let onUnauthorized: (() => void) | null = null;

/** Sets how later requests authenticate. */
export function setAuth(a: Auth): void {
  auth = a;
}

/** The authentication in use. */
export function currentAuth(): Auth {
  return auth;
}

/** Called when a session request answers 401 (the session expired): the app goes to sign-in. */
export function setUnauthorizedHandler(f: (() => void) | null): void {
  onUnauthorized = f;
}

/** A query string from a record, leaving out empty values. */
export function queryString(params: Record<string, string | number | boolean | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === null || v === undefined || v === "") continue;
    p.set(k, String(v));
  }
  const s = p.toString();
  return s ? `?${s}` : "";
}

/** Options of one request. */
export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  query?: Record<string, string | number | boolean | null | undefined>;
  body?: unknown;
  signal?: AbortSignal;
}

/** The headers a request needs for the current authentication. */
export function authHeaders(method: string): Record<string, string> {
  const h: Record<string, string> = {};
  if (auth.kind === "share") h["X-Share-Token"] = auth.token;
  if (auth.kind === "session" && method !== "GET") h["X-CSRF-Token"] = auth.csrf;
  return h;
}

/** Sends one request and returns its JSON body; throws ApiError on anything but 2xx. */
export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const method = opts.method ?? "GET";
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders(method) };
  let body: string | undefined;
  if (opts.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(path + queryString(opts.query ?? {}), {
      method,
      headers,
      body,
      signal: opts.signal,
      credentials: "same-origin",
    });
  } catch (e) {
    if (e instanceof DOMException && e.name === "AbortError") throw e;
    throw new ApiError(0, null, errorMessage(0, null));
  }
  const text = await res.text();
  let data: unknown = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    if (res.status === 401 && auth.kind === "session" && onUnauthorized) onUnauthorized();
    throw new ApiError(res.status, data, errorMessage(res.status, data));
  }
  return data as T;
}

/** True for an abort (a newer request replaced this one): not an error to show. */
export function isAbort(e: unknown): boolean {
  return e instanceof DOMException && e.name === "AbortError";
}

/** What a view shows of one resource, fetched again for new parameters: a newer fetch aborts the
 * older one, whose answer is dropped. `loading` holds until the first answer. */
export class LatestFetch<T> {
  data: T | null = null;
  error: string | null = null;
  loading = true;
  private abort: AbortController | null = null;

  /** Fetches with `get`; false when a newer fetch (or `stop`) superseded this one. */
  async run(get: (signal: AbortSignal) => Promise<T>): Promise<boolean> {
    this.abort?.abort();
    const ac = new AbortController();
    this.abort = ac;
    try {
      const r = await get(ac.signal);
      if (ac.signal.aborted) return false;
      this.data = r;
      this.error = null;
    } catch (e) {
      if (isAbort(e) || ac.signal.aborted) return false;
      this.error = e instanceof ApiError ? e.message : String(e);
      this.data = null;
    }
    this.loading = false;
    return true;
  }

  /** Aborts the fetch in flight. */
  stop(): void {
    this.abort?.abort();
  }
}
