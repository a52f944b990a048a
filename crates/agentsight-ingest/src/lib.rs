//! The write path, shared by the HTTP handlers and `agentsight demo`: wire payload → validated
//! command (`agentsight-core`) → enrichment (geolocation, IP retention) → event store.
//!
//! Nothing here tells anyone of a write: the event store reports every write it commits to its
//! listeners ([`agentsight_store::ChangeFeed`]), from the one place its writes commit, so a new
//! write path cannot forget to. Errors are this crate's own ([`IngestError`]); the HTTP layer
//! maps them to answers.

#![warn(missing_docs)]

use agentsight_core::ValidationErrors;
use agentsight_core::archive::ArchivedBody;
use agentsight_core::spans::{BatchError, SpanIngest};
use agentsight_core::time::Micros;
use agentsight_core::tracking::{self, AgentScope, FeedbackSource};
use agentsight_protocol as wire;
use agentsight_store::{
    ActionLogRow, ButtonRow, FeedbackRow, MessageRow, SpanWriter, StoreError, TrackingWriter, Upserted,
};

pub use agentsight_core::tracking::{Enrichment, Locator};

/// Why a write was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The payload's fields are invalid (nothing was written).
    #[error("invalid fields")]
    Invalid(#[from] ValidationErrors),
    /// A span batch is invalid (nothing of it was written).
    #[error("invalid span batch")]
    Batch(BatchError),
    /// The store refused or failed the write.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BatchError> for IngestError {
    fn from(e: BatchError) -> Self {
        IngestError::Batch(e)
    }
}

/// `POST /api/conversations/`: an upsert, with the location of its address.
pub async fn conversation<S: TrackingWriter>(
    store: &S,
    enrich: &Enrichment,
    scope: &AgentScope,
    p: &wire::ConversationPayload,
    received: Micros,
) -> Result<Upserted, IngestError> {
    let mut cmd = tracking::validate_conversation(scope, p, received)?;
    enrich.apply(&mut cmd);
    Ok(store.upsert_conversation(cmd).await?)
}

/// `POST /api/track/`.
pub async fn message<S: TrackingWriter>(
    store: &S,
    scope: &AgentScope,
    p: wire::TrackPayload,
    received: Micros,
) -> Result<MessageRow, IngestError> {
    let cmd = tracking::validate_message(scope, p, received)?;
    Ok(store.insert_message(cmd).await?)
}

/// `POST /api/action_logs/`.
pub async fn action<S: TrackingWriter>(
    store: &S,
    scope: &AgentScope,
    p: &wire::ActionPayload,
    received: Micros,
) -> Result<ActionLogRow, IngestError> {
    let cmd = tracking::validate_action(scope, p, received)?;
    Ok(store.insert_action(cmd).await?)
}

/// `POST /api/buttons/`.
pub async fn button<S: TrackingWriter>(
    store: &S,
    scope: &AgentScope,
    p: &wire::ButtonPayload,
    received: Micros,
) -> Result<ButtonRow, IngestError> {
    let cmd = tracking::validate_button(scope, p, received)?;
    Ok(store.insert_button(cmd).await?)
}

/// `POST /api/conversation-feedbacks/` (and the dashboard's feedback, with another source).
pub async fn feedback<S: TrackingWriter>(
    store: &S,
    scope: &AgentScope,
    p: &wire::FeedbackPayload,
    source: FeedbackSource,
    received: Micros,
) -> Result<FeedbackRow, IngestError> {
    let cmd = tracking::validate_feedback(scope, p, source, received)?;
    Ok(store.insert_feedback(cmd).await?)
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

/// Reads a span batch's JSON (`text`, the body decompressed; `body`, the body as it will be
/// archived): the envelope parsed, the whole batch validated and each block enriched
/// ([`agentsight_core::spans::validate_and_enrich`]). CPU-bound: the HTTP layer runs it off the
/// threads that serve requests.
pub fn read_span_batch(
    enrich: &Enrichment,
    scope: &AgentScope,
    text: &str,
    p: &wire::v01::IngestPayload<'_>,
    received: Micros,
) -> Result<SpanIngest, IngestError> {
    Ok(agentsight_core::spans::validate_and_enrich(enrich, scope, text, p, received)?)
}

/// `POST /api/ingest/` (0.1.x): a batch validated whole and enriched ([`read_span_batch`]) is
/// archived and answered; its projection follows in the store.
pub async fn span_batch<S: SpanWriter>(
    store: &S,
    batch: SpanIngest,
    body: ArchivedBody,
) -> Result<Archived, IngestError> {
    let conversations = batch.blocks.len() as u64;
    let receipt = store.ingest_spans(batch, body).await?;
    Ok(Archived {
        batch_id: receipt.batch_id,
        accepted: receipt.accepted,
        duplicates: receipt.duplicates,
        conversations,
    })
}
