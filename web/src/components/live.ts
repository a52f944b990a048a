// Live updates over Server-Sent Events (`/api/dash/live/`): `update` events make the page
// refetch what it shows; `live` events carry the conversations active in the last 5 minutes.
// When the stream is down for more than a few seconds the page polls instead, so data still
// shows up within 5 s.

import { html, type TemplateResult } from "lit-html";
import { getLive, liveStreamUrl } from "../api/endpoints";
import type { LiveResponse, LiveUpdate } from "../api/types";
import { formatCount } from "../format";

/** The indicator's state. */
export type LiveStatus = "connecting" | "live" | "offline";

/** Callbacks of a stream. */
export interface LiveHandlers {
  /** Data of the agent changed: refetch. */
  onUpdate: () => void;
  /** Status or active count changed: re-render. */
  onChange: () => void;
}

/** Polling interval while the stream is down, and how long without an event means "down". */
const POLL_MS = 4000;
const STALE_MS = 12_000;

/** One agent's live stream. */
export class LiveStream {
  status: LiveStatus = "connecting";
  active: number | null = null;
  private source: EventSource | null = null;
  private lastEvent = 0;
  private watchdog: number | undefined;
  private reconnect: number | undefined;
  private stopped = false;

  constructor(
    private readonly agent: number | null,
    private readonly h: LiveHandlers,
  ) {}

  /** Opens the stream and starts the watchdog. */
  start(): void {
    this.stopped = false;
    this.lastEvent = Date.now();
    this.open();
    this.watchdog = window.setInterval(() => void this.check(), POLL_MS);
  }

  /** Closes everything. */
  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = null;
    window.clearInterval(this.watchdog);
    window.clearTimeout(this.reconnect);
  }

  private open(): void {
    const es = new EventSource(liveStreamUrl(this.agent));
    this.source = es;
    es.addEventListener("live", (e) => {
      try {
        const body = JSON.parse((e as MessageEvent<string>).data) as LiveResponse;
        this.active = body.active_conversations;
      } catch {
        /* a malformed event changes nothing */
      }
      this.seen();
    });
    es.addEventListener("update", (e) => {
      try {
        const u = JSON.parse((e as MessageEvent<string>).data) as LiveUpdate;
        if (this.agent === null || u.agent_id === this.agent) this.h.onUpdate();
      } catch {
        this.h.onUpdate();
      }
      this.seen();
    });
    es.addEventListener("error", () => {
      if (this.stopped) return;
      if (es.readyState === EventSource.CLOSED) {
        // The server refused the stream (or it was cut for good): try again in a while.
        this.setStatus("offline");
        this.reconnect = window.setTimeout(() => {
          if (!this.stopped) this.open();
        }, 5000);
      } else {
        this.setStatus("connecting");
      }
    });
  }

  private seen(): void {
    this.lastEvent = Date.now();
    this.setStatus("live");
    this.h.onChange();
  }

  private setStatus(s: LiveStatus): void {
    if (this.status !== s) {
      this.status = s;
      this.h.onChange();
    }
  }

  /** Falls back to polling when no event came for a while. */
  private async check(): Promise<void> {
    if (this.stopped || Date.now() - this.lastEvent < STALE_MS) return;
    if (this.status === "live") this.setStatus("connecting");
    try {
      const body = await getLive(this.agent);
      this.active = body.active_conversations;
      this.h.onChange();
      this.h.onUpdate();
    } catch {
      this.setStatus("offline");
    }
  }
}

/** The indicator: a dot and the active conversations. */
export function liveIndicator(l: LiveStream | null): TemplateResult {
  const status = l?.status ?? "offline";
  const label = status === "live" ? "Live" : status === "connecting" ? "Connecting…" : "Offline";
  const active = l?.active;
  return html`<span class="live" data-status=${status} data-live title="Updates arrive without reloading the page">
    <span class="pulse" aria-hidden="true"></span>
    <span>${label}</span>
    <span aria-hidden="true">·</span>
    <span><b data-active=${active ?? ""}>${active === null || active === undefined ? "–" : formatCount(active)}</b>
      active in the last 5 min</span>
  </span>`;
}
