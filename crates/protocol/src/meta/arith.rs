//! Meta arithmetic.
//!
//! ```text
//! ma <key> <flag>*\r\n
//! ```
//!
//! Flags: `b C D E J k M N O q t T v`; `M` is `I`/`+` (increment, the default) or `D`/`-`.
//! Any flag error is `CLIENT_ERROR invalid or duplicate flag`. An `O` longer than 32 bytes
//! is found only after the number has changed (the server checks it).

use super::{read_flags, request, MetaCommand};
use crate::text::{Command, Request, Tokens};
use crate::Rejection;

/// Is `mode` an increment (`Some(true)`), a decrement, or not a mode of `ma`'s?
pub fn is_incr(mode: Option<u8>) -> Option<bool> {
    match mode {
        None | Some(b'I' | b'+') => Some(true),
        Some(b'D' | b'-') => Some(false),
        Some(_) => None,
    }
}

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> Result<Command<'a>, Rejection> {
    let flags =
        read_flags(tokens, 2).map_err(|_| super::handler_error("invalid or duplicate flag"))?;
    if is_incr(flags.opts.mode).is_none() {
        return Err(super::handler_error("invalid mode for ma M token"));
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
                "CLIENT_ERROR invalid mode for ma M token\r\n",
            ),
            (
                b"ma n M\r\n",
                "CLIENT_ERROR invalid mode for ma M token\r\n",
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
