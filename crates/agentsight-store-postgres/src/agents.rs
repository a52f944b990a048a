//! Agents, their environments, API keys and escalation names (SQLite's `writes/admin.rs` and
//! `reads.rs`). Writes run in a transaction holding the write lock, so their checks hold.

use agentsight_core::keys::Role;
use agentsight_core::normalize::DEFAULT_ENVIRONMENTS;
use agentsight_core::time::Micros;
use agentsight_store::{AgentRow, EnvironmentRow, KeyRow, Principal, StoreError, StoreResult};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::sql::{exec, get, one, opt, rows};

/// The agent's environment slugs, oldest first, as a column of an `agents a` query.
const ENV_SLUGS: &str = "ARRAY(SELECT e.slug FROM environments e WHERE e.agent_id = a.id ORDER BY e.id)";

fn agent_row(r: &Row) -> StoreResult<AgentRow> {
    Ok(AgentRow { id: get(r, 0)?, name: get(r, 1)?, environments: get(r, 2)?, created_at: get(r, 3)? })
}

fn role(s: &str) -> StoreResult<Role> {
    Role::parse(s).ok_or_else(|| StoreError::internal(format!("bad role '{s}'")))
}

pub(crate) async fn authenticate(c: &impl GenericClient, hash: &[u8; 32]) -> StoreResult<Option<Principal>> {
    let found = opt(
        c,
        &format!(
            "SELECT k.id, k.hash, k.agent_id, a.name, k.role, {ENV_SLUGS} FROM api_keys k
             JOIN agents a ON a.id = k.agent_id
             WHERE k.hash = $1 AND k.revoked_at IS NULL"
        ),
        &[&&hash[..]],
    )
    .await?;
    let Some(r) = found else {
        return Ok(None);
    };
    Ok(Some(Principal {
        key_id: get(&r, 0)?,
        key_hash: get(&r, 1)?,
        agent_id: get(&r, 2)?,
        agent_name: get(&r, 3)?,
        role: role(get(&r, 4)?)?,
        environments: get(&r, 5)?,
    }))
}

pub(crate) async fn environments(c: &impl GenericClient, agent_id: i64) -> StoreResult<Vec<EnvironmentRow>> {
    rows(
        c,
        "SELECT id, slug, name, is_production, created_at FROM environments WHERE agent_id = $1 ORDER BY id",
        &[&agent_id],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(EnvironmentRow {
            id: get(r, 0)?,
            slug: get(r, 1)?,
            name: get(r, 2)?,
            is_production: get(r, 3)?,
            created_at: get(r, 4)?,
        })
    })
    .collect()
}

pub(crate) async fn list_agents(c: &impl GenericClient) -> StoreResult<Vec<AgentRow>> {
    rows(c, &format!("SELECT a.id, a.name, {ENV_SLUGS}, a.created_at FROM agents a ORDER BY a.id"), &[])
        .await?
        .iter()
        .map(agent_row)
        .collect()
}

pub(crate) async fn agent(c: &impl GenericClient, id: i64) -> StoreResult<Option<AgentRow>> {
    opt(c, &format!("SELECT a.id, a.name, {ENV_SLUGS}, a.created_at FROM agents a WHERE a.id = $1"), &[&id])
        .await?
        .as_ref()
        .map(agent_row)
        .transpose()
}

fn name_taken(name: &str) -> StoreError {
    StoreError::Conflict { field: "name", message: format!("an agent named '{name}' exists") }
}

pub(crate) async fn create_agent(c: &impl GenericClient, name: &str, now: Micros) -> StoreResult<AgentRow> {
    let taken: bool =
        get(&one(c, "SELECT EXISTS (SELECT 1 FROM agents WHERE name = $1)", &[&name]).await?, 0)?;
    if taken {
        return Err(name_taken(name));
    }
    let id: i64 = get(
        &one(c, "INSERT INTO agents (name, created_at) VALUES ($1, $2) RETURNING id", &[&name, &now]).await?,
        0,
    )?;
    for slug in DEFAULT_ENVIRONMENTS {
        let (title, prod) = if slug == "production" { ("Production", true) } else { ("Development", false) };
        exec(
            c,
            "INSERT INTO environments (agent_id, slug, name, is_production, created_at) VALUES ($1, $2, $3, $4, $5)",
            &[&id, &slug, &title, &prod, &now],
        )
        .await?;
    }
    Ok(AgentRow {
        id,
        name: name.to_string(),
        environments: DEFAULT_ENVIRONMENTS.iter().map(|s| s.to_string()).collect(),
        created_at: now,
    })
}

