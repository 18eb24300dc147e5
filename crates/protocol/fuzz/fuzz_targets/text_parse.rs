//! Feeds arbitrary bytes to the text-protocol parser as a connection would (see
//! `common/drive.rs` for what must hold).
#![no_main]

#[path = "common/drive.rs"]
mod drive;

use ferrocache_protocol::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        item_size_max: 4096,
        cas_enabled: data.first().is_some_and(|b| b & 1 == 0),
    };
    drive::drive(data, &limits);
});
