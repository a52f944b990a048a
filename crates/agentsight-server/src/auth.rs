//! Dashboard authentication: the session cookie (resolved once per request by [`sessions`]),
//! CSRF, roles, share tokens, and the extractors that say which agent a request may read or
//! change, whichever credential it came with (API key, session, share token).
//!
//! Rules (docs/dashboard-api.md): a request with `Authorization` is judged by its key alone;
//! a session needs `agent=<id>` on per-agent endpoints and `X-CSRF-Token` on every write; a
//! share token reads one agent's overview and nothing else. An agent the caller cannot see is
//! a 404, a write the caller may not do a 403.

use agentsight_store::prelude::*;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use agentsight_core::dashboard::{self, UserRole};
use agentsight_core::keys::Role;
use agentsight_core::time::now_micros;
use agentsight_store::{AgentRef, AgentRow, SessionRow, ShareRow};
use axum::extract::{FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::app::{AppState, Store};
use crate::error::ApiError;
use crate::extract::{Authed, principal};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "agentsight_session";
/// The CSRF header of session-authenticated writes.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The share token header.
pub const SHARE_HEADER: &str = "x-share-token";

/// What a share token is told when it asks for more than the overview.
pub(crate) const SHARE_ONLY: &str = "A share link gives read-only access to the overview only.";

/// A signed-in request: its session (with the user as stored now) and the cookie's secret.
#[derive(Debug)]
pub struct Signed {
    /// The session and its user.
    pub session: SessionRow,
    /// The session token (for the CSRF token).
    pub secret: String,
}

impl Signed {
    /// The user may see this agent.
    pub fn sees(&self, agent_id: i64) -> bool {
        self.session.user.role == UserRole::Admin || self.session.user.agents.contains(&agent_id)
    }
}

/// The `Set-Cookie` value that stores a session token (or, with `None`, deletes it).
pub fn session_cookie(secret: Option<&str>, secure: bool) -> HeaderValue {
    let mut c = Cookie::build((SESSION_COOKIE, secret.unwrap_or("").to_string()))
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(secure);
    c = match secret {
        Some(_) => c.max_age(cookie::time::Duration::microseconds(dashboard::SESSION_TTL_MICROS)),
        None => c.max_age(cookie::time::Duration::ZERO),
    };
    HeaderValue::from_str(&c.build().to_string()).unwrap_or(HeaderValue::from_static(""))
}

fn cookie_secret(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        Cookie::split_parse(v)
            .filter_map(Result::ok)
            .find(|c| c.name() == SESSION_COOKIE)
            .map(|c| c.value().to_string())
    })
}

/// Middleware: resolves the session cookie once (requests with `Authorization` skip it), puts
/// [`Signed`] into the request's extensions, and slides the session's expiry at most once a day
/// (re-sending the cookie).
pub async fn sessions<S: Store>(State(st): State<AppState<S>>, mut req: Request, next: Next) -> Response {
    if req.headers().contains_key(header::AUTHORIZATION) {
        return next.run(req).await;
    }
    let Some(secret) =
        cookie_secret(req.headers()).filter(|s| dashboard::is_token(dashboard::SESSION_PREFIX, s))
    else {
        return next.run(req).await;
    };
    let now = now_micros();
    let mut session = match st.config.session(dashboard::token_hash(&secret), now).await {
        Ok(Some(s)) => s,
        // An ended session's cookie is ignored: the request is anonymous.
        Ok(None) => return next.run(req).await,
        Err(e) => return ApiError::from(e).into_response(),
    };
    let refresh = now - session.refreshed_at >= dashboard::SESSION_REFRESH_AFTER_MICROS;
    if refresh {
        let expires = now + dashboard::SESSION_TTL_MICROS;
        if let Err(e) = st.config.extend_session(session.id, now, expires).await {
            return ApiError::from(e).into_response();
        }
        session.refreshed_at = now;
        session.expires_at = expires;
    }
    let secure = crate::proxy::secure_cookies(&st.settings, req.extensions());
    req.extensions_mut().insert(Arc::new(Signed { session, secret: secret.clone() }));
    let mut res = next.run(req).await;
    if refresh && !res.headers().contains_key(header::SET_COOKIE) {
        res.headers_mut().append(header::SET_COOKIE, session_cookie(Some(&secret), secure));
    }
    res
}

