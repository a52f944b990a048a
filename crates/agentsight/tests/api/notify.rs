//! Alerts and notification delivery against real receivers: aiosmtpd (PyPI; STARTTLS with a CA
//! made here by openssl, AUTH) and an HTTP receiver that checks the webhook signature. The
//! messages received are parsed and their numbers compared with the metrics API's.
//!
//! Needs `AGENTSIGHT_AIOSMTPD_PYTHON`, the python of the venv `scripts/setup-pinned-venv.sh aiosmtpd 1.4.6`
//! makes (scripts/test.sh sets it); without it these tests fail, they do not skip.

use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::dashboard::Browser;
use crate::helpers::{TestApp, spawn_app_with};

const SECRET: &str = "a-webhook-signing-secret";
const SMTP_USER: &str = "alerts";
const SMTP_PASSWORD: &str = "smtp-password-123";

/// A running aiosmtpd and the directory it writes what it receives to.
struct Smtp {
    child: Child,
    port: u16,
    ca: PathBuf,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out =
        Command::new("openssl").args(args).current_dir(dir).output().expect("openssl (Debian's) is needed");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts aiosmtpd with STARTTLS (a leaf for 127.0.0.1 signed by a throwaway CA) and AUTH.
fn start_smtp() -> Smtp {
    start_smtp_with(false)
}

/// [`start_smtp`]; with `stall`, its first RCPT TO is never answered (`out/stalled` is written
/// then): a sender killed there has delivered nothing.
fn start_smtp_with(stall: bool) -> Smtp {
    let python = std::env::var("AGENTSIGHT_AIOSMTPD_PYTHON").unwrap_or_else(|_| {
        panic!(
            "AGENTSIGHT_AIOSMTPD_PYTHON is not set: run scripts/setup-pinned-venv.sh aiosmtpd 1.4.6 and set it to \
             <venv>/bin/python"
        )
    });
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("leaf.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        d,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=agentsight test CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ],
        ]
        .concat(),
    );
    openssl(
        d,
        &[&["req"][..], &ec, &["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"]].concat(),
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
    );
    let out = d.join("mail");
    std::fs::create_dir(&out).unwrap();
    let port = free_port();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/smtp/receiver.py");
    let mut child = Command::new(&python)
        .args([script, &port.to_string(), "leaf.pem", "leaf.key", SMTP_USER, SMTP_PASSWORD])
        .arg(&out)
        .args(stall.then_some("stall"))
        .current_dir(d)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {python}: {e}"));
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "READY", "aiosmtpd did not start");
    Smtp { child, port, ca: d.join("ca.pem"), out, _dir: dir }
}

impl Smtp {
    /// The raw message of `mails()[i]`.
    fn raw(&self, i: usize) -> Vec<u8> {
        std::fs::read(self.out.join(format!("{:04}.eml", i + 1))).unwrap()
    }

    /// The messages received so far, in order.
    fn mails(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(&self.out)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files.iter().map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()).collect()
    }
}

/// Each body a receiver got and whether its signature was right.
type Received = Arc<Mutex<Vec<(Value, bool)>>>;
/// The receiver's state: what it got, and how many requests it still refuses.
type HookState = (Received, Arc<Mutex<usize>>);

/// What the webhook receiver got: each body and whether its signature was right.
#[derive(Clone, Default)]
struct Hook {
    url: String,
    got: Received,
}

