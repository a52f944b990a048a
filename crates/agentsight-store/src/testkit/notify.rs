//! Contract tests of [`NotifyStore`]: alert rules, episodes (one open per rule), targets, SMTP
//! settings, the sends log with its deduplication and retries, and leases.

use crate::{
    ConfigStore, NewAlertRule, NewNotifyTarget, NewSend, SendAttempt, SendStatus, SmtpSettings, StoreError,
};

fn rule(agent_id: i64, kind: &str) -> NewAlertRule {
    NewAlertRule { agent_id, kind: kind.into(), threshold: 0.25, window_hours: 24, enabled: true }
}

/// Rules: created, read, listed, replaced, deleted (with their history); an unknown agent is
/// refused. Episodes: one open per rule (opening again while open is `None`), resolved once,
/// then a new one may open; listed newest first, per rule or all.
pub async fn alert_rules_and_episodes(s: impl ConfigStore) {
    let a = s.create_agent("a".into(), 1).await.unwrap();
    let r1 = s.create_alert_rule(rule(a.id, "escalation_rate"), 10).await.unwrap();
    let r2 = s.create_alert_rule(rule(a.id, "cost_per_day"), 11).await.unwrap();
    assert_eq!(
        (r1.kind.as_str(), r1.threshold, r1.window_hours, r1.enabled, r1.created_at),
        ("escalation_rate", 0.25, 24, true, 10)
    );
    assert_eq!(s.alert_rules().await.unwrap(), [r1.clone(), r2.clone()]);
    assert_eq!(s.alert_rule(r1.id).await.unwrap(), Some(r1.clone()));
    assert_eq!(s.alert_rule(9_999).await.unwrap(), None);
    let bad = s.create_alert_rule(rule(9_999, "escalation_rate"), 1).await;
    assert!(matches!(bad, Err(StoreError::UnknownReference { field: "agent", .. })), "{bad:?}");
    let changed =
        NewAlertRule { threshold: 0.5, window_hours: 48, enabled: false, ..rule(a.id, "escalation_rate") };
    let r1b = s.update_alert_rule(r1.id, changed).await.unwrap().unwrap();
    assert_eq!((r1b.threshold, r1b.window_hours, r1b.enabled, r1b.created_at), (0.5, 48, false, 10));
    assert_eq!(s.update_alert_rule(9_999, rule(a.id, "escalation_rate")).await.unwrap(), None);

    // Episodes and their deduplication.
    let e1 = s.open_alert(r1.id, 100, 0.75).await.unwrap().expect("opens");
    assert_eq!(
        (e1.rule_id, e1.agent_id, e1.kind.as_str(), e1.threshold),
        (r1.id, a.id, "escalation_rate", 0.5)
    );
    assert_eq!((e1.fired_at, e1.fired_value, e1.resolved_at, e1.resolved_value), (100, 0.75, None, None));
    assert_eq!(s.open_alert(r1.id, 160, 0.8).await.unwrap(), None, "still firing: no second episode");
    assert_eq!(s.open_alert(9_999, 160, 0.8).await.unwrap(), None, "no such rule");
    assert_eq!(s.resolve_alert(r2.id, 170, Some(0.0)).await.unwrap(), None, "nothing open");
    let done = s.resolve_alert(r1.id, 200, Some(0.1)).await.unwrap().unwrap();
    assert_eq!((done.id, done.resolved_at, done.resolved_value), (e1.id, Some(200), Some(0.1)));
    assert_eq!(s.resolve_alert(r1.id, 210, None).await.unwrap(), None, "resolved once");
    let e2 = s.open_alert(r1.id, 300, 0.9).await.unwrap().expect("a new episode");
    let e3 = s.open_alert(r2.id, 301, 12.0).await.unwrap().unwrap();
    let ids = |v: Vec<crate::AlertEventRow>| v.into_iter().map(|e| e.id).collect::<Vec<_>>();
    assert_eq!(ids(s.alert_events(None, 10).await.unwrap()), [e3.id, e2.id, e1.id]);
    assert_eq!(ids(s.alert_events(Some(r1.id), 10).await.unwrap()), [e2.id, e1.id]);
    assert_eq!(ids(s.alert_events(None, 1).await.unwrap()), [e3.id]);
    assert_eq!(s.alert_events(Some(r1.id), 10).await.unwrap()[1], done);

    assert!(s.delete_alert_rule(r1.id).await.unwrap());
    assert!(!s.delete_alert_rule(r1.id).await.unwrap());
    assert_eq!(ids(s.alert_events(None, 10).await.unwrap()), [e3.id], "a rule's history goes with it");
    assert_eq!(s.alert_rules().await.unwrap(), [r2]);
}

