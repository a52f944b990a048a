//! AgentSight's configuration store on PostgreSQL: [`PostgresStore`] implements
//! [`ConfigStore`](agentsight_store::ConfigStore) (agents, environments, keys, escalation names,
//! users, sessions, share links, branding) with the semantics of the embedded SQLite store, so
//! that several nodes can share one configuration. It is not an event store.
//!
//! [`PostgresStore::connect`] creates and migrates its tables (forward-only migrations, safe when
//! several nodes start at once). Writes run in transactions that first take one
//! transaction-level advisory lock, so they are serialized as SQLite's single writer serializes
//! them: a check and the write it guards (a taken name, the last admin, the first admin) are
//! atomic. Configuration writes are rare; reads take no lock. Connections are plain TCP (no TLS
//! yet): keep the server on a trusted network.

#![warn(missing_docs)]

mod agents;
mod dashboard;
mod migrate;
mod notify;
mod reports;
mod retention;

use std::time::Duration;

use agentsight_core::dashboard::Logo;
use agentsight_core::keys::Role;
use agentsight_core::time::Micros;
use agentsight_store::{
    AgentRow, AgentStore, Branding, BrandingPatch, BrandingStore, EnvironmentRow, KeyRow, NewShare, NewUser,
    Principal, SessionRow, ShareRow, ShareStore, StoreError, StoreResult, UserPatch, UserRow, UserStore,
};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime, Transaction};
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

pub use migrate::SCHEMA_VERSION;

/// How long a request waits for a connection (from the pool or a new one) before the store
/// answers `Unavailable`.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Connections per store (per node).
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;
/// Longest schema name accepted (PostgreSQL's identifier limit).
pub const MAX_SCHEMA_LEN: usize = 63;

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    url: String,
    schema: Option<String>,
    max_connections: usize,
    connect_timeout: Duration,
}

impl PostgresOptions {
    /// A connection string like `postgres://user@127.0.0.1:5432/agentsight` (or the
    /// `key=value` form).
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            schema: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }

    /// Keeps the tables in this existing schema (`[a-z_][a-z0-9_]*`, at most
    /// [`MAX_SCHEMA_LEN`] characters) instead of the connection's default search path (it
    /// replaces any `options` of the connection string).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }

    /// Connections the store keeps at most (at least 1).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long to wait for a connection before answering `Unavailable`.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }
}

impl PostgresOptions {
    /// A connection pool with these options (connections are made on demand); the event store
    /// on ClickHouse (agentsight-store-clickhouse) shares this setup. A bad connection string or
    /// an unusable schema name is `Internal`.
    pub fn pool(&self) -> StoreResult<Pool> {
        let opts = self;
        let cfg = opts.config()?;
        let manager =
            Manager::from_config(cfg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        Pool::builder(manager)
            .max_size(opts.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(opts.connect_timeout))
            .create_timeout(Some(opts.connect_timeout))
            .recycle_timeout(Some(opts.connect_timeout))
            .build()
            .map_err(|e| StoreError::internal_from("PostgreSQL pool", e))
    }

    /// The connection settings the pool uses (the schema as the search path, the connect
    /// timeout), for a connection of its own (the event store's LISTEN connection). A bad
    /// connection string or an unusable schema name is `Internal`.
    pub fn config(&self) -> StoreResult<tokio_postgres::Config> {
        let opts = self;
        let mut cfg: tokio_postgres::Config =
            opts.url.parse().map_err(|e| StoreError::internal_from("PostgreSQL connection string", e))?;
        if let Some(schema) = &opts.schema {
            if !valid_schema(schema) {
                return Err(StoreError::internal(format!(
                    "PostgreSQL schema {schema:?}: use [a-z_][a-z0-9_]*, at most {MAX_SCHEMA_LEN} characters"
                )));
            }
            cfg.options(format!("-c search_path={schema}"));
        }
        if cfg.get_connect_timeout().is_none() {
            cfg.connect_timeout(opts.connect_timeout);
        }
        Ok(cfg)
    }
}

/// True for a name usable unquoted as a schema.
fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    s.len() <= MAX_SCHEMA_LEN
        && chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The configuration store on PostgreSQL: a connection pool. Cheap to clone.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("pool", &self.pool.status()).finish()
    }
}

