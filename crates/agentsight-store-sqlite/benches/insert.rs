//! Writer throughput: `insert_message` from 64 concurrent callers (as 64 HTTP connections would
//! submit), group commit with fsync on and off. `cargo bench -p agentsight-store-sqlite`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use agentsight_core::time::now_micros;
use agentsight_core::tracking::{ConversationRef, NewMessage};
use agentsight_store::{AgentStore, TrackingWriter};
use agentsight_store_sqlite::{SqliteOptions, SqliteStore};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CALLERS: u64 = 64;
const CONVERSATIONS: u64 = 1000;

fn bench_insert(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut group = c.benchmark_group("insert_message");
    group.throughput(Throughput::Elements(CALLERS));
    for fsync in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let mut opts = SqliteOptions::new(dir.path().join("bench.db"));
        opts.fsync = fsync;
        let store = SqliteStore::open(opts).unwrap();
        let agent = rt.block_on(store.create_agent("bench".into(), 0)).unwrap().id;
        let seq = AtomicU64::new(0);
        group.bench_function(if fsync { "64_callers_fsync" } else { "64_callers_no_fsync" }, |b| {
            b.to_async(&rt).iter(|| {
                let handles: Vec<_> = (0..CALLERS)
                    .map(|_| {
                        let n = seq.fetch_add(1, Ordering::Relaxed);
                        let store = store.clone();
                        tokio::spawn(async move {
                            let now = now_micros();
                            store
                                .insert_message(NewMessage {
                                    agent_id: agent,
                                    conversation: ConversationRef::Id(format!("c-{}", n % CONVERSATIONS)),
                                    sender: if n.is_multiple_of(2) { "end_user" } else { "agent" }.into(),
                                    content: format!(
                                        "load message {n}: where is my order, it was due yesterday?"
                                    ),
                                    metadata: "{}".into(),
                                    event_time: now,
                                    received_at: now,
                                })
                                .await
                                .unwrap()
                        })
                    })
                    .collect();
                async move {
                    for h in handles {
                        h.await.unwrap();
                    }
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_insert);
criterion_main!(benches);
