//! The write path shared by the HTTP handlers and `agentsight demo`: wire payload → validated
//! command (core) → enrichment (geolocation, IP retention) → store → [`publish`] to the live
//! feed.

use std::net::IpAddr;
use std::sync::Arc;

use agentsight_core::archive::ArchivedBody;
use agentsight_core::spans::{self, SpanIngest};
use agentsight_core::time::Micros;
use agentsight_core::tracking::{self, AgentScope, FeedbackSource, Location};
use agentsight_protocol as wire;
use agentsight_protocol::v01;
use agentsight_store::{
    ActionLogRow, ArchivedBatch, ButtonRow, FeedbackRow, IngestOutcome, MessageRow, SpanReader, SpanWriter,
    TrackingWriter, Upserted,
};

use crate::error::ApiError;
use crate::live::{Change, LiveHub};

/// Resolves an address to a location (the offline geolocation database).
pub type Locator = Arc<dyn Fn(IpAddr) -> Option<Location> + Send + Sync>;

/// What ingest adds to what the client sent.
#[derive(Clone, Default)]
pub struct Enrichment {
    /// Geolocation of `customer_ip_address`, when a database is loaded.
    pub locate: Option<Locator>,
    /// Keep the address itself (`--store-ip`); when false only its location is stored.
    pub store_ip: bool,
}

impl Enrichment {
    /// Adds the location of the conversation's address and drops the address if it is not
    /// to be kept.
    pub fn apply(&self, c: &mut tracking::ConversationUpsert) {
        let Some(ip) = c.fields.customer_ip_address.as_deref().and_then(|s| s.parse::<IpAddr>().ok()) else {
            return;
        };
        if let Some(locate) = &self.locate {
            c.fields.location = locate(ip);
        }
        if !self.store_ip {
            c.fields.customer_ip_address = None;
        }
    }
}

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
            Err(e) => tracing::warn!(batch = batch_id, error = %e, "span batch archived, not projected"),
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
            .map_err(|_| ApiError::Internal("the CPU gate is closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| ApiError::Internal(format!("a validation task failed: {e}")))
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

/// Projects the span batches the archive holds and the database has not projected (the
/// process stopped between the two), in order, before the server takes requests. Each is
/// validated and geolocated again from its body as at ingest (the agent's environments only
/// grow, so a batch valid then is valid now); one that no longer reads or validates is recorded
/// as failed and stays in the archive. Returns how many were projected and how many failed.
pub async fn project_unprojected<S: SpanWriter + SpanReader>(
    store: &S,
    enrich: &Enrichment,
) -> Result<(u64, u64), ApiError> {
    let (mut projected, mut failed, mut after) = (0, 0, 0);
    while let Some(b) = store.next_unprojected(after).await? {
        after = b.id;
        match revalidate(store, enrich, &b).await {
            Ok(batch) => {
                store.project_archived(b.id, batch).await?;
                projected += 1;
            }
            Err(why) => {
                tracing::error!(batch = b.id, error = %why, "an archived span batch cannot be projected");
                store.skip_archived(b.id, why).await?;
                failed += 1;
            }
        }
    }
    if projected + failed > 0 {
        tracing::info!(projected, failed, "projected the span batches archived before the last stop");
    }
    Ok((projected, failed))
}

/// An archived batch validated again, or why it cannot be.
async fn revalidate<S: SpanReader>(
    store: &S,
    enrich: &Enrichment,
    b: &ArchivedBatch,
) -> Result<SpanIngest, String> {
    let text = b.body.decode(agentsight_core::archive::MAX_DECODED_BYTES).map_err(|e| e.to_string())?;
    let p: v01::IngestPayload<'_> = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    let environments = store.environments(b.agent_id).await.map_err(|e| e.to_string())?;
    let scope =
        AgentScope { agent_id: b.agent_id, environments: environments.into_iter().map(|e| e.slug).collect() };
    validated(enrich, &scope, &text, &p, b.received_at).map_err(|e| format!("{e:?}"))
}

/// A batch validated whole, each block's upsert geolocated: at ingest, and again for a batch
/// projected from the archive.
pub fn validated(
    enrich: &Enrichment,
    scope: &AgentScope,
    text: &str,
    p: &v01::IngestPayload<'_>,
    received_at: Micros,
) -> Result<SpanIngest, spans::BatchError> {
    let mut batch = spans::validate_batch(scope, text, p, received_at)?;
    for b in &mut batch.blocks {
        enrich.apply(&mut b.upsert);
    }
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(ip: &str) -> tracking::ConversationUpsert {
        let scope = AgentScope { agent_id: 1, environments: vec![] };
        let p = wire::ConversationPayload {
            conversation_id: "c".into(),
            customer_ip_address: Some(ip.into()),
            ..Default::default()
        };
        tracking::validate_conversation(&scope, &p, 0).unwrap()
    }

    #[test]
    fn the_location_is_added_and_the_address_dropped_when_not_kept() {
        let locate: Locator = Arc::new(|ip: IpAddr| {
            (ip.to_string() == "203.0.113.7").then(|| Location { country: "HR".into(), ..Default::default() })
        });
        let mut c = upsert("203.0.113.7");
        Enrichment { locate: Some(locate.clone()), store_ip: false }.apply(&mut c);
        assert_eq!(c.fields.location.as_ref().map(|l| l.country.as_str()), Some("HR"));
        assert_eq!(c.fields.customer_ip_address, None);
        let mut c = upsert("198.51.100.1");
        Enrichment { locate: Some(locate), store_ip: true }.apply(&mut c);
        assert_eq!(c.fields.location, None);
        assert_eq!(c.fields.customer_ip_address.as_deref(), Some("198.51.100.1"));
    }
}
