//! LLM prices and the server-side cost of a call (docs/sdk-protocol.md, B4, *Token usage*).
//!
//! The table is kept in the repository, dated, with its sources, and is the only input of the
//! cost besides the token counts: every usage row stores its counts and the table date it was
//! priced with, so a corrected or newer table can restate past costs
//! (`agentsight prices restate`). Costs are exact integers of pico-USD (10⁻¹² USD) and are
//! shown as decimal strings.
//!
//! Models are matched by exact id, else by the longest table id that the billed id starts with
//! followed by `-` (a dated snapshot such as `gpt-4o-mini-2024-07-18` is priced as
//! `gpt-4o-mini`). A model that matches nothing is `unpriced`: its cost is unknown, not zero.

/// The date the table below was last checked against its sources.
pub const PRICE_TABLE_DATE: &str = "2025-11-30";

/// Where the prices come from.
pub const PRICE_TABLE_SOURCES: &[&str] = &[
    "OpenAI API pricing page (platform pricing, standard tier, per 1M tokens)",
    "Anthropic API pricing page (per 1M tokens; cache writes at the 5-minute rate)",
    "Google Gemini API pricing page (paid tier, prompts up to 200k tokens)",
];

/// EUR per USD for `currency=eur` summaries: the ECB euro reference rate of 2025-11-28
/// (1 EUR = 1.1590 USD), fixed with the table so that a summary is reproducible.
pub const EUR_PER_USD: f64 = 1.0 / 1.1590;

/// Prices of one model, in micro-USD per 1M tokens (so `tokens × price` is pico-USD).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPrice {
    /// Model id (prefix-matched, see the module docs).
    pub model: &'static str,
    /// Uncached input.
    pub input: i64,
    /// Output (reasoning included).
    pub output: i64,
    /// Cache reads.
    pub cache_read: i64,
    /// Cache writes.
    pub cache_write: i64,
    /// Embedding input.
    pub embedding: i64,
}

const fn usd(x_times_1000: i64) -> i64 {
    // Prices are written as thousandths of a dollar per 1M tokens: 150 = $0.15.
    x_times_1000 * 1000
}

const fn p(model: &'static str, input: i64, output: i64, cache_read: i64, cache_write: i64) -> ModelPrice {
    ModelPrice {
        model,
        input: usd(input),
        output: usd(output),
        cache_read: usd(cache_read),
        cache_write: usd(cache_write),
        embedding: usd(input),
    }
}

/// The table (prices per 1M tokens in thousandths of a USD: `150` is $0.15).
pub const PRICES: &[ModelPrice] = &[
    // OpenAI: cached input is the discounted rate; caching is automatic (no write charge).
    p("gpt-4o", 2_500, 10_000, 1_250, 0),
    p("gpt-4o-mini", 150, 600, 75, 0),
    p("gpt-4.1", 2_000, 8_000, 500, 0),
    p("gpt-4.1-mini", 400, 1_600, 100, 0),
    p("gpt-4.1-nano", 100, 400, 25, 0),
    p("gpt-5", 1_250, 10_000, 125, 0),
    p("gpt-5-mini", 250, 2_000, 25, 0),
    p("gpt-5-nano", 50, 400, 5, 0),
    p("o3", 2_000, 8_000, 500, 0),
    p("o3-mini", 1_100, 4_400, 550, 0),
    p("o4-mini", 1_100, 4_400, 275, 0),
    p("gpt-4-turbo", 10_000, 30_000, 0, 0),
    p("gpt-3.5-turbo", 500, 1_500, 0, 0),
    p("text-embedding-3-small", 20, 0, 0, 0),
    p("text-embedding-3-large", 130, 0, 0, 0),
    p("text-embedding-ada-002", 100, 0, 0, 0),
    // Anthropic: cache writes at the 5-minute TTL rate (1.25 × input), reads at 0.1 × input.
    p("claude-opus-4-5", 5_000, 25_000, 500, 6_250),
    p("claude-opus-4-1", 15_000, 75_000, 1_500, 18_750),
    p("claude-opus-4", 15_000, 75_000, 1_500, 18_750),
    p("claude-sonnet-4-5", 3_000, 15_000, 300, 3_750),
    p("claude-sonnet-4", 3_000, 15_000, 300, 3_750),
    p("claude-3-7-sonnet", 3_000, 15_000, 300, 3_750),
    p("claude-3-5-sonnet", 3_000, 15_000, 300, 3_750),
    p("claude-haiku-4-5", 1_000, 5_000, 100, 1_250),
    p("claude-3-5-haiku", 800, 4_000, 80, 1_000),
    p("claude-3-haiku", 250, 1_250, 30, 300),
    // Google.
    p("gemini-2.5-pro", 1_250, 10_000, 310, 0),
    p("gemini-2.5-flash", 300, 2_500, 75, 0),
    p("gemini-2.0-flash", 100, 400, 25, 0),
];

