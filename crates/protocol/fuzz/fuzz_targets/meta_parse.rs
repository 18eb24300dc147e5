//! Feeds arbitrary bytes after a meta command name to the parser, as a connection would. The
//! parser must never panic, never claim bytes it was not given, always make progress, and
//! what it understood must encode back to bytes it understands the same way.
#![no_main]

use ferrocache_protocol::text::{encode, parse, Request};
use ferrocache_protocol::{Limits, Parsed};
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
    let mut rest = &buf[..];
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
                assert!(used > 0 && used <= rest.len());
                match &request {
                    Request::TooLarge { swallow: s, .. }
                    | Request::MetaTooLarge { swallow: s, .. } => swallow = *s,
                    Request::Meta(m) => {
                        assert!(m.key.len() <= 250);
                        let again = encode(&request);
                        match parse(&again, &limits) {
                            Parsed::Complete(reparsed, n) => {
                                assert_eq!(n, again.len());
                                assert_eq!(reparsed, request);
                            }
                            other => panic!("{request:?} encoded as {again:?} parses as {other:?}"),
                        }
                    }
                    _ => {}
                }
                rest = &rest[used..];
            }
            Parsed::Rejected(rejection, used) => {
                assert!(used > 0 && used <= rest.len());
                swallow = rejection.swallow;
                rest = &rest[used..];
            }
            Parsed::Incomplete(need) => {
                if let Some(total) = need {
                    assert!(total > rest.len());
                }
                break;
            }
        }
    }
});
