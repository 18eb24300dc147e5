//! ```text
//! incr|decr <key> <delta> [noreply]\r\n
//! ```
//!
//! The delta is read strictly: digits only, up to 2^64 - 1.

use super::{bad_format, check_key, error, Command, LineResult, Request, Tokens};
use crate::number::tok_u64;
use crate::Reject;

pub(super) fn parse<'a>(incr: bool, tokens: &Tokens<'a>) -> LineResult<'a> {
    if tokens.ntokens() < 3 {
        return Err(bad_format());
    }
    let noreply = tokens.noreply();
    let key = tokens.toks[1];
    check_key(key, noreply)?;
    let delta = tok_u64(tokens.toks[2]).ok_or_else(|| {
        error(
            Reject::ClientError("invalid numeric delta argument"),
            noreply,
        )
        .unlogged()
    })?;
    Ok(Command::Ready(Request::Arith {
        key,
        incr,
        delta,
        noreply,
    }))
}

#[cfg(test)]
mod tests {
    use crate::text::test_util::*;
    use crate::text::Request;

    #[test]
    fn arith_known_answers() {
        assert_eq!(
            complete(b"incr k 18446744073709551615\r\n"),
            Request::Arith {
                key: b"k",
                incr: true,
                delta: u64::MAX,
                noreply: false
            }
        );
        assert_eq!(
            complete(b"decr k 1 noreply\r\n"),
            Request::Arith {
                key: b"k",
                incr: false,
                delta: 1,
                noreply: true
            }
        );
        assert_eq!(
            rejected(b"incr k -1\r\n").0,
            "CLIENT_ERROR invalid numeric delta argument\r\n"
        );
        assert_eq!(
            rejected(b"incr k 18446744073709551616\r\n").0,
            "CLIENT_ERROR invalid numeric delta argument\r\n"
        );
        assert_eq!(rejected(b"incr k x noreply\r\n").0, "");
        assert_eq!(
            rejected(b"incr k\r\n").0,
            "CLIENT_ERROR bad command line format\r\n"
        );
        assert_eq!(
            rejected(b"incr k +1\r\n").0,
            "CLIENT_ERROR invalid numeric delta argument\r\n"
        );
    }
}
