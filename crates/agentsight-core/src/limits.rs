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

/// E-mail addresses one scheduled report goes to.
pub const MAX_REPORT_RECIPIENTS: usize = 20;
/// Recorded sends of one report schedule the settings list (newest first).
pub const MAX_REPORT_SENDS_LISTED: i64 = 50;
/// How long a report send taken by a sender stays its own: a send taken longer ago and not
/// recorded as sent (its sender stopped midway) is owed again (10 minutes).
pub const REPORT_SEND_LEASE_MICROS: i64 = 10 * 60 * 1_000_000;
/// Attempts at one report send before it is given up (each after the lease of the one before).
pub const REPORT_MAX_ATTEMPTS: u32 = 5;

/// Checks a string against a character limit, with the DRF wording.
pub fn check_chars(value: &str, max: usize) -> Result<(), String> {
    // Fast path: a byte length within the limit means the char count is within it too.
    if value.len() <= max || value.chars().count() <= max {
        Ok(())
    } else {
        Err(format!("Ensure this field has no more than {max} characters."))
    }
}

/// Alert rules in all (`POST /api/settings/alerts/rules/` refuses more).
pub const MAX_ALERT_RULES: usize = 200;
/// An alert rule's window over whole UTC days, in hours (31 days).
pub const MAX_ALERT_WINDOW_HOURS: u32 = 744;
/// A `volume_drop` rule's window in hours (the last complete hours, compared with a week before).
pub const MAX_VOLUME_WINDOW_HOURS: u32 = 24;
/// Notification targets (webhooks and e-mail addresses) in all.
pub const MAX_NOTIFY_TARGETS: usize = 50;
/// A notification target's name.
pub const MAX_TARGET_NAME_CHARS: usize = 100;
/// A webhook URL.
pub const MAX_NOTIFY_URL_CHARS: usize = 2_000;
/// A webhook's signing secret at least.
pub const MIN_NOTIFY_SECRET_CHARS: usize = 16;
/// A webhook's signing secret at most.
pub const MAX_NOTIFY_SECRET_CHARS: usize = 256;
/// An e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// An SMTP host name, user name or password.
pub const MAX_SMTP_FIELD_CHARS: usize = 255;
/// Sends and alert events listed at most (newest first).
pub const MAX_NOTIFY_LISTED: i64 = 200;
/// Attempts of one send before it is given up (the first and the retries).
pub const MAX_SEND_ATTEMPTS: u32 = 5;

/// The most expensive conversations `GET /api/metrics/llm/` lists (`top_conversations`).
pub const LLM_TOP_CONVERSATIONS: usize = 10;

/// `idle_minutes` of `GET /api/metrics/failures/` and of the conversation list's
/// `unanswered=` / `abandoned=` filters when not given: a conversation quiet for less is still
/// live (neither unanswered nor abandoned).
pub const FAILURE_IDLE_DEFAULT_MINUTES: i64 = 30;
/// The largest `idle_minutes` (7 days); the smallest is 1.
pub const FAILURE_IDLE_MAX_MINUTES: i64 = 7 * 24 * 60;
/// `top` of `GET /api/metrics/failures/` (most frequent first questions) when not given.
pub const FIRST_QUESTIONS_DEFAULT_TOP: usize = 20;
/// The largest `top`; the smallest is 1.
pub const FIRST_QUESTIONS_MAX_TOP: usize = 100;
/// A normalized first question is cut to this many characters.
pub const FIRST_QUESTION_MAX_CHARS: usize = 200;
/// `escalation_turns_min` / `_max` of the conversation list, at most.
pub const MAX_ESCALATION_TURNS_FILTER: u32 = 100_000;
/// The last row of `escalations.by_turns` counts this many turns or more.
pub const ESCALATION_TURNS_CAP: u32 = 10;
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
    const _: () = assert!(
        FAILURE_IDLE_DEFAULT_MINUTES >= 1 && FAILURE_IDLE_DEFAULT_MINUTES <= FAILURE_IDLE_MAX_MINUTES
    );
    const _: () =
        assert!(FIRST_QUESTIONS_DEFAULT_TOP >= 1 && FIRST_QUESTIONS_DEFAULT_TOP <= FIRST_QUESTIONS_MAX_TOP);
}
