//! The store contract suite's configuration tests against a real PostgreSQL, and this
//! backend's own: two nodes migrating at once, a newer schema refused, checked writes from two
//! nodes at once, an unreachable server answered as `Unavailable`.
//!
//! Needs a server: `scripts/postgres-test-server.sh start DIR PORT` starts a throwaway one and
//! prints the URL to export as `AGENTSIGHT_TEST_POSTGRES` (scripts/test.sh does this). Each
//! test works in a fresh schema of its own, dropped when it ends, so tests run in parallel.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use agentsight_core::dashboard::UserRole;
use agentsight_store::prelude::*;
use agentsight_store::{NewUser, StoreError};
use agentsight_store_postgres::{PostgresOptions, PostgresStore, SCHEMA_VERSION};
use tokio_postgres::NoTls;

const URL_VAR: &str = "AGENTSIGHT_TEST_POSTGRES";

fn url() -> String {
    match std::env::var(URL_VAR) {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "{URL_VAR} is not set: these tests need a PostgreSQL server. Start a throwaway one with \
             `scripts/postgres-test-server.sh start \"$(mktemp -d)\" 54329` (Debian: apt-get install -y \
             postgresql) and export {URL_VAR}=<the URL it prints>"
        ),
    }
}

async fn admin_client(url: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to {URL_VAR}={url}: {e}"));
    tokio::spawn(conn);
    client
}

/// A fresh schema of its own, dropped when the test ends.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn new() -> Schema {
        let url = url();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        admin_client(&url).await.batch_execute(&format!("CREATE SCHEMA {name}")).await.unwrap();
        Schema { url, name }
    }

    fn options(&self) -> PostgresOptions {
        PostgresOptions::new(&self.url).schema(&self.name).max_connections(4)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Dropped inside the test's runtime, which cannot block on it: a thread with a runtime
        // of its own drops the schema.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let (c, conn) = tokio_postgres::connect(&url, NoTls).await?;
                tokio::spawn(conn);
                c.batch_execute(&format!("DROP SCHEMA {name} CASCADE")).await
            })
        })
        .join();
    }
}

async fn fresh() -> (PostgresStore, Schema) {
    let schema = Schema::new().await;
    let store = PostgresStore::connect(schema.options()).await.unwrap();
    (store, schema)
}

agentsight_store::config_contract_tests!(fresh);

/// Nodes starting at once: every one connects, the migrations are applied once, and a node
/// starting later keeps what is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_starting_at_once_migrate_once() {
    let schema = Schema::new().await;
    let opts = schema.options();
    let (a, b, c) = tokio::join!(
        PostgresStore::connect(opts.clone()),
        PostgresStore::connect(opts.clone()),
        PostgresStore::connect(opts.clone())
    );
    let (a, _b, _c) = (a.unwrap(), b.unwrap(), c.unwrap());
    let versions: Vec<i32> = admin_client(&schema.url)
        .await
        .query(&format!("SELECT version FROM {}.agentsight_migrations ORDER BY version", schema.name), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, (1..=SCHEMA_VERSION as i32).collect::<Vec<_>>());
    let agent = a.create_agent("kept".into(), 1).await.unwrap();
    let later = PostgresStore::connect(opts).await.unwrap();
    assert_eq!(later.agent(agent.id).await.unwrap().unwrap().name, "kept");
}

/// A schema migrated by a newer build is refused, not written to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let schema = Schema::new().await;
    drop(PostgresStore::connect(schema.options()).await.unwrap());
    admin_client(&schema.url)
        .await
        .execute(&format!("INSERT INTO {}.agentsight_migrations (version) VALUES (999)", schema.name), &[])
        .await
        .unwrap();
    match PostgresStore::connect(schema.options()).await {
        Err(e @ StoreError::Internal { .. }) => {
            let m = agentsight_store::chain(&e).to_string();
            assert!(m.contains("newer than this binary"), "{m}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn admin(email: &str) -> NewUser {
    NewUser {
        email: email.into(),
        password_hash: "h".into(),
        role: UserRole::Admin,
        agents: vec![],
        created_at: 1,
    }
}

/// Checked writes from two nodes at once stay checked: one first admin, one agent per name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checked_writes_from_two_nodes_at_once() {
    let schema = Schema::new().await;
    let one = PostgresStore::connect(schema.options()).await.unwrap();
    let two = PostgresStore::connect(schema.options()).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = if i % 2 == 0 { one.clone() } else { two.clone() };
        tasks.push(tokio::spawn(async move {
            let first = s.create_first_admin(admin(&format!("a{i}@x.io"))).await.unwrap();
            let agent = s.create_agent("same".into(), i).await;
            (first.is_some(), agent)
        }));
    }
    let (mut admins, mut agents) = (0, 0);
    for t in tasks {
        let (first, agent) = t.await.unwrap();
        admins += usize::from(first);
        match agent {
            Ok(_) => agents += 1,
            Err(StoreError::Conflict { field: "name", .. }) => {}
            Err(e) => panic!("expected a name conflict, got {e:?}"),
        }
    }
    assert_eq!((admins, agents), (1, 1));
    assert_eq!(one.list_users().await.unwrap().len(), 1);
}

/// A server that cannot be reached is `Unavailable` (retry later), not an internal error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_server_is_unavailable() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let opts = PostgresOptions::new(format!("postgres://nobody@127.0.0.1:{port}/none"));
    match PostgresStore::connect(opts).await {
        Err(e @ StoreError::Unavailable { .. }) => assert_eq!(e.unavailable_dependency(), Some("postgresql")),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
