// Sign-in, and the first admin's setup from the link `agentsight serve` prints.

import { html, nothing, render } from "lit-html";
import { ApiError } from "../../api/client";
import { getAuthState, login, setupAdmin } from "../../api/endpoints";
import type { Session } from "../../api/types";
import type { View } from "../../context";

/** Called with the new session after a successful sign-in or setup. */
export type SignedIn = (s: Session) => void;

interface FormState {
  busy: boolean;
  error: string | null;
  fields: Record<string, string[]>;
}

function fieldErrors(e: unknown, names: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (e instanceof ApiError) for (const n of names) out[n] = e.fieldErrors(n);
  return out;
}

/** Calls `f` with whether the first admin is still to be set up (ignored when unknown). */
function whenAuthState(f: (needsSetup: boolean) => void): void {
  getAuthState()
    .then((s) => f(s.needs_setup))
    .catch(() => undefined);
}

/** An input with its label and the server's messages for it. */
function input(st: FormState, id: string, label: string, type: string, autocomplete: string, hint?: string) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <input id=${id} name=${id} type=${type} autocomplete=${autocomplete} required />
    ${hint ? html`<span class="hint">${hint}</span>` : nothing}
    ${(st.fields[id] ?? []).map((m) => html`<span class="err">${m}</span>`)}
  </div>`;
}

/** The sign-in page. */
export function mountLogin(root: HTMLElement, done: SignedIn): View {
  document.title = "Sign in · AgentSight";
  const st: FormState = { busy: false, error: null, fields: {} };
  let needsSetup = false;
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const email = (f.elements.namedItem("email") as HTMLInputElement).value;
    const password = (f.elements.namedItem("password") as HTMLInputElement).value;
    st.busy = true;
    st.error = null;
    draw();
    try {
      done(await login(email, password));
    } catch (err) {
      st.error = err instanceof ApiError ? err.message : String(err);
      st.fields = fieldErrors(err, ["email", "password"]);
      st.busy = false;
      draw();
    }
  };
  const draw = () =>
    render(
      html`<main id="main" class="auth-page">
        <form class="auth-card" @submit=${submit} novalidate aria-label="Sign in">
          <h1>Sign in to AgentSight</h1>
          ${st.error ? html`<div class="form-error" role="alert">${st.error}</div>` : nothing}
          ${needsSetup
            ? html`<div class="notice warn">No admin account exists yet. Open the setup link that
                <code>agentsight serve</code> printed, or create one with
                <code>agentsight user create EMAIL --role admin</code>.</div>`
            : nothing}
          ${input(st, "email", "E-mail", "email", "username")}
          ${input(st, "password", "Password", "password", "current-password")}
          <button class="btn primary" type="submit" ?disabled=${st.busy}>${st.busy ? "Signing in…" : "Sign in"}</button>
        </form>
      </main>`,
      root,
    );
  draw();
  whenAuthState((needs) => {
    needsSetup = needs;
    draw();
  });
  return { update: draw, dispose: () => undefined };
}

/** The first admin's setup page (`/setup?token=…`). */
export function mountSetup(root: HTMLElement, done: SignedIn): View {
  document.title = "Set up · AgentSight";
  const token = new URLSearchParams(location.search).get("token") ?? "";
  const st: FormState = { busy: false, error: null, fields: {} };
  let needsSetup: boolean | null = null;
  const submit = async (e: Event) => {
    e.preventDefault();
    const f = e.target as HTMLFormElement;
    const email = (f.elements.namedItem("email") as HTMLInputElement).value;
    const password = (f.elements.namedItem("password") as HTMLInputElement).value;
    const again = (f.elements.namedItem("password2") as HTMLInputElement).value;
    st.fields = {};
    if (password !== again) {
      st.fields = { password2: ["The passwords differ."] };
      draw();
      return;
    }
    st.busy = true;
    st.error = null;
    draw();
    try {
      done(await setupAdmin(token, email, password));
    } catch (err) {
      st.error = err instanceof ApiError ? err.message : String(err);
      st.fields = fieldErrors(err, ["email", "password", "token"]);
      st.busy = false;
      draw();
    }
  };
  const draw = () =>
    render(
      html`<main id="main" class="auth-page">
        <form class="auth-card" @submit=${submit} novalidate>
          <h1>Create the first admin</h1>
          ${needsSetup === false
            ? html`<div class="notice warn">An admin already exists. <a href="/login">Sign in</a> instead.</div>`
            : nothing}
          ${needsSetup !== false && !token ? html`<div class="form-error" role="alert">This page needs the setup link that <code>agentsight serve</code> printed (it ends in <code>?token=…</code>).</div>` : nothing}
          ${st.error ? html`<div class="form-error" role="alert">${st.error}</div>` : nothing}
          ${needsSetup === false
            ? nothing
            : html`${input(st, "email", "E-mail", "email", "username")}
                ${input(st, "password", "Password", "password", "new-password", "At least 10 characters.")}
                ${input(st, "password2", "Password again", "password", "new-password")}
                <button class="btn primary" type="submit" ?disabled=${st.busy || !token}>${st.busy ? "Creating…" : "Create admin and sign in"}</button>`}
        </form>
      </main>`,
      root,
    );
  draw();
  whenAuthState((needs) => {
    needsSetup = needs;
    draw();
  });
  return { update: draw, dispose: () => undefined };
}
