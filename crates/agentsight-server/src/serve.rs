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

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_read_timeout: Duration,
    max_connections: usize,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(max_connections.max(1)));
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
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, "connection closed: {e}");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
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
