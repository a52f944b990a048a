//! Cost per conversation and the most expensive conversations of `GET /api/metrics/llm/`
//! (docs/metrics.md), from one fact per conversation that every event store returns: the sums
//! of its usage rows in range. The stores group; the definitions are here, once.

use std::cmp::Ordering;

use agentsight_protocol::v01::{LlmConversationRow, LlmPerConversation};

use crate::prices::pico_to_decimal;

/// One conversation's usage rows in range, summed (rows of the range and filters only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationUsage {
    /// The conversation's row id.
    pub conversation_pk: i64,
    /// Whether at least one of its rows is priced (`cost_pico` not null).
    pub priced: bool,
    /// Σ `cost_pico` of its priced rows.
    pub cost_pico: i64,
    /// Σ calls of all its rows.
    pub calls: i64,
    /// Σ tokens (input + output + cache reads + cache writes + embedding) of all its rows.
    pub total_tokens: i64,
}

/// The percentile `p95_cost_usd` is.
pub const PERCENTILE: u64 = 95;

/// The order of `top_conversations`: largest cost first, then most calls, then smallest pk.
pub fn top_order(a: &ConversationUsage, b: &ConversationUsage) -> Ordering {
    b.cost_pico.cmp(&a.cost_pico).then(b.calls.cmp(&a.calls)).then(a.conversation_pk.cmp(&b.conversation_pk))
}

/// The 1-based nearest rank of percentile `p` among `n` sorted values: ⌈p·n/100⌉ (at least 1).
pub fn nearest_rank(n: usize, p: u64) -> usize {
    let n = n as u128;
    (((p as u128) * n).div_ceil(100)).max(1) as usize
}

/// `sum / n` rounded to the nearest integer, halves up (`n > 0`).
pub fn rounded_mean(sum: i128, n: usize) -> i64 {
    let n = n as i128;
    let q = (2 * sum + n).div_euclid(2 * n);
    i64::try_from(q).unwrap_or(if q < 0 { i64::MIN } else { i64::MAX })
}

/// Cost per conversation and the `top` most expensive conversations (in [`top_order`]), over
/// the conversations with at least one priced row. `rows` may be in any order.
pub fn conversation_costs(
    mut rows: Vec<ConversationUsage>,
    top: usize,
) -> (LlmPerConversation, Vec<ConversationUsage>) {
    rows.retain(|r| r.priced);
    let n = rows.len();
    if n == 0 {
        return (LlmPerConversation::default(), Vec::new());
    }
    let sum: i128 = rows.iter().map(|r| r.cost_pico as i128).sum();
    let mut costs: Vec<i64> = rows.iter().map(|r| r.cost_pico).collect();
    let k = nearest_rank(n, PERCENTILE) - 1;
    let (_, p95, _) = costs.select_nth_unstable(k);
    let per = LlmPerConversation {
        conversations: n as i64,
        average_cost_usd: Some(pico_to_decimal(rounded_mean(sum, n))),
        p95_cost_usd: Some(pico_to_decimal(*p95)),
    };
    if top > 0 && top < n {
        rows.select_nth_unstable_by(top - 1, top_order);
        rows.truncate(top);
    }
    rows.sort_by(top_order);
    rows.truncate(top);
    (per, rows)
}

