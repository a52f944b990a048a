//! A consistent copy of a data dir while its server runs ([`backup`]), and bringing one back
//! into a new data dir ([`restore`]).
//!
//! The databases are copied with SQLite's online backup API from a read connection of their
//! own, each inside one read transaction: in WAL mode that snapshot never blocks the server's
//! writers, and the copy is the database as of one commit. The order keeps the data dir's
//! invariants in the copy:
//!
//! 1. the main database first;
//! 2. then the span archive, so the archive copy holds at least every span batch the main copy
//!    counts as projected (`span_log.projected`). Batches archived after the main copy are
//!    projected again when a server starts on the restored dir (the recovery path of
//!    `SqliteStore::start`);
//! 3. then the attachment files the main copy's rows name: a file is written and fsynced before
//!    its row commits, so every row in the copy has its file.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agentsight_store::private::{private_db_file, private_dir};
use agentsight_store::{StoreError, StoreResult};
use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use crate::{io_failure, sqlerr_in};

/// The main database's file name in a data dir (and in a backup).
pub const MAIN_DB: &str = "agentsight.db";
/// The span archive's file name in a data dir (and in a backup).
pub const ARCHIVE_DB: &str = "agentsight.archive.db";
/// The attachment files' directory in a data dir (and in a backup).
pub const ATTACHMENTS_DIR: &str = "attachments";

/// Pages copied per backup step (between progress reports).
const PAGES_PER_STEP: i32 = 1024;
/// Pause before retrying a step SQLite found busy or locked.
const BUSY_PAUSE: Duration = Duration::from_millis(50);
/// Busy or locked steps in a row before the backup gives up (about 30 s).
const BUSY_RETRIES: u32 = 600;

/// How far a [`backup`] or [`restore`] is, as reported to its progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Copying a database (`file` is [`MAIN_DB`] or [`ARCHIVE_DB`]): pages done of total.
    Database {
        /// The file's name.
        file: &'static str,
        /// Pages copied.
        done: u64,
        /// Pages in the database.
        total: u64,
    },
    /// Copying attachment files: files done of total.
    Attachments {
        /// Files copied.
        done: u64,
        /// Files to copy.
        total: u64,
    },
}

/// What a [`backup`] or [`restore`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupReport {
    /// The files written, with their sizes in bytes (databases first).
    pub files: Vec<(PathBuf, u64)>,
    /// Conversations in the main database copied.
    pub conversations: u64,
    /// Messages in the main database copied.
    pub messages: u64,
    /// Attachment files copied.
    pub attachment_files: u64,
    /// Bytes of attachment files copied.
    pub attachment_bytes: u64,
    /// Storage keys of attachment rows whose file was missing from the data dir (not copied).
    pub missing_attachments: Vec<String>,
}

