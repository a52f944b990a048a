// The conversation list's failure filter ("Where the bot fails", docs/metrics.md): which
// outcome, and its details, as the URL carries it and as the API asks for it. Pure.

/** The failures a conversation list can be narrowed to. */
export type OutcomeKind = "unanswered" | "abandoned" | "tool_error" | "escalated";

/** The outcome filter of the list. */
export interface OutcomeFilter {
  kind: OutcomeKind;
  /** Minutes of quiet for unanswered / abandoned (`idle=`; the API's default 30 when null). */
  idle: number | null;
  /** With `tool_error`: only errors of this tool (`tool=`). */
  tool: string | null;
  /** With `escalated`: the turns before escalating, exactly (`turns=3`) or at least (`turns=10+`). */
  turns: { min: number; max: number | null } | null;
}

/** The choices of the list's outcome control, in order. */
export const OUTCOMES: ReadonlyArray<{ value: OutcomeKind; label: string }> = [
  { value: "unanswered", label: "Unanswered" },
  { value: "abandoned", label: "Abandoned" },
  { value: "tool_error", label: "Tool error" },
  { value: "escalated", label: "Escalated to a human" },
];

/** The idle time's bounds (crates/agentsight-core/src/limits.rs). */
export const IDLE_MIN = 1;
export const IDLE_MAX = 7 * 24 * 60;
const MAX_TURNS = 100_000;

function isKind(v: string | null): v is OutcomeKind {
  return OUTCOMES.some((o) => o.value === v);
}

/** Reads `outcome=`, `idle=`, `tool=`, `turns=` (anything malformed is dropped, not guessed). */
export function parseOutcome(p: URLSearchParams): OutcomeFilter | null {
  const kind = p.get("outcome");
  if (!isKind(kind)) return null;
  const idleRaw = p.get("idle");
  const idleNum = idleRaw !== null && /^\d+$/.test(idleRaw) ? Number(idleRaw) : NaN;
  const idle = (kind === "unanswered" || kind === "abandoned") && idleNum >= IDLE_MIN && idleNum <= IDLE_MAX ? idleNum : null;
  const toolRaw = p.get("tool")?.trim() ?? "";
  const tool = kind === "tool_error" && toolRaw !== "" && toolRaw.length <= 255 ? toolRaw : null;
  let turns: OutcomeFilter["turns"] = null;
  const t = p.get("turns");
  const m = kind === "escalated" && t !== null ? /^(\d+)(\+)?$/.exec(t) : null;
  if (m && Number(m[1]) <= MAX_TURNS) turns = { min: Number(m[1]), max: m[2] ? null : Number(m[1]) };
  return { kind, idle, tool, turns };
}

/** Writes the filter into a query string (canonical: only what is set). */
export function writeOutcome(p: URLSearchParams, o: OutcomeFilter | null | undefined): void {
  if (!o) return;
  p.set("outcome", o.kind);
  if (o.idle !== null) p.set("idle", String(o.idle));
  if (o.tool !== null) p.set("tool", o.tool);
  if (o.turns) p.set("turns", o.turns.max === null ? `${o.turns.min}+` : String(o.turns.min));
}

/** The conversation list API's parameters for the filter (`GET /api/conversations/`). */
export function outcomeApiParams(o: OutcomeFilter | null | undefined): Record<string, string> {
  if (!o) return {};
  switch (o.kind) {
    case "unanswered":
    case "abandoned":
      return { [o.kind]: "true", ...(o.idle !== null ? { idle_minutes: String(o.idle) } : {}) };
    case "tool_error":
      return o.tool !== null ? { tool_error_name: o.tool } : { tool_error: "true" };
    case "escalated":
      if (!o.turns) return { escalated: "true" };
      return {
        escalation_turns_min: String(o.turns.min),
        ...(o.turns.max !== null ? { escalation_turns_max: String(o.turns.max) } : {}),
      };
  }
}

/** How the list names the filter in its heading chip ("Unanswered (quiet 30 min)"). */
export function describeOutcome(o: OutcomeFilter): string {
  const label = OUTCOMES.find((x) => x.value === o.kind)?.label ?? o.kind;
  if (o.kind === "tool_error" && o.tool) return `${label}: ${o.tool}`;
  if (o.kind === "escalated" && o.turns) {
    const n = o.turns.max === null ? `${o.turns.min} or more` : String(o.turns.min);
    return `${label} after ${n} user message${o.turns.min === 1 && o.turns.max !== null ? "" : "s"}`;
  }
  if ((o.kind === "unanswered" || o.kind === "abandoned") && o.idle !== null) return `${label} (quiet ${formatMinutes(o.idle)})`;
  return label;
}

/** 30 → "30 min", 120 → "2 h", 1440 → "1 day", 90 → "90 min". */
export function formatMinutes(m: number): string {
  if (m % 1440 === 0) return `${m / 1440} day${m === 1440 ? "" : "s"}`;
  if (m % 60 === 0) return `${m / 60} h`;
  return `${m} min`;
}
