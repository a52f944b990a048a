//! The 0.1.x data plane's writes (B5): feedback of three kinds, action definitions, message
//! metadata. Validated here, written as given by the store.

use agentsight_protocol::v00::PkRef;
use agentsight_protocol::v01 as wire;

use crate::error::ValidationErrors;
use crate::limits::{self, check_chars};
use crate::normalize;
use crate::time::Micros;
use crate::tracking::{AgentScope, ConversationRef, FeedbackSource, NewFeedback, json_object};

/// Feedback `topic` and `reason` slugs.
pub const MAX_SLUG_CHARS: usize = 50;
/// Action `display_name`.
pub const MAX_DISPLAY_NAME_CHARS: usize = 255;
/// Action `description`.
pub const MAX_DESCRIPTION_CHARS: usize = 5_000;

/// What a vote is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteTarget {
    /// A message (one vote per message).
    Message(i64),
    /// The agent as a whole.
    Agent,
}

/// A message vote or agent feedback.
#[derive(Debug, Clone, PartialEq)]
pub struct NewVote {
    /// Agent.
    pub agent_id: i64,
    /// Target.
    pub target: VoteTarget,
    /// Sentiment.
    pub sentiment: String,
    /// Comment (kept when a repeat vote omits it).
    pub comment: Option<String>,
    /// Topic slug.
    pub topic: Option<String>,
    /// Reason slug.
    pub reason: Option<String>,
    /// Environment slug (agent feedback).
    pub environment: Option<String>,
    /// Source.
    pub source: FeedbackSource,
    /// Server time.
    pub now: Micros,
}

/// `POST /api/feedbacks/`, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedbackCommand {
    /// Conversation feedback (the one kind the metrics count).
    Conversation(NewFeedback),
    /// A message vote or agent feedback.
    Vote(NewVote),
}

/// `PATCH /api/feedbacks/{id}/`: the fields given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FeedbackChange {
    /// Sentiment.
    pub sentiment: Option<String>,
    /// Comment.
    pub comment: Option<String>,
    /// Topic.
    pub topic: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Server time.
    pub now: Micros,
}

/// `POST /api/actions/` or the fields of `PATCH /api/actions/{id}/`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ActionDef {
    /// Name.
    pub name: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Description.
    pub description: Option<String>,
}

fn slug(e: &mut ValidationErrors, field: &str, v: Option<&str>) -> Option<String> {
    let t = normalize::trimmed(v)?;
    if t.chars().count() > MAX_SLUG_CHARS
        || !t.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        e.add(field, format!("Enter a valid slug of at most {MAX_SLUG_CHARS} letters, digits, '-' or '_'."));
        return None;
    }
    Some(t.to_string())
}

fn comment(e: &mut ValidationErrors, v: Option<&str>) -> Option<String> {
    let c = v.filter(|c| !c.is_empty())?;
    e.check("comment", check_chars(c, limits::MAX_COMMENT_CHARS)).map(|_| c.to_string())
}

fn pk(e: &mut ValidationErrors, field: &str, v: Option<&PkRef>) -> Option<i64> {
    match v? {
        PkRef::Pk(p) => Some(*p),
        PkRef::Invalid(x) => {
            e.add(field, format!("Invalid pk \"{x}\" - object does not exist."));
            None
        }
    }
}

/// Validates `POST /api/feedbacks/`.
pub fn validate_feedback_create(
    scope: &AgentScope,
    p: &wire::FeedbackCreatePayload,
    source: FeedbackSource,
    now: Micros,
) -> Result<FeedbackCommand, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let sentiment = e.check("sentiment", normalize::sentiment(&p.sentiment)).unwrap_or_default();
    let comment = comment(&mut e, p.comment.as_deref());
    let kind = normalize::trimmed(p.kind.as_deref()).unwrap_or("conversation").to_ascii_lowercase();
    let cmd = match kind.as_str() {
        "conversation" => {
            if p.environment.is_some() {
                e.add("environment", "Not allowed on conversation feedback.");
            }
            for (f, v) in [
                ("message", p.message.is_some()),
                ("topic", p.topic.is_some()),
                ("reason", p.reason.is_some()),
            ] {
                if v {
                    e.add(f, "Only message feedback takes this field.");
                }
            }
            let conversation = match (
                pk(&mut e, "conversation", p.conversation.as_ref()),
                normalize::trimmed(p.conversation_id.as_deref()),
            ) {
                (Some(pk), _) => ConversationRef::Pk(pk),
                (None, Some(id)) => {
                    e.check("conversation_id", check_chars(id, limits::MAX_ID_CHARS));
                    ConversationRef::Id(id.to_string())
                }
                (None, None) => {
                    if !e.0.contains_key("conversation") {
                        e.add(
                            "conversation_id",
                            "Conversation feedback needs conversation_id or conversation.",
                        );
                    }
                    ConversationRef::Pk(0)
                }
            };
            FeedbackCommand::Conversation(NewFeedback {
                agent_id: scope.agent_id,
                conversation,
                sentiment,
                source,
                comment,
                metadata: "{}".into(),
                created_at: now,
            })
        }
        "message" | "agent" => {
            let target = if kind == "message" {
                match pk(&mut e, "message", p.message.as_ref()) {
                    Some(m) => VoteTarget::Message(m),
                    None => {
                        if !e.0.contains_key("message") {
                            e.add("message", "Message feedback needs the message pk.");
                        }
                        VoteTarget::Message(0)
                    }
                }
            } else {
                if let Some(a) = p.agent
                    && a != scope.agent_id
                {
                    e.add("agent", format!("Invalid pk \"{a}\" - object does not exist."));
                }
                VoteTarget::Agent
            };
            if kind == "message" && p.environment.is_some() {
                e.add("environment", "Only agent feedback takes an environment.");
            }
            let environment = normalize::trimmed(p.environment.as_deref())
                .and_then(|v| e.check("environment", normalize::environment(v, &scope.environments)));
            FeedbackCommand::Vote(NewVote {
                agent_id: scope.agent_id,
                target,
                sentiment,
                comment,
                topic: slug(&mut e, "topic", p.topic.as_deref()),
                reason: slug(&mut e, "reason", p.reason.as_deref()),
                environment,
                source,
                now,
            })
        }
        _ => {
            e.add("kind", "Use conversation, message or agent.");
            FeedbackCommand::Vote(NewVote {
                agent_id: scope.agent_id,
                target: VoteTarget::Agent,
                sentiment,
                comment,
                topic: None,
                reason: None,
                environment: None,
                source,
                now,
            })
        }
    };
    e.into_result(cmd)
}