/// Copies the data dir `data_dir` (main database, span archive, attachment files) into the new
/// directory `to` (created 0700, files 0600; an existing non-empty one is refused), consistent
/// while a server runs and writes (see the module's documentation). `progress` is called as the
/// copy goes.
pub fn backup(data_dir: &Path, to: &Path, progress: &mut dyn FnMut(Progress)) -> StoreResult<BackupReport> {
    let main = data_dir.join(MAIN_DB);
    if !main.is_file() {
        return Err(StoreError::Conflict {
            field: "data-dir",
            message: format!("{} holds no database ({MAIN_DB})", data_dir.display()),
        });
    }
    require_empty_dir(to, "to")?;
    private_dir(to).map_err(|e| io_failure(format!("creating {}", to.display()), e))?;
    let (mut report, keys) = copy_databases(&main, to, progress)?;

    // 3. The files the main copy's rows name.
    let from_root = data_dir.join(ATTACHMENTS_DIR);
    let to_root = to.join(ATTACHMENTS_DIR);
    let total = keys.len() as u64;
    progress(Progress::Attachments { done: 0, total });
    for (i, key) in keys.iter().enumerate() {
        let rel = safe_key(key)?;
        let src = from_root.join(rel);
        let dst = to_root.join(rel);
        match copy_file(&src, &dst) {
            Ok(n) => {
                report.attachment_files += 1;
                report.attachment_bytes += n;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && !src.exists() => {
                report.missing_attachments.push(key.clone());
            }
            Err(e) => return Err(io_failure(format!("copying attachment {key}"), e)),
        }
        progress(Progress::Attachments { done: i as u64 + 1, total });
    }
    sync_dir(to)?;
    Ok(report)
}

/// Copies the main database at `main` and its span archive beside it (when there is one) into
/// the new directory `to`, as [`backup`] does, without the attachment files: the copy a server
/// takes before it migrates the schema (a migration changes the databases, never the files).
pub(crate) fn backup_databases(main: &Path, to: &Path) -> StoreResult<BackupReport> {
    require_empty_dir(to, "to")?;
    private_dir(to).map_err(|e| io_failure(format!("creating {}", to.display()), e))?;
    let (report, _keys) = copy_databases(main, to, &mut |_| {})?;
    sync_dir(to)?;
    Ok(report)
}

/// Steps 1 and 2 of [`backup`]: the main database `main`, then its archive, into `to` (which
/// exists); the report so far and the storage keys of the attachment rows of the main copy.
fn copy_databases(
    main: &Path,
    to: &Path,
    progress: &mut dyn FnMut(Progress),
) -> StoreResult<(BackupReport, Vec<String>)> {
    let mut report = BackupReport::default();

    // 1. The main database, then its counts and attachment keys from the copy.
    let main_copy = to.join(MAIN_DB);
    copy_database(main, &main_copy, MAIN_DB, progress)?;
    let keys = {
        let conn = Connection::open_with_flags(&main_copy, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| sqlerr_in("opening the copy", e))?;
        let count = |table: &str| -> StoreResult<u64> {
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
                .map(|n| n.max(0) as u64)
                .map_err(|e| sqlerr_in(format!("counting the copy's {table}"), e))
        };
        report.conversations = count("conversations")?;
        report.messages = count("messages")?;
        attachment_keys(&conn)?
    };
    report.files.push((main_copy.clone(), file_size(&main_copy)?));

    // 2. The archive, never behind the main copy.
    let archive = crate::archive::path_of(main);
    if archive.is_file() {
        let archive_copy = to.join(ARCHIVE_DB);
        copy_database(&archive, &archive_copy, ARCHIVE_DB, progress)?;
        report.files.push((archive_copy.clone(), file_size(&archive_copy)?));
    }
    Ok((report, keys))
}

/// Brings the backup in `from` (made by [`backup`]) into the new data dir `data_dir`. The
/// target must be missing or empty: restoring never overwrites a data dir, in use by a server
/// or not (move an old one aside first). Both databases are checked (`PRAGMA quick_check`)
/// before this returns.
pub fn restore(
    from: &Path,
    data_dir: &Path,
    progress: &mut dyn FnMut(Progress),
) -> StoreResult<BackupReport> {
    let main = from.join(MAIN_DB);
    if !main.is_file() {
        return Err(StoreError::Conflict {
            field: "from",
            message: format!("{} is not a backup: it holds no {MAIN_DB}", from.display()),
        });
    }
    require_empty_dir(data_dir, "data-dir")?;
    private_dir(data_dir).map_err(|e| io_failure(format!("creating {}", data_dir.display()), e))?;
    let mut report = BackupReport::default();
    for name in [MAIN_DB, ARCHIVE_DB] {
        let src = from.join(name);
        if !src.is_file() {
            continue;
        }
        let dst = data_dir.join(name);
        progress(Progress::Database { file: name, done: 0, total: 1 });
        private_db_file(&dst).map_err(|e| io_failure(format!("creating {}", dst.display()), e))?;
        let n = copy_file(&src, &dst).map_err(|e| io_failure(format!("copying {}", src.display()), e))?;
        let conn = Connection::open_with_flags(&dst, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| sqlerr_in(format!("opening the restored {name}"), e))?;
        let check: String = conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| sqlerr_in(format!("checking the restored {name}"), e))?;
        if check != "ok" {
            return Err(StoreError::internal(format!("the restored {name} is damaged: {check}")));
        }
        if name == MAIN_DB {
            let count = |table: &str| -> StoreResult<u64> {
                conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get::<_, i64>(0))
                    .map(|n| n.max(0) as u64)
                    .map_err(|e| sqlerr_in(format!("counting the restored {table}"), e))
            };
            report.conversations = count("conversations")?;
            report.messages = count("messages")?;
        }
        progress(Progress::Database { file: name, done: 1, total: 1 });
        report.files.push((dst, n));
    }
    let from_root = from.join(ATTACHMENTS_DIR);
    let to_root = data_dir.join(ATTACHMENTS_DIR);
    let files = list_files(&from_root)?;
    let total = files.len() as u64;
    progress(Progress::Attachments { done: 0, total });
    for (i, rel) in files.iter().enumerate() {
        let n = copy_file(&from_root.join(rel), &to_root.join(rel))
            .map_err(|e| io_failure(format!("restoring attachment {}", rel.display()), e))?;
        report.attachment_files += 1;
        report.attachment_bytes += n;
        progress(Progress::Attachments { done: i as u64 + 1, total });
    }
    sync_dir(data_dir)?;
    Ok(report)
}

