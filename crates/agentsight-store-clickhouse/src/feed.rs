//! The change feed across nodes. Every node hears its own writes at once (in `report`, before
//! the caller is answered); it also sends them, summed per agent and kind, with PostgreSQL's
//! `NOTIFY` on a channel of the store's schema, and LISTENs on that channel over a connection of
//! its own, so the listeners of every other node (the live dashboard feeds) hear of the write
//! too. A node skips its own notifications by the node id each carries.
//!
//! * Payloads are small: `<node id> <agent>:<kind>:<count>,…` (kind `c` conversation, `m`
//!   message, `o` other), at most [`MAX_PAYLOAD`] bytes each (PostgreSQL allows 8,000).
//! * Sending never delays a write: changes go to a queue, and one task sends what has gathered
//!   while its previous `NOTIFY` was under way (so a busy node sends few, larger notifications).
//!   A `NOTIFY` that fails is logged and dropped (the feed is a hint to refresh; the data is in
//!   the store).
//! * The LISTEN connection is made again when it is lost (a PostgreSQL restart, a terminated
//!   backend), after 0.1 s, doubling up to 5 s while PostgreSQL stays away. Notifications sent
//!   while a node was not listening are not replayed to it.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Weak;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use agentsight_store::{Change, Committed, StoreResult};
use agentsight_store_postgres::{PostgresOptions, pgerr, poolerr};
use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{AsyncMessage, NoTls};

use crate::Inner;

/// Bytes of one notification's payload at most.
pub(crate) const MAX_PAYLOAD: usize = 7000;
/// The first wait before making the LISTEN connection again, and the longest.
const RETRY_FIRST: Duration = Duration::from_millis(100);
const RETRY_MAX: Duration = Duration::from_secs(5);

/// This node's end of the feed.
pub(crate) struct Feed {
    tx: mpsc::UnboundedSender<Committed>,
    /// LISTEN connections made so far (for operators and tests).
    pub(crate) connections: std::sync::Arc<AtomicU64>,
    /// Dropped with the store: the LISTEN task ends.
    _stop: oneshot::Sender<()>,
}

/// What the feed's tasks need, handed over once the store exists.
pub(crate) struct FeedStart {
    rx: mpsc::UnboundedReceiver<Committed>,
    stop: oneshot::Receiver<()>,
    pool: Pool,
    config: tokio_postgres::Config,
    channel: String,
    node: u64,
    connections: std::sync::Arc<AtomicU64>,
}

/// The channel of a schema's stores (an identifier of at most 63 bytes).
pub(crate) fn channel_name(schema: &str) -> String {
    let mut c = format!("agentsight_events_{schema}");
    while c.len() > 63 {
        c.pop();
    }
    c
}

/// `"ident"`, quotes doubled.
fn quote_ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn kind_char(c: Change) -> char {
    match c {
        Change::Conversation => 'c',
        Change::Message => 'm',
        Change::Other => 'o',
    }
}

/// The payloads announcing `sums` ((agent, kind) → count) from `node`.
pub(crate) fn encode(node: u64, sums: &BTreeMap<(i64, char), u64>) -> Vec<String> {
    let head = format!("{node:016x} ");
    let mut out = Vec::new();
    let mut cur = head.clone();
    for ((agent, kind), n) in sums {
        let item = format!("{agent}:{kind}:{n}");
        if cur.len() > head.len() && cur.len() + 1 + item.len() > MAX_PAYLOAD {
            out.push(std::mem::replace(&mut cur, head.clone()));
        }
        if cur.len() > head.len() {
            cur.push(',');
        }
        cur.push_str(&item);
    }
    if cur.len() > head.len() {
        out.push(cur);
    }
    out
}

/// The sender's node and its changes; `None` for a payload this build does not understand.
pub(crate) fn decode(payload: &str) -> Option<(u64, Vec<Committed>)> {
    let (node, rest) = payload.split_once(' ')?;
    let node = u64::from_str_radix(node, 16).ok()?;
    let mut out = Vec::new();
    for item in rest.split(',') {
        let mut parts = item.split(':');
        let agent_id = parts.next()?.parse().ok()?;
        let change = match parts.next()? {
            "c" => Change::Conversation,
            "m" => Change::Message,
            "o" => Change::Other,
            _ => return None,
        };
        let count = parts.next()?.parse().ok()?;
        out.push(Committed { agent_id, change, count });
    }
    Some((node, out))
}

impl Feed {
    /// The feed of the store in `pool`'s schema; its tasks start with [`FeedStart::run`].
    pub(crate) async fn new(pool: &Pool, pg: &PostgresOptions) -> StoreResult<(Feed, FeedStart)> {
        let schema: String = pool
            .get()
            .await
            .map_err(poolerr)?
            .query_one("SELECT current_schema()", &[])
            .await
            .map_err(pgerr)?
            .try_get(0)
            .map_err(pgerr)?;
        let node = std::collections::hash_map::RandomState::new().build_hasher().finish();
        let mut config = pg.config()?;
        config.application_name(format!("agentsight feed {node:016x}"));
        let (tx, rx) = mpsc::unbounded_channel();
        let (stop_tx, stop) = oneshot::channel();
        let connections = std::sync::Arc::new(AtomicU64::new(0));
        Ok((
            Feed { tx, connections: connections.clone(), _stop: stop_tx },
            FeedStart {
                rx,
                stop,
                pool: pool.clone(),
                config,
                channel: channel_name(&schema),
                node,
                connections,
            },
        ))
    }

