//! `GET /api/dash/live/`: the live feed as Server-Sent Events — `update` after committed writes
//! of the agent (at most one a second, coalesced), `live` (the `/api/metrics/live/` body) at
//! connect and every 5 s, `: ping` every 15 s. A stream ends when the server begins to shut
//! down (the browser reconnects, to the next process, after the `retry` it was given).

use std::convert::Infallible;
use std::time::Duration;

use agentsight_core::time::{now_micros, to_iso};
use agentsight_protocol::dashboard::LiveUpdate;
use agentsight_store::prelude::*;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use tokio::sync::watch;
use tokio::time::{Instant, Interval, MissedTickBehavior};

use crate::app::{AppState, Store};
use crate::auth::{AgentAccess, OverviewAccess, still_allowed};
use crate::error::ApiError;
use crate::live::Totals;

/// Least time between two `update` events of one stream.
pub const UPDATE_EVERY: Duration = Duration::from_secs(1);
/// Time between `live` events (access is rechecked at each).
pub const LIVE_EVERY: Duration = Duration::from_secs(5);
/// Time between keep-alive comments.
pub const PING_EVERY: Duration = Duration::from_secs(15);

struct Feed<S: Store> {
    st: AppState<S>,
    access: AgentAccess,
    rx: watch::Receiver<Totals>,
    seen: Totals,
    last_update: Option<Instant>,
    tick: Interval,
    stopping: watch::Receiver<bool>,
}

fn json_event(name: &str, data: &impl serde::Serialize) -> Event {
    Event::default()
        .event(name)
        .json_data(data)
        .unwrap_or_else(|_| Event::default().comment("unserializable"))
}

impl<S: Store> Feed<S> {
    /// The next event, or `None` when the stream ends (access gone, hub closed, server
    /// stopping).
    async fn next(&mut self) -> Option<Event> {
        tokio::select! {
            // (The `Ref` `wait_for` returns holds a lock: dropped at once.)
            () = async { drop(self.stopping.wait_for(|stopping| *stopping).await) } => None,
            changed = self.rx.changed() => {
                changed.ok()?;
                if let Some(at) = self.last_update {
                    tokio::time::sleep_until(at + UPDATE_EVERY).await;
                }
                let now = *self.rx.borrow_and_update();
                let d = now.since(&self.seen);
                self.seen = now;
                self.last_update = Some(Instant::now());
                Some(json_event("update", &LiveUpdate {
                    agent_id: self.access.agent_id(),
                    at: to_iso(now_micros()),
                    writes: d.writes,
                    messages: d.messages,
                    conversations: d.conversations,
                }))
            }
            _ = self.tick.tick() => {
                if !still_allowed(&self.st, &self.access).await {
                    return None;
                }
                match self.st.events.live(self.access.agent_ref(), now_micros()).await {
                    Ok(body) => Some(json_event("live", &body)),
                    // A busy store skips one tick; the stream goes on.
                    Err(e) => Some(Event::default().comment(format!("live unavailable: {e}"))),
                }
            }
        }
    }
}

/// `GET /api/dash/live/?agent=<id>` (session) or `?share=<token>`.
#[utoipa::path(
    get,
    path = "/api/dash/live/",
    tag = "dashboard",
    security(("api_key" = []), ("session" = []), ("share" = [])),
    params(super::openapi::AgentQuery),
    responses(
        (status = 200, description = "Server-sent events: first `retry`, then `live` (a `LiveResponse`) now and every few seconds, `update` (a `LiveUpdate`) after committed writes, and keep-alive comments.", content_type = "text/event-stream", body = super::openapi::SseEvent),
    ),
)]
pub(crate) async fn live_feed<S: Store>(
    State(st): State<AppState<S>>,
    OverviewAccess(access): OverviewAccess,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let mut rx = st.live.subscribe(access.agent_id());
    let seen = *rx.borrow_and_update();
    let mut tick = tokio::time::interval(LIVE_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let stopping = st.stopping.subscribe();
    let feed = Feed { st, access, rx, seen, last_update: None, tick, stopping };
    let first = futures::stream::once(async { Ok(Event::default().retry(Duration::from_secs(3))) });
    let rest = futures::stream::unfold(feed, |mut f| async move { f.next().await.map(|e| (Ok(e), f)) });
    Ok(Sse::new(futures::StreamExt::chain(first, rest))
        .keep_alive(KeepAlive::new().interval(PING_EVERY).text("ping")))
}
