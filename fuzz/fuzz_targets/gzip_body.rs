//! `POST /api/ingest/` with `Content-Encoding: gzip`: the decompression under the body limit
//! (applied to its output), then the batch: `fuzzing::gzip_body_input`.
//! An error must be a 4xx (`fuzzing::check`).
#![no_main]

use agentsight_server::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzzing::check("gzip_body", fuzzing::gzip_body_input(data)));
