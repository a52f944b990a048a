//! The dashboard API over HTTP: setup link, sign-in, CSRF, roles, settings, share links, the
//! live feed, CSV export (docs/dashboard-api.md).

use std::time::Duration;

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const PASSWORD: &str = "a long password";

/// A signed-in browser: its cookie and CSRF token.
#[derive(Clone)]
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
}

fn session_cookie(r: &Response) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        v.split(';').next().filter(|kv| kv.starts_with("agentsight_session=")).map(str::to_string)
    })
}

impl TestApp {
    /// A request as a browser would send it: cookie, and the CSRF header when `csrf`.
    pub async fn dash(
        &self,
        b: &Browser,
        method: Method,
        path: &str,
        body: Option<Value>,
        csrf: bool,
    ) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).header("Cookie", &b.cookie);
        if csrf {
            req = req.header("X-CSRF-Token", &b.csrf);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.unwrap()
    }

    pub async fn dash_get(&self, b: &Browser, path: &str) -> Response {
        self.dash(b, Method::GET, path, None, false).await
    }

    pub async fn dash_json(&self, b: &Browser, path: &str) -> Value {
        let r = self.dash_get(b, path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    pub async fn dash_send(&self, b: &Browser, method: Method, path: &str, body: Value) -> Response {
        self.dash(b, method, path, Some(body), true).await
    }

    pub async fn anon_post(&self, path: &str, body: Value) -> Response {
        self.client.post(format!("{}{path}", self.base)).json(&body).send().await.unwrap()
    }

    async fn browser_from(&self, r: Response, expect: StatusCode) -> Browser {
        assert_eq!(r.status(), expect);
        let cookie = session_cookie(&r).expect("a session cookie");
        let body: Value = r.json().await.unwrap();
        Browser { cookie, csrf: body["csrf_token"].as_str().unwrap().to_string() }
    }

    /// The first admin, through the setup link.
    pub async fn admin(&self) -> Browser {
        let token = self.setup_token.clone().expect("a setup token");
        let r = self
            .anon_post(
                "/api/auth/setup/",
                json!({"token": token, "email": "admin@example.com", "password": PASSWORD}),
            )
            .await;
        self.browser_from(r, StatusCode::CREATED).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.anon_post("/api/auth/login/", json!({"email": email, "password": password})).await
    }

    /// A viewer of `agents`, created by `admin`, signed in.
    pub async fn viewer(&self, admin: &Browser, email: &str, agents: &[i64]) -> Browser {
        let r = self
            .dash_send(
                admin,
                Method::POST,
                "/api/dash/users/",
                json!({"email": email, "password": PASSWORD, "role": "viewer", "agents": agents}),
            )
            .await;
        assert_eq!(r.status(), 201);
        let r = self.login(email, PASSWORD).await;
        self.browser_from(r, StatusCode::OK).await
    }

    pub async fn share_get(&self, token: &str, path: &str) -> Response {
        self.client.get(format!("{}{path}", self.base)).header("X-Share-Token", token).send().await.unwrap()
    }
}

#[tokio::test]
async fn the_setup_link_creates_the_first_admin_once() {
    let app = spawn_app().await;
    let state: Value =
        app.client.get(format!("{}/api/auth/state/", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["needs_setup"], true);
    assert_eq!(state["signed_in"], false);
    let wrong = app
        .anon_post(
            "/api/auth/setup/",
            json!({"token": format!("stp_{}", "0".repeat(64)), "email": "x@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(wrong.status(), 403);
    let bad = app
        .anon_post(
            "/api/auth/setup/",
            json!({"token": app.setup_token, "email": "nope", "password": "short"}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body.get("email").is_some() && body.get("password").is_some(), "{body}");
    let admin = app.admin().await;
    let me: Value = app.dash_json(&admin, "/api/auth/me/").await;
    assert_eq!(me["user"]["role"], "admin");
    assert_eq!(me["user"]["email"], "admin@example.com");
    assert_eq!(me["csrf_token"], admin.csrf.as_str());
    let again = app
        .anon_post(
            "/api/auth/setup/",
            json!({"token": app.setup_token, "email": "y@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(again.status(), 403, "the link works once");
    let state: Value =
        app.client.get(format!("{}/api/auth/state/", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["needs_setup"], false);
    assert_eq!(state["signed_in"], false, "no cookie");
    let state: Value = app.dash_json(&admin, "/api/auth/state/").await;
    assert_eq!((&state["needs_setup"], &state["signed_in"]), (&json!(false), &json!(true)));
}

#[tokio::test]
async fn an_expired_setup_link_is_refused_and_creates_no_admin() {
    let app = crate::helpers::spawn_app_with(|s| s.setup_link_ttl = Duration::ZERO).await;
    let r = app
        .anon_post(
            "/api/auth/setup/",
            json!({"token": app.setup_token, "email": "admin@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status(), 403);
    assert!(r.json::<Value>().await.unwrap()["detail"].as_str().unwrap().contains("expired"));
    let state: Value =
        app.client.get(format!("{}/api/auth/state/", app.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["needs_setup"], true);
}

#[tokio::test]
async fn a_session_used_every_day_still_ends_at_its_absolute_maximum() {
    use agentsight_core::dashboard::{SESSION_MAX_AGE_MICROS, SESSION_TTL_MICROS};
    const DAY: i64 = 24 * 3_600 * 1_000_000;
    let app = spawn_app().await;
    let admin = app.admin().await;
    let db = rusqlite::Connection::open(app.data_dir.join("agentsight.db")).unwrap();
    let now = agentsight_core::time::now_micros();
    // Created 29 days ago, last extended 2 days ago: this request extends it, but only up to
    // 30 days after its creation, not 14 days from now.
    let created = now - 29 * DAY;
    db.execute("UPDATE sessions SET created_at = ?1, refreshed_at = ?2", [created, now - 2 * DAY]).unwrap();
    assert_eq!(app.dash_get(&admin, "/api/auth/me/").await.status(), 200);
    let (refreshed, expires): (i64, i64) = db
        .query_row("SELECT refreshed_at, expires_at FROM sessions", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap();
    assert!(refreshed >= now, "the session was extended");
    assert_eq!(expires, created + SESSION_MAX_AGE_MICROS);
    assert!(expires < now + SESSION_TTL_MICROS);
    // Past the maximum it is refused, whatever its sliding expiry says.
    db.execute(
        "UPDATE sessions SET created_at = ?1, expires_at = ?2",
        [now - SESSION_MAX_AGE_MICROS - 60_000_000, now + DAY],
    )
    .unwrap();
    assert_eq!(app.dash_get(&admin, "/api/auth/me/").await.status(), 401);
}

#[tokio::test]
async fn sign_in_and_out_with_a_wrong_password_refused_alike() {
    let app = spawn_app().await;
    app.admin().await;
    let wrong = app.login("admin@example.com", "not the password").await;
    assert_eq!(wrong.status(), 400);
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.status(), 400);
    let (a, b): (Value, Value) = (wrong.json().await.unwrap(), unknown.json().await.unwrap());
    assert_eq!(a["detail"], "Invalid email or password.");
    assert_eq!(a, b, "a wrong e-mail and a wrong password look the same");
    let r = app.login(" ADMIN@example.com ", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let set_cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        set_cookie.contains("HttpOnly")
            && set_cookie.contains("SameSite=Lax")
            && set_cookie.contains("Path=/")
    );
    assert!(!set_cookie.contains("Secure"), "plain http gets no Secure flag");
    let browser = Browser {
        cookie: session_cookie(&r).unwrap(),
        csrf: r.json::<Value>().await.unwrap()["csrf_token"].as_str().unwrap().into(),
    };
    assert_eq!(app.dash_get(&browser, "/api/auth/me/").await.status(), 200);
    let no_csrf = app.dash(&browser, Method::POST, "/api/auth/logout/", None, false).await;
    assert_eq!(no_csrf.status(), 403);
    let out = app.dash(&browser, Method::POST, "/api/auth/logout/", None, true).await;
    assert_eq!(out.status(), 200);
    assert!(out.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    assert_eq!(
        app.dash_get(&browser, "/api/auth/me/").await.status(),
        401,
        "the session ended on the server"
    );
    let form = app
        .client
        .post(format!("{}/api/auth/login/", app.base))
        .header("Content-Type", "text/plain")
        .body(format!(r#"{{"email":"admin@example.com","password":"{PASSWORD}"}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415, "a cross-site form cannot sign anyone in");
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited() {
    let app = spawn_app().await;
    app.admin().await;
    for _ in 0..5 {
        assert_eq!(app.login("admin@example.com", "wrong password!").await.status(), 400);
    }
    let r = app.login("admin@example.com", PASSWORD).await;
    assert_eq!(r.status(), 429);
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
}

#[tokio::test]
async fn an_oversized_sign_in_body_is_refused_before_it_is_read_or_counted() {
    let app = spawn_app().await;
    app.admin().await;
    // A 15 MiB address once grew the server by ~20 MB a request; anything past the auth body limit
    // (16 KiB) is now refused unread (64 KiB here, small enough for the client to finish sending).
    let huge = "a".repeat(64 * 1024);
    for _ in 0..3 {
        let r = app.login(&huge, PASSWORD).await;
        assert_eq!(r.status(), 413);
        assert!(r.json::<Value>().await.unwrap()["detail"].is_string());
    }
    let token = app.setup_token.clone().unwrap();
    let r =
        app.anon_post("/api/auth/setup/", json!({"token": token, "email": huge, "password": PASSWORD})).await;
    assert_eq!(r.status(), 413);
    // An over-long address that fits the body limit is an invalid sign-in, not a new limiter key:
    // the admin's own budget is untouched by any number of them.
    for i in 0..4 {
        let r = app.login(&format!("{}{i}@example.com", "b".repeat(5_000)), PASSWORD).await;
        assert_eq!(r.status(), 400);
    }
    assert_eq!(app.login("admin@example.com", PASSWORD).await.status(), 200);
}

#[tokio::test]
async fn guesses_of_the_current_password_are_throttled() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let guess = |p: &'static str| {
        app.dash_send(
            &admin,
            Method::POST,
            "/api/auth/password/",
            json!({"current_password": p, "new_password": "another long one"}),
        )
    };
    for _ in 0..5 {
        let r = guess("wrong guess!").await;
        assert_eq!(r.status(), 400);
        assert!(r.json::<Value>().await.unwrap().get("current_password").is_some());
    }
    let r = guess(PASSWORD).await;
    assert_eq!(r.status(), 429, "even the right password waits once the guesses are spent");
    let wait: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait));
    let big = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/auth/password/",
            json!({"current_password": "x".repeat(20_000), "new_password": "y"}),
        )
        .await;
    assert_eq!(big.status(), 413);
}

#[tokio::test]
async fn session_writes_without_the_csrf_token_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let r = app.dash(&admin, Method::POST, "/api/dash/agents/", Some(json!({"name": "sneaky"})), false).await;
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "csrf_failed");
    let forged = Browser { cookie: admin.cookie.clone(), csrf: "0".repeat(64) };
    assert_eq!(
        app.dash_send(&forged, Method::POST, "/api/dash/agents/", json!({"name": "sneaky"})).await.status(),
        403
    );
    let agents: Value = app.dash_json(&admin, "/api/dash/agents/").await;
    assert!(!agents.to_string().contains("sneaky"));
    let r = app.dash_send(&admin, Method::POST, "/api/dash/agents/", json!({"name": "honest"})).await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["environments"], json!(["production", "development"]));
    let dup = app.dash_send(&admin, Method::POST, "/api/dash/agents/", json!({"name": "honest"})).await;
    assert_eq!(dup.status(), 400);
    assert!(dup.json::<Value>().await.unwrap().get("name").is_some());
}

#[tokio::test]
async fn sessions_read_metrics_and_conversations_with_an_agent_parameter() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.message("s1", "end_user", "where is my parcel", "2026-05-01T10:00:00Z").await;
    let a = app.agent_a;
    let o: Value = app
        .dash_json(&admin, &format!("/api/metrics/overview/?agent={a}&from=2026-05-01&to=2026-05-01"))
        .await;
    assert_eq!(o["total_messages"], 1);
    assert_eq!(o["agent"]["id"], a);
    let missing = app.dash_get(&admin, "/api/metrics/overview/").await;
    assert_eq!(missing.status(), 400);
    assert!(missing.json::<Value>().await.unwrap().get("agent").is_some());
    assert_eq!(app.dash_get(&admin, "/api/metrics/overview/?agent=999").await.status(), 404);
    let list: Value = app.dash_json(&admin, &format!("/api/conversations/?agent={a}&q=PARCEL")).await;
    assert_eq!(list["count"], 1);
    let pk = list["results"][0]["id"].as_i64().unwrap();
    let t: Value = app.dash_json(&admin, &format!("/api/conversations/{pk}/?agent={a}")).await;
    assert_eq!(t["messages"][0]["content"], "where is my parcel");
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/conversations/{pk}/mark/?agent={a}"),
            json!({"is_marked": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let r = app
        .dash_send(
            &admin,
            Method::PATCH,
            &format!("/api/conversations/{pk}/rename/?agent={a}"),
            json!({"name": "Parcel"}),
        )
        .await;
    assert_eq!(r.json::<Value>().await.unwrap()["name"], "Parcel");
    let marked: Value = app.dash_json(&admin, &format!("/api/conversations/?agent={a}&is_marked=true")).await;
    assert_eq!(marked["count"], 1);
    let anon = app.client.get(format!("{}/api/conversations/?agent={a}", app.base)).send().await.unwrap();
    assert_eq!(anon.status(), 401);
}

#[tokio::test]
async fn the_dashboard_filters_narrow_the_conversation_list() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.conversation(
        "d1",
        json!({"device": "mobile", "environment": "production", "timestamp": "2026-05-01T23:30:00Z"}),
    )
    .await;
    let pk2 = app.conversation("d2", json!({"timestamp": "2026-05-02T12:00:00Z"})).await;
    let r = app
        .post("/api/action_logs/", &json!({"conversation": pk2, "action_name": "fallback_to_human"}))
        .await;
    assert_eq!(r.status(), 201);
    let a = app.agent_a;
    let ids = |v: Value| {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["conversation_id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(app.dash_json(&admin, &format!("/api/conversations/?agent={a}&device=unknown")).await),
        ["d2"]
    );
    // The environment control's "Unknown": conversations stored without an environment.
    assert_eq!(
        ids(app.dash_json(&admin, &format!("/api/conversations/?agent={a}&environment=unknown")).await),
        ["d2"]
    );
    let range = "from=2026-05-01&to=2026-05-02";
    for (env, want) in [("unknown", 1), ("production", 1), ("development", 0)] {
        let o: Value = app
            .dash_json(&admin, &format!("/api/metrics/overview/?agent={a}&{range}&environment={env}"))
            .await;
        assert_eq!(o["total_conversations"], want, "environment={env}: {o}");
    }
    assert_eq!(
        ids(app.dash_json(&admin, &format!("/api/conversations/?agent={a}&escalated=true")).await),
        ["d2"]
    );
    assert_eq!(
        ids(app.dash_json(&admin, &format!("/api/conversations/?agent={a}&escalated=false")).await),
        ["d1"]
    );
    // 23:30 UTC on May 1 is May 2 in Zagreb.
    let zagreb = format!("/api/conversations/?agent={a}&from=2026-05-02&to=2026-05-02&tz=Europe/Zagreb");
    assert_eq!(ids(app.dash_json(&admin, &zagreb).await).len(), 2);
    let utc = format!("/api/conversations/?agent={a}&from=2026-05-02&to=2026-05-02");
    assert_eq!(ids(app.dash_json(&admin, &utc).await), ["d2"]);
    for (q, field) in [
        ("escalated=maybe", "escalated"),
        ("country=Croatia", "country"),
        ("from=2026-02-30", "from"),
        ("tz=Mars/Base", "tz"),
        ("from=%2B262142-12-31", "from"),
        ("started_at_before=10000-01-01", "started_at_before"),
    ] {
        let r = app.dash_get(&admin, &format!("/api/conversations/?agent={a}&{q}")).await;
        assert_eq!(r.status(), 400, "{q}");
        assert!(r.json::<Value>().await.unwrap().get(field).is_some(), "{q}");
        for export in ["conversations.csv", "messages.csv"] {
            let r = app.dash_get(&admin, &format!("/api/dash/export/{export}?agent={a}&{q}")).await;
            assert_eq!(r.status(), 400, "{export}?{q}");
            assert!(r.json::<Value>().await.unwrap().get(field).is_some(), "{export}?{q}");
        }
    }
}

#[tokio::test]
async fn a_viewer_sees_only_their_agents_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (a, b) = (app.agent_a, app.agent_b);
    let viewer = app.viewer(&admin, "client@example.com", &[a]).await;
    app.message("mine", "end_user", "hello", "2026-05-01T10:00:00Z").await;
    let mine = app.get_json("/api/conversations/").await["results"][0]["id"].as_i64().unwrap();
    let r = app
        .post_as(&app.other_key, "/api/track/", &json!({"conversation_id": "theirs", "sender": "end_user", "content": "secret", "timestamp": "2026-05-01T10:00:00Z"}))
        .await;
    let theirs = r.json::<Value>().await.unwrap()["conversation"].as_i64().unwrap();
    let up = app
        .post_as(&app.other_key, "/api/attachments/", &json!({"conversation": theirs, "attachments": [{"filename": "x.txt", "data": "aGk=", "mime_type": "text/plain"}]}))
        .await;
    let file = up.json::<Value>().await.unwrap()["attachments"][0]["id"].as_i64().unwrap();

    // Reading: their agent works, the other agent is a 404 in every endpoint family.
    assert_eq!(app.dash_get(&viewer, &format!("/api/metrics/overview/?agent={a}")).await.status(), 200);
    for path in [
        format!("/api/metrics/overview/?agent={b}"),
        format!("/api/metrics/timeseries/?agent={b}&metric=messages"),
        format!("/api/metrics/users/?agent={b}"),
        format!("/api/metrics/live/?agent={b}"),
        format!("/api/conversations/?agent={b}"),
        format!("/api/conversations/{theirs}/?agent={b}"),
        format!("/api/conversations/{theirs}/?agent={a}"),
        format!("/api/conversations/{theirs}/attachments/?agent={b}"),
        format!("/api/attachments/{file}/download/?agent={b}"),
        format!("/api/attachments/{file}/download/?agent={a}"),
        format!("/api/dash/export/conversations.csv?agent={b}"),
        format!("/api/dash/export/messages.csv?agent={b}"),
        format!("/api/dash/live/?agent={b}"),
        format!("/api/dash/agents/{b}/"),
        format!("/api/dash/agents/{b}/logo/?agent={b}"),
        format!("/api/dash/agents/{b}/logo/"),
        format!("/api/dash/agents/{b}/logo/?agent={a}"),
    ] {
        let r = app.dash_get(&viewer, &path).await;
        assert_eq!(r.status(), 404, "{path}");
        assert!(!r.text().await.unwrap().contains("secret"));
    }
    let agents: Value = app.dash_json(&viewer, "/api/dash/agents/").await;
    assert_eq!(agents.as_array().unwrap().iter().map(|x| x["id"].as_i64().unwrap()).collect::<Vec<_>>(), [a]);
    // Settings are the admin's.
    for path in [
        format!("/api/dash/agents/{a}/keys/"),
        format!("/api/dash/agents/{a}/shares/"),
        "/api/dash/users/".into(),
    ] {
        assert_eq!(app.dash_get(&viewer, &path).await.status(), 403, "{path}");
    }
    // Changing anything, even of their own agent, is a 403 and changes nothing.
    for (method, path, body) in [
        (Method::POST, format!("/api/conversations/{mine}/mark/?agent={a}"), json!({"is_marked": true})),
        (Method::PATCH, format!("/api/conversations/{mine}/rename/?agent={a}"), json!({"name": "x"})),
        (Method::DELETE, format!("/api/conversations/{mine}/delete/?agent={a}"), json!({})),
        (Method::PATCH, format!("/api/dash/agents/{a}/"), json!({"name": "renamed"})),
        (Method::POST, "/api/dash/agents/".into(), json!({"name": "new"})),
        (Method::POST, format!("/api/dash/agents/{a}/keys/"), json!({"role": "write"})),
        (Method::POST, format!("/api/dash/agents/{a}/shares/"), json!({})),
        (
            Method::POST,
            "/api/dash/users/".into(),
            json!({"email": "x@y.z", "password": PASSWORD, "role": "admin"}),
        ),
    ] {
        let r = app.dash_send(&viewer, method.clone(), &path, body).await;
        assert_eq!(r.status(), 403, "{method} {path}");
    }
    let row: Value = app.dash_json(&viewer, &format!("/api/conversations/{mine}/?agent={a}")).await;
    assert_eq!(row["is_marked"], false);
    assert_eq!(row["is_deleted"], false);
    assert_eq!(app.dash_json(&admin, &format!("/api/dash/agents/{a}/")).await["name"], "agent-a");
    // Assigning the other agent shows it on the viewer's next request.
    let users: Value = app.dash_json(&admin, "/api/dash/users/").await;
    let vid = users.as_array().unwrap().iter().find(|u| u["email"] == "client@example.com").unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = app
        .dash_send(&admin, Method::PATCH, &format!("/api/dash/users/{vid}/"), json!({"agents": [a, b]}))
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.dash_get(&viewer, &format!("/api/metrics/overview/?agent={b}")).await.status(), 200);
}

#[tokio::test]
async fn users_are_managed_by_admins_and_the_last_admin_stays() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let me: Value = app.dash_json(&admin, "/api/auth/me/").await;
    let my_id = me["user"]["id"].as_i64().unwrap();
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/dash/users/",
            json!({"email": "v@example.com", "password": PASSWORD, "role": "viewer", "agents": [999]}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("agents").is_some());
    let viewer = app.viewer(&admin, "v@example.com", &[app.agent_a]).await;
    let dup = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/dash/users/",
            json!({"email": "V@example.com", "password": PASSWORD, "role": "viewer"}),
        )
        .await;
    assert_eq!(dup.status(), 400);
    assert!(dup.json::<Value>().await.unwrap().get("email").is_some());
    let demote = app
        .dash_send(&admin, Method::PATCH, &format!("/api/dash/users/{my_id}/"), json!({"role": "viewer"}))
        .await;
    assert_eq!(demote.status(), 400);
    assert!(demote.json::<Value>().await.unwrap().get("role").is_some());
    let me_delete =
        app.dash_send(&admin, Method::DELETE, &format!("/api/dash/users/{my_id}/"), json!({})).await;
    assert_eq!(me_delete.status(), 400);
    let users: Value = app.dash_json(&admin, "/api/dash/users/").await;
    let vid = users[1]["id"].as_i64().unwrap();
    assert_eq!(users[1]["agents"], json!([app.agent_a]));
    let r = app
        .dash_send(
            &admin,
            Method::PATCH,
            &format!("/api/dash/users/{vid}/"),
            json!({"password": "another long one"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        app.dash_get(&viewer, "/api/auth/me/").await.status(),
        401,
        "a new password ends the sessions"
    );
    assert_eq!(app.login("v@example.com", "another long one").await.status(), 200);
    let r = app.dash_send(&admin, Method::DELETE, &format!("/api/dash/users/{vid}/"), json!({})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.login("v@example.com", "another long one").await.status(), 400);
    // Your own password: the current one is checked and this session stays.
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/auth/password/",
            json!({"current_password": "wrong", "new_password": "brand new password"}),
        )
        .await;
    assert_eq!(r.status(), 400);
    assert!(r.json::<Value>().await.unwrap().get("current_password").is_some());
    let r = app
        .dash_send(
            &admin,
            Method::POST,
            "/api/auth/password/",
            json!({"current_password": PASSWORD, "new_password": "brand new password"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(app.dash_get(&admin, "/api/auth/me/").await.status(), 200);
}

#[tokio::test]
async fn agents_are_renamed_and_branded_and_viewers_see_the_branding() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = app.agent_a;
    let viewer = app.viewer(&admin, "client@example.com", &[a]).await;
    let png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    let bad = app
        .dash_send(
            &admin,
            Method::PATCH,
            &format!("/api/dash/agents/{a}/"),
            json!({"name": "ok", "branding": {"logo": "data:text/html;base64,PGI+", "accent_color": "red"}}),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let body: Value = bad.json().await.unwrap();
    assert!(body.get("branding.logo").is_some() && body.get("branding.accent_color").is_some(), "{body}");
    assert_eq!(
        app.dash_json(&admin, &format!("/api/dash/agents/{a}/")).await["name"],
        "agent-a",
        "nothing written"
    );
    let r = app
        .dash_send(
            &admin,
            Method::PATCH,
            &format!("/api/dash/agents/{a}/"),
            json!({
            "name": "Acme bot", "escalation_tools": ["call_support"],
            "branding": {"display_name": "Acme Support", "accent_color": "#1F77B4", "logo": png}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let agent: Value = r.json().await.unwrap();
    assert_eq!(agent["name"], "Acme bot");
    assert_eq!(agent["escalation_tools"], json!(["call_support"]));
    assert_eq!(agent["branding"]["accent_color"], "#1f77b4");
    let logo_url = agent["branding"]["logo_url"].as_str().unwrap().to_string();
    let seen: Value = app.dash_json(&viewer, &format!("/api/dash/agents/{a}/")).await;
    assert_eq!(seen["branding"]["display_name"], "Acme Support");
    let logo = app.dash_get(&viewer, &logo_url).await;
    assert_eq!(logo.status(), 200, "the path names the agent: a session needs no agent=");
    let other = app.dash_get(&viewer, &format!("{logo_url}&agent={}", app.agent_b)).await;
    assert_eq!(other.status(), 404, "agent= that contradicts the path");
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.headers()["x-content-type-options"], "nosniff");
    assert_eq!(&logo.bytes().await.unwrap()[..4], &[0x89, b'P', b'N', b'G']);
    let r = app
        .dash_send(
            &admin,
            Method::PATCH,
            &format!("/api/dash/agents/{a}/"),
            json!({"escalation_tools": null, "branding": {"logo": null}}),
        )
        .await;
    let agent: Value = r.json().await.unwrap();
    assert_eq!(
        (agent["escalation_tools_default"].clone(), agent["branding"]["logo_url"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(agent["branding"]["display_name"], "Acme Support", "keys not sent are kept");
}

#[tokio::test]
async fn a_key_revoked_in_the_settings_stops_working() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = app.agent_a;
    let r = app
        .dash_send(&admin, Method::POST, &format!("/api/dash/agents/{a}/keys/"), json!({"role": "read"}))
        .await;
    assert_eq!(r.status(), 201);
    let created: Value = r.json().await.unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    assert_eq!(app.get_as(&key, "/api/conversations/").await.status(), 200);
    let keys: Value = app.dash_json(&admin, &format!("/api/dash/agents/{a}/keys/")).await;
    assert!(keys.as_array().unwrap().iter().all(|k| k.get("key").is_none()), "secrets are shown once");
    assert_eq!(keys.as_array().unwrap().len(), 3);
    let id = created["id"].as_i64().unwrap();
    let r = app.dash_send(&admin, Method::DELETE, &format!("/api/dash/keys/{id}/"), json!({})).await;
    assert_eq!(r.status(), 200);
    assert!(r.json::<Value>().await.unwrap()["revoked_at"].is_string());
    tokio::time::sleep(crate::helpers::KEY_CACHE_WAIT).await;
    assert_eq!(app.get_as(&key, "/api/conversations/").await.status(), 401);
    assert_eq!(
        app.dash_send(&admin, Method::DELETE, &format!("/api/dash/keys/{id}/"), json!({})).await.status(),
        404
    );
}

#[tokio::test]
async fn a_share_link_reads_the_overview_without_an_account_and_changes_nothing() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = app.agent_a;
    app.message("s1", "end_user", "hi", "2026-05-01T10:00:00Z").await;
    let r = app
        .dash_send(&admin, Method::POST, &format!("/api/dash/agents/{a}/shares/"), json!({"label": "Acme"}))
        .await;
    assert_eq!(r.status(), 201);
    let share: Value = r.json().await.unwrap();
    let token = share["token"].as_str().unwrap().to_string();
    assert_eq!(share["url"], format!("/share/{token}"));
    let o = app.share_get(&token, "/api/metrics/overview/?from=2026-05-01&to=2026-05-01").await;
    assert_eq!(o.status(), 200);
    let o: Value = o.json().await.unwrap();
    assert_eq!((o["agent"]["id"].as_i64(), o["total_messages"].as_i64()), (Some(a), Some(1)));
    assert_eq!(app.share_get(&token, "/api/metrics/timeseries/?metric=messages").await.status(), 200);
    assert_eq!(app.share_get(&token, "/api/metrics/users/?interval=week").await.status(), 200);
    assert_eq!(app.share_get(&token, "/api/metrics/live/").await.status(), 200);
    assert_eq!(
        app.share_get(&token, &format!("/api/metrics/overview/?agent={}", app.agent_b)).await.status(),
        404
    );
    let info: Value = app.share_get(&token, "/api/share/info/").await.json().await.unwrap();
    assert_eq!(info["agent"]["name"], "agent-a");
    let by_query =
        app.client.get(format!("{}/api/metrics/live/?share={token}", app.base)).send().await.unwrap();
    assert_eq!(by_query.status(), 200);
    for path in
        ["/api/conversations/", "/api/dash/export/conversations.csv", "/api/dash/agents/", "/api/auth/me/"]
    {
        let r = app.share_get(&token, path).await;
        assert!(matches!(r.status().as_u16(), 401 | 403), "{path}: {}", r.status());
        assert_ne!(r.status(), 200);
    }
    for (method, path) in [
        (Method::POST, "/api/conversations/1/mark/".to_string()),
        (Method::PATCH, format!("/api/dash/agents/{a}/")),
        (Method::POST, format!("/api/dash/agents/{a}/shares/")),
        (Method::PATCH, "/api/agent/settings/".to_string()),
    ] {
        let r = app
            .client
            .request(method.clone(), format!("{}{path}", app.base))
            .header("X-Share-Token", &token)
            .json(&json!({"is_marked": true, "name": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method} {path}");
    }
    // Revoked: refused at once.
    let id = share["id"].as_i64().unwrap();
    assert_eq!(
        app.dash_send(&admin, Method::DELETE, &format!("/api/dash/shares/{id}/"), json!({})).await.status(),
        200
    );
    let r = app.share_get(&token, "/api/metrics/overview/").await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["detail"], "This share link has expired or was revoked.");
    let listed: Value = app.dash_json(&admin, &format!("/api/dash/agents/{a}/shares/")).await;
    assert!(listed[0]["revoked_at"].is_string() && listed[0].get("token").is_none());
}

#[tokio::test]
async fn an_expired_share_link_is_refused() {
    use agentsight_store::ShareStore;
    let app = spawn_app().await;
    let token = agentsight_core::dashboard::generate_token(agentsight_core::dashboard::SHARE_PREFIX);
    let now = agentsight_core::time::now_micros();
    app.store
        .create_share(agentsight_store::NewShare {
            agent_id: app.agent_a,
            label: None,
            token_prefix: token.prefix.clone(),
            token_hash: token.hash,
            expires_at: Some(now - 1),
            created_at: now - 10,
        })
        .await
        .unwrap();
    assert_eq!(app.share_get(&token.secret, "/api/metrics/overview/").await.status(), 401);
    assert_eq!(app.share_get(&token.secret, "/api/share/info/").await.status(), 401);
    let admin = app.admin().await;
    let past = app
        .dash_send(
            &admin,
            Method::POST,
            &format!("/api/dash/agents/{}/shares/", app.agent_a),
            json!({"expires_at": "2000-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(past.status(), 400);
    assert!(past.json::<Value>().await.unwrap().get("expires_at").is_some());
}

/// Reads the event stream until an event of this name arrives; its data.
async fn next_event(r: &mut Response, buf: &mut String, name: &str) -> Value {
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let event = block.lines().find_map(|l| l.strip_prefix("event: ")).unwrap_or("");
            let data = block.lines().find_map(|l| l.strip_prefix("data: "));
            if event == name {
                return serde_json::from_str(data.unwrap()).unwrap();
            }
        }
        let chunk = r.chunk().await.unwrap().expect("the stream ended");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn the_live_feed_sends_an_update_after_a_write() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = app.agent_a;
    let mut r = app.dash_get(&admin, &format!("/api/dash/live/?agent={a}")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let mut buf = String::new();
    let live =
        tokio::time::timeout(Duration::from_secs(10), next_event(&mut r, &mut buf, "live")).await.unwrap();
    assert_eq!(live["agent"]["id"], a);
    // Another agent's writes do not wake this stream; this agent's do.
    app.post_as(
        &app.other_key,
        "/api/track/",
        &json!({"conversation_id": "o", "sender": "agent", "content": "x"}),
    )
    .await;
    app.conversation("l1", json!({})).await;
    app.message("l1", "end_user", "now", &chrono::Utc::now().to_rfc3339()).await;
    let update =
        tokio::time::timeout(Duration::from_secs(10), next_event(&mut r, &mut buf, "update")).await.unwrap();
    assert_eq!(update["agent_id"], a, "{update}");
    // Both writes land in one coalesced update, or the second in the next one.
    let mut total = (update["messages"].as_u64().unwrap(), update["conversations"].as_u64().unwrap());
    if total != (1, 1) {
        let more = tokio::time::timeout(Duration::from_secs(10), next_event(&mut r, &mut buf, "update"))
            .await
            .unwrap();
        total.0 += more["messages"].as_u64().unwrap();
        total.1 += more["conversations"].as_u64().unwrap();
    }
    assert_eq!(total, (1, 1), "{update}");
    let share_stream = app
        .client
        .get(format!("{}/api/dash/live/?share=shr_{}", app.base, "0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(share_stream.status(), 401);
}

fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    r.records().map(|rec| rec.unwrap().iter().map(str::to_string).collect()).collect()
}

#[tokio::test]
async fn the_csv_export_holds_exactly_the_stored_data_matching_the_filters() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let a = app.agent_a;
    app.conversation("e1", json!({"customer_id": "u, \"1\"", "device": "mobile", "metadata": {"feedback": 5}, "timestamp": "2026-05-01T09:00:00Z"})).await;
    app.message("e1", "end_user", "line one\nline \"two\", with comma", "2026-05-01T09:00:01Z").await;
    app.message("e1", "agent", "=HYPERLINK(\"x\")", "2026-05-01T09:00:02Z").await;
    app.conversation("e2", json!({"device": "desktop", "timestamp": "2026-05-01T10:00:00Z"})).await;
    app.message("e2", "end_user", "other", "2026-05-01T10:00:01Z").await;
    let r =
        app.dash_get(&admin, &format!("/api/dash/export/conversations.csv?agent={a}&device=mobile")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(r.headers()["content-disposition"].to_str().unwrap().starts_with("attachment"));
    let rows = parse_csv(&r.text().await.unwrap());
    assert_eq!(rows.len(), 2, "header and the one mobile conversation");
    assert_eq!(rows[0][..3], ["id", "conversation_id", "name"]);
    let col = |name: &str| rows[0].iter().position(|c| c == name).unwrap();
    let stored: Value = app.get_json("/api/conversations/?conversation_id=e1").await;
    let c = &stored["results"][0];
    assert_eq!(rows[1][col("id")], c["id"].to_string());
    assert_eq!(rows[1][col("customer_id")], "u, \"1\"");
    assert_eq!(rows[1][col("started_at")], c["started_at"].as_str().unwrap());
    assert_eq!(rows[1][col("ended_at")], c["ended_at"].as_str().unwrap());
    assert_eq!(rows[1][col("message_count")], "2");
    assert_eq!(rows[1][col("feedback")], "positive", "metadata.feedback 5 is positive");
    assert_eq!(rows[1][col("escalated")], "false");
    assert_eq!(serde_json::from_str::<Value>(&rows[1][col("metadata")]).unwrap(), json!({"feedback": 5}));
    let m = app.dash_get(&admin, &format!("/api/dash/export/messages.csv?agent={a}&device=mobile")).await;
    let rows = parse_csv(&m.text().await.unwrap());
    assert_eq!(
        rows[0],
        ["conversation_pk", "conversation_id", "message_id", "timestamp", "kind", "sender", "content"]
    );
    let t: Value = app.get_json(&format!("/api/conversations/{}/", c["id"])).await;
    assert_eq!(rows.len(), 3);
    for (row, msg) in rows[1..].iter().zip(t["messages"].as_array().unwrap()) {
        assert_eq!(row[2], msg["id"].to_string());
        assert_eq!(row[3], msg["timestamp"].as_str().unwrap());
        assert_eq!(row[5], msg["sender"].as_str().unwrap());
    }
    assert_eq!(rows[1][6], "line one\nline \"two\", with comma");
    assert_eq!(rows[2][6], "'=HYPERLINK(\"x\")", "a formula is defused");
    let all = app.dash_get(&admin, &format!("/api/dash/export/conversations.csv?agent={a}")).await;
    assert_eq!(parse_csv(&all.text().await.unwrap()).len(), 3);
}
