//! Sign-in: `/api/auth/state/`, `setup/`, `login/`, `logout/`, `me/`, `password/`.

use agentsight_core::ValidationErrors;
use agentsight_core::dashboard::{self, UserRole};
use agentsight_core::time::now_micros;
use agentsight_protocol::dashboard as wire;
use agentsight_store::prelude::*;
use agentsight_store::{NewUser, UserPatch, UserRow};
use axum::Json;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::dash::user_response;
use crate::app::{AppState, Store};
use crate::auth::{User, client_addr, session_cookie};
use crate::error::ApiError;
use crate::extract::{parse_json, read_body};
use crate::proxy::{SecureCookies, secure_cookies};

/// Hashes on the blocking pool (argon2 takes tens of milliseconds on purpose).
pub(crate) async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || dashboard::hash_password(&password))
        .await
        .map_err(|e| ApiError::internal_from("hash task", e))?
        .map_err(|e| ApiError::internal_from("hashing a password", e))
}

async fn verify_password(stored: String, password: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || dashboard::verify_password(&stored, &password))
        .await
        .map_err(|e| ApiError::internal_from("verify task", e))
}

/// A JSON body of at most [`dashboard::MAX_AUTH_BODY_BYTES`], refusing anything but
/// `application/json` (a cross-site form cannot send it, so sign-in needs no CSRF token).
async fn strict_json<T: serde::de::DeserializeOwned>(req: Request) -> Result<T, ApiError> {
    let ct = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !ct.trim().to_ascii_lowercase().starts_with("application/json") {
        return Err(ApiError::UnsupportedMediaType("Send application/json.".into()));
    }
    let body = read_body(req, dashboard::MAX_AUTH_BODY_BYTES).await?;
    parse_json(&agentsight_core::normalize::json_nul_escapes_replaced(&body))
}

/// Starts a session for `user`: the answer carries the cookie and the CSRF token.
async fn sign_in<S: Store>(
    st: &AppState<S>,
    user: &UserRow,
    headers_secure: bool,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let token = dashboard::generate_token(dashboard::SESSION_PREFIX);
    let now = now_micros();
    st.config.create_session(user.id, token.hash, now, now + dashboard::SESSION_TTL_MICROS).await?;
    let body =
        wire::MeResponse { user: user_response(user), csrf_token: dashboard::csrf_token(&token.secret) };
    let mut res = (status, Json(body)).into_response();
    res.headers_mut().append(header::SET_COOKIE, session_cookie(Some(&token.secret), headers_secure));
    Ok(res)
}

/// `GET /api/auth/state/`: whether the first admin is still to be set up, and whether this
/// request carries a live session (so the dashboard asks `me/` only then, instead of drawing a
/// 401 on every visit while signed out).
#[utoipa::path(
    get,
    path = "/api/auth/state/",
    tag = "dashboard",
    responses((status = 200, description = "The state.", body = super::openapi::AuthState)),
)]
pub(crate) async fn get_state<S: Store>(
    State(st): State<AppState<S>>,
    signed: Option<axum::Extension<std::sync::Arc<crate::auth::Signed>>>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "needs_setup": !st.config.has_admin().await?, "signed_in": signed.is_some() })))
}

/// `POST /api/auth/setup/`: the first admin, with the one-time token of the setup link.
#[utoipa::path(
    post,
    path = "/api/auth/setup/",
    tag = "dashboard",
    request_body = wire::SetupPayload,
    responses(
        (status = 201, description = "The first admin, signed in (`Set-Cookie`).", body = wire::MeResponse),
        (status = 403, description = "The setup link is invalid, used or expired.", body = super::openapi::ErrorDetail),
    ),
)]
pub(crate) async fn setup<S: Store>(
    State(st): State<AppState<S>>,
    req: Request,
) -> Result<Response, ApiError> {
    let secure = secure_cookies(&st.settings, req.extensions());
    let p: wire::SetupPayload = strict_json(req).await?;
    let (email, role) = dashboard::validate_new_user(&p.email, &p.password, "admin")?;
    let refused = ApiError::Forbidden("This setup link is invalid or was already used.");
    let presented = dashboard::token_hash(&p.token);
    // Taken out of the state before the write, so two requests with the token cannot both win.
    let taken = {
        let mut slot = st.setup.lock().map_err(|_| ApiError::internal("setup lock"))?;
        match *slot {
            Some((h, expires_at)) if agentsight_core::keys::hashes_equal(&h, &presented) => {
                if now_micros() >= expires_at {
                    return Err(ApiError::Forbidden(
                        "This setup link has expired: restart the server for a new one, or use agentsight user create.",
                    ));
                }
                slot.take()
            }
            _ => None,
        }
    };
    let Some(entry) = taken else { return Err(refused) };
    let restore = |st: &AppState<S>| {
        if let Ok(mut slot) = st.setup.lock() {
            *slot = Some(entry);
        }
    };
    let password_hash = match hash_password(p.password).await {
        Ok(h) => h,
        Err(e) => {
            restore(&st);
            return Err(e);
        }
    };
    let new = NewUser { email, password_hash, role, agents: vec![], created_at: now_micros() };
    match st.config.create_first_admin(new).await {
        Ok(Some(user)) => sign_in(&st, &user, secure, StatusCode::CREATED).await,
        // Someone made an admin another way (the CLI): the link is spent.
        Ok(None) => Err(refused),
        Err(e) => {
            restore(&st);
            Err(e.into())
        }
    }
}

