//! Where CPU-heavy request work runs: off the threads that serve requests.

use std::sync::Arc;

use crate::error::ApiError;

/// Runs CPU-heavy request work (decompressing, parsing and validating a span batch) on the
/// blocking pool, at most a fixed number at once, so that the threads serving requests stay
/// free for everyone else while a large batch is read.
#[derive(Clone)]
pub struct CpuGate(Arc<tokio::sync::Semaphore>);

impl CpuGate {
    /// A gate letting `permits` jobs run at once (at least one).
    pub fn new(permits: usize) -> CpuGate {
        CpuGate(Arc::new(tokio::sync::Semaphore::new(permits.max(1))))
    }

    /// One fewer than the CPUs, at least one (the default number of request threads).
    pub fn for_this_machine() -> CpuGate {
        CpuGate::new(std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1)))
    }

    /// Runs `f` once a permit is free; the permit is held until `f` returns, even when the
    /// request that asked is gone.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let permit = self
            .0
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| ApiError::internal_from("the CPU gate is closed", e))?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await
        .map_err(|e| ApiError::internal_from("a validation task failed", e))
    }
}