/// Validates `PATCH /api/feedbacks/{id}/`.
pub fn validate_feedback_change(
    p: &wire::FeedbackPatchPayload,
    now: Micros,
) -> Result<FeedbackChange, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let c = FeedbackChange {
        sentiment: p.sentiment.as_deref().and_then(|s| e.check("sentiment", normalize::sentiment(s))),
        comment: p.comment.as_deref().and_then(|c| {
            e.check("comment", check_chars(c, limits::MAX_COMMENT_CHARS)).map(|_| c.to_string())
        }),
        topic: slug(&mut e, "topic", p.topic.as_deref()),
        reason: slug(&mut e, "reason", p.reason.as_deref()),
        now,
    };
    if c.sentiment.is_none() && c.comment.is_none() && c.topic.is_none() && c.reason.is_none() && e.is_empty()
    {
        e.add("non_field_errors", "At least one field is required.");
    }
    e.into_result(c)
}

/// Validates an action definition (`require_name` for a create).
pub fn validate_action_def(
    name: Option<&str>,
    display_name: Option<&str>,
    description: Option<&str>,
    require_name: bool,
) -> Result<ActionDef, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let name = match normalize::trimmed(name) {
        Some(n) => e.check("name", check_chars(n, limits::MAX_ACTION_NAME_CHARS)).map(|_| n.to_string()),
        None => {
            if require_name || name.is_some() {
                e.add("name", "This field may not be blank.");
            }
            None
        }
    };
    let d = ActionDef {
        name,
        display_name: normalize::trimmed(display_name).and_then(|n| {
            e.check("display_name", check_chars(n, MAX_DISPLAY_NAME_CHARS)).map(|_| n.to_string())
        }),
        description: description.and_then(|n| {
            e.check("description", check_chars(n, MAX_DESCRIPTION_CHARS)).map(|_| n.to_string())
        }),
    };
    if !require_name && d == ActionDef::default() && e.is_empty() {
        e.add("non_field_errors", "At least one field is required.");
    }
    e.into_result(d)
}

/// Validates `PATCH /api/track/{pk}/`: the new metadata object, serialized.
pub fn validate_message_metadata(p: &wire::MessagePatchPayload) -> Result<String, ValidationErrors> {
    let mut e = ValidationErrors::default();
    let m = if p.metadata.is_null() {
        e.add("metadata", "Expected a JSON object.");
        None
    } else {
        e.check("metadata", json_object(Some(&p.metadata))).flatten()
    };
    e.into_result(m.unwrap_or_else(|| "{}".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> AgentScope {
        AgentScope { agent_id: 7, environments: vec!["production".into(), "development".into()] }
    }

    fn create(v: serde_json::Value) -> Result<FeedbackCommand, ValidationErrors> {
        validate_feedback_create(&scope(), &serde_json::from_value(v).unwrap(), FeedbackSource::Customer, 1)
    }

    #[test]
    fn the_three_kinds_validate_into_their_commands() {
        assert!(
            matches!(create(json!({"kind": "conversation", "sentiment": "negative", "conversation_id": "k1"})),
            Ok(FeedbackCommand::Conversation(f)) if f.conversation == ConversationRef::Id("k1".into()))
        );
        let Ok(FeedbackCommand::Vote(v)) =
            create(json!({"kind": "message", "message": 5, "sentiment": "positive", "topic": "style"}))
        else {
            panic!("not a vote")
        };
        assert_eq!((v.target, v.topic.as_deref()), (VoteTarget::Message(5), Some("style")));
        assert!(
            matches!(create(json!({"kind": "agent", "agent": 7, "sentiment": "neutral", "environment": "prod"})),
            Ok(FeedbackCommand::Vote(NewVote { target: VoteTarget::Agent, environment: Some(ref e), .. })) if e == "production")
        );
    }

    #[test]
    fn misplaced_fields_are_named() {
        let e = create(json!({"kind": "conversation", "sentiment": "good", "conversation_id": "k", "environment": "production"})).unwrap_err();
        assert_eq!(e.0.keys().cloned().collect::<Vec<_>>(), ["environment", "sentiment"]);
        let e =
            create(json!({"kind": "message", "sentiment": "positive", "topic": "not a slug!"})).unwrap_err();
        assert_eq!(e.0.keys().cloned().collect::<Vec<_>>(), ["message", "topic"]);
        let e = create(json!({"kind": "agent", "agent": 8, "sentiment": "positive"})).unwrap_err();
        assert!(e.0.contains_key("agent"));
    }
}
