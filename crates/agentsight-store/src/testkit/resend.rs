//! 0.0.x re-sends: a message, action or button that comes again with the same conversation,
//! client event time and content is stored once and answered with the stored row.

use agentsight_core::tracking::{ConversationRef, NewAction, NewButton, NewMessage};

use super::agent;
use crate::{AgentStore, MessageKind, TrackingReader, TrackingWriter};

/// Client time 1_000, received later (the SDK's retry arrives after the first attempt).
const T: i64 = 1_000_000;

fn msg(agent_id: i64, conversation: &str, received_at: i64) -> NewMessage {
    NewMessage {
        agent_id,
        conversation: ConversationRef::Id(conversation.into()),
        sender: "end_user".into(),
        content: "hello".into(),
        metadata: r#"{"k":1}"#.into(),
        event_time: T,
        received_at,
    }
}

fn action(agent_id: i64, conversation: &str, received_at: i64) -> NewAction {
    NewAction {
        agent_id,
        conversation: ConversationRef::Id(conversation.into()),
        action_name: "lookup".into(),
        event_time: T,
        started_at: None,
        ended_at: None,
        duration_ms: Some(12),
        tools_used: Some(r#"["search"]"#.into()),
        response: Some("ok".into()),
        error_msg: None,
        metadata: "{}".into(),
        received_at,
    }
}

fn button(agent_id: i64, conversation: &str, received_at: i64) -> NewButton {
    NewButton {
        agent_id,
        conversation: ConversationRef::Id(conversation.into()),
        button_event: "click".into(),
        label: "Yes".into(),
        value: "yes".into(),
        metadata: "{}".into(),
        event_time: T,
        received_at,
    }
}

/// Entries of `kind` in the conversation `id`.
async fn count(
    s: &(impl TrackingReader + TrackingWriter),
    agent_id: i64,
    pk: i64,
    kind: MessageKind,
) -> usize {
    let t = s.transcript(agent_id, pk).await.unwrap().unwrap();
    t.messages.iter().filter(|m| m.kind == kind).count()
}

/// A re-send (same conversation, client event time, sender/name, content and metadata) is
/// stored once and answered with the stored row (same id); a difference in any one field, or no
/// client time (event time = receipt time), stores a second row; identical concurrent inserts
/// store one.
pub async fn resends_are_stored_once(s: impl AgentStore + TrackingWriter + TrackingReader) {
    let a = agent(&s, "a").await.agent_id;
    // Messages: the re-send answers the stored row.
    let first = s.insert_message(msg(a, "m", T + 10)).await.unwrap();
    let again = s.insert_message(msg(a, "m", T + 5_000)).await.unwrap();
    assert_eq!(again, first);
    let pk = first.conversation_pk;
    assert_eq!(count(&s, a, pk, MessageKind::Message).await, 1);
    // Any one field different: a new message.
    let variants: [fn(&mut NewMessage); 4] = [
        |m| m.content = "hello!".into(),
        |m| m.sender = "agent".into(),
        |m| m.event_time += 1,
        |m| m.metadata = r#"{"k":2}"#.into(),
    ];
    let mut ids = vec![first.id];
    for change in variants {
        let mut m = msg(a, "m", T + 9_000);
        change(&mut m);
        let row = s.insert_message(m.clone()).await.unwrap();
        assert!(!ids.contains(&row.id), "{m:?} is not a re-send");
        ids.push(row.id);
    }
    assert_eq!(count(&s, a, pk, MessageKind::Message).await, 5);
    // The same content in another conversation is another message.
    let other = s.insert_message(msg(a, "m2", T + 10)).await.unwrap();
    assert_ne!(other.conversation_pk, pk);
    // No client time: never a re-send.
    let untimed = |t: i64| NewMessage { event_time: t, received_at: t, ..msg(a, "u", t) };
    let u1 = s.insert_message(untimed(T)).await.unwrap();
    let u2 = s.insert_message(untimed(T)).await.unwrap();
    assert_ne!(u1.id, u2.id);
    assert_eq!(count(&s, a, u1.conversation_pk, MessageKind::Message).await, 2);

    // Actions.
    let a1 = s.insert_action(action(a, "act", T + 10)).await.unwrap();
    let a2 = s.insert_action(action(a, "act", T + 7_000)).await.unwrap();
    assert_eq!(a2, a1);
    let a3 =
        s.insert_action(NewAction { action_name: "other".into(), ..action(a, "act", T + 10) }).await.unwrap();
    let a4 = s
        .insert_action(NewAction { metadata: r#"{"x":1}"#.into(), ..action(a, "act", T + 10) })
        .await
        .unwrap();
    let a5 = s.insert_action(NewAction { event_time: T + 1, ..action(a, "act", T + 10) }).await.unwrap();
    let a6 = s.insert_action(NewAction { response: None, ..action(a, "act", T + 10) }).await.unwrap();
    let mut action_ids = vec![a1.id, a3.id, a4.id, a5.id, a6.id];
    action_ids.dedup();
    assert_eq!(action_ids.len(), 5);
    let t = s.transcript(a, a1.conversation_pk).await.unwrap().unwrap();
    assert_eq!(t.actions.len(), 5);
    assert_eq!(t.messages.iter().filter(|m| m.kind == MessageKind::Action).count(), 5);

    // Buttons.
    let b1 = s.insert_button(button(a, "btn", T + 10)).await.unwrap();
    let b2 = s.insert_button(button(a, "btn", T + 3_000)).await.unwrap();
    assert_eq!(b2, b1);
    let b3 = s.insert_button(NewButton { value: "no".into(), ..button(a, "btn", T + 10) }).await.unwrap();
    assert_ne!(b3.id, b1.id);
    let t = s.transcript(a, b1.conversation_pk).await.unwrap().unwrap();
    assert_eq!(t.buttons.len(), 2);

    // Concurrent identical posts (the SDK's retry racing its first attempt): one row.
    s.insert_message(msg(a, "race", T)).await.unwrap(); // creates the conversation first
    let race = |r: i64| NewMessage { content: "raced".into(), ..msg(a, "race", r) };
    let (r1, r2, r3, r4) = tokio::join!(
        s.insert_message(race(T + 1)),
        s.insert_message(race(T + 2)),
        s.insert_message(race(T + 3)),
        s.insert_message(race(T + 4)),
    );
    let (r1, r2, r3, r4) = (r1.unwrap(), r2.unwrap(), r3.unwrap(), r4.unwrap());
    assert!(r1 == r2 && r2 == r3 && r3 == r4, "{r1:?} {r2:?} {r3:?} {r4:?}");
    let t = s.transcript(a, r1.conversation_pk).await.unwrap().unwrap();
    assert_eq!(t.messages.iter().filter(|m| m.content == "raced").count(), 1);
    let (c1, c2) =
        tokio::join!(s.insert_action(action(a, "race", T + 1)), s.insert_action(action(a, "race", T + 2)));
    assert_eq!(c1.unwrap(), c2.unwrap());
    let (k1, k2) =
        tokio::join!(s.insert_button(button(a, "race", T + 1)), s.insert_button(button(a, "race", T + 2)));
    assert_eq!(k1.unwrap(), k2.unwrap());
    let t = s.transcript(a, r1.conversation_pk).await.unwrap().unwrap();
    assert_eq!((t.actions.len(), t.buttons.len()), (1, 1));
}
