//! The contract every backend must pass. Each function takes a fresh, empty store; a backend's
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `tests/contract.rs` runs all of them with [`contract_tests!`](crate::contract_tests).

use agentsight_core::keys::{self, Role};
use agentsight_core::tracking::{
    AgentScope, AttachmentTarget, ConversationFields, ConversationPatch, ConversationRef, ConversationUpsert,
    FeedbackSource, NewAction, NewFeedback, NewMessage,
};

use crate::{
    AdminStore, AttachmentsInsert, ConversationFilter, PageRequest, StoreError, StoredFile, TrackingReader,
    TrackingWriter,
};

/// A store under test.
pub trait ContractStore: TrackingWriter + TrackingReader + AdminStore {}
impl<T: TrackingWriter + TrackingReader + AdminStore> ContractStore for T {}

async fn agent(s: &impl ContractStore, name: &str) -> AgentScope {
    let a = s.create_agent(name.into(), 1).await.expect("create agent");
    AgentScope { agent_id: a.id, environments: a.environments }
}

fn upsert(agent_id: i64, id: &str, fields: ConversationFields, is_used: bool, t: i64) -> ConversationUpsert {
    ConversationUpsert {
        agent_id,
        conversation_id: id.into(),
        fields,
        is_used,
        event_time: t,
        received_at: t,
    }
}

fn message(agent_id: i64, conversation: ConversationRef, sender: &str, t: i64) -> NewMessage {
    NewMessage {
        agent_id,
        conversation,
        sender: sender.into(),
        content: format!("at {t}"),
        metadata: "{}".into(),
        event_time: t,
        received_at: t,
    }
}

