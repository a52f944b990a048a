//! Narrow storage traits every backend implements, the row types they return, and
//! [`StoreError`]. With the `testkit` feature, [`testkit`] holds the contract suite every
//! backend must pass.
//!
//! The traits are cut by role. A deployment composes one [`ConfigStore`] (agents, keys, users,
//! sessions, share links, branding: [`AgentStore`], [`UserStore`], [`ShareStore`],
//! [`BrandingStore`]) and one [`EventStore`] (conversations, messages, spans, usage, metrics:
//! [`TrackingWriter`], [`TrackingReader`], [`SpanWriter`], [`SpanReader`], [`DataPlane`],
//! [`MetricsReader`], [`ExportReader`]); the embedded SQLite backend is both, other backends may
//! be one of them.
//!
//! The traits take validated domain commands from `agentsight-core` and write them as given;
//! the only rules a backend applies itself are the ones the trait docs state (upsert merge,
//! reference checks), because they must hold atomically with the write.

#![warn(missing_docs)]

pub mod blobs;
mod erasure;
mod notify;
pub mod private;
mod reports;
mod rows;
pub mod stats;
#[cfg(feature = "testkit")]
pub mod testkit;

use std::borrow::Cow;
use std::future::Future;

use agentsight_core::dashboard::Logo;
use agentsight_core::dataplane::{ActionDef, FeedbackChange, NewVote};
use agentsight_core::keys::Role;
use agentsight_core::metrics::failures::{FailureFacts, FailureParams};
use agentsight_core::metrics::query::MetricsQuery;
use agentsight_core::metrics::series::{Interval, SeriesMetric};
use agentsight_core::spans::SpanIngest;
use agentsight_core::time::Micros;
use agentsight_core::tracking::{
    ConversationPatch, ConversationRef, ConversationUpsert, NewAction, NewButton, NewFeedback, NewMessage,
};
pub use agentsight_protocol::metrics::{
    AgentRef, EngineStatus, FailuresResponse, LiveResponse, OverviewResponse, TimeseriesResponse,
    UsersResponse,
};
pub use blobs::{BlobFuture, BlobStore};
pub use erasure::*;
pub use notify::*;
pub use reports::*;
pub use rows::*;
pub use stats::{GroupSizes, GroupSizesSnapshot, ProjectionBacklog, QueueStats, StoreStats};

/// A boxed error kept as the source of a [`StoreError`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What can go wrong in a store. The failures keep their cause as [`std::error::Error::source`];
/// print them with [`chain`] (or anyhow's `{:#}`) to see it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A write named a conversation or message that does not exist for this agent.
    #[error("{field}: no such object '{value}'")]
    UnknownReference {
        /// The payload field that named it.
        field: &'static str,
        /// The value as given.
        value: String,
    },
    /// A uniqueness rule (e.g. agent name) was violated.
    #[error("{field}: {message}")]
    Conflict {
        /// Field.
        field: &'static str,
        /// Message.
        message: String,
    },
    /// The store cannot take the request now (queue full, database busy or locked, closing);
    /// retry later.
    #[error("store unavailable: {reason}")]
    Unavailable {
        /// What is unavailable.
        reason: Cow<'static, str>,
        /// The cause, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The storage itself fails, and keeps failing until an operator acts: the disk is full, the
    /// file is read-only, damaged or not a database, the OS refused it. Never "busy": retrying
    /// does not help.
    #[error("storage failure ({kind}): {context}")]
    Storage {
        /// Which lasting failure.
        kind: StorageFailure,
        /// What the store was doing.
        context: Cow<'static, str>,
        /// The cause.
        #[source]
        source: BoxError,
    },
    /// Anything else (a bug, stored data that no longer reads back, an unexpected database error).
    #[error("store failure: {context}")]
    Internal {
        /// What went wrong, or what the store was doing.
        context: Cow<'static, str>,
        /// The cause, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

/// A server the store depends on (PostgreSQL, ClickHouse) that refused or dropped the
/// connection, did not answer in time, is shutting down or has no room for another connection:
/// kept as the source of a [`StoreError::Unavailable`] so that the HTTP layer can name it
/// ([`StoreError::unavailable_dependency`]).
#[derive(Debug, thiserror::Error)]
#[error("{dependency} unavailable")]
pub struct DependencyUnavailable {
    /// Which dependency, as the API names it (`postgresql`, `clickhouse`).
    pub dependency: &'static str,
    /// The cause.
    #[source]
    pub source: BoxError,
}

/// The lasting failures of [`StoreError::Storage`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageFailure {
    /// The disk (or a quota) is full.
    DiskFull,
    /// The file or its directory is read-only.
    ReadOnly,
    /// The file is damaged.
    Corrupt,
    /// The file is not a database of this kind.
    NotADatabase,
    /// The file could not be opened or the OS refused access to it.
    CannotOpen,
    /// An I/O error below the store.
    Io,
}

impl std::fmt::Display for StorageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StorageFailure::DiskFull => "disk full",
            StorageFailure::ReadOnly => "read-only",
            StorageFailure::Corrupt => "corrupt",
            StorageFailure::NotADatabase => "not a database",
            StorageFailure::CannotOpen => "cannot open",
            StorageFailure::Io => "I/O error",
        })
    }
}

