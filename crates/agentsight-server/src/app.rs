//! Building the application: store, state, router, listener; running until a shutdown signal.

use agentsight_store::prelude::*;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use agentsight_store::{BlobStore, ConfigStore, EventStore, StoreError};
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tokio::net::TcpListener;

use crate::auth::LoginLimiter;
use crate::blobs::FileBlobs;
use crate::config::Settings;
use crate::error::ErrorCode;
use crate::extract::KeyCache;
use crate::live::LiveHub;
use crate::routes;
use agentsight_core::tracking::{Enrichment, Locator};

/// The stores a deployment composes: one configuration store and one event store. The binary
/// chooses and opens them; the server only sees these traits.
pub trait Store: Send + Sync + 'static {
    /// Agents, keys, users, sessions, share links, branding.
    type Config: ConfigStore;
    /// Conversations, messages, spans, usage, metrics, export.
    type Events: EventStore;
}

/// A configuration store and an event store (the same value, cloned, for a backend that is
/// both, such as the embedded SQLite store).
pub struct Stores<C, E> {
    /// The configuration store.
    pub config: C,
    /// The event store.
    pub events: E,
}

impl<C: ConfigStore, E: EventStore> Store for Stores<C, E> {
    type Config = C;
    type Events = E;
}

impl<C: Clone, E: Clone> Clone for Stores<C, E> {
    fn clone(&self) -> Self {
        Stores { config: self.config.clone(), events: self.events.clone() }
    }
}

/// What every handler shares.
pub struct Shared<S: Store> {
    /// The configuration store.
    pub config: S::Config,
    /// The event store.
    pub events: S::Events,
    /// Validated settings.
    pub settings: Settings,
    /// Attachment bytes (files in the data dir, or PostgreSQL on scale-out).
    pub blobs: Arc<dyn BlobStore>,
    /// Recently verified keys.
    pub keys: KeyCache,
    /// Geolocation and IP retention at ingest.
    pub enrich: Enrichment,
    /// The live feed: committed writes per agent.
    pub live: LiveHub,
    /// Sign-in attempt limits.
    pub logins: LoginLimiter,
    /// SHA-256 of the one-time setup token and when it expires, while no admin exists (kept
    /// in memory only).
    pub setup: Mutex<Option<([u8; 32], agentsight_core::time::Micros)>>,
    /// The per-agent throttle of `POST /api/ingest/` (None: unlimited).
    pub ingest_limiter: Option<crate::routes::spans::IngestLimiter>,
    /// Where CPU-heavy request work runs, off the request threads.
    pub cpu: crate::cpu::CpuGate,
    /// The stores' last lasting storage failure, for `/readyz`.
    pub write_health: crate::ready::WriteHealth,
    /// Becomes true when the server begins to shut down: long-lived responses (the live
    /// feed's event streams) end then, so they do not hold the drain.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Requests and ingest outcomes counted for `GET /metrics`.
    pub telemetry: crate::telemetry::Telemetry,
    /// E-mail and webhook delivery with its log and retries (alerts, reports).
    pub notifier: crate::notify::Notifier,
}

/// Shared state of every handler: one pointer, cloned for each request.
pub struct AppState<S: Store>(pub Arc<Shared<S>>);

impl<S: Store> Clone for AppState<S> {
    fn clone(&self) -> Self {
        AppState(self.0.clone())
    }
}

impl<S: Store> std::ops::Deref for AppState<S> {
    type Target = Shared<S>;

    fn deref(&self) -> &Shared<S> {
        &self.0
    }
}

/// Why the application could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The settings are invalid (every problem, `; `-separated).
    #[error("invalid settings: {0}")]
    Settings(String),
    /// The attachments directory could not be created or made private.
    #[error("attachments dir {}", path.display())]
    Attachments {
        /// The directory.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("binding {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A listening socket passed in (socket activation) could not be used.
    #[error("using the listening socket passed in")]
    Listener(#[source] std::io::Error),
    /// The store failed while the application was starting (asking whether an admin exists).
    #[error("starting")]
    Store(#[source] StoreError),
}

/// A built application, bound to its port and ready to run.
pub struct App<S: Store> {
    listener: TcpListener,
    router: Router,
    stores: Stores<S::Config, S::Events>,
    setup_token: Option<String>,
    limits: crate::serve::Limits,
    stopping: tokio::sync::watch::Sender<bool>,
}

/// Ingest enrichment for these settings: geolocation from `settings.geo_dir()` when its files
/// are there (said once in the log either way), and the IP retention setting.
pub fn enrichment(settings: &Settings) -> Enrichment {
    let dir = settings.geo_dir();
    let mut databases = Vec::new();
    let locate: Option<Locator> = match agentsight_geo::GeoDb::open(&dir) {
        Ok(db) => {
            tracing::info!(geo = %db.describe(), "geolocation on");
            databases = db.builds().iter().map(|(name, built)| (name.to_string(), *built)).collect();
            let db = Arc::new(db);
            Some(Arc::new(move |ip| db.lookup(ip)))
        }
        Err(e) => {
            tracing::warn!(
                dir = %dir.display(),
                error = %e,
                "geolocation off: countries and cities of new conversations are unknown; to turn \
                 it on, run `{}` in the repository, then restart",
                fetch_geo_command(&dir)
            );
            None
        }
    };
    Enrichment { locate, store_ip: settings.store_ip, databases }
}

/// The command that installs the geolocation files into `dir` (made absolute, so it works from
/// the repository wherever the server was started), quoted for a POSIX shell when needed.
pub fn fetch_geo_command(dir: &std::path::Path) -> String {
    let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf());
    let dir = dir.to_string_lossy();
    let plain = !dir.is_empty() && dir.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c));
    let quoted = if plain { dir.into_owned() } else { format!("'{}'", dir.replace('\'', r"'\''")) };
    format!("scripts/fetch-geo.sh --geo-dir {quoted}")
}

