// The SPA's entry: finds out who is signed in (or which share link is open), routes the path to
// a view, keeps links inside the app, and re-routes on back/forward.

import "./styles.css";
import { html, render } from "lit-html";
import { ApiError, setAuth, setUnauthorizedHandler } from "./api/client";
import { getAuthState, getMe, getShareInfo, listAgents, logout } from "./api/endpoints";
import type { Agent, Session } from "./api/types";
import { applyAccent } from "./components/branding";
import { agentTitle, shareTopbar, topbar } from "./components/shell";
import { showToast } from "./components/toast";
import type { AppContext, View } from "./context";
import { type Route, matchRoute, paths, routeKey, safeNext } from "./router";
import { mountAgents } from "./views/agents/agents";
import { mountLogin, mountSetup } from "./views/auth/auth";
import { mountConversations } from "./views/conversations/conversations";
import { mountOverview } from "./views/overview/overview";
import { mountAgentSettings } from "./views/settings/agent-settings";
import { mountSettings } from "./views/settings/settings";
import { mountAlertsSettings } from "./views/settings/alerts";
import { mountTranscript } from "./views/transcript/transcript";

const root = document.getElementById("app") as HTMLElement;
// lit-html keeps content it did not render: drop the boot message first.
root.replaceChildren();
let current: { key: string; view: View } | null = null;