impl PostgresStore {
    /// Connects, then creates or migrates the tables. A server that cannot be reached is
    /// `Unavailable`; a bad connection string, an unusable schema name or a schema newer than
    /// this build is `Internal`.
    pub async fn connect(opts: PostgresOptions) -> StoreResult<Self> {
        let pool = opts.pool()?;
        migrate::migrate(&pool).await?;
        Ok(PostgresStore { pool })
    }

    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        self.pool.get().await.map_err(poolerr)
    }
}

/// The advisory lock every configuration write holds until it commits (any fixed key;
/// "agentsight config").
const WRITE_LOCK: i64 = 0x6167_7363_6f6e_6667;

/// Starts a write: a transaction holding [`WRITE_LOCK`].
async fn begin_write(client: &mut deadpool_postgres::Client) -> StoreResult<Transaction<'_>> {
    let tx = client.transaction().await.map_err(pgerr)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]).await.map_err(pgerr)?;
    Ok(tx)
}

/// Runs `$body` (a future using the transaction `$tx`) as a write and commits it; an error
/// rolls it back.
macro_rules! write_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut client = $self.client().await?;
        let $tx = begin_write(&mut client).await?;
        let out = $body.await?;
        $tx.commit().await.map_err(pgerr)?;
        Ok(out)
    }};
}

/// Runs `$body` (a future using the pooled client `$c`) as a read.
macro_rules! read_conn {
    ($self:ident, |$c:ident| $body:expr) => {{
        let $c = $self.client().await?;
        $body.await
    }};
}

/// Maps a unique constraint of the schema to the field and message SQLite's store answers.
fn conflict_of(constraint: &str) -> Option<(&'static str, &'static str)> {
    match constraint {
        "agents_name_unique" => Some(("name", "an agent with this name exists")),
        "environments_slug_unique" => Some(("slug", "the agent has an environment with this slug")),
        "users_email_unique" => Some(("email", "A user with this email exists.")),
        _ => None,
    }
}

/// True when the error says the server or the connection is gone (rather than the request
/// being wrong).
fn is_connection_failure(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// How an unavailable PostgreSQL is named to clients ([`StoreError::unavailable_dependency`]).
pub const DEPENDENCY: &str = "postgresql";

/// Maps a PostgreSQL error: a unique violation of a named field is a `Conflict` on it; a lost
/// or refused connection, a server shutting down or too busy, a serialization failure or a
/// deadlock is `Unavailable`; anything else is `Internal`.
pub fn pgerr(e: tokio_postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::UNIQUE_VIOLATION
            && let Some((field, message)) = db.constraint().and_then(conflict_of)
        {
            return StoreError::Conflict { field, message: message.into() };
        }
        let transient = [
            SqlState::T_R_SERIALIZATION_FAILURE,
            SqlState::T_R_DEADLOCK_DETECTED,
            SqlState::TOO_MANY_CONNECTIONS,
            SqlState::ADMIN_SHUTDOWN,
            SqlState::CRASH_SHUTDOWN,
            SqlState::CANNOT_CONNECT_NOW,
            SqlState::LOCK_NOT_AVAILABLE,
        ];
        if transient.contains(code) || code.code().starts_with("08") {
            return StoreError::dependency_unavailable(DEPENDENCY, "PostgreSQL", e);
        }
        return StoreError::internal_from("PostgreSQL", e);
    }
    if is_connection_failure(&e) {
        return StoreError::dependency_unavailable(DEPENDENCY, "PostgreSQL", e);
    }
    StoreError::internal_from("PostgreSQL", e)
}

/// Maps a pool error: no connection in time or a refused connection is `Unavailable`.
pub fn poolerr(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pgerr(e),
        PoolError::Timeout(t) => StoreError::dependency_unavailable(
            DEPENDENCY,
            "PostgreSQL",
            std::io::Error::new(std::io::ErrorKind::TimedOut, format!("no connection in time ({t:?})")),
        ),
        PoolError::Closed => StoreError::unavailable("PostgreSQL: the pool is closed"),
        other => StoreError::internal_from("PostgreSQL pool", other),
    }
}

impl agentsight_store::RetentionStore for PostgresStore {
    async fn retention_days(&self, agent_id: i64) -> StoreResult<Option<u32>> {
        read_conn!(self, |c| retention::retention_days(&c, agent_id))
    }

    async fn set_retention_days(&self, agent_id: i64, days: Option<u32>) -> StoreResult<bool> {
        write_tx!(self, |tx| retention::set_retention_days(&tx, agent_id, days))
    }

    async fn retentions(&self) -> StoreResult<Vec<(i64, u32)>> {
        read_conn!(self, |c| retention::retentions(&c))
    }

