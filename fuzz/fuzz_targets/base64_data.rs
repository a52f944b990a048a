//! Base64 the routes decode: a branding logo's `data:` URL, a file of a base64 JSON upload:
//! `fuzzing::base64_data_input`.
//! An error must be a 4xx (`fuzzing::check`).
#![no_main]

use agentsight_server::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzzing::check("base64_data", fuzzing::base64_data_input(data)));
