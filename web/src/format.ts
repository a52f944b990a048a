// Numbers for humans: 1.2k, 3.4 s, 12%. Pure; the exact value goes in a tooltip next to these.

/** A count: exact below 1,000, then 1.2k, 12k, 1.2M, 1.2B (one decimal under 100 of the unit). */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  const sign = n < 0 ? "-" : "";
  const a = Math.abs(n);
  if (a < 1000) return sign + String(Math.round(a));
  const units = ["k", "M", "B"];
  let v = a;
  for (const suffix of units) {
    v /= 1000;
    // 999,960 rounds to "1000k": that is 1M, the next unit.
    if (Math.round(v) < 1000 || suffix === "B") {
      return sign + trim(v < 99.95 ? v.toFixed(1) : v.toFixed(0)) + suffix;
    }
  }
  return sign + String(a);
}

/** An exact count with thousands separators, for tooltips and tables: 12,345. */
export function formatExact(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "–";
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 }).format(n);
}

/** A duration in milliseconds: 850 ms, 3.4 s, 12 s, 2.5 min, 1.2 h, 3.1 d. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "–";
  const sign = ms < 0 ? "-" : "";
  const a = Math.abs(ms);
  if (a < 1000) return `${sign}${Math.round(a)} ms`;
  const s = a / 1000;
  if (s < 60) return `${sign}${oneDecimalUnder10(s)} s`;
  const min = s / 60;
  if (min < 60) return `${sign}${oneDecimalUnder10(min)} min`;
  const h = min / 60;
  if (h < 48) return `${sign}${oneDecimalUnder10(h)} h`;
  return `${sign}${oneDecimalUnder10(h / 24)} d`;
}

/** A ratio 0..1 as a percentage: 12%, 4.5% (one decimal under 10%), 0%, 100%. */
export function formatPercent(r: number | null | undefined): string {
  if (r === null || r === undefined || !Number.isFinite(r)) return "–";
  const p = r * 100;
  if (p === 0) return "0%";
  if (Math.abs(p) < 10) return `${trim(p.toFixed(1))}%`;
  return `${Math.round(p)}%`;
}

/** A mean rating on the 1–5 scale: 4.3 / 5. */
export function formatRating(avg: number | null | undefined): string {
  if (avg === null || avg === undefined || !Number.isFinite(avg)) return "–";
  return `${avg.toFixed(1)} / 5`;
}

/** A file size: 512 B, 1.5 KB, 12 MB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const kb = n / 1024;
  if (kb < 1024) return `${oneDecimalUnder10(kb)} KB`;
  return `${oneDecimalUnder10(kb / 1024)} MB`;
}

function oneDecimalUnder10(v: number): string {
  return v < 10 ? trim(v.toFixed(1)) : String(Math.round(v));
}

function trim(s: string): string {
  return s.includes(".") ? s.replace(/\.0+$/, "").replace(/(\.\d*?)0+$/, "$1") : s;
}
