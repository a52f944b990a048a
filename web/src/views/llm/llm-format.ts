// Pure helpers of the LLM usage section: USD from the API's exact decimal strings, the price
// table note beside every cost, tokens by kind.

import type { LlmMetricsResponse, LlmTotals } from "../../api/types";

/** A USD cost from an exact decimal string: $1,234.57 from a dollar up, $0.0123 from a cent,
 * three significant digits below ($0.0000585); "–" for null or garbage. The exact string goes
 * in a tooltip next to it. */
export function formatUsd(decimal: string | null | undefined): string {
  if (decimal === null || decimal === undefined || !/^-?\d+(\.\d+)?$/.test(decimal)) return "–";
  return formatUsdNumber(Number(decimal));
}

/** [`formatUsd`] of a number (chart axes). */
export function formatUsdNumber(v: number): string {
  if (!Number.isFinite(v)) return "–";
  const sign = v < 0 ? "-" : "";
  const a = Math.abs(v);
  if (a === 0) return "$0.00";
  if (a >= 1) {
    return `${sign}$${new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(a)}`;
  }
  if (a >= 0.01) return `${sign}$${trimZeros(a.toFixed(4), 2)}`;
  // Below a cent: three significant digits, written out (no exponent).
  const digits = Math.min(20, 2 - Math.floor(Math.log10(a)));
  return `${sign}$${trimZeros(a.toFixed(digits), 2)}`;
}

function trimZeros(s: string, keep: number): string {
  const [whole, frac = ""] = s.split(".");
  let f = frac.replace(/0+$/, "");
  if (f.length < keep) f = f.padEnd(keep, "0");
  return `${whole}.${f}`;
}

/** The note beside every cost: which price table it was computed with. */
export function pricesNote(priceTable: string): string {
  return `prices of ${priceTable}`;
}

/** A kind of token as the section lists it. */
export interface TokenKind {
  /** The field of `LlmTotals`. */
  field: keyof LlmTotals;
  label: string;
  tokens: number;
  /** A subset of another kind (not added to the total). */
  subsetOf?: string;
}

/** Tokens by kind: the five that make the total, then the subsets (reasoning, audio) that are
 * shown only when there are any. */
export function tokenKinds(t: LlmTotals): TokenKind[] {
  const counted: TokenKind[] = [
    { field: "input_tokens", label: "Input (uncached)", tokens: t.input_tokens },
    { field: "output_tokens", label: "Output", tokens: t.output_tokens },
    { field: "cache_read_tokens", label: "Cache reads", tokens: t.cache_read_tokens },
    { field: "cache_write_tokens", label: "Cache writes", tokens: t.cache_write_tokens },
    { field: "embedding_tokens", label: "Embedding", tokens: t.embedding_tokens },
  ];
  const subsets: TokenKind[] = [
    { field: "reasoning_tokens", label: "Reasoning", tokens: t.reasoning_tokens, subsetOf: "output" },
    { field: "audio_input_tokens", label: "Audio input", tokens: t.audio_input_tokens, subsetOf: "input" },
    { field: "audio_output_tokens", label: "Audio output", tokens: t.audio_output_tokens, subsetOf: "output" },
  ];
  return [...counted, ...subsets.filter((k) => k.tokens > 0)];
}

/** True when the range has no LLM usage rows at all (an agent without SDK 0.1.x usage). */
export function llmIsEmpty(r: LlmMetricsResponse): boolean {
  return r.totals.calls === 0 && r.totals.total_tokens === 0;
}

/** True when no day of the range has a cost. */
export function costDailyIsEmpty(r: LlmMetricsResponse): boolean {
  return r.daily.every((d) => Number(d.cost_usd) === 0);
}
