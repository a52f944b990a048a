//! The HTTP worker's share of `POST /api/ingest/`, without HTTP: a gzipped batch as the load
//! generator sends it (510 spans, turns of three) decompressed, parsed and validated whole, as
//! the handler does before the batch goes to the archive.
//! `cargo bench -p agentsight-loadgen --bench validate`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

// The load generator's own batch builder (its unit tests come along, unused here).
#[allow(dead_code, unused_imports)]
#[path = "../src/spans.rs"]
mod spans;

use agentsight_core::archive::{Encoding, decode_as};
use agentsight_core::spans::validate_batch;
use agentsight_core::tracking::AgentScope;
use agentsight_protocol::v01::IngestPayload;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SPANS: u64 = 510;

fn bench_validate(c: &mut Criterion) {
    let now = 1_780_000_000_000_000;
    let bodies: Vec<Vec<u8>> = (0..8)
        .map(|b| {
            let (gz, n) =
                spans::batch("bench", b, SPANS, 1000, now, spans::Ids::Random(spans::seed("bench"))).unwrap();
            assert_eq!(n, SPANS);
            gz
        })
        .collect();
    let scope = AgentScope { agent_id: 1, environments: vec!["production".into()] };
    let mut group = c.benchmark_group("ingest_batch");
    group.throughput(Throughput::Elements(SPANS));
    let mut i = 0;
    group.bench_function("gunzip_parse_validate_510_spans", |b| {
        b.iter(|| {
            let gz = &bodies[i % bodies.len()];
            i += 1;
            let body = decode_as(Encoding::Gzip, gz, 16 << 20).unwrap();
            let p: IngestPayload<'_> = serde_json::from_str(&body).unwrap();
            let ingest = validate_batch(&scope, &body, &p, now).unwrap();
            assert_eq!(ingest.span_count() as u64, SPANS);
            ingest
        })
    });
    group.finish();
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);
