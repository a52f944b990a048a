//! The contract every backend must pass. Each function takes a fresh, empty store. A
//! configuration store ([`ConfigStore`]) runs the functions that need nothing else with
//! [`config_contract_tests!`](crate::config_contract_tests); a store that is both a
//! configuration and an event store also runs the rest with
//! [`contract_tests!`](crate::contract_tests), and its metrics test runs
//! [`metrics_agree_with_reference`] with a store factory. Each function names in its bounds the
//! traits it exercises; `docs/architecture.md` (*Store contract coverage*) maps every trait
//! method to the functions that cover it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod composed;
mod dataplane;
mod erasure;
mod failures;
mod metrics;
mod notify;
mod property;
mod reports;
mod resend;
mod spans;

pub use composed::*;
pub use dataplane::*;
pub use erasure::*;
pub use failures::*;
pub use metrics::*;
pub use notify::*;
pub use property::*;
pub use reports::*;
pub use resend::*;
pub use spans::*;

use agentsight_core::keys::{self, Role};
use agentsight_core::tracking::{
    AgentScope, AttachmentTarget, ConversationFields, ConversationPatch, ConversationRef, ConversationUpsert,
    FeedbackSource, NewAction, NewFeedback, NewMessage,
};

use agentsight_core::dashboard::{Logo, UserRole};

use crate::{
    AgentStore, AttachmentsInsert, BrandingPatch, Change, ChangeFeed, ChangeListener, Committed, ConfigStore,
    ConversationFilter, Dimension, EventStore, NewShare, NewUser, PageRequest, StoreError, StoredFile,
    TrackingReader, TrackingWriter, UserPatch,
};

/// A store under test: every store trait.
pub trait ContractStore: ConfigStore + EventStore {}
impl<T: ConfigStore + EventStore> ContractStore for T {}

