//! The dashboard metrics: the query model (range, time zone, filters), the definitions of
//! `docs/metrics.md` as code, and an in-memory reference computation the store is checked
//! against.

pub mod build;
pub mod feedback;
pub mod query;
pub mod reference;
pub mod series;

/// Action names counted as a human escalation unless an agent sets its own list.
pub const DEFAULT_ESCALATION_TOOLS: [&str; 4] =
    ["fallback_to_human", "open_ticket", "ticket", "contact_human"];

/// The bookkeeping action that carries token counts; never a tool call.
pub const TOKEN_USAGE_ACTION: &str = "token_usage";
