//! The live feed's hub: committed writes are counted per agent, and every open event stream of
//! that agent wakes up. Coalescing is built in: a stream reads the latest totals when it wakes,
//! however many writes happened meanwhile (a `tokio::sync::watch` per agent).
//!
//! The event store tells the hub of every write it commits ([`agentsight_store::ChangeFeed`]:
//! the hub is registered as a listener when the app is built); a configuration change that
//! dashboards show (escalation names, branding) is published by its handler. Either costs one
//! uncontended lock and a hash lookup, and nothing at all for agents nobody is watching.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::watch;

/// Counts of committed writes of one agent since the hub started watching it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Every committed write.
    pub writes: u64,
    /// Tracked messages among them.
    pub messages: u64,
    /// Conversation upserts among them (new or updated; a conversation created by its first
    /// message counts as a message only).
    pub conversations: u64,
}

impl Totals {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &Totals) -> Totals {
        Totals {
            writes: self.writes.saturating_sub(earlier.writes),
            messages: self.messages.saturating_sub(earlier.messages),
            conversations: self.conversations.saturating_sub(earlier.conversations),
        }
    }
}

pub use agentsight_store::Change;
use agentsight_store::{ChangeListener, Committed};

impl ChangeListener for LiveHub {
    /// Counts committed writes; wakes the streams of their agents.
    fn committed(&self, changes: &[Committed]) {
        let Ok(map) = self.agents.lock() else { return };
        for c in changes {
            if let Some(tx) = map.get(&c.agent_id) {
                tx.send_modify(|t| {
                    t.writes += c.count;
                    match c.change {
                        Change::Message => t.messages += c.count,
                        Change::Conversation => t.conversations += c.count,
                        Change::Other => {}
                    }
                });
            }
        }
    }
}

/// Per-agent totals that event streams watch. Cheap to clone (a clone publishes to the same
/// streams: the span ingest path publishes from a task once a batch is projected).
#[derive(Default, Clone)]
pub struct LiveHub {
    agents: std::sync::Arc<Mutex<HashMap<i64, watch::Sender<Totals>>>>,
}

impl LiveHub {
    /// Counts a committed write of `agent_id`; wakes the agent's streams.
    pub fn publish(&self, agent_id: i64, change: Change) {
        self.committed(&[Committed { agent_id, change, count: 1 }]);
    }

    /// Watches an agent's totals (the receiver starts at the current value).
    pub fn subscribe(&self, agent_id: i64) -> watch::Receiver<Totals> {
        match self.agents.lock() {
            Ok(mut map) => {
                map.entry(agent_id).or_insert_with(|| watch::channel(Totals::default()).0).subscribe()
            }
            // A poisoned lock only means a panic elsewhere; a stream that never updates is the
            // honest degradation.
            Err(_) => watch::channel(Totals::default()).1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_wake_only_their_agents_streams_and_coalesce() {
        let hub = LiveHub::default();
        hub.publish(1, Change::Message); // nobody watches yet: not counted
        let mut a = hub.subscribe(1);
        let b = hub.subscribe(2);
        let seen = *a.borrow_and_update();
        hub.publish(1, Change::Message);
        hub.publish(1, Change::Conversation);
        hub.publish(1, Change::Other);
        a.changed().await.unwrap();
        let now = *a.borrow_and_update();
        assert_eq!(now.since(&seen), Totals { writes: 3, messages: 1, conversations: 1 });
        assert!(!b.has_changed().unwrap(), "another agent's stream stays asleep");
    }
}