/// A webhook receiver that checks `X-AgentSight-Signature` (HMAC-SHA256 of
/// `"{timestamp}.{body}"` with the secret) and answers 500 to its first `fail_first` requests.
async fn start_hook(fail_first: usize) -> Hook {
    use axum::http::{HeaderMap, StatusCode};
    let got: Received = Arc::default();
    let state = (got.clone(), Arc::new(Mutex::new(fail_first)));
    let app = axum::Router::new().route(
        "/hook/secret-path",
        axum::routing::post(
            |axum::extract::State((got, fail)): axum::extract::State<HookState>,
             headers: HeaderMap,
             body: axum::body::Bytes| async move {
                let ts = headers.get("x-agentsight-timestamp").and_then(|v| v.to_str().ok()).unwrap_or("");
                let sig = headers.get("x-agentsight-signature").and_then(|v| v.to_str().ok()).unwrap_or("");
                let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
                mac.update(format!("{ts}.").as_bytes());
                mac.update(&body);
                let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                let fresh = ts.parse::<i64>().is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
                let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                got.lock().unwrap().push((json, sig == want && fresh));
                let mut f = fail.lock().unwrap();
                if *f > 0 {
                    *f -= 1;
                    return StatusCode::INTERNAL_SERVER_ERROR;
                }
                StatusCode::OK
            },
        ),
    );
    let app = app.with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook/secret-path", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Hook { url, got }
}

impl Hook {
    fn got(&self) -> Vec<(Value, bool)> {
        self.got.lock().unwrap().clone()
    }
}

/// Polls `f` until it gives a value (a generous deadline: no timing is asserted).
async fn until<T, F: std::future::Future<Output = Option<T>>>(what: &str, mut f: impl FnMut() -> F) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `Name: value` of a plain-text notice.
fn line<'a>(text: &'a str, name: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

