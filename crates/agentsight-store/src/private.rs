//! Files private to the service user, for every backend that writes files and for attachment
//! storage. The data is for this user alone: the data directory is created 0700 and the database files
//! 0600, whatever the umask. SQLite gives a `-wal` or `-shm` file the mode of its database, so
//! creating the database file first (before SQLite does) decides theirs too.
//!
//! At start an existing data directory, database or `-wal`/`-shm` file that is ours (owned by
//! the effective user) and open to others is tightened; nothing above the data directory is
//! touched.

use std::io;
use std::path::Path;

/// Mode of the data directory and every directory under it.
pub const DIR_MODE: u32 = 0o700;
/// Mode of the database files and attachment files.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents, 0700 as well) or tightens it when it is ours.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.exists() {
            std::fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
        }
        tighten(dir, DIR_MODE)
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

/// Creates the file at `path` 0600 (empty) when missing, tightens it when it is ours, and does
/// the same to an existing `-wal` and `-shm` beside it.
pub fn private_db_file(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // No truncation: an existing database is opened, not replaced.
        std::fs::OpenOptions::new().write(true).create(true).truncate(false).mode(FILE_MODE).open(path)?;
        tighten(path, FILE_MODE)?;
        for suffix in ["-wal", "-shm"] {
            let mut side = path.as_os_str().to_owned();
            side.push(suffix);
            let side = Path::new(&side);
            if side.exists() {
                tighten(side, FILE_MODE)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Sets `mode` on `path` when it is ours and its mode is not already within it (the umask
/// cannot widen or narrow what is set here).
#[cfg(unix)]
pub fn tighten(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(path)?;
    let ours = meta.uid() == rustix::process::geteuid().as_raw();
    if ours && meta.mode() & 0o777 != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    Ok(())
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn a_new_dir_and_file_are_private_and_an_open_one_is_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let outer = tmp.path().join("a");
        let data = outer.join("b");
        private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&outer), 0o700, "created parents are ours and private too");
        // An existing world-readable data dir is tightened; its parent (not ours to decide) is not.
        std::fs::set_permissions(&outer, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&outer), 0o755);
        let db = data.join("x.db");
        private_db_file(&db).unwrap();
        assert_eq!(mode(&db), 0o600);
        std::fs::write(&db, b"keep").unwrap();
        let wal = data.join("x.db-wal");
        std::fs::write(&wal, b"").unwrap();
        for p in [&db, &wal] {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        private_db_file(&db).unwrap();
        assert_eq!((mode(&db), mode(&wal)), (0o600, 0o600));
        assert_eq!(std::fs::read(&db).unwrap(), b"keep", "an existing file is not truncated");
    }
}
