// What every view gets: who is signed in (or which share link is open), the visible agents, and
// navigation.

import type { Agent, Session, ShareInfo } from "./api/types";

/** An open share link. */
export interface ShareContext {
  token: string;
  info: ShareInfo;
}

/** Shared by the views. */
export interface AppContext {
  /** The signed-in user; null on a share page. */
  session: Session | null;
  /** The share link being viewed; null when signed in. */
  share: ShareContext | null;
  /** Agents the user may see (admin: all). */
  agents: Agent[];
  /** Goes to a path of the app (pushState, or replaceState with `replace`). */
  navigate(path: string, opts?: { replace?: boolean }): void;
  /** Reloads `agents` (after a settings change). */
  refreshAgents(): Promise<void>;
  /** Shows a short message. */
  toast(message: string, kind?: "ok" | "error"): void;
  /** Signs out and goes to the sign-in page. */
  signOut(): Promise<void>;
}

/** A mounted page. `update` is called when only the query string changed. */
export interface View {
  update(): void;
  dispose(): void;
}

/** True when the user may change things (admins). */
export function canEdit(ctx: AppContext): boolean {
  return ctx.session?.user.role === "admin";
}