pub(crate) async fn rename_agent(
    c: &impl GenericClient,
    id: i64,
    name: &str,
) -> StoreResult<Option<AgentRow>> {
    let taken: bool = get(
        &one(c, "SELECT EXISTS (SELECT 1 FROM agents WHERE name = $1 AND id != $2)", &[&name, &id]).await?,
        0,
    )?;
    if taken {
        return Err(name_taken(name));
    }
    if exec(c, "UPDATE agents SET name = $2 WHERE id = $1", &[&id, &name]).await? == 0 {
        return Ok(None);
    }
    agent(c, id).await
}

pub(crate) async fn create_key(
    c: &impl GenericClient,
    agent_id: i64,
    role: Role,
    prefix: &str,
    hash: &[u8; 32],
    now: Micros,
) -> StoreResult<KeyRow> {
    let agent_name: String = match opt(c, "SELECT name FROM agents WHERE id = $1", &[&agent_id]).await? {
        Some(r) => get(&r, 0)?,
        None => return Err(StoreError::UnknownReference { field: "agent", value: agent_id.to_string() }),
    };
    let id: i64 = get(
        &one(
            c,
            "INSERT INTO api_keys (agent_id, prefix, hash, role, created_at) VALUES ($1, $2, $3, $4, $5)
             RETURNING id",
            &[&agent_id, &prefix, &&hash[..], &role.as_str(), &now],
        )
        .await?,
        0,
    )?;
    Ok(KeyRow {
        id,
        agent_id,
        agent_name,
        prefix: prefix.to_string(),
        role,
        created_at: now,
        revoked_at: None,
    })
}

pub(crate) async fn list_keys(c: &impl GenericClient) -> StoreResult<Vec<KeyRow>> {
    rows(
        c,
        "SELECT k.id, k.agent_id, a.name, k.prefix, k.role, k.created_at, k.revoked_at
         FROM api_keys k JOIN agents a ON a.id = k.agent_id ORDER BY k.id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(KeyRow {
            id: get(r, 0)?,
            agent_id: get(r, 1)?,
            agent_name: get(r, 2)?,
            prefix: get(r, 3)?,
            role: role(get(r, 4)?)?,
            created_at: get(r, 5)?,
            revoked_at: get(r, 6)?,
        })
    })
    .collect()
}

pub(crate) async fn revoke_key(c: &impl GenericClient, key_id: i64, now: Micros) -> StoreResult<bool> {
    let n =
        exec(c, "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", &[&key_id, &now])
            .await?;
    Ok(n == 1)
}

pub(crate) async fn escalation_tools(
    c: &impl GenericClient,
    agent_id: i64,
) -> StoreResult<Option<Vec<String>>> {
    match opt(c, "SELECT escalation_tools FROM agents WHERE id = $1", &[&agent_id]).await? {
        None => Ok(None),
        Some(r) => get(&r, 0),
    }
}

pub(crate) async fn set_escalation_tools(
    c: &impl GenericClient,
    agent_id: i64,
    tools: Option<&[String]>,
) -> StoreResult<bool> {
    let n = exec(c, "UPDATE agents SET escalation_tools = $2 WHERE id = $1", &[&agent_id, &tools]).await?;
    Ok(n == 1)
}

pub(crate) async fn create_environment(
    c: &impl GenericClient,
    agent_id: i64,
    slug: &str,
    name: &str,
    is_production: bool,
    now: Micros,
) -> StoreResult<EnvironmentRow> {
    let taken: bool = get(
        &one(
            c,
            "SELECT EXISTS (SELECT 1 FROM environments WHERE agent_id = $1 AND slug = $2)",
            &[&agent_id, &slug],
        )
        .await?,
        0,
    )?;
    if taken {
        return Err(StoreError::Conflict {
            field: "slug",
            message: format!("the agent has an environment '{slug}'"),
        });
    }
    let id: i64 = get(
        &one(
            c,
            "INSERT INTO environments (agent_id, slug, name, is_production, created_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
            &[&agent_id, &slug, &name, &is_production, &now],
        )
        .await?,
        0,
    )?;
    Ok(EnvironmentRow { id, slug: slug.to_string(), name: name.to_string(), is_production, created_at: now })
}
