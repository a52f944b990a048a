// A transcript's entries sorted into what the page draws: messages, tool calls, button presses,
// token usage. Pure (tested in entries.test.ts).

import type { ActionLog, Attachment, Button, Message } from "../../api/types";

/** One drawn entry. */
export type Entry =
  | { kind: "message"; m: Message }
  | { kind: "tool"; m: Message; action: ActionLog }
  | { kind: "tokens"; m: Message; prompt: number | null; completion: number | null; total: number | null }
  | { kind: "button"; m: Message; button: Button };

function num(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

/** The entries in the order the API gives them (event time, then arrival). */
export function entries(messages: Message[]): Entry[] {
  return messages.map((m): Entry => {
    const action = m.action_logs[0];
    if (action) {
      if (action.action_name === "token_usage") {
        const md = action.metadata;
        return {
          kind: "tokens",
          m,
          prompt: num(md.prompt_tokens),
          completion: num(md.completion_tokens),
          total: num(md.total_tokens),
        };
      }
      return { kind: "tool", m, action };
    }
    if (m.button) return { kind: "button", m, button: m.button };
    return { kind: "message", m };
  });
}

/** The duration of a tool call: `duration_ms`, else the time between start and end. */
export function toolDuration(a: ActionLog): number | null {
  if (a.duration_ms !== null && a.duration_ms !== undefined) return a.duration_ms;
  if (a.started_at && a.ended_at) {
    const d = Date.parse(a.ended_at) - Date.parse(a.started_at);
    return Number.isFinite(d) && d >= 0 ? d : null;
  }
  return null;
}

/** True for attachments the page previews inline (images a browser shows). */
export function isPreviewable(a: Attachment): boolean {
  return /^image\/(png|jpe?g|gif|webp|avif|bmp)$/i.test(a.mime_type);
}

/** The label of a sender. */
export function senderLabel(sender: string): string {
  return sender === "end_user" ? "User" : sender === "agent" ? "Bot" : sender === "system" ? "System" : sender;
}
