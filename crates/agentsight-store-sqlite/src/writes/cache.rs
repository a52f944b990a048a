//! What the main writer thread caches about its database, so the hot paths skip a query: the
//! pk of a conversation id, a pk's owner and `is_used`, each conversation's latest message, the
//! action definitions that exist, and what the span path last wrote to a conversation row.
//!
//! The caches live in the writer's [`MainContext`](crate::writer::MainContext), which the writer
//! thread makes at start and passes to every job; [`Cache::clear`] (through
//! `WriteContext::forget`) empties all of them after a rollback, or when another process wrote.

use std::collections::{HashMap, HashSet};

use agentsight_core::time::Micros;

/// What the span path last wrote to a conversation row: a hash of the fields it set, whether it
/// marked the row used, and a bound on its `started_at` (the row's is at most this).
#[derive(Clone, Copy)]
struct Written {
    fields: u64,
    used: bool,
    started_at_at_most: Micros,
}

/// Entries kept before the map is emptied (a bound on memory, not a tuning knob).
pub(super) const MAX_CACHED_CONVERSATIONS: usize = 200_000;

/// What the writer knows of a conversation row by its pk (true for the same reasons as
/// `conversation_pks`: `is_used` is never cleared once set).
#[derive(Clone, Copy)]
pub(super) struct KnownRow {
    pub(super) agent_id: i64,
    pub(super) used: bool,
}

/// The main writer's caches. Each is true of what is committed plus what the group in progress
/// wrote, so a rollback must empty them ([`Cache::clear`]).
#[derive(Default)]
pub(crate) struct Cache {
    /// [`Written`] by conversation pk: a block whose fields are those last written, that needs no
    /// `is_used` flip and starts no earlier, changes nothing but `updated_at`. Any other write of
    /// the row's fields forgets its entry.
    written: HashMap<i64, Written>,
    /// `(agent, conversation_id) → pk` for conversations this writer has seen committed or is
    /// writing, so a message need not search the unique index again. Only the writer thread
    /// writes; a conversation is hard-deleted only by a removal (`crate::erasure`), which
    /// empties the caches, so an entry stays true once its group commits.
    conversation_pks: HashMap<i64, HashMap<String, i64>>,
    /// `pk → owner and whether used`, so a write by pk needs no ownership query and a transcript
    /// entry of a used conversation no `is_used` update.
    known_rows: HashMap<i64, KnownRow>,
    /// The latest message (by ts, then id) of conversations the writer has seen: `pk → (ts,
    /// sender)`. Messages almost always arrive in order, so the predecessor of a new message is
    /// usually this one and needs no query.
    last_message: HashMap<i64, (i64, String)>,
    /// `(agent, action name)` pairs whose definition row exists (or is being written in the
    /// current group).
    known_actions: HashSet<(i64, String)>,
}

impl crate::writer::Caches for Cache {
    /// Forgets what the main writer caches (conversation pks, latest messages, known actions,
    /// what the span path last wrote): after a rollback, or when another process wrote to the
    /// database.
    fn clear(&mut self) {
        self.conversation_pks.clear();
        self.known_rows.clear();
        self.last_message.clear();
        self.known_actions.clear();
        self.written.clear();
    }

    fn project(
        cx: &mut crate::writer::WriteContext<Self>,
        batch: &agentsight_core::spans::SpanIngest,
        plan: &crate::archiving::Plan,
    ) -> agentsight_store::StoreResult<agentsight_store::IngestOutcome> {
        super::project_batch(cx, batch, plan)
    }
}

impl Cache {
    pub(super) fn unchanged_since_written(
        &self,
        pk: i64,
        fields: u64,
        used: bool,
        started_at: Micros,
    ) -> bool {
        self.written
            .get(&pk)
            .is_some_and(|w| w.fields == fields && (w.used || !used) && started_at >= w.started_at_at_most)
    }

    pub(super) fn remember_written(&mut self, pk: i64, fields: u64, used: bool, started_at: Micros) {
        let w = &mut self.written;
        if w.len() >= MAX_CACHED_CONVERSATIONS && !w.contains_key(&pk) {
            w.clear();
        }
        let used = used || w.get(&pk).is_some_and(|x| x.used);
        w.insert(pk, Written { fields, used, started_at_at_most: started_at });
    }

    pub(super) fn forget_written(&mut self, pk: i64) {
        self.written.remove(&pk);
    }

    pub(super) fn known_row(&self, pk: i64) -> Option<KnownRow> {
        self.known_rows.get(&pk).copied()
    }

    /// Records that `pk` belongs to `agent_id` (keeping what is known of its `is_used`).
    pub(super) fn remember_owner(&mut self, agent_id: i64, pk: i64) {
        let m = &mut self.known_rows;
        if m.len() >= MAX_CACHED_CONVERSATIONS && !m.contains_key(&pk) {
            m.clear();
        }
        m.entry(pk).or_insert(KnownRow { agent_id, used: false });
    }

    /// Records that conversation `pk` (already remembered with its owner) is used.
    pub(super) fn remember_used(&mut self, pk: i64) {
        if let Some(k) = self.known_rows.get_mut(&pk) {
            k.used = true;
        }
    }

    pub(super) fn cached_pk(&self, agent_id: i64, cid: &str) -> Option<i64> {
        self.conversation_pks.get(&agent_id).and_then(|c| c.get(cid)).copied()
    }

    pub(super) fn remember_pk(&mut self, agent_id: i64, cid: &str, pk: i64) {
        let agent = self.conversation_pks.entry(agent_id).or_default();
        if agent.len() >= MAX_CACHED_CONVERSATIONS {
            agent.clear();
        }
        agent.insert(cid.to_string(), pk);
        self.remember_owner(agent_id, pk);
    }

    /// The cached latest message of a conversation.
    pub(super) fn last_message(&self, conversation_pk: i64) -> Option<(i64, String)> {
        self.last_message.get(&conversation_pk).cloned()
    }

    pub(super) fn remember_last(&mut self, conversation_pk: i64, ts: i64, sender: &str) {
        let m = &mut self.last_message;
        if m.len() >= MAX_CACHED_CONVERSATIONS {
            m.clear();
        }
        m.insert(conversation_pk, (ts, sender.to_string()));
    }

    pub(super) fn knows_action(&self, key: &(i64, String)) -> bool {
        self.known_actions.contains(key)
    }

    pub(super) fn remember_action(&mut self, key: (i64, String)) {
        let k = &mut self.known_actions;
        if k.len() >= MAX_CACHED_CONVERSATIONS {
            k.clear();
        }
        k.insert(key);
    }

    /// Forgets which action definitions exist (one was renamed).
    pub(super) fn forget_actions(&mut self) {
        self.known_actions.clear();
    }
}