fn is_write(m: &Method) -> bool {
    !matches!(*m, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The request's session, with the CSRF check for writes.
fn signed(parts: &Parts) -> Result<Arc<Signed>, ApiError> {
    let Some(s) = parts.extensions.get::<Arc<Signed>>().cloned() else {
        return Err(if has_share_token(parts) {
            ApiError::Forbidden(SHARE_ONLY)
        } else {
            ApiError::Unauthenticated("Authentication credentials were not provided.")
        });
    };
    if is_write(&parts.method) {
        let presented = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !dashboard::csrf_matches(&s.secret, presented) {
            return Err(ApiError::CsrfFailed);
        }
    }
    Ok(s)
}

/// A signed-in user (401 otherwise); writes need the CSRF header (403 otherwise).
#[derive(Debug, Clone)]
pub struct User(pub Arc<Signed>);

/// A signed-in admin (403 for a viewer).
#[derive(Debug, Clone)]
pub struct Admin(pub Arc<Signed>);

impl<S: Store> FromRequestParts<AppState<S>> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState<S>) -> Result<Self, ApiError> {
        signed(parts).map(User)
    }
}

impl<S: Store> FromRequestParts<AppState<S>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState<S>) -> Result<Self, ApiError> {
        let s = signed(parts)?;
        if s.session.user.role != UserRole::Admin {
            return Err(ApiError::Forbidden("Only admins may do this."));
        }
        Ok(Admin(s))
    }
}

/// The credential an agent access came with (kept to recheck long-lived streams).
#[derive(Debug, Clone)]
pub enum Via {
    /// An API key.
    Key(Arc<Authed>),
    /// A dashboard session.
    Session(Arc<Signed>),
    /// A share link.
    Share(ShareRow, [u8; 32]),
}

/// What a request may do with one agent.
#[derive(Debug, Clone)]
pub struct AgentAccess {
    /// The agent.
    pub agent: AgentRef,
    /// Its environments.
    pub environments: Vec<String>,
    /// The credential.
    pub via: Via,
}

impl AgentAccess {
    /// The agent's id.
    pub fn agent_id(&self) -> i64 {
        self.agent.id
    }

    /// The agent, as responses name it.
    pub fn agent_ref(&self) -> AgentRef {
        self.agent.clone()
    }

    /// The validation scope of the agent.
    pub fn scope(&self) -> agentsight_core::tracking::AgentScope {
        agentsight_core::tracking::AgentScope {
            agent_id: self.agent.id,
            environments: self.environments.clone(),
        }
    }
}

/// What the endpoint does with the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    /// The overview: metrics, live feed, logo (share links allowed).
    Overview,
    /// Reading conversations (no share links).
    Read,
    /// Changing something (write keys, admins).
    Write,
}

fn share_secret(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get(SHARE_HEADER).and_then(|v| v.to_str().ok()) {
        return Some(v.trim().to_string());
    }
    Query::<HashMap<String, String>>::try_from_uri(&parts.uri).ok().and_then(|q| q.0.get("share").cloned())
}

/// True when the request carries a share token (header or `share=`).
pub(crate) fn has_share_token(parts: &Parts) -> bool {
    share_secret(parts).is_some()
}

fn agent_param(parts: &Parts) -> Result<Option<i64>, ApiError> {
    let q = Query::<HashMap<String, String>>::try_from_uri(&parts.uri).map(|q| q.0).unwrap_or_default();
    match q.get("agent").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => {
            v.parse::<i64>().map(Some).map_err(|_| ApiError::field("agent", "A valid integer is required."))
        }
    }
}

async fn agent_row<S: Store>(st: &AppState<S>, id: i64) -> Result<AgentRow, ApiError> {
    st.config.agent(id).await?.ok_or(ApiError::NotFound)
}

fn access_of(a: AgentRow, via: Via) -> AgentAccess {
    AgentAccess { agent: AgentRef { id: a.id, name: a.name }, environments: a.environments, via }
}

/// Checks a share token: known, not revoked, not expired.
pub async fn share_grant<S: Store>(st: &AppState<S>, secret: &str) -> Result<(ShareRow, [u8; 32]), ApiError> {
    if !dashboard::is_token(dashboard::SHARE_PREFIX, secret) {
        return Err(ApiError::ShareInvalid);
    }
    let hash = dashboard::token_hash(secret);
    match st.config.share_by_hash(hash).await? {
        Some(s) if dashboard::share_is_live(s.expires_at, s.revoked_at, now_micros()) => Ok((s, hash)),
        _ => Err(ApiError::ShareInvalid),
    }
}

async fn resolve<S: Store>(parts: &Parts, st: &AppState<S>, need: Need) -> Result<AgentAccess, ApiError> {
    resolve_agent(parts, st, need, None).await
}

/// Overview access to the agent a path names (`/api/dash/agents/{id}/…`): as [`OverviewAccess`],
/// but a session takes the agent from the path and needs no `agent=`; one that differs is 404.
pub async fn overview_access_to<S: Store>(
    parts: &Parts,
    st: &AppState<S>,
    agent_id: i64,
) -> Result<AgentAccess, ApiError> {
    let a = resolve_agent(parts, st, Need::Overview, Some(agent_id)).await?;
    if a.agent_id() != agent_id {
        return Err(ApiError::NotFound);
    }
    Ok(a)
}

