//! Attachment files on disk under `<data-dir>/attachments/<agent>/` (the embedded store's
//! [`BlobStore`], or `--attachments-dir` on a scale-out node), written and fsynced before their
//! rows are committed, so an acknowledged upload is durable. Directories are 0700 and files
//! 0600 (`agentsight_store::private`).

use std::path::PathBuf;

use agentsight_store::private::{FILE_MODE, private_dir};
use agentsight_store::{BlobFuture, BlobStore};

use rand::RngCore;
use tokio::io::AsyncWriteExt;

/// The attachment file store.
pub struct FileBlobs {
    root: PathBuf,
}

impl BlobStore for FileBlobs {
    fn put<'a>(&'a self, agent_id: i64, data: &'a [u8]) -> BlobFuture<'a, String> {
        Box::pin(self.put(agent_id, data))
    }

    fn get<'a>(&'a self, key: &'a str) -> BlobFuture<'a, Vec<u8>> {
        Box::pin(self.get(key))
    }

    fn discard<'a>(&'a self, keys: &'a [String]) -> BlobFuture<'a, ()> {
        Box::pin(async move {
            self.discard(keys).await;
            Ok(())
        })
    }
}

impl FileBlobs {
    /// Uses (creating) `root`.
    pub fn new(root: PathBuf) -> std::io::Result<FileBlobs> {
        private_dir(&root)?;
        Ok(FileBlobs { root })
    }

    /// Writes `data` durably and returns its storage key (a relative path).
    pub async fn put(&self, agent_id: i64, data: &[u8]) -> std::io::Result<String> {
        let mut name = [0u8; 16];
        rand::rng().fill_bytes(&mut name);
        let key = format!("{agent_id}/{}", hex::encode(name));
        let path = self.root.join(&key);
        if let Some(dir) = path.parent().map(PathBuf::from) {
            tokio::task::spawn_blocking(move || private_dir(&dir)).await.map_err(std::io::Error::other)??;
        }
        let mut open = tokio::fs::OpenOptions::new();
        open.write(true).create(true).truncate(true);
        #[cfg(unix)]
        open.mode(FILE_MODE);
        let mut f = open.open(&path).await?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The umask may have narrowed the mode given at creation.
            f.set_permissions(std::fs::Permissions::from_mode(FILE_MODE)).await?;
        }
        f.write_all(data).await?;
        f.sync_all().await?;
        Ok(key)
    }

    /// Reads a stored file.
    pub async fn get(&self, key: &str) -> std::io::Result<Vec<u8>> {
        if key.contains("..") || key.starts_with('/') {
            return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad storage key"));
        }
        tokio::fs::read(self.root.join(key)).await
    }

    /// Removes files whose rows were not committed.
    pub async fn discard(&self, keys: &[String]) {
        for k in keys {
            let _ = tokio::fs::remove_file(self.root.join(k)).await;
        }
    }
}
