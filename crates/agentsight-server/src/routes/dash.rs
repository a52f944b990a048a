//! The dashboard's settings: agents (with escalation tools and branding), API keys, users,
//! share links, and the share page's info. Admins change; viewers list what they may see.

use agentsight_core::ValidationErrors;
use agentsight_core::dashboard::{self, UserRole};
use agentsight_core::keys::{self, Role};
use agentsight_core::metrics::{DEFAULT_ESCALATION_TOOLS, validate_escalation_tools};
use agentsight_core::time::{now_micros, to_iso};
use agentsight_protocol::dashboard as wire;
use agentsight_store::prelude::*;
use agentsight_store::{
    AgentRow, Branding, BrandingPatch, KeyRow, NewShare, NewUser, ShareRow, StoreError, UserPatch, UserRow,
};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::{hash_password, parse_role};
use super::parse_pk;
use crate::app::{AppState, Store};
use crate::auth::{self, Admin, User, share_grant};
use crate::error::ApiError;
use crate::extract::ApiJson;
use crate::live::Change;

type Created<T> = Result<(StatusCode, Json<T>), ApiError>;

pub(crate) fn user_response(u: &UserRow) -> wire::UserResponse {
    wire::UserResponse {
        id: u.id,
        email: u.email.clone(),
        role: u.role.as_str().to_string(),
        agents: if u.role == UserRole::Admin { vec![] } else { u.agents.clone() },
        created_at: to_iso(u.created_at),
    }
}

fn branding_response(agent_id: i64, b: &Branding, share: Option<&str>) -> wire::BrandingResponse {
    wire::BrandingResponse {
        display_name: b.display_name.clone(),
        accent_color: b.accent_color.clone(),
        logo_url: b.logo_version.map(|v| match share {
            Some(t) => format!("/api/dash/agents/{agent_id}/logo/?v={v}&share={t}"),
            None => format!("/api/dash/agents/{agent_id}/logo/?v={v}"),
        }),
    }
}

async fn agent_response<S: Store>(st: &AppState<S>, a: &AgentRow) -> Result<wire::AgentResponse, ApiError> {
    let (escalation_tools, escalation_tools_default) = match st.config.escalation_tools(a.id).await? {
        Some(list) => (list, false),
        None => (DEFAULT_ESCALATION_TOOLS.iter().map(|s| s.to_string()).collect(), true),
    };
    let branding = st.config.branding(a.id).await?;
    let retention_days = st.config.retention_days(a.id).await?;
    Ok(wire::AgentResponse {
        id: a.id,
        name: a.name.clone(),
        created_at: to_iso(a.created_at),
        environments: a.environments.clone(),
        escalation_tools,
        escalation_tools_default,
        branding: branding_response(a.id, &branding, None),
        retention_days,
    })
}

/// The agent if the user may see it, else 404.
async fn visible_agent<S: Store>(st: &AppState<S>, user: &User, id: &str) -> Result<AgentRow, ApiError> {
    let id = parse_pk(id)?;
    if !user.0.sees(id) {
        return Err(ApiError::NotFound);
    }
    st.config.agent(id).await?.ok_or(ApiError::NotFound)
}

async fn admin_agent<S: Store>(st: &AppState<S>, id: &str) -> Result<AgentRow, ApiError> {
    st.config.agent(parse_pk(id)?).await?.ok_or(ApiError::NotFound)
}

/// `GET /api/dash/agents/`: the agents the user may see.
#[utoipa::path(
    get,
    path = "/api/dash/agents/",
    tag = "dashboard",
    security(("session" = [])),
    responses(
        (status = 200, description = "The agents you may see, oldest first.", body = Vec<wire::AgentResponse>),
    ),
)]
pub(crate) async fn list_agents<S: Store>(
    State(st): State<AppState<S>>,
    user: User,
) -> Result<Json<Vec<wire::AgentResponse>>, ApiError> {
    let mut out = Vec::new();
    for a in st.config.list_agents().await?.iter().filter(|a| user.0.sees(a.id)) {
        out.push(agent_response(&st, a).await?);
    }
    Ok(Json(out))
}

