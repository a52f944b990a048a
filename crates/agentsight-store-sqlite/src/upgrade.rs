//! What [`crate::SqliteStore::open`] does before it writes to an existing data dir, so that an
//! upgrade of the binary can always be undone:
//!
//! * a database or span archive whose schema is newer than this build knows (a newer binary
//!   wrote it) is refused, naming the file, both versions and the way out, before anything
//!   opens it for writing: the file is left exactly as it was;
//! * a database with data (schema version 1 or more) that this build will migrate is first
//!   copied, with its archive, into `<data-dir>/backups/before-schema-<to>-<time>/` (the online
//!   backup of [`crate::backup`]; `agentsight restore --from` that directory brings it back),
//!   and the copy is logged. A failed copy (disk full) stops the start: nothing is migrated
//!   without its backup.

use std::path::{Path, PathBuf};

use agentsight_store::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};

use crate::migrate::MigrationError;

/// The directory of a data dir's pre-migration backups.
pub const BACKUPS_DIR: &str = "backups";

/// The schema version of the database file at `path`, read-only; `None` when there is no file
/// or it is empty (a new database).
fn version_of(path: &Path, db: &'static str) -> StoreResult<Option<usize>> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() > 0 => {}
        Ok(_) => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::io_failure(format!("reading {}", path.display()), e)),
    }
    // A file that is not a database (or is damaged) fails here as it would at the writer's open.
    let failed = |e| crate::sqlerr_in(format!("opening the {db} {}", path.display()), e);
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(failed)?;
    let v = conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).map_err(failed)?;
    Ok(Some(usize::try_from(v).unwrap_or(usize::MAX)))
}

/// Refuses a newer schema in the database `main` or its archive; backs both up before a
/// migration of a database that has data. The backup's directory, when one was made.
pub(crate) fn before_migrating(main: &Path) -> StoreResult<Option<PathBuf>> {
    let archive = crate::archive::path_of(main);
    let latest = (crate::migrate::SCHEMA_VERSION, crate::archive::SCHEMA_VERSION);
    let found = (version_of(main, "database")?, version_of(&archive, "archive")?);
    for (db, path, found, latest) in
        [("database", main, found.0, latest.0), ("archive", archive.as_path(), found.1, latest.1)]
    {
        if let Some(found) = found.filter(|&v| v > latest) {
            let path = path.display().to_string();
            return Err(MigrationError::TooNew { db, path, found, latest }.into());
        }
    }
    let pending = |v: Option<usize>, latest: usize| v.is_some_and(|v| v < latest);
    let has_data = found.0.is_some_and(|v| v >= 1);
    if !has_data || !(pending(found.0, latest.0) || pending(found.1, latest.1)) {
        return Ok(None);
    }
    let from = found.0.unwrap_or(0);
    let dir = new_backup_dir(main, latest.0)?;
    tracing::info!(
        from,
        to = latest.0,
        backup = %dir.display(),
        "the database's schema is older than this build's: backing it up before migrating"
    );
    let report = crate::backup::backup_databases(main, &dir).map_err(|e| {
        let what = format!(
            "backing up {} into {} before migrating its schema from version {from} to {} (nothing was \
             migrated; make room, or run the previous agentsight)",
            main.display(),
            dir.display(),
            latest.0
        );
        match e {
            StoreError::Conflict { .. } | StoreError::UnknownReference { .. } => {
                StoreError::internal_from(what, e)
            }
            e => e.context(what),
        }
    })?;
    let bytes: u64 = report.files.iter().map(|(_, n)| n).sum();
    tracing::info!(
        backup = %dir.display(),
        conversations = report.conversations,
        messages = report.messages,
        bytes,
        "backed up the database before migrating; to go back, stop the server and `agentsight restore --from` this \
         directory into a new data dir (attachment files are not copied: a migration does not change them)"
    );
    Ok(Some(dir))
}