/// The wire rows of the top conversations, `id_of` giving each one's client id.
pub fn top_rows(top: &[ConversationUsage], id_of: impl Fn(i64) -> Option<String>) -> Vec<LlmConversationRow> {
    top.iter()
        .map(|r| LlmConversationRow {
            conversation: r.conversation_pk,
            conversation_id: id_of(r.conversation_pk).unwrap_or_default(),
            cost_usd: pico_to_decimal(r.cost_pico),
            calls: r.calls,
            total_tokens: r.total_tokens,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::reference;

    fn u(pk: i64, cost: i64, calls: i64) -> ConversationUsage {
        ConversationUsage {
            conversation_pk: pk,
            priced: true,
            cost_pico: cost,
            calls,
            total_tokens: 10 * calls,
        }
    }

    #[test]
    fn nearest_rank_is_the_ceiling_and_at_least_one() {
        assert_eq!(nearest_rank(1, 95), 1);
        assert_eq!(nearest_rank(19, 95), 19); // 18.05 → 19
        assert_eq!(nearest_rank(20, 95), 19); // exactly 19
        assert_eq!(nearest_rank(21, 95), 20); // 19.95 → 20
        assert_eq!(nearest_rank(100, 95), 95);
        assert_eq!(nearest_rank(0, 95), 1);
    }

    #[test]
    fn the_mean_rounds_halves_up() {
        assert_eq!(rounded_mean(7, 2), 4);
        assert_eq!(rounded_mean(5, 2), 3);
        assert_eq!(rounded_mean(10, 3), 3);
        assert_eq!(rounded_mean(11, 3), 4);
        assert_eq!(rounded_mean(i64::MAX as i128 * 3, 3), i64::MAX);
    }

    #[test]
    fn costs_of_twenty_conversations() {
        // Costs 1..=20 µUSD: mean 10.5 µUSD, p95 = the 19th smallest = 19 µUSD.
        let rows: Vec<_> = (1..=20).map(|i| u(i, i * 1_000_000, 1)).collect();
        let (per, top) = conversation_costs(rows, 3);
        assert_eq!(per.conversations, 20);
        assert_eq!(per.average_cost_usd.as_deref(), Some("0.0000105"));
        assert_eq!(per.p95_cost_usd.as_deref(), Some("0.000019"));
        assert_eq!(top.iter().map(|r| r.conversation_pk).collect::<Vec<_>>(), [20, 19, 18]);
    }

    #[test]
    fn unpriced_conversations_are_left_out_and_ties_are_ordered() {
        let mut none = u(9, 0, 4);
        none.priced = false;
        let rows = vec![u(3, 5, 1), none, u(1, 5, 1), u(2, 5, 2), u(4, 0, 7)];
        let (per, top) = conversation_costs(rows, 10);
        assert_eq!(per.conversations, 4);
        // Same cost: more calls first, then the smaller pk; a priced zero cost still counts.
        assert_eq!(top.iter().map(|r| r.conversation_pk).collect::<Vec<_>>(), [2, 1, 3, 4]);
        // n = 4: the 4th smallest (⌈3.8⌉), 5 pico-USD.
        assert_eq!(per.p95_cost_usd.as_deref(), Some("0.000000000005"));
        let wire = top_rows(&top, |pk| Some(format!("c{pk}")));
        assert_eq!((wire[0].conversation_id.as_str(), wire[0].calls, wire[0].total_tokens), ("c2", 2, 20));
    }

    #[test]
    fn nothing_priced_means_no_figures() {
        let (per, top) = conversation_costs(Vec::new(), 10);
        assert_eq!(per, LlmPerConversation { conversations: 0, average_cost_usd: None, p95_cost_usd: None });
        assert!(top.is_empty());
        let json = serde_json::to_value(&per).unwrap();
        assert!(json["p95_cost_usd"].is_null() && json["average_cost_usd"].is_null());
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_reference(
            rows in proptest::collection::vec(
                (0i64..40, proptest::bool::weighted(0.85), 0i64..2_000_000_000_000, 0i64..6),
                0..60,
            ),
            top in 0usize..15,
        ) {
            // One fact per conversation, as the stores return them.
            let mut seen = std::collections::HashSet::new();
            let rows: Vec<ConversationUsage> = rows
                .into_iter()
                .filter(|(pk, ..)| seen.insert(*pk))
                .map(|(pk, priced, cost, calls)| ConversationUsage {
                    conversation_pk: pk,
                    priced,
                    cost_pico: if priced { cost } else { 0 },
                    calls,
                    total_tokens: calls * 100,
                })
                .collect();
            let fast = conversation_costs(rows.clone(), top);
            let slow = reference::llm_conversation_costs(&rows, top);
            proptest::prop_assert_eq!(fast, slow);
        }
    }
}