    async fn record_erasure(
        &self,
        r: agentsight_store::ErasureRecord,
    ) -> StoreResult<agentsight_store::ErasureRecord> {
        write_tx!(self, |tx| retention::record_erasure(&tx, r))
    }

    async fn erasures(
        &self,
        agent_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<agentsight_store::ErasureRecord>> {
        read_conn!(self, |c| retention::erasures(&c, agent_id, limit))
    }
}

impl agentsight_store::NotifyStore for PostgresStore {
    async fn alert_rules(&self) -> StoreResult<Vec<agentsight_store::AlertRuleRow>> {
        read_conn!(self, |c| notify::alert_rules(&c))
    }

    async fn alert_rule(&self, id: i64) -> StoreResult<Option<agentsight_store::AlertRuleRow>> {
        read_conn!(self, |c| notify::alert_rule(&c, id))
    }

    async fn create_alert_rule(
        &self,
        r: agentsight_store::NewAlertRule,
        now: Micros,
    ) -> StoreResult<agentsight_store::AlertRuleRow> {
        write_tx!(self, |tx| notify::create_alert_rule(&tx, r, now))
    }

    async fn update_alert_rule(
        &self,
        id: i64,
        r: agentsight_store::NewAlertRule,
    ) -> StoreResult<Option<agentsight_store::AlertRuleRow>> {
        write_tx!(self, |tx| notify::update_alert_rule(&tx, id, r))
    }

    async fn delete_alert_rule(&self, id: i64) -> StoreResult<bool> {
        write_tx!(self, |tx| notify::delete_alert_rule(&tx, id))
    }

    async fn open_alert(
        &self,
        rule_id: i64,
        at: Micros,
        value: f64,
    ) -> StoreResult<Option<agentsight_store::AlertEventRow>> {
        write_tx!(self, |tx| notify::open_alert(&tx, rule_id, at, value))
    }

    async fn resolve_alert(
        &self,
        rule_id: i64,
        at: Micros,
        value: Option<f64>,
    ) -> StoreResult<Option<agentsight_store::AlertEventRow>> {
        write_tx!(self, |tx| notify::resolve_alert(&tx, rule_id, at, value))
    }

    async fn alert_events(
        &self,
        rule_id: Option<i64>,
        limit: i64,
    ) -> StoreResult<Vec<agentsight_store::AlertEventRow>> {
        read_conn!(self, |c| notify::alert_events(&c, rule_id, limit))
    }

    async fn notify_targets(&self) -> StoreResult<Vec<agentsight_store::NotifyTargetRow>> {
        read_conn!(self, |c| notify::notify_targets(&c))
    }

    async fn notify_target(&self, id: i64) -> StoreResult<Option<agentsight_store::NotifyTargetRow>> {
        read_conn!(self, |c| notify::notify_target(&c, id))
    }

    async fn create_notify_target(
        &self,
        t: agentsight_store::NewNotifyTarget,
        now: Micros,
    ) -> StoreResult<agentsight_store::NotifyTargetRow> {
        write_tx!(self, |tx| notify::create_notify_target(&tx, t, now))
    }

    async fn set_notify_target_enabled(
        &self,
        id: i64,
        enabled: bool,
    ) -> StoreResult<Option<agentsight_store::NotifyTargetRow>> {
        write_tx!(self, |tx| notify::set_notify_target_enabled(&tx, id, enabled))
    }

    async fn delete_notify_target(&self, id: i64) -> StoreResult<bool> {
        write_tx!(self, |tx| notify::delete_notify_target(&tx, id))
    }

    async fn smtp_settings(&self) -> StoreResult<Option<agentsight_store::SmtpSettings>> {
        read_conn!(self, |c| notify::smtp_settings(&c))
    }

    async fn set_smtp_settings(&self, s: Option<agentsight_store::SmtpSettings>) -> StoreResult<()> {
        write_tx!(self, |tx| notify::set_smtp_settings(&tx, s))
    }

    async fn record_send(
        &self,
        s: agentsight_store::NewSend,
    ) -> StoreResult<Option<agentsight_store::SendRow>> {
        write_tx!(self, |tx| notify::record_send(&tx, s))
    }

    async fn record_attempt(
        &self,
        id: i64,
        a: agentsight_store::SendAttempt,
    ) -> StoreResult<Option<agentsight_store::SendRow>> {
        write_tx!(self, |tx| notify::record_attempt(&tx, id, a))
    }

