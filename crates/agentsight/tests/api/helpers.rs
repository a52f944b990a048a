//! `spawn_app()` and typed request helpers.

use agentsight_core::keys::{self, Role};
use agentsight_core::time::now_micros;
use agentsight_server::app::{Stores, enrichment};
use agentsight_server::{App, Settings};
use agentsight_store::prelude::*;
use agentsight_store_sqlite::{SqliteOptions, SqliteStore};
use reqwest::{Client, Response};
use serde_json::Value;

/// Longer than the key cache's lifetime: a revoked key is refused after this.
pub const KEY_CACHE_WAIT: std::time::Duration = std::time::Duration::from_millis(1100);

pub struct TestApp {
    pub base: String,
    pub client: Client,
    /// The store (for arranging what the API cannot, such as an expired share link).
    pub store: agentsight_store_sqlite::SqliteStore,
    /// The one-time setup token printed at start.
    pub setup_token: Option<String>,
    /// Agent A's id.
    pub agent_a: i64,
    /// Agent B's id.
    pub agent_b: i64,
    /// Write key of agent A.
    pub key: String,
    /// Read key of agent A.
    pub read_key: String,
    /// Write key of agent B.
    pub other_key: String,
    /// The data directory (created by the app, below a temporary directory).
    pub data_dir: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

/// The app as `agentsight serve` builds it: the SQLite store opened (and its span pipeline
/// recovered), then the server over it.
pub type SqliteApp = App<Stores<SqliteStore, SqliteStore>>;

/// Opens the store the settings point at, as the binary does, and builds the app over it.
pub async fn build_app(settings: Settings) -> SqliteApp {
    let enrich = enrichment(&settings);
    let mut opts = SqliteOptions::new(settings.database_path());
    opts.fsync = settings.fsync;
    opts.metrics_index = settings.metrics_index;
    let (store, _) = SqliteStore::start(opts, &enrich).await.unwrap();
    App::build(settings, Stores { config: store.clone(), events: store }, enrich).await.unwrap()
}

async fn key_for(app: &SqliteApp, agent_id: i64, role: Role) -> String {
    let k = keys::generate();
    app.config().create_key(agent_id, role, k.prefix.clone(), k.hash, now_micros()).await.unwrap();
    k.secret
}

pub async fn spawn_app_with(configure: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_until(configure, std::future::pending()).await.0
}

/// The app, running until `shutdown` resolves (then it drains, as at SIGTERM); the task that
/// runs it.
pub async fn spawn_app_until(
    configure: impl FnOnce(&mut Settings),
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> (TestApp, tokio::task::JoinHandle<std::io::Result<agentsight_server::serve::Drained>>) {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let mut settings = Settings::new(&data_dir);
    settings.listen = "127.0.0.1:0".parse().unwrap();
    configure(&mut settings);
    let app = build_app(settings).await;
    let a = app.config().create_agent("agent-a".into(), now_micros()).await.unwrap();
    let b = app.config().create_agent("agent-b".into(), now_micros()).await.unwrap();
    let key = key_for(&app, a.id, Role::Write).await;
    let read_key = key_for(&app, a.id, Role::Read).await;
    let other_key = key_for(&app, b.id, Role::Write).await;
    let base = format!("http://{}", app.local_addr());
    let store = app.events().clone();
    let setup_token = app.setup_token().map(str::to_string);
    let running = tokio::spawn(app.run_until_stopped(shutdown));
    let app = TestApp {
        base,
        client: Client::new(),
        store,
        setup_token,
        agent_a: a.id,
        agent_b: b.id,
        key,
        read_key,
        other_key,
        data_dir,
        _dir: dir,
    };
    (app, running)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

impl TestApp {
    pub async fn post_as(&self, key: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Api-Key {key}"))
            .json(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, body: &Value) -> Response {
        self.post_as(&self.key, path, body).await
    }

    pub async fn post_raw(&self, path: &str, body: Vec<u8>) -> Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("Authorization", format!("Api-Key {}", self.key))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn get_as(&self, key: &str, path: &str) -> Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header("Authorization", format!("Api-Key {key}"))
            .send()
            .await
            .unwrap()
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self.get_as(&self.key, path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// Upserts a conversation and returns its pk.
    pub async fn conversation(&self, id: &str, extra: Value) -> i64 {
        let mut body = serde_json::json!({ "conversation_id": id });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        let r = self.post("/api/conversations/", &body).await;
        assert!(r.status().is_success(), "upsert {id}: {}", r.status());
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }

    pub async fn message(&self, conversation_id: &str, sender: &str, content: &str, ts: &str) -> i64 {
        let r = self
            .post(
                "/api/track/",
                &serde_json::json!({"conversation_id": conversation_id, "sender": sender,
                    "content": content, "timestamp": ts, "conversation": null, "metadata": {}}),
            )
            .await;
        assert_eq!(r.status(), 201);
        r.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
    }
}
