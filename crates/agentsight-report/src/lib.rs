//! Scheduled client reports (issue #26): what a report holds, gathered through the store
//! traits ([`gather`]), the mail it becomes ([`render`]: HTML with inline CSS in the agent's
//! white-label, a plain-text alternative, charts drawn on the server as PNG with a bundled
//! font — no browser, nothing fetched), and the send of whatever is due, once per (schedule,
//! period) ([`run::send_due_reports`]). The mailer is the caller's (the server's notifier).

#![warn(missing_docs)]

pub mod chart;
pub mod gather;
pub mod render;
pub mod run;

pub use gather::{ReportData, ReportError, gather};
pub use render::render;
pub use run::{RunOptions, SendOutcome, send_due_reports};
