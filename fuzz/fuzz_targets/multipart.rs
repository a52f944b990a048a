//! `POST /api/attachments/` as `multipart/form-data`: the parts read and turned into an upload
//! by the route's own code: `fuzzing::multipart_input`.
//! An error must be a 4xx (`fuzzing::check`).
#![no_main]

use agentsight_server::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzzing::check("multipart", fuzzing::multipart_input(data)));
