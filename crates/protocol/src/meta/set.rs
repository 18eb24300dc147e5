//! Meta set.
//!
//! ```text
//! ms <key> <datalen> <flag>*\r\n<data>\r\n
//! ```
//!
//! Flags: `b c C E F I k M N O q s T` (and the other known flags, ignored). `M` is `S` (set,
//! the default), `E` (add), `A` (append), `P` (prepend) or `R` (replace).
//!
//! An unreadable key, data length or token count is refused with nothing swallowed (memcached
//! cannot know how long the data is, or does not look); every later refusal, including an item
//! over `-I`, throws the data block away.

use super::{opaque_too_long, read_flags, MetaCommand, MetaRequest, BAD_FORMAT};
use crate::text::store::{data_block, data_len};
use crate::text::{Command, Request, Tokens};
use crate::{item_size, Limits, Parsed, Rejection};

/// A meta set line whose data block follows.
pub(crate) struct SetHeader<'a> {
    request: MetaRequest<'a>,
    len: usize,
}

/// Is `mode` one of `ms`'s modes?
pub fn valid_mode(mode: Option<u8>) -> bool {
    matches!(mode, None | Some(b'S' | b'E' | b'A' | b'P' | b'R'))
}

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> Result<Command<'a>, Rejection> {
    let len = data_len(tokens.toks[2]).ok_or_else(|| super::client_error(BAD_FORMAT))?;
    let refuse = |msg: &'static str| refusal(msg, len).unlogged();
    let flags = read_flags(tokens, 3).map_err(refuse)?;
    if !valid_mode(flags.opts.mode) {
        return Err(refuse("invalid mode for ms M token"));
    }
    Ok(Command::MetaNeedsData(SetHeader {
        request: super::request(MetaCommand::Set, flags),
        len,
    }))
}

/// A refused `ms` whose `len`-byte data block is thrown away. Errors are never quiet in
/// meta commands. (Shown in the `-vv` trace: only the opaque check is memcached's `ms` own
/// and traced; `parse` leaves the handler's errors out.)
fn refusal(msg: &'static str, len: usize) -> Rejection {
    Rejection {
        swallow: len + 2,
        ..super::client_error(msg)
    }
}

/// Completes an `ms` with its data block, which starts at `line_len` in `buf`.
pub(crate) fn with_data<'a>(
    h: SetHeader<'a>,
    buf: &'a [u8],
    line_len: usize,
    limits: &Limits,
) -> Parsed<Request<'a>> {
    let flags = h.request.opts.client_flags.unwrap_or(0);
    if item_size(h.request.key.len(), flags, h.len, limits.cas_enabled) > limits.item_size_max {
        return Parsed::Complete(
            Request::MetaTooLarge {
                key: h.request.key,
                swallow: h.len + 2,
            },
            line_len,
        );
    }
    // From here memcached has allocated the item and drawn its CAS value (unless `E` gave
    // one), so a refusal spends that value.
    let spends_cas = h.request.opts.new_cas.is_none();
    // memcached looks at the opaque only once the item has its memory.
    if opaque_too_long(&h.request.flags) {
        let refused = refusal("opaque token too long", h.len);
        return Parsed::Rejected(
            Rejection {
                spends_cas,
                ..refused
            },
            line_len,
        );
    }
    // Errors are never quiet in meta commands.
    let (value, total) = match data_block(buf, line_len, h.len, false) {
        Ok(found) => found,
        Err(Parsed::Rejected(bad_chunk, used)) => {
            return Parsed::Rejected(
                Rejection {
                    spends_cas,
                    ..bad_chunk
                },
                used,
            )
        }
        Err(not_yet) => return not_yet,
    };
    let mut request = h.request;
    request.value = value;
    Parsed::Complete(Request::Meta(request), total)
}

#[cfg(test)]
mod tests {
    use crate::meta::test_util::*;
    use crate::text::{parse, Request};
    use crate::{Limits, Parsed};

    #[test]
    fn known_answers() {
        let m = meta(b"ms foo 5 F1 T0 c k O7 MA\r\nhello\r\n");
        assert_eq!(m.value, b"hello");
        assert_eq!(m.opts.client_flags, Some(1));
        assert_eq!(m.opts.mode, Some(b'A'));
        let m = meta(b"ms foo 0\r\n\r\n");
        assert_eq!(m.value, b"");
    }

    #[test]
    fn refusals_and_what_they_swallow() {
        let long_key = format!("ms {} 2\r\n", "k".repeat(251));
        let table: &[(&[u8], &str, usize)] = &[
            (b"ms\r\n", "CLIENT_ERROR bad command line format\r\n", 0),
            (b"ms foo\r\n", "CLIENT_ERROR bad command line format\r\n", 0),
            (
                long_key.as_bytes(),
                "CLIENT_ERROR bad command line format\r\n",
                4,
            ),
            (
                b"ms foo abc\r\n",
                "CLIENT_ERROR bad command line format\r\n",
                0,
            ),
            (
                b"ms foo -1\r\n",
                "CLIENT_ERROR bad command line format\r\n",
                0,
            ),
            (
                b"ms foo 2q\r\n",
                "CLIENT_ERROR bad command line format\r\n",
                0,
            ),
            (
                b"ms foo 2 c k s t f h l u q Pa Pb Pc Pd Pe Pf Pg Ph Pi\r\n",
                "CLIENT_ERROR options flags are too long\r\n",
                4,
            ),
            (b"ms foo 2 c c\r\n", "CLIENT_ERROR duplicate flag\r\n", 4),
            (
                b"ms foo 2 MX\r\n",
                "CLIENT_ERROR invalid mode for ms M token\r\n",
                4,
            ),
            (
                b"ms foo 2 Ms\r\n",
                "CLIENT_ERROR invalid mode for ms M token\r\n",
                4,
            ),
            (
                b"ms foo 3 Fx\r\n",
                "CLIENT_ERROR bad command line format\r\n",
                5,
            ),
            (b"ms !!!! 2 b\r\n", "CLIENT_ERROR error decoding key\r\n", 4),
        ];
        for (input, want, swallow) in table {
            assert_eq!(
                refused(input),
                (want.to_string(), *swallow),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn data_block_checks() {
        let limits = Limits::default();
        assert_eq!(
            parse(b"ms foo 2\r\nhi", &limits),
            Parsed::Incomplete(Some(14))
        );
        match parse(b"ms foo 2\r\nhiXX", &limits) {
            Parsed::Rejected(r, 14) => assert_eq!(
                r.reply_line().unwrap(),
                b"CLIENT_ERROR bad data chunk\r\n".to_vec()
            ),
            other => panic!("{other:?}"),
        }
        match parse(b"ms foo 1048577 q\r\n", &limits) {
            Parsed::Complete(Request::MetaTooLarge { key, swallow }, 18) => {
                assert_eq!(&*key, b"foo");
                assert_eq!(swallow, 1048579);
            }
            other => panic!("{other:?}"),
        }
    }
}