/// Targets and SMTP settings read back as stored (secrets included: the API, not the store,
/// hides them); a target turns off and is deleted; the SMTP settings are replaced and cleared.
pub async fn notify_targets_and_smtp(s: impl ConfigStore) {
    let hook = NewNotifyTarget {
        kind: "webhook".into(),
        name: "Ops".into(),
        address: "https://hooks.example.invalid/x".into(),
        secret: Some("sealed:abc".into()),
        enabled: true,
    };
    let t1 = s.create_notify_target(hook.clone(), 5).await.unwrap();
    let mail =
        NewNotifyTarget { kind: "email".into(), address: "ops@example.invalid".into(), secret: None, ..hook };
    let t2 = s.create_notify_target(mail, 6).await.unwrap();
    assert_eq!((t1.kind.as_str(), t1.secret.as_deref(), t1.created_at), ("webhook", Some("sealed:abc"), 5));
    assert_eq!(s.notify_targets().await.unwrap(), [t1.clone(), t2.clone()]);
    assert_eq!(s.notify_target(t2.id).await.unwrap(), Some(t2.clone()));
    let off = s.set_notify_target_enabled(t1.id, false).await.unwrap().unwrap();
    assert!(!off.enabled);
    assert_eq!(s.set_notify_target_enabled(9_999, false).await.unwrap(), None);
    assert!(s.delete_notify_target(t2.id).await.unwrap());
    assert!(!s.delete_notify_target(t2.id).await.unwrap());
    assert_eq!(s.notify_targets().await.unwrap(), [off]);

    assert_eq!(s.smtp_settings().await.unwrap(), None);
    let smtp = SmtpSettings {
        host: "mail.example.invalid".into(),
        port: 587,
        security: "starttls".into(),
        username: Some("u".into()),
        password: Some("sealed:pw".into()),
        from: "alerts@example.invalid".into(),
        updated_at: 9,
    };
    s.set_smtp_settings(Some(smtp.clone())).await.unwrap();
    assert_eq!(s.smtp_settings().await.unwrap(), Some(smtp.clone()));
    let other = SmtpSettings { port: 25, security: "none".into(), username: None, password: None, ..smtp };
    s.set_smtp_settings(Some(other.clone())).await.unwrap();
    assert_eq!(s.smtp_settings().await.unwrap(), Some(other));
    s.set_smtp_settings(None).await.unwrap();
    assert_eq!(s.smtp_settings().await.unwrap(), None);
}

