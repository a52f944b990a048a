//! `POST /api/ingest/` with a plain JSON body: the envelope (bounded blocks and spans), every
//! block and span validated, enriched: `fuzzing::span_batch_input`.
//! An error must be a 4xx (`fuzzing::check`).
#![no_main]

use agentsight_server::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzzing::check("span_batch", fuzzing::span_batch_input(data)));
