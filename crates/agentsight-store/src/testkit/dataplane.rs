//! Contract tests of [`DataPlane`]: every input built from a wire payload through the core
//! validation the server's 0.1.x routes use.

use agentsight_core::dataplane::{
    self, ActionDef, FeedbackChange, FeedbackCommand, NewVote, validate_action_def, validate_feedback_change,
    validate_feedback_create,
};
use agentsight_core::tracking::{self, AgentScope, FeedbackSource, NewMessage};
use serde_json::{Value, json};

use crate::{ActionFilter, AgentStore, DataPlane, FeedbackFilter, PageRequest, StoreError, TrackingWriter};

const PAGE: PageRequest = PageRequest { page: 1, page_size: 50 };

async fn scope(s: &impl AgentStore, name: &str) -> AgentScope {
    let a = s.create_agent(name.into(), 1).await.expect("create agent");
    AgentScope { agent_id: a.id, environments: a.environments }
}

/// `POST /api/feedbacks/` validated.
pub fn feedback_command(scope: &AgentScope, body: Value, now: i64) -> FeedbackCommand {
    let p = serde_json::from_value(body).expect("a feedback payload");
    validate_feedback_create(scope, &p, FeedbackSource::Customer, now).expect("valid feedback")
}

fn vote(scope: &AgentScope, body: Value, now: i64) -> NewVote {
    match feedback_command(scope, body, now) {
        FeedbackCommand::Vote(v) => v,
        FeedbackCommand::Conversation(_) => panic!("expected a vote"),
    }
}

fn change(body: Value, now: i64) -> FeedbackChange {
    validate_feedback_change(&serde_json::from_value(body).expect("a patch payload"), now)
        .expect("valid change")
}

fn action_def(
    name: Option<&str>,
    display: Option<&str>,
    description: Option<&str>,
    create: bool,
) -> ActionDef {
    validate_action_def(name, display, description, create).expect("a valid action definition")
}

/// `POST /api/track/` validated.
pub fn track(scope: &AgentScope, body: Value, now: i64) -> NewMessage {
    tracking::validate_message(scope, serde_json::from_value(body).expect("a track payload"), now)
        .expect("a valid message")
}

