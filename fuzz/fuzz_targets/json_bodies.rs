//! The JSON bodies of the write routes (0.0.x tracking and attachments, conversation patches,
//! the 0.1.x data plane), parsed into the wire type and validated: `fuzzing::json_bodies_input`.
//! An error must be a 4xx (`fuzzing::check`).
#![no_main]

use agentsight_server::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzzing::check("json_bodies", fuzzing::json_bodies_input(data)));
