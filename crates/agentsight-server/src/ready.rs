//! Readiness (`GET /readyz`): whether this server can do its job now, as opposed to `/healthz`
//! (it runs).
//!
//! The stores are judged by what they last did, generically over any backend: a request that
//! failed with a lasting storage failure ([`StoreError::Storage`]: disk full, read-only, corrupt,
//! not a database, refused, I/O) makes the server not ready, naming the failure; a later write
//! that succeeds clears it. The error middleware already logs such a failure at error level with
//! its whole chain; [`StorageFault`] is what it leaves on the response for [`track`].

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use agentsight_store::StoreError;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use crate::app::{AppState, Store};

/// The lasting storage failure a response was caused by, attached to its extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageFault {
    /// The kind, as [`agentsight_store::StorageFailure`] displays it (`disk full`, `corrupt`…).
    pub kind: String,
    /// What failed, with its causes (`storage failure (disk full): COMMIT: …`).
    pub detail: String,
}

impl StorageFault {
    /// The lasting storage failure `e` is, if it is one.
    pub fn of(e: &StoreError) -> Option<StorageFault> {
        match e {
            StoreError::Storage { kind, .. } => {
                Some(StorageFault { kind: kind.to_string(), detail: agentsight_store::chain(e).to_string() })
            }
            _ => None,
        }
    }
}

/// The last storage outcome seen: `Some` while the last lasting failure has not been followed by
/// a successful write. Every response passes through [`WriteHealth::record`], so the common case
/// (no fault in force) costs one atomic load: the lock is taken only to set or clear a fault.
#[derive(Debug, Default)]
pub struct WriteHealth {
    /// Whether `last` holds a fault (written under its lock).
    faulted: AtomicBool,
    last: Mutex<Option<(StorageFault, String)>>,
}

impl WriteHealth {
    /// Records a request's outcome: a storage fault sets it (with the request, `"POST /path"`,
    /// made only then), a successful write clears it, anything else leaves it.
    pub fn record(
        &self,
        request: impl FnOnce() -> String,
        write: bool,
        success: bool,
        fault: Option<&StorageFault>,
    ) {
        if let Some(f) = fault {
            let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *last = Some((f.clone(), request()));
            self.faulted.store(true, Ordering::Release);
        } else if write && success && self.faulted.load(Ordering::Acquire) {
            let mut last = self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            *last = None;
            self.faulted.store(false, Ordering::Release);
        }
    }

    /// The fault in force, with the request that met it.
    pub fn fault(&self) -> Option<(StorageFault, String)> {
        self.last.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// The middleware feeding [`WriteHealth`] from every response.
pub(crate) async fn track<S: Store>(State(state): State<AppState<S>>, req: Request, next: Next) -> Response {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    // Cheap clones (the URI's bytes are shared); the text is made only for a fault.
    let (method, uri) = (req.method().clone(), req.uri().clone());
    let res = next.run(req).await;
    let fault = res.extensions().get::<StorageFault>();
    state.write_health.record(|| format!("{method} {}", uri.path()), write, res.status().is_success(), fault);
    res
}

/// The readiness verdict and its checks: `(ready, body)`. `engine_fault` is a failure of the
/// metrics engine an operator must act on (a damaged file found while loading, an engine that
/// does not answer), said by the backend with what to do: not ready, and named.
pub fn readiness(
    health: &WriteHealth,
    engine_phase: &str,
    engine_fault: Option<&str>,
    geolocation: bool,
) -> (bool, Value) {
    let (stores_ok, stores) = match health.fault() {
        None => (true, json!({ "ok": true, "status": "writable" })),
        Some((f, request)) => {
            (false, json!({ "ok": false, "status": f.kind, "error": f.detail, "request": request }))
        }
    };
    let (engine_ok, status) = match (engine_phase, engine_fault) {
        (_, Some(fault)) => (false, fault.to_string()),
        ("loading", None) => (false, "loading: metrics queries wait until it is loaded".to_string()),
        ("failed", None) => {
            (true, "degraded: the index failed, metrics are answered by the slower fallback".to_string())
        }
        (other, None) => (true, other.to_string()),
    };
    let metrics = json!({ "ok": engine_ok, "phase": engine_phase, "status": status });
    let geo = json!({ "ok": true, "status": if geolocation { "on" } else { "off" } });
    let ready = stores_ok && engine_ok;
    (
        ready,
        json!({ "ready": ready, "checks": { "stores": stores, "metrics_engine": metrics, "geolocation": geo } }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use agentsight_store::StorageFailure;

    fn disk_full() -> StorageFault {
        let e = StoreError::storage(StorageFailure::DiskFull, "COMMIT", std::io::Error::other("no space"));
        StorageFault::of(&e).unwrap()
    }

    #[test]
    fn only_lasting_storage_failures_are_faults() {
        assert_eq!(disk_full().kind, "disk full");
        assert!(disk_full().detail.contains("no space"), "{}", disk_full().detail);
        assert!(StorageFault::of(&StoreError::unavailable("write queue is full")).is_none());
        assert!(StorageFault::of(&StoreError::internal("bug")).is_none());
    }

    #[test]
    fn a_storage_fault_makes_it_not_ready_until_a_write_succeeds() {
        let h = WriteHealth::default();
        assert!(readiness(&h, "ready", None, true).0);
        h.record(|| "POST /api/track/".into(), true, false, Some(&disk_full()));
        let (ready, body) = readiness(&h, "ready", None, true);
        assert!(!ready);
        assert_eq!(body["checks"]["stores"]["status"], "disk full");
        assert_eq!(body["checks"]["stores"]["request"], "POST /api/track/");
        // A read that succeeds, or a write refused, does not say the store can write again.
        h.record(|| "GET /api/conversations/".into(), false, true, None);
        h.record(|| "POST /api/track/".into(), true, false, None);
        assert!(!readiness(&h, "ready", None, true).0);
        h.record(|| "POST /api/track/".into(), true, true, None);
        assert!(readiness(&h, "ready", None, true).0);
    }

    #[test]
    fn a_loading_engine_is_not_ready_a_failed_one_is_degraded_and_geolocation_only_reported() {
        let h = WriteHealth::default();
        let (ready, body) = readiness(&h, "loading", None, true);
        assert!(!ready);
        assert_eq!(body["checks"]["metrics_engine"]["ok"], false);
        let (ready, body) = readiness(&h, "failed", None, false);
        assert!(ready);
        assert!(body["checks"]["metrics_engine"]["status"].as_str().unwrap().starts_with("degraded"));
        assert_eq!(body["checks"]["geolocation"]["status"], "off");
        assert_eq!(body["ready"], true);
    }

    #[test]
    fn an_engine_that_met_a_damaged_file_is_not_ready_and_names_it() {
        let h = WriteHealth::default();
        let fault = "corrupt: reading /srv/data/agentsight.db for the metrics index: database disk image is malformed";
        let (ready, body) = readiness(&h, "failed", Some(fault), true);
        assert!(!ready);
        let engine = &body["checks"]["metrics_engine"];
        assert_eq!(engine["ok"], false);
        assert_eq!(engine["status"], fault);
    }
}
