//! The SQL of the dashboard's tables: users, sessions, share links, branding. Writes run on the
//! writer thread and refuse (a `Conflict` or `UnknownReference`) only before their first write.

use agentsight_core::dashboard::{Logo, SESSION_MAX_AGE_MICROS, UserRole};
use agentsight_core::time::Micros;
use agentsight_store::{
    Branding, BrandingPatch, NewShare, NewUser, SessionRow, ShareRow, StoreError, StoreResult, UserPatch,
    UserRow,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::sqlerr;

fn role_from(s: &str) -> rusqlite::Result<UserRole> {
    UserRole::parse(s)
        .ok_or_else(|| rusqlite::Error::InvalidColumnType(0, s.into(), rusqlite::types::Type::Text))
}

fn user_agents(conn: &Connection, user_id: i64) -> StoreResult<Vec<i64>> {
    let mut stmt = conn
        .prepare_cached("SELECT agent_id FROM user_agents WHERE user_id = ?1 ORDER BY agent_id")
        .map_err(sqlerr)?;
    stmt.query_map([user_id], |r| r.get(0)).map_err(sqlerr)?.collect::<rusqlite::Result<_>>().map_err(sqlerr)
}

/// (id, email, role, created_at) of a `users` row.
fn user_head(r: &Row<'_>) -> rusqlite::Result<(i64, String, UserRole, Micros)> {
    Ok((r.get(0)?, r.get(1)?, role_from(&r.get::<_, String>(2)?)?, r.get(3)?))
}

fn with_agents(conn: &Connection, head: (i64, String, UserRole, Micros)) -> StoreResult<UserRow> {
    let (id, email, role, created_at) = head;
    Ok(UserRow { id, email, role, agents: user_agents(conn, id)?, created_at })
}

pub(crate) fn user(conn: &Connection, id: i64) -> StoreResult<Option<UserRow>> {
    let head = conn
        .prepare_cached("SELECT id, email, role, created_at FROM users WHERE id = ?1")
        .and_then(|mut s| s.query_row([id], user_head).optional())
        .map_err(sqlerr)?;
    head.map(|h| with_agents(conn, h)).transpose()
}

pub(crate) fn user_by_email(conn: &Connection, email: &str) -> StoreResult<Option<(UserRow, String)>> {
    let found = conn
        .prepare_cached("SELECT id, email, role, created_at, password_hash FROM users WHERE email = ?1")
        .and_then(|mut s| s.query_row([email], |r| Ok((user_head(r)?, r.get::<_, String>(4)?))).optional())
        .map_err(sqlerr)?;
    match found {
        None => Ok(None),
        Some((head, hash)) => Ok(Some((with_agents(conn, head)?, hash))),
    }
}

pub(crate) fn list_users(conn: &Connection) -> StoreResult<Vec<UserRow>> {
    let heads: Vec<_> = conn
        .prepare_cached("SELECT id, email, role, created_at FROM users ORDER BY id")
        .and_then(|mut s| s.query_map([], user_head)?.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(sqlerr)?;
    heads.into_iter().map(|h| with_agents(conn, h)).collect()
}

pub(crate) fn has_admin(conn: &Connection) -> StoreResult<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')", [], |r| r.get(0))
        .map_err(sqlerr)
}

fn admins(conn: &Connection) -> StoreResult<i64> {
    conn.query_row("SELECT count(*) FROM users WHERE role = 'admin'", [], |r| r.get(0)).map_err(sqlerr)
}

/// Refuses (before any write) agent ids that do not exist.
fn check_agents(conn: &Connection, agents: &[i64]) -> StoreResult<()> {
    for a in agents {
        let ok: bool = conn
            .query_row("SELECT EXISTS (SELECT 1 FROM agents WHERE id = ?1)", [a], |r| r.get(0))
            .map_err(sqlerr)?;
        if !ok {
            return Err(StoreError::UnknownReference { field: "agents", value: a.to_string() });
        }
    }
    Ok(())
}

fn set_agents(conn: &Connection, user_id: i64, agents: &[i64]) -> StoreResult<()> {
    conn.execute("DELETE FROM user_agents WHERE user_id = ?1", [user_id]).map_err(sqlerr)?;
    for a in agents {
        conn.execute("INSERT OR IGNORE INTO user_agents (user_id, agent_id) VALUES (?1, ?2)", [user_id, *a])
            .map_err(sqlerr)?;
    }
    Ok(())
}

pub(crate) fn create_user(conn: &Connection, u: &NewUser) -> StoreResult<UserRow> {
    let taken: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM users WHERE email = ?1)", [&u.email], |r| r.get(0))
        .map_err(sqlerr)?;
    if taken {
        return Err(StoreError::Conflict {
            field: "email",
            message: "A user with this email exists.".into(),
        });
    }
    check_agents(conn, &u.agents)?;
    conn.execute(
        "INSERT INTO users (email, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![u.email, u.password_hash, u.role.as_str(), u.created_at],
    )
    .map_err(sqlerr)?;
    let id = conn.last_insert_rowid();
    set_agents(conn, id, &u.agents)?;
    user(conn, id)?.ok_or_else(|| StoreError::internal("created user vanished"))
}

