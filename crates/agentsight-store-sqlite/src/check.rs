//! `agentsight check`'s SQLite half: each database file opened read-only, its integrity
//! (`PRAGMA integrity_check`) and its schema version against this build's.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

/// Integrity problems listed at most (SQLite's `integrity_check` may list many).
const MAX_INTEGRITY_LINES: usize = 10;

/// What was found in one database file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseReport {
    /// `database` (the main file) or `archive` (the span archive).
    pub name: &'static str,
    /// The file.
    pub path: PathBuf,
    /// Its schema version (`PRAGMA user_version`), when it could be read.
    pub schema: Option<usize>,
    /// The newest schema version this build knows for this file.
    pub latest: usize,
    /// What is wrong (empty: nothing).
    pub problems: Vec<String>,
}

/// Checks the main database `main` (`agentsight.db`) and its span archive beside it, read-only:
/// each must exist, open, pass `PRAGMA integrity_check`, and have a schema no newer than this
/// build's (an older one is fine: `serve` migrates it).
pub fn check_databases(main: &Path) -> Vec<DatabaseReport> {
    vec![
        check_one("database", main, crate::migrate::SCHEMA_VERSION),
        check_one("archive", &crate::archive::path_of(main), crate::archive::SCHEMA_VERSION),
    ]
}

fn check_one(name: &'static str, path: &Path, latest: usize) -> DatabaseReport {
    let mut report =
        DatabaseReport { name, path: path.to_path_buf(), schema: None, latest, problems: Vec::new() };
    if !path.exists() {
        report.problems.push("missing (agentsight serve creates it on first start)".to_string());
        return report;
    }
    let conn = match Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) {
        Ok(c) => c,
        Err(e) => {
            report.problems.push(describe("cannot open", &e));
            return report;
        }
    };
    match conn.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)) {
        Ok(v) => {
            let v = usize::try_from(v).unwrap_or(usize::MAX);
            report.schema = Some(v);
            if v > latest {
                report.problems.push(format!(
                    "schema version {v} is newer than this binary's ({latest}); upgrade agentsight"
                ));
            }
        }
        Err(e) => {
            report.problems.push(describe("reading the schema version", &e));
            return report;
        }
    }
    let rows = conn
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| s.query_map([], |r| r.get::<_, String>(0))?.collect::<Result<Vec<String>, _>>());
    match rows {
        Ok(rows) if rows.len() == 1 && rows[0] == "ok" => {}
        Ok(rows) => {
            let n = rows.len();
            for row in rows.into_iter().take(MAX_INTEGRITY_LINES) {
                report.problems.push(format!("corrupt: {row}"));
            }
            if n > MAX_INTEGRITY_LINES {
                report.problems.push(format!("corrupt: … and {} more", n - MAX_INTEGRITY_LINES));
            }
        }
        Err(e) => report.problems.push(describe("integrity check", &e)),
    }
    report
}

/// A database error in words, led by its lasting kind when it is one (`not a database`,
/// `corrupt`…).
fn describe(what: &str, e: &rusqlite::Error) -> String {
    match crate::lasting(e) {
        Some(kind) => format!("{kind}: {what}: {e}"),
        None => format!("{what}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(dir: &Path) -> PathBuf {
        let main = dir.join("agentsight.db");
        let mut opts = crate::SqliteOptions::new(&main);
        opts.fsync = false;
        drop(crate::SqliteStore::open(opts).unwrap());
        main
    }

    #[test]
    fn a_fresh_pair_passes_and_garbage_or_a_newer_schema_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let main = fresh(dir.path());
        let reports = check_databases(&main);
        assert!(reports.iter().all(|r| r.problems.is_empty()), "{reports:?}");
        assert_eq!(reports[0].schema, Some(crate::migrate::SCHEMA_VERSION));

        let archive = crate::archive::path_of(&main);
        std::fs::write(&archive, vec![0x5a_u8; 8192]).unwrap();
        let reports = check_databases(&main);
        assert!(reports[0].problems.is_empty(), "{reports:?}");
        assert!(reports[1].problems[0].starts_with("not a database"), "{reports:?}");

        Connection::open(&main).unwrap().pragma_update(None, "user_version", 999).unwrap();
        let reports = check_databases(&main);
        assert!(reports[0].problems[0].contains("upgrade agentsight"), "{reports:?}");
    }
}
