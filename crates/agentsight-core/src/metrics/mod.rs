//! The dashboard metrics: the query model (range, time zone, filters), the definitions of
//! `docs/metrics.md` as code, and an in-memory reference computation the store is checked
//! against.

pub mod build;
pub mod codec;
pub mod failures;
pub mod feedback;
pub mod index;
pub mod llm;
pub mod query;
pub mod reference;
pub mod series;
pub mod users;

/// Action names counted as a human escalation unless an agent sets its own list.
pub const DEFAULT_ESCALATION_TOOLS: [&str; 4] =
    ["fallback_to_human", "open_ticket", "ticket", "contact_human"];

/// The bookkeeping action that carries token counts; never a tool call.
pub const TOKEN_USAGE_ACTION: &str = "token_usage";

/// Escalation tool names an agent may set at most.
pub const MAX_ESCALATION_TOOLS: usize = 100;

/// Checks an agent's escalation tool names: trimmed, non-empty, at most
/// [`MAX_ESCALATION_TOOLS`], duplicates dropped (first kept).
pub fn validate_escalation_tools(tools: &[String]) -> Result<Vec<String>, crate::ValidationErrors> {
    let mut e = crate::ValidationErrors::default();
    if tools.len() > MAX_ESCALATION_TOOLS {
        e.add("escalation_tools", format!("Ensure this list has no more than {MAX_ESCALATION_TOOLS} items."));
    }
    let mut out: Vec<String> = Vec::new();
    for (i, t) in tools.iter().enumerate() {
        let t = t.trim();
        if t.is_empty() {
            e.add(format!("escalation_tools[{i}]"), "This field may not be blank.");
        } else if let Err(m) = crate::limits::check_chars(t, crate::limits::MAX_ACTION_NAME_CHARS) {
            e.add(format!("escalation_tools[{i}]"), m);
        } else if !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    e.into_result(out)
}