impl StoreError {
    /// [`StoreError::Unavailable`] without a cause.
    pub fn unavailable(reason: impl Into<Cow<'static, str>>) -> StoreError {
        StoreError::Unavailable { reason: reason.into(), source: None }
    }

    /// [`StoreError::Unavailable`] caused by `source`.
    pub fn unavailable_from(reason: impl Into<Cow<'static, str>>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Unavailable { reason: reason.into(), source: Some(source.into()) }
    }

    /// [`StoreError::Unavailable`] because `dependency` (`postgresql`, `clickhouse`) cannot be
    /// reached or cannot take the request now ([`DependencyUnavailable`]).
    pub fn dependency_unavailable(
        dependency: &'static str,
        reason: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> StoreError {
        StoreError::unavailable_from(reason, DependencyUnavailable { dependency, source: source.into() })
    }

    /// The dependency an [`StoreError::Unavailable`] names somewhere in its chain of causes, if
    /// any (`None` for every other error).
    pub fn unavailable_dependency(&self) -> Option<&'static str> {
        if !self.is_unavailable() {
            return None;
        }
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            if let Some(d) = e.downcast_ref::<DependencyUnavailable>() {
                return Some(d.dependency);
            }
            next = e.source();
        }
        None
    }

    /// [`StoreError::Internal`] without a cause.
    pub fn internal(context: impl Into<Cow<'static, str>>) -> StoreError {
        StoreError::Internal { context: context.into(), source: None }
    }

    /// [`StoreError::Internal`] caused by `source`.
    pub fn internal_from(context: impl Into<Cow<'static, str>>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Internal { context: context.into(), source: Some(source.into()) }
    }

    /// [`StoreError::Storage`].
    pub fn storage(
        kind: StorageFailure,
        context: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> StoreError {
        StoreError::Storage { kind, context: context.into(), source: source.into() }
    }

    /// This error with `context` put before what it says (`"context: …"`); a failure keeps its
    /// kind (unavailable stays unavailable, a lasting storage failure stays one) and its source.
    /// Refusals (unknown reference, conflict) are returned as they are.
    pub fn context(self, context: impl Into<Cow<'static, str>>) -> StoreError {
        let before = |old: Cow<'static, str>| Cow::Owned(format!("{}: {old}", context.into()));
        match self {
            StoreError::UnknownReference { .. } | StoreError::Conflict { .. } => self,
            StoreError::Unavailable { reason, source } => {
                StoreError::Unavailable { reason: before(reason), source }
            }
            StoreError::Storage { kind, context: old, source } => {
                StoreError::Storage { kind, context: before(old), source }
            }
            StoreError::Internal { context: old, source } => {
                StoreError::Internal { context: before(old), source }
            }
        }
    }

    /// Whether the same request may succeed if retried later ([`StoreError::Unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable { .. })
    }
}

/// `e` and every cause under it, `": "`-separated (what anyhow's `{:#}` prints): for logs.
pub fn chain<'a>(e: &'a (dyn std::error::Error + 'static)) -> Chain<'a> {
    Chain(e)
}

/// See [`chain`].
pub struct Chain<'a>(&'a (dyn std::error::Error + 'static));

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut next = self.0.source();
        while let Some(e) = next {
            write!(f, ": {e}")?;
            next = e.source();
        }
        Ok(())
    }
}

/// Result alias.
pub type StoreResult<T> = Result<T, StoreError>;