async fn agent(s: &impl AgentStore, name: &str) -> AgentScope {
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
pub async fn upsert_merges_and_is_sticky(s: impl AgentStore + TrackingWriter + TrackingReader) {
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
pub async fn messages_resolve_and_order(s: impl AgentStore + TrackingWriter + TrackingReader) {
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
pub async fn actions_feedback_and_attachments(s: impl AgentStore + TrackingWriter + TrackingReader) {
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
pub async fn listing_filters_and_soft_delete(s: impl AgentStore + TrackingWriter + TrackingReader) {
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
pub async fn keys_authenticate_until_revoked(s: impl ConfigStore) {
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

fn new_user(email: &str, role: UserRole, agents: Vec<i64>) -> NewUser {
    NewUser { email: email.into(), password_hash: "h".into(), role, agents, created_at: 1 }
}

/// Users: unique e-mails, known agents only, one first admin, the last admin stays; sessions
/// live until they expire, are deleted, or the password changes.
pub async fn users_sessions_and_the_last_admin(s: impl ConfigStore) {
    let a = agent(&s, "a").await;
    assert!(!s.has_admin().await.unwrap());
    let admin = s.create_first_admin(new_user("root@x.io", UserRole::Admin, vec![])).await.unwrap().unwrap();
    assert!(s.has_admin().await.unwrap());
    assert!(s.create_first_admin(new_user("two@x.io", UserRole::Admin, vec![])).await.unwrap().is_none());
    let dup = s.create_user(new_user("root@x.io", UserRole::Viewer, vec![])).await;
    assert!(matches!(dup, Err(StoreError::Conflict { field: "email", .. })));
    let bad = s.create_user(new_user("v@x.io", UserRole::Viewer, vec![a.agent_id + 100])).await;
    assert!(matches!(bad, Err(StoreError::UnknownReference { field: "agents", .. })));
    let v = s.create_user(new_user("v@x.io", UserRole::Viewer, vec![a.agent_id])).await.unwrap();
    assert_eq!(v.agents, vec![a.agent_id]);
    let (found, hash) = s.user_by_email("v@x.io".into()).await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (v.id, "h"));
    assert_eq!(s.list_users().await.unwrap().len(), 2);
    let demote = UserPatch { role: Some(UserRole::Viewer), ..Default::default() };
    assert!(matches!(s.update_user(admin.id, demote).await, Err(StoreError::Conflict { field: "role", .. })));
    assert!(matches!(s.delete_user(admin.id).await, Err(StoreError::Conflict { field: "user", .. })));

    s.create_session(v.id, [1; 32], 10, 100).await.unwrap();
    s.create_session(v.id, [2; 32], 10, 100).await.unwrap();
    let sess = s.session([1; 32], 50).await.unwrap().unwrap();
    assert_eq!((sess.user.id, sess.expires_at), (v.id, 100));
    assert!(s.session([1; 32], 100).await.unwrap().is_none(), "expired at its expiry");
    s.extend_session(sess.id, 60, 200).await.unwrap();
    assert_eq!(s.session([1; 32], 150).await.unwrap().unwrap().refreshed_at, 60);
    let pw = UserPatch {
        password_hash: Some("h2".into()),
        keep_session: Some([1; 32]),
        agents: Some(vec![]),
        ..Default::default()
    };
    let changed = s.update_user(v.id, pw).await.unwrap().unwrap();
    assert!(changed.agents.is_empty());
    assert!(s.session([1; 32], 150).await.unwrap().is_some(), "the caller's own session stays");
    assert!(s.session([2; 32], 150).await.unwrap().is_none(), "other sessions end");
    assert!(s.delete_session([1; 32]).await.unwrap());
    assert!(s.session([1; 32], 150).await.unwrap().is_none());
    s.create_session(v.id, [3; 32], 10, 100).await.unwrap();
    assert!(s.delete_user(v.id).await.unwrap());
    assert!(s.session([3; 32], 50).await.unwrap().is_none(), "a deleted user's sessions end");
    assert!(s.user(v.id).await.unwrap().is_none());
}

/// Share links are found by hash until revoked; branding is per agent and a logo bumps its
/// version; agents are renamed under the unique-name rule.
pub async fn shares_branding_and_renames(s: impl ConfigStore) {
    let a = agent(&s, "a").await;
    let b = agent(&s, "b").await;
    let share = |agent_id, hash: u8| NewShare {
        agent_id,
        label: Some("client".into()),
        token_prefix: "shr_1".into(),
        token_hash: [hash; 32],
        expires_at: Some(500),
        created_at: 5,
    };
    let first = s.create_share(share(a.agent_id, 1)).await.unwrap();
    let second = s.create_share(share(a.agent_id, 2)).await.unwrap();
    assert!(matches!(
        s.create_share(share(b.agent_id + 9, 3)).await,
        Err(StoreError::UnknownReference { .. })
    ));
    assert_eq!(s.share_by_hash([1; 32]).await.unwrap().unwrap().id, first.id);
    assert_eq!(
        s.list_shares(a.agent_id).await.unwrap().iter().map(|r| r.id).collect::<Vec<_>>(),
        [second.id, first.id]
    );
    assert!(s.list_shares(b.agent_id).await.unwrap().is_empty());
    assert_eq!(s.revoke_share(first.id, 9).await.unwrap().unwrap().revoked_at, Some(9));
    assert!(s.revoke_share(first.id, 10).await.unwrap().is_none());
    assert_eq!(s.share(first.id).await.unwrap().unwrap().revoked_at, Some(9));

    assert_eq!(s.branding(a.agent_id).await.unwrap(), Default::default());
    let logo = Logo { mime_type: "image/png".into(), bytes: vec![1, 2, 3] };
    let set = BrandingPatch {
        display_name: Some(Some("Acme".into())),
        accent_color: Some(Some("#112233".into())),
        logo: Some(Some(logo.clone())),
    };
    let v1 = s.set_branding(a.agent_id, set.clone()).await.unwrap().unwrap();
    assert_eq!(v1.display_name.as_deref(), Some("Acme"));
    let v2 = s
        .set_branding(a.agent_id, BrandingPatch { logo: Some(Some(logo.clone())), ..Default::default() })
        .await
        .unwrap()
        .unwrap();
    assert!(v2.logo_version > v1.logo_version && v2.accent_color.as_deref() == Some("#112233"));
    assert_eq!(s.logo(a.agent_id).await.unwrap(), Some(logo));
    assert!(s.logo(b.agent_id).await.unwrap().is_none());
    let clear = BrandingPatch { display_name: Some(None), logo: Some(None), ..Default::default() };
    let cleared = s.set_branding(a.agent_id, clear).await.unwrap().unwrap();
    assert_eq!((cleared.display_name, cleared.logo_version), (None, None));
    assert!(s.set_branding(b.agent_id + 9, set).await.unwrap().is_none());

    assert!(matches!(
        s.rename_agent(a.agent_id, "b".into()).await,
        Err(StoreError::Conflict { field: "name", .. })
    ));
    assert_eq!(s.rename_agent(a.agent_id, "a2".into()).await.unwrap().unwrap().name, "a2");
    assert_eq!(s.agent(a.agent_id).await.unwrap().unwrap().name, "a2");
    assert!(s.rename_agent(b.agent_id + 9, "z".into()).await.unwrap().is_none());
}

/// The dashboard's filters (country, unknown dimensions, escalation) and the export's pages.
pub async fn dashboard_filters_and_export(
    s: impl AgentStore + TrackingWriter + TrackingReader + crate::ExportReader,
) {
    let a = agent(&s, "a").await;
    let with_device = ConversationFields { device: Some("mobile".into()), ..Default::default() };
    let c1 = s.upsert_conversation(upsert(a.agent_id, "c1", with_device, true, 10)).await.unwrap().row;
    let c2 = s
        .upsert_conversation(upsert(a.agent_id, "c2", ConversationFields::default(), true, 20))
        .await
        .unwrap()
        .row;
    s.insert_message(message(a.agent_id, ConversationRef::Pk(c1.id), "end_user", 11)).await.unwrap();
    s.insert_action(NewAction {
        agent_id: a.agent_id,
        conversation: ConversationRef::Pk(c2.id),
        action_name: "call_human".into(),
        event_time: 21,
        started_at: None,
        ended_at: None,
        duration_ms: None,
        tools_used: None,
        response: None,
        error_msg: None,
        metadata: "{}".into(),
        received_at: 21,
    })
    .await
    .unwrap();
    for (sentiment, at) in [("negative", 30), ("positive", 40)] {
        s.insert_feedback(NewFeedback {
            agent_id: a.agent_id,
            conversation: ConversationRef::Pk(c2.id),
            sentiment: sentiment.into(),
            source: FeedbackSource::Customer,
            comment: None,
            metadata: "{}".into(),
            created_at: at,
        })
        .await
        .unwrap();
    }
    let page = PageRequest { page: 1, page_size: 10 };
    let ids = |f: ConversationFilter| {
        let s = &s;
        async move {
            s.list_conversations(a.agent_id, f, page)
                .await
                .unwrap()
                .1
                .iter()
                .map(|r| r.id)
                .collect::<Vec<_>>()
        }
    };
    let unknown = ConversationFilter { unknown: vec![Dimension::Device], ..Default::default() };
    assert_eq!(ids(unknown).await, vec![c2.id]);
    let tools = vec!["call_human".to_string()];
    let esc =
        ConversationFilter { escalated: Some(true), escalation_tools: tools.clone(), ..Default::default() };
    assert_eq!(ids(esc).await, vec![c2.id]);
    let not_esc =
        ConversationFilter { escalated: Some(false), escalation_tools: tools.clone(), ..Default::default() };
    assert_eq!(ids(not_esc).await, vec![c1.id]);
    let none = ConversationFilter { escalated: Some(true), ..Default::default() };
    assert!(ids(none).await.is_empty(), "an empty escalation list matches nothing");
    let hr = ConversationFilter { country: Some("HR".into()), ..Default::default() };
    assert!(ids(hr).await.is_empty());

    let all = ConversationFilter { escalation_tools: tools, ..Default::default() };
    let page = s.export_conversations(a.agent_id, all.clone(), None, 1).await.unwrap();
    let first = page.rows;
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].conversation.id, first[0].escalated, first[0].latest_feedback.as_deref()),
        (c1.id, false, None)
    );
    let page = s.export_conversations(a.agent_id, all, page.next, 10).await.unwrap();
    assert!(page.next.is_none(), "a short page is the last");
    let rest = page.rows;
    assert_eq!(rest.len(), 1);
    assert_eq!((rest[0].escalated, rest[0].latest_feedback.as_deref()), (true, Some("positive")));
    let entries = s.export_entries(a.agent_id, vec![c1.id, c2.id]).await.unwrap();
    assert_eq!(entries.iter().map(|e| e.conversation_pk).collect::<Vec<_>>(), [c1.id, c2.id]);
    assert!(s.export_entries(a.agent_id + 1, vec![c1.id]).await.unwrap().is_empty(), "scoped to the agent");
}

/// `ChangeFeed` for the tracking writes alone (the first half of
/// [`change_feed_reports_committed_writes`], for an event store without spans yet): an upsert
/// and a message are reported once each, with their agent and kind, before their caller is
/// answered; a refused write is not.
pub async fn change_feed_reports_tracking_writes(s: impl AgentStore + TrackingWriter + ChangeFeed) {
    struct Heard(std::sync::Mutex<Vec<Committed>>);
    impl ChangeListener for Heard {
        fn committed(&self, changes: &[Committed]) {
            self.0.lock().unwrap().extend_from_slice(changes);
        }
    }
    let a = agent(&s, "a").await;
    let b = agent(&s, "b").await;
    let heard = std::sync::Arc::new(Heard(std::sync::Mutex::new(Vec::new())));
    s.listen(heard.clone());
    let sum = |v: &[Committed], agent: i64, change: Change| {
        v.iter().filter(|c| c.agent_id == agent && c.change == change).map(|c| c.count).sum::<u64>()
    };
    let up = s
        .upsert_conversation(upsert(a.agent_id, "c", ConversationFields::default(), true, 10))
        .await
        .unwrap();
    assert_eq!(
        sum(&heard.0.lock().unwrap(), a.agent_id, Change::Conversation),
        1,
        "reported before the answer"
    );
    s.insert_message(message(a.agent_id, ConversationRef::Pk(up.row.id), "end_user", 11)).await.unwrap();
    s.insert_message(message(a.agent_id, ConversationRef::Id("new".into()), "end_user", 12)).await.unwrap();
    let refused = s.insert_message(message(b.agent_id, ConversationRef::Pk(up.row.id), "agent", 12)).await;
    assert!(refused.is_err(), "another agent's conversation");
    let h = std::mem::take(&mut *heard.0.lock().unwrap());
    assert_eq!(
        sum(&h, a.agent_id, Change::Conversation),
        1,
        "a conversation made by a message counts as one: {h:?}"
    );
    assert_eq!(sum(&h, a.agent_id, Change::Message), 2, "{h:?}");
    assert!(h.iter().all(|c| c.agent_id == a.agent_id), "a refused write is not reported: {h:?}");
}

/// `ChangeFeed`: every committed write is reported once, with its agent and kind, before its
/// caller is answered; a refused write is not; a span batch's projection reports the
/// conversations it created and the messages it projected.
pub async fn change_feed_reports_committed_writes(
    s: impl AgentStore + TrackingWriter + crate::SpanWriter + ChangeFeed,
) {
    struct Heard(std::sync::Mutex<Vec<Committed>>);
    impl ChangeListener for Heard {
        fn committed(&self, changes: &[Committed]) {
            self.0.lock().unwrap().extend_from_slice(changes);
        }
    }
    let a = agent(&s, "a").await;
    let b = agent(&s, "b").await;
    let heard = std::sync::Arc::new(Heard(std::sync::Mutex::new(Vec::new())));
    s.listen(heard.clone());
    let take = || std::mem::take(&mut *heard.0.lock().unwrap());
    let sum = |v: &[Committed], agent: i64, change: Change| {
        v.iter().filter(|c| c.agent_id == agent && c.change == change).map(|c| c.count).sum::<u64>()
    };
    let up = s
        .upsert_conversation(upsert(a.agent_id, "c", ConversationFields::default(), true, 10))
        .await
        .unwrap();
    s.insert_message(message(a.agent_id, ConversationRef::Pk(up.row.id), "end_user", 11)).await.unwrap();
    let refused = s.insert_message(message(b.agent_id, ConversationRef::Pk(up.row.id), "agent", 12)).await;
    assert!(refused.is_err(), "another agent's conversation");
    let h = take();
    assert_eq!(sum(&h, a.agent_id, Change::Conversation), 1, "{h:?}");
    assert_eq!(sum(&h, a.agent_id, Change::Message), 1, "{h:?}");
    assert!(h.iter().all(|c| c.agent_id == a.agent_id), "a refused write is not reported: {h:?}");

    let blocks = serde_json::json!([{"conversation_id": "k", "spans": [
        spans::turn_json("00000000000000a1", "2026-05-01T10:00:00+00:00", None)]}]);
    let (batch, body) = spans::span_batch(&b, blocks, 20);
    let r = s.ingest_spans(batch, body).await.unwrap();
    r.projected.await.unwrap();
    let h = take();
    assert_eq!(sum(&h, b.agent_id, Change::Conversation), 1, "{h:?}");
    assert_eq!(sum(&h, b.agent_id, Change::Message), 2, "{h:?}");
    assert!(h.iter().all(|c| c.agent_id == b.agent_id && c.count > 0), "{h:?}");
}

/// `StatsReader`: every write the store acknowledged went through one of its queues and was
/// counted in a group of them; once the callers are answered nothing waits in a queue; the
/// counts only grow; a projection backlog, where there is one, is empty once the batches are
/// projected.
pub async fn store_stats_count_the_writes_committed(
    s: impl AgentStore + TrackingWriter + crate::SpanWriter + crate::StatsReader,
) {
    let a = agent(&s, "a").await;
    let before = s.store_stats();
    assert!(!before.queues.is_empty(), "a store writes through at least one queue");
    let writes = |st: &crate::StoreStats| st.queues.iter().map(|q| q.groups.sum).sum::<u64>();
    let groups = |st: &crate::StoreStats| st.queues.iter().map(|q| q.groups.count).sum::<u64>();
    let up = s
        .upsert_conversation(upsert(a.agent_id, "c", ConversationFields::default(), true, 10))
        .await
        .unwrap();
    let n = 5u64;
    for i in 0..n {
        s.insert_message(message(a.agent_id, ConversationRef::Pk(up.row.id), "end_user", 11 + i as i64))
            .await
            .unwrap();
    }
    let blocks = serde_json::json!([{"conversation_id": "k", "spans": [
        spans::turn_json("00000000000000a1", "2026-05-01T10:00:00+00:00", None)]}]);
    let (batch, body) = spans::span_batch(&a, blocks, 20);
    let r = s.ingest_spans(batch, body).await.unwrap();
    r.projected.await.unwrap();
    let after = s.store_stats();
    // The upsert, the messages and the span batch (its archiving, its projection where apart).
    let expected = 1 + n + 1;
    assert!(writes(&after) - writes(&before) >= expected, "{before:?} → {after:?}");
    assert!(groups(&after) > groups(&before), "{after:?}");
    for q in &after.queues {
        assert_eq!(q.depth, 0, "nothing waits once every caller is answered: {q:?}");
        assert!(q.capacity > 0, "{q:?}");
        assert_eq!(q.groups.buckets.iter().sum::<u64>(), q.groups.count, "{q:?}");
        assert!(q.groups.sum >= q.groups.count, "a group holds at least one write: {q:?}");
        let old = before.queues.iter().find(|o| o.name == q.name);
        assert!(old.is_none_or(|o| o.groups.count <= q.groups.count), "counters only grow: {q:?}");
    }
    if let Some(b) = after.projection_backlog {
        assert_eq!((b.batches, b.bytes), (0, 0), "every batch was projected: {b:?}");
        assert!(b.limit_bytes > 0);
    }
}

/// Instantiates the contract tests that need a [`ConfigStore`] and nothing else:
/// `config_contract_tests!(async_fn_making_a_fresh_store)`, the function answering the store
/// and a guard that lives as long as the test.
#[macro_export]
macro_rules! config_contract_tests {
    ($make:path) => {
        $crate::contract_tests!(@each $make;
            keys_authenticate_until_revoked,
            users_sessions_and_the_last_admin,
            shares_branding_and_renames,
            admin_environments_and_escalation,
            retention_settings_and_audit_log,
            alert_rules_and_episodes,
            notify_targets_and_smtp,
            sends_log_and_leases,
            report_schedules_and_sends);
    };
}

/// Instantiates the contract tests of [`TrackingWriter`], [`TrackingReader`] and (for the
/// tracking writes) [`ChangeFeed`], for an event store that implements those so far:
/// `tracking_contract_tests!(async_fn_making_a_fresh_store)`, the store being an
/// [`AgentStore`] too (see [`Composed`]). A backend that runs
/// [`contract_tests!`](crate::contract_tests) runs all of them but
/// [`change_feed_reports_tracking_writes`], whose checks
/// [`change_feed_reports_committed_writes`] mostly makes too.
#[macro_export]
macro_rules! tracking_contract_tests {
    ($make:path) => {
        $crate::contract_tests!(@each $make;
            upsert_merges_and_is_sticky,
            change_feed_reports_tracking_writes,
            messages_resolve_and_order,
            actions_feedback_and_attachments,
            listing_filters_and_soft_delete,
            tracking_buttons_and_lookups,
            resends_are_stored_once,
            change_feed_reports_tracking_writes);
    };
}

/// Instantiates the contract tests of [`DataPlane`](crate::DataPlane) for an event store
/// that implements it (and [`TrackingWriter`]) but not yet every event trait:
/// `data_plane_contract_tests!(async_fn_making_a_fresh_store)`, the store being an
/// [`AgentStore`] too (see [`Composed`]). [`contract_tests!`](crate::contract_tests) runs them
/// all.
#[macro_export]
macro_rules! data_plane_contract_tests {
    ($make:path) => {
        $crate::contract_tests!(@each $make;
            data_plane_feedback_of_three_kinds,
            data_plane_actions_and_logs,
            data_plane_messages_and_metadata);
    };
}

/// Instantiates the contract tests of [`ExportReader`](crate::ExportReader) (with the
/// dashboard's listing filters they share) for an event store that implements it and the
/// tracking traits but not yet every event trait:
/// `export_contract_tests!(async_fn_making_a_fresh_store)`, the store being an [`AgentStore`]
/// too (see [`Composed`]). [`contract_tests!`](crate::contract_tests) runs them all.
#[macro_export]
macro_rules! export_contract_tests {
    ($make:path) => {
        $crate::contract_tests!(@each $make;
            dashboard_filters_and_export,
            export_reader_pages_cover_every_row_once);
    };
}

/// Instantiates the contract tests of [`SpanWriter`](crate::SpanWriter),
/// [`SpanReader`](crate::SpanReader) and the change feed of both planes
/// ([`change_feed_reports_committed_writes`]), for an event store that implements those and
/// the tracking traits so far: `span_contract_tests!(async_fn_making_a_fresh_store)`, the store
/// being an [`AgentStore`] too (see [`Composed`]). A backend that runs
/// [`contract_tests!`](crate::contract_tests) runs all of them.
#[macro_export]
macro_rules! span_contract_tests {
    ($make:path) => {
        $crate::contract_tests!(@each $make;
            span_writer_ingest_resend_held_incomplete,
            span_writer_restate_costs,
            span_reader_lists_filters_and_sums,
            span_reader_llm_cost_per_conversation,
            span_reader_costs_saturate_instead_of_overflowing,
            change_feed_reports_committed_writes);
    };
}

/// Instantiates the contract tests of [`MetricsReader`](crate::MetricsReader) for an event
/// store that implements it with [`TrackingWriter`] and [`SpanWriter`](crate::SpanWriter) (and
/// an [`AgentStore`], see [`Composed`]), run apart from the other event traits' macros: `metrics_contract_tests!(async_fn_making_a_fresh_store)` runs
/// [`metrics_reader_overview_series_live_status`], [`metrics_reader_users_over_time`],
/// [`metrics_edges_filters_zones_and_empty_ranges`]
/// and the property [`metrics_agree_with_reference`] (a fresh store for each case). A backend
/// that runs [`contract_tests!`](crate::contract_tests) runs the first two there, and its own
/// property test.
#[macro_export]
macro_rules! metrics_contract_tests {
    ($make:path) => {
        $crate::contract_tests!(@each $make;
            metrics_reader_overview_series_live_status,
            metrics_reader_users_over_time,
            metrics_edges_filters_zones_and_empty_ranges,
            failure_metrics_and_list_filters);

        #[test]
        fn metrics_agree_with_reference() {
            $crate::testkit::metrics_agree_with_reference_alone($make);
        }

        #[test]
        fn failures_agree_with_reference() {
            $crate::testkit::failures_agree_with_reference($make);
        }
    };
}

/// Instantiates the contract tests that need an [`EventStore`] (and the [`ConfigStore`] to set
/// up their agents) for a backend that is both: `contract_tests!(async_fn_making_a_fresh_store)`.
/// Such a backend runs [`config_contract_tests!`](crate::config_contract_tests) too.
#[macro_export]
macro_rules! contract_tests {
    ($make:path) => {
        $crate::contract_tests!(@each $make;
            upsert_merges_and_is_sticky,
            messages_resolve_and_order,
            actions_feedback_and_attachments,
            listing_filters_and_soft_delete,
            dashboard_filters_and_export,
            tracking_buttons_and_lookups,
            resends_are_stored_once,
            span_writer_ingest_resend_held_incomplete,
            span_writer_restate_costs,
            span_reader_lists_filters_and_sums,
            span_reader_llm_cost_per_conversation,
            span_reader_costs_saturate_instead_of_overflowing,
            data_plane_feedback_of_three_kinds,
            data_plane_actions_and_logs,
            data_plane_messages_and_metadata,
            metrics_reader_overview_series_live_status,
            metrics_reader_users_over_time,
            metrics_edges_filters_zones_and_empty_ranges,
            failure_metrics_and_list_filters,
            export_reader_pages_cover_every_row_once,
            erasure_of_a_customer_removes_everything_of_theirs,
            retention_cutoff_at_the_boundary,
            change_feed_reports_committed_writes,
            store_stats_count_the_writes_committed);
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
