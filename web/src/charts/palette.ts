// Colour-blind-safe colours (Okabe & Ito's palette) and a sequential blue ramp for the map and
// the heatmap. Every chart takes its colours from here.

/** Categorical series colours, in order. */
export const CATEGORICAL = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];

/** Light to dark, for counts (heatmap, map). */
export const SEQUENTIAL = ["#eef4fb", "#c6dbef", "#6baed6", "#2171b5", "#08306b"];

/** Feedback sentiments: blue / grey / vermillion stay apart for every kind of colour blindness. */
export const SENTIMENT = { positive: "#0072B2", neutral: "#999999", negative: "#D55E00" } as const;

/** Messages and conversations in the daily chart. */
export const SERIES = { messages: "#0072B2", conversations: "#E69F00", errors: "#D55E00" } as const;

/** Axis and label grey. */
export const MUTED = "#6b7280";
