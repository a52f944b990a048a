// White-label: an agent's accent colour on the page, its display name and logo in the top bar.

import type { Branding } from "../api/types";

/** The accent colour a branding asks for, when it is a valid `#rrggbb`. */
export function accentOf(b: Branding | null | undefined): string | null {
  const c = b?.accent_color;
  return c && /^#[0-9a-fA-F]{6}$/.test(c) ? c : null;
}

/** Black or white text on a background colour, whichever reads better (WCAG luminance). */
export function inkOn(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const ch = [(n >> 16) & 255, (n >> 8) & 255, n & 255].map((v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  const lum = 0.2126 * (ch[0] ?? 0) + 0.7152 * (ch[1] ?? 0) + 0.0722 * (ch[2] ?? 0);
  return lum > 0.4 ? "#111827" : "#ffffff";
}

/** Sets (or resets, with null) the page's accent colour. */
export function applyAccent(b: Branding | null | undefined): void {
  const root = document.documentElement;
  const c = accentOf(b);
  if (c) {
    root.style.setProperty("--accent", c);
    root.style.setProperty("--accent-ink", inkOn(c));
  } else {
    root.style.removeProperty("--accent");
    root.style.removeProperty("--accent-ink");
  }
}
