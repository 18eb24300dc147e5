//! ```text
//! touch <key> <exptime> [noreply]\r\n
//! ```
//!
//! The exptime is read strictly (digits and a leading `-`).

use super::{bad_format, check_key, error, Command, LineResult, Request, Tokens};
use crate::number::tok_i32;
use crate::Reject;

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    if tokens.ntokens() < 3 {
        return Err(bad_format());
    }
    let noreply = tokens.noreply();
    let key = tokens.toks[1];
    check_key(key, noreply)?;
    let exptime = tok_i32(tokens.toks[2]).ok_or_else(|| {
        error(Reject::ClientError("invalid exptime argument"), noreply).unlogged()
    })?;
    Ok(Command::Ready(Request::Touch {
        key,
        exptime,
        noreply,
    }))
}

#[cfg(test)]
mod tests {
    use crate::text::test_util::*;
    use crate::text::Request;

    #[test]
    fn touch_known_answers() {
        assert_eq!(
            complete(b"touch k 10\r\n"),
            Request::Touch {
                key: b"k",
                exptime: 10,
                noreply: false
            }
        );
        assert_eq!(
            rejected(b"touch k x\r\n").0,
            "CLIENT_ERROR invalid exptime argument\r\n"
        );
        assert_eq!(
            rejected(b"touch k\r\n").0,
            "CLIENT_ERROR bad command line format\r\n"
        );
        assert_eq!(rejected(b"touch k 1.5 noreply\r\n").0, "");
    }
}
