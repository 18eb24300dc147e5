//! Storage commands.
//!
//! ```text
//! set|add|replace|append|prepend <key> <flags> <exptime> <bytes> [noreply]\r\n<data>\r\n
//! cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]\r\n<data>\r\n
//! ```
//!
//! Checked in memcached 1.6.45's order, before any data is waited for:
//!
//! 1. at least five tokens, and a data length of digits (strictly, up to `INT_MAX - 2`):
//!    otherwise `CLIENT_ERROR bad command line format`, shown even with `noreply`, and the
//!    data block is then read as commands;
//! 2. `noreply` is the last token; more tokens are ignored;
//! 3. the key is at most 250 bytes, the flags and exptime read as C's `strtoul`/`strtol`
//!    read them, and `cas` has its unique (strictly, digits only): otherwise `CLIENT_ERROR bad
//!    command line format`;
//! 4. the item fits in `-I`: otherwise `SERVER_ERROR object too large for cache`.
//!
//! From step 3 on a refusal swallows the data block, and `noreply` hides it.

use super::{bad_format, error, Command, LineResult, Request, Tokens, BAD_FORMAT};
use crate::number::{strtol32, strtoul32, tok_i32, tok_u64};
use crate::{item_size, Limits, Parsed, Reject, Rejection};

/// Which storage command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreMode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
}

/// A storage command line whose data block follows.
pub(crate) struct Header<'a> {
    mode: StoreMode,
    key: &'a [u8],
    flags: u32,
    exptime: i32,
    cas: u64,
    len: usize,
    noreply: bool,
}

/// A data length as memcached's request parser reads it: 0 to `INT_MAX - 2`.
pub(crate) fn data_len(token: &[u8]) -> Option<usize> {
    let len = tok_i32(token)?;
    (0..=i32::MAX - 2).contains(&len).then_some(len as usize)
}

pub(super) fn parse_header<'a>(name: &[u8], tokens: &Tokens<'a>) -> LineResult<'a> {
    let mode = match name {
        b"add" => StoreMode::Add,
        b"replace" => StoreMode::Replace,
        b"append" => StoreMode::Append,
        b"prepend" => StoreMode::Prepend,
        b"cas" => StoreMode::Cas,
        _ => StoreMode::Set,
    };
    if tokens.ntokens() < 5 {
        return Err(bad_format());
    }
    let t = &tokens.toks;
    let len = data_len(t[4]).ok_or_else(bad_format)?;
    let noreply = tokens.noreply();
    // Refused by memcached's storage handler, which writes its errors itself (not in the
    // `-vv` trace), unlike the request parser's checks above.
    let refuse = || Rejection {
        swallow: len + 2,
        ..error(BAD_FORMAT, noreply).unlogged()
    };
    let key = t[1];
    if key.len() > crate::KEY_MAX_LENGTH {
        return Err(refuse());
    }
    let flags = strtoul32(t[2]).ok_or_else(refuse)?;
    let exptime = strtol32(t[3]).ok_or_else(refuse)?;
    let cas = if mode == StoreMode::Cas {
        tokens.get(5).and_then(tok_u64).ok_or_else(refuse)?
    } else {
        0
    };
    Ok(Command::NeedsData(Header {
        mode,
        key,
        flags,
        exptime,
        cas,
        len,
        noreply,
    }))
}

/// The `len`-byte data block that starts at `start` in `buf`, and the end of the request (the
/// block and its `\r\n`). `Err` when more bytes are needed, or when the block does not end in
/// `\r\n` (memcached's `bad data chunk`; the whole request is dropped).
pub(crate) fn data_block<T>(
    buf: &[u8],
    start: usize,
    len: usize,
    noreply: bool,
) -> Result<(&[u8], usize), Parsed<T>> {
    let total = start + len + 2;
    if buf.len() < total {
        return Err(Parsed::Incomplete(Some(total)));
    }
    if &buf[total - 2..total] != b"\r\n" {
        return Err(Parsed::Rejected(
            Rejection {
                noreply,
                ..Rejection::new(Reject::ClientError("bad data chunk"))
            },
            total,
        ));
    }
    Ok((&buf[start..start + len], total))
}

