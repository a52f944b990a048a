//! `agentsight check`: whether a data dir is fit to serve from, without changing it. The
//! databases' own checks (integrity, schema version) are the SQLite store's
//! ([`agentsight_store_sqlite::check_databases`]); this adds the file system's view
//! (permissions, free space) and the geolocation files, and prints one line a finding.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Free space under which the data dir's file system is reported (a warning, not a problem).
pub const LOW_DISK_BYTES: u64 = 1 << 30;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Fine.
    Ok,
    /// Worth knowing; does not fail the check.
    Warn,
    /// Must be fixed; fails the check.
    Problem,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// How serious.
    pub level: Level,
    /// What was found.
    pub text: String,
}

fn finding(level: Level, text: impl Into<String>) -> Finding {
    Finding { level, text: text.into() }
}

/// Every check of `data_dir`, with the geolocation files looked for in `geo_dir`.
pub fn check(data_dir: &Path, geo_dir: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    if !data_dir.is_dir() {
        out.push(finding(
            Level::Problem,
            format!("data dir {}: missing or not a directory", data_dir.display()),
        ));
        return out;
    }
    let main = data_dir.join("agentsight.db");
    for db in agentsight_store_sqlite::check_databases(&main) {
        let what = format!("{} {}", db.name, db.path.display());
        if db.problems.is_empty() {
            let schema = db.schema.map_or_else(|| "?".to_string(), |s| s.to_string());
            out.push(finding(
                Level::Ok,
                format!("{what}: integrity ok, schema {schema} (this build: {})", db.latest),
            ));
        }
        for p in db.problems {
            out.push(finding(Level::Problem, format!("{what}: {p}")));
        }
    }
    out.extend(permissions(data_dir, &main));
    out.push(disk(data_dir));
    out.push(geolocation(geo_dir));
    out
}

/// The data dir must be 0700 and its database files 0600 (nobody else reads conversations),
/// each readable and writable by this user.
fn permissions(data_dir: &Path, main: &Path) -> Vec<Finding> {
    let mut files: Vec<PathBuf> = Vec::new();
    for db in [main.to_path_buf(), main.with_extension("archive.db")] {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.clone().into_os_string();
            name.push(suffix);
            files.push(name.into());
        }
    }
    let mut out = Vec::new();
    let mut ok = true;
    let entries =
        std::iter::once((data_dir.to_path_buf(), true)).chain(files.into_iter().map(|f| (f, false)));
    for (path, is_dir) in entries {
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            ok = false;
            let want = if is_dir { "0700" } else { "0600" };
            out.push(finding(
                Level::Problem,
                format!(
                    "{}: mode {mode:04o} lets others in; should be {want} (chmod {want})",
                    path.display()
                ),
            ));
        }
        let mut access = rustix::fs::Access::READ_OK | rustix::fs::Access::WRITE_OK;
        if is_dir {
            access |= rustix::fs::Access::EXEC_OK;
        }
        if let Err(e) = rustix::fs::access(&path, access) {
            ok = false;
            out.push(finding(
                Level::Problem,
                format!("{}: not readable and writable by this user ({e})", path.display()),
            ));
        }
    }
    if ok {
        out.push(finding(Level::Ok, "permissions: the data dir is private (0700), its databases 0600"));
    }
    out
}

/// Free space of the data dir's file system.
fn disk(data_dir: &Path) -> Finding {
    match rustix::fs::statvfs(data_dir) {
        Ok(st) => {
            let free = st.f_bavail.saturating_mul(st.f_frsize);
            let text = format!("disk: {} free on the data dir's file system", human(free));
            if free < LOW_DISK_BYTES {
                finding(
                    Level::Warn,
                    format!("{text} (under {}): writes fail when it is full", human(LOW_DISK_BYTES)),
                )
            } else {
                finding(Level::Ok, text)
            }
        }
        Err(e) => finding(Level::Warn, format!("disk: free space unknown ({e})")),
    }
}

fn human(bytes: u64) -> String {
    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;
    if bytes >= GIB {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    } else {
        format!("{} MiB", bytes / MIB)
    }
}

/// The geolocation files: absent is only a warning (countries stay unknown); present but
/// unreadable or damaged is a problem.
fn geolocation(dir: &Path) -> Finding {
    match agentsight_geo::GeoDb::open(dir) {
        Ok(db) => finding(Level::Ok, format!("geolocation: on ({})", db.describe())),
        Err(e) => {
            let any = std::fs::read_dir(dir)
                .map(|mut d| d.any(|e| e.is_ok_and(|e| e.path().extension().is_some_and(|x| x == "mmdb"))))
                .unwrap_or(false);
            if any {
                finding(Level::Problem, format!("geolocation files in {}: {e}", dir.display()))
            } else {
                finding(
                    Level::Warn,
                    format!(
                        "geolocation: off (no files in {}); to turn it on run `{}`",
                        dir.display(),
                        agentsight_server::app::fetch_geo_command(dir)
                    ),
                )
            }
        }
    }
}

/// The report, one line a finding, and the verdict line: `OK`, or `PROBLEMS: n`.
pub fn render(findings: &[Finding]) -> (String, usize) {
    let mut s = String::new();
    for f in findings {
        let tag = match f.level {
            Level::Ok => "ok     ",
            Level::Warn => "warning",
            Level::Problem => "PROBLEM",
        };
        s.push_str(&format!("{tag}  {}\n", f.text));
    }
    let n = findings.iter().filter(|f| f.level == Level::Problem).count();
    if n == 0 {
        s.push_str("OK\n");
    } else {
        s.push_str(&format!("PROBLEMS: {n}\n"));
    }
    (s, n)
}