/// The router over any store.
pub fn router<S: Store>(state: AppState<S>) -> Router {
    let router = routes::router(state.clone())
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::sessions::<S>))
        .layer(middleware::from_fn_with_state(state.clone(), crate::ready::track::<S>))
        .layer(middleware::from_fn(refuse_nul_in_uri))
        .layer(middleware::from_fn(log_errors));
    // Requests are counted only when `GET /metrics` is served: off, it costs nothing.
    let router = if state.settings.prometheus_token.is_some() {
        router.layer(middleware::from_fn_with_state(state.clone(), crate::telemetry::observe::<S>))
    } else {
        router
    };
    router.layer(middleware::from_fn_with_state(state, crate::proxy::forwarded::<S>))
}

/// A shared state over a store, with a setup token when no admin exists yet (returned once,
/// to be printed as the setup link).
pub async fn state<S: Store>(
    stores: Stores<S::Config, S::Events>,
    settings: Settings,
    blobs: Arc<dyn BlobStore>,
    enrich: Enrichment,
) -> Result<(AppState<S>, Option<String>), StoreError> {
    let notifier = crate::notify::Notifier::new(&settings).map_err(StoreError::internal)?;
    let ttl = i64::try_from(settings.setup_link_ttl.as_micros()).unwrap_or(i64::MAX);
    let setup_expiry = agentsight_core::time::now_micros().saturating_add(ttl);
    let Stores { config, events } = stores;
    // The live feed hears of every write the event store commits, from the store itself.
    let live = LiveHub::default();
    events.listen(Arc::new(live.clone()));
    let token = if config.has_admin().await? {
        None
    } else {
        Some(agentsight_core::dashboard::generate_token(agentsight_core::dashboard::SETUP_PREFIX))
    };
    let state = AppState(Arc::new(Shared {
        ingest_limiter: crate::routes::spans::IngestLimiter::new(settings.ingest_rate, settings.ingest_burst),
        config,
        events,
        settings,
        blobs,
        keys: KeyCache::default(),
        enrich,
        live,
        logins: LoginLimiter::default(),
        setup: Mutex::new(token.as_ref().map(|t| (t.hash, setup_expiry))),
        cpu: crate::cpu::CpuGate::for_this_machine(),
        write_health: crate::ready::WriteHealth::default(),
        stopping: tokio::sync::watch::Sender::new(false),
        telemetry: crate::telemetry::Telemetry::default(),
        notifier,
    }));
    Ok((state, token.map(|t| t.secret)))
}

impl<C: ConfigStore, E: EventStore> App<Stores<C, E>> {
    /// Binds the listener to `settings.listen` and builds the router over `stores`, opened by
    /// the caller (the binary chooses the backends), with `enrich` applied at ingest.
    pub async fn build(
        settings: Settings,
        stores: Stores<C, E>,
        enrich: Enrichment,
    ) -> Result<Self, StartError> {
        Self::build_on(settings, stores, enrich, None, None).await
    }

    /// As [`App::build`], serving on `listener` when given (a listening socket passed in by
    /// systemd's socket activation: `settings.listen` is then not bound), with attachment bytes
    /// in `blobs` when given (else files in `settings.attachments_dir()`).
    pub async fn build_on(
        mut settings: Settings,
        stores: Stores<C, E>,
        enrich: Enrichment,
        listener: Option<std::net::TcpListener>,
        blobs: Option<Arc<dyn BlobStore>>,
    ) -> Result<Self, StartError> {
        settings.validate().map_err(StartError::Settings)?;
        // The notifier reads its CA file here, so a bad one is a settings error at start.
        crate::notify::Notifier::new(&settings).map_err(StartError::Settings)?;
        settings.public_url = settings
            .public_url
            .as_deref()
            .map(crate::config::parse_public_url)
            .transpose()
            .map_err(StartError::Settings)?;
        let blobs = match blobs {
            Some(b) => b,
            None => {
                let path = settings.attachments_dir();
                Arc::new(
                    FileBlobs::new(path.clone())
                        .map_err(|source| StartError::Attachments { path, source })?,
                )
            }
        };
        let listener = match listener {
            Some(l) => {
                l.set_nonblocking(true).map_err(StartError::Listener)?;
                TcpListener::from_std(l).map_err(StartError::Listener)?
            }
            None => {
                let addr = settings.listen;
                TcpListener::bind(addr).await.map_err(|source| StartError::Bind { addr, source })?
            }
        };
        let limits = crate::serve::Limits {
            header_read_timeout: settings.header_read_timeout,
            max_connections: settings.max_connections,
            shutdown_timeout: settings.shutdown_timeout,
        };
        let (state, setup_token) = state::<Stores<C, E>>(stores.clone(), settings, blobs, enrich)
            .await
            .map_err(StartError::Store)?;
        let stopping = state.stopping.clone();
        crate::erasure::spawn_retention(Arc::downgrade(&state.0), state.settings.retention_interval);
        crate::notify::alerts::spawn(Arc::downgrade(&state.0), state.settings.alert_interval);
        Ok(App { listener, router: router(state), stores, setup_token, limits, stopping })
    }