/// The storage keys of the attachment rows in the database `conn`, in order.
fn attachment_keys(conn: &Connection) -> StoreResult<Vec<String>> {
    let failed = |e| sqlerr_in("listing the copy's attachments", e);
    let mut stmt =
        conn.prepare("SELECT DISTINCT storage_key FROM attachments ORDER BY storage_key").map_err(failed)?;
    let rows = stmt.query_map([], |r| r.get::<_, String>(0)).map_err(failed)?;
    rows.collect::<rusqlite::Result<Vec<_>>>().map_err(failed)
}

/// Refuses `dir` when it exists and is not an empty directory (`field` names the option).
fn require_empty_dir(dir: &Path, field: &'static str) -> StoreResult<()> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(StoreError::Conflict {
                    field,
                    message: format!(
                        "{} is not empty: give a new or empty directory (nothing is overwritten)",
                        dir.display()
                    ),
                });
            }
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => Err(StoreError::Conflict {
            field,
            message: format!("{} is a file, not a directory", dir.display()),
        }),
        Err(e) => Err(io_failure(format!("reading {}", dir.display()), e)),
    }
}

/// Copies the live database at `src` into the new file `dst` with the online backup API, in
/// one read transaction of the source (a consistent snapshot that does not block its writers),
/// then turns the copy's journal to `DELETE` so it is one self-contained file, and checks it.
fn copy_database(
    src: &Path,
    dst: &Path,
    name: &'static str,
    progress: &mut dyn FnMut(Progress),
) -> StoreResult<()> {
    let failed = |what: &'static str| move |e| sqlerr_in(format!("{what} {name}"), e);
    let source =
        Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI)
            .map_err(failed("opening"))?;
    source.busy_timeout(Duration::from_secs(5)).map_err(failed("opening"))?;
    private_db_file(dst).map_err(|e| io_failure(format!("creating {}", dst.display()), e))?;
    let mut target = Connection::open(dst).map_err(failed("creating the copy of"))?;
    // The snapshot: held across every step, so the steps copy one version of the database and
    // the server's commits in between do not restart the copy.
    source.execute_batch("BEGIN DEFERRED").map_err(failed("reading"))?;
    source
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get::<_, i64>(0))
        .map_err(failed("reading"))?;
    {
        let backup = Backup::new(&source, &mut target).map_err(failed("starting the copy of"))?;
        let mut busy = 0;
        loop {
            let step = backup.step(PAGES_PER_STEP).map_err(failed("copying"))?;
            let p = backup.progress();
            let total = p.pagecount.max(0) as u64;
            progress(Progress::Database {
                file: name,
                done: total.saturating_sub(p.remaining.max(0) as u64),
                total,
            });
            match step {
                StepResult::Done => break,
                StepResult::More => busy = 0,
                StepResult::Busy | StepResult::Locked => {
                    busy += 1;
                    if busy > BUSY_RETRIES {
                        return Err(StoreError::unavailable(format!("{name} stayed locked during the copy")));
                    }
                    std::thread::sleep(BUSY_PAUSE);
                }
                _ => return Err(StoreError::internal(format!("copying {name}: unexpected step result"))),
            }
        }
    }
    source.execute_batch("COMMIT").map_err(failed("reading"))?;
    drop(source);
    let mode: String = target
        .query_row("PRAGMA journal_mode = DELETE", [], |r| r.get(0))
        .map_err(failed("finishing the copy of"))?;
    if !mode.eq_ignore_ascii_case("delete") {
        return Err(StoreError::internal(format!("the copy of {name} stayed in journal mode {mode}")));
    }
    let check: String =
        target.query_row("PRAGMA quick_check", [], |r| r.get(0)).map_err(failed("checking the copy of"))?;
    if check != "ok" {
        return Err(StoreError::internal(format!("the copy of {name} is damaged: {check}")));
    }
    target.close().map_err(|(_, e)| sqlerr_in(format!("closing the copy of {name}"), e))?;
    std::fs::File::open(dst)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_failure(format!("syncing {}", dst.display()), e))
}

/// An attachment storage key as a relative path inside the attachments directory (`agent/name`),
/// refusing one that could leave it.
fn safe_key(key: &str) -> StoreResult<&Path> {
    let p = Path::new(key);
    if key.is_empty() || !p.components().all(|c| matches!(c, std::path::Component::Normal(_))) {
        return Err(StoreError::internal(format!("attachment storage key {key:?} is not a relative path")));
    }
    Ok(p)
}

/// Copies the file `src` to the new file `dst` (0600, its directories 0700) and fsyncs it;
/// the bytes copied.
fn copy_file(src: &Path, dst: &Path) -> io::Result<u64> {
    let mut input = std::fs::File::open(src)?;
    if let Some(dir) = dst.parent() {
        private_dir(dir)?;
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(agentsight_store::private::FILE_MODE);
    }
    let mut output = open.open(dst)?;
    #[cfg(unix)]
    agentsight_store::private::tighten(dst, agentsight_store::private::FILE_MODE)?;
    let n = io::copy(&mut input, &mut output)?;
    output.sync_all()?;
    Ok(n)
}