/// The write side of the tracking plane. Every method returns only after the write is durable.
pub trait TrackingWriter: Send + Sync {
    /// Creates the conversation `(agent, conversation_id)` or merges into it: a `None` field
    /// never erases a stored value, a given `metadata` replaces the stored one, `is_used` is
    /// sticky (once true, stays true), `started_at` is the first payload's event time.
    fn upsert_conversation(
        &self,
        c: ConversationUpsert,
    ) -> impl Future<Output = StoreResult<Upserted>> + Send;
    /// Appends a message, resolving (or, by id, creating) its conversation, which becomes used.
    fn insert_message(&self, m: NewMessage) -> impl Future<Output = StoreResult<MessageRow>> + Send;
    /// Appends an action (shown in transcripts as a synthetic agent message).
    fn insert_action(&self, a: NewAction) -> impl Future<Output = StoreResult<ActionLogRow>> + Send;
    /// Appends a button press (shown in transcripts as a synthetic end-user message).
    fn insert_button(&self, b: NewButton) -> impl Future<Output = StoreResult<ButtonRow>> + Send;
    /// Records files already written to blob storage.
    fn insert_attachments(
        &self,
        a: AttachmentsInsert,
    ) -> impl Future<Output = StoreResult<Vec<AttachmentRow>>> + Send;
    /// Records feedback on an existing conversation.
    fn insert_feedback(&self, f: NewFeedback) -> impl Future<Output = StoreResult<FeedbackRow>> + Send;
    /// Applies an operator change; `None` when the conversation is not the agent's.
    fn patch_conversation(
        &self,
        agent_id: i64,
        pk: i64,
        patch: ConversationPatch,
        now: Micros,
    ) -> impl Future<Output = StoreResult<Option<ConversationRow>>> + Send;
}

/// The read side of the tracking plane. Every method is scoped to one agent.
pub trait TrackingReader: Send + Sync {
    /// One conversation by pk or by the client's id.
    fn conversation(
        &self,
        agent_id: i64,
        r: ConversationRef,
    ) -> impl Future<Output = StoreResult<Option<ConversationRow>>> + Send;
    /// A page of conversations matching the filter, newest first, and the total count.
    fn list_conversations(
        &self,
        agent_id: i64,
        filter: ConversationFilter,
        page: PageRequest,
    ) -> impl Future<Output = StoreResult<(i64, Vec<ConversationRow>)>> + Send;
    /// A conversation with everything in it.
    fn transcript(
        &self,
        agent_id: i64,
        pk: i64,
    ) -> impl Future<Output = StoreResult<Option<Transcript>>> + Send;
    /// One attachment.
    fn attachment(
        &self,
        agent_id: i64,
        id: i64,
    ) -> impl Future<Output = StoreResult<Option<AttachmentRow>>> + Send;
}

/// The 0.1.x span plane's writes. How a backend makes a batch durable before it answers and
/// projects it after (and recovers that pipeline after a crash) is its own business: nothing of
/// it shows here.
pub trait SpanWriter: Send + Sync {
    /// Archives `body`, the request that brought `batch` as received, and answers once it is
    /// durable; the batch is then projected, in the order batches were archived: each span stored
    /// once (a span already stored for its conversation is a duplicate and changes nothing),
    /// projected into conversations, messages, action logs, buttons and token usage, all of the
    /// batch in one transaction. A turn's child whose turn is not stored yet is held and
    /// projected when the turn arrives. Every read of the store waits for the projection of
    /// the batches acknowledged before it began, so a client reads what it wrote.
    fn ingest_spans(
        &self,
        batch: SpanIngest,
        body: agentsight_core::archive::ArchivedBody,
    ) -> impl Future<Output = StoreResult<IngestReceipt>> + Send;
    /// Reprices the token usage rows of an agent (or of all agents) from their stored counts
    /// with `pricing`, in one transaction: cost, cost source (`backend` or `unpriced`) and table
    /// date; rows with an SDK-reported cost keep it. `now` becomes the changed rows' `updated_at`.
    fn restate_costs(
        &self,
        agent_id: Option<i64>,
        pricing: agentsight_core::prices::Pricing,
        now: Micros,
    ) -> impl Future<Output = StoreResult<Restated>> + Send;
}

