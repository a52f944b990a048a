//! The SQL of every write, run by the writer thread inside its group's transaction. Each write
//! that changes a metric fact reports it to [`crate::deltas`] for the metrics index.
//!
//! By concern: conversations (upsert, lowering, resolving a reference, patch), the transcript
//! (messages, actions, buttons, conversation feedback), attachments, span projection and token
//! usage, the 0.1.x data plane, agents/keys/environments, and what the writer caches.

use rusqlite::Connection;

mod admin;
mod attachments;
mod cache;
mod conversations;
mod dataplane;
mod spans;
mod transcript;

pub(crate) use admin::{
    create_agent, create_environment, create_key, rename_agent, revoke_key, set_escalation_tools,
};
pub(crate) use attachments::insert_attachments;
pub(crate) use cache::Cache;
pub(crate) use conversations::{patch_conversation, upsert_conversation};
pub(crate) use dataplane::{
    create_action, delete_feedback, insert_vote, set_message_metadata, update_action, update_feedback,
};
pub(crate) use spans::{project_batch, restate_costs};
pub(crate) use transcript::{insert_action, insert_button, insert_feedback, insert_message};

/// Runs a statement through the connection's prepared-statement cache (the writer runs the same
/// few statements thousands of times a second; parsing them each time would dominate).
fn exec(conn: &Connection, sql: &str, p: impl rusqlite::Params) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(p)
}

/// One row through the statement cache.
fn one<T>(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(p, f)
}