/// `GET /api/dash/agents/{id}/`.
#[utoipa::path(
    get,
    path = "/api/dash/agents/{id}/",
    tag = "dashboard",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Agent id.")),
    responses((status = 200, description = "The agent.", body = wire::AgentResponse)),
)]
pub(crate) async fn get_agent<S: Store>(
    State(st): State<AppState<S>>,
    user: User,
    Path(id): Path<String>,
) -> Result<Json<wire::AgentResponse>, ApiError> {
    let a = visible_agent(&st, &user, &id).await?;
    Ok(Json(agent_response(&st, &a).await?))
}

/// `POST /api/dash/agents/` `{name}`.
#[utoipa::path(
    post,
    path = "/api/dash/agents/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    request_body = wire::CreateAgentPayload,
    responses((status = 201, description = "Created.", body = wire::AgentResponse)),
)]
pub(crate) async fn create_agent<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    ApiJson(p): ApiJson<wire::CreateAgentPayload>,
) -> Created<wire::AgentResponse> {
    let name = dashboard::agent_name(&p.name).map_err(|m| ApiError::field("name", m))?;
    let a = st.config.create_agent(name, now_micros()).await?;
    Ok((StatusCode::CREATED, Json(agent_response(&st, &a).await?)))
}

fn branding_patch(p: &wire::BrandingPayload, e: &mut ValidationErrors) -> BrandingPatch {
    let mut out = BrandingPatch::default();
    if let Some(v) = &p.display_name {
        out.display_name =
            Some(v.as_deref().and_then(|s| e.check("branding.display_name", dashboard::display_name(s))));
    }
    if let Some(v) = &p.accent_color {
        out.accent_color =
            Some(v.as_deref().and_then(|s| e.check("branding.accent_color", dashboard::accent_color(s))));
    }
    if let Some(v) = &p.logo {
        out.logo =
            Some(v.as_deref().and_then(|s| e.check("branding.logo", dashboard::logo_from_data_url(s))));
    }
    out
}

/// `PATCH /api/dash/agents/{id}/` `{name?, escalation_tools?, branding?, retention_days?}`:
/// everything is checked before anything is written.
#[utoipa::path(
    patch,
    path = "/api/dash/agents/{id}/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Agent id.")),
    request_body = wire::PatchAgentPayload,
    responses((status = 200, description = "The agent as changed.", body = wire::AgentResponse)),
)]
pub(crate) async fn patch_agent<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<wire::PatchAgentPayload>,
) -> Result<Json<wire::AgentResponse>, ApiError> {
    let agent = admin_agent(&st, &id).await?;
    let mut e = ValidationErrors::default();
    let name = p.name.as_deref().and_then(|n| e.check("name", dashboard::agent_name(n)));
    let tools = match &p.escalation_tools {
        None => None,
        Some(None) => Some(None),
        Some(Some(list)) => match validate_escalation_tools(list) {
            Ok(t) => Some(Some(t)),
            Err(v) => {
                for (k, msgs) in v.0 {
                    for m in msgs {
                        e.add(k.clone(), m);
                    }
                }
                None
            }
        },
    };
    let branding = p.branding.as_ref().map(|b| branding_patch(b, &mut e));
    let retention = match p.retention_days {
        None => None,
        Some(None) => Some(None),
        Some(Some(d)) => e.check("retention_days", agentsight_core::tracking::retention_days(d)).map(Some),
    };
    e.into_result(())?;
    if let Some(name) = name {
        st.config.rename_agent(agent.id, name).await?.ok_or(ApiError::NotFound)?;
    }
    if let Some(tools) = tools {
        st.config.set_escalation_tools(agent.id, tools).await?;
    }
    if let Some(b) = branding {
        st.config.set_branding(agent.id, b).await?.ok_or(ApiError::NotFound)?;
    }
    if let Some(days) = retention {
        st.config.set_retention_days(agent.id, days).await?;
    }
    // A configuration change (escalation names, branding) is the configuration store's: the event
    // store's feed does not see it, so open dashboards are told here.
    st.live.publish(agent.id, Change::Other);
    let a = admin_agent(&st, &id).await?;
    Ok(Json(agent_response(&st, &a).await?))
}

