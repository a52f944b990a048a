//! The readiness probe: whether every server the store needs answers now. `engine_status`
//! reports what it finds as its `fault`, so `/readyz` answers 503 naming the dependency while
//! PostgreSQL or a ClickHouse server is away, and 200 again as soon as they answer (no restart:
//! requests reconnect on their own, the pool recycles connections a restart closed).

use std::time::Duration;

use agentsight_store::{StoreError, chain};
use agentsight_store_postgres::{pgerr, poolerr};

use crate::Inner;

/// How long a probe waits for each server: a readiness check must answer quickly.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// `None` when PostgreSQL and every ClickHouse server answer; otherwise what does not, said in
/// full with the dependency's name first (`PostgreSQL does not answer (…)`).
pub(crate) async fn probe(inner: &Inner) -> Option<String> {
    let pg = async {
        let check = async {
            let c = inner.pg.get().await.map_err(poolerr)?;
            c.simple_query("SELECT 1").await.map_err(pgerr)?;
            Ok::<(), StoreError>(())
        };
        match tokio::time::timeout(PROBE_TIMEOUT, check).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(format!("PostgreSQL does not answer ({})", chain(&e))),
            Err(_) => Some(format!("PostgreSQL does not answer (no answer within {PROBE_TIMEOUT:?})")),
        }
    };
    let ch = async {
        let pings = inner.servers.iter().map(|s| async move {
            match tokio::time::timeout(PROBE_TIMEOUT, s.ping()).await {
                Ok(Ok(())) => None,
                Ok(Err(e)) => {
                    Some(format!("ClickHouse at {} does not answer ({})", s.host_port(), chain(&e)))
                }
                Err(_) => Some(format!(
                    "ClickHouse at {} does not answer (no answer within {PROBE_TIMEOUT:?})",
                    s.host_port()
                )),
            }
        });
        futures::future::join_all(pings).await.into_iter().flatten().collect::<Vec<_>>()
    };
    let (pg, ch) = tokio::join!(pg, ch);
    let faults: Vec<String> = pg.into_iter().chain(ch).collect();
    if faults.is_empty() {
        None
    } else {
        Some(format!("{}; metrics, transcripts and ingest wait for it", faults.join("; ")))
    }
}
