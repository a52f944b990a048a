//! Where the bot fails (`docs/metrics.md`, *Where the bot fails*): unanswered and abandoned
//! conversations, tool errors, escalations by turn, and the most frequent first questions.
//!
//! Every event store returns the same facts ([`FailureFacts`]: one [`ConversationTrail`] per
//! conversation in range, and the tool calls in range by name); everything else is computed
//! here, once for every backend. [`FailureCounts::of`] is the part an alert evaluator needs
//! (the unanswered and abandoned rates, the tool errors) for any `now` and idle time.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use agentsight_protocol::metrics::{
    AgentRef, EscalationTurns, FailureCount, FailuresResponse, FirstQuestionRow, FirstQuestions,
    ToolErrorRow, ToolErrors, TurnsRow,
};
use regex::{Captures, Regex};

use super::query::MetricsQuery;
use crate::ValidationErrors;
use crate::limits::{
    ESCALATION_TURNS_CAP, FAILURE_IDLE_DEFAULT_MINUTES, FAILURE_IDLE_MAX_MINUTES, FIRST_QUESTION_MAX_CHARS,
    FIRST_QUESTIONS_DEFAULT_TOP, FIRST_QUESTIONS_MAX_TOP, MAX_ESCALATION_TURNS_FILTER,
};
use crate::time::{Micros, to_iso};

/// Microseconds in a minute.
const MINUTE: Micros = 60_000_000;

/// What one entry of a conversation is, for its trail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// An `end_user` message.
    User,
    /// An `agent` message.
    Agent,
    /// An action whose name is in the agent's escalation list.
    Escalation,
    /// Anything else (a `system` message, another action, a button): takes no part.
    Other,
}

/// One entry of a conversation: its event time, its id (arrival order) and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrailEntry {
    /// Event time (an action's `started_at` when given).
    pub ts: Micros,
    /// Id (messages, actions and buttons share one id space).
    pub id: i64,
    /// What it is.
    pub step: Step,
}

/// What a conversation's entries say about it, for the failure metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationTrail {
    /// Primary key.
    pub pk: i64,
    /// The client's id.
    pub conversation_id: String,
    /// Whether it has a user message.
    pub engaged: bool,
    /// Its last user or bot message: whether it is the user's, and its event time.
    pub last: Option<(bool, Micros)>,
    /// For an escalated conversation, the user messages before its first escalation action.
    pub escalation_turns: Option<u32>,
    /// The id of its first user message.
    pub first_question_id: Option<i64>,
    /// That message's normalized text ([`normalize_question`]); the backend fills it in.
    pub first_question: Option<String>,
    /// The action names (not `token_usage`) of its actions with an error, at any time, sorted.
    pub tool_errors: Vec<String>,
}

impl ConversationTrail {
    /// The trail of a conversation from all of its entries (any order) and the names of its
    /// failed tools.
    pub fn from_entries(
        pk: i64,
        conversation_id: String,
        mut entries: Vec<TrailEntry>,
        mut tool_errors: Vec<String>,
    ) -> ConversationTrail {
        entries.sort_by_key(|e| (e.ts, e.id));
        let mut t = ConversationTrail { pk, conversation_id, ..Default::default() };
        let mut users = 0u32;
        for e in &entries {
            match e.step {
                Step::User => {
                    if t.first_question_id.is_none() {
                        t.first_question_id = Some(e.id);
                    }
                    users = users.saturating_add(1);
                    t.last = Some((true, e.ts));
                }
                Step::Agent => t.last = Some((false, e.ts)),
                Step::Escalation => {
                    if t.escalation_turns.is_none() {
                        t.escalation_turns = Some(users);
                    }
                }
                Step::Other => {}
            }
        }
        t.engaged = t.first_question_id.is_some();
        tool_errors.sort();
        tool_errors.dedup();
        t.tool_errors = tool_errors;
        t
    }

    /// What the conversation is at `cutoff` = now − the idle time.
    pub fn outcome(&self, cutoff: Micros) -> Outcome {
        match self.last {
            _ if !self.engaged => Outcome::Silent,
            Some((_, ts)) if ts > cutoff => Outcome::Awaiting,
            Some((true, _)) => Outcome::Unanswered,
            Some((false, _)) if self.escalation_turns.is_none() => Outcome::Abandoned,
            _ => Outcome::Escalated,
        }
    }
}

