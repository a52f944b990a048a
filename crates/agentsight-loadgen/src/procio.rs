//! Bytes a local server process wrote, from Linux's `/proc/PID/io` and
//! `/proc/PID/task/TID/io`: `write_bytes` is what the process caused to be
//! sent to the storage layer (counted when a page of a file is dirtied, so a
//! WAL frame written twice counts twice), `cancelled_write_bytes` what it
//! took back before it reached the disk (a file truncated while its pages were
//! still dirty). The per-thread figures tell the writer threads apart.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

/// One reading of a process's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// `write_bytes` of the whole process.
    pub write_bytes: u64,
    /// `cancelled_write_bytes` of the whole process.
    pub cancelled_write_bytes: u64,
    /// `write_bytes` of each live thread, by thread id: (name, bytes).
    pub threads: BTreeMap<u64, (String, u64)>,
}

/// The value of `field` in the text of an `io` file.
fn field(text: &str, field: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(field)?.strip_prefix(':')?.trim().parse().ok())
}

/// Reads the counters of process `pid` (under `proc`, `/proc` outside tests).
pub fn read(proc: &Path, pid: u32) -> Result<Snapshot> {
    let dir = proc.join(pid.to_string());
    let io = std::fs::read_to_string(dir.join("io"))
        .with_context(|| format!("reading {}/io (is process {pid} ours and alive?)", dir.display()))?;
    let mut s = Snapshot {
        write_bytes: field(&io, "write_bytes").context("no write_bytes in /proc/PID/io")?,
        cancelled_write_bytes: field(&io, "cancelled_write_bytes").unwrap_or(0),
        threads: BTreeMap::new(),
    };
    // A thread may end between the listing and the read: it is left out.
    if let Ok(tasks) = std::fs::read_dir(dir.join("task")) {
        for t in tasks.flatten() {
            let Some(tid) = t.file_name().to_str().and_then(|n| n.parse::<u64>().ok()) else { continue };
            let (Ok(io), Ok(name)) = (
                std::fs::read_to_string(t.path().join("io")),
                std::fs::read_to_string(t.path().join("comm")),
            ) else {
                continue;
            };
            if let Some(bytes) = field(&io, "write_bytes") {
                s.threads.insert(tid, (name.trim().to_owned(), bytes));
            }
        }
    }
    Ok(s)
}

/// What a process wrote between two readings, against the request bodies it took meanwhile.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IoReport {
    /// The process measured.
    pub pid: u32,
    /// `write_bytes` between the readings.
    pub write_bytes: u64,
    /// `cancelled_write_bytes` between the readings.
    pub cancelled_write_bytes: u64,
    /// `write_bytes` by thread name (threads of one name summed; a thread that started
    /// between the readings counts from zero, one that ended is missing).
    pub by_thread: BTreeMap<String, u64>,
    /// Bytes of the request bodies answered with the expected status between the readings, as
    /// sent (a gzipped span batch counts its gzip bytes).
    pub body_bytes: u64,
    /// `write_bytes / body_bytes`.
    pub written_per_body_byte: Option<f64>,
    /// `(write_bytes - cancelled_write_bytes) / body_bytes`.
    pub net_written_per_body_byte: Option<f64>,
}

impl IoReport {
    /// The difference of two readings of `pid`, against `body_bytes` taken meanwhile.
    pub fn between(pid: u32, before: &Snapshot, after: &Snapshot, body_bytes: u64) -> IoReport {
        let write_bytes = after.write_bytes.saturating_sub(before.write_bytes);
        let cancelled_write_bytes = after.cancelled_write_bytes.saturating_sub(before.cancelled_write_bytes);
        let mut by_thread: BTreeMap<String, u64> = BTreeMap::new();
        for (tid, (name, bytes)) in &after.threads {
            let from = before.threads.get(tid).map_or(0, |(_, b)| *b);
            let delta = bytes.saturating_sub(from);
            if delta > 0 {
                *by_thread.entry(name.clone()).or_default() += delta;
            }
        }
        let per = |n: u64| (body_bytes > 0).then(|| n as f64 / body_bytes as f64);
        IoReport {
            pid,
            write_bytes,
            cancelled_write_bytes,
            by_thread,
            body_bytes,
            written_per_body_byte: per(write_bytes),
            net_written_per_body_byte: per(write_bytes.saturating_sub(cancelled_write_bytes)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    fn io(write_bytes: u64, cancelled: u64) -> String {
        format!(
            "rchar: 10\nwchar: 20\nsyscr: 1\nsyscw: 2\nread_bytes: 0\nwrite_bytes: {write_bytes}\ncancelled_write_bytes: {cancelled}\n"
        )
    }

    #[test]
    fn reads_the_process_and_its_threads_and_takes_differences() {
        let root = tempfile::tempdir().expect("tempdir");
        let p = root.path();
        write(p, "7/io", &io(1000, 0));
        write(p, "7/task/7/io", &io(100, 0));
        write(p, "7/task/7/comm", "agentsight\n");
        write(p, "7/task/8/io", &io(900, 0));
        write(p, "7/task/8/comm", "agentsight-writ\n");
        let before = read(p, 7).expect("read");
        assert_eq!(before.write_bytes, 1000);
        assert_eq!(before.threads.get(&8), Some(&("agentsight-writ".to_owned(), 900)));

        write(p, "7/io", &io(51_000, 4096));
        write(p, "7/task/8/io", &io(40_900, 0));
        write(p, "7/task/9/io", &io(10_000, 0));
        write(p, "7/task/9/comm", "agentsight-arch\n");
        let after = read(p, 7).expect("read");
        let r = IoReport::between(7, &before, &after, 1000);
        assert_eq!(r.write_bytes, 50_000);
        assert_eq!(r.cancelled_write_bytes, 4096);
        assert_eq!(r.by_thread.get("agentsight-writ"), Some(&40_000));
        assert_eq!(r.by_thread.get("agentsight-arch"), Some(&10_000));
        assert_eq!(r.by_thread.get("agentsight"), None, "a thread that wrote nothing is left out");
        assert_eq!(r.written_per_body_byte, Some(50.0));
        assert_eq!(r.net_written_per_body_byte, Some(45.904));
        assert_eq!(IoReport::between(7, &before, &after, 0).written_per_body_byte, None);
    }

    #[test]
    fn a_missing_process_is_an_error_naming_it() {
        let root = tempfile::tempdir().expect("tempdir");
        let e = read(root.path(), 4242).expect_err("no such process").to_string();
        assert!(e.contains("4242"), "{e}");
    }
}
