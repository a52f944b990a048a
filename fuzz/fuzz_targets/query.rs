//! Query strings of the listings, the export and the metrics (dates, time zones, filters,
//! metadata), and the next page's link: `fuzzing::query`.
//! An error must be a 4xx (`fuzzing::check`).
#![no_main]

use agentsight_server::fuzzing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| fuzzing::check("query", fuzzing::query(data)));
