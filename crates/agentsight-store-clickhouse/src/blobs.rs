//! Attachment bytes in PostgreSQL, so a file uploaded through one node downloads through any
//! other: a row in `event_blobs` per file and its bytes in `event_blob_chunks`, at most
//! [`CHUNK_BYTES`] a row, written in one transaction that commits before the attachment row
//! names it. The storage key is `pg/<blob id>`.

use agentsight_store::{BlobFuture, BlobStore, StoreError};
use agentsight_store_postgres::{pgerr, poolerr};
use deadpool_postgres::Pool;

use crate::ClickHouseEventStore;

/// The largest chunk row: big files are many rows of this size.
pub const CHUNK_BYTES: usize = 1024 * 1024;

/// The key prefix of blobs stored here.
const PREFIX: &str = "pg/";

/// Attachment bytes in the event store's PostgreSQL database ([`ClickHouseEventStore::blobs`]).
/// Cheap to clone.
#[derive(Clone)]
pub struct PostgresBlobs {
    pool: Pool,
}

impl ClickHouseEventStore {
    /// The attachment bytes store over this store's PostgreSQL pool.
    pub fn blobs(&self) -> PostgresBlobs {
        PostgresBlobs { pool: self.inner.pg.clone() }
    }
}

fn io(e: StoreError) -> std::io::Error {
    std::io::Error::other(e)
}

pub(crate) fn blob_id(key: &str) -> std::io::Result<i64> {
    key.strip_prefix(PREFIX).and_then(|id| id.parse::<i64>().ok()).filter(|id| *id > 0).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("bad storage key {key:?}"))
    })
}

impl PostgresBlobs {
    /// Stores `data` in one transaction and answers its key.
    pub async fn put(&self, agent_id: i64, data: &[u8]) -> Result<String, StoreError> {
        let mut client = self.pool.get().await.map_err(poolerr)?;
        let tx = client.transaction().await.map_err(pgerr)?;
        let size = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let id: i64 = tx
            .query_one(
                "INSERT INTO event_blobs (agent_id, size_bytes) VALUES ($1, $2) RETURNING id",
                &[&agent_id, &size],
            )
            .await
            .map_err(pgerr)?
            .get(0);
        let insert = tx
            .prepare("INSERT INTO event_blob_chunks (blob_id, seq, data) VALUES ($1, $2, $3)")
            .await
            .map_err(pgerr)?;
        for (seq, chunk) in data.chunks(CHUNK_BYTES).enumerate() {
            let seq = i32::try_from(seq).unwrap_or(i32::MAX);
            tx.execute(&insert, &[&id, &seq, &chunk]).await.map_err(pgerr)?;
        }
        tx.commit().await.map_err(pgerr)?;
        Ok(format!("{PREFIX}{id}"))
    }

    /// The bytes under `key`: `NotFound` when no blob has it.
    pub async fn get(&self, key: &str) -> std::io::Result<Vec<u8>> {
        let id = blob_id(key)?;
        let client = self.pool.get().await.map_err(|e| io(poolerr(e)))?;
        let Some(size) = client
            .query_opt("SELECT size_bytes FROM event_blobs WHERE id = $1", &[&id])
            .await
            .map_err(|e| io(pgerr(e)))?
        else {
            return Err(std::io::Error::new(std::io::ErrorKind::NotFound, format!("no blob {key}")));
        };
        let size: i64 = size.get(0);
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let rows = client
            .query("SELECT data FROM event_blob_chunks WHERE blob_id = $1 ORDER BY seq", &[&id])
            .await
            .map_err(|e| io(pgerr(e)))?;
        for r in &rows {
            out.extend_from_slice(r.get::<_, &[u8]>(0));
        }
        if out.len() as i64 != size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("blob {key}: {} bytes stored, {size} expected", out.len()),
            ));
        }
        Ok(out)
    }

    /// Removes the blobs under `keys` (their chunks go with them).
    pub async fn discard(&self, keys: &[String]) -> std::io::Result<()> {
        let ids: Vec<i64> = keys.iter().filter_map(|k| blob_id(k).ok()).collect();
        if ids.is_empty() {
            return Ok(());
        }
        let client = self.pool.get().await.map_err(|e| io(poolerr(e)))?;
        client
            .execute("DELETE FROM event_blobs WHERE id = ANY($1)", &[&ids])
            .await
            .map_err(|e| io(pgerr(e)))?;
        Ok(())
    }
}

impl BlobStore for PostgresBlobs {
    fn put<'a>(&'a self, agent_id: i64, data: &'a [u8]) -> BlobFuture<'a, String> {
        Box::pin(async move { self.put(agent_id, data).await.map_err(io) })
    }

    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Vec<u8>> {
        Box::pin(self.get(key))
    }

    fn discard<'a>(&'a self, keys: &'a [String]) -> BlobFuture<'a, ()> {
        Box::pin(self.discard(keys))
    }
}