/// Completes a storage command with its data block, which starts at `line_len` in `buf`.
pub(super) fn with_data<'a>(
    h: Header<'a>,
    buf: &'a [u8],
    line_len: usize,
    limits: &Limits,
) -> Parsed<Request<'a>> {
    if item_size(h.key.len(), h.flags, h.len, limits.cas_enabled) > limits.item_size_max {
        return Parsed::Complete(
            Request::TooLarge {
                key: h.key,
                mode: h.mode,
                noreply: h.noreply,
                swallow: h.len + 2,
            },
            line_len,
        );
    }
    let (value, total) = match data_block(buf, line_len, h.len, h.noreply) {
        Ok(found) => found,
        Err(not_yet) => return not_yet,
    };
    Parsed::Complete(
        Request::Store {
            mode: h.mode,
            key: h.key,
            flags: h.flags,
            exptime: h.exptime,
            cas: h.cas,
            value,
            noreply: h.noreply,
        },
        total,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::parse;
    use crate::text::test_util::*;

    #[test]
    fn set_known_answers() {
        assert_eq!(
            complete(b"set k 5 100 3\r\nabc\r\n"),
            Request::Store {
                mode: StoreMode::Set,
                key: b"k",
                flags: 5,
                exptime: 100,
                cas: 0,
                value: b"abc",
                noreply: false
            }
        );
        assert_eq!(
            complete(b"cas k 0 -1 0 77 noreply\n\r\n"),
            Request::Store {
                mode: StoreMode::Cas,
                key: b"k",
                flags: 0,
                exptime: -1,
                cas: 77,
                value: b"",
                noreply: true
            }
        );
    }

    #[test]
    fn value_may_hold_newlines() {
        match complete(b"append k 0 0 4\r\n\r\n\r\n\r\n") {
            Request::Store { value, mode, .. } => {
                assert_eq!(value, b"\r\n\r\n");
                assert_eq!(mode, StoreMode::Append);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn header_errors() {
        let bad = "CLIENT_ERROR bad command line format\r\n";
        let table: &[(&[u8], &str, usize)] = &[
            (b"set k 0 0\r\n", bad, 0),
            (b"set k 0 0 x\r\n", bad, 0),
            (b"set k 0 0 -1\r\n", bad, 0),
            (b"set k 0 0 +1\r\n", bad, 0),
            (b"set k 0 0 2147483646\r\n", bad, 0),
            (b"set k 0 0 x noreply\r\n", bad, 0),
            (b"set k 0 0 1\r\r\n", bad, 0),
            (b"set k x 0 1\r\n", bad, 3),
            (b"set k -1 0 1\r\n", bad, 3),
            (b"set k 0 x 1\r\n", bad, 3),
            (b"set k 0 1.5 1\r\n", bad, 3),
            (b"set k x 0 1 noreply\r\n", "", 3),
            (b"cas k 0 0 1 x\r\n", bad, 3),
            (b"cas k 0 0 1 -1\r\n", bad, 3),
            (b"cas k 0 0 1 noreply\r\n", "", 3),
            (b"cas k 0 0 3\r\n", bad, 5),
            (b"cas k 0 0 x\r\n", bad, 0),
        ];
        for (input, want, swallow) in table {
            let (line, used, sw) = rejected(input);
            assert_eq!(line, *want, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(used, input.len());
            assert_eq!(sw, *swallow, "{:?}", String::from_utf8_lossy(input));
        }
        let long = format!("set {} 0 0 1\r\n", "k".repeat(251));
        assert_eq!(rejected(long.as_bytes()), (bad.to_string(), long.len(), 3));
    }

    #[test]
    fn extra_tokens_are_ignored() {
        match complete(b"set k 0 0 1 noreply extra\r\nx\r\n") {
            Request::Store { noreply, value, .. } => {
                assert_eq!((noreply, value), (false, &b"x"[..]))
            }
            other => panic!("{other:?}"),
        }
        match complete(b"set k 7\0x 0 1\r\nx\r\n") {
            Request::Store { flags, .. } => assert_eq!(flags, 7, "C stops at the NUL"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_data_chunk_consumes_the_declared_length() {
        let (line, used, _) = rejected(b"set k 0 0 3\r\nabcde\r\n");
        assert_eq!(line, "CLIENT_ERROR bad data chunk\r\n");
        assert_eq!(used, 13 + 5);
    }

    #[test]
    fn too_large_is_refused_before_the_data_arrives() {
        let limits = Limits {
            item_size_max: 100,
            cas_enabled: true,
        };
        match parse(b"set k 0 0 1000\r\n", &limits) {
            Parsed::Complete(
                Request::TooLarge {
                    key,
                    mode,
                    swallow,
                    noreply,
                },
                16,
            ) => {
                assert_eq!(
                    (key, mode, swallow, noreply),
                    (&b"k"[..], StoreMode::Set, 1002, false)
                );
            }
            other => panic!("{other:?}"),
        }
        // One byte under the limit is accepted: 48 + 8 + key + 1 + value + 2.
        let fits = b"set k 0 0 40\r\n";
        assert_eq!(
            parse(fits, &limits),
            Parsed::Incomplete(Some(fits.len() + 42))
        );
        assert!(matches!(
            parse(b"set k 0 0 41\r\n", &limits),
            Parsed::Complete(Request::TooLarge { .. }, _)
        ));
    }

    #[test]
    fn every_prefix_of_a_set_is_incomplete() {
        let whole = b"set key 1 2 10 noreply\r\n0123456789\r\n";
        for cut in 0..whole.len() {
            assert!(
                matches!(
                    parse(&whole[..cut], &Limits::default()),
                    Parsed::Incomplete(_)
                ),
                "cut at {cut}"
            );
        }
    }
}
