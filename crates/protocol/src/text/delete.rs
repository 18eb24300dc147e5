//! ```text
//! delete <key> [0] [noreply]\r\n
//! ```
//!
//! memcached 1.6.45 ignores any other extra token (1.6.18 refused them).

use super::{key_ok, want, Command, LineResult, Request, Tokens};

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let n = tokens.ntokens();
    want(tokens, (3..=5).contains(&n))?;
    // memcached looks for `noreply` only after the key: a key named "noreply" is a key.
    let noreply = n > 3 && tokens.noreply();
    let key = tokens.toks[1];
    key_ok(key, noreply)?;
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
        ];
        assert_eq!(
            complete(b"delete noreply\r\n"),
            Request::Delete {
                key: b"noreply",
                noreply: false
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
        assert_eq!(rejected(b"delete\r\n").0, "ERROR\r\n");
        assert_eq!(rejected(b"delete a b c d\r\n").0, "ERROR\r\n");
        let long = format!("delete {}\r\n", "k".repeat(251));
        assert_eq!(
            rejected(long.as_bytes()).0,
            "CLIENT_ERROR bad command line format\r\n"
        );
    }
}
