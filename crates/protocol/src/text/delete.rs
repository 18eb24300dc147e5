//! ```text
//! delete <key> [noreply]\r\n
//! ```
//!
//! memcached 1.6.45 ignores any token after the key (1.6.18's `delete <key> 0` compatibility
//! is gone with its error for other tokens); `noreply` is the last token.

use super::{bad_format, check_key, Command, LineResult, Request, Tokens};

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    if tokens.ntokens() < 2 {
        return Err(bad_format());
    }
    let noreply = tokens.noreply();
    let key = tokens.toks[1];
    check_key(key, noreply)?;
    Ok(Command::Ready(Request::Delete { key, noreply }))
}

#[cfg(test)]
mod tests {
    use crate::text::test_util::*;
    use crate::text::Request;

    #[test]
    fn delete_known_answers() {
        let table: &[(&[u8], bool)] = &[
            (b"delete k\r\n", false),
            (b"delete k noreply\r\n", true),
            (b"delete k 0\r\n", false),
            (b"delete k 0 noreply\r\n", true),
            (b"delete k extra\r\n", false),
            (b"delete k a b c d\r\n", false),
        ];
        assert_eq!(
            complete(b"delete noreply\r\n"),
            Request::Delete {
                key: b"noreply",
                noreply: true
            }
        );
        for (input, noreply) in table {
            assert_eq!(
                complete(input),
                Request::Delete {
                    key: b"k",
                    noreply: *noreply
                }
            );
        }
        assert_eq!(
            rejected(b"delete\r\n").0,
            "CLIENT_ERROR bad command line format\r\n"
        );
        assert_eq!(
            rejected(format!("delete {} noreply\r\n", "k".repeat(251)).as_bytes()).0,
            ""
        );
        let long = format!("delete {}\r\n", "k".repeat(251));
        assert_eq!(
            rejected(long.as_bytes()).0,
            "CLIENT_ERROR bad command line format\r\n"
        );
    }
}
