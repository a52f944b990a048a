//! What the main writer thread caches about its database, so the hot paths skip a query: the
//! pk of a conversation id, a pk's owner and `is_used`, each conversation's latest message, the
//! action definitions that exist, and what the span path last wrote to a conversation row.

use std::cell::RefCell;
use std::collections::HashMap;

use agentsight_core::time::Micros;

/// What the span path last wrote to a conversation row: a hash of the fields it set, whether it
/// marked the row used, and a bound on its `started_at` (the row's is at most this).
#[derive(Clone, Copy)]
struct Written {
    fields: u64,
    used: bool,
    started_at_at_most: Micros,
}

thread_local! {
    /// [`Written`] by conversation pk: a block whose fields are those last written, that needs no
    /// `is_used` flip and starts no earlier, changes nothing but `updated_at`. Any other write of
    /// the row's fields forgets its entry; emptied with [`forget_cached`].
    static WRITTEN: RefCell<HashMap<i64, Written>> = RefCell::new(HashMap::new());
}

pub(super) fn unchanged_since_written(pk: i64, fields: u64, used: bool, started_at: Micros) -> bool {
    WRITTEN.with(|w| {
        w.borrow()
            .get(&pk)
            .is_some_and(|w| w.fields == fields && (w.used || !used) && started_at >= w.started_at_at_most)
    })
}

pub(super) fn remember_written(pk: i64, fields: u64, used: bool, started_at: Micros) {
    WRITTEN.with(|w| {
        let mut w = w.borrow_mut();
        if w.len() >= MAX_CACHED_CONVERSATIONS && !w.contains_key(&pk) {
            w.clear();
        }
        let used = used || w.get(&pk).is_some_and(|x| x.used);
        w.insert(pk, Written { fields, used, started_at_at_most: started_at });
    });
}

pub(super) fn forget_written(pk: i64) {
    WRITTEN.with(|w| w.borrow_mut().remove(&pk));
}

thread_local! {
    /// `(agent, conversation_id) → pk` for conversations this thread has seen committed or is
    /// writing, so a message need not search the unique index again. Only the writer thread
    /// writes; conversations are never hard-deleted, so an entry stays true once its group
    /// commits, and [`forget_cached`] empties the map when a group rolls back.
    static CONVERSATION_PKS: RefCell<HashMap<i64, HashMap<String, i64>>> = RefCell::new(HashMap::new());
}

/// Entries kept before the map is emptied (a bound on memory, not a tuning knob).
pub(super) const MAX_CACHED_CONVERSATIONS: usize = 200_000;

/// What the writer knows of a conversation row by its pk (true for the same reasons as
/// `CONVERSATION_PKS`: `is_used` is never cleared once set).
#[derive(Clone, Copy)]
pub(super) struct KnownRow {
    pub(super) agent_id: i64,
    pub(super) used: bool,
}

thread_local! {
    /// `pk → owner and whether used`, so a write by pk needs no ownership query and a transcript
    /// entry of a used conversation no `is_used` update. Emptied with [`forget_cached`].
    static KNOWN_ROWS: RefCell<HashMap<i64, KnownRow>> = RefCell::new(HashMap::new());
}

pub(super) fn known_row(pk: i64) -> Option<KnownRow> {
    KNOWN_ROWS.with(|m| m.borrow().get(&pk).copied())
}

/// Records that `pk` belongs to `agent_id` (keeping what is known of its `is_used`).
pub(super) fn remember_owner(agent_id: i64, pk: i64) {
    KNOWN_ROWS.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_CACHED_CONVERSATIONS && !m.contains_key(&pk) {
            m.clear();
        }
        m.entry(pk).or_insert(KnownRow { agent_id, used: false });
    });
}

/// Records that conversation `pk` (already remembered with its owner) is used.
pub(super) fn remember_used(pk: i64) {
    KNOWN_ROWS.with(|m| {
        if let Some(k) = m.borrow_mut().get_mut(&pk) {
            k.used = true;
        }
    });
}

/// Forgets what the main writer caches (conversation pks, latest messages, known actions, what
/// the span path last wrote): after a rollback, or when another process wrote to the database.
pub(crate) fn forget_cached() {
    CONVERSATION_PKS.with(|m| m.borrow_mut().clear());
    KNOWN_ROWS.with(|m| m.borrow_mut().clear());
    LAST_MESSAGE.with(|m| m.borrow_mut().clear());
    KNOWN_ACTIONS.with(|m| m.borrow_mut().clear());
    WRITTEN.with(|w| w.borrow_mut().clear());
}

pub(super) fn cached_pk(agent_id: i64, cid: &str) -> Option<i64> {
    CONVERSATION_PKS.with(|m| m.borrow().get(&agent_id).and_then(|c| c.get(cid)).copied())
}

pub(super) fn remember_pk(agent_id: i64, cid: &str, pk: i64) {
    CONVERSATION_PKS.with(|m| {
        let mut m = m.borrow_mut();
        let agent = m.entry(agent_id).or_default();
        if agent.len() >= MAX_CACHED_CONVERSATIONS {
            agent.clear();
        }
        agent.insert(cid.to_string(), pk);
    });
    remember_owner(agent_id, pk);
}

thread_local! {
    /// The latest message (by ts, then id) of conversations the writer has seen: `pk → (ts,
    /// sender)`. Messages almost always arrive in order, so the predecessor of a new message is
    /// usually this one and needs no query. Emptied with [`forget_cached`].
    pub(super) static LAST_MESSAGE: RefCell<HashMap<i64, (i64, String)>> = RefCell::new(HashMap::new());
}

pub(super) fn remember_last(conversation_pk: i64, ts: i64, sender: &str) {
    LAST_MESSAGE.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= MAX_CACHED_CONVERSATIONS {
            m.clear();
        }
        m.insert(conversation_pk, (ts, sender.to_string()));
    });
}

thread_local! {
    /// `(agent, action name)` pairs whose definition row exists (or is being written in the
    /// current group). Emptied with [`forget_cached`].
    pub(super) static KNOWN_ACTIONS: RefCell<std::collections::HashSet<(i64, String)>> = RefCell::new(Default::default());
}