/// Sends: recorded pending, once per dedupe key; each attempt counts and sets the status; due
/// retries are listed by their time; the log lists newest first. Leases: one holder at a time
/// until it expires; the holder renews its own.
pub async fn sends_log_and_leases(s: impl ConfigStore) {
    let new = |key: Option<&str>, at| NewSend {
        channel: "email".into(),
        source: "alert".into(),
        target_id: Some(3),
        alert_event_id: Some(4),
        recipient: "ops@example.invalid".into(),
        subject: "FIRING".into(),
        payload: "{}".into(),
        dedupe_key: key.map(String::from),
        created_at: at,
    };
    let a = s.record_send(new(Some("alert:4:fired:3"), 10)).await.unwrap().expect("recorded");
    assert_eq!(
        (a.status, a.attempts, a.created_at, a.last_error.as_deref()),
        (SendStatus::Pending, 0, 10, None)
    );
    assert_eq!(s.record_send(new(Some("alert:4:fired:3"), 11)).await.unwrap(), None, "same key: once");
    let b = s.record_send(new(None, 12)).await.unwrap().unwrap();
    let c = s.record_send(new(None, 13)).await.unwrap().unwrap();
    assert!(s.record_send(new(None, 14)).await.unwrap().is_some(), "no key: no deduplication");

    let failed = SendAttempt {
        at: 20,
        status: SendStatus::Retrying,
        error: Some("refused".into()),
        next_attempt_at: Some(50),
    };
    let a2 = s.record_attempt(a.id, failed.clone()).await.unwrap().unwrap();
    assert_eq!(
        (a2.status, a2.attempts, a2.last_error.as_deref(), a2.next_attempt_at, a2.last_attempt_at),
        (SendStatus::Retrying, 1, Some("refused"), Some(50), Some(20))
    );
    s.record_attempt(b.id, SendAttempt { next_attempt_at: Some(40), ..failed }).await.unwrap();
    s.record_attempt(
        c.id,
        SendAttempt { at: 21, status: SendStatus::Sent, error: None, next_attempt_at: None },
    )
    .await
    .unwrap();
    assert_eq!(
        s.record_attempt(
            9_999,
            SendAttempt { at: 1, status: SendStatus::Sent, error: None, next_attempt_at: None }
        )
        .await
        .unwrap(),
        None
    );
    let due = |v: Vec<crate::SendRow>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(due(s.due_sends(39, 39 - crate::STALE_PENDING_MICROS, 10).await.unwrap()), Vec::<i64>::new());
    assert_eq!(due(s.due_sends(45, 45 - crate::STALE_PENDING_MICROS, 10).await.unwrap()), [b.id]);
    assert_eq!(due(s.due_sends(50, 50 - crate::STALE_PENDING_MICROS, 10).await.unwrap()), [b.id, a.id]);
    let a3 = s
        .record_attempt(
            a.id,
            SendAttempt {
                at: 51,
                status: SendStatus::Failed,
                error: Some("gave up".into()),
                next_attempt_at: None,
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a3.status, a3.attempts), (SendStatus::Failed, 2));
    assert_eq!(due(s.due_sends(1_000, 1_000 - crate::STALE_PENDING_MICROS, 10).await.unwrap()), [b.id]);
    // A send left pending (its node stopped mid-attempt) is due once it is stale.
    let stale = s.record_send(new(None, 100)).await.unwrap().unwrap();
    let later = 100 + crate::STALE_PENDING_MICROS;
    assert!(!due(s.due_sends(later - 1, 99, 10).await.unwrap()).contains(&stale.id));
    let ids = due(s.due_sends(later, 100, 10).await.unwrap());
    // How stale is stale is the caller's (`serve --notify-stale-after`).
    assert!(due(s.due_sends(200, 100, 10).await.unwrap()).contains(&stale.id));
    assert!(ids.contains(&stale.id) && ids.contains(&b.id) && !ids.contains(&c.id), "{ids:?}");
    let log = s.sends(2).await.unwrap();
    assert_eq!(log.len(), 2);
    assert!(log[0].id > log[1].id && log[1].id > c.id - 1);
    assert_eq!(s.sends(10).await.unwrap().last().unwrap(), &a3);

    // Leases.
    assert!(s.take_lease("alerts".into(), "node-a".into(), 100, 60).await.unwrap());
    assert!(!s.take_lease("alerts".into(), "node-b".into(), 120, 60).await.unwrap(), "held by a");
    assert!(s.take_lease("reports".into(), "node-b".into(), 120, 60).await.unwrap(), "another name");
    assert!(s.take_lease("alerts".into(), "node-a".into(), 150, 60).await.unwrap(), "renewed to 210");
    assert!(!s.take_lease("alerts".into(), "node-b".into(), 200, 60).await.unwrap());
    assert!(s.take_lease("alerts".into(), "node-b".into(), 210, 60).await.unwrap(), "expired: b takes it");
    assert!(!s.take_lease("alerts".into(), "node-a".into(), 220, 60).await.unwrap());
}