const ctx: AppContext = {
  session: null,
  share: null,
  agents: [],
  navigate(path, opts) {
    if (path === location.pathname + location.search) return;
    if (opts?.replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
    void route();
  },
  async refreshAgents() {
    ctx.agents = await listAgents();
    current?.view.update();
  },
  toast: showToast,
  async signOut() {
    try {
      await logout();
    } catch {
      /* the session may be gone already */
    }
    ctx.session = null;
    ctx.agents = [];
    setAuth({ kind: "none" });
    applyAccent(null);
    ctx.navigate(paths.login(), { replace: true });
  },
};

function mount(key: string, make: () => View): void {
  if (current?.key === key) {
    current.view.update();
    return;
  }
  current?.view.dispose();
  current = null;
  render(html``, root);
  current = { key, view: make() };
  document.getElementById("main")?.focus({ preventScroll: true });
}

function message(title: string, text: string, agent: Agent | null = null): View {
  const draw = () =>
    render(
      html`${ctx.session ? topbar(ctx, agent, "none") : ""}<main id="main"><div class="card"><h1>${title}</h1><p>${text}</p>
        <p><a href="/">Go to the start page</a></p></div></main>`,
      root,
    );
  draw();
  return { update: draw, dispose: () => undefined };
}

async function ensureSession(): Promise<boolean> {
  if (ctx.session) return true;
  // Asked first so that a signed-out visit draws no 401 (the browser logs each one).
  if (!(await getAuthState()).signed_in) return false;
  try {
    const s = await getMe();
    await signedIn(s, false);
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return false;
    throw e;
  }
}

async function signedIn(s: Session, go: boolean): Promise<void> {
  ctx.session = s;
  setAuth({ kind: "session", csrf: s.csrf_token });
  ctx.agents = await listAgents();
  if (go) ctx.navigate(safeNext(new URLSearchParams(location.search).get("next")), { replace: true });
}

/** Branding applies to the agent being looked at (viewers, share links; admins see it too). */
function brandFor(agent: Agent | null): void {
  applyAccent(agent?.branding ?? null);
}

async function route(): Promise<void> {
  const r: Route = matchRoute(location.pathname);
  const key = routeKey(r);
  try {
    if (r.name === "share") {
      await routeShare(r.token, key);
      return;
    }
    if (ctx.share) {
      // Leaving a share page: forget its token.
      ctx.share = null;
      setAuth({ kind: "none" });
    }
    if (r.name === "setup") {
      brandFor(null);
      mount(key, () => mountSetup(root, (s) => void signedIn(s, true).then(() => ctx.navigate("/", { replace: true }))));
      return;
    }
    if (r.name === "login") {
      if (await ensureSession()) {
        ctx.navigate(safeNext(new URLSearchParams(location.search).get("next")), { replace: true });
        return;
      }
      brandFor(null);
      mount(key, () => mountLogin(root, (s) => void signedIn(s, true)));
      return;
    }
    if (!(await ensureSession())) {
      ctx.navigate(paths.login(location.pathname + location.search), { replace: true });
      return;
    }
    const agentOf = (id: number) => ctx.agents.find((a) => a.id === id) ?? null;
    switch (r.name) {
      case "home": {
        const only = ctx.agents.length === 1 ? ctx.agents[0] : undefined;
        ctx.navigate(only ? paths.overview(only.id) : paths.agents(), { replace: true });
        return;
      }
      case "agents":
        brandFor(null);
        mount(key, () => mountAgents(root, ctx));
        return;
      case "overview":
      case "conversations":
      case "transcript": {
        const agent = agentOf(r.agent);
        brandFor(agent);
        if (!agent) {
          mount(key, () => message("Not found", "There is no such agent, or you may not see it."));
          return;
        }
        if (r.name === "overview")
          mount(key, () =>
            mountOverview(root, ctx, {
              header: () => topbar(ctx, agent, "overview"),
              agentId: agent.id,
              environments: agent.environments,
              title: agentTitle(agent),
              path: paths.overview(agent.id),
            }),
          );
        else if (r.name === "conversations") mount(key, () => mountConversations(root, ctx, agent));
        else mount(key, () => mountTranscript(root, ctx, agent, r.pk));
        return;
      }
      case "settings":
      case "agent-settings":
      case "alerts-settings":
        brandFor(null);
        if (ctx.session?.user.role !== "admin") {
          mount(key, () => message("Admins only", "Settings are for admins. Ask one to change what you need."));
          return;
        }
        mount(key, () =>
          r.name === "settings"
            ? mountSettings(root, ctx)
            : r.name === "alerts-settings"
              ? mountAlertsSettings(root, ctx)
              : mountAgentSettings(root, ctx, r.agent),
        );
        return;
      default:
        mount(key, () => message("Not found", "There is no page at this address."));
    }
  } catch (e) {
    current?.view.dispose();
    current = null;
    const text = e instanceof Error ? e.message : String(e);
    render(html`<main id="main"><div class="card form-error" role="alert"><h1>Something went wrong</h1><p>${text}</p>
      <button class="btn" @click=${() => void route()}>Try again</button></div></main>`, root);
  }
}

async function routeShare(token: string, key: string): Promise<void> {
  if (current?.key === key) {
    current.view.update();
    return;
  }
  ctx.session = null;
  setAuth({ kind: "share", token });
  try {
    const info = await getShareInfo();
    ctx.share = { token, info };
  } catch (e) {
    applyAccent(null);
    mount(key, () =>
      message(
        "This link does not work",
        e instanceof ApiError && e.status === 401 ? e.message : `The shared dashboard could not be opened: ${e instanceof Error ? e.message : String(e)}`,
      ),
    );
    return;
  }
  const info = ctx.share.info;
  applyAccent(info.branding);
  const title = info.branding.display_name?.trim() || info.agent.name;
  mount(key, () =>
    mountOverview(root, ctx, {
      header: () => shareTopbar(title, info.branding),
      agentId: null,
      environments: info.agent.environments ?? [],
      title,
      path: location.pathname,
      note: html`<span class="sub">${info.expires_at ? `Shared view · until ${new Date(info.expires_at).toLocaleString()}` : "Shared view"}</span>`,
    }),
  );
}

// Links inside the app change the view without reloading the page.
document.addEventListener("click", (e) => {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.("a");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/api/")) return;
  e.preventDefault();
  ctx.navigate(url.pathname + url.search);
});
window.addEventListener("popstate", () => void route());
// A session that ended (expired, signed out elsewhere, password changed): back to sign-in, once.
setUnauthorizedHandler(() => {
  ctx.session = null;
  ctx.agents = [];
  setAuth({ kind: "none" });
  if (location.pathname !== "/login") ctx.navigate(paths.login(location.pathname + location.search), { replace: true });
});

void route();