/// The files under `root` (missing: none), as paths relative to it, in order.
fn list_files(root: &Path) -> StoreResult<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut dirs = vec![PathBuf::new()];
    while let Some(rel) = dirs.pop() {
        let entries = match std::fs::read_dir(root.join(&rel)) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound && rel.as_os_str().is_empty() => continue,
            Err(e) => return Err(io_failure(format!("reading {}", root.join(&rel).display()), e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| io_failure(format!("reading {}", root.display()), e))?;
            let kind = entry.file_type().map_err(|e| io_failure(format!("reading {}", root.display()), e))?;
            let path = rel.join(entry.file_name());
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn file_size(path: &Path) -> StoreResult<u64> {
    std::fs::metadata(path).map(|m| m.len()).map_err(|e| io_failure(format!("reading {}", path.display()), e))
}

/// Makes the directory's new entries durable.
fn sync_dir(dir: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_failure(format!("syncing {}", dir.display()), e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A WAL database of `rows` rows of 2 KiB (several backup steps' worth of pages).
    fn wal_db(path: &Path, rows: i64) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0)).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, pad BLOB NOT NULL)").unwrap();
        conn.execute(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?1)
             INSERT INTO t (pad) SELECT zeroblob(2048) FROM s",
            [rows],
        )
        .unwrap();
        conn
    }

    /// Commits by another connection between the copy's steps neither restart the copy nor
    /// enter it: the copy is the database as of its start, in one self-contained file.
    #[test]
    fn a_database_written_during_the_copy_is_copied_as_of_one_commit() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src.db");
        let writer = wal_db(&src, 4000);
        let dst = dir.path().join("copy.db");
        let mut steps = 0;
        copy_database(&src, &dst, MAIN_DB, &mut |p| {
            if let Progress::Database { done, total, .. } = p {
                assert!(done <= total);
            }
            steps += 1;
            // A few thousand pages take a few steps; a copy that restarts at each commit never ends.
            assert!(steps < 100, "the copy restarts when the source is written");
            writer.execute("INSERT INTO t (pad) VALUES (zeroblob(2048))", []).unwrap();
        })
        .unwrap();
        assert!(steps > 1, "the copy took several steps");
        let copy = Connection::open(&dst).unwrap();
        assert_eq!(copy.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap(), 4000);
        assert_eq!(copy.query_row("PRAGMA journal_mode", [], |r| r.get::<_, String>(0)).unwrap(), "delete");
        let mut wal = dst.as_os_str().to_owned();
        wal.push("-wal");
        assert!(!Path::new(&wal).exists());
        let now = writer.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)).unwrap();
        assert_eq!(now, 4000 + steps);
    }

    /// Backup and restore refuse to write into a non-empty directory and leave it as it was;
    /// restore refuses a directory that is not a backup; a round trip keeps the data.
    #[tokio::test]
    async fn backup_and_restore_never_overwrite_and_round_trip() {
        use agentsight_store::AgentStore;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        {
            let store = crate::SqliteStore::open(crate::SqliteOptions::new(data.join(MAIN_DB))).unwrap();
            store.create_agent("kept".into(), 1).await.unwrap();
        }
        let full = dir.path().join("full");
        std::fs::create_dir(&full).unwrap();
        std::fs::write(full.join("x"), "x").unwrap();
        let refused = backup(&data, &full, &mut |_| {}).unwrap_err();
        assert!(matches!(refused, StoreError::Conflict { field: "to", .. }), "{refused:?}");
        let refused = restore(&full, &dir.path().join("new"), &mut |_| {}).unwrap_err();
        assert!(matches!(refused, StoreError::Conflict { field: "from", .. }), "{refused:?}");

        let to = dir.path().join("backup");
        let report = backup(&data, &to, &mut |_| {}).unwrap();
        assert_eq!(report.files.len(), 2);
        let refused = restore(&to, &data, &mut |_| {}).unwrap_err();
        assert!(matches!(refused, StoreError::Conflict { field: "data-dir", .. }), "{refused:?}");
        let refused = restore(&to, &full, &mut |_| {}).unwrap_err();
        assert!(matches!(refused, StoreError::Conflict { field: "data-dir", .. }), "{refused:?}");
        assert_eq!(std::fs::read_to_string(full.join("x")).unwrap(), "x");

        let restored = dir.path().join("restored");
        restore(&to, &restored, &mut |_| {}).unwrap();
        let store = crate::SqliteStore::open(crate::SqliteOptions::new(restored.join(MAIN_DB))).unwrap();
        let agents = store.list_agents().await.unwrap();
        assert_eq!(agents.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(), ["kept"]);
    }
}
