//! Feeds arbitrary bytes after a meta command name to the parser, as a connection would (see
//! `common/drive.rs` for what must hold).
#![no_main]

#[path = "common/drive.rs"]
mod drive;

use ferrocache_protocol::Limits;
use libfuzzer_sys::fuzz_target;

const NAMES: [&[u8]; 6] = [b"mg ", b"ms ", b"md ", b"ma ", b"me ", b"mn"];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let mut buf = NAMES[usize::from(pick) % NAMES.len()].to_vec();
    buf.extend_from_slice(body);
    let limits = Limits {
        item_size_max: 4096,
        cas_enabled: pick & 0x80 == 0,
    };
    drive::drive(&buf, &limits);
});
