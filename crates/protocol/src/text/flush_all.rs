//! ```text
//! flush_all [delay] [noreply]\r\n
//! ```
//!
//! The delay is read strictly (digits and a leading `-`); tokens after it are ignored. An
//! unreadable delay is still a `flush_all` as far as the `cmd_flush` counter goes, so it is
//! reported to the server as `delay: None` rather than rejected here.

use super::{Command, LineResult, Request, Tokens};
use crate::number::tok_i32;

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    let delay = if tokens.ntokens() != if noreply { 2 } else { 1 } {
        tokens.get(1).and_then(tok_i32)
    } else {
        Some(0)
    };
    Ok(Command::Ready(Request::FlushAll { delay, noreply }))
}

#[cfg(test)]
mod tests {
    use crate::text::test_util::complete;
    use crate::text::Request;

    #[test]
    fn flush_all_known_answers() {
        let table: &[(&[u8], Option<i32>, bool)] = &[
            (b"flush_all\r\n", Some(0), false),
            (b"flush_all noreply\r\n", Some(0), true),
            (b"flush_all 10\r\n", Some(10), false),
            (b"flush_all 10 noreply\r\n", Some(10), true),
            (b"flush_all -1\r\n", Some(-1), false),
            (b"flush_all abc\r\n", None, false),
            (b"flush_all noreply x\r\n", None, false),
            (b"flush_all 1 2 3\r\n", Some(1), false),
            (b"flush_all +1\r\n", None, false),
        ];
        for (input, delay, noreply) in table {
            assert_eq!(
                complete(input),
                Request::FlushAll {
                    delay: *delay,
                    noreply: *noreply
                },
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