    async fn due_sends(
        &self,
        now: Micros,
        stale_before: Micros,
        limit: i64,
    ) -> StoreResult<Vec<agentsight_store::SendRow>> {
        read_conn!(self, |c| notify::due_sends(&c, now, stale_before, limit))
    }

    async fn sends(&self, limit: i64) -> StoreResult<Vec<agentsight_store::SendRow>> {
        read_conn!(self, |c| notify::sends(&c, limit))
    }

    async fn take_lease(&self, name: String, holder: String, now: Micros, ttl: Micros) -> StoreResult<bool> {
        write_tx!(self, |tx| notify::take_lease(&tx, name, holder, now, ttl))
    }
}

impl AgentStore for PostgresStore {
    async fn authenticate(&self, key_hash: [u8; 32]) -> StoreResult<Option<Principal>> {
        read_conn!(self, |c| agents::authenticate(&c, &key_hash))
    }

    async fn environments(&self, agent_id: i64) -> StoreResult<Vec<EnvironmentRow>> {
        read_conn!(self, |c| agents::environments(&c, agent_id))
    }

    async fn create_agent(&self, name: String, now: Micros) -> StoreResult<AgentRow> {
        write_tx!(self, |tx| agents::create_agent(&tx, &name, now))
    }

    async fn list_agents(&self) -> StoreResult<Vec<AgentRow>> {
        read_conn!(self, |c| agents::list_agents(&c))
    }

    async fn agent(&self, id: i64) -> StoreResult<Option<AgentRow>> {
        read_conn!(self, |c| agents::agent(&c, id))
    }

    async fn rename_agent(&self, id: i64, name: String) -> StoreResult<Option<AgentRow>> {
        write_tx!(self, |tx| agents::rename_agent(&tx, id, &name))
    }

    async fn create_key(
        &self,
        agent_id: i64,
        role: Role,
        prefix: String,
        hash: [u8; 32],
        now: Micros,
    ) -> StoreResult<KeyRow> {
        write_tx!(self, |tx| agents::create_key(&tx, agent_id, role, &prefix, &hash, now))
    }

    async fn list_keys(&self) -> StoreResult<Vec<KeyRow>> {
        read_conn!(self, |c| agents::list_keys(&c))
    }

    async fn escalation_tools(&self, agent_id: i64) -> StoreResult<Option<Vec<String>>> {
        read_conn!(self, |c| agents::escalation_tools(&c, agent_id))
    }

    async fn set_escalation_tools(&self, agent_id: i64, tools: Option<Vec<String>>) -> StoreResult<bool> {
        write_tx!(self, |tx| agents::set_escalation_tools(&tx, agent_id, tools.as_deref()))
    }

    async fn create_environment(
        &self,
        agent_id: i64,
        slug: String,
        name: String,
        is_production: bool,
        now: Micros,
    ) -> StoreResult<EnvironmentRow> {
        write_tx!(self, |tx| agents::create_environment(&tx, agent_id, &slug, &name, is_production, now))
    }

    async fn revoke_key(&self, key_id: i64, now: Micros) -> StoreResult<bool> {
        write_tx!(self, |tx| agents::revoke_key(&tx, key_id, now))
    }
}

impl UserStore for PostgresStore {
    async fn create_user(&self, u: NewUser) -> StoreResult<UserRow> {
        write_tx!(self, |tx| dashboard::create_user(&tx, &u))
    }

    async fn create_first_admin(&self, u: NewUser) -> StoreResult<Option<UserRow>> {
        write_tx!(self, |tx| dashboard::create_first_admin(&tx, &u))
    }

    async fn has_admin(&self) -> StoreResult<bool> {
        read_conn!(self, |c| dashboard::has_admin(&c))
    }

    async fn user(&self, id: i64) -> StoreResult<Option<UserRow>> {
        read_conn!(self, |c| dashboard::user(&c, id))
    }