async fn resolve_agent<S: Store>(
    parts: &Parts,
    st: &AppState<S>,
    need: Need,
    path_agent: Option<i64>,
) -> Result<AgentAccess, ApiError> {
    if parts.headers.contains_key(header::AUTHORIZATION) {
        let key = principal(parts, st).await?;
        if need == Need::Write && key.principal.role != Role::Write {
            return Err(ApiError::Forbidden("This API key is read-only; writes need a write key."));
        }
        let agent = AgentRef { id: key.principal.agent_id, name: key.principal.agent_name.clone() };
        return Ok(AgentAccess { agent, environments: key.scope.environments.clone(), via: Via::Key(key) });
    }
    if let Some(secret) = share_secret(parts) {
        if need != Need::Overview || is_write(&parts.method) {
            return Err(ApiError::Forbidden(SHARE_ONLY));
        }
        let (share, hash) = share_grant(st, &secret).await?;
        if agent_param(parts)?.is_some_and(|a| a != share.agent_id) {
            return Err(ApiError::NotFound);
        }
        let agent = agent_row(st, share.agent_id).await?;
        return Ok(access_of(agent, Via::Share(share, hash)));
    }
    let s = signed(parts)?;
    let agent_id = match (agent_param(parts)?, path_agent) {
        (Some(q), Some(p)) if q != p => return Err(ApiError::NotFound),
        (q, p) => q.or(p).ok_or_else(|| ApiError::field("agent", "This query parameter is required."))?,
    };
    if !s.sees(agent_id) {
        return Err(ApiError::NotFound);
    }
    let agent = agent_row(st, agent_id).await?;
    if need == Need::Write && s.session.user.role != UserRole::Admin {
        return Err(ApiError::Forbidden("Viewers have read-only access."));
    }
    Ok(access_of(agent, Via::Session(s)))
}

/// Re-checks that a credential still grants access (for long-lived event streams).
pub async fn still_allowed<S: Store>(st: &AppState<S>, a: &AgentAccess) -> bool {
    let now = now_micros();
    match &a.via {
        Via::Key(k) => {
            let hash: Result<[u8; 32], _> = k.principal.key_hash.as_slice().try_into();
            match hash {
                Ok(h) => matches!(st.config.authenticate(h).await, Ok(Some(_))),
                Err(_) => false,
            }
        }
        Via::Session(s) => match st.config.session(dashboard::token_hash(&s.secret), now).await {
            Ok(Some(row)) => row.user.role == UserRole::Admin || row.user.agents.contains(&a.agent.id),
            _ => false,
        },
        Via::Share(_, hash) => match st.config.share_by_hash(*hash).await {
            Ok(Some(row)) => dashboard::share_is_live(row.expires_at, row.revoked_at, now),
            _ => false,
        },
    }
}

/// Reads the overview of an agent: any key of it, a session that sees it, or its share link.
#[derive(Debug, Clone)]
pub struct OverviewAccess(pub AgentAccess);

/// Reads an agent's conversations: any key of it, or a session that sees it.
#[derive(Debug, Clone)]
pub struct ReadAccess(pub AgentAccess);

/// Changes an agent's conversations: a write key of it, or an admin's session (+ CSRF).
#[derive(Debug, Clone)]
pub struct WriteAccess(pub AgentAccess);

macro_rules! access_extractor {
    ($t:ident, $need:expr) => {
        impl<S: Store> FromRequestParts<AppState<S>> for $t {
            type Rejection = ApiError;

            async fn from_request_parts(parts: &mut Parts, st: &AppState<S>) -> Result<Self, ApiError> {
                resolve(parts, st, $need).await.map($t)
            }
        }

        impl std::ops::Deref for $t {
            type Target = AgentAccess;

            fn deref(&self) -> &AgentAccess {
                &self.0
            }
        }
    };
}

access_extractor!(OverviewAccess, Need::Overview);
access_extractor!(ReadAccess, Need::Read);
access_extractor!(WriteAccess, Need::Write);

/// Sign-in attempts allowed per e-mail address per minute.
pub const LOGIN_PER_EMAIL_PER_MINUTE: u32 = 5;
/// Sign-in attempts allowed per client address per minute.
pub const LOGIN_PER_CLIENT_PER_MINUTE: u32 = 20;
/// Guesses of the current password allowed per signed-in user per minute (password change).
pub const PASSWORD_CHECKS_PER_USER_PER_MINUTE: u32 = 5;
/// Keys a limiter holds before it forgets the ones whose budget is full again.
const LIMITER_KEYS_BEFORE_PRUNE: usize = 100_000;

