//! [`ExportReader`]: the CSV export's pages. Conversations come in keyset pages by pk from the
//! registry (the cursor is the last pk of the previous page, as in SQLite), filtered like the
//! listing; each page asks ClickHouse for its conversations' escalations and latest feedback,
//! and the server asks for the page's transcript entries next, so an export of any size holds
//! one page at a time.

use std::collections::{HashMap, HashSet};

use agentsight_store::{
    ConversationFilter, ExportCursor, ExportPage, ExportReader, ExportRow, MessageRow, StoreError,
    StoreResult,
};
use agentsight_store_postgres::pgerr;
use serde::Deserialize;

use crate::ClickHouseEventStore;
use crate::http::{int_list, quote};
use crate::registry::{self, REG_COLUMNS};

/// The position after the conversation `pk`.
fn cursor(pk: i64) -> ExportCursor {
    ExportCursor(pk.to_string())
}

fn after_of(c: Option<ExportCursor>) -> StoreResult<i64> {
    match c {
        None => Ok(0),
        Some(ExportCursor(c)) => c
            .parse::<i64>()
            .map_err(|_| StoreError::internal(format!("not an export cursor of this store: {c:?}"))),
    }
}

impl ExportReader for ClickHouseEventStore {
    async fn export_conversations(
        &self,
        agent_id: i64,
        filter: ConversationFilter,
        after: Option<ExportCursor>,
        limit: i64,
    ) -> StoreResult<ExportPage> {
        let after = after_of(after)?;
        let (where_sql, mut params) = self.list_filter(agent_id, &filter).await?;
        params.push(Box::new(after));
        params.push(Box::new(limit.max(0)));
        let n = params.len();
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {REG_COLUMNS} FROM event_conversations WHERE {where_sql} AND id > ${}
                     ORDER BY id LIMIT ${n}",
                    n - 1
                ),
                &crate::tracking::refs(&params),
            )
            .await
            .map_err(pgerr)?;
        let regs = rows.iter().map(registry::reg).collect::<StoreResult<Vec<_>>>()?;
        let conversations = self.complete(agent_id, regs).await?;
        let pks: Vec<i64> = conversations.iter().map(|c| c.id).collect();
        let (escalated, latest) = if pks.is_empty() {
            (HashSet::new(), HashMap::new())
        } else {
            tokio::try_join!(
                self.escalated(agent_id, &pks, &filter.escalation_tools),
                self.latest_feedback(agent_id, &pks)
            )?
        };
        let next = match conversations.last() {
            Some(last) if conversations.len() as i64 >= limit => Some(cursor(last.id)),
            _ => None,
        };
        let rows = conversations
            .into_iter()
            .map(|c| ExportRow {
                escalated: escalated.contains(&c.id),
                latest_feedback: latest.get(&c.id).map(|l| l.2.clone()),
                conversation: c,
            })
            .collect();
        Ok(ExportPage { rows, next })
    }

    async fn export_entries(
        &self,
        agent_id: i64,
        conversation_pks: Vec<i64>,
    ) -> StoreResult<Vec<MessageRow>> {
        if conversation_pks.is_empty() {
            return Ok(Vec::new());
        }
        #[derive(Deserialize)]
        struct M {
            id: i64,
            conversation_pk: i64,
            kind: u8,
            sender: String,
            content: String,
            metadata: String,
            ts: i64,
        }
        let found: Vec<M> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT id, conversation_pk, kind, sender, content, metadata, ts FROM messages
                 WHERE agent_id = {agent_id} AND conversation_pk IN ({}) ORDER BY conversation_pk, ts, id",
                int_list(&conversation_pks)
            ))
            .await?;
        let mut rows: Vec<MessageRow> = found
            .into_iter()
            .map(|m| MessageRow {
                id: m.id,
                conversation_pk: m.conversation_pk,
                kind: crate::dataplane::kind_of(m.kind),
                sender: m.sender,
                content: m.content,
                metadata: m.metadata,
                ts: m.ts,
            })
            .collect();
        self.overlay_metadata(&conversation_pks, &mut rows).await?;
        // In the order the pks were given, as SQLite answers.
        let mut by_pk: HashMap<i64, Vec<MessageRow>> = HashMap::new();
        for r in rows {
            by_pk.entry(r.conversation_pk).or_default().push(r);
        }
        let mut out = Vec::new();
        for pk in &conversation_pks {
            if let Some(rs) = by_pk.remove(pk) {
                out.extend(rs);
            }
        }
        Ok(out)
    }
}

impl ClickHouseEventStore {
    /// Which of these conversations have an action named in `tools`.
    async fn escalated(&self, agent_id: i64, pks: &[i64], tools: &[String]) -> StoreResult<HashSet<i64>> {
        if tools.is_empty() {
            return Ok(HashSet::new());
        }
        #[derive(Deserialize)]
        struct Pk {
            conversation_pk: i64,
        }
        let names = tools.iter().map(|t| quote(t)).collect::<Vec<_>>().join(", ");
        let rows: Vec<Pk> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT DISTINCT conversation_pk FROM action_logs WHERE agent_id = {agent_id}
                 AND conversation_pk IN ({}) AND action_name IN ({names})",
                int_list(pks)
            ))
            .await?;
        Ok(rows.into_iter().map(|r| r.conversation_pk).collect())
    }

    /// Each conversation's latest explicit feedback: (created_at, id, sentiment) of the
    /// current record latest by time, then id.
    async fn latest_feedback(
        &self,
        agent_id: i64,
        pks: &[i64],
    ) -> StoreResult<HashMap<i64, (i64, i64, String)>> {
        #[derive(Deserialize)]
        struct F {
            conversation_pk: i64,
            id: i64,
            sentiment: String,
            created_at: i64,
        }
        let rows: Vec<F> = self
            .inner
            .ch
            .rows(&format!(
                "SELECT conversation_pk, id, sentiment, created_at FROM {}",
                self.feedbacks_now(&format!(
                    "agent_id = {agent_id} AND conversation_pk IN ({})",
                    int_list(pks)
                ))
            ))
            .await?;
        let mut out: HashMap<i64, (i64, i64, String)> = HashMap::new();
        for f in rows {
            let e = out.entry(f.conversation_pk).or_insert((i64::MIN, i64::MIN, String::new()));
            if (f.created_at, f.id) > (e.0, e.1) {
                *e = (f.created_at, f.id, f.sentiment);
            }
        }
        Ok(out)
    }
}