/// Feedback of all three kinds: a message vote (a repeat updates it, keeping an omitted
/// comment), agent feedback (always new), conversation feedback; listing with filters, newest
/// first; get, update and delete of each kind; another agent sees none of it.
pub async fn data_plane_feedback_of_three_kinds<S>(s: S)
where
    S: DataPlane + TrackingWriter + AgentStore,
{
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    let m = s
        .insert_message(track(
            &a,
            json!({"conversation_id": "c1", "sender": "agent", "content": "Hello", "metadata": {}}),
            10,
        ))
        .await
        .unwrap();
    let v = vote(
        &a,
        json!({"kind": "message", "message": m.id, "sentiment": "negative",
        "comment": "slow", "topic": "speed"}),
        20,
    );
    let (first, created) = s.insert_vote(v).await.unwrap();
    assert!(created);
    assert_eq!(
        (first.kind.as_str(), first.message_id, first.conversation_pk),
        ("message", Some(m.id), Some(m.conversation_pk))
    );
    assert_eq!(
        (first.sentiment.as_str(), first.comment.as_deref(), first.topic.as_deref()),
        ("negative", Some("slow"), Some("speed"))
    );
    assert_eq!(first.conversation_id.as_deref(), Some("c1"));
    let again =
        vote(&a, json!({"kind": "message", "message": m.id, "sentiment": "positive", "reason": "fixed"}), 30);
    let (second, created) = s.insert_vote(again).await.unwrap();
    assert!(!created, "one vote per message: a repeat updates it");
    assert_eq!(second.id, first.id);
    assert_eq!(
        (second.sentiment.as_str(), second.comment.as_deref()),
        ("positive", Some("slow")),
        "an omitted comment stays"
    );
    assert_eq!((second.reason.as_deref(), second.updated_at, second.created_at), (Some("fixed"), 30, 20));
    let foreign = vote(&b, json!({"kind": "message", "message": m.id, "sentiment": "positive"}), 31);
    assert!(matches!(
        s.insert_vote(foreign).await,
        Err(StoreError::UnknownReference { field: "message", .. })
    ));

    let agent_fb =
        || vote(&a, json!({"kind": "agent", "sentiment": "neutral", "environment": "development"}), 40);
    let (ag1, c1) = s.insert_vote(agent_fb()).await.unwrap();
    let (ag2, c2) = s.insert_vote(agent_fb()).await.unwrap();
    assert!(c1 && c2 && ag1.id != ag2.id, "agent feedback is always new");
    assert_eq!(
        (ag1.kind.as_str(), ag1.environment.as_deref(), ag1.message_id),
        ("agent", Some("development"), None)
    );

    let FeedbackCommand::Conversation(cf) = feedback_command(
        &a,
        json!({"kind": "conversation", "conversation_id": "c1", "sentiment": "positive", "comment": "great"}),
        50,
    ) else {
        panic!("conversation feedback");
    };
    let conv = s.insert_feedback(cf).await.unwrap();

    // Listing: every kind, newest first, with filters.
    let (n, all) = s.list_feedback(a.agent_id, FeedbackFilter::default(), PAGE).await.unwrap();
    assert_eq!(n, 4);
    assert_eq!(
        all.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>(),
        ["conversation", "agent", "agent", "message"]
    );
    assert_eq!(all[0].id, conv.id);
    let asc = FeedbackFilter { ascending: true, ..Default::default() };
    assert_eq!(s.list_feedback(a.agent_id, asc, PAGE).await.unwrap().1[0].id, first.id);
    let agents = FeedbackFilter { kind: Some("agent".into()), ..Default::default() };
    assert_eq!(s.list_feedback(a.agent_id, agents, PAGE).await.unwrap().0, 2);
    let on_message = FeedbackFilter { message: Some(m.id), ..Default::default() };
    assert_eq!(s.list_feedback(a.agent_id, on_message, PAGE).await.unwrap().1[0].id, first.id);
    let commented = FeedbackFilter { has_comment: Some(true), ..Default::default() };
    assert_eq!(s.list_feedback(a.agent_id, commented, PAGE).await.unwrap().0, 2);
    let great = FeedbackFilter { comment_contains: Some("rea".into()), ..Default::default() };
    assert_eq!(s.list_feedback(a.agent_id, great, PAGE).await.unwrap().1[0].id, conv.id);
    let (n, page2) = s
        .list_feedback(a.agent_id, FeedbackFilter::default(), PageRequest { page: 2, page_size: 3 })
        .await
        .unwrap();
    assert_eq!((n, page2.len()), (4, 1));
    assert_eq!(s.list_feedback(b.agent_id, FeedbackFilter::default(), PAGE).await.unwrap().0, 0);

    // Get, update and delete of each kind.
    for id in [first.id, ag1.id, conv.id] {
        let got = s.feedback(a.agent_id, id).await.unwrap().unwrap();
        assert_eq!(got.id, id);
        assert!(s.feedback(b.agent_id, id).await.unwrap().is_none(), "not b's");
        let up = s
            .update_feedback(a.agent_id, id, change(json!({"comment": "edited"}), 60))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (up.comment.as_deref(), up.updated_at, up.sentiment.clone()),
            (Some("edited"), 60, got.sentiment)
        );
        assert!(
            s.update_feedback(b.agent_id, id, change(json!({"comment": "x"}), 61)).await.unwrap().is_none()
        );
    }
    let up = s
        .update_feedback(a.agent_id, first.id, change(json!({"sentiment": "neutral", "topic": "tone"}), 70))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((up.sentiment.as_str(), up.topic.as_deref()), ("neutral", Some("tone")));
    for id in [first.id, ag1.id, conv.id] {
        assert!(!s.delete_feedback(b.agent_id, id).await.unwrap(), "not b's to delete");
        assert!(s.delete_feedback(a.agent_id, id).await.unwrap());
        assert!(!s.delete_feedback(a.agent_id, id).await.unwrap(), "already gone");
        assert!(s.feedback(a.agent_id, id).await.unwrap().is_none());
    }
    assert_eq!(s.list_feedback(a.agent_id, FeedbackFilter::default(), PAGE).await.unwrap().0, 1);
}