/// `GET /api/dash/agents/{id}/logo/`: to the agent's users and share links.
#[utoipa::path(
    get,
    path = "/api/dash/agents/{id}/logo/",
    tag = "dashboard",
    security(("api_key" = []), ("session" = []), ("share" = [])),
    params(
        ("id" = i64, Path, description = "Agent id."),
        ("share" = Option<String>, Query, description = "A share token (instead of the header)."),
    ),
    responses(
        (status = 200, description = "The logo, with its stored content type.", content_type = "image/*", body = Vec<u8>),
    ),
)]
pub(crate) async fn get_logo<S: Store>(
    State(st): State<AppState<S>>,
    Path(id): Path<String>,
    parts: Parts,
) -> Result<Response, ApiError> {
    let access = auth::overview_access_to(&parts, &st, parse_pk(&id)?).await?;
    let logo = st.config.logo(access.agent_id()).await?.ok_or(ApiError::NotFound)?;
    let mut res = logo.bytes.into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&logo.mime_type)
            .unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    Ok(res)
}

fn key_response(k: &KeyRow, secret: Option<String>) -> wire::KeyResponse {
    wire::KeyResponse {
        id: k.id,
        prefix: k.prefix.clone(),
        role: k.role.as_str().to_string(),
        created_at: to_iso(k.created_at),
        revoked_at: k.revoked_at.map(to_iso),
        key: secret,
    }
}

/// `GET /api/dash/agents/{id}/keys/`.
#[utoipa::path(
    get,
    path = "/api/dash/agents/{id}/keys/",
    tag = "dashboard",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Agent id.")),
    responses(
        (status = 200, description = "The agent's keys, without secrets.", body = Vec<wire::KeyResponse>),
    ),
)]
pub(crate) async fn list_keys<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<wire::KeyResponse>>, ApiError> {
    let agent = admin_agent(&st, &id).await?;
    let keys = st.config.list_keys().await?;
    Ok(Json(keys.iter().filter(|k| k.agent_id == agent.id).map(|k| key_response(k, None)).collect()))
}

/// `POST /api/dash/agents/{id}/keys/` `{role}`: the secret is in this answer only.
#[utoipa::path(
    post,
    path = "/api/dash/agents/{id}/keys/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Agent id.")),
    request_body = wire::CreateKeyPayload,
    responses(
        (status = 201, description = "The key, with its secret (only now).", body = wire::KeyResponse),
    ),
)]
pub(crate) async fn create_key<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<wire::CreateKeyPayload>,
) -> Created<wire::KeyResponse> {
    let agent = admin_agent(&st, &id).await?;
    let role = match p.role.as_deref().map(str::trim) {
        None | Some("") => Role::Write,
        Some(r) => Role::parse(&r.to_ascii_lowercase())
            .ok_or_else(|| ApiError::field("role", "Use write or read."))?,
    };
    let k = keys::generate();
    let row = st.config.create_key(agent.id, role, k.prefix.clone(), k.hash, now_micros()).await?;
    Ok((StatusCode::CREATED, Json(key_response(&row, Some(k.secret)))))
}

/// `DELETE /api/dash/keys/{id}/`: revokes; the key stops working within a second.
#[utoipa::path(
    delete,
    path = "/api/dash/keys/{id}/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Key id.")),
    responses((status = 200, description = "The key, revoked.", body = wire::KeyResponse)),
)]
pub(crate) async fn revoke_key<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<wire::KeyResponse>, ApiError> {
    let id = parse_pk(&id)?;
    if !st.config.revoke_key(id, now_micros()).await? {
        return Err(ApiError::NotFound);
    }
    let row = st.config.list_keys().await?.into_iter().find(|k| k.id == id).ok_or(ApiError::NotFound)?;
    Ok(Json(key_response(&row, None)))
}

/// `GET /api/dash/users/`.
#[utoipa::path(
    get,
    path = "/api/dash/users/",
    tag = "dashboard",
    security(("session" = [])),
    responses((status = 200, description = "The users.", body = Vec<wire::UserResponse>)),
)]
pub(crate) async fn list_users<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
) -> Result<Json<Vec<wire::UserResponse>>, ApiError> {
    Ok(Json(st.config.list_users().await?.iter().map(user_response).collect()))
}

fn conflict_as_detail(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { field: "user", message } => ApiError::BadRequest(message),
        StoreError::UnknownReference { field: "agents", value } => {
            ApiError::field("agents", format!("Invalid agent \"{value}\" - object does not exist."))
        }
        other => other.into(),
    }
}

