import { describe, expect, it } from "vitest";
import type { ActionLog, Message } from "../../api/types";
import { entries, isPreviewable, senderLabel, toolDuration } from "./entries";

const base = (over: Partial<Message>): Message => ({
  id: 1,
  conversation: 1,
  timestamp: "2026-11-01T10:00:00Z",
  sender: "end_user",
  content: "hi",
  action_name: null,
  metadata: {},
  attachments: [],
  action_logs: [],
  button: null,
  ...over,
});
const action = (over: Partial<ActionLog>): ActionLog => ({
  id: 1,
  action_name: "search",
  started_at: null,
  ended_at: null,
  duration_ms: null,
  tools_used: {},
  response: null,
  error_message: "",
  metadata: {},
  ...over,
});

describe("entries", () => {
  it("sorts messages, tool calls, token usage and buttons apart, keeping the order", () => {
    const list = entries([
      base({ id: 1 }),
      base({ id: 2, sender: "agent", action_name: "search", action_logs: [action({ duration_ms: 120 })] }),
      base({
        id: 3,
        sender: "agent",
        action_name: "token_usage",
        action_logs: [action({ action_name: "token_usage", metadata: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 } })],
      }),
      base({ id: 4, button: { id: 1, button_event: "click", label: "Yes", value: "yes", metadata: {} } }),
    ]);
    expect(list.map((e) => [e.kind, e.m.id])).toEqual([
      ["message", 1],
      ["tool", 2],
      ["tokens", 3],
      ["button", 4],
    ]);
    expect(list[2]).toMatchObject({ prompt: 10, completion: 5, total: 15 });
  });
});

describe("toolDuration", () => {
  it("prefers duration_ms, else end minus start", () => {
    expect(toolDuration(action({ duration_ms: 5 }))).toBe(5);
    expect(toolDuration(action({ started_at: "2026-11-01T10:00:00Z", ended_at: "2026-11-01T10:00:01.5Z" }))).toBe(1500);
    expect(toolDuration(action({}))).toBeNull();
  });
});

describe("attachments and senders", () => {
  it("previews images only", () => {
    const a = { id: 1, type: "image", filename: "x.png", mime_type: "image/png", size_bytes: 1, file_url: "", message: 1, conversation: 1, sender: null, timestamp: "" };
    expect(isPreviewable(a)).toBe(true);
    expect(isPreviewable({ ...a, mime_type: "image/svg+xml" })).toBe(false);
    expect(isPreviewable({ ...a, mime_type: "application/pdf" })).toBe(false);
  });
  it("names senders", () => {
    expect(senderLabel("end_user")).toBe("User");
    expect(senderLabel("agent")).toBe("Bot");
  });
});
