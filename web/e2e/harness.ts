// The e2e harness: the real release binary (AGENTSIGHT_BIN) on a free loopback port with a fresh
// data dir, its CLI, the real SDK 0.0.44 (AGENTSIGHT_SDK_PYTHON) sending data to it, plain HTTP
// calls with a key / session / share token, and Debian's Chromium driven by playwright-core.

import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { type Browser, type BrowserContext, type Page, chromium } from "playwright-core";

/** The repository root. */
export const REPO = resolve(import.meta.dirname, "../..");

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the e2e suite through scripts/test.sh (or set it)`);
  return v;
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.unref();
    s.on("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => res(port));
    });
  });
}

/** A real SMTP receiver: aiosmtpd (AGENTSIGHT_AIOSMTPD_PYTHON, the venv scripts/test.sh makes)
 * on a free loopback port, plain SMTP, every message kept in a maildir. */
export class SmtpReceiver {
  port = 0;
  readonly dir = mkdtempSync(join(tmpdir(), "agentsight-e2e-mail-"));
  private proc: ChildProcess | null = null;

  async start(): Promise<void> {
    const python = need("AGENTSIGHT_AIOSMTPD_PYTHON");
    this.port = await freePort();
    const maildir = join(this.dir, "mail");
    this.proc = spawn(python, ["-m", "aiosmtpd", "-n", "-l", `127.0.0.1:${this.port}`, "-c", "aiosmtpd.handlers.Mailbox", maildir], {
      stdio: ["ignore", "ignore", "inherit"],
    });
    await until("aiosmtpd to accept connections", () =>
      new Promise<boolean>((res) => {
        const c = connect(this.port, "127.0.0.1", () => {
          c.end();
          res(true);
        });
        c.on("error", () => res(false));
      }),
    );
  }

  /** The raw messages received so far (in no particular order). */
  messages(): string[] {
    const fresh = join(this.dir, "mail", "new");
    if (!existsSync(fresh)) return [];
    return readdirSync(fresh).map((f) => readFileSync(join(fresh, f), "utf8"));
  }

  stop(): void {
    this.proc?.kill("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A running `agentsight serve`. */
export class Server {
  readonly bin: string;
  readonly dataDir: string;
  base = "";
  private proc: ChildProcess | null = null;
  private logPath = "";

  constructor() {
    this.bin = need("AGENTSIGHT_BIN");
    this.dataDir = mkdtempSync(join(tmpdir(), "agentsight-e2e-"));
  }

  /** Runs the CLI against the data dir; returns stdout. */
  cli(args: string[], input?: string): string {
    return execFileSync(this.bin, [...args, "--data-dir", this.dataDir], {
      input,
      encoding: "utf8",
      timeout: 300_000,
      stdio: ["pipe", "pipe", "pipe"],
    });
  }

  /** The last line of the CLI's output (keys are printed last). */
  cliLast(args: string[], input?: string): string {
    const lines = this.cli(args, input).trim().split("\n");
    return (lines[lines.length - 1] ?? "").trim();
  }

  /** Starts the server (with `extra` flags of `serve`) and waits for /healthz. */
  async start(extra: string[] = []): Promise<void> {
    const geo = process.env.AGENTSIGHT_GEO_DIR;
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      this.logPath = join(this.dataDir, `serve-${port}.log`);
      const log = openSync(this.logPath, "w");
      const args = ["serve", "--listen", `127.0.0.1:${port}`, "--data-dir", this.dataDir];
      if (geo) args.push("--geo-dir", geo);
      args.push(...extra);
      this.proc = spawn(this.bin, args, { stdio: ["ignore", log, log] });
      this.base = `http://127.0.0.1:${port}`;
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && this.proc.exitCode === null) {
        try {
          const r = await fetch(`${this.base}/healthz`);
          if (r.ok) return;
        } catch {
          /* not up yet */
        }
        await sleep(100);
      }
      if (this.proc.exitCode === null) {
        this.proc.kill("SIGKILL");
        throw new Error(`server did not become healthy:\n${this.log()}`);
      }
      if (!this.log().toLowerCase().includes("in use")) throw new Error(`server exited:\n${this.log()}`);
    }
    throw new Error("no free port after 3 attempts");
  }

  /** The server's log. */
  log(): string {
    try {
      return readFileSync(this.logPath, "utf8");
    } catch {
      return "";
    }
  }

  /** Stops the server (SIGTERM, then waits). */
  async stop(): Promise<void> {
    const p = this.proc;
    if (p && p.exitCode === null) {
      const done = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      await Promise.race([done, sleep(10_000)]);
      if (p.exitCode === null) p.kill("SIGKILL");
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }

  /** A JSON request; `auth` is an API key, a session, or a share token. */
  async api(
    method: string,
    path: string,
    auth: { key?: string; session?: Session; share?: string } = {},
    body?: unknown,
  ): Promise<{ status: number; json: any; headers: Headers }> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (auth.key) headers.Authorization = `Api-Key ${auth.key}`;
    if (auth.session) {
      headers.Cookie = auth.session.cookie;
      if (method !== "GET") headers["X-CSRF-Token"] = auth.session.csrf;
    }
    if (auth.share) headers["X-Share-Token"] = auth.share;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const r = await fetch(this.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = text;
    }
    return { status: r.status, json, headers: r.headers };
  }

  /** Signs in over HTTP (for API-level checks beside the browser). */
  async login(email: string, password: string): Promise<Session> {
    const r = await fetch(`${this.base}/api/auth/login/`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ email, password }),
    });
    if (r.status !== 200) throw new Error(`login ${email}: ${r.status} ${await r.text()}`);
    const cookie = (r.headers.get("set-cookie") ?? "").split(";")[0] ?? "";
    const body = (await r.json()) as { csrf_token: string };
    return { cookie, csrf: body.csrf_token };
  }
}

