//! Removing conversations for good: per-agent retention and per-customer erase (GDPR art. 17).
//!
//! The event store finds the conversations to remove a page at a time ([`Erasure`]'s two
//! finders) and removes a bounded step of them with everything of theirs
//! ([`Erasure::erase_conversations`]); the configuration store keeps each agent's retention and
//! the audit log of removals ([`RetentionStore`]). [`erase_all`] drives the steps.

use std::future::Future;

use agentsight_core::time::Micros;

use crate::StoreResult;

/// The most conversations one [`Erasure::erase_conversations`] step removes (one transaction
/// on SQLite: a step never holds the writer for long, so ingest goes on between steps).
pub const MAX_ERASE_STEP: usize = 500;

/// The cut-off of a retention of `days` at `now`: conversations whose last event is strictly
/// before it are removed ([`EraseSelector::LastEventBefore`]).
pub fn retention_cutoff(now: Micros, days: u32) -> Micros {
    now - i64::from(days) * 86_400_000_000
}

/// What one erase step (or a whole erase) removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    /// Conversations removed.
    pub conversations: u64,
    /// Messages (`kind = 0` entries) removed.
    pub messages: u64,
    /// Storage keys of the attachment files whose rows were removed: the caller deletes the
    /// files (the blob store is not the event store's).
    pub attachment_keys: Vec<String>,
}

impl Erased {
    /// Adds `other` to this.
    pub fn add(&mut self, other: Erased) {
        self.conversations += other.conversations;
        self.messages += other.messages;
        self.attachment_keys.extend(other.attachment_keys);
    }
}

/// Which conversations a removal takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EraseSelector {
    /// Every conversation whose last event (its start, explicit end, or latest message, action
    /// or button, whichever is latest) is strictly before this instant.
    LastEventBefore(Micros),
    /// Every conversation whose `customer_id` is this.
    Customer(String),
}

/// Removing an agent's conversations with everything of theirs: messages, actions and their
/// logs, buttons, feedback (conversation feedback and votes), attachment rows, spans and token
/// usage. The metrics reflect a removal as soon as the step's call returns.
pub trait Erasure: Send + Sync {
    /// Up to `limit` pks of the agent's conversations selected by `which` with a pk above
    /// `after`, ascending (soft-deleted ones included). For [`EraseSelector::Customer`] they are
    /// the smallest such pks, so a caller pages with `after`. For
    /// [`EraseSelector::LastEventBefore`] a backend may return any of them (in the order of its
    /// index on start times, which a retention run that finds little reads cheaply): a caller
    /// pages by removing what it got and asking again ([`erase_all`] does).
    fn conversations_to_erase(
        &self,
        agent_id: i64,
        which: EraseSelector,
        after: i64,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<i64>>> + Send;
    /// Removes these conversations of the agent (at most [`MAX_ERASE_STEP`]; pks that are not
    /// the agent's, or are gone already, are skipped) and everything of theirs.
    fn erase_conversations(
        &self,
        agent_id: i64,
        pks: Vec<i64>,
    ) -> impl Future<Output = StoreResult<Erased>> + Send;
}

/// Removes every conversation of the agent that `which` selects, a step of at most
/// [`MAX_ERASE_STEP`] at a time; `step_done` hears of each step (to delete its attachment files).
/// Repeating it finds nothing more to remove.
pub async fn erase_all<E: Erasure>(
    store: &E,
    agent_id: i64,
    which: EraseSelector,
    mut step_done: impl FnMut(&Erased),
) -> StoreResult<Erased> {
    let mut total = Erased::default();
    let mut after = 0;
    loop {
        let pks = store.conversations_to_erase(agent_id, which.clone(), after, MAX_ERASE_STEP).await?;
        let Some(last) = pks.last().copied() else { break };
        let step = store.erase_conversations(agent_id, pks).await?;
        let removed = step.conversations;
        step_done(&step);
        total.add(step);
        match which {
            EraseSelector::Customer(_) => after = last,
            // What was found is gone: ask again from the start. A step that removed nothing
            // (someone else removed them meanwhile) ends the run rather than spin.
            EraseSelector::LastEventBefore(_) if removed == 0 => break,
            EraseSelector::LastEventBefore(_) => {}
        }
    }
    Ok(total)
}

/// Why conversations were removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasureKind {
    /// The agent's retention.
    Retention,
    /// A customer's erase request.
    Erase,
}

impl ErasureKind {
    /// As stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ErasureKind::Retention => "retention",
            ErasureKind::Erase => "erase",
        }
    }

    /// From its stored name.
    pub fn parse(s: &str) -> Option<ErasureKind> {
        match s {
            "retention" => Some(ErasureKind::Retention),
            "erase" => Some(ErasureKind::Erase),
            _ => None,
        }
    }
}

/// One removal, as the audit log keeps it: no personal data (never the customer's id nor any
/// digest of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErasureRecord {
    /// Id (0 before it is stored).
    pub id: i64,
    /// When.
    pub at: Micros,
    /// The agent.
    pub agent_id: i64,
    /// Why.
    pub kind: ErasureKind,
    /// Who asked: `user:<id>`, `key:<id>`, `cli` or `retention`.
    pub actor: String,
    /// Conversations removed.
    pub conversations: u64,
    /// Messages removed.
    pub messages: u64,
}

/// Each agent's retention and the audit log of removals (part of the configuration store).
pub trait RetentionStore: Send + Sync {
    /// The agent's retention in days; `None` when it keeps everything.
    fn retention_days(&self, agent_id: i64) -> impl Future<Output = StoreResult<Option<u32>>> + Send;
    /// Sets (or with `None` turns off) the agent's retention; false when there is no such agent.
    fn set_retention_days(
        &self,
        agent_id: i64,
        days: Option<u32>,
    ) -> impl Future<Output = StoreResult<bool>> + Send;
    /// Every agent with a retention: (agent id, days), by agent id.
    fn retentions(&self) -> impl Future<Output = StoreResult<Vec<(i64, u32)>>> + Send;
    /// Appends a record to the audit log (its `id` is ignored); the stored record.
    fn record_erasure(&self, r: ErasureRecord) -> impl Future<Output = StoreResult<ErasureRecord>> + Send;
    /// The newest `limit` records (of one agent, or of all), newest first.
    fn erasures(
        &self,
        agent_id: Option<i64>,
        limit: i64,
    ) -> impl Future<Output = StoreResult<Vec<ErasureRecord>>> + Send;
}
