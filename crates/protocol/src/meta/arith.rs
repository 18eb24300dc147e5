//! Meta arithmetic.
//!
//! ```text
//! ma <key> <flag>*\r\n
//! ```
//!
//! Flags: `b C D E J k M N O q T t c v` (and the other known flags, ignored). `M` is `I` or
//! `+` to increment (the default), `D` or `-` to decrement. Bad flags get `CLIENT_ERROR
//! invalid or duplicate flag`. An `O` token over 32 bytes is refused only after the number has
//! changed, as memcached does it, so that check is the server's.

use super::{common, read_flags, request, MetaCommand};
use crate::text::{Command, Request, Tokens};
use crate::Rejection;

/// Is an `ma` mode character an increment (`Some(true)`), a decrement, or neither?
pub fn is_incr(mode: Option<u8>) -> Option<bool> {
    match mode {
        None | Some(b'I' | b'+') => Some(true),
        Some(b'D' | b'-') => Some(false),
        Some(_) => None,
    }
}

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> Result<Command<'a>, Rejection> {
    let key = common(tokens, "options flags too long")?;
    let flags = read_flags(key, &tokens.toks[2..])
        .map_err(|_| super::client_error("invalid or duplicate flag"))?;
    if is_incr(flags.opts.mode).is_none() {
        return Err(super::client_error("invalid mode for ma M token"));
    }
    Ok(Command::Ready(Request::Meta(request(
        MetaCommand::Arith,
        flags,
    ))))
}

#[cfg(test)]
mod tests {
    use super::is_incr;
    use crate::meta::test_util::*;

    #[test]
    fn known_answers() {
        let m = meta(b"ma n N0 J7 MD v D5\r\n");
        assert_eq!(is_incr(m.opts.mode), Some(false));
        assert_eq!(
            (m.opts.initial, m.opts.delta, m.opts.vivify),
            (Some(7), Some(5), Some(0))
        );
        let table: &[(&[u8], &str)] = &[
            (
                b"ma n MX\r\n",
                "CLIENT_ERROR invalid mode for ma M token\r\n",
            ),
            (
                b"ma n Mi\r\n",
                "CLIENT_ERROR invalid mode for ma M token\r\n",
            ),
            (
                b"ma n Mxx\r\n",
                "CLIENT_ERROR invalid or duplicate flag\r\n",
            ),
            (b"ma n Dx\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
            (
                b"ma n D-1\r\n",
                "CLIENT_ERROR invalid or duplicate flag\r\n",
            ),
            (b"ma n z\r\n", "CLIENT_ERROR invalid or duplicate flag\r\n"),
        ];
        for (input, want) in table {
            assert_eq!(refused(input), (want.to_string(), 0));
        }
    }
}