/// A conversation's state for the failure metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// No user message.
    Silent,
    /// Still live: its last activity is within the idle time.
    Awaiting,
    /// Settled, and its last user message got no bot reply.
    Unanswered,
    /// Settled, the bot had the last word, and it did not escalate.
    Abandoned,
    /// Settled, the bot had the last word, and it escalated.
    Escalated,
}

/// Tool calls in range of one action name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolCalls {
    /// Action name (never `token_usage`).
    pub name: String,
    /// Calls.
    pub calls: u64,
    /// Calls with a non-empty `error_msg`.
    pub errors: u64,
}

/// What an event store returns for the failure metrics of a range.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FailureFacts {
    /// One per conversation in range (matching the filters, not deleted).
    pub trails: Vec<ConversationTrail>,
    /// Tool calls in range by name (matching the filters).
    pub tools: Vec<ToolCalls>,
}

/// The counts behind the failure metrics (and an alert's rates) at one cutoff.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FailureCounts {
    /// Conversations in range.
    pub conversations: u64,
    /// With a user message.
    pub engaged: u64,
    /// Engaged and still live.
    pub awaiting: u64,
    /// Unanswered.
    pub unanswered: u64,
    /// Abandoned.
    pub abandoned: u64,
    /// Tool calls in range.
    pub tool_calls: u64,
    /// Those with an error.
    pub tool_errors: u64,
    /// Conversations with a tool error.
    pub tool_error_conversations: u64,
}

impl FailureCounts {
    /// Counts `facts` with liveness measured at `now` with `idle_minutes`.
    pub fn of(facts: &FailureFacts, now: Micros, idle_minutes: i64) -> FailureCounts {
        let cutoff = now.saturating_sub(idle_minutes.saturating_mul(MINUTE));
        let mut c = FailureCounts { conversations: facts.trails.len() as u64, ..Default::default() };
        for t in &facts.trails {
            c.engaged += u64::from(t.engaged);
            match t.outcome(cutoff) {
                Outcome::Awaiting => c.awaiting += 1,
                Outcome::Unanswered => c.unanswered += 1,
                Outcome::Abandoned => c.abandoned += 1,
                Outcome::Silent | Outcome::Escalated => {}
            }
            c.tool_error_conversations += u64::from(!t.tool_errors.is_empty());
        }
        c.tool_calls = facts.tools.iter().map(|t| t.calls).sum();
        c.tool_errors = facts.tools.iter().map(|t| t.errors).sum();
        c
    }

    /// Engaged conversations that are no longer live.
    pub fn settled(&self) -> u64 {
        self.engaged - self.awaiting
    }

    /// `unanswered / settled`, `None` when nothing is settled.
    pub fn unanswered_rate(&self) -> Option<f64> {
        rate(self.unanswered, self.settled())
    }

    /// `abandoned / settled`, `None` when nothing is settled.
    pub fn abandoned_rate(&self) -> Option<f64> {
        rate(self.abandoned, self.settled())
    }

    /// `tool_errors / tool_calls`, `None` without calls.
    pub fn tool_error_rate(&self) -> Option<f64> {
        rate(self.tool_errors, self.tool_calls)
    }
}

fn rate(n: u64, of: u64) -> Option<f64> {
    (of > 0).then(|| n as f64 / of as f64)
}

/// The parameters of `GET /api/metrics/failures/` beyond the overview's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureParams {
    /// The instant liveness is measured against.
    pub now: Micros,
    /// The idle time.
    pub idle_minutes: i64,
    /// How many first questions to list.
    pub top: usize,
}

/// Reads `idle_minutes` (absent or blank: the default); the message of a bad value.
pub fn parse_idle_minutes(v: Option<&str>) -> Result<i64, String> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(FAILURE_IDLE_DEFAULT_MINUTES),
        Some(s) => match s.parse::<i64>() {
            Ok(n) if (1..=FAILURE_IDLE_MAX_MINUTES).contains(&n) => Ok(n),
            _ => Err(format!(
                "Ensure this value is a whole number of minutes from 1 to {FAILURE_IDLE_MAX_MINUTES}."
            )),
        },
    }
}