    async fn user_by_email(&self, email: String) -> StoreResult<Option<(UserRow, String)>> {
        read_conn!(self, |c| dashboard::user_by_email(&c, &email))
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRow>> {
        read_conn!(self, |c| dashboard::list_users(&c))
    }

    async fn update_user(&self, id: i64, patch: UserPatch) -> StoreResult<Option<UserRow>> {
        write_tx!(self, |tx| dashboard::update_user(&tx, id, &patch))
    }

    async fn delete_user(&self, id: i64) -> StoreResult<bool> {
        write_tx!(self, |tx| dashboard::delete_user(&tx, id))
    }

    async fn create_session(
        &self,
        user_id: i64,
        token_hash: [u8; 32],
        now: Micros,
        expires_at: Micros,
    ) -> StoreResult<()> {
        write_tx!(self, |tx| dashboard::create_session(&tx, user_id, &token_hash, now, expires_at))
    }

    async fn session(&self, token_hash: [u8; 32], now: Micros) -> StoreResult<Option<SessionRow>> {
        read_conn!(self, |c| dashboard::session(&c, &token_hash, now))
    }

    async fn extend_session(&self, session_id: i64, now: Micros, expires_at: Micros) -> StoreResult<()> {
        write_tx!(self, |tx| dashboard::extend_session(&tx, session_id, now, expires_at))
    }

    async fn delete_session(&self, token_hash: [u8; 32]) -> StoreResult<bool> {
        write_tx!(self, |tx| dashboard::delete_session(&tx, &token_hash))
    }
}

impl ShareStore for PostgresStore {
    async fn create_share(&self, s: NewShare) -> StoreResult<ShareRow> {
        write_tx!(self, |tx| dashboard::create_share(&tx, &s))
    }

    async fn list_shares(&self, agent_id: i64) -> StoreResult<Vec<ShareRow>> {
        read_conn!(self, |c| dashboard::list_shares(&c, agent_id))
    }

    async fn share(&self, id: i64) -> StoreResult<Option<ShareRow>> {
        read_conn!(self, |c| dashboard::share(&c, id))
    }

    async fn share_by_hash(&self, token_hash: [u8; 32]) -> StoreResult<Option<ShareRow>> {
        read_conn!(self, |c| dashboard::share_by_hash(&c, &token_hash))
    }

    async fn revoke_share(&self, id: i64, now: Micros) -> StoreResult<Option<ShareRow>> {
        write_tx!(self, |tx| dashboard::revoke_share(&tx, id, now))
    }
}

impl BrandingStore for PostgresStore {
    async fn branding(&self, agent_id: i64) -> StoreResult<Branding> {
        read_conn!(self, |c| dashboard::branding(&c, agent_id))
    }

    async fn set_branding(&self, agent_id: i64, patch: BrandingPatch) -> StoreResult<Option<Branding>> {
        write_tx!(self, |tx| dashboard::set_branding(&tx, agent_id, &patch))
    }

    async fn logo(&self, agent_id: i64) -> StoreResult<Option<Logo>> {
        read_conn!(self, |c| dashboard::logo(&c, agent_id))
    }
}

impl agentsight_store::ReportStore for PostgresStore {
    async fn create_report_schedule(
        &self,
        s: agentsight_store::NewReportSchedule,
    ) -> StoreResult<agentsight_store::ReportScheduleRow> {
        write_tx!(self, |tx| reports::create(&tx, &s))
    }

    async fn report_schedules(
        &self,
        agent_id: Option<i64>,
    ) -> StoreResult<Vec<agentsight_store::ReportScheduleRow>> {
        read_conn!(self, |c| reports::list(&c, agent_id))
    }

    async fn report_schedule(&self, id: i64) -> StoreResult<Option<agentsight_store::ReportScheduleRow>> {
        read_conn!(self, |c| reports::get_one(&c, id))
    }

    async fn update_report_schedule(
        &self,
        id: i64,
        settings: agentsight_core::reports::ScheduleSettings,
        active_since: Micros,
        now: Micros,
    ) -> StoreResult<Option<agentsight_store::ReportScheduleRow>> {
        write_tx!(self, |tx| reports::update(&tx, id, &settings, active_since, now))
    }

    async fn delete_report_schedule(&self, id: i64) -> StoreResult<bool> {
        write_tx!(self, |tx| reports::delete(&tx, id))
    }

    async fn report_send(
        &self,
        schedule_id: i64,
        period_key: String,
    ) -> StoreResult<Option<agentsight_store::ReportSendRow>> {
        read_conn!(self, |c| reports::send_of(&c, schedule_id, &period_key))
    }

    async fn report_sends(
        &self,
        schedule_id: i64,
        limit: i64,
    ) -> StoreResult<Vec<agentsight_store::ReportSendRow>> {
        read_conn!(self, |c| reports::sends(&c, schedule_id, limit))
    }

    async fn claim_report_send(
        &self,
        schedule_id: i64,
        period_key: String,
        now: Micros,
        stale_before: Micros,
        max_attempts: u32,
    ) -> StoreResult<Option<u32>> {
        write_tx!(self, |tx| reports::claim(&tx, schedule_id, &period_key, now, stale_before, max_attempts))
    }

