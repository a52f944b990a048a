//! Contract tests of [`ReportStore`]: schedules by agent, and one send per (schedule, period)
//! however many senders try, with a stopped sender's send taken over only after its lease.

use agentsight_core::reports::{Cadence, ScheduleSettings, SendState, Timing, parse_weekday};

use crate::{ConfigStore, NewReportSchedule, StoreError};

fn settings(recipients: &[&str]) -> ScheduleSettings {
    ScheduleSettings {
        timing: Timing {
            cadence: Cadence::Weekly(parse_weekday("monday").unwrap()),
            hour: 8,
            tz: "Europe/Zagreb".parse().unwrap(),
        },
        recipients: recipients.iter().map(|r| r.to_string()).collect(),
        enabled: true,
    }
}

/// Schedules are created, listed by agent, changed and deleted; a period's send is taken once,
/// taken over only when stale and not given up, and recorded as sent or failed.
pub async fn report_schedules_and_sends(s: impl ConfigStore) {
    let a = s.create_agent("a".into(), 1).await.unwrap();
    let b = s.create_agent("b".into(), 1).await.unwrap();
    let new = |agent_id, r: &[&str]| NewReportSchedule {
        agent_id,
        settings: settings(r),
        share_id: Some(7),
        share_token: Some("shr_secret".into()),
        now: 100,
    };
    let first = s.create_report_schedule(new(a.id, &["x@example.com", "y@example.com"])).await.unwrap();
    assert_eq!(
        (first.agent_id, first.active_since, first.created_at, first.share_token.as_deref()),
        (a.id, 100, 100, Some("shr_secret"))
    );
    assert_eq!(first.settings, settings(&["x@example.com", "y@example.com"]));
    let second = s.create_report_schedule(new(a.id, &["z@example.com"])).await.unwrap();
    let other = s.create_report_schedule(new(b.id, &["w@example.com"])).await.unwrap();
    assert!(matches!(
        s.create_report_schedule(new(b.id + 99, &["v@example.com"])).await,
        Err(StoreError::UnknownReference { field: "agent", .. })
    ));
    let ids = |v: Vec<crate::ReportScheduleRow>| v.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(s.report_schedules(Some(a.id)).await.unwrap()), [first.id, second.id]);
    assert_eq!(ids(s.report_schedules(None).await.unwrap()), [first.id, second.id, other.id]);
    assert_eq!(s.report_schedule(other.id).await.unwrap().unwrap(), other);
    assert!(s.report_schedule(other.id + 99).await.unwrap().is_none());

    // A change replaces the settings and `active_since`.
    let mut changed = settings(&["q@example.com"]);
    changed.timing = Timing { cadence: Cadence::Monthly(31), hour: 23, tz: "UTC".parse().unwrap() };
    changed.enabled = false;
    let u = s.update_report_schedule(second.id, changed.clone(), 150, 160).await.unwrap().unwrap();
    assert_eq!((u.settings.clone(), u.active_since, u.updated_at, u.created_at), (changed, 150, 160, 100));
    assert_eq!(s.report_schedule(second.id).await.unwrap().unwrap(), u);
    assert!(s.update_report_schedule(second.id + 99, settings(&["a@b.c"]), 1, 1).await.unwrap().is_none());

    // Sends: one claim per period.
    let key = || "2026-W49".to_string();
    assert!(s.report_send(first.id, key()).await.unwrap().is_none());
    assert_eq!(s.claim_report_send(first.id, key(), 1_000, 0, 3).await.unwrap(), Some(1));
    // A second sender (or the same one again) does not get it while the first holds it.
    assert_eq!(s.claim_report_send(first.id, key(), 1_001, 999, 3).await.unwrap(), None);
    let r = s.report_send(first.id, key()).await.unwrap().unwrap();
    assert_eq!(r.state, SendState::Sending { claimed_at: 1_000, attempts: 1 });
    // The holder stopped midway: once stale, it is taken over (attempt 2) and fails.
    assert_eq!(s.claim_report_send(first.id, key(), 2_000, 1_000, 3).await.unwrap(), Some(2));
    assert!(s.finish_report_send(first.id, key(), 2_001, Some("smtp: 451".into())).await.unwrap());
    let r = s.report_send(first.id, key()).await.unwrap().unwrap();
    assert_eq!(
        (r.state, r.error.as_deref()),
        (SendState::Failed { claimed_at: 2_000, attempts: 2 }, Some("smtp: 451"))
    );
    // Retried after the lease: attempt 3 is sent.
    assert_eq!(s.claim_report_send(first.id, key(), 2_500, 1_999, 3).await.unwrap(), None, "not stale yet");
    assert_eq!(s.claim_report_send(first.id, key(), 3_000, 2_000, 3).await.unwrap(), Some(3));
    assert!(s.finish_report_send(first.id, key(), 3_001, None).await.unwrap());
    let r = s.report_send(first.id, key()).await.unwrap().unwrap();
    assert_eq!((r.state, r.sent_at, r.error), (SendState::Sent, Some(3_001), None));
    // Sent is final: never taken again.
    assert_eq!(s.claim_report_send(first.id, key(), 9_000_000, 9_000_000, 99).await.unwrap(), None);
    // Given up after the attempts.
    let k2 = || "2026-W50".to_string();
    assert_eq!(s.claim_report_send(first.id, k2(), 10, 0, 1).await.unwrap(), Some(1));
    assert!(s.finish_report_send(first.id, k2(), 11, Some("down".into())).await.unwrap());
    assert_eq!(s.claim_report_send(first.id, k2(), 1_000, 1_000, 1).await.unwrap(), None);
    // An untaken send cannot be finished; an unknown schedule cannot be claimed.
    assert!(!s.finish_report_send(first.id, "2026-W51".into(), 1, None).await.unwrap());
    assert!(matches!(
        s.claim_report_send(other.id + 99, key(), 1, 0, 3).await,
        Err(StoreError::UnknownReference { field: "schedule", .. })
    ));
    // Another schedule's period of the same key is its own.
    assert_eq!(s.claim_report_send(other.id, key(), 1, 0, 3).await.unwrap(), Some(1));
    // Newest taken first.
    let sends = s.report_sends(first.id, 10).await.unwrap();
    assert_eq!(sends.iter().map(|r| r.period_key.as_str()).collect::<Vec<_>>(), ["2026-W49", "2026-W50"]);
    assert_eq!(s.report_sends(first.id, 1).await.unwrap().len(), 1);

    // Delete takes the record of its sends with it.
    assert!(s.delete_report_schedule(first.id).await.unwrap());
    assert!(!s.delete_report_schedule(first.id).await.unwrap());
    assert!(s.report_send(first.id, key()).await.unwrap().is_none());
    assert_eq!(ids(s.report_schedules(None).await.unwrap()), [second.id, other.id]);
}
