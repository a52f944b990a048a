//! Narrowing reads to the part of a table they need, through the tables' `ORDER BY` keys, so a
//! request's work does not grow with everything the agent ever sent.
//!
//! * **Spans of one conversation** (`list_spans` with `conversation` or `conversation_id`):
//!   `spans` is ordered by `(agent_id, started_at, id)`, so a filter on the conversation alone
//!   reads every span of the agent. PostgreSQL's `event_spans` has a row per span stored, unique
//!   by `(agent_id, conversation_id, started_at, span_id)`: its index answers the conversation's
//!   first and last start, and the ClickHouse query gets `started_at BETWEEN first AND last`,
//!   a range of the primary key.

use agentsight_store::StoreResult;
use agentsight_store_postgres::pgerr;

use crate::ClickHouseEventStore;

impl ClickHouseEventStore {
    /// The `started_at` range condition of the spans of one conversation (given by pk, client id
    /// or both), or `"0"` when it has no span (or the two name different conversations).
    pub(crate) async fn conversation_span_window(
        &self,
        agent_id: i64,
        pk: Option<i64>,
        conversation_id: Option<&str>,
    ) -> StoreResult<String> {
        let client = self.client().await?;
        let cid = match (pk, conversation_id) {
            (_, Some(cid)) => cid.to_string(),
            (Some(pk), None) => {
                match client
                    .query_opt(
                        "SELECT conversation_id FROM event_conversations WHERE id = $1 AND agent_id = $2",
                        &[&pk, &agent_id],
                    )
                    .await
                    .map_err(pgerr)?
                {
                    Some(r) => r.try_get(0).map_err(pgerr)?,
                    None => return Ok("0".into()),
                }
            }
            (None, None) => return Ok("1".into()),
        };
        let r = client
            .query_one(
                "SELECT min(started_at), max(started_at) FROM event_spans WHERE agent_id = $1 AND conversation_id = $2",
                &[&agent_id, &cid],
            )
            .await
            .map_err(pgerr)?;
        let (lo, hi): (Option<i64>, Option<i64>) =
            (r.try_get(0).map_err(pgerr)?, r.try_get(1).map_err(pgerr)?);
        Ok(window_condition(lo, hi))
    }
}

/// `started_at BETWEEN lo AND hi`, or `"0"` (nothing) without a range.
pub(crate) fn window_condition(lo: Option<i64>, hi: Option<i64>) -> String {
    match (lo, hi) {
        (Some(lo), Some(hi)) => format!("started_at BETWEEN {lo} AND {hi}"),
        _ => "0".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_is_a_range_of_the_primary_key_or_nothing() {
        assert_eq!(window_condition(Some(5), Some(9)), "started_at BETWEEN 5 AND 9");
        assert_eq!(window_condition(None, None), "0");
    }
}