/// Rate limits of password checks: sign-in by e-mail and by client address, and the current
/// password of a password change by user.
///
/// Every key is bounded: an e-mail is counted only once it is a valid address (at most
/// [`dashboard::MAX_EMAIL_CHARS`]), so what a client sends cannot grow the limiter's memory past
/// about [`LIMITER_KEYS_BEFORE_PRUNE`] short keys.
pub struct LoginLimiter {
    by_email: DefaultKeyedRateLimiter<String>,
    by_client: DefaultKeyedRateLimiter<IpAddr>,
    by_user: DefaultKeyedRateLimiter<i64>,
}

impl Default for LoginLimiter {
    fn default() -> Self {
        let quota = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        LoginLimiter {
            by_email: RateLimiter::keyed(quota(LOGIN_PER_EMAIL_PER_MINUTE)),
            by_client: RateLimiter::keyed(quota(LOGIN_PER_CLIENT_PER_MINUTE)),
            by_user: RateLimiter::keyed(quota(PASSWORD_CHECKS_PER_USER_PER_MINUTE)),
        }
    }
}

fn too_many(nu: governor::NotUntil<governor::clock::QuantaInstant>) -> ApiError {
    use governor::clock::{Clock, DefaultClock};
    ApiError::TooManyAttempts(nu.wait_time_from(DefaultClock::default().now()).as_secs().max(1))
}

fn prune<K: std::hash::Hash + Eq + Clone>(l: &DefaultKeyedRateLimiter<K>) {
    if l.len() > LIMITER_KEYS_BEFORE_PRUNE {
        l.retain_recent();
    }
}

impl LoginLimiter {
    /// Counts a sign-in attempt from `client` for `email` (`None` when what was sent is not a
    /// valid address: it is counted against the client only); `Err` with the seconds to wait
    /// when over a limit.
    pub fn check(&self, email: Option<&str>, client: Option<IpAddr>) -> Result<(), ApiError> {
        prune(&self.by_email);
        prune(&self.by_client);
        if let Some(ip) = client {
            self.by_client.check_key(&ip).map_err(too_many)?;
        }
        match email {
            Some(e) if e.chars().count() <= dashboard::MAX_EMAIL_CHARS => {
                self.by_email.check_key(&e.to_string()).map_err(too_many)
            }
            _ => Ok(()),
        }
    }

    /// Counts a check of `user_id`'s current password (a password change).
    pub fn check_user(&self, user_id: i64) -> Result<(), ApiError> {
        prune(&self.by_user);
        self.by_user.check_key(&user_id).map_err(too_many)
    }

    /// Keys held (for tests: what a client can make the limiter remember).
    pub fn keys(&self) -> usize {
        self.by_email.len() + self.by_client.len() + self.by_user.len()
    }
}

/// The client's address: the TCP peer, or the address a trusted proxy reports for it
/// ([`crate::proxy::Client`]); `None` when the server did not record the peer.
pub fn client_addr(ext: &axum::http::Extensions) -> Option<IpAddr> {
    ext.get::<crate::proxy::Client>().map(|c| c.addr)
}

#[cfg(test)]
mod limiter_tests {
    use super::*;

    #[test]
    fn an_invalid_or_overlong_email_is_counted_against_the_client_only() {
        let l = LoginLimiter::default();
        let long = format!("{}@example.com", "a".repeat(10_000));
        for _ in 0..LOGIN_PER_CLIENT_PER_MINUTE {
            assert!(l.check(None, Some(IpAddr::from([127, 0, 0, 1]))).is_ok());
        }
        assert!(l.check(Some(&long), None).is_ok(), "an over-long address is never a key");
        assert_eq!(l.by_email.len(), 0);
        assert!(matches!(
            l.check(None, Some(IpAddr::from([127, 0, 0, 1]))),
            Err(ApiError::TooManyAttempts(_))
        ));
    }

    #[test]
    fn a_valid_email_and_a_user_have_their_own_budgets() {
        let l = LoginLimiter::default();
        for _ in 0..LOGIN_PER_EMAIL_PER_MINUTE {
            assert!(l.check(Some("a@example.com"), None).is_ok());
        }
        assert!(l.check(Some("a@example.com"), None).is_err());
        assert!(l.check(Some("b@example.com"), None).is_ok());
        for _ in 0..PASSWORD_CHECKS_PER_USER_PER_MINUTE {
            assert!(l.check_user(7).is_ok());
        }
        assert!(matches!(l.check_user(7), Err(ApiError::TooManyAttempts(_))));
        assert!(l.check_user(8).is_ok());
    }
}
