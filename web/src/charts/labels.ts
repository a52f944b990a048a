// Display names of dimension values: countries and languages through Intl.DisplayNames, the null
// group as "Unknown". Pure.

const regionNames = new Intl.DisplayNames(["en"], { type: "region", fallback: "code" });
const languageNames = new Intl.DisplayNames(["en"], { type: "language", fallback: "code" });

/** "HR" -> "Croatia"; null -> "Unknown". */
export function countryName(code: string | null | undefined): string {
  if (!code || code === "unknown") return "Unknown";
  try {
    return regionNames.of(code.toUpperCase()) ?? code;
  } catch {
    return code;
  }
}

/** "en-US" -> "American English (en-US)"; null -> "Unknown". */
export function languageName(code: string | null | undefined): string {
  if (!code || code === "unknown") return "Unknown";
  try {
    const n = languageNames.of(code);
    return n && n !== code ? `${n} (${code})` : code;
  } catch {
    return code;
  }
}

/** A plain dimension value; null -> "Unknown". */
export function valueName(v: string | null | undefined): string {
  if (v === null || v === undefined || v === "" || v === "unknown") return "Unknown";
  return v;
}

/** The display name of a value of a filter dimension. */
export function dimensionValueName(key: string, v: string | null | undefined): string {
  if (key === "country") return countryName(v);
  if (key === "language") return languageName(v);
  if (key === "device" || key === "environment") return capitalize(valueName(v));
  return valueName(v);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
