//! Each agent's retention and the audit log of removals (`RetentionStore`), as SQLite keeps them.

use agentsight_store::{ErasureKind, ErasureRecord, StoreError, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::sql::{exec, get, opt, rows};

pub(crate) async fn retention_days(c: &impl GenericClient, agent_id: i64) -> StoreResult<Option<u32>> {
    let Some(r) = opt(c, "SELECT retention_days FROM agents WHERE id = $1", &[&agent_id]).await? else {
        return Ok(None);
    };
    Ok(get::<Option<i32>>(&r, 0)?.map(|d| d.max(0) as u32))
}

pub(crate) async fn set_retention_days(
    c: &impl GenericClient,
    agent_id: i64,
    days: Option<u32>,
) -> StoreResult<bool> {
    let days = days.map(|d| i32::try_from(d).unwrap_or(i32::MAX));
    Ok(exec(c, "UPDATE agents SET retention_days = $2 WHERE id = $1", &[&agent_id, &days]).await? == 1)
}

pub(crate) async fn retentions(c: &impl GenericClient) -> StoreResult<Vec<(i64, u32)>> {
    rows(c, "SELECT id, retention_days FROM agents WHERE retention_days IS NOT NULL ORDER BY id", &[])
        .await?
        .iter()
        .map(|r| Ok((get(r, 0)?, get::<i32>(r, 1)?.max(0) as u32)))
        .collect()
}

pub(crate) async fn record_erasure(c: &impl GenericClient, r: ErasureRecord) -> StoreResult<ErasureRecord> {
    let (conversations, messages) = (r.conversations as i64, r.messages as i64);
    let row = opt(
        c,
        "INSERT INTO erasures (at, agent_id, kind, actor, conversations, messages)
         SELECT $1, $2, $3, $4, $5, $6 WHERE EXISTS (SELECT 1 FROM agents WHERE id = $2) RETURNING id",
        &[&r.at, &r.agent_id, &r.kind.as_str(), &r.actor, &conversations, &messages],
    )
    .await?;
    match row {
        Some(row) => Ok(ErasureRecord { id: get(&row, 0)?, ..r }),
        None => Err(StoreError::UnknownReference { field: "agent", value: r.agent_id.to_string() }),
    }
}

fn record(r: &Row) -> StoreResult<ErasureRecord> {
    let kind: String = get(r, 3)?;
    Ok(ErasureRecord {
        id: get(r, 0)?,
        at: get(r, 1)?,
        agent_id: get(r, 2)?,
        kind: ErasureKind::parse(&kind).unwrap_or(ErasureKind::Erase),
        actor: get(r, 4)?,
        conversations: get::<i64>(r, 5)?.max(0) as u64,
        messages: get::<i64>(r, 6)?.max(0) as u64,
    })
}

pub(crate) async fn erasures(
    c: &impl GenericClient,
    agent_id: Option<i64>,
    limit: i64,
) -> StoreResult<Vec<ErasureRecord>> {
    rows(
        c,
        "SELECT id, at, agent_id, kind, actor, conversations, messages FROM erasures
         WHERE $1::BIGINT IS NULL OR agent_id = $1 ORDER BY id DESC LIMIT $2",
        &[&agent_id, &limit],
    )
    .await?
    .iter()
    .map(record)
    .collect()
}