/// Action definitions: create (a taken name is a conflict on `name`), list by name with
/// filters and paging, get, update (renaming onto a taken name is a conflict), and the logs
/// of the actions tracked under the definition's name, newest first.
pub async fn data_plane_actions_and_logs<S>(s: S)
where
    S: DataPlane + TrackingWriter + AgentStore,
{
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    let lookup = s
        .create_action(a.agent_id, action_def(Some(" lookup "), Some("Order lookup"), None, true), 10)
        .await
        .unwrap();
    assert_eq!(
        (lookup.name.as_str(), lookup.display_name.as_str(), lookup.log_count),
        ("lookup", "Order lookup", 0)
    );
    let refund = s
        .create_action(a.agent_id, action_def(Some("refund"), None, Some("Money back"), true), 11)
        .await
        .unwrap();
    assert_eq!(
        (refund.display_name.as_str(), refund.description.as_deref()),
        ("refund", Some("Money back")),
        "the name by default"
    );
    let dup = s.create_action(a.agent_id, action_def(Some("lookup"), None, None, true), 12).await;
    assert!(matches!(dup, Err(StoreError::Conflict { field: "name", .. })));
    s.create_action(b.agent_id, action_def(Some("lookup"), None, None, true), 12)
        .await
        .expect("names are per agent");

    for (i, conv) in ["c1", "c2", "c1"].iter().enumerate() {
        let p = json!({"conversation_id": conv, "action_name": "lookup", "timestamp": format!("2026-08-15T10:00:0{i}Z"),
            "duration_ms": 10 * (i + 1), "metadata": {}});
        let act =
            tracking::validate_action(&a, &serde_json::from_value(p).unwrap(), 100).expect("a valid action");
        s.insert_action(act).await.unwrap();
    }
    let (n, rows) = s.list_actions(a.agent_id, ActionFilter::default(), PAGE).await.unwrap();
    assert_eq!(n, 2);
    assert_eq!(
        rows.iter().map(|r| (r.name.as_str(), r.log_count)).collect::<Vec<_>>(),
        [("lookup", 3), ("refund", 0)]
    );
    let (n, page2) = s
        .list_actions(a.agent_id, ActionFilter::default(), PageRequest { page: 2, page_size: 1 })
        .await
        .unwrap();
    assert_eq!((n, page2[0].name.as_str()), (2, "refund"));
    let search = ActionFilter { search: Some("order".into()), ..Default::default() };
    assert_eq!(s.list_actions(a.agent_id, search, PAGE).await.unwrap().1[0].id, lookup.id);
    let contains = ActionFilter { name_contains: Some("fun".into()), ..Default::default() };
    assert_eq!(s.list_actions(a.agent_id, contains, PAGE).await.unwrap().1[0].id, refund.id);
    let exact = ActionFilter { name: Some("look".into()), ..Default::default() };
    assert_eq!(s.list_actions(a.agent_id, exact, PAGE).await.unwrap().0, 0);

    assert_eq!(s.action(a.agent_id, lookup.id).await.unwrap().unwrap().log_count, 3);
    assert!(s.action(b.agent_id, lookup.id).await.unwrap().is_none(), "not b's");

    let logs = s.action_logs(a.agent_id, lookup.id, 2).await.unwrap().unwrap();
    assert_eq!(
        logs.iter().map(|l| (l.conversation_id.as_str(), l.log.duration_ms)).collect::<Vec<_>>(),
        [("c1", Some(30)), ("c2", Some(20))]
    );
    assert!(s.action_logs(a.agent_id, refund.id, 10).await.unwrap().unwrap().is_empty());
    assert!(s.action_logs(b.agent_id, lookup.id, 10).await.unwrap().is_none());

    let renamed = s
        .update_action(a.agent_id, refund.id, action_def(None, Some("Refund"), None, false), 20)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.display_name.as_str(), renamed.description.as_deref()),
        ("refund", "Refund", Some("Money back"))
    );
    assert_eq!((renamed.created_at, renamed.updated_at), (11, 20));
    let taken =
        s.update_action(a.agent_id, refund.id, action_def(Some("lookup"), None, None, false), 21).await;
    assert!(matches!(taken, Err(StoreError::Conflict { field: "name", .. })));
    assert!(
        s.update_action(b.agent_id, refund.id, action_def(None, Some("x"), None, false), 22)
            .await
            .unwrap()
            .is_none()
    );
}

