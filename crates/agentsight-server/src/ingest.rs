//! The write path shared by the HTTP handlers and `agentsight demo`: wire payload → validated
//! command (core) → enrichment (geolocation, IP retention) → store → [`publish`] to the live
//! feed.

use std::sync::Arc;

use agentsight_core::archive::ArchivedBody;
use agentsight_core::spans::SpanIngest;
use agentsight_core::time::Micros;
use agentsight_core::tracking::{self, AgentScope, FeedbackSource};
use agentsight_protocol as wire;
use agentsight_store::{
    ActionLogRow, ButtonRow, FeedbackRow, IngestOutcome, MessageRow, SpanWriter, TrackingWriter, Upserted,
};

use crate::error::ApiError;
use crate::live::{Change, LiveHub};

pub use agentsight_core::tracking::{Enrichment, Locator};

/// Tells the live feed (`GET /api/dash/live/`) that a write of `agent_id` was committed.
///
/// Every write path calls this once per committed write, after the store answered (so after
/// the commit): the 0.0.x calls below, attachment uploads, operator changes, and any new
/// ingest path (0.1.x spans). It never blocks and never fails; open dashboards of the agent
/// refetch within about a second.
pub fn publish(live: &LiveHub, agent_id: i64, change: Change) {
    live.publish(agent_id, change);
}

/// `POST /api/conversations/`.
pub async fn conversation<S: TrackingWriter>(
    store: &S,
    live: &LiveHub,
    enrich: &Enrichment,
    scope: &AgentScope,
    p: &wire::ConversationPayload,
    received: Micros,
) -> Result<Upserted, ApiError> {
    let mut cmd = tracking::validate_conversation(scope, p, received)?;
    enrich.apply(&mut cmd);
    let up = store.upsert_conversation(cmd).await?;
    publish(live, scope.agent_id, Change::Conversation);
    Ok(up)
}

/// `POST /api/track/`.
pub async fn message<S: TrackingWriter>(
    store: &S,
    live: &LiveHub,
    scope: &AgentScope,
    p: wire::TrackPayload,
    received: Micros,
) -> Result<MessageRow, ApiError> {
    let cmd = tracking::validate_message(scope, p, received)?;
    let m = store.insert_message(cmd).await?;
    publish(live, scope.agent_id, Change::Message);
    Ok(m)
}

/// `POST /api/action_logs/`.
pub async fn action<S: TrackingWriter>(
    store: &S,
    live: &LiveHub,
    scope: &AgentScope,
    p: &wire::ActionPayload,
    received: Micros,
) -> Result<ActionLogRow, ApiError> {
    let cmd = tracking::validate_action(scope, p, received)?;
    let a = store.insert_action(cmd).await?;
    publish(live, scope.agent_id, Change::Other);
    Ok(a)
}

/// `POST /api/buttons/`.
pub async fn button<S: TrackingWriter>(
    store: &S,
    live: &LiveHub,
    scope: &AgentScope,
    p: &wire::ButtonPayload,
    received: Micros,
) -> Result<ButtonRow, ApiError> {
    let cmd = tracking::validate_button(scope, p, received)?;
    let b = store.insert_button(cmd).await?;
    publish(live, scope.agent_id, Change::Other);
    Ok(b)
}

/// `POST /api/conversation-feedbacks/` (and the dashboard's feedback, with another source).
pub async fn feedback<S: TrackingWriter>(
    store: &S,
    live: &LiveHub,
    scope: &AgentScope,
    p: &wire::FeedbackPayload,
    source: FeedbackSource,
    received: Micros,
) -> Result<FeedbackRow, ApiError> {
    let cmd = tracking::validate_feedback(scope, p, source, received)?;
    let f = store.insert_feedback(cmd).await?;
    publish(live, scope.agent_id, Change::Other);
    Ok(f)
}

/// What `POST /api/ingest/` answers once a batch is archived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Archived {
    /// The batch's id in the archive.
    pub batch_id: i64,
    /// Spans stored now.
    pub accepted: u64,
    /// Spans stored before (resends).
    pub duplicates: u64,
    /// Conversation blocks in the batch.
    pub conversations: u64,
}

/// `POST /api/ingest/` (0.1.x): a batch validated whole and geolocated ([`validated`]) is
/// archived and answered; the projection follows in the store, and the live feed hears of it
/// once it is committed.
pub async fn span_batch<S: SpanWriter>(
    store: &S,
    live: &LiveHub,
    scope: &AgentScope,
    batch: SpanIngest,
    body: ArchivedBody,
) -> Result<Archived, ApiError> {
    let conversations = batch.blocks.len() as u64;
    let receipt = store.ingest_spans(batch, body).await?;
    let archived = Archived {
        batch_id: receipt.batch_id,
        accepted: receipt.accepted,
        duplicates: receipt.duplicates,
        conversations,
    };
    let (live, agent_id, batch_id, stored) =
        (live.clone(), scope.agent_id, receipt.batch_id, receipt.accepted);
    tokio::spawn(async move {
        match receipt.projected.await {
            Ok(out) => publish_projection(&live, agent_id, stored, &out),
            Err(e) => {
                tracing::warn!(batch = batch_id, error = %agentsight_store::chain(&e), "span batch archived, not projected")
            }
        }
    });
    Ok(archived)
}

/// Runs CPU-heavy request work (decompressing, parsing and validating a span batch) on the
/// blocking pool, at most a fixed number at once, so that the threads serving requests stay
/// free for everyone else while a large batch is read.
#[derive(Clone)]
pub struct CpuGate(Arc<tokio::sync::Semaphore>);

impl CpuGate {
    /// A gate letting `permits` jobs run at once (at least one).
    pub fn new(permits: usize) -> CpuGate {
        CpuGate(Arc::new(tokio::sync::Semaphore::new(permits.max(1))))
    }

    /// One fewer than the CPUs, at least one: the same parallelism the request threads had.
    pub fn for_this_machine() -> CpuGate {
        CpuGate::new(std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)))
    }

    /// Runs `f` once a permit is free; the permit is held until `f` returns, even when the
    /// request that asked is gone.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self
            .0
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal_from("the CPU gate is closed", e))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| ApiError::internal_from("a validation task failed", e))
    }
}

/// Tells the live feed what a projected batch changed (`stored`: the spans it stored).
fn publish_projection(live: &LiveHub, agent_id: i64, stored: u64, out: &IngestOutcome) {
    for _ in out.conversations.iter().filter(|(_, created)| *created) {
        publish(live, agent_id, Change::Conversation);
    }
    for _ in 0..out.messages {
        publish(live, agent_id, Change::Message);
    }
    if stored > 0 {
        publish(live, agent_id, Change::Other);
    }
}