/// The span plane's reads.
pub trait SpanReader: Send + Sync {
    /// A page of archived spans matching the filter, oldest first, and the total count; each
    /// span's text as sent only when `payload` (reading it back costs a decompression).
    fn list_spans(
        &self,
        agent_id: i64,
        filter: SpanFilter,
        page: PageRequest,
        payload: bool,
    ) -> impl Future<Output = StoreResult<(i64, Vec<SpanRow>)>> + Send;
    /// One archived span by row id, with its text as sent when `payload`.
    fn span(
        &self,
        agent_id: i64,
        id: i64,
        payload: bool,
    ) -> impl Future<Output = StoreResult<Option<SpanRow>>> + Send;
    /// Every span of a trace (at most `limit`), oldest first, and whether there were more; no
    /// span's text.
    fn trace(
        &self,
        agent_id: i64,
        trace_id: String,
        limit: i64,
    ) -> impl Future<Output = StoreResult<(Vec<SpanRow>, bool)>> + Send;
    /// A page of token usage rows matching the filter, newest first, and the total count.
    fn list_token_usage(
        &self,
        agent_id: i64,
        filter: UsageFilter,
        page: PageRequest,
    ) -> impl Future<Output = StoreResult<(i64, Vec<TokenUsageRow>)>> + Send;
    /// Token and cost metrics of `agent` over the overview's range and filters (see
    /// `docs/metrics.md`, *LLM usage*).
    fn llm_metrics(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
    ) -> impl Future<Output = StoreResult<agentsight_protocol::v01::LlmMetricsResponse>> + Send;
    /// The matching usage rows summed by model, conversation or day, largest cost first.
    fn usage_summary(
        &self,
        agent_id: i64,
        filter: UsageFilter,
        group_by: UsageGroupBy,
    ) -> impl Future<Output = StoreResult<Vec<UsageGroupRow>>> + Send;
}