/** A session cookie and its CSRF token. */
export interface Session {
  cookie: string;
  csrf: string;
}

/** Runs `code` with the real SDK 0.0.44 against the server; returns the JSON of its last line. */
export function sdk(server: Server, key: string, code: string, params: Record<string, unknown> = {}): any {
  const py = need("AGENTSIGHT_SDK_PYTHON");
  const dir = mkdtempSync(join(tmpdir(), "agentsight-sdk-"));
  const script = join(dir, "scenario.py");
  writeFileSync(
    script,
    `import base64, json, os, sys, time
P = json.loads(os.environ["SCENARIO_PARAMS"])
def emit(o):
    print(json.dumps(o, default=str)); sys.stdout.flush()
from agentsight import conversation_tracker as t
from agentsight import conversation_manager as m
${code}
`,
  );
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith("AGENTSIGHT_") && !/proxy/i.test(k)) env[k] = v;
  Object.assign(env, {
    AGENTSIGHT_API_ENDPOINT: server.base,
    AGENTSIGHT_API_KEY: key,
    SCENARIO_PARAMS: JSON.stringify(params),
    NO_PROXY: "127.0.0.1,localhost",
    PYTHONDONTWRITEBYTECODE: "1",
  });
  try {
    const out = execFileSync(py, [script], { cwd: dir, env, encoding: "utf8", timeout: 120_000 });
    const lines = out.trim().split("\n");
    return JSON.parse(lines[lines.length - 1] ?? "null");
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`SDK scenario failed: ${err.message}\nstdout:\n${err.stdout}\nstderr:\n${err.stderr}\nserver:\n${server.log().slice(-3000)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Debian's Chromium, headless (never a downloaded browser). */
export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A browser context at a width, in a time zone, collecting console errors. */
export async function context(
  browser: Browser,
  width = 1440,
  timezoneId = "Europe/Zagreb",
): Promise<{ ctx: BrowserContext; errors: string[] }> {
  const ctx = await browser.newContext({
    viewport: { width, height: width < 600 ? 812 : 900 },
    deviceScaleFactor: 1,
    timezoneId,
    locale: "en-GB",
    acceptDownloads: true,
  });
  const errors: string[] = [];
  ctx.on("weberror", (e) => errors.push(String(e.error())));
  ctx.on("console", (m) => {
    // Refused requests are checked by URL below (the console line does not say which).
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) errors.push(m.text());
  });
  ctx.on("response", (r) => {
    if (r.status() < 400) return;
    const u = new URL(r.url());
    const expected =
      (u.pathname === "/api/auth/me/" && r.status() === 401) ||
      (u.pathname === "/api/auth/login/" && r.status() === 400);
    if (!expected) errors.push(`${r.request().method()} ${u.pathname}${u.search} -> ${r.status()}`);
  });
  return { ctx, errors };
}

/** Where screenshots go: docs/screenshots with UPDATE_SCREENSHOTS=1, else web/e2e-artifacts. */
export function screenshotDir(): string {
  const dir = process.env.UPDATE_SCREENSHOTS === "1" ? join(REPO, "docs", "screenshots") : join(REPO, "web", "e2e-artifacts");
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Fills the sign-in form on the page shown and submits it. */
export async function signIn(p: Page, who: { email: string; password: string }): Promise<void> {
  await p.fill("#email", who.email);
  await p.fill("#password", who.password);
  await p.click('button[type="submit"]');
}

/** Opens `path` signed in as `who`: the sign-in page with `next=path`, the form, then `path`. */
export async function openAs(p: Page, server: Server, who: { email: string; password: string }, path: string): Promise<void> {
  await p.goto(`${server.base}/login?next=${encodeURIComponent(path)}`);
  await signIn(p, who);
  await p.waitForURL((u) => u.pathname === path);
}

/** How many pixels the page overflows sideways (0 when it fits its width). */
export function sidewaysOverflow(p: Page): Promise<number> {
  return p.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
}

/** Waits. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `f` until it returns a truthy value or `ms` pass. */
export async function until<T>(what: string, f: () => Promise<T>, ms = 10_000, every = 200): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${String(last)})`);
    await sleep(every);
  }
}

/** The local day of `now` in `tz`, `YYYY-MM-DD` (an independent computation from the app's). */
export function today(tz: string, now = new Date()): string {
  return now.toLocaleDateString("en-CA", { timeZone: tz });
}

/** `day` minus `n` days. */
export function minusDays(day: string, n: number): string {
  const t = new Date(`${day}T12:00:00Z`);
  t.setUTCDate(t.getUTCDate() - n);
  return t.toISOString().slice(0, 10);
}
