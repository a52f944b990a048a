//! Agents, their environments and API keys.

use agentsight_core::keys::Role;
use agentsight_core::normalize::DEFAULT_ENVIRONMENTS;
use agentsight_core::time::Micros;
use agentsight_store::{AgentRow, KeyRow, StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

use super::{exec, one};
use crate::{reads, sqlerr};

pub(crate) fn create_agent(conn: &Connection, name: &str, now: Micros) -> StoreResult<AgentRow> {
    let taken: bool = one(conn, "SELECT EXISTS (SELECT 1 FROM agents WHERE name = ?1)", [name], |r| r.get(0))
        .map_err(sqlerr)?;
    if taken {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!("an agent named '{name}' exists"),
        });
    }
    exec(conn, "INSERT INTO agents (name, created_at) VALUES (?1, ?2)", params![name, now])
        .map_err(sqlerr)?;
    let id = conn.last_insert_rowid();
    for slug in DEFAULT_ENVIRONMENTS {
        let (title, prod) = if slug == "production" { ("Production", true) } else { ("Development", false) };
        exec(
            conn,
            "INSERT INTO environments (agent_id, slug, name, is_production, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, slug, title, prod, now],
        )
        .map_err(sqlerr)?;
    }
    Ok(AgentRow {
        id,
        name: name.to_string(),
        environments: DEFAULT_ENVIRONMENTS.iter().map(|s| s.to_string()).collect(),
        created_at: now,
    })
}

pub(crate) fn create_key(
    conn: &Connection,
    agent_id: i64,
    role: Role,
    prefix: &str,
    hash: &[u8; 32],
    now: Micros,
) -> StoreResult<KeyRow> {
    let agent_name: Option<String> =
        one(conn, "SELECT name FROM agents WHERE id = ?1", [agent_id], |r| r.get(0))
            .optional()
            .map_err(sqlerr)?;
    let agent_name = agent_name
        .ok_or_else(|| StoreError::UnknownReference { field: "agent", value: agent_id.to_string() })?;
    exec(
        conn,
        "INSERT INTO api_keys (agent_id, prefix, hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![agent_id, prefix, &hash[..], role.as_str(), now],
    )
    .map_err(sqlerr)?;
    Ok(KeyRow {
        id: conn.last_insert_rowid(),
        agent_id,
        agent_name,
        prefix: prefix.to_string(),
        role,
        created_at: now,
        revoked_at: None,
    })
}

pub(crate) fn set_escalation_tools(
    conn: &Connection,
    agent_id: i64,
    tools: Option<&[String]>,
) -> StoreResult<bool> {
    let json = tools.map(|t| serde_json::to_string(t).unwrap_or_else(|_| "[]".into()));
    let n = exec(conn, "UPDATE agents SET escalation_tools = ?2 WHERE id = ?1", params![agent_id, json])
        .map_err(sqlerr)?;
    Ok(n == 1)
}

pub(crate) fn create_environment(
    conn: &Connection,
    agent_id: i64,
    slug: &str,
    name: &str,
    is_production: bool,
    now: Micros,
) -> StoreResult<agentsight_store::EnvironmentRow> {
    let taken: bool = one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM environments WHERE agent_id = ?1 AND slug = ?2)",
        params![agent_id, slug],
        |r| r.get(0),
    )
    .map_err(sqlerr)?;
    if taken {
        return Err(StoreError::Conflict {
            field: "slug",
            message: format!("the agent has an environment '{slug}'"),
        });
    }
    exec(
        conn,
        "INSERT INTO environments (agent_id, slug, name, is_production, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![agent_id, slug, name, is_production, now],
    )
    .map_err(sqlerr)?;
    Ok(agentsight_store::EnvironmentRow {
        id: conn.last_insert_rowid(),
        slug: slug.to_string(),
        name: name.to_string(),
        is_production,
        created_at: now,
    })
}

pub(crate) fn revoke_key(conn: &Connection, key_id: i64, now: Micros) -> StoreResult<bool> {
    let n = conn
        .execute(
            "UPDATE api_keys SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![key_id, now],
        )
        .map_err(sqlerr)?;
    Ok(n == 1)
}

pub(crate) fn rename_agent(conn: &Connection, id: i64, name: &str) -> StoreResult<Option<AgentRow>> {
    let taken: bool = one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM agents WHERE name = ?1 AND id != ?2)",
        params![name, id],
        |r| r.get(0),
    )
    .map_err(sqlerr)?;
    if taken {
        return Err(StoreError::Conflict {
            field: "name",
            message: format!("an agent named '{name}' exists"),
        });
    }
    let n = exec(conn, "UPDATE agents SET name = ?2 WHERE id = ?1", params![id, name]).map_err(sqlerr)?;
    if n == 0 {
        return Ok(None);
    }
    reads::agent(conn, id)
}