    /// The bound address (the real port when the settings asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The one-time token of the setup link, when no admin existed at start.
    pub fn setup_token(&self) -> Option<&str> {
        self.setup_token.as_deref()
    }

    /// The configuration store (for start-up tasks such as creating the first agent).
    pub fn config(&self) -> &C {
        &self.stores.config
    }

    /// The event store.
    pub fn events(&self) -> &E {
        &self.stores.events
    }

    /// Serves until `shutdown` resolves, then drains: stops accepting, ends the live feed's
    /// event streams, lets requests in flight finish (for at most the settings'
    /// `shutdown_timeout`; connections still open then are cut) and lets the writers commit
    /// what was queued (the SQLite store then checkpoints its WAL into the database file).
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<crate::serve::Drained> {
        let App { listener, router, stores, limits, stopping, .. } = self;
        let shutdown = async move {
            shutdown.await;
            stopping.send_replace(true);
        };
        let drained = crate::serve::serve(listener, router, limits, shutdown).await?;
        // Dropping the last handle of a store may join its writer after it drained its queue.
        tokio::task::spawn_blocking(move || drop(stores)).await.map_err(std::io::Error::other)?;
        Ok(drained)
    }
}

/// A path or query holding U+0000 (`%00`) is refused with a 400 naming the parameter (or
/// `path`): PostgreSQL cannot take it as a parameter, and no identifier or filter value needs it.
/// (In bodies it is replaced by U+FFFD, `normalize::NUL_REPLACEMENT`, so no text is lost.)
async fn refuse_nul_in_uri(req: Request, next: Next) -> Response {
    let has_nul = |s: &str| s.as_bytes().windows(3).any(|w| w == b"%00");
    let uri = req.uri();
    let field = if has_nul(uri.path()) {
        Some("path".to_string())
    } else {
        uri.query()
            .and_then(|q| q.split('&').find(|p| has_nul(p)))
            .map(|p| p.split('=').next().unwrap_or_default().replace("%00", "").to_string())
    };
    match field {
        None => next.run(req).await,
        Some(f) => {
            let mut res = crate::error::ApiError::field(f, "The NUL character (U+0000) is not allowed.")
                .into_response();
            res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            res
        }
    }
}

/// Logs refused and failed requests (5xx at error, 4xx at debug). A refusal sent before the
/// request body was read (bad key, unknown path, wrong content type, too large) also closes the
/// connection, saying so: the unread body would otherwise be taken for the next request, or the
/// client would find the keep-alive connection dropped under it.
async fn log_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    // The client as `--trusted-proxy` lets the server see it (`-` when the peer is unknown).
    let client =
        req.extensions().get::<crate::proxy::Client>().map_or("-".to_string(), |c| c.addr.to_string());
    let has_body = req.headers().contains_key(header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    let mut res = next.run(req).await;
    let early = matches!(res.status().as_u16(), 401 | 403 | 404 | 405 | 413 | 415);
    if has_body && early && res.extensions().get::<ErrorCode>().is_some() {
        res.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    if let Some(ErrorCode(code, detail)) = res.extensions().get::<ErrorCode>() {
        if res.status().is_server_error() {
            tracing::error!(%method, %path, %client, status = res.status().as_u16(), code, detail, "request failed");
        } else {
            tracing::debug!(%method, %path, %client, status = res.status().as_u16(), code, detail, "request refused");
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::fetch_geo_command;
    use std::path::Path;

    #[test]
    fn fetch_geo_command_names_the_directory_the_server_reads() {
        assert_eq!(
            fetch_geo_command(Path::new("/srv/agentsight/data/geo")),
            "scripts/fetch-geo.sh --geo-dir /srv/agentsight/data/geo"
        );
        // A relative directory is the server's: made absolute against its working directory.
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            fetch_geo_command(Path::new("data/geo")),
            format!("scripts/fetch-geo.sh --geo-dir {}", cwd.join("data/geo").display())
        );
    }

    #[test]
    fn fetch_geo_command_quotes_what_the_shell_would_split() {
        assert_eq!(
            fetch_geo_command(Path::new("/home/a b/it's/geo")),
            r"scripts/fetch-geo.sh --geo-dir '/home/a b/it'\''s/geo'"
        );
    }
}