/// Reads an `escalation_turns_min` / `_max` value.
pub fn parse_turns(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n <= MAX_ESCALATION_TURNS_FILTER => Ok(n),
        _ => Err(format!("Ensure this value is a whole number from 0 to {MAX_ESCALATION_TURNS_FILTER}.")),
    }
}

/// Reads `idle_minutes` and `top` of the query string, with `now`.
pub fn parse_params(q: &HashMap<String, String>, now: Micros) -> Result<FailureParams, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let idle_minutes =
        e.check("idle_minutes", parse_idle_minutes(q.get("idle_minutes").map(String::as_str))).unwrap_or(0);
    let top = match q.get("top").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => FIRST_QUESTIONS_DEFAULT_TOP,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=FIRST_QUESTIONS_MAX_TOP).contains(&n) => n,
            _ => {
                e.add(
                    "top",
                    format!("Ensure this value is a whole number from 1 to {FIRST_QUESTIONS_MAX_TOP}."),
                );
                0
            }
        },
    };
    e.into_result(FailureParams { now, idle_minutes, top })
}

/// The answer of `GET /api/metrics/failures/` from the facts of `q`'s range.
pub fn build(facts: &FailureFacts, q: &MetricsQuery, p: &FailureParams, agent: AgentRef) -> FailuresResponse {
    let c = FailureCounts::of(facts, p.now, p.idle_minutes);

    // Tool errors: calls and errors in range, conversations by their failed tools.
    let mut tools: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for t in &facts.tools {
        let e = tools.entry(&t.name).or_default();
        e.0 += t.calls;
        e.1 += t.errors;
    }
    for t in &facts.trails {
        for name in &t.tool_errors {
            tools.entry(name).or_default().2 += 1;
        }
    }
    let mut tool_rows: Vec<ToolErrorRow> = tools
        .into_iter()
        .filter(|(_, (_, errors, convs))| *errors > 0 || *convs > 0)
        .map(|(name, (calls, errors, conversations))| ToolErrorRow {
            name: name.to_string(),
            calls,
            errors,
            error_rate: rate(errors, calls),
            conversations,
        })
        .collect();
    tool_rows.sort_by(|a, b| {
        b.errors.cmp(&a.errors).then(b.conversations.cmp(&a.conversations)).then_with(|| a.name.cmp(&b.name))
    });

    // Escalations by turn.
    let mut by_turns = vec![0u64; ESCALATION_TURNS_CAP as usize + 1];
    let mut escalated = 0u64;
    for t in &facts.trails {
        if let Some(n) = t.escalation_turns {
            escalated += 1;
            by_turns[n.min(ESCALATION_TURNS_CAP) as usize] += 1;
        }
    }

    // First questions.
    let mut groups: BTreeMap<&str, (u64, &ConversationTrail)> = BTreeMap::new();
    for t in &facts.trails {
        if let Some(question) = t.first_question.as_deref() {
            let g = groups.entry(question).or_insert((0, t));
            g.0 += 1;
            if t.pk < g.1.pk {
                g.1 = t;
            }
        }
    }
    let distinct = groups.len() as u64;
    let mut top: Vec<FirstQuestionRow> = groups
        .into_iter()
        .map(|(question, (n, sample))| FirstQuestionRow {
            question: question.to_string(),
            conversations: n,
            sample_conversation: sample.pk,
            sample_conversation_id: sample.conversation_id.clone(),
        })
        .collect();
    top.sort_by(|a, b| b.conversations.cmp(&a.conversations).then_with(|| a.question.cmp(&b.question)));
    top.truncate(p.top);

    let settled = c.settled();
    FailuresResponse {
        agent,
        range: q.range_ref(),
        filters: q.filters.to_json(),
        now: to_iso(p.now),
        idle_minutes: p.idle_minutes,
        conversations: c.conversations,
        engaged: c.engaged,
        awaiting: c.awaiting,
        settled,
        unanswered: FailureCount { conversations: c.unanswered, rate: c.unanswered_rate() },
        abandoned: FailureCount { conversations: c.abandoned, rate: c.abandoned_rate() },
        tool_errors: ToolErrors {
            calls: c.tool_calls,
            errors: c.tool_errors,
            conversations: c.tool_error_conversations,
            tools: tool_rows,
        },
        escalations: EscalationTurns {
            conversations: escalated,
            rate: if c.conversations == 0 { 0.0 } else { escalated as f64 / c.conversations as f64 },
            by_turns: by_turns
                .into_iter()
                .enumerate()
                .map(|(i, n)| TurnsRow {
                    turns: i as u32,
                    or_more: i as u32 == ESCALATION_TURNS_CAP,
                    conversations: n,
                })
                .collect(),
        },
        first_questions: FirstQuestions { conversations: c.engaged, distinct, top },
    }
}