/// `POST /api/dash/users/` `{email, password, role, agents}`.
#[utoipa::path(
    post,
    path = "/api/dash/users/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    request_body = wire::CreateUserPayload,
    responses((status = 201, description = "Created.", body = wire::UserResponse)),
)]
pub(crate) async fn create_user<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    ApiJson(p): ApiJson<wire::CreateUserPayload>,
) -> Created<wire::UserResponse> {
    let (email, role) = dashboard::validate_new_user(&p.email, &p.password, &p.role)?;
    let new = NewUser {
        email,
        password_hash: hash_password(p.password).await?,
        role,
        agents: p.agents,
        created_at: now_micros(),
    };
    let u = st.config.create_user(new).await.map_err(conflict_as_detail)?;
    Ok((StatusCode::CREATED, Json(user_response(&u))))
}

/// `PATCH /api/dash/users/{id}/` `{role?, agents?, password?}`.
#[utoipa::path(
    patch,
    path = "/api/dash/users/{id}/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "User id.")),
    request_body = wire::PatchUserPayload,
    responses((status = 200, description = "The user as changed.", body = wire::UserResponse)),
)]
pub(crate) async fn patch_user<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<wire::PatchUserPayload>,
) -> Result<Json<wire::UserResponse>, ApiError> {
    let id = parse_pk(&id)?;
    let mut e = ValidationErrors::default();
    let role = p.role.as_deref().and_then(|r| parse_role(&mut e, r));
    if let Some(pw) = &p.password {
        e.check("password", dashboard::password(pw));
    }
    e.into_result(())?;
    let password_hash = match p.password {
        Some(pw) => Some(hash_password(pw).await?),
        None => None,
    };
    let patch = UserPatch { role, agents: p.agents, password_hash, keep_session: None };
    let u = st.config.update_user(id, patch).await.map_err(conflict_as_detail)?.ok_or(ApiError::NotFound)?;
    Ok(Json(user_response(&u)))
}

/// `DELETE /api/dash/users/{id}/`.
#[utoipa::path(
    delete,
    path = "/api/dash/users/{id}/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "User id.")),
    responses((status = 200, description = "Deleted.", body = super::openapi::Empty)),
)]
pub(crate) async fn delete_user<S: Store>(
    State(st): State<AppState<S>>,
    Admin(me): Admin,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_pk(&id)?;
    if id == me.session.user.id {
        return Err(ApiError::BadRequest("You cannot delete your own account.".into()));
    }
    if !st.config.delete_user(id).await.map_err(conflict_as_detail)? {
        return Err(ApiError::NotFound);
    }
    Ok(Json(json!({})))
}

fn share_response(s: &ShareRow, token: Option<String>) -> wire::ShareResponse {
    wire::ShareResponse {
        id: s.id,
        agent_id: s.agent_id,
        label: s.label.clone(),
        token_prefix: s.token_prefix.clone(),
        created_at: to_iso(s.created_at),
        expires_at: s.expires_at.map(to_iso),
        revoked_at: s.revoked_at.map(to_iso),
        url: token.as_ref().map(|t| format!("/share/{t}")),
        token,
    }
}

/// `GET /api/dash/agents/{id}/shares/`.
#[utoipa::path(
    get,
    path = "/api/dash/agents/{id}/shares/",
    tag = "dashboard",
    security(("session" = [])),
    params(("id" = i64, Path, description = "Agent id.")),
    responses((status = 200, description = "The agent's share links.", body = Vec<wire::ShareResponse>)),
)]
pub(crate) async fn list_shares<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<Vec<wire::ShareResponse>>, ApiError> {
    let agent = admin_agent(&st, &id).await?;
    Ok(Json(st.config.list_shares(agent.id).await?.iter().map(|s| share_response(s, None)).collect()))
}

