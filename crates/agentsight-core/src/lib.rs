//! AgentSight's domain: validated types, limits and normalization, pure and synchronous.
//!
//! Wire payloads (`agentsight-protocol`) become the commands of [`tracking`] here, or a
//! [`ValidationErrors`] that names every offending field. Nothing in this crate knows HTTP,
//! SQL or an async runtime.

#![warn(missing_docs)]

pub mod alerts;
pub mod archive;
pub mod dashboard;
pub mod dataplane;
pub mod error;
pub mod keys;
pub mod limits;
pub mod metrics;
pub mod normalize;
pub mod otlp;
pub mod prices;
pub mod reports;
pub mod spans;
pub mod time;
pub mod tracking;

pub use error::ValidationErrors;
