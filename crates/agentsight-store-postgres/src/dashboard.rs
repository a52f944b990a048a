//! Users, sessions, share links and branding (SQLite's `dashboard.rs`). Writes run in a
//! transaction holding the write lock and refuse (a `Conflict` or `UnknownReference`) before
//! their first write.

use agentsight_core::dashboard::{Logo, SESSION_MAX_AGE_MICROS, UserRole};
use agentsight_core::time::Micros;
use agentsight_store::{
    Branding, BrandingPatch, NewShare, NewUser, SessionRow, ShareRow, StoreError, StoreResult, UserPatch,
    UserRow,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::sql::{exec, get, one, opt, rows};

/// The columns of a [`UserRow`] over `users u`.
const USER_COLUMNS: &str = "u.id, u.email, u.role, \
    ARRAY(SELECT ua.agent_id FROM user_agents ua WHERE ua.user_id = u.id ORDER BY ua.agent_id), u.created_at";

fn user_row(r: &Row) -> StoreResult<UserRow> {
    let role: &str = get(r, 2)?;
    Ok(UserRow {
        id: get(r, 0)?,
        email: get(r, 1)?,
        role: UserRole::parse(role).ok_or_else(|| StoreError::internal(format!("bad user role '{role}'")))?,
        agents: get(r, 3)?,
        created_at: get(r, 4)?,
    })
}

pub(crate) async fn user(c: &impl GenericClient, id: i64) -> StoreResult<Option<UserRow>> {
    opt(c, &format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1"), &[&id])
        .await?
        .as_ref()
        .map(user_row)
        .transpose()
}

pub(crate) async fn user_by_email(
    c: &impl GenericClient,
    email: &str,
) -> StoreResult<Option<(UserRow, String)>> {
    let found =
        opt(c, &format!("SELECT {USER_COLUMNS}, u.password_hash FROM users u WHERE u.email = $1"), &[&email])
            .await?;
    found.map(|r| Ok((user_row(&r)?, get(&r, 5)?))).transpose()
}

pub(crate) async fn list_users(c: &impl GenericClient) -> StoreResult<Vec<UserRow>> {
    rows(c, &format!("SELECT {USER_COLUMNS} FROM users u ORDER BY u.id"), &[])
        .await?
        .iter()
        .map(user_row)
        .collect()
}

pub(crate) async fn has_admin(c: &impl GenericClient) -> StoreResult<bool> {
    get(&one(c, "SELECT EXISTS (SELECT 1 FROM users WHERE role = 'admin')", &[]).await?, 0)
}

async fn admins(c: &impl GenericClient) -> StoreResult<i64> {
    get(&one(c, "SELECT count(*) FROM users WHERE role = 'admin'", &[]).await?, 0)
}

async fn agent_exists(c: &impl GenericClient, id: i64) -> StoreResult<bool> {
    get(&one(c, "SELECT EXISTS (SELECT 1 FROM agents WHERE id = $1)", &[&id]).await?, 0)
}

/// Refuses (before any write) agent ids that do not exist.
async fn check_agents(c: &impl GenericClient, agents: &[i64]) -> StoreResult<()> {
    for a in agents {
        if !agent_exists(c, *a).await? {
            return Err(StoreError::UnknownReference { field: "agents", value: a.to_string() });
        }
    }
    Ok(())
}

async fn set_agents(c: &impl GenericClient, user_id: i64, agents: &[i64]) -> StoreResult<()> {
    exec(c, "DELETE FROM user_agents WHERE user_id = $1", &[&user_id]).await?;
    exec(
        c,
        "INSERT INTO user_agents (user_id, agent_id) SELECT $1, unnest($2::BIGINT[]) ON CONFLICT DO NOTHING",
        &[&user_id, &agents],
    )
    .await?;
    Ok(())
}

pub(crate) async fn create_user(c: &impl GenericClient, u: &NewUser) -> StoreResult<UserRow> {
    let taken: bool =
        get(&one(c, "SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)", &[&u.email]).await?, 0)?;
    if taken {
        return Err(StoreError::Conflict {
            field: "email",
            message: "A user with this email exists.".into(),
        });
    }
    check_agents(c, &u.agents).await?;
    let id: i64 = get(
        &one(
            c,
            "INSERT INTO users (email, password_hash, role, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
            &[&u.email, &u.password_hash, &u.role.as_str(), &u.created_at],
        )
        .await?,
        0,
    )?;
    set_agents(c, id, &u.agents).await?;
    user(c, id).await?.ok_or_else(|| StoreError::internal("created user vanished"))
}

pub(crate) async fn create_first_admin(c: &impl GenericClient, u: &NewUser) -> StoreResult<Option<UserRow>> {
    if has_admin(c).await? {
        return Ok(None);
    }
    create_user(c, u).await.map(Some)
}

pub(crate) async fn update_user(
    c: &impl GenericClient,
    id: i64,
    p: &UserPatch,
) -> StoreResult<Option<UserRow>> {
    let Some(current) = user(c, id).await? else {
        return Ok(None);
    };
    if current.role == UserRole::Admin && p.role == Some(UserRole::Viewer) && admins(c).await? <= 1 {
        return Err(StoreError::Conflict {
            field: "role",
            message: "The last admin cannot be demoted.".into(),
        });
    }
    if let Some(agents) = &p.agents {
        check_agents(c, agents).await?;
    }
    if let Some(role) = p.role {
        exec(c, "UPDATE users SET role = $2 WHERE id = $1", &[&id, &role.as_str()]).await?;
    }
    if let Some(agents) = &p.agents {
        set_agents(c, id, agents).await?;
    }
    if let Some(hash) = &p.password_hash {
        exec(c, "UPDATE users SET password_hash = $2 WHERE id = $1", &[&id, hash]).await?;
        let keep = p.keep_session.map(|h| h.to_vec()).unwrap_or_default();
        exec(c, "DELETE FROM sessions WHERE user_id = $1 AND token_hash != $2", &[&id, &keep]).await?;
    }
    user(c, id).await
}

pub(crate) async fn delete_user(c: &impl GenericClient, id: i64) -> StoreResult<bool> {
    let Some(current) = user(c, id).await? else {
        return Ok(false);
    };
    if current.role == UserRole::Admin && admins(c).await? <= 1 {
        return Err(StoreError::Conflict {
            field: "user",
            message: "The last admin cannot be deleted.".into(),
        });
    }
    // Sessions and assignments go with the user (ON DELETE CASCADE).
    exec(c, "DELETE FROM users WHERE id = $1", &[&id]).await?;
    Ok(true)
}

pub(crate) async fn create_session(
    c: &impl GenericClient,
    user_id: i64,
    hash: &[u8; 32],
    now: Micros,
    expires_at: Micros,
) -> StoreResult<()> {
    let exists: bool =
        get(&one(c, "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)", &[&user_id]).await?, 0)?;
    if !exists {
        return Err(StoreError::UnknownReference { field: "user", value: user_id.to_string() });
    }
    exec(
        c,
        "INSERT INTO sessions (user_id, token_hash, created_at, refreshed_at, expires_at)
         VALUES ($1, $2, $3, $3, $4)",
        &[&user_id, &&hash[..], &now, &expires_at],
    )
    .await?;
    Ok(())
}

pub(crate) async fn session(
    c: &impl GenericClient,
    hash: &[u8; 32],
    now: Micros,
) -> StoreResult<Option<SessionRow>> {
    let found = opt(
        c,
        &format!(
            "SELECT s.id, s.refreshed_at, s.expires_at, {USER_COLUMNS}
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.expires_at > $2 AND s.created_at + $3::BIGINT > $2"
        ),
        &[&&hash[..], &now, &SESSION_MAX_AGE_MICROS],
    )
    .await?;
    let Some(r) = found else {
        return Ok(None);
    };
    let role: &str = get(&r, 5)?;
    let user = UserRow {
        id: get(&r, 3)?,
        email: get(&r, 4)?,
        role: UserRole::parse(role).ok_or_else(|| StoreError::internal(format!("bad user role '{role}'")))?,
        agents: get(&r, 6)?,
        created_at: get(&r, 7)?,
    };
    Ok(Some(SessionRow { id: get(&r, 0)?, user, refreshed_at: get(&r, 1)?, expires_at: get(&r, 2)? }))
}

pub(crate) async fn extend_session(
    c: &impl GenericClient,
    id: i64,
    now: Micros,
    expires_at: Micros,
) -> StoreResult<()> {
    exec(
        c,
        // Never past the absolute maximum counted from its creation.
        "UPDATE sessions SET refreshed_at = $2, expires_at = LEAST($3::BIGINT, created_at + $4::BIGINT)
         WHERE id = $1",
        &[&id, &now, &expires_at, &SESSION_MAX_AGE_MICROS],
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_session(c: &impl GenericClient, hash: &[u8; 32]) -> StoreResult<bool> {
    Ok(exec(c, "DELETE FROM sessions WHERE token_hash = $1", &[&&hash[..]]).await? == 1)
}

const SHARE_COLUMNS: &str = "id, agent_id, label, token_prefix, created_at, expires_at, revoked_at";

fn share_row(r: &Row) -> StoreResult<ShareRow> {
    Ok(ShareRow {
        id: get(r, 0)?,
        agent_id: get(r, 1)?,
        label: get(r, 2)?,
        token_prefix: get(r, 3)?,
        created_at: get(r, 4)?,
        expires_at: get(r, 5)?,
        revoked_at: get(r, 6)?,
    })
}

pub(crate) async fn create_share(c: &impl GenericClient, s: &NewShare) -> StoreResult<ShareRow> {
    if !agent_exists(c, s.agent_id).await? {
        return Err(StoreError::UnknownReference { field: "agent", value: s.agent_id.to_string() });
    }
    let r = one(
        c,
        &format!(
            "INSERT INTO shares (agent_id, label, token_prefix, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {SHARE_COLUMNS}"
        ),
        &[&s.agent_id, &s.label, &s.token_prefix, &&s.token_hash[..], &s.created_at, &s.expires_at],
    )
    .await?;
    share_row(&r)
}

pub(crate) async fn share(c: &impl GenericClient, id: i64) -> StoreResult<Option<ShareRow>> {
    opt(c, &format!("SELECT {SHARE_COLUMNS} FROM shares WHERE id = $1"), &[&id])
        .await?
        .as_ref()
        .map(share_row)
        .transpose()
}

pub(crate) async fn share_by_hash(c: &impl GenericClient, hash: &[u8; 32]) -> StoreResult<Option<ShareRow>> {
    opt(c, &format!("SELECT {SHARE_COLUMNS} FROM shares WHERE token_hash = $1"), &[&&hash[..]])
        .await?
        .as_ref()
        .map(share_row)
        .transpose()
}

pub(crate) async fn list_shares(c: &impl GenericClient, agent_id: i64) -> StoreResult<Vec<ShareRow>> {
    rows(c, &format!("SELECT {SHARE_COLUMNS} FROM shares WHERE agent_id = $1 ORDER BY id DESC"), &[&agent_id])
        .await?
        .iter()
        .map(share_row)
        .collect()
}

pub(crate) async fn revoke_share(
    c: &impl GenericClient,
    id: i64,
    now: Micros,
) -> StoreResult<Option<ShareRow>> {
    opt(
        c,
        &format!(
            "UPDATE shares SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING {SHARE_COLUMNS}"
        ),
        &[&id, &now],
    )
    .await?
    .as_ref()
    .map(share_row)
    .transpose()
}

pub(crate) async fn branding(c: &impl GenericClient, agent_id: i64) -> StoreResult<Branding> {
    let found = opt(
        c,
        "SELECT display_name, accent_color, CASE WHEN logo IS NULL THEN NULL ELSE logo_version END
         FROM agent_branding WHERE agent_id = $1",
        &[&agent_id],
    )
    .await?;
    match found {
        None => Ok(Branding::default()),
        Some(r) => {
            Ok(Branding { display_name: get(&r, 0)?, accent_color: get(&r, 1)?, logo_version: get(&r, 2)? })
        }
    }
}

pub(crate) async fn set_branding(
    c: &impl GenericClient,
    agent_id: i64,
    p: &BrandingPatch,
) -> StoreResult<Option<Branding>> {
    if !agent_exists(c, agent_id).await? {
        return Ok(None);
    }
    exec(c, "INSERT INTO agent_branding (agent_id) VALUES ($1) ON CONFLICT DO NOTHING", &[&agent_id]).await?;
    if let Some(v) = &p.display_name {
        exec(c, "UPDATE agent_branding SET display_name = $2 WHERE agent_id = $1", &[&agent_id, v]).await?;
    }
    if let Some(v) = &p.accent_color {
        exec(c, "UPDATE agent_branding SET accent_color = $2 WHERE agent_id = $1", &[&agent_id, v]).await?;
    }
    if let Some(logo) = &p.logo {
        exec(
            c,
            "UPDATE agent_branding SET logo_mime = $2, logo = $3, logo_version = logo_version + 1
             WHERE agent_id = $1",
            &[
                &agent_id,
                &logo.as_ref().map(|l| l.mime_type.as_str()),
                &logo.as_ref().map(|l| l.bytes.as_slice()),
            ],
        )
        .await?;
    }
    branding(c, agent_id).await.map(Some)
}

pub(crate) async fn logo(c: &impl GenericClient, agent_id: i64) -> StoreResult<Option<Logo>> {
    opt(
        c,
        "SELECT logo_mime, logo FROM agent_branding WHERE agent_id = $1 AND logo IS NOT NULL",
        &[&agent_id],
    )
    .await?
    .map(|r| Ok(Logo { mime_type: get(&r, 0)?, bytes: get(&r, 1)? }))
    .transpose()
}