/// The 0.1.x data plane (B5): feedback of three kinds, action definitions, messages,
/// metadata keys. Every method is scoped to one agent; `None` means "not this agent's".
pub trait DataPlane: Send + Sync {
    /// Records a message vote (one per message: a repeat updates it; true when created) or
    /// agent feedback (always created).
    fn insert_vote(&self, v: NewVote) -> impl Future<Output = StoreResult<(FeedbackItem, bool)>> + Send;
    /// A page of feedback of every kind, newest first, and the total count.
    fn list_feedback(
        &self,
        agent_id: i64,
        filter: FeedbackFilter,
        page: PageRequest,
    ) -> impl Future<Output = StoreResult<(i64, Vec<FeedbackItem>)>> + Send;
    /// One feedback record.
    fn feedback(
        &self,
        agent_id: i64,
        id: i64,
    ) -> impl Future<Output = StoreResult<Option<FeedbackItem>>> + Send;
    /// Changes a feedback record.
    fn update_feedback(
        &self,
        agent_id: i64,
        id: i64,
        change: FeedbackChange,
    ) -> impl Future<Output = StoreResult<Option<FeedbackItem>>> + Send;
    /// Deletes a feedback record (hard); false when there was none.
    fn delete_feedback(&self, agent_id: i64, id: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Creates an action definition (a taken name is a conflict on `name`).
    fn create_action(
        &self,
        agent_id: i64,
        def: ActionDef,
        now: Micros,
    ) -> impl Future<Output = StoreResult<ActionRow>> + Send;
    /// A page of action definitions by name, and the total count.
    fn list_actions(
        &self,
        agent_id: i64,
        filter: ActionFilter,
        page: PageRequest,
    ) -> impl Future<Output = StoreResult<(i64, Vec<ActionRow>)>> + Send;
    /// One action definition.
    fn action(&self, agent_id: i64, id: i64) -> impl Future<Output = StoreResult<Option<ActionRow>>> + Send;
    /// Changes an action definition.
    fn update_action(
        &self,
        agent_id: i64,
        id: i64,
        def: ActionDef,
        now: Micros,
    ) -> impl Future<Output = StoreResult<Option<ActionRow>>> + Send;
    /// The newest `limit` logs of an action definition, newest first.
    fn action_logs(
        &self,
        agent_id: i64,
        id: i64,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Option<Vec<ActionLogItem>>>> + Send;
    /// One message with its files, action log, button and vote.
    fn message(
        &self,
        agent_id: i64,
        id: i64,
    ) -> impl Future<Output = StoreResult<Option<MessageDetail>>> + Send;
    /// Replaces a message's metadata.
    fn set_message_metadata(
        &self,
        agent_id: i64,
        id: i64,
        metadata: String,
    ) -> impl Future<Output = StoreResult<Option<MessageDetail>>> + Send;
    /// Top-level metadata keys of the agent's conversations (`messages`: of its messages).
    fn metadata_keys(
        &self,
        agent_id: i64,
        messages: bool,
    ) -> impl Future<Output = StoreResult<Vec<String>>> + Send;
    /// Distinct values of one conversation metadata key (at most `limit`), as JSON texts.
    fn metadata_values(
        &self,
        agent_id: i64,
        key: String,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<String>>> + Send;
}

/// The dashboard metrics.
pub trait MetricsReader: Send + Sync {
    /// The overview of `agent` for `q`, counting the `escalation` action names as human
    /// escalations (see `docs/metrics.md`).
    fn overview(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        escalation: Vec<String>,
    ) -> impl Future<Output = StoreResult<OverviewResponse>> + Send;
    /// One metric of `q` in local hours, days, weeks or months.
    fn timeseries(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        metric: SeriesMetric,
        interval: Interval,
    ) -> impl Future<Output = StoreResult<TimeseriesResponse>> + Send;
    /// Users over time of `q`: new vs returning by `interval` (day or week), active users by
    /// day, week and month, and the weekly retention cohorts (`docs/metrics.md`, *Users over
    /// time*). A user's first seen is over all the agent's live conversations, whatever `q`.
    fn users(
        &self,
        agent: AgentRef,
        q: MetricsQuery,
        interval: Interval,
    ) -> impl Future<Output = StoreResult<UsersResponse>> + Send;
    /// Activity right now: conversations active in the last 5 minutes, messages per minute
    /// over the last hour.
    fn live(&self, agent: AgentRef, now: Micros) -> impl Future<Output = StoreResult<LiveResponse>> + Send;
    /// Which engine answers and its state (for operators and benchmarks).
    fn engine_status(&self) -> impl Future<Output = EngineStatus> + Send;
    /// The facts of the failure metrics of `agent_id` for `q` (`docs/metrics.md`, *Where the
    /// bot fails*): one trail per conversation in range that matches the filters (its
    /// messages and actions at any time, with the `escalation` action names as escalations, its
    /// first question normalized), and the tool calls in range by name.
    /// [`failures`] and an alert evaluator compute from these
    /// (`agentsight_core::metrics::failures`).
    fn failure_facts(
        &self,
        agent_id: i64,
        q: MetricsQuery,
        escalation: Vec<String>,
    ) -> impl Future<Output = StoreResult<FailureFacts>> + Send;
}

/// `GET /api/metrics/failures/` of `q`: the store's [`MetricsReader::failure_facts`] put in
/// the answer by `agentsight_core::metrics::failures::build`, on every backend alike.
pub async fn failures<S: MetricsReader + ?Sized>(
    s: &S,
    agent: AgentRef,
    q: MetricsQuery,
    params: FailureParams,
    escalation: Vec<String>,
) -> StoreResult<FailuresResponse> {
    let facts = s.failure_facts(agent.id, q.clone(), escalation).await?;
    Ok(agentsight_core::metrics::failures::build(&facts, &q, &params, agent))
}

/// The overview of `q` and, when `compared` is given (`compare=`, see
/// `agentsight_core::metrics::query::parse_compare`), the overview of that range as its
/// `previous`. The same reader answers both, so a comparison holds on every backend and plan
/// exactly as the overview itself does.
pub async fn overview_compared<S: MetricsReader + ?Sized>(
    s: &S,
    agent: AgentRef,
    q: MetricsQuery,
    compared: Option<MetricsQuery>,
    escalation: Vec<String>,
) -> StoreResult<OverviewResponse> {
    let previous = match compared {
        Some(c) => Some(Box::new(s.overview(agent.clone(), c, escalation.clone()).await?)),
        None => None,
    };
    let mut o = s.overview(agent, q, escalation).await?;
    o.previous = previous;
    Ok(o)
}

/// One time series of `q` and, with `compared`, the same series of that range as its
/// `previous` (as [`overview_compared`]).
pub async fn timeseries_compared<S: MetricsReader + ?Sized>(
    s: &S,
    agent: AgentRef,
    q: MetricsQuery,
    compared: Option<MetricsQuery>,
    metric: SeriesMetric,
    interval: Interval,
) -> StoreResult<TimeseriesResponse> {
    let previous = match compared {
        Some(c) => Some(Box::new(s.timeseries(agent.clone(), c, metric, interval).await?)),
        None => None,
    };
    let mut t = s.timeseries(agent, q, metric, interval).await?;
    t.previous = previous;
    Ok(t)
}

/// Agents, their environments, keys and escalation settings.
pub trait AgentStore: Send + Sync {
    /// The principal behind a key hash, if the key exists and is not revoked.
    fn authenticate(&self, key_hash: [u8; 32])
    -> impl Future<Output = StoreResult<Option<Principal>>> + Send;
    /// The agent's environments, oldest first.
    fn environments(&self, agent_id: i64) -> impl Future<Output = StoreResult<Vec<EnvironmentRow>>> + Send;
    /// Creates an agent with the default environments.
    fn create_agent(&self, name: String, now: Micros) -> impl Future<Output = StoreResult<AgentRow>> + Send;
    /// All agents, oldest first.
    fn list_agents(&self) -> impl Future<Output = StoreResult<Vec<AgentRow>>> + Send;
    /// One agent.
    fn agent(&self, id: i64) -> impl Future<Output = StoreResult<Option<AgentRow>>> + Send;
    /// Renames an agent; `None` when there is no such agent, `Conflict` on `name` when taken.
    fn rename_agent(
        &self,
        id: i64,
        name: String,
    ) -> impl Future<Output = StoreResult<Option<AgentRow>>> + Send;
    /// Stores a key hash for an agent.
    fn create_key(
        &self,
        agent_id: i64,
        role: Role,
        prefix: String,
        hash: [u8; 32],
        now: Micros,
    ) -> impl Future<Output = StoreResult<KeyRow>> + Send;
    /// All keys (revoked ones included), oldest first.
    fn list_keys(&self) -> impl Future<Output = StoreResult<Vec<KeyRow>>> + Send;
    /// The agent's escalation tool names; `None` when it uses the default list.
    fn escalation_tools(
        &self,
        agent_id: i64,
    ) -> impl Future<Output = StoreResult<Option<Vec<String>>>> + Send;
    /// Sets (or with `None` resets to the default) the agent's escalation tool names; false when
    /// there is no such agent.
    fn set_escalation_tools(
        &self,
        agent_id: i64,
        tools: Option<Vec<String>>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Adds an environment slug to an agent (a taken slug is a conflict on `slug`).
    fn create_environment(
        &self,
        agent_id: i64,
        slug: String,
        name: String,
        is_production: bool,
        now: Micros,
    ) -> impl Future<Output = StoreResult<EnvironmentRow>> + Send;
    /// Revokes a key; false when there is no such key or it was already revoked.
    fn revoke_key(&self, key_id: i64, now: Micros) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Dashboard users and their sessions.
pub trait UserStore: Send + Sync {
    /// Creates a user. Refuses a taken e-mail (`Conflict` on `email`) and unknown agent ids
    /// (`UnknownReference` on `agents`).
    fn create_user(&self, u: NewUser) -> impl Future<Output = StoreResult<UserRow>> + Send;
    /// Creates `u` (an admin) only if no admin exists yet, atomically; `None` when one exists.
    fn create_first_admin(&self, u: NewUser) -> impl Future<Output = StoreResult<Option<UserRow>>> + Send;
    /// True when at least one admin exists.
    fn has_admin(&self) -> impl Future<Output = StoreResult<bool>> + Send;
    /// One user by id.
    fn user(&self, id: i64) -> impl Future<Output = StoreResult<Option<UserRow>>> + Send;
    /// One user by (normalized) e-mail, with the stored password hash.
    fn user_by_email(
        &self,
        email: String,
    ) -> impl Future<Output = StoreResult<Option<(UserRow, String)>>> + Send;
    /// All users, oldest first.
    fn list_users(&self) -> impl Future<Output = StoreResult<Vec<UserRow>>> + Send;
    /// Applies a change; `None` when there is no such user. Refuses to demote the last admin
    /// (`Conflict` on `role`) and unknown agent ids (`UnknownReference` on `agents`). A new
    /// password ends every session of the user except `keep_session`.
    fn update_user(
        &self,
        id: i64,
        patch: UserPatch,
    ) -> impl Future<Output = StoreResult<Option<UserRow>>> + Send;
    /// Deletes a user and their sessions; false when there is no such user. Refuses to delete
    /// the last admin (`Conflict` on `user`).
    fn delete_user(&self, id: i64) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Stores a new session (by the hash of its token).
    fn create_session(
        &self,
        user_id: i64,
        token_hash: [u8; 32],
        now: Micros,
        expires_at: Micros,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// The session behind a token hash, if it exists and has not expired at `now`.
    fn session(
        &self,
        token_hash: [u8; 32],
        now: Micros,
    ) -> impl Future<Output = StoreResult<Option<SessionRow>>> + Send;
    /// Moves a session's expiry.
    fn extend_session(
        &self,
        session_id: i64,
        now: Micros,
        expires_at: Micros,
    ) -> impl Future<Output = StoreResult<()>> + Send;
    /// Ends a session; false when there was none.
    fn delete_session(&self, token_hash: [u8; 32]) -> impl Future<Output = StoreResult<bool>> + Send;
}

/// Share links: read-only access to one agent's overview without an account.
pub trait ShareStore: Send + Sync {
    /// Stores a share link; `UnknownReference` on `agent` for an unknown agent.
    fn create_share(&self, s: NewShare) -> impl Future<Output = StoreResult<ShareRow>> + Send;
    /// The agent's share links (revoked and expired ones included), newest first.
    fn list_shares(&self, agent_id: i64) -> impl Future<Output = StoreResult<Vec<ShareRow>>> + Send;
    /// One share link by id.
    fn share(&self, id: i64) -> impl Future<Output = StoreResult<Option<ShareRow>>> + Send;
    /// The share link behind a token hash (revoked and expired ones too: the caller decides).
    fn share_by_hash(
        &self,
        token_hash: [u8; 32],
    ) -> impl Future<Output = StoreResult<Option<ShareRow>>> + Send;
    /// Revokes a share link; `None` when there is no such link or it was already revoked.
    fn revoke_share(
        &self,
        id: i64,
        now: Micros,
    ) -> impl Future<Output = StoreResult<Option<ShareRow>>> + Send;
}

/// White-label settings of agents.
pub trait BrandingStore: Send + Sync {
    /// The agent's branding (all `None` when never set).
    fn branding(&self, agent_id: i64) -> impl Future<Output = StoreResult<Branding>> + Send;
    /// Applies a change; `None` when there is no such agent. A new logo gets a new version.
    fn set_branding(
        &self,
        agent_id: i64,
        patch: BrandingPatch,
    ) -> impl Future<Output = StoreResult<Option<Branding>>> + Send;
    /// The agent's logo.
    fn logo(&self, agent_id: i64) -> impl Future<Output = StoreResult<Option<Logo>>> + Send;
}

/// Reading conversations in bulk for the CSV export.
pub trait ExportReader: Send + Sync {
    /// Up to `limit` conversations matching `filter`, after the position `after` (from the start
    /// when `None`), each with whether it escalated (an action named in
    /// `filter.escalation_tools`) and its latest explicit feedback. Following `next` until it is
    /// `None` yields every matching conversation once, in a stable order the backend chooses.
    fn export_conversations(
        &self,
        agent_id: i64,
        filter: ConversationFilter,
        after: Option<ExportCursor>,
        limit: i64,
    ) -> impl Future<Output = StoreResult<ExportPage>> + Send;
    /// Every transcript entry (messages, actions, buttons) of these conversations of the
    /// agent, by conversation pk, then event time, then id.
    fn export_entries(
        &self,
        agent_id: i64,
        conversation_pks: Vec<i64>,
    ) -> impl Future<Output = StoreResult<Vec<MessageRow>>> + Send;
}

/// What kind of committed write an event store reports to its listeners.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A conversation upsert (created or updated; a conversation created by its first message
    /// counts as a message only).
    Conversation,
    /// A tracked message.
    Message,
    /// Anything else: an action, button, attachment, feedback, span batch, or a change of a
    /// conversation or message.
    Other,
}

/// One committed change of an agent's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    /// The agent.
    pub agent_id: i64,
    /// What kind of write.
    pub change: Change,
    /// How many writes of that kind (a span batch projects many messages at once).
    pub count: u64,
}

/// Hears of an event store's committed writes, after their commit (the live feed of open
/// dashboards). Called on the store's own threads: it must return quickly and never block.
pub trait ChangeListener: Send + Sync {
    /// These writes were committed.
    fn committed(&self, changes: &[Committed]);
}

/// Tells listeners of every committed write. A backend reports each write it commits, through
/// whatever path (a 0.0.x call, a span batch's projection, a data-plane change), from the one
/// place its writes commit, so that no write path can forget to.
pub trait ChangeFeed: Send + Sync {
    /// Adds a listener; it hears of writes committed from now on.
    fn listen(&self, listener: std::sync::Arc<dyn ChangeListener>);
}

/// What the event store tells operators about its own work (`GET /metrics`).
pub trait StatsReader: Send + Sync {
    /// Its write queues and the projection backlog now. Cheap and never blocking (counters the
    /// store keeps as it works): called at every scrape.
    fn store_stats(&self) -> StoreStats;
}

/// Every storage trait, to bring their methods into scope (`use agentsight_store::prelude::*`).
pub mod prelude {
    pub use crate::{
        AgentStore, BrandingStore, ChangeFeed, ConfigStore, DataPlane, Erasure, EventStore, ExportReader,
        MetricsReader, NotifyStore, ReportStore, RetentionStore, ShareStore, SpanReader, SpanWriter,
        StatsReader, TrackingReader, TrackingWriter, UserStore,
    };
}

/// The configuration store: what operators set up (agents, environments, keys, escalation
/// names, users, sessions, share links, branding, retention and the audit log of removals, alert
/// rules and notification delivery, report schedules and their sends).
/// Small, read on every request, written rarely. Usable on its own: nothing in it refers to
/// events.
pub trait ConfigStore:
    AgentStore
    + UserStore
    + ShareStore
    + BrandingStore
    + RetentionStore
    + NotifyStore
    + ReportStore
    + Clone
    + 'static
{
}
impl<
    T: AgentStore
        + UserStore
        + ShareStore
        + BrandingStore
        + RetentionStore
        + NotifyStore
        + ReportStore
        + Clone
        + 'static,
> ConfigStore for T
{
}

/// The event store: what the agents send and everything read from it (tracking writes and
/// reads, spans, the data plane, metrics, export). Usable on its own: agents are known to it
/// only by id, and what it needs of their configuration (environments, escalation names) comes
/// in with each call.
pub trait EventStore:
    TrackingWriter
    + TrackingReader
    + SpanWriter
    + SpanReader
    + DataPlane
    + MetricsReader
    + ExportReader
    + ChangeFeed
    + Erasure
    + StatsReader
    + Clone
    + 'static
{
}
impl<
    T: TrackingWriter
        + TrackingReader
        + SpanWriter
        + SpanReader
        + DataPlane
        + MetricsReader
        + ExportReader
        + ChangeFeed
        + Erasure
        + StatsReader
        + Clone
        + 'static,
> EventStore for T
{
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Context goes before the message, the kind and the source stay, and [`chain`] prints every
    /// cause down to the first.
    #[test]
    fn context_keeps_the_kind_and_the_source() {
        let io = std::io::Error::other("no space left on device");
        let e = StoreError::storage(StorageFailure::DiskFull, "COMMIT", io).context("span projection");
        assert!(matches!(e, StoreError::Storage { kind: StorageFailure::DiskFull, .. }));
        assert_eq!(
            chain(&e).to_string(),
            "storage failure (disk full): span projection: COMMIT: no space left on device"
        );
        let busy = StoreError::unavailable("write queue is full").context("ingest");
        assert!(busy.is_unavailable());
        assert_eq!(chain(&busy).to_string(), "store unavailable: ingest: write queue is full");
        let refused = StoreError::Conflict { field: "name", message: "taken".into() }.context("ignored");
        assert_eq!(refused.to_string(), "name: taken");
        let inner = StoreError::internal_from("reader task", std::io::Error::other("panicked"));
        let outer = StoreError::internal_from("opening the store", inner);
        assert_eq!(
            chain(&outer).to_string(),
            "store failure: opening the store: store failure: reader task: panicked"
        );
    }

    /// A dependency named deep in the chain (an error shared by a batch, wrapped again, given
    /// context) is still found; other errors name none.
    #[test]
    fn the_unavailable_dependency_is_found_through_the_chain() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = StoreError::dependency_unavailable("clickhouse", "ClickHouse: INSERT", refused);
        assert_eq!(e.unavailable_dependency(), Some("clickhouse"));
        let shared = std::sync::Arc::new(e);
        let wrapped = StoreError::unavailable_from("batched insert into messages", shared).context("track");
        assert_eq!(wrapped.unavailable_dependency(), Some("clickhouse"));
        assert!(chain(&wrapped).to_string().contains("clickhouse unavailable"), "{}", chain(&wrapped));
        assert_eq!(StoreError::unavailable("write queue is full").unavailable_dependency(), None);
        let internal = StoreError::internal_from(
            "x",
            StoreError::dependency_unavailable("postgresql", "PostgreSQL", std::io::Error::other("gone")),
        );
        assert_eq!(internal.unavailable_dependency(), None, "only an Unavailable error names one");
    }
}