/// `POST /api/auth/login/`.
#[utoipa::path(
    post,
    path = "/api/auth/login/",
    tag = "dashboard",
    request_body = wire::LoginPayload,
    responses(
        (status = 200, description = "Signed in (`Set-Cookie`).", body = wire::MeResponse),
        (status = 429, description = "Too many attempts (`Retry-After`).", body = super::openapi::ErrorDetail),
    ),
)]
pub(crate) async fn login<S: Store>(
    State(st): State<AppState<S>>,
    req: Request,
) -> Result<Response, ApiError> {
    let secure = secure_cookies(&st.settings, req.extensions());
    let client = client_addr(req.extensions());
    let p: wire::LoginPayload = strict_json(req).await?;
    // Validated before it is counted: the limiter keys only valid, bounded addresses.
    let email = dashboard::email(&p.email).ok();
    st.logins.check(email.as_deref(), client)?;
    let invalid = || ApiError::BadRequest("Invalid email or password.".into());
    let found = match email {
        Some(email) => st.config.user_by_email(email).await?,
        None => None,
    };
    // An unknown e-mail costs the same argon2 verification as a wrong password.
    let (user, stored) = match found {
        Some((u, h)) => (Some(u), h),
        None => (None, dashboard::dummy_hash().to_string()),
    };
    let ok = verify_password(stored, p.password).await?;
    match user {
        Some(u) if ok => sign_in(&st, &u, secure, StatusCode::OK).await,
        _ => Err(invalid()),
    }
}

/// `POST /api/auth/logout/`.
#[utoipa::path(
    post,
    path = "/api/auth/logout/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    responses(
        (status = 200, description = "Signed out; the cookie is cleared.", body = super::openapi::Empty),
    ),
)]
pub(crate) async fn logout<S: Store>(
    State(st): State<AppState<S>>,
    SecureCookies(secure): SecureCookies,
    User(s): User,
) -> Result<Response, ApiError> {
    st.config.delete_session(dashboard::token_hash(&s.secret)).await?;
    let mut res = Json(json!({})).into_response();
    res.headers_mut().append(header::SET_COOKIE, session_cookie(None, secure));
    Ok(res)
}

/// `GET /api/auth/me/`.
#[utoipa::path(
    get,
    path = "/api/auth/me/",
    tag = "dashboard",
    security(("session" = [])),
    responses((status = 200, description = "The user.", body = wire::MeResponse)),
)]
pub(crate) async fn me(User(s): User) -> Json<wire::MeResponse> {
    Json(wire::MeResponse {
        user: user_response(&s.session.user),
        csrf_token: dashboard::csrf_token(&s.secret),
    })
}

/// `POST /api/auth/password/`: a new password for yourself; your other sessions end. Guesses of
/// the current password are throttled per user (each costs an argon2 verification).
#[utoipa::path(
    post,
    path = "/api/auth/password/",
    tag = "dashboard",
    security(("session" = [], "csrf" = [])),
    request_body = wire::PasswordPayload,
    responses(
        (status = 200, description = "Changed; other sessions end.", body = super::openapi::Empty),
        (status = 429, description = "Too many checks of the current password (`Retry-After`).", body = super::openapi::ErrorDetail),
    ),
)]
pub(crate) async fn change_password<S: Store>(
    State(st): State<AppState<S>>,
    User(s): User,
    req: Request,
) -> Result<Json<Value>, ApiError> {
    let p: wire::PasswordPayload = strict_json(req).await?;
    let mut e = ValidationErrors::default();
    e.check("new_password", dashboard::password(&p.new_password));
    e.into_result(())?;
    st.logins.check_user(s.session.user.id)?;
    let stored =
        st.config.user_by_email(s.session.user.email.clone()).await?.map(|(_, h)| h).unwrap_or_default();
    if !verify_password(stored, p.current_password).await? {
        return Err(ApiError::field("current_password", "The password is not correct."));
    }
    let patch = UserPatch {
        password_hash: Some(hash_password(p.new_password).await?),
        keep_session: Some(dashboard::token_hash(&s.secret)),
        ..Default::default()
    };
    st.config.update_user(s.session.user.id, patch).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(json!({})))
}

/// Whether a role may be assigned by this payload's text.
pub(crate) fn parse_role(e: &mut ValidationErrors, v: &str) -> Option<UserRole> {
    e.check("role", UserRole::parse(v).ok_or_else(|| "Use admin or viewer.".to_string()))
}