    /// Queues this node's committed changes for the other nodes.
    pub(crate) fn publish(&self, changes: &[Committed]) {
        for c in changes {
            let _ = self.tx.send(*c);
        }
    }
}

impl crate::ClickHouseEventStore {
    /// How many times this node has connected its change feed's LISTEN connection (1 once it
    /// listens; one more after each reconnection). For operators and tests.
    pub fn feed_connections(&self) -> u64 {
        self.inner.feed.connections.load(Ordering::Relaxed)
    }
}

impl FeedStart {
    /// Starts the sending and the listening task; both end when the store is dropped.
    pub(crate) fn run(self, inner: Weak<Inner>) {
        let FeedStart { rx, stop, pool, config, channel, node, connections } = self;
        tokio::spawn(send(rx, pool, channel.clone(), node));
        tokio::spawn(listen(config, channel, node, inner, stop, connections));
    }
}

async fn send(mut rx: mpsc::UnboundedReceiver<Committed>, pool: Pool, channel: String, node: u64) {
    while let Some(first) = rx.recv().await {
        let mut sums: BTreeMap<(i64, char), u64> = BTreeMap::new();
        let mut add = |c: Committed| *sums.entry((c.agent_id, kind_char(c.change))).or_default() += c.count;
        add(first);
        while let Ok(c) = rx.try_recv() {
            add(c);
        }
        let payloads = encode(node, &sums);
        let client = match pool.get().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %poolerr(e), "change feed: no PostgreSQL connection for NOTIFY");
                continue;
            }
        };
        for p in payloads {
            if let Err(e) = client.execute("SELECT pg_notify($1, $2)", &[&channel, &p]).await {
                tracing::warn!(error = %pgerr(e), "change feed: NOTIFY failed");
                break;
            }
        }
    }
}

async fn listen(
    config: tokio_postgres::Config,
    channel: String,
    node: u64,
    inner: Weak<Inner>,
    mut stop: oneshot::Receiver<()>,
    connections: std::sync::Arc<AtomicU64>,
) {
    let mut wait = RETRY_FIRST;
    loop {
        let made = connections.load(Ordering::Relaxed);
        let session = listen_once(&config, &channel, node, &inner, &connections);
        tokio::select! {
            _ = &mut stop => return,
            r = session => match r {
                Ok(()) => {}
                Err(e) => tracing::warn!(error = %e, "change feed: the LISTEN connection is lost; connecting again"),
            },
        }
        if inner.strong_count() == 0 {
            return;
        }
        if connections.load(Ordering::Relaxed) > made {
            // A session that got as far as LISTEN: the next loss starts waiting from the start.
            wait = RETRY_FIRST;
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(wait) => {}
        }
        wait = (wait * 2).min(RETRY_MAX);
    }
}

/// One LISTEN connection, until it ends; answers why it ended.
async fn listen_once(
    config: &tokio_postgres::Config,
    channel: &str,
    node: u64,
    inner: &Weak<Inner>,
    connections: &AtomicU64,
) -> Result<(), String> {
    let (client, mut conn) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| conn.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    if tx.send(n.payload().to_string()).is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Ok(()),
            }
        }
    });
    if let Err(e) = client.batch_execute(&format!("LISTEN {}", quote_ident(channel))).await {
        driver.abort();
        return Err(e.to_string());
    }
    connections.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(channel, "change feed: listening");
    while let Some(payload) = rx.recv().await {
        let Some((from, changes)) = decode(&payload) else {
            tracing::warn!(payload, "change feed: a notification this build does not understand");
            continue;
        };
        if from == node || changes.is_empty() {
            continue;
        }
        let Some(inner) = inner.upgrade() else { return Ok(()) };
        let listeners = inner.listeners.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        for l in listeners.iter() {
            l.committed(&changes);
        }
    }
    drop(client);
    match driver.await {
        Ok(Ok(())) => Err("the connection closed".into()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_stay_small() {
        let mut sums = BTreeMap::new();
        sums.insert((7, 'c'), 1);
        sums.insert((7, 'm'), 12);
        sums.insert((9, 'o'), 3);
        let p = encode(0xab, &sums);
        assert_eq!(p, ["00000000000000ab 7:c:1,7:m:12,9:o:3"]);
        let (node, changes) = decode(&p[0]).unwrap();
        assert_eq!(node, 0xab);
        assert_eq!(
            changes,
            [
                Committed { agent_id: 7, change: Change::Conversation, count: 1 },
                Committed { agent_id: 7, change: Change::Message, count: 12 },
                Committed { agent_id: 9, change: Change::Other, count: 3 },
            ]
        );
        let many: BTreeMap<(i64, char), u64> = (0..5000i64).map(|a| ((a, 'm'), 1)).collect();
        let p = encode(1, &many);
        assert!(p.len() > 1 && p.iter().all(|x| x.len() <= MAX_PAYLOAD));
        let back: usize = p.iter().map(|x| decode(x).unwrap().1.len()).sum();
        assert_eq!(back, 5000, "every change in exactly one payload");
        assert!(decode("zz 1:m:1").is_none() && decode("01 1:q:1").is_none());
    }

    #[test]
    fn channel_names_fit_an_identifier() {
        assert_eq!(channel_name("public"), "agentsight_events_public");
        assert_eq!(channel_name(&"s".repeat(80)).len(), 63);
    }
}