pub(crate) fn create_first_admin(conn: &Connection, u: &NewUser) -> StoreResult<Option<UserRow>> {
    if has_admin(conn)? {
        return Ok(None);
    }
    create_user(conn, u).map(Some)
}

pub(crate) fn update_user(conn: &Connection, id: i64, p: &UserPatch) -> StoreResult<Option<UserRow>> {
    let Some(current) = user(conn, id)? else {
        return Ok(None);
    };
    if current.role == UserRole::Admin && p.role == Some(UserRole::Viewer) && admins(conn)? <= 1 {
        return Err(StoreError::Conflict {
            field: "role",
            message: "The last admin cannot be demoted.".into(),
        });
    }
    if let Some(agents) = &p.agents {
        check_agents(conn, agents)?;
    }
    if let Some(role) = p.role {
        conn.execute("UPDATE users SET role = ?2 WHERE id = ?1", params![id, role.as_str()])
            .map_err(sqlerr)?;
    }
    if let Some(agents) = &p.agents {
        set_agents(conn, id, agents)?;
    }
    if let Some(hash) = &p.password_hash {
        conn.execute("UPDATE users SET password_hash = ?2 WHERE id = ?1", params![id, hash])
            .map_err(sqlerr)?;
        let keep = p.keep_session.map(|h| h.to_vec()).unwrap_or_default();
        conn.execute("DELETE FROM sessions WHERE user_id = ?1 AND token_hash != ?2", params![id, keep])
            .map_err(sqlerr)?;
    }
    user(conn, id)
}

pub(crate) fn delete_user(conn: &Connection, id: i64) -> StoreResult<bool> {
    let Some(current) = user(conn, id)? else {
        return Ok(false);
    };
    if current.role == UserRole::Admin && admins(conn)? <= 1 {
        return Err(StoreError::Conflict {
            field: "user",
            message: "The last admin cannot be deleted.".into(),
        });
    }
    // Sessions and assignments go with the user (ON DELETE CASCADE).
    conn.execute("DELETE FROM users WHERE id = ?1", [id]).map_err(sqlerr)?;
    Ok(true)
}

pub(crate) fn create_session(
    conn: &Connection,
    user_id: i64,
    hash: &[u8; 32],
    now: Micros,
    expires_at: Micros,
) -> StoreResult<()> {
    let exists: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)", [user_id], |r| r.get(0))
        .map_err(sqlerr)?;
    if !exists {
        return Err(StoreError::UnknownReference { field: "user", value: user_id.to_string() });
    }
    conn.execute(
        "INSERT INTO sessions (user_id, token_hash, created_at, refreshed_at, expires_at)
         VALUES (?1, ?2, ?3, ?3, ?4)",
        params![user_id, &hash[..], now, expires_at],
    )
    .map_err(sqlerr)?;
    Ok(())
}

pub(crate) fn session(conn: &Connection, hash: &[u8; 32], now: Micros) -> StoreResult<Option<SessionRow>> {
    let found: Option<(i64, i64, Micros, Micros)> = conn
        .prepare_cached(
            "SELECT id, user_id, refreshed_at, expires_at FROM sessions
             WHERE token_hash = ?1 AND expires_at > ?2 AND created_at + ?3 > ?2",
        )
        .and_then(|mut s| {
            s.query_row(params![&hash[..], now, SESSION_MAX_AGE_MICROS], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .optional()
        })
        .map_err(sqlerr)?;
    let Some((id, user_id, refreshed_at, expires_at)) = found else {
        return Ok(None);
    };
    Ok(user(conn, user_id)?.map(|user| SessionRow { id, user, refreshed_at, expires_at }))
}

pub(crate) fn extend_session(conn: &Connection, id: i64, now: Micros, expires_at: Micros) -> StoreResult<()> {
    conn.execute(
        // Never past the absolute maximum counted from its creation.
        "UPDATE sessions SET refreshed_at = ?2, expires_at = MIN(?3, created_at + ?4) WHERE id = ?1",
        params![id, now, expires_at, SESSION_MAX_AGE_MICROS],
    )
    .map_err(sqlerr)?;
    Ok(())
}

pub(crate) fn delete_session(conn: &Connection, hash: &[u8; 32]) -> StoreResult<bool> {
    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [&hash[..]]).map(|n| n == 1).map_err(sqlerr)
}

const SHARE_COLUMNS: &str = "id, agent_id, label, token_prefix, created_at, expires_at, revoked_at";

