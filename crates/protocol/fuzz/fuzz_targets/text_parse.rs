//! Feeds arbitrary bytes to the text-protocol parser as a connection would: parse a request,
//! drop the bytes it used (and any data block it says to swallow), repeat. The parser must
//! never panic, never claim bytes it was not given, and always make progress.
#![no_main]

use ferrocache_protocol::text::{encode, parse, Request};
use ferrocache_protocol::{Limits, Parsed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        item_size_max: 4096,
        cas_enabled: data.first().is_some_and(|b| b & 1 == 0),
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
                assert!(used > 0 && used <= rest.len());
                if let Request::TooLarge { swallow: s, .. } | Request::MetaTooLarge { swallow: s, .. } =
                    request
                {
                    swallow = s;
                } else if !matches!(
                    request,
                    // Key lists keep the client's spacing; the other two carry "unreadable".
                    Request::Get { .. }
                        | Request::Shutdown { graceful: None }
                        | Request::FlushAll { delay: None, .. }
                ) {
                    // What was understood can be written back and understood the same way.
                    let again = encode(&request);
                    match parse(&again, &limits) {
                        Parsed::Complete(reparsed, n) => {
                            assert_eq!(n, again.len());
                            assert_eq!(reparsed, request);
                        }
                        other => panic!("{request:?} encoded as {again:?} parses as {other:?}"),
                    }
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