/// `<data dir>/backups/before-schema-<to>-<UTC time>` (with `-2`, `-3`… when taken).
fn new_backup_dir(main: &Path, to: usize) -> StoreResult<PathBuf> {
    let data_dir = main.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let root = data_dir.join(BACKUPS_DIR);
    agentsight_store::private::private_dir(&root)
        .map_err(|e| crate::io_failure(format!("creating {}", root.display()), e))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let base = format!("before-schema-{to}-{stamp}");
    let mut dir = root.join(&base);
    let mut n = 1;
    while dir.exists() {
        n += 1;
        dir = root.join(format!("{base}-{n}"));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::{SqliteOptions, SqliteStore};

    /// A data dir whose database was made by the build that knew only the first `version`
    /// migrations (and whose archive is at its first version), with one agent and one
    /// conversation of two messages, closed cleanly.
    fn old_data_dir(dir: &Path, version: usize) -> PathBuf {
        let main = dir.join("agentsight.db");
        drop(crate::archive::open_for_writing(&crate::archive::path_of(&main), false).unwrap());
        let c = Connection::open(&main).unwrap();
        c.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)).unwrap();
        for sql in &crate::migrate::MIGRATIONS[..version] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", version as i64).unwrap();
        c.execute_batch(
            "INSERT INTO agents (id, name, created_at) VALUES (1, 'old-agent', 0);
             INSERT INTO conversations (id, agent_id, conversation_id, started_at, created_at, updated_at)
                 VALUES (7, 1, 'kept-conversation', 0, 0, 0);",
        )
        .unwrap();
        for (i, content) in ["question", "answer"].iter().enumerate() {
            c.execute(
                "INSERT INTO messages (agent_id, conversation_pk, kind, sender, content, ts, metadata, received_at)
                 VALUES (1, 7, 0, ?1, ?2, ?3, '{}', ?3)",
                rusqlite::params![if i == 0 { "end_user" } else { "agent" }, content, i as i64],
            )
            .unwrap();
        }
        drop(c);
        main
    }

    fn open(main: &Path) -> StoreResult<SqliteStore> {
        let mut opts = SqliteOptions::new(main);
        opts.fsync = false;
        opts.metrics_index = false;
        SqliteStore::open(opts)
    }

    fn version(path: &Path) -> i64 {
        Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    }

    fn backups(data_dir: &Path) -> Vec<PathBuf> {
        match std::fs::read_dir(data_dir.join(BACKUPS_DIR)) {
            Ok(entries) => {
                let mut v: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
                v.sort();
                v
            }
            Err(_) => Vec::new(),
        }
    }

    /// A database at schema 1 with data is copied, as it was, before it is migrated; the copy
    /// holds the old schema and the old rows, opens with the archive beside it, and a second
    /// start (nothing left to migrate) makes no other copy.
    #[test]
    fn a_database_with_data_is_backed_up_before_its_migration() {
        let dir = tempfile::tempdir().unwrap();
        let main = old_data_dir(dir.path(), 1);
        let store = open(&main).unwrap();
        drop(store);
        assert_eq!(version(&main), crate::migrate::SCHEMA_VERSION as i64, "migrated");
        let made = backups(dir.path());
        assert_eq!(made.len(), 1, "{made:?}");
        let name = made[0].file_name().unwrap().to_string_lossy().to_string();
        assert!(name.starts_with(&format!("before-schema-{}-", crate::migrate::SCHEMA_VERSION)), "{name}");
        let copy = made[0].join("agentsight.db");
        assert_eq!(version(&copy), 1, "the copy keeps the old schema");
        assert!(made[0].join("agentsight.archive.db").is_file(), "the archive is copied too");
        let c = Connection::open_with_flags(&copy, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let msgs: Vec<String> = c
            .prepare("SELECT content FROM messages ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(msgs, ["question", "answer"]);
        let cid: String = c.query_row("SELECT conversation_id FROM conversations", [], |r| r.get(0)).unwrap();
        assert_eq!(cid, "kept-conversation");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&made[0]).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "the backup is as private as the data dir");
        }

        drop(open(&main).unwrap());
        assert_eq!(backups(dir.path()).len(), 1, "nothing to migrate: no second copy");
    }

    /// A new database (no file, or version 0) has nothing to keep: no copy.
    #[test]
    fn a_new_database_is_not_backed_up() {
        let dir = tempfile::tempdir().unwrap();
        drop(open(&dir.path().join("agentsight.db")).unwrap());
        assert!(backups(dir.path()).is_empty());
    }

    /// A copy that cannot be made stops the start before anything is migrated.
    #[test]
    fn no_migration_without_its_backup() {
        let dir = tempfile::tempdir().unwrap();
        let main = old_data_dir(dir.path(), 3);
        // A file where the backups directory should be: the copy cannot be made.
        std::fs::write(dir.path().join(BACKUPS_DIR), "in the way").unwrap();
        let e = open(&main).err().expect("refused");
        assert!(e.to_string().contains("before migrating"), "{e}");
        assert_eq!(version(&main), 3, "not migrated");
    }

    /// A database or archive of a newer schema is refused with the file, both versions and the
    /// way out named, and is left byte for byte as it was (no `-wal`, no migration).
    #[test]
    fn a_newer_database_or_archive_is_refused_and_left_untouched() {
        for (db, newer) in [("database", "agentsight.db"), ("archive", "agentsight.archive.db")] {
            let dir = tempfile::tempdir().unwrap();
            let main = dir.path().join("agentsight.db");
            drop(open(&main).unwrap());
            let path = dir.path().join(newer);
            let future = match db {
                "database" => crate::migrate::SCHEMA_VERSION + 1,
                _ => crate::archive::SCHEMA_VERSION + 1,
            };
            Connection::open(&path).unwrap().pragma_update(None, "user_version", future as i64).unwrap();
            let before = files_of(dir.path());
            let e = open(&main).err().expect("refused");
            let chain = anyhow_like(&e);
            assert!(chain.contains(&path.display().to_string()), "names the file: {chain}");
            assert!(chain.contains(&format!("schema version {future}")), "{chain}");
            let latest = if db == "database" {
                crate::migrate::SCHEMA_VERSION
            } else {
                crate::archive::SCHEMA_VERSION
            };
            assert!(chain.contains(&format!("knows ({latest})")), "{chain}");
            assert!(chain.contains("newer version") && chain.contains("restore a backup"), "{chain}");
            // The databases are byte for byte as they were, and no WAL holds a write (a
            // read-only look at the version may leave SQLite's empty `-wal` and `-shm` behind).
            let after = files_of(dir.path());
            let dbs = |files: &[(PathBuf, Vec<u8>)]| -> Vec<(PathBuf, Vec<u8>)> {
                files.iter().filter(|(p, _)| p.extension().is_some_and(|e| e == "db")).cloned().collect()
            };
            assert!(dbs(&before) == dbs(&after) && dbs(&after).len() == 2, "{db}: a database file changed");
            for (p, bytes) in &after {
                if p.to_string_lossy().ends_with("-wal") {
                    assert!(bytes.is_empty(), "{db}: {} holds a write", p.display());
                }
            }
            assert!(backups(dir.path()).is_empty());
        }
    }

    /// Every file of a data dir (databases, `-wal`, `-shm`) with its bytes.
    fn files_of(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .map(|p| {
                let bytes = std::fs::read(&p).unwrap();
                (p, bytes)
            })
            .collect();
        v.sort();
        v
    }

    /// An error with its chain of sources, `: `-separated.
    fn anyhow_like(e: &StoreError) -> String {
        let mut out = e.to_string();
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            out.push_str(": ");
            out.push_str(&s.to_string());
            source = s.source();
        }
        out
    }
}
