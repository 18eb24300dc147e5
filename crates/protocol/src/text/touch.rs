//! ```text
//! touch <key> <exptime> [noreply]\r\n
//! ```

use super::{error, key_ok, want, Command, LineResult, Request, Tokens};
use crate::number::strtol32;
use crate::Reject;

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let n = tokens.ntokens();
    want(tokens, n == 4 || n == 5)?;
    let noreply = tokens.noreply();
    let key = tokens.toks[1];
    key_ok(key, noreply)?;
    let exptime = strtol32(tokens.toks[2])
        .ok_or_else(|| error(Reject::ClientError("invalid exptime argument"), noreply))?;
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
        assert_eq!(rejected(b"touch k\r\n").0, "ERROR\r\n");
    }
}
