//! Wire types of the AgentSight APIs: what the SDKs send and what our server answers.
//!
//! These types are deliberately lenient (everything optional that the SDK may omit or send as
//! `null`); validation into domain types happens in `agentsight-core`. Nothing here does I/O.

#![warn(missing_docs)]

pub mod dashboard;
pub mod metrics;
pub mod notify;
pub mod v00;
pub mod v01;

pub use v00::*;
