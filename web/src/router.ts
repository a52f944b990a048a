// The SPA's routes: path -> route (pure), and the navigation helpers around the History API.

/** A matched route. */
export type Route =
  | { name: "login" }
  | { name: "setup" }
  | { name: "home" }
  | { name: "agents" }
  | { name: "overview"; agent: number }
  | { name: "conversations"; agent: number }
  | { name: "transcript"; agent: number; pk: number }
  | { name: "settings" }
  | { name: "agent-settings"; agent: number }
  | { name: "alerts-settings" }
  | { name: "share"; token: string }
  | { name: "not-found" };

const id = (s: string | undefined): number | null => {
  if (!s || !/^[1-9]\d{0,15}$/.test(s)) return null;
  return Number(s);
};

/** The route of a path (trailing slashes ignored). */
export function matchRoute(pathname: string): Route {
  const parts = pathname.split("/").filter(Boolean);
  const [a, b, c, d] = parts;
  if (parts.length === 0) return { name: "home" };
  if (a === "login" && parts.length === 1) return { name: "login" };
  if (a === "setup" && parts.length === 1) return { name: "setup" };
  if (a === "share" && b && parts.length === 2 && /^[A-Za-z0-9_-]{8,128}$/.test(b)) return { name: "share", token: b };
  if (a === "settings") {
    if (parts.length === 1) return { name: "settings" };
    if (b === "alerts" && parts.length === 2) return { name: "alerts-settings" };
    const agent = id(c);
    if (b === "agents" && agent !== null && parts.length === 3) return { name: "agent-settings", agent };
  }
  if (a === "agents") {
    if (parts.length === 1) return { name: "agents" };
    const agent = id(b);
    if (agent !== null) {
      if (parts.length === 2) return { name: "overview", agent };
      if (c === "conversations") {
        if (parts.length === 3) return { name: "conversations", agent };
        const pk = id(d);
        if (pk !== null && parts.length === 4) return { name: "transcript", agent, pk };
      }
    }
  }
  return { name: "not-found" };
}

/** A key that stays the same while only the query string changes (the view is kept, not remounted). */
export function routeKey(r: Route): string {
  return JSON.stringify(r);
}

/** The paths of the app's pages. */
export const paths = {
  login: (next?: string) => (next ? `/login?next=${encodeURIComponent(next)}` : "/login"),
  agents: () => "/agents",
  overview: (agent: number, search = "") => `/agents/${agent}${search ? `?${search}` : ""}`,
  conversations: (agent: number, search = "") => `/agents/${agent}/conversations${search ? `?${search}` : ""}`,
  transcript: (agent: number, pk: number, search = "") =>
    `/agents/${agent}/conversations/${pk}${search ? `?${search}` : ""}`,
  settings: () => "/settings",
  agentSettings: (agent: number) => `/settings/agents/${agent}`,
  alertsSettings: () => "/settings/alerts",
};

/** Stands for this app's origin when resolving `next` (any origin would do; it must not change). */
const SAME_ORIGIN = "http://app.invalid";

/**
 * A `next` target for after sign-in: only a path of this app, never another origin. Browsers
 * read `\` as `/` and drop tabs and newlines (`/\evil.example`, `/\t/evil.example` are
 * `//evil.example`), so a target holding a backslash, a control character or a space is refused,
 * and what is left must resolve to this origin; the normalized path is returned.
 */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith("/") || /[\\\s\u0000-\u001f\u007f]/.test(next)) return "/";
  let url: URL;
  try {
    url = new URL(next, SAME_ORIGIN);
  } catch {
    return "/";
  }
  if (url.origin !== SAME_ORIGIN) return "/";
  const path = url.pathname + url.search + url.hash;
  if (path.startsWith("//") || path.startsWith("/api/")) return "/";
  if (path === "/login" || path.startsWith("/login?") || path.startsWith("/setup")) return "/";
  return path;
}