/// `POST /api/dash/agents/{id}/shares/` `{label?, expires_at?}`: the token is in this answer only.
#[utoipa::path(
    post,
    path = "/api/dash/agents/{id}/shares/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Agent id.")),
    request_body = wire::CreateSharePayload,
    responses(
        (status = 201, description = "The link, with its token (only now).", body = wire::ShareResponse),
    ),
)]
pub(crate) async fn create_share<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
    ApiJson(p): ApiJson<wire::CreateSharePayload>,
) -> Created<wire::ShareResponse> {
    let agent = admin_agent(&st, &id).await?;
    let now = now_micros();
    let mut e = ValidationErrors::default();
    let label = p
        .label
        .as_deref()
        .filter(|l| !l.trim().is_empty())
        .and_then(|l| e.check("label", dashboard::share_label(l)));
    let expires_at = p
        .expires_at
        .as_deref()
        .filter(|x| !x.trim().is_empty())
        .and_then(|x| e.check("expires_at", dashboard::share_expiry(x, now)));
    e.into_result(())?;
    let token = dashboard::generate_token(dashboard::SHARE_PREFIX);
    let row = st
        .config
        .create_share(NewShare {
            agent_id: agent.id,
            label,
            token_prefix: token.prefix.clone(),
            token_hash: token.hash,
            expires_at,
            created_at: now,
        })
        .await?;
    Ok((StatusCode::CREATED, Json(share_response(&row, Some(token.secret)))))
}

/// `DELETE /api/dash/shares/{id}/`: it stops working at once.
#[utoipa::path(
    delete,
    path = "/api/dash/shares/{id}/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    params(("id" = i64, Path, description = "Share link id.")),
    responses((status = 200, description = "The link, revoked.", body = wire::ShareResponse)),
)]
pub(crate) async fn revoke_share<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    Path(id): Path<String>,
) -> Result<Json<wire::ShareResponse>, ApiError> {
    let row = st.config.revoke_share(parse_pk(&id)?, now_micros()).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(share_response(&row, None)))
}

/// `GET /api/share/info/` (share token): what the share page shows around the overview.
#[utoipa::path(
    get,
    path = "/api/share/info/",
    tag = "dashboard",
    security(("share" = [])),
    params(("share" = Option<String>, Query, description = "The share token (instead of the header).")),
    responses((status = 200, description = "What the link shows.", body = wire::ShareInfoResponse)),
)]
pub(crate) async fn share_info<S: Store>(
    State(st): State<AppState<S>>,
    headers: axum::http::HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<wire::ShareInfoResponse>, ApiError> {
    let secret = headers
        .get(crate::auth::SHARE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .or_else(|| q.get("share").cloned())
        .ok_or(ApiError::ShareInvalid)?;
    let (share, _) = share_grant(&st, &secret).await?;
    let agent = st.config.agent(share.agent_id).await?.ok_or(ApiError::ShareInvalid)?;
    let branding = st.config.branding(agent.id).await?;
    Ok(Json(wire::ShareInfoResponse {
        agent: wire::SharedAgent { id: agent.id, name: agent.name, environments: agent.environments },
        branding: branding_response(share.agent_id, &branding, Some(&secret)),
        expires_at: share.expires_at.map(to_iso),
    }))
}

/// Records of the audit log shown at most.
pub(crate) const MAX_ERASURES_LISTED: i64 = 200;

/// `GET /api/dash/erasures/[?agent=ID]`: the audit log of removals (retention, erase), newest
/// first (admins).
#[utoipa::path(
    get,
    path = "/api/dash/erasures/",
    tag = "dashboard",
    security(("session" = [])),
    params(super::openapi::AgentQuery),
    responses(
        (status = 200, description = "The audit log of removals, newest first.", body = Vec<wire::ErasureResponse>),
    ),
)]
pub(crate) async fn list_erasures<S: Store>(
    State(st): State<AppState<S>>,
    _: Admin,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Result<Json<Vec<wire::ErasureResponse>>, ApiError> {
    let agent = q
        .get("agent")
        .map(|a| parse_pk(a).map_err(|_| ApiError::field("agent", "A valid integer is required.")));
    let agent = agent.transpose()?;
    let rows = st.config.erasures(agent, MAX_ERASURES_LISTED).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| wire::ErasureResponse {
                id: r.id,
                at: to_iso(r.at),
                agent: r.agent_id,
                kind: r.kind.as_str().to_string(),
                actor: r.actor,
                conversations: r.conversations,
                messages: r.messages,
            })
            .collect(),
    ))
}
