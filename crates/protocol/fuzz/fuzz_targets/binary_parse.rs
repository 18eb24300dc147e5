//! Feeds arbitrary bytes to the binary-protocol parser as a connection would. It must never
//! panic, never claim bytes it was not given, and always make progress.
#![no_main]

use ferrocache_protocol::binary::parse;
use ferrocache_protocol::{Limits, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        item_size_max: 4096,
        cas_enabled: true,
    };
    let mut rest = data;
    let mut swallow = 0usize;
    while !rest.is_empty() {
        if swallow > 0 {
            let n = swallow.min(rest.len());
            rest = &rest[n..];
            swallow -= n;
            continue;
        }
        match parse(rest, &limits) {
            Parsed::Complete(request, used) => {
                assert!(used >= 24 && used <= rest.len());
                assert!(request.key.len() <= usize::from(request.header.key_len));
                swallow = request.swallow;
                rest = &rest[used..];
            }
            Parsed::Rejected(_, _) => break,
            Parsed::Incomplete(need) => {
                assert!(need.is_some_and(|n| n > rest.len()));
                break;
            }
        }
    }
});