/// Token counts of one or more calls of one model.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TokenCounts {
    /// Uncached input.
    pub input: i64,
    /// Output (reasoning included).
    pub output: i64,
    /// Cache reads.
    pub cache_read: i64,
    /// Cache writes.
    pub cache_write: i64,
    /// Embedding input.
    pub embedding: i64,
    /// Reasoning (a subset of output, never added to totals).
    pub reasoning: i64,
    /// Audio input (a subset of input).
    pub audio_input: i64,
    /// Audio output (a subset of output).
    pub audio_output: i64,
}

impl TokenCounts {
    /// The billable total: input, output, cache reads and writes, embedding.
    pub fn total(&self) -> i64 {
        [self.input, self.output, self.cache_read, self.cache_write, self.embedding]
            .iter()
            .fold(0i64, |sum, n| sum.saturating_add(*n))
    }

    /// Adds another call's counts.
    pub fn add(&mut self, o: &TokenCounts) {
        self.input = self.input.saturating_add(o.input);
        self.output = self.output.saturating_add(o.output);
        self.cache_read = self.cache_read.saturating_add(o.cache_read);
        self.cache_write = self.cache_write.saturating_add(o.cache_write);
        self.embedding = self.embedding.saturating_add(o.embedding);
        self.reasoning = self.reasoning.saturating_add(o.reasoning);
        self.audio_input = self.audio_input.saturating_add(o.audio_input);
        self.audio_output = self.audio_output.saturating_add(o.audio_output);
    }
}

/// SQL engines that cannot sum beyond 64 bits (SQLite's `sum` fails with "integer overflow")
/// sum costs in two parts: `sum(cost_pico / COST_SPLIT)` and `sum(cost_pico % COST_SPLIT)`,
/// joined by [`join_split_sum`]. A usage row's cost saturates at `i64::MAX`, so a key holder who
/// sends absurd token counts can make its own totals saturate, never fail a read.
pub const COST_SPLIT: i64 = 1_000_000;

/// The exact sum of the two parts of [`COST_SPLIT`], saturated to `i64`.
pub fn join_split_sum(high: i64, low: i64) -> i64 {
    let s = i128::from(high) * i128::from(COST_SPLIT) + i128::from(low);
    i64::try_from(s).unwrap_or(if s < 0 { i64::MIN } else { i64::MAX })
}

/// The price of a model id, if the table knows it.
pub fn price_of(model: &str) -> Option<&'static ModelPrice> {
    let m = model.trim().to_ascii_lowercase();
    let m = m.rsplit('/').next().unwrap_or(&m); // `openai/gpt-4o` as some routers name it
    PRICES
        .iter()
        .filter(|p| m == p.model || (m.starts_with(p.model) && m[p.model.len()..].starts_with('-')))
        .max_by_key(|p| p.model.len())
}

/// The cost of `tokens` of `model` in pico-USD, or `None` when the model is unpriced.
pub fn cost_pico(model: &str, tokens: &TokenCounts) -> Option<i64> {
    let p = price_of(model)?;
    Some(
        [
            (tokens.input, p.input),
            (tokens.output, p.output),
            (tokens.cache_read, p.cache_read),
            (tokens.cache_write, p.cache_write),
            (tokens.embedding, p.embedding),
        ]
        .iter()
        .fold(0i64, |sum, (n, price)| sum.saturating_add(n.saturating_mul(*price))),
    )
}

/// A price table as costs are computed with it: its date and its cost function. Usage rows are
/// priced with [`CURRENT`] at ingest and restated with it by `agentsight prices restate`.
#[derive(Debug, Clone, Copy)]
pub struct Pricing {
    /// The date stored with every cost computed from the table.
    pub table_date: &'static str,
    /// The cost of some tokens of a model, `None` when the table does not price it.
    pub cost: fn(&str, &TokenCounts) -> Option<i64>,
}

