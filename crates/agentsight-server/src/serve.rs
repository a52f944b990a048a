//! The HTTP/1.1 accept loop: hyper's connection with a header-read timeout (which is also the
//! idle keep-alive timeout) and a cap on open connections, in place of `axum::serve`, which
//! offers neither.
//!
//! * A connection has `header_read_timeout` to send a complete request head, counted from when
//!   it is ready for one: when it opens, and after each response on a kept-alive connection.
//!   A slow, half-sent or idle connection is closed then (hyper's own timer). A request being
//!   answered (a long export, the live feed) is not limited by it.
//! * At most `max_connections` connections are open. At the cap the server stops accepting:
//!   new clients wait in the kernel's listen queue and are served as soon as a connection
//!   closes (at the latest when an idle one reaches the timeout), instead of the process running
//!   out of file descriptors and failing every accept.
//! * When `shutdown` resolves the loop stops accepting and lets go of the listening socket
//!   (connections not yet accepted stay in the kernel's queue: with a socket passed in by
//!   systemd, the next process serves them). Idle connections are closed, each connection
//!   finishes the request it is answering and then closes, for at most `shutdown_timeout`;
//!   connections still open then are cut.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::{Service, ServiceExt};

/// How the accept loop treats connections.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send a request head (also the idle keep-alive timeout).
    pub header_read_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Time open connections have to finish their requests once shutdown began.
    pub shutdown_timeout: Duration,
}

/// What became of the connections open when shutdown began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Connections open when the loop stopped accepting.
    pub open: usize,
    /// Those still open at `shutdown_timeout`, cut then.
    pub cut: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests, for at most `limits.shutdown_timeout`.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Drained> {
    let Limits { header_read_timeout, max_connections, shutdown_timeout } = limits;
    let max_connections = max_connections.max(1);
    let slots = Arc::new(Semaphore::new(max_connections));
    // Told when the drain's time is up: connections still open are dropped (closed) then.
    let (cut_tx, cut_rx) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(header_read_timeout);
    // The peer address feeds the sign-in rate limit.
    let mut make = router.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = match make.call(peer).await {
            Ok(s) => s,
            Err(never) => match never {},
        };
        let service =
            TowerToHyperService::new(service.map_request(|req: Request<Incoming>| req.map(Body::new)));
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        let mut cut = cut_rx.clone();
        tokio::spawn(async move {
            tokio::select! {
                r = conn => if let Err(e) = r {
                    tracing::debug!(%peer, "connection closed: {e}");
                },
                _ = cut.wait_for(|cut| *cut) => tracing::debug!(%peer, "connection cut at the shutdown timeout"),
            }
            drop(slot);
        });
    }
    // Stop accepting: what the kernel queued and we did not accept stays queued for whoever
    // holds the socket next (systemd keeps a socket it passed in open).
    drop(listener);
    let open = max_connections - slots.available_permits();
    if open > 0 {
        tracing::info!(
            open,
            timeout_s = shutdown_timeout.as_secs(),
            "draining: open connections finish their requests"
        );
    }
    let cut = match tokio::time::timeout(shutdown_timeout, graceful.shutdown()).await {
        Ok(()) => 0,
        Err(_) => {
            let left = max_connections - slots.available_permits();
            tracing::warn!(
                connections = left,
                timeout_s = shutdown_timeout.as_secs(),
                "shutdown timeout reached: cutting the connections still open"
            );
            let _ = cut_tx.send(true);
            left
        }
    };
    // Every connection task has ended (and let go of the router and its stores).
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    Ok(Drained { open, cut })
}

/// A failed accept: a connection reset before it was taken is nothing; anything else (out of
/// file descriptors) is logged and the loop pauses rather than spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!("accepting a connection: {e}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