    async fn finish_report_send(
        &self,
        schedule_id: i64,
        period_key: String,
        now: Micros,
        error: Option<String>,
    ) -> StoreResult<bool> {
        write_tx!(self, |tx| reports::finish(&tx, schedule_id, &period_key, now, error.as_deref()))
    }
}

/// Small helpers the SQL modules share.
pub(crate) mod sql {
    use agentsight_store::StoreResult;
    use deadpool_postgres::GenericClient;
    use tokio_postgres::Row;
    use tokio_postgres::types::{FromSql, ToSql};

    use crate::pgerr;

    /// Parameters of a statement.
    pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

    /// Every row of a (cached, prepared) statement.
    pub(crate) async fn rows(c: &impl GenericClient, sql: &str, p: Params<'_>) -> StoreResult<Vec<Row>> {
        let st = c.prepare_cached(sql).await.map_err(pgerr)?;
        c.query(&st, p).await.map_err(pgerr)
    }

    /// At most one row.
    pub(crate) async fn opt(c: &impl GenericClient, sql: &str, p: Params<'_>) -> StoreResult<Option<Row>> {
        let st = c.prepare_cached(sql).await.map_err(pgerr)?;
        c.query_opt(&st, p).await.map_err(pgerr)
    }

    /// Exactly one row.
    pub(crate) async fn one(c: &impl GenericClient, sql: &str, p: Params<'_>) -> StoreResult<Row> {
        let st = c.prepare_cached(sql).await.map_err(pgerr)?;
        c.query_one(&st, p).await.map_err(pgerr)
    }

    /// Rows changed.
    pub(crate) async fn exec(c: &impl GenericClient, sql: &str, p: Params<'_>) -> StoreResult<u64> {
        let st = c.prepare_cached(sql).await.map_err(pgerr)?;
        c.execute(&st, p).await.map_err(pgerr)
    }

    /// Column `i` of a row.
    pub(crate) fn get<'a, T: FromSql<'a>>(r: &'a Row, i: usize) -> StoreResult<T> {
        r.try_get(i).map_err(pgerr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(valid_schema("t_0123abc"));
        assert!(valid_schema("_x"));
        assert!(!valid_schema(""));
        assert!(!valid_schema("1abc"));
        assert!(!valid_schema("a;drop table agents"));
        assert!(!valid_schema("Upper"));
        assert!(!valid_schema(&"a".repeat(MAX_SCHEMA_LEN + 1)));
    }

    #[test]
    fn named_unique_constraints_are_conflicts_on_their_field() {
        assert_eq!(conflict_of("agents_name_unique").map(|c| c.0), Some("name"));
        assert_eq!(conflict_of("environments_slug_unique").map(|c| c.0), Some("slug"));
        assert_eq!(conflict_of("users_email_unique").map(|c| c.0), Some("email"));
        assert_eq!(conflict_of("sessions_token_hash_unique"), None);
    }

    /// A unique violation that got past a check (another writer without the lock) is still a
    /// `Conflict` on its field, from PostgreSQL's own error; other violations are `Internal`.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_unique_violation_from_the_server_is_a_conflict_on_its_field() {
        let url = std::env::var("AGENTSIGHT_TEST_POSTGRES").unwrap_or_else(|_| {
            panic!("AGENTSIGHT_TEST_POSTGRES is not set: start a server with scripts/postgres-test-server.sh")
        });
        let schema = format!("u_{}", std::process::id());
        let (admin, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
        tokio::spawn(conn);
        admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))
            .await
            .unwrap();
        let store = PostgresStore::connect(PostgresOptions::new(&url).schema(&schema)).await.unwrap();
        let c = store.client().await.unwrap();
        let insert = "INSERT INTO agents (name, created_at) VALUES ('a', 1)";
        c.execute(insert, &[]).await.unwrap();
        let dup = c.execute(insert, &[]).await.map_err(pgerr);
        assert!(matches!(dup, Err(StoreError::Conflict { field: "name", .. })), "{dup:?}");
        let key = "INSERT INTO api_keys (agent_id, prefix, hash, role, created_at)
                   SELECT id, 'p', '\\x00', 'read', 1 FROM agents";
        c.execute(key, &[]).await.unwrap();
        let dup = c.execute(key, &[]).await.map_err(pgerr);
        assert!(matches!(dup, Err(StoreError::Internal { .. })), "{dup:?}");
        drop(c);
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    }
}