/// One message with its action, button and vote; its metadata replaced; the metadata keys of
/// conversations and of messages, and one key's distinct values as JSON texts.
pub async fn data_plane_messages_and_metadata<S>(s: S)
where
    S: DataPlane + TrackingWriter + AgentStore,
{
    let a = scope(&s, "a").await;
    let b = scope(&s, "b").await;
    for (id, meta) in [
        ("c1", json!({"plan": "pro", "seats": 3})),
        ("c2", json!({"plan": "free", "vip": true})),
        ("c3", json!({"plan": "pro"})),
    ] {
        let p = serde_json::from_value(json!({"conversation_id": id, "metadata": meta})).unwrap();
        s.upsert_conversation(tracking::validate_conversation(&a, &p, 5).unwrap()).await.unwrap();
    }
    let m = s
        .insert_message(track(
            &a,
            json!({"conversation_id": "c1", "sender": "end_user", "content": "Hi",
            "metadata": {"channel": "web"}}),
            10,
        ))
        .await
        .unwrap();
    let d = s.message(a.agent_id, m.id).await.unwrap().unwrap();
    assert_eq!(
        (d.message.content.as_str(), d.message.sender.as_str(), d.conversation_id.as_str()),
        ("Hi", "end_user", "c1")
    );
    assert!(d.action.is_none() && d.button.is_none() && d.vote.is_none() && d.attachments.is_empty());
    assert!(s.message(b.agent_id, m.id).await.unwrap().is_none(), "not b's");
    s.insert_vote(vote(&a, json!({"kind": "message", "message": m.id, "sentiment": "positive"}), 11))
        .await
        .unwrap();
    assert_eq!(
        s.message(a.agent_id, m.id).await.unwrap().unwrap().vote.map(|v| v.sentiment),
        Some("positive".into())
    );

    let act = s
        .insert_action(
            tracking::validate_action(
                &a,
                &serde_json::from_value(json!({"conversation_id": "c1", "action_name": "lookup"})).unwrap(),
                12,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let d = s.message(a.agent_id, act.message_id).await.unwrap().unwrap();
    assert_eq!(d.action.map(|x| x.action_name), Some("lookup".into()));
    let btn = s
        .insert_button(
            tracking::validate_button(
                &a,
                &serde_json::from_value(json!({"conversation_id": "c1", "button_event": "feedback", "label": "Yes", "value": "yes"})).unwrap(),
                13,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    let d = s.message(a.agent_id, btn.message_id).await.unwrap().unwrap();
    assert_eq!(d.button.map(|x| (x.label, x.value)), Some(("Yes".into(), "yes".into())));

    let meta = dataplane::validate_message_metadata(
        &serde_json::from_value(json!({"metadata": {"lang": "hr", "n": 2}})).unwrap(),
    )
    .unwrap();
    let up = s.set_message_metadata(a.agent_id, m.id, meta.clone()).await.unwrap().unwrap();
    let got: Value = serde_json::from_str(&up.message.metadata).unwrap();
    assert_eq!(got, json!({"lang": "hr", "n": 2}), "replaced, not merged");
    assert!(s.set_message_metadata(b.agent_id, m.id, meta).await.unwrap().is_none());

    assert_eq!(s.metadata_keys(a.agent_id, false).await.unwrap(), ["plan", "seats", "vip"]);
    assert_eq!(s.metadata_keys(a.agent_id, true).await.unwrap(), ["lang", "n"]);
    assert!(s.metadata_keys(b.agent_id, false).await.unwrap().is_empty());
    assert_eq!(s.metadata_values(a.agent_id, "plan".into(), 10).await.unwrap(), [r#""free""#, r#""pro""#]);
    assert_eq!(s.metadata_values(a.agent_id, "plan".into(), 1).await.unwrap().len(), 1);
    assert_eq!(s.metadata_values(a.agent_id, "seats".into(), 10).await.unwrap(), ["3"]);
    assert_eq!(s.metadata_values(a.agent_id, "vip".into(), 10).await.unwrap(), ["true"]);
    assert!(s.metadata_values(b.agent_id, "plan".into(), 10).await.unwrap().is_empty());
}