async fn set_up_delivery(app: &TestApp, admin: &Browser, smtp: &Smtp, hook: &Hook) -> (i64, i64) {
    let r = app
        .dash_send(
            admin,
            Method::PUT,
            "/api/settings/notify/smtp/",
            json!({"host": "127.0.0.1", "port": smtp.port, "security": "starttls", "username": SMTP_USER,
                   "password": SMTP_PASSWORD, "from": "agentsight@example.invalid"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let body = r.text().await.unwrap();
    assert!(!body.contains(SMTP_PASSWORD), "the password is never shown: {body}");
    let shown: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((shown["configured"].clone(), shown["password_set"].clone()), (json!(true), json!(true)));
    let r = app
        .dash_send(
            admin,
            Method::POST,
            "/api/settings/notify/targets/",
            json!({"kind": "webhook", "name": "ops hook", "url": hook.url, "secret": SECRET}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body = r.text().await.unwrap();
    assert!(
        !body.contains(SECRET) && !body.contains("secret-path"),
        "neither the secret nor the URL's path: {body}"
    );
    let webhook: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(webhook["has_secret"], true);
    let r = app
        .dash_send(
            admin,
            Method::POST,
            "/api/settings/notify/targets/",
            json!({"kind": "email", "name": "on call", "email": "oncall@example.invalid"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let email: Value = r.json().await.unwrap();
    (webhook["id"].as_i64().unwrap(), email["id"].as_i64().unwrap())
}

/// Conversations of agent A started now, `escalated` of them with an escalation action.
async fn conversations(app: &TestApp, prefix: &str, plain: usize, escalated: usize) {
    let now = chrono::Utc::now().to_rfc3339();
    for i in 0..plain + escalated {
        let pk = app.conversation(&format!("{prefix}-{i}"), json!({"timestamp": now})).await;
        if i >= plain {
            let r = app
                .post(
                    "/api/action_logs/",
                    &json!({"conversation": pk, "action_name": "contact_human", "timestamp": now}),
                )
                .await;
            assert_eq!(r.status(), 201);
        }
    }
}

/// The escalation rate of agent A today (UTC) as the metrics API answers it.
async fn escalation_rate_today(app: &TestApp) -> f64 {
    let today = chrono::Utc::now().format("%Y-%m-%d");
    let o = app.get_json(&format!("/api/metrics/overview/?from={today}&to={today}&tz=UTC")).await;
    o["human_escalation"]["rate"].as_f64().unwrap()
}

/// A rule created in the settings fires on tracked data once, however many rounds it keeps
/// firing; its notices reach the webhook (signed; the first attempt refused and retried) and
/// the mailbox (STARTTLS, AUTH) with the metrics API's number; then it resolves and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_fires_once_reaches_smtp_and_webhook_and_resolves() {
    let smtp = start_smtp();
    let hook = start_hook(1).await;
    let ca = smtp.ca.clone();
    let app = spawn_app_with(move |s| {
        s.alert_interval = Duration::from_millis(200);
        s.notify_retry_base = Duration::from_millis(200);
        s.notify_ca_file = Some(ca);
    })
    .await;
    let admin = app.admin().await;
    let (webhook_id, email_id) = set_up_delivery(&app, &admin, &smtp, &hook).await;

    conversations(&app, "c", 1, 1).await;
    let rate = escalation_rate_today(&app).await;
    assert_eq!(rate, 0.5);
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/settings/alerts/rules/",
            json!({"agent": app.agent_a, "kind": "escalation_rate", "threshold": 0.3, "window_hours": 24}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let rule: Value = r.json().await.unwrap();

    // Fired: one episode with the API's number.
    let event = until("the rule to fire", || async {
        let h = app.dash_json(&admin, "/api/settings/alerts/history/").await;
        h.as_array().unwrap().first().cloned()
    })
    .await;
    assert_eq!((event["rule"].clone(), event["state"].clone()), (rule["id"].clone(), json!("firing")));
    assert_eq!(event["fired_value"].as_f64(), Some(rate));
    let event_id = event["id"].as_i64().unwrap();

    // The webhook refused the first delivery; the retry came in a later round, while the rule
    // still fired, and no second episode or notice came of that round.
    let got =
        until("the webhook's retried delivery", || async { Some(hook.got()).filter(|g| g.len() >= 2) }).await;
    for (body, signed) in &got[..2] {
        assert!(signed, "signature checked: {body}");
        let a = &body["agentsight"];
        assert_eq!((a["state"].clone(), a["event_id"].clone()), (json!("firing"), json!(event_id)));
        assert_eq!(a["value"].as_f64(), Some(rate));
        assert!(body["text"].as_str().unwrap().contains("FIRING"), "Slack's text: {body}");
    }
    let mail = until("the firing mail", || async { smtp.mails().into_iter().next() }).await;
    assert_eq!((mail["tls"].clone(), mail["auth_user"].clone()), (json!(true), json!(SMTP_USER)));
    assert_eq!(mail["rcpt_tos"], json!(["oncall@example.invalid"]));
    assert!(
        mail["subject"].as_str().unwrap().starts_with("[AgentSight] FIRING: human escalation rate"),
        "{mail}"
    );
    let text = mail["text"].as_str().unwrap();
    assert_eq!(line(text, "Value").parse::<f64>().unwrap(), rate);
    assert_eq!(line(text, "Threshold"), "0.3");
    assert_eq!(line(text, "Episode"), event_id.to_string());

    let sends = app.dash_json(&admin, "/api/settings/notify/sends/").await;
    let of = |target: i64| sends.as_array().unwrap().iter().find(|s| s["target"] == target).unwrap().clone();
    let (w, e) = (of(webhook_id), of(email_id));
    assert_eq!(
        (w["status"].clone(), w["attempts"].clone(), w["source"].clone()),
        (json!("sent"), json!(2), json!("alert"))
    );
    assert!(w["last_error"].is_null() || w["last_error"].as_str().is_some());
    assert_eq!((e["status"].clone(), e["attempts"].clone()), (json!("sent"), json!(1)));
    assert_eq!(e["recipient"], "oncall@example.invalid");
    let rules = app.dash_json(&admin, "/api/settings/alerts/rules/").await;
    assert_eq!(rules[0]["state"], "firing");

    // More plain conversations: the rate falls below the threshold and the episode resolves.
    conversations(&app, "d", 3, 0).await;
    let lower = escalation_rate_today(&app).await;
    assert_eq!(lower, 0.2);
    let resolved = until("the rule to resolve", || async {
        let h = app.dash_json(&admin, "/api/settings/alerts/history/").await;
        h.as_array().unwrap().first().filter(|e| e["state"] == "resolved").cloned()
    })
    .await;
    assert_eq!(resolved["id"], event_id, "the same episode, resolved");
    assert_eq!(resolved["resolved_value"].as_f64(), Some(lower));
    let mails = until("the resolved mail", || async { Some(smtp.mails()).filter(|m| m.len() >= 2) }).await;
    assert!(mails[1]["subject"].as_str().unwrap().contains("RESOLVED"), "{}", mails[1]);
    assert_eq!(line(mails[1]["text"].as_str().unwrap(), "Value").parse::<f64>().unwrap(), lower);
    let got = until("the resolved webhook", || async { Some(hook.got()).filter(|g| g.len() >= 3) }).await;
    assert_eq!(got[2].0["agentsight"]["state"], "resolved");
    assert!(got[2].1);

    let history = app.dash_json(&admin, "/api/settings/alerts/history/").await;
    assert_eq!(history.as_array().unwrap().len(), 1, "one episode: {history}");
    assert_eq!(smtp.mails().len(), 2, "one mail per change");
    assert_eq!(hook.got().len(), 3, "the refused delivery, its retry, the resolution");
}

/// The settings API: admins only, every bad field named, secrets never shown; the test
/// buttons send now, and a failure (a wrong SMTP password) is retried and visible.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_validated_tested_and_show_failures() {
    let smtp = start_smtp();
    let hook = start_hook(0).await;
    let ca = smtp.ca.clone();
    let app = spawn_app_with(move |s| {
        s.alert_interval = Duration::ZERO;
        s.notify_ca_file = Some(ca);
    })
    .await;
    let admin = app.admin().await;
    let viewer = app.viewer(&admin, "viewer@example.com", &[app.agent_a]).await;
    let r = app.dash_get(&viewer, "/api/settings/alerts/rules/").await;
    assert_eq!(r.status(), 403);

    let post = |body: Value| {
        let (app, admin) = (&app, &admin);
        async move { app.dash_send(admin, Method::POST, "/api/settings/alerts/rules/", body).await }
    };
    let r =
        post(json!({"agent": app.agent_a, "kind": "escalation_rate", "threshold": 2, "window_hours": 30}))
            .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["threshold"].is_array() && e["window_hours"].is_array(), "{e}");
    let r =
        post(json!({"agent": app.agent_a, "kind": "unanswered_rate", "threshold": 1.5, "window_hours": 24}))
            .await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["threshold"][0].as_str().unwrap().contains("between 0 and 1"));
    let r = post(json!({"agent": 9999, "kind": "cost_per_day", "threshold": 5, "window_hours": 24})).await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["agent"].is_array());
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/settings/notify/targets/",
            json!({"kind": "webhook", "name": "", "url": "ftp://x", "secret": "short"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert!(e["name"].is_array() && e["url"].is_array() && e["secret"].is_array(), "{e}");
    let r = app
        .dash_send(
            &admin,
            Method::PUT,
            "/api/settings/notify/smtp/",
            json!({"host": "a b", "port": 70000, "security": "ssl", "from": "x"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    for f in ["host", "port", "security", "from"] {
        assert!(e[f].is_array(), "{f}: {e}");
    }

    // The webhook's test button: delivered now, signed.
    let (webhook_id, _) = set_up_delivery(&app, &admin, &smtp, &hook).await;
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/settings/notify/targets/{webhook_id}/test/"),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let sent: Value = r.json().await.unwrap();
    assert_eq!((sent["status"].clone(), sent["source"].clone()), (json!("sent"), json!("test")));
    let got = hook.got();
    assert_eq!(got.len(), 1);
    assert!(got[0].1 && got[0].0["agentsight"]["state"] == "test");

    // SMTP's test button: delivered over STARTTLS with AUTH.
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/settings/notify/smtp/test/",
            json!({"to": "me@example.invalid"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "sent");
    let mail = smtp.mails().pop().unwrap();
    assert_eq!(
        (mail["subject"].clone(), mail["tls"].clone()),
        (json!("[AgentSight] Test mail"), json!(true))
    );

    // A rule's test button: measured now, a test notice to every enabled target.
    conversations(&app, "t", 3, 1).await;
    let r =
        post(json!({"agent": app.agent_a, "kind": "escalation_rate", "threshold": 0.5, "window_hours": 24}))
            .await;
    let rule: Value = r.json().await.unwrap();
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/settings/alerts/rules/{}/test/", rule["id"]),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    assert_eq!(
        (t["value"].as_f64(), t["fires"].clone()),
        (Some(escalation_rate_today(&app).await), json!(false))
    );
    assert_eq!(t["sends"].as_array().unwrap().len(), 2);
    let mail = smtp.mails().pop().unwrap();
    assert!(mail["subject"].as_str().unwrap().starts_with("[AgentSight] TEST"), "{mail}");
    assert_eq!(line(mail["text"].as_str().unwrap(), "Value"), "0.25");
    assert!(
        app.dash_json(&admin, "/api/settings/alerts/history/").await.as_array().unwrap().is_empty(),
        "a test opens no episode"
    );

    // A wrong password: the send fails, is to be retried, and the failure shows.
    let r = app
        .dash_send(
            &admin,
            Method::PUT,
            "/api/settings/notify/smtp/",
            json!({"host": "127.0.0.1", "port": smtp.port, "security": "starttls", "username": SMTP_USER,
                   "password": "wrong", "from": "agentsight@example.invalid"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/settings/notify/smtp/test/",
            json!({"to": "me@example.invalid"}),
        )
        .await;
    let failed: Value = r.json().await.unwrap();
    assert_eq!((failed["status"].clone(), failed["attempts"].clone()), (json!("retrying"), json!(1)));
    assert!(failed["last_error"].as_str().unwrap().contains("535"), "the server's refusal: {failed}");
    assert!(failed["next_attempt_at"].is_string());
    let log = app.dash_json(&admin, "/api/settings/notify/sends/").await;
    assert_eq!(log[0]["id"], failed["id"]);
    assert_eq!(log[0]["status"], "retrying");
    // The stored password is kept when a change leaves it out.
    let r = app
        .dash_send(
            &admin,
            Method::PUT,
            "/api/settings/notify/smtp/",
            json!({"host": "127.0.0.1", "port": smtp.port, "security": "starttls", "username": SMTP_USER, "from": "agentsight@example.invalid"}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["password_set"], true);
}

/// An `unanswered_rate` rule measures what `GET /api/metrics/failures/` answers for its days
/// (default idle time): one unanswered and one answered settled conversation, and one still
/// live that counts for neither, make 0.5.
#[tokio::test]
async fn an_unanswered_rate_rule_measures_the_failures_metric() {
    let app = spawn_app_with(|s| s.alert_interval = Duration::ZERO).await;
    let admin = app.admin().await;
    let now = chrono::Utc::now();
    let at = |mins: i64| (now - chrono::Duration::minutes(mins)).to_rfc3339();
    for (id, start) in [("un-1", 120), ("un-2", 120), ("un-3", 1)] {
        app.conversation(id, json!({"timestamp": at(start)})).await;
        app.message(id, "end_user", "where is my order?", &at(start)).await;
    }
    app.message("un-2", "agent", "It ships tomorrow.", &at(119)).await;
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/settings/alerts/rules/",
            json!({"agent": app.agent_a, "kind": "unanswered_rate", "threshold": 0.4, "window_hours": 48}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let rule: Value = r.json().await.unwrap();
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/settings/alerts/rules/{}/test/", rule["id"]),
            json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    let (from, to) = ((now - chrono::Duration::days(1)).format("%Y-%m-%d"), now.format("%Y-%m-%d"));
    let f = app.get_json(&format!("/api/metrics/failures/?from={from}&to={to}&tz=UTC")).await;
    assert_eq!(f["unanswered"]["rate"].as_f64(), Some(0.5), "{f}");
    assert_eq!((t["value"].as_f64(), t["fires"].clone()), (Some(0.5), json!(true)), "{t}");
}

/// A KPI's `data-value` in a report's HTML, as a number (`null`: none).
fn kpi(html: &str, id: &str) -> Option<f64> {
    let cell = &html[html.find(&format!(r#"data-kpi="{id}""#)).unwrap_or_else(|| panic!("no KPI {id}"))..];
    let from = cell.find(r#"data-value=""#).unwrap() + r#"data-value=""#.len();
    let v = &cell[from..from + cell[from..].find('"').unwrap()];
    if v == "null" { None } else { Some(v.parse().unwrap()) }
}

/// Sets the SMTP settings (aiosmtpd's) through the settings API.
async fn set_smtp(app: &TestApp, admin: &Browser, smtp: &Smtp, from: &str) {
    let r = app
        .dash_send(
            admin,
            Method::PUT,
            "/api/settings/notify/smtp/",
            json!({"host": "127.0.0.1", "port": smtp.port, "security": "starttls", "username": SMTP_USER,
                   "password": SMTP_PASSWORD, "from": from}),
        )
        .await;
    assert_eq!(r.status(), 200);
}

/// A weekly schedule made in the settings sends nothing for the weeks before it; made older
/// (as if it had been there for a while) the server's round sends the latest week's report to
/// each recipient once — one mail each, however many rounds pass — with its images inline and
/// the overview API's numbers; the send is in the schedule's record and each mail in the sends
/// log. "Send test" mails the same report now to one address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_report_reaches_each_recipient_once_and_send_test_mails_it_now() {
    use agentsight_store::prelude::*;

    let smtp = start_smtp();
    let ca = smtp.ca.clone();
    let app = spawn_app_with(move |s| {
        s.alert_interval = Duration::from_millis(200);
        s.notify_retry_base = Duration::from_millis(200);
        s.notify_ca_file = Some(ca);
    })
    .await;
    let admin = app.admin().await;
    set_smtp(&app, &admin, &smtp, "reports@stats.example.com").await;
    // Conversations over the last three weeks, so the latest full week has some.
    let now = chrono::Utc::now();
    for d in [3_i64, 6, 8, 9, 11, 13, 16] {
        let t = (now - chrono::Duration::days(d)).to_rfc3339();
        let cid = format!("rep-{d}");
        app.conversation(&cid, json!({"timestamp": t})).await;
        app.message(&cid, "end_user", "hello", &t).await;
    }
    let a = app.agent_a;
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/dash/agents/{a}/reports/"),
            json!({"cadence": "weekly", "weekday": "monday", "hour": 0, "time_zone": "UTC",
                   "recipients": ["client@example.com", "boss@example.com"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let id = r.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    // Made now: the week before it is not owed.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(smtp.mails().is_empty(), "{:?}", smtp.mails());

    // As if made ten days ago: the latest week is owed and goes out at the next round.
    let row = app.store.report_schedule(id).await.unwrap().unwrap();
    let ten_days_ago = (now - chrono::Duration::days(10)).timestamp_micros();
    app.store
        .update_report_schedule(id, row.settings.clone(), ten_days_ago, now.timestamp_micros())
        .await
        .unwrap()
        .unwrap();
    until("two report mails", || async { (smtp.mails().len() >= 2).then_some(()) }).await;
    // Rounds go on every 200 ms: nothing more.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mails = smtp.mails();
    assert_eq!(mails.len(), 2, "{mails:?}");

    let preview: Value = app
        .dash_send(&admin, Method::POST, &format!("/api/dash/reports/{id}/preview/"), json!({}))
        .await
        .json()
        .await
        .unwrap();
    let period = preview["period"].as_str().unwrap().to_string();
    let (from, to) = (preview["from"].as_str().unwrap(), preview["to"].as_str().unwrap());
    let o = app.get_json(&format!("/api/metrics/overview/?from={from}&to={to}&tz=UTC")).await;
    assert!(o["total_conversations"].as_i64().unwrap() > 0, "{o}");
    let mut to_addrs = Vec::new();
    for (i, m) in mails.iter().enumerate() {
        to_addrs.push(m["rcpt_tos"][0].as_str().unwrap().to_string());
        assert_eq!(m["rcpt_tos"].as_array().unwrap().len(), 1, "one mail per recipient: {m}");
        assert_eq!((m["tls"].clone(), m["auth_user"].clone()), (json!(true), json!(SMTP_USER)));
        assert_eq!(m["subject"], preview["subject"], "{m}");
        assert_eq!(m["message_id"], format!("<report-{id}-{period}@stats.example.com>"));
        // As a mail program reads it: the HTML refers to inline PNGs by cid.
        let raw = smtp.raw(i);
        let parsed = mail_parser::MessageParser::default().parse(&raw).unwrap();
        let html = parsed.body_html(0).unwrap().to_string();
        let inline = m["inline"].as_array().unwrap();
        assert!(!inline.is_empty(), "the chart travels inline: {m}");
        for p in inline {
            assert_eq!(p["content_type"], "image/png");
            assert!(p["size"].as_i64().unwrap() > 100);
            let cid = p["content_id"].as_str().unwrap().trim_matches(['<', '>']);
            assert!(html.contains(&format!("cid:{cid}")), "{cid}");
        }
        // The numbers are the overview API's for the reported week.
        for k in ["total_conversations", "total_messages", "unique_users"] {
            assert_eq!(kpi(&html, k), o[k].as_f64(), "{k}");
        }
        assert!(
            m["text"]
                .as_str()
                .unwrap()
                .contains(&format!("Total conversations: {}", o["total_conversations"]))
        );
    }
    to_addrs.sort();
    assert_eq!(to_addrs, ["boss@example.com", "client@example.com"]);

    // The schedule's record and the sends log say so.
    let sends: Value = app.dash_json(&admin, &format!("/api/dash/reports/{id}/sends/")).await;
    assert_eq!(
        (sends[0]["period"].as_str(), sends[0]["state"].as_str()),
        (Some(period.as_str()), Some("sent")),
        "{sends}"
    );
    let log: Value = app.dash_json(&admin, "/api/settings/notify/sends/").await;
    let reports: Vec<_> = log.as_array().unwrap().iter().filter(|s| s["source"] == "report").collect();
    assert_eq!(reports.len(), 2, "{log}");
    assert!(reports.iter().all(|s| s["status"] == "sent" && s["attempts"] == 1), "{log}");

    // Send test: now, to one address, marked, with a Message-ID of its own.
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/dash/reports/{id}/test/"),
            json!({"to": "ops@example.com"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let sent: Value = r.json().await.unwrap();
    assert_eq!(
        (sent[0]["status"].as_str(), sent[0]["source"].as_str()),
        (Some("sent"), Some("test")),
        "{sent}"
    );
    let mails = smtp.mails();
    assert_eq!(mails.len(), 3);
    assert_eq!(mails[2]["rcpt_tos"], json!(["ops@example.com"]));
    assert_eq!(mails[2]["subject"], format!("[Test] {}", preview["subject"].as_str().unwrap()));
    let own = mails[2]["message_id"].as_str().unwrap();
    assert!(own.ends_with("@stats.example.com>") && own != mails[0]["message_id"], "{own}");
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/dash/reports/{id}/test/"),
            json!({"to": "not an address"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap()["to"].is_array());
    let r = app
        .dash_send(&admin, Method::POST, &format!("/api/dash/reports/{id}/test/?period=2026-W99"), json!({}))
        .await;
    assert_eq!(r.status(), 400);
    // The scheduled send was not touched.
    let again: Value = app.dash_json(&admin, &format!("/api/dash/reports/{id}/sends/")).await;
    assert_eq!(again, sends);
}

/// The server is killed (SIGKILL) in the middle of a scheduled send — the SMTP server has the
/// connection and never answers RCPT TO — and started again: the report arrives once, with its
/// `Message-ID`, and the record says sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_scheduled_send_delivers_the_report_once() {
    use agentsight_core::reports::{Cadence, ScheduleSettings, Timing};
    use agentsight_store::NewReportSchedule;
    use agentsight_store::prelude::*;

    let smtp = start_smtp_with(true);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    crate::common::cli(data, &["demo", "--days", "20", "--conversations", "40"]);
    let set = Command::new(crate::common::BIN)
        .args(["notify", "smtp", "set", "--host", "127.0.0.1", "--port", &smtp.port.to_string()])
        .args(["--security", "starttls", "--username", SMTP_USER, "--password-stdin"])
        .args(["--from", "reports@stats.example.com", "--data-dir"])
        .arg(data)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut set = set;
        set.stdin.take().unwrap().write_all(SMTP_PASSWORD.as_bytes()).unwrap();
        assert!(set.wait().unwrap().success());
    }
    // A weekly schedule made three weeks ago (the store, as the API cannot date it back).
    let id = {
        let store = agentsight_store_sqlite::SqliteStore::open(agentsight_store_sqlite::SqliteOptions::new(
            data.join("agentsight.db"),
        ))
        .unwrap();
        let agent = store.list_agents().await.unwrap()[0].id;
        let settings = ScheduleSettings {
            timing: Timing { cadence: Cadence::Weekly(chrono::Weekday::Mon), hour: 0, tz: chrono_tz::UTC },
            recipients: vec!["client@example.com".into()],
            enabled: true,
        };
        let then = (chrono::Utc::now() - chrono::Duration::days(21)).timestamp_micros();
        store
            .create_report_schedule(NewReportSchedule {
                agent_id: agent,
                settings,
                share_id: None,
                share_token: None,
                now: then,
            })
            .await
            .unwrap()
            .id
    };
    let ca = smtp.ca.to_str().unwrap().to_string();
    let args = [
        "--alert-interval",
        "1",
        "--notify-stale-after",
        "3",
        "--notify-retry-base",
        "1",
        "--notify-ca-file",
        &ca,
    ];
    let mut first = crate::common::serve_with(data, &args);
    until("the send to reach RCPT TO", || async { smtp.out.join("stalled").exists().then_some(()) }).await;
    first.child.kill().unwrap(); // SIGKILL, mid-send
    first.child.wait().unwrap();
    assert!(smtp.mails().is_empty());

    let mut second = crate::common::serve_with(data, &args);
    until("the report", || async { (!smtp.mails().is_empty()).then_some(()) }).await;
    // Rounds go on every second, past another lease: nothing more.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let mails = smtp.mails();
    second.child.kill().unwrap();
    second.child.wait().unwrap();
    assert_eq!(mails.len(), 1, "{mails:?}");
    let mid = mails[0]["message_id"].as_str().unwrap();
    assert!(mid.starts_with(&format!("<report-{id}-")) && mid.ends_with("@stats.example.com>"), "{mid}");
    assert_eq!(mails[0]["rcpt_tos"], json!(["client@example.com"]));

    let store = agentsight_store_sqlite::SqliteStore::open(agentsight_store_sqlite::SqliteOptions::new(
        data.join("agentsight.db"),
    ))
    .unwrap();
    let sends = store.report_sends(id, 10).await.unwrap();
    assert_eq!(sends.len(), 1);
    assert_eq!(sends[0].state, agentsight_core::reports::SendState::Sent, "{sends:?}");
    let log = store.sends(10).await.unwrap();
    assert_eq!(log.len(), 1, "one mail recorded, attempted again after the restart: {log:?}");
    assert_eq!((log[0].status, log[0].attempts), (agentsight_store::SendStatus::Sent, 1), "{log:?}");
}