/// The table of this build ([`PRICES`] of [`PRICE_TABLE_DATE`]).
pub const CURRENT: Pricing = Pricing { table_date: PRICE_TABLE_DATE, cost: cost_pico };

/// Pico-USD as a decimal string of USD with at least 6 decimals (`0.000039`), exact.
pub fn pico_to_decimal(pico: i64) -> String {
    let sign = if pico < 0 { "-" } else { "" };
    let a = pico.unsigned_abs();
    let whole = a / 1_000_000_000_000;
    let frac = format!("{:012}", a % 1_000_000_000_000);
    let trimmed = frac.trim_end_matches('0');
    let frac = if trimmed.len() < 6 { &frac[..6] } else { trimmed };
    format!("{sign}{whole}.{frac}")
}

/// Pico-USD as a float of USD (for sums shown as numbers).
pub fn pico_to_f64(pico: i64) -> f64 {
    pico as f64 / 1e12
}

/// LLM totals made whole: `total_tokens` from the counted kinds (reasoning and audio tokens are
/// part of output and input already) and `cost_usd` from the exact pico-USD sum. Every event
/// store's `/api/metrics/llm/` answer goes through it.
pub fn finish_totals(
    mut t: agentsight_protocol::v01::LlmTotals,
    pico: i64,
) -> agentsight_protocol::v01::LlmTotals {
    t.total_tokens =
        t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_write_tokens + t.embedding_tokens;
    t.cost_usd = pico_to_decimal(pico);
    t
}

/// Adds `b`'s counts to `a` (not `total_tokens` or `cost_usd`: [`finish_totals`] makes those).
pub fn add_totals(a: &mut agentsight_protocol::v01::LlmTotals, b: &agentsight_protocol::v01::LlmTotals) {
    a.calls += b.calls;
    a.errors += b.errors;
    a.unreported_calls += b.unreported_calls;
    a.unpriced_calls += b.unpriced_calls;
    a.input_tokens += b.input_tokens;
    a.output_tokens += b.output_tokens;
    a.cache_read_tokens += b.cache_read_tokens;
    a.cache_write_tokens += b.cache_write_tokens;
    a.embedding_tokens += b.embedding_tokens;
    a.reasoning_tokens += b.reasoning_tokens;
    a.audio_input_tokens += b.audio_input_tokens;
    a.audio_output_tokens += b.audio_output_tokens;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_snapshots_take_the_longest_matching_price() {
        assert_eq!(price_of("gpt-4o-mini-2024-07-18").map(|p| p.model), Some("gpt-4o-mini"));
        assert_eq!(price_of("gpt-4o-2024-08-06").map(|p| p.model), Some("gpt-4o"));
        assert_eq!(price_of("GPT-4o").map(|p| p.model), Some("gpt-4o"));
        assert_eq!(price_of("gpt-4ox"), None);
        assert_eq!(price_of("claude-sonnet-4-5-20250929").map(|p| p.model), Some("claude-sonnet-4-5"));
        assert_eq!(price_of("my-local-llama"), None);
    }

    #[test]
    fn costs_are_exact_pico_usd() {
        let t = TokenCounts { input: 80, output: 45, ..Default::default() };
        // 80 × $0.15/1M + 45 × $0.60/1M = $0.000012 + $0.000027
        assert_eq!(cost_pico("gpt-4o-mini", &t), Some(39_000_000));
        assert_eq!(pico_to_decimal(39_000_000), "0.000039");
        assert_eq!(pico_to_decimal(1_234_567_890_123_456), "1234.567890123456");
        assert_eq!(pico_to_decimal(0), "0.000000");
        let cached = TokenCounts { input: 1_000_000, cache_read: 1_000_000, ..Default::default() };
        assert_eq!(cost_pico("gpt-4o", &cached), Some(3_750_000_000_000));
        assert_eq!(cost_pico("unknown-model", &t), None);
    }

    #[test]
    fn subsets_never_add_to_the_total() {
        let t = TokenCounts { input: 10, output: 5, reasoning: 3, audio_input: 2, ..Default::default() };
        assert_eq!(t.total(), 15);
    }
}