/// A private-use character that marks a placeholder while punctuation is stripped.
const MARK: char = '\u{E000}';

/// Compiles one of the constant patterns below (each is compiled by the unit tests).
#[allow(clippy::expect_used)] // a constant pattern: it compiles, or no test passes
fn pattern(p: &str) -> Regex {
    Regex::new(p).expect("a valid pattern")
}

static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"[\p{L}\p{N}._%+-]+@[\p{L}\p{N}-]+(?:\.[\p{L}\p{N}-]+)+"));
static URL: LazyLock<Regex> = LazyLock::new(|| pattern(r"(?:https?://|www\.)\S+"));
static UUID: LazyLock<Regex> =
    LazyLock::new(|| pattern(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"));
static WORD: LazyLock<Regex> = LazyLock::new(|| pattern(r"[\p{L}\p{N}]+(?:[-_][\p{L}\p{N}]+)*"));
static NUMBER: LazyLock<Regex> = LazyLock::new(|| pattern(r"\p{Nd}+(?:[.,]\p{Nd}+)*"));

/// A first question as it is grouped (`docs/metrics.md`, *Normalized question*): lower-cased;
/// e-mail addresses, URLs, UUIDs, words mixing letters and digits, and numbers masked as
/// `<email>`, `<url>`, `<uuid>`, `<id>`, `<n>`; punctuation dropped, spaces collapsed; at most
/// [`FIRST_QUESTION_MAX_CHARS`] characters. `None` when nothing is left.
pub fn normalize_question(text: &str) -> Option<String> {
    let s: String = text.chars().map(|c| if c == MARK { ' ' } else { c }).collect::<String>().to_lowercase();
    let mark = |name: &str| format!(" {MARK}{name} ");
    let s = EMAIL.replace_all(&s, mark("email").as_str());
    let s = URL.replace_all(&s, mark("url").as_str());
    let s = UUID.replace_all(&s, mark("uuid").as_str());
    let s = WORD.replace_all(&s, |c: &Captures<'_>| {
        let w = &c[0];
        let digit = w.chars().any(|ch| ch.is_numeric());
        let letter = w.chars().any(|ch| ch.is_alphabetic());
        if digit && (letter || w.contains(['-', '_'])) { mark("id") } else { w.to_string() }
    });
    let s = NUMBER.replace_all(&s, mark("n").as_str());
    let cleaned: String = s.chars().map(|c| if c.is_alphanumeric() || c == MARK { c } else { ' ' }).collect();
    let mut out = String::new();
    for word in cleaned.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        match word.strip_prefix(MARK) {
            Some(name) => {
                out.push('<');
                out.push_str(name);
                out.push('>');
            }
            None => out.push_str(&word.replace(MARK, "")),
        }
    }
    let out: String = out.chars().take(FIRST_QUESTION_MAX_CHARS).collect();
    let out = out.trim_end().to_string();
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_are_normalized_and_masked() {
        let n = |s: &str| normalize_question(s);
        assert_eq!(n("Where is my order #A-1234?!").as_deref(), Some("where is my order <id>"));
        assert_eq!(n("where is my order a-99").as_deref(), Some("where is my order <id>"));
        assert_eq!(n("  HELLO,   world!! ").as_deref(), Some("hello world"));
        assert_eq!(
            n("Mail me at Ana.K+x@example.co.uk please").as_deref(),
            Some("mail me at <email> please")
        );
        assert_eq!(
            n("see https://x.example/a?b=1 or www.example.com").as_deref(),
            Some("see <url> or <url>")
        );
        assert_eq!(
            n("ticket 123e4567-e89b-12d3-a456-426614174000 open").as_deref(),
            Some("ticket <uuid> open")
        );
        assert_eq!(n("I paid 1,000.50 EUR for 3 items").as_deref(), Some("i paid <n> eur for <n> items"));
        assert_eq!(n("call 555-1234").as_deref(), Some("call <id>"));
        assert_eq!(n("Ünïcode ÉTÉ?").as_deref(), Some("ünïcode été"));
        assert_eq!(n("???"), None);
        assert_eq!(n(""), None);
        assert_eq!(n("a\u{E000}b").as_deref(), Some("a b"), "the marker itself is never kept");
        let long = "word ".repeat(100);
        assert_eq!(n(&long).map(|s| s.chars().count()), Some(FIRST_QUESTION_MAX_CHARS - 1));
    }

    fn e(ts: Micros, id: i64, step: Step) -> TrailEntry {
        TrailEntry { ts, id, step }
    }

    #[test]
    fn outcomes_follow_the_last_user_or_bot_message_and_the_idle_time() {
        let t = |entries: Vec<TrailEntry>| ConversationTrail::from_entries(1, "c".into(), entries, vec![]);
        // The bot never answered: unanswered once settled, awaiting before.
        let u = t(vec![e(10, 1, Step::User), e(20, 2, Step::Other)]);
        assert_eq!(u.outcome(10), Outcome::Unanswered);
        assert_eq!(u.outcome(9), Outcome::Awaiting);
        // Same time: arrival decides (the reply came after).
        let a = t(vec![e(10, 2, Step::Agent), e(10, 1, Step::User)]);
        assert_eq!(a.outcome(100), Outcome::Abandoned);
        let esc = t(vec![
            e(5, 1, Step::User),
            e(6, 2, Step::User),
            e(7, 3, Step::Escalation),
            e(8, 4, Step::Agent),
        ]);
        assert_eq!(esc.escalation_turns, Some(2));
        assert_eq!(esc.outcome(100), Outcome::Escalated);
        assert_eq!(t(vec![e(1, 1, Step::Agent)]).outcome(100), Outcome::Silent);
        assert_eq!(t(vec![e(1, 1, Step::Escalation), e(2, 2, Step::User)]).escalation_turns, Some(0));
    }

    #[test]
    fn counts_and_rates() {
        let facts = FailureFacts {
            trails: vec![
                ConversationTrail::from_entries(1, "a".into(), vec![e(0, 1, Step::User)], vec!["x".into()]),
                ConversationTrail::from_entries(
                    2,
                    "b".into(),
                    vec![e(0, 2, Step::User), e(1, 3, Step::Agent)],
                    vec![],
                ),
                ConversationTrail::from_entries(3, "c".into(), vec![e(50 * MINUTE, 4, Step::User)], vec![]),
                ConversationTrail::from_entries(4, "d".into(), vec![], vec![]),
            ],
            tools: vec![ToolCalls { name: "x".into(), calls: 4, errors: 1 }],
        };
        let c = FailureCounts::of(&facts, 60 * MINUTE, 30);
        assert_eq!((c.conversations, c.engaged, c.awaiting, c.unanswered, c.abandoned), (4, 3, 1, 1, 1));
        assert_eq!(c.unanswered_rate(), Some(0.5));
        assert_eq!(c.tool_error_rate(), Some(0.25));
        assert_eq!(c.tool_error_conversations, 1);
        let none = FailureCounts::of(&FailureFacts::default(), 0, 30);
        assert_eq!(none.unanswered_rate(), None);
    }

    #[test]
    fn parameters_are_checked() {
        let q = |k: &str, v: &str| HashMap::from([(k.to_string(), v.to_string())]);
        assert_eq!(parse_params(&HashMap::new(), 0).unwrap().idle_minutes, FAILURE_IDLE_DEFAULT_MINUTES);
        for bad in ["0", "-1", "abc", "10081", "1.5"] {
            let err = parse_params(&q("idle_minutes", bad), 0).unwrap_err();
            assert!(err.0.contains_key("idle_minutes"), "{bad}");
        }
        for bad in ["0", "101", "x"] {
            assert!(parse_params(&q("top", bad), 0).unwrap_err().0.contains_key("top"), "{bad}");
        }
        assert_eq!(parse_params(&q("top", "5"), 0).unwrap().top, 5);
        assert!(parse_turns("100001").is_err() && parse_turns("-1").is_err());
        assert_eq!(parse_turns("3"), Ok(3));
    }
}
