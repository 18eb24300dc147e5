//! The loop the text and meta targets share: feed bytes to the text parser as a connection
//! does (parse a request, drop the bytes it used and any data block to swallow, repeat).
//! The parser must never panic, never claim bytes it was not given, always make progress,
//! and what it understood must encode back to bytes it understands the same way.

use ferrocache_protocol::text::{encode, parse, Request, StatsGroup};
use ferrocache_protocol::{Limits, Parsed};

pub fn drive(data: &[u8], limits: &Limits) {
    let mut rest = data;
    let mut swallow = 0usize;
    while !rest.is_empty() {
        if swallow > 0 {
            let n = swallow.min(rest.len());
            rest = &rest[n..];
            swallow -= n;
            continue;
        }
        match parse(rest, limits) {
            Parsed::Complete(request, used) => {
                assert!(used > 0 && used <= rest.len());
                if let Request::Meta(m) = &request {
                    assert!(m.key.len() <= 250);
                }
                if let Request::TooLarge { swallow: s, .. }
                | Request::MetaTooLarge { swallow: s, .. } = request
                {
                    swallow = s;
                } else if !matches!(
                    request,
                    // Key lists keep the client's spacing; the others carry "unreadable", or
                    // an error line that depends on how the arguments were wrong.
                    Request::Get { .. }
                        | Request::Shutdown { graceful: None, .. }
                        | Request::FlushAll { delay: None, .. }
                        | Request::Stats(StatsGroup::Cachedump(Err(_)))
                ) {
                    let again = encode(&request);
                    match parse(&again, limits) {
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
}
