//! Where attachment bytes live: [`BlobStore`]. The embedded store keeps them as files in the
//! data dir (`agentsight-server::blobs::FileBlobs`); the scale-out store as `bytea` chunks in
//! PostgreSQL (`agentsight-store-clickhouse`), so every node reads what any node took.

use std::future::Future;
use std::pin::Pin;

/// What a [`BlobStore`] call answers: a boxed future, so the store can be a trait object
/// chosen at start-up.
pub type BlobFuture<'a, T> = Pin<Box<dyn Future<Output = std::io::Result<T>> + Send + 'a>>;

/// Attachment bytes by storage key. A key is what `put` answered; the attachment row stores
/// it, so `put` must be durable before that row commits.
pub trait BlobStore: Send + Sync + 'static {
    /// Stores `data` durably for `agent_id` and answers its new storage key.
    fn put<'a>(&'a self, agent_id: i64, data: &'a [u8]) -> BlobFuture<'a, String>;
    /// The bytes stored under `key`; `NotFound` when there are none, `InvalidInput` for a key
    /// this store never makes.
    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Vec<u8>>;
    /// Removes what `put` stored under `keys` (rows that were not committed); missing keys are
    /// no error, and a failure is only logged by the store.
    fn discard<'a>(&'a self, keys: &'a [String]) -> BlobFuture<'a, ()>;
}
