//! Every size limit of the tracking plane, in one place (documented in the README).
//!
//! String limits count Unicode scalar values (characters), not bytes.

/// `conversation_id`, `customer_id`, and other identifiers.
pub const MAX_ID_CHARS: usize = 255;
/// An agent's retention, in days, at most (100 years); at least 1.
pub const MAX_RETENTION_DAYS: u32 = 36_500;
/// Conversation `name`.
pub const MAX_NAME_CHARS: usize = 255;
/// Conversation `source`.
pub const MAX_SOURCE_CHARS: usize = 64;
/// Conversation `language` (a BCP-47 tag fits easily).
pub const MAX_LANGUAGE_CHARS: usize = 35;
/// Environment slug.
pub const MAX_ENVIRONMENT_CHARS: usize = 64;
/// Message `content`.
pub const MAX_CONTENT_CHARS: usize = 100_000;
/// Action `action_name`.
pub const MAX_ACTION_NAME_CHARS: usize = 255;
/// Action `response` and `error_msg`.
pub const MAX_ACTION_TEXT_CHARS: usize = 100_000;
/// Button `button_event`, `label` and `value`.
pub const MAX_BUTTON_CHARS: usize = 1_000;
/// Feedback `comment` (the SDK checks the same bound before sending).
pub const MAX_COMMENT_CHARS: usize = 5_000;
/// Attachment file name.
pub const MAX_FILENAME_CHARS: usize = 255;
/// Attachment MIME type.
pub const MAX_MIME_CHARS: usize = 255;
/// Any JSON object field (`metadata`, `tools_used`), serialized.
pub const MAX_JSON_BYTES: usize = 64 * 1024;
/// Nesting depth of any JSON object field.
pub const MAX_JSON_DEPTH: usize = 32;
/// Files in one attachment upload.
pub const MAX_FILES_PER_UPLOAD: usize = 20;
/// Default size limit of one attachment file (`--max-attachment-bytes`).
pub const DEFAULT_MAX_ATTACHMENT_BYTES: usize = 20 * 1024 * 1024;
/// Default size limit of a JSON request body (`--max-body-bytes`).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Page size of list endpoints (default and maximum).
pub const MAX_PAGE_SIZE: i64 = 100;
/// Rows a page of `GET /api/feedbacks/` may start after (`(page - 1) × page_size`): the list
/// merges two sources (conversation feedback in the event store, votes in the registry) by
/// time, so a deep page costs as much as every row before it; beyond, narrow the list with
/// `created_at_before` / `created_at_after` instead (a 400 naming `page`).
pub const MAX_FEEDBACK_OFFSET: i64 = 10_000;
/// `key:value` pairs in one `metadata=` filter of the conversation list (each is a term of
/// the SQL query; thousands exceed SQLite's expression depth).
pub const MAX_METADATA_FILTER_PAIRS: usize = 20;

/// Tokens of one kind one LLM call may report (`gen_ai.usage.*`, `agentsight.llm.*_tokens`):
/// far above any model's window, and low enough that a call's cost in pico-USD cannot
/// overflow (a 400 naming the attribute beyond it).
pub const MAX_TOKENS_PER_CALL: i64 = 1_000_000_000;

/// Checks a string against a character limit, with the DRF wording.
pub fn check_chars(value: &str, max: usize) -> Result<(), String> {
    // Fast path: a byte length within the limit means the char count is within it too.
    if value.len() <= max || value.chars().count() <= max {
        Ok(())
    } else {
        Err(format!("Ensure this field has no more than {max} characters."))
    }
}

/// The most expensive conversations `GET /api/metrics/llm/` lists (`top_conversations`).
pub const LLM_TOP_CONVERSATIONS: usize = 10;

/// The weekly retention cohorts `GET /api/metrics/users/` lists at most (`cohorts`): the
/// range's latest weeks, so the table stays at most 52 × 52 / 2 cells.
pub const USER_COHORT_WEEKS: usize = 52;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_not_bytes() {
        let s = "ž".repeat(MAX_ID_CHARS);
        assert!(s.len() > MAX_ID_CHARS);
        assert!(check_chars(&s, MAX_ID_CHARS).is_ok());
        assert!(check_chars(&format!("{s}x"), MAX_ID_CHARS).is_err());
    }

    // The limits are ordered as the docs promise: checked at compile time.
    const _: () = assert!(MAX_COMMENT_CHARS < MAX_CONTENT_CHARS);
    const _: () = assert!(MAX_JSON_BYTES < DEFAULT_MAX_BODY_BYTES);
    const _: () = assert!(MAX_PAGE_SIZE > 0 && MAX_FILES_PER_UPLOAD > 0);
}