fn share_row(r: &Row<'_>) -> rusqlite::Result<ShareRow> {
    Ok(ShareRow {
        id: r.get(0)?,
        agent_id: r.get(1)?,
        label: r.get(2)?,
        token_prefix: r.get(3)?,
        created_at: r.get(4)?,
        expires_at: r.get(5)?,
        revoked_at: r.get(6)?,
    })
}

pub(crate) fn create_share(conn: &Connection, s: &NewShare) -> StoreResult<ShareRow> {
    let exists: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM agents WHERE id = ?1)", [s.agent_id], |r| r.get(0))
        .map_err(sqlerr)?;
    if !exists {
        return Err(StoreError::UnknownReference { field: "agent", value: s.agent_id.to_string() });
    }
    conn.execute(
        "INSERT INTO shares (agent_id, label, token_prefix, token_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![s.agent_id, s.label, s.token_prefix, &s.token_hash[..], s.created_at, s.expires_at],
    )
    .map_err(sqlerr)?;
    share(conn, conn.last_insert_rowid())?.ok_or_else(|| StoreError::internal("created share vanished"))
}

pub(crate) fn share(conn: &Connection, id: i64) -> StoreResult<Option<ShareRow>> {
    conn.query_row(&format!("SELECT {SHARE_COLUMNS} FROM shares WHERE id = ?1"), [id], share_row)
        .optional()
        .map_err(sqlerr)
}

pub(crate) fn share_by_hash(conn: &Connection, hash: &[u8; 32]) -> StoreResult<Option<ShareRow>> {
    conn.prepare_cached(&format!("SELECT {SHARE_COLUMNS} FROM shares WHERE token_hash = ?1"))
        .and_then(|mut s| s.query_row([&hash[..]], share_row).optional())
        .map_err(sqlerr)
}

pub(crate) fn list_shares(conn: &Connection, agent_id: i64) -> StoreResult<Vec<ShareRow>> {
    conn.prepare(&format!("SELECT {SHARE_COLUMNS} FROM shares WHERE agent_id = ?1 ORDER BY id DESC"))
        .and_then(|mut s| s.query_map([agent_id], share_row)?.collect::<rusqlite::Result<Vec<_>>>())
        .map_err(sqlerr)
}

pub(crate) fn revoke_share(conn: &Connection, id: i64, now: Micros) -> StoreResult<Option<ShareRow>> {
    let n = conn
        .execute("UPDATE shares SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL", params![id, now])
        .map_err(sqlerr)?;
    if n == 0 { Ok(None) } else { share(conn, id) }
}

pub(crate) fn branding(conn: &Connection, agent_id: i64) -> StoreResult<Branding> {
    let b = conn
        .prepare_cached(
            "SELECT display_name, accent_color, CASE WHEN logo IS NULL THEN NULL ELSE logo_version END
             FROM agent_branding WHERE agent_id = ?1",
        )
        .and_then(|mut s| {
            s.query_row([agent_id], |r| {
                Ok(Branding { display_name: r.get(0)?, accent_color: r.get(1)?, logo_version: r.get(2)? })
            })
            .optional()
        })
        .map_err(sqlerr)?;
    Ok(b.unwrap_or_default())
}

pub(crate) fn set_branding(
    conn: &Connection,
    agent_id: i64,
    p: &BrandingPatch,
) -> StoreResult<Option<Branding>> {
    let exists: bool = conn
        .query_row("SELECT EXISTS (SELECT 1 FROM agents WHERE id = ?1)", [agent_id], |r| r.get(0))
        .map_err(sqlerr)?;
    if !exists {
        return Ok(None);
    }
    conn.execute("INSERT OR IGNORE INTO agent_branding (agent_id) VALUES (?1)", [agent_id])
        .map_err(sqlerr)?;
    if let Some(v) = &p.display_name {
        conn.execute("UPDATE agent_branding SET display_name = ?2 WHERE agent_id = ?1", params![agent_id, v])
            .map_err(sqlerr)?;
    }
    if let Some(v) = &p.accent_color {
        conn.execute("UPDATE agent_branding SET accent_color = ?2 WHERE agent_id = ?1", params![agent_id, v])
            .map_err(sqlerr)?;
    }
    if let Some(logo) = &p.logo {
        conn.execute(
            "UPDATE agent_branding SET logo_mime = ?2, logo = ?3, logo_version = logo_version + 1
             WHERE agent_id = ?1",
            params![agent_id, logo.as_ref().map(|l| &l.mime_type), logo.as_ref().map(|l| &l.bytes)],
        )
        .map_err(sqlerr)?;
    }
    branding(conn, agent_id).map(Some)
}

pub(crate) fn logo(conn: &Connection, agent_id: i64) -> StoreResult<Option<Logo>> {
    conn.query_row(
        "SELECT logo_mime, logo FROM agent_branding WHERE agent_id = ?1 AND logo IS NOT NULL",
        [agent_id],
        |r| Ok(Logo { mime_type: r.get(0)?, bytes: r.get(1)? }),
    )
    .optional()
    .map_err(sqlerr)
}
