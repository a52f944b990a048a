//! The API test binary: every test spawns the real app on port 0 with its own temporary data
//! dir and talks HTTP to it.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod assets;
#[path = "../common/mod.rs"]
mod common;
mod connections;
mod dashboard;
mod dataplane;
mod erasure;
mod failures;
mod helpers;
mod isolation;
mod metrics;
mod notify;
mod openapi;
mod otlp;
mod prometheus;
mod proxy;
mod ready;
mod reports;
mod shutdown;
mod spans;
mod tracking;
mod validation;
