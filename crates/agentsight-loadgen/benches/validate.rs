//! The HTTP worker's share of `POST /api/ingest/`, without HTTP: parsing a gunzipped batch as
//! the load generator sends it (510 spans, turns of three) and validating it whole, span texts
//! compressed into their chunks included. `cargo bench -p agentsight-loadgen --bench validate`.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

// The load generator's own batch builder (its unit tests come along, unused here).
#[allow(dead_code, unused_imports)]
#[path = "../src/spans.rs"]
mod spans;

use std::io::Read as _;

use agentsight_core::spans::validate_batch;
use agentsight_core::tracking::AgentScope;
use agentsight_protocol::v01::IngestPayload;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SPANS: u64 = 510;

fn bench_validate(c: &mut Criterion) {
    let now = 1_780_000_000_000_000;
    let bodies: Vec<String> = (0..8)
        .map(|b| {
            let (gz, n) =
                spans::batch("bench", b, SPANS, 1000, now, spans::Ids::Random(spans::seed("bench"))).unwrap();
            assert_eq!(n, SPANS);
            let mut s = String::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_string(&mut s).unwrap();
            s
        })
        .collect();
    let scope = AgentScope { agent_id: 1, environments: vec!["production".into()] };
    let mut group = c.benchmark_group("ingest_batch");
    group.throughput(Throughput::Elements(SPANS));
    let mut i = 0;
    group.bench_function("parse_validate_compress_510_spans", |b| {
        b.iter(|| {
            let body = &bodies[i % bodies.len()];
            i += 1;
            let p: IngestPayload<'_> = serde_json::from_str(body).unwrap();
            let ingest = validate_batch(&scope, &p, now).unwrap();
            assert_eq!(ingest.span_count() as u64, SPANS);
            ingest
        })
    });
    group.finish();
}

criterion_group!(benches, bench_validate);
criterion_main!(benches);
