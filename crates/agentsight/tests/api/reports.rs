//! Scheduled client reports in the settings API (docs/reports.md): schedules of an agent, the
//! preview, the recorded sends; admins only.

use agentsight_store::prelude::*;
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::spawn_app;

fn attr<'a>(html: &'a str, kpi: &str, name: &str) -> &'a str {
    let cell = &html[html.find(&format!(r#"data-kpi="{kpi}""#)).unwrap_or_else(|| panic!("no KPI {kpi}"))..];
    let from = cell.find(&format!(r#"{name}=""#)).unwrap() + name.len() + 2;
    &cell[from..from + cell[from..].find('"').unwrap()]
}

fn number(v: &Value) -> String {
    match v.as_f64() {
        Some(x) => x.to_string(),
        None => "null".into(),
    }
}

#[tokio::test]
async fn an_admin_creates_changes_previews_and_deletes_a_report_schedule() {
    let app = spawn_app().await;
    let a = app.agent_a;
    // Week 2026-W20 (11–17 May) and the week before it.
    for (conv, day) in [("c1", "2026-05-12"), ("c2", "2026-05-13"), ("c3", "2026-05-05")] {
        app.conversation(conv, json!({})).await;
        app.message(conv, "end_user", "hello", &format!("{day}T09:00:00Z")).await;
        app.message(conv, "agent", "hi", &format!("{day}T09:00:03Z")).await;
    }
    let admin = app.admin().await;
    let base = format!("/api/dash/agents/{a}/reports/");
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &base,
            json!({"cadence": "weekly", "weekday": "tuesday", "hour": 7, "time_zone": "Europe/Zagreb",
                   "recipients": [" Client@Example.com ", "boss@example.com", "client@example.com"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let s: Value = r.json().await.unwrap();
    let id = s["id"].as_i64().unwrap();
    assert_eq!(s["weekday"], "tuesday");
    assert_eq!(s["day_of_month"], Value::Null);
    assert_eq!(s["hour"], 7);
    assert_eq!(s["time_zone"], "Europe/Zagreb");
    assert_eq!(s["recipients"], json!(["client@example.com", "boss@example.com"]));
    assert_eq!(s["enabled"], true);
    let share_url = s["share_url"].as_str().unwrap().to_string();
    assert!(share_url.starts_with("/share/shr_"), "{share_url}");
    // The link works as a share link, and appears among the agent's links.
    let token = share_url.trim_start_matches("/share/");
    assert_eq!(app.share_get(token, "/api/share/info/").await.status(), 200);
    let shares: Value = app.dash_json(&admin, &format!("/api/dash/agents/{a}/shares/")).await;
    assert!(shares.as_array().unwrap().iter().any(|x| x["label"] == "Client reports"));

    // A second schedule reuses the link.
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &base,
            json!({"cadence": "monthly", "day_of_month": 31, "recipients": ["cfo@example.com"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let s2: Value = r.json().await.unwrap();
    assert_eq!(s2["share_id"], s["share_id"]);
    assert_eq!(s2["share_url"], s["share_url"]);
    assert_eq!(s2["hour"], 8);
    assert_eq!(s2["time_zone"], "UTC");
    assert!(s2["next_period"].as_str().unwrap().len() == 7, "{s2}");
    let listed: Value = app.dash_json(&admin, &base).await;
    assert_eq!(listed.as_array().unwrap().len(), 2);

    // A change keeps what it does not name.
    let r = app
        .dash_send(
            &admin,
            Method::PATCH,
            &format!("/api/dash/reports/{id}/"),
            json!({"enabled": false, "hour": 9}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let changed: Value = r.json().await.unwrap();
    assert_eq!(changed["enabled"], false);
    assert_eq!(changed["hour"], 9);
    assert_eq!(changed["weekday"], "tuesday");
    assert_eq!(changed["recipients"], s["recipients"]);

    // The preview's numbers are the overview API's, for the period's days in the zone.
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/dash/reports/{id}/preview/?period=2026-W20"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let p: Value = r.json().await.unwrap();
    assert_eq!(
        (p["period"].as_str(), p["from"].as_str(), p["to"].as_str()),
        (Some("2026-W20"), Some("2026-05-11"), Some("2026-05-17"))
    );
    let html = p["html"].as_str().unwrap();
    assert!(html.contains("data:image/png;base64,"), "the chart is inline");
    assert!(!html.contains("cid:"));
    assert!(p["subject"].as_str().unwrap().starts_with("Weekly report"), "{}", p["subject"]);
    let o: Value = app
        .dash_json(
            &admin,
            &format!("/api/metrics/overview/?agent={a}&from=2026-05-11&to=2026-05-17&tz=Europe/Zagreb&compare=previous"),
        )
        .await;
    assert_eq!(o["total_messages"], 4);
    assert_eq!(o["previous"]["total_messages"], 2);
    for (kpi, value, previous) in [
        ("total_messages", &o["total_messages"], &o["previous"]["total_messages"]),
        ("total_conversations", &o["total_conversations"], &o["previous"]["total_conversations"]),
        ("unique_users", &o["unique_users"], &o["previous"]["unique_users"]),
        (
            "avg_bot_response_time_ms",
            &o["avg_bot_response_time_ms"],
            &o["previous"]["avg_bot_response_time_ms"],
        ),
        ("human_escalation_rate", &o["human_escalation"]["rate"], &o["previous"]["human_escalation"]["rate"]),
    ] {
        assert_eq!(attr(html, kpi, "data-value"), number(value), "{kpi}");
        assert_eq!(attr(html, kpi, "data-previous"), number(previous), "{kpi}");
    }
    // Without a period: the latest full week.
    let r = app.dash_send(&admin, Method::POST, &format!("/api/dash/reports/{id}/preview/"), json!({})).await;
    assert_eq!(r.status(), 200);

    // Sends recorded by the sender are listed, failures with their error.
    app.store.claim_report_send(id, "2026-W19".into(), 10, 0, 5).await.unwrap().unwrap();
    app.store.finish_report_send(id, "2026-W19".into(), 20, None).await.unwrap();
    app.store.claim_report_send(id, "2026-W20".into(), 30, 0, 5).await.unwrap().unwrap();
    app.store
        .finish_report_send(id, "2026-W20".into(), 40, Some("550 mailbox unavailable".into()))
        .await
        .unwrap();
    let sends: Value = app.dash_json(&admin, &format!("/api/dash/reports/{id}/sends/")).await;
    let sends = sends.as_array().unwrap();
    assert_eq!(sends.len(), 2);
    let failed = sends.iter().find(|x| x["period"] == "2026-W20").unwrap();
    assert_eq!(failed["state"], "failed");
    assert_eq!(failed["error"], "550 mailbox unavailable");
    assert_eq!(failed["attempts"], 1);
    assert_eq!(failed["period_label"], "11–17 May 2026");
    let sent = sends.iter().find(|x| x["period"] == "2026-W19").unwrap();
    assert_eq!(sent["state"], "sent");
    assert!(sent["sent_at"].is_string());

    // Deleting one keeps the link the other uses; deleting the last revokes it.
    let del = |sid: i64| {
        let (app, admin) = (&app, &admin);
        async move { app.dash_send(admin, Method::DELETE, &format!("/api/dash/reports/{sid}/"), json!({})).await }
    };
    assert_eq!(del(id).await.status(), 200);
    assert_eq!(del(id).await.status(), 404);
    assert_eq!(app.dash_get(&admin, &format!("/api/dash/reports/{id}/sends/")).await.status(), 404);
    assert_eq!(app.share_get(token, "/api/share/info/").await.status(), 200);
    assert_eq!(del(s2["id"].as_i64().unwrap()).await.status(), 200);
    assert_eq!(app.share_get(token, "/api/share/info/").await.status(), 401);
    assert_eq!(app.dash_json(&admin, &base).await, json!([]));
}

#[tokio::test]
async fn bad_schedules_are_refused_naming_each_field() {
    let app = spawn_app().await;
    let a = app.agent_a;
    let admin = app.admin().await;
    let base = format!("/api/dash/agents/{a}/reports/");
    let cases = [
        (json!({}), vec!["recipients"]),
        (json!({"recipients": []}), vec!["recipients"]),
        (json!({"recipients": ["ok@example.com", "not an address"]}), vec!["recipients[1]"]),
        (
            json!({"cadence": "daily", "hour": 24, "time_zone": "Mars/Olympus", "recipients": ["a@example.com"]}),
            vec!["cadence", "hour", "time_zone"],
        ),
        (json!({"weekday": "someday", "recipients": ["a@example.com"]}), vec!["weekday"]),
        (
            json!({"cadence": "monthly", "day_of_month": 0, "recipients": ["a@example.com"]}),
            vec!["day_of_month"],
        ),
        (
            json!({"cadence": "monthly", "weekday": "monday", "recipients": ["a@example.com"]}),
            vec!["weekday"],
        ),
        (
            json!({"recipients": (0..21).map(|i| format!("u{i}@example.com")).collect::<Vec<_>>()}),
            vec!["recipients"],
        ),
    ];
    for (body, names) in cases {
        let r = app.dash_send(&admin, Method::POST, &base, body.clone()).await;
        assert_eq!(r.status(), 400, "{body}");
        let e: Value = r.json().await.unwrap();
        for n in names {
            assert!(e.get(n).is_some(), "{body}: {e}");
        }
    }
    // An unknown field, wrong types, an unknown agent.
    let r = app
        .dash_send(&admin, Method::POST, &base, json!({"recipients": ["a@example.com"], "colour": 1}))
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .dash_send(&admin, Method::POST, &base, json!({"recipients": ["a@example.com"], "hour": "x"}))
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/dash/agents/999999/reports/",
            json!({"recipients": ["a@example.com"]}),
        )
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(app.dash_json(&admin, &base).await, json!([]));
    // A change names its bad fields and changes nothing.
    let r = app.dash_send(&admin, Method::POST, &base, json!({"recipients": ["a@example.com"]})).await;
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let r = app
        .dash_send(
            &admin,
            Method::PATCH,
            &format!("/api/dash/reports/{id}/"),
            json!({"hour": -1, "recipients": ["x"]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e.get("hour").is_some() && e.get("recipients[0]").is_some(), "{e}");
    let listed: Value = app.dash_json(&admin, &base).await;
    assert_eq!(listed[0]["hour"], 8);
    // A bad preview period is named.
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/dash/reports/{id}/preview/?period=2026-W60"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("period").is_some());
    for path in ["/api/dash/reports/abc/", "/api/dash/reports/0/", "/api/dash/reports/424242/"] {
        let r = app.dash_send(&admin, Method::PATCH, path, json!({"hour": 1})).await;
        assert_eq!(r.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn report_schedules_are_the_admins_only() {
    let app = spawn_app().await;
    let a = app.agent_a;
    let admin = app.admin().await;
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/dash/agents/{a}/reports/"),
            json!({"recipients": ["a@example.com"]}),
        )
        .await;
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let viewer = app.viewer(&admin, "client@example.com", &[a]).await;
    for path in [format!("/api/dash/agents/{a}/reports/"), format!("/api/dash/reports/{id}/sends/")] {
        assert_eq!(app.dash_get(&viewer, &path).await.status(), 403, "{path}");
    }
    for (method, path, body) in [
        (Method::POST, format!("/api/dash/agents/{a}/reports/"), json!({"recipients": ["b@example.com"]})),
        (Method::PATCH, format!("/api/dash/reports/{id}/"), json!({"enabled": false})),
        (Method::DELETE, format!("/api/dash/reports/{id}/"), json!({})),
        (Method::POST, format!("/api/dash/reports/{id}/preview/"), json!({})),
    ] {
        assert_eq!(
            app.dash_send(&viewer, method.clone(), &path, body).await.status(),
            403,
            "{method} {path}"
        );
    }
    // A read key is not a session.
    let r = app.get_as(&app.read_key, &format!("/api/dash/agents/{a}/reports/")).await;
    assert!(r.status() == 401 || r.status() == 403, "{}", r.status());
    let listed: Value = app.dash_json(&admin, &format!("/api/dash/agents/{a}/reports/")).await;
    assert_eq!(listed[0]["enabled"], true);
}