/// Upserts merge: nulls never erase, metadata replaces, `is_used` is sticky, ids are stable
/// and positive.
pub async fn upsert_merges_and_is_sticky(s: impl ContractStore) {
    let a = agent(&s, "a").await;
    let f = ConversationFields {
        customer_id: Some("u1".into()),
        device: Some("mobile".into()),
        metadata: Some(r#"{"x":1}"#.into()),
        ..Default::default()
    };
    let first = s.upsert_conversation(upsert(a.agent_id, "c", f, false, 100)).await.unwrap();
    assert!(first.created && first.row.id > 0 && !first.row.is_used);
    let g = ConversationFields { language: Some("en".into()), ..Default::default() };
    let second = s.upsert_conversation(upsert(a.agent_id, "c", g, true, 200)).await.unwrap();
    assert!(!second.created);
    assert_eq!(second.row.id, first.row.id);
    assert_eq!(second.row.customer_id.as_deref(), Some("u1"));
    assert_eq!(second.row.language.as_deref(), Some("en"));
    assert_eq!(second.row.metadata.as_deref(), Some(r#"{"x":1}"#));
    assert_eq!(second.row.started_at, 100);
    assert!(second.row.is_used);
    let third = s
        .upsert_conversation(upsert(a.agent_id, "c", ConversationFields::default(), false, 300))
        .await
        .unwrap();
    assert!(third.row.is_used, "is_used never goes back to false");
}

/// Messages resolve their conversation by pk (only the agent's) or by id (creating it), mark
/// it used and extend its end; the transcript orders by event time, then arrival.
pub async fn messages_resolve_and_order(s: impl ContractStore) {
    let a = agent(&s, "a").await;
    let b = agent(&s, "b").await;
    let m1 =
        s.insert_message(message(a.agent_id, ConversationRef::Id("c".into()), "agent", 50)).await.unwrap();
    let m2 = s
        .insert_message(message(a.agent_id, ConversationRef::Pk(m1.conversation_pk), "end_user", 10))
        .await
        .unwrap();
    let m3 = s
        .insert_message(message(a.agent_id, ConversationRef::Pk(m1.conversation_pk), "agent", 10))
        .await
        .unwrap();
    let foreign =
        s.insert_message(message(b.agent_id, ConversationRef::Pk(m1.conversation_pk), "agent", 1)).await;
    assert!(matches!(foreign, Err(StoreError::UnknownReference { field: "conversation", .. })));
    let t = s.transcript(a.agent_id, m1.conversation_pk).await.unwrap().unwrap();
    let ids: Vec<i64> = t.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids, vec![m2.id, m3.id, m1.id]);
    assert!(t.conversation.is_used);
    assert_eq!(t.conversation.started_at, 50);
    assert_eq!(t.conversation.ended_at, Some(50));
    assert_eq!(t.conversation.message_count, 3);
    assert!(s.transcript(b.agent_id, m1.conversation_pk).await.unwrap().is_none());
}

/// Actions share the transcript; feedback needs an existing conversation; attachments follow
/// their message.
pub async fn actions_feedback_and_attachments(s: impl ContractStore) {
    let a = agent(&s, "a").await;
    let act = s
        .insert_action(NewAction {
            agent_id: a.agent_id,
            conversation: ConversationRef::Id("c".into()),
            action_name: "lookup".into(),
            event_time: 5,
            started_at: Some(5),
            ended_at: Some(9),
            duration_ms: None,
            tools_used: None,
            response: Some("ok".into()),
            error_msg: None,
            metadata: "{}".into(),
            received_at: 10,
        })
        .await
        .unwrap();
    let missing = s
        .insert_feedback(NewFeedback {
            agent_id: a.agent_id,
            conversation: ConversationRef::Id("nope".into()),
            sentiment: "positive".into(),
            source: FeedbackSource::Customer,
            comment: None,
            metadata: "{}".into(),
            created_at: 1,
        })
        .await;
    assert!(matches!(missing, Err(StoreError::UnknownReference { field: "conversation_id", .. })));
    let files = s
        .insert_attachments(AttachmentsInsert {
            agent_id: a.agent_id,
            target: AttachmentTarget::Message(act.message_id),
            sender: None,
            metadata: "{}".into(),
            event_time: 6,
            files: vec![StoredFile {
                filename: "f.txt".into(),
                mime_type: "text/plain".into(),
                size_bytes: 3,
                storage_key: "k".into(),
            }],
        })
        .await
        .unwrap();
    assert_eq!(files[0].conversation_pk, act.conversation_pk);
    assert_eq!(files[0].sender.as_deref(), Some("agent"));
    let t = s.transcript(a.agent_id, act.conversation_pk).await.unwrap().unwrap();
    assert_eq!(t.actions.len(), 1);
    assert_eq!(t.conversation.message_count, 0);
    assert_eq!(s.attachment(a.agent_id, files[0].id).await.unwrap().unwrap().filename, "f.txt");
}

/// Listing filters, soft delete and paging.
pub async fn listing_filters_and_soft_delete(s: impl ContractStore) {
    let a = agent(&s, "a").await;
    for i in 0..5 {
        let f = ConversationFields {
            device: Some(if i % 2 == 0 { "mobile" } else { "desktop" }.into()),
            metadata: Some(format!(r#"{{"n":{i},"vip":{}}}"#, i == 3)),
            ..Default::default()
        };
        s.upsert_conversation(upsert(a.agent_id, &format!("c{i}"), f, true, i)).await.unwrap();
    }
    let page = PageRequest { page: 1, page_size: 2 };
    let (n, rows) = s.list_conversations(a.agent_id, ConversationFilter::default(), page).await.unwrap();
    assert_eq!(n, 5);
    assert_eq!(rows.iter().map(|r| r.conversation_id.as_str()).collect::<Vec<_>>(), ["c4", "c3"]);
    let mobile = ConversationFilter { device: Some("mobile".into()), ..Default::default() };
    assert_eq!(s.list_conversations(a.agent_id, mobile, page).await.unwrap().0, 3);
    let vip = ConversationFilter { metadata: vec![("vip".into(), "true".into())], ..Default::default() };
    assert_eq!(s.list_conversations(a.agent_id, vip, page).await.unwrap().1[0].conversation_id, "c3");
    let n2 = ConversationFilter { metadata: vec![("n".into(), "2".into())], ..Default::default() };
    assert_eq!(s.list_conversations(a.agent_id, n2, page).await.unwrap().0, 1);
    let pk = rows[0].id;
    let del = ConversationPatch { delete: true, ..Default::default() };
    assert!(s.patch_conversation(a.agent_id + 1, pk, del.clone(), 9).await.unwrap().is_none());
    let row = s.patch_conversation(a.agent_id, pk, del, 9).await.unwrap().unwrap();
    assert!(row.is_deleted && row.deleted_at == Some(9));
    assert_eq!(s.list_conversations(a.agent_id, ConversationFilter::default(), page).await.unwrap().0, 4);
    let all = ConversationFilter { include_deleted: true, ..Default::default() };
    assert_eq!(s.list_conversations(a.agent_id, all, page).await.unwrap().0, 5);
}

/// Keys authenticate until revoked; agent names are unique.
pub async fn keys_authenticate_until_revoked(s: impl ContractStore) {
    let a = agent(&s, "a").await;
    assert!(matches!(s.create_agent("a".into(), 2).await, Err(StoreError::Conflict { .. })));
    let k = keys::generate();
    let row = s.create_key(a.agent_id, Role::Read, k.prefix.clone(), k.hash, 3).await.unwrap();
    let p = s.authenticate(k.hash).await.unwrap().unwrap();
    assert_eq!((p.agent_id, p.role), (a.agent_id, Role::Read));
    assert_eq!(p.environments, vec!["production".to_string(), "development".to_string()]);
    assert!(s.revoke_key(row.id, 4).await.unwrap());
    assert!(!s.revoke_key(row.id, 5).await.unwrap());
    assert!(s.authenticate(k.hash).await.unwrap().is_none());
    assert_eq!(s.list_keys().await.unwrap()[0].revoked_at, Some(4));
}

/// Instantiates every contract test for a backend: `contract_tests!(async_fn_making_a_fresh_store)`.
#[macro_export]
macro_rules! contract_tests {
    ($make:path) => {
        $crate::contract_tests!(@each $make;
            upsert_merges_and_is_sticky,
            messages_resolve_and_order,
            actions_feedback_and_attachments,
            listing_filters_and_soft_delete,
            keys_authenticate_until_revoked);
    };
    (@each $make:path; $($name:ident),*) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let (store, _guard) = $make().await;
                $crate::testkit::$name(store).await;
            }
        )*
    };
}
