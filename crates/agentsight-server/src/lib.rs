//! AgentSight's HTTP server: the 0.0.x tracking plane, the read and manage API, the metrics
//! API, the dashboard API (sessions, settings, share links, live feed, export), health, and the
//! embedded web dashboard (`assets.rs`, feature `dashboard`).
//!
//! # Path of an event
//!
//! ```text
//! SDK ──HTTP, Authorization: Api-Key──▶ axum router
//!   ├─ auth (extract.rs): key hash → principal (agent, role), cached for a second
//!   ├─ body (extract.rs): size limit → JSON → wire type (agentsight-protocol); errors name the field
//!   ├─ write path (agentsight-ingest): validated command (agentsight-core), or 400 naming every
//!   │  field; enrichment (geolocation)
//!   └─ event store (the binary's choice; SQLite: one writer thread commits queued commands in
//!      groups): the handler answers 200/201 with the row's integer id only after the commit
//! ```
//!
//! Dashboard requests carry a session cookie (resolved once by [`auth::sessions`]; writes need
//! `X-CSRF-Token`) or a share token instead of a key; [`auth`] turns any credential into the
//! agent the request may read or change. Every write the event store commits reaches the live
//! feed ([`live::LiveHub`]) from the store itself. The write path (validate, enrich, store) is
//! the `agentsight-ingest` crate's, shared with `agentsight demo`.
//!
//! Status codes: 200/201 with a JSON body on success (never 202/204, which the 0.0.x client
//! re-sends); 400 `{"field": ["…"]}` or `{"detail": "…"}`; 401 unknown key; 403 read key
//! writing; 404 not this agent's; 413 over a size limit; 503 + `Retry-After` when the write
//! queue is full; 500 opaque. See [`error::ApiError`].

#![warn(missing_docs)]

pub mod app;
mod assets;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod cpu;
pub mod erasure;
pub mod error;
pub mod extract;
pub mod fuzzing;
pub mod live;
pub mod notify;
mod present;
pub mod proxy;
pub mod ready;
mod routes;
pub mod serve;
pub mod telemetry;

pub use app::{App, AppState, Shared, StartError, Store};
pub use config::Settings;
pub use routes::openapi_document;
