//! memcached's text (ASCII) protocol.
//!
//! A request is one command line, ended by `\n` (memcached also strips a `\r` before it), and
//! for storage commands a data block that must end in `\r\n`:
//!
//! ```text
//! <command> <token>*\r\n
//! set <key> <flags> <exptime> <bytes> [noreply]\r\n<data>\r\n
//! ```
//!
//! Tokens are separated by spaces only (a tab is part of a token). Command names are
//! case-sensitive. Like memcached, at most 23 tokens are split off a line at a time; only the
//! retrieval commands go on to read more keys from the rest of the line.
//!
//! One file per command family; each parses the tokens of its command line into a [`Request`].

mod arith;
mod delete;
mod encode;
mod flush_all;
mod get;
mod misc;
mod stats;
pub(crate) mod store;
mod touch;

pub use encode::encode;
pub use get::{GetKind, KeyIter};
pub use stats::{DetailCommand, StatsGroup};
pub use store::StoreMode;

use crate::{Limits, Parsed, Reject, Rejection};

/// A parsed text-protocol request, borrowing its key and value bytes from the read buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `get|gets <key>*` and `gat|gats <exptime> <key>*`.
    Get {
        kind: GetKind,
        /// For `gat`/`gats`: the new exptime.
        exptime: i32,
        keys: KeyIter<'a>,
    },
    /// `set|add|replace|append|prepend <key> <flags> <exptime> <bytes> [noreply]` and
    /// `cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]`, with the data block.
    Store {
        mode: StoreMode,
        key: &'a [u8],
        flags: u32,
        exptime: i32,
        /// The client's CAS unique, for `cas`.
        cas: u64,
        value: &'a [u8],
        noreply: bool,
    },
    /// A storage command refused because the item would be over `-I`. memcached answers
    /// `SERVER_ERROR object too large for cache`, drops `swallow` bytes of data block, and,
    /// for `set`, removes the key's old value so no stale value outlives the failed set.
    TooLarge {
        key: &'a [u8],
        mode: StoreMode,
        noreply: bool,
        swallow: usize,
    },
    /// `delete <key> [0] [noreply]`
    Delete { key: &'a [u8], noreply: bool },
    /// `incr|decr <key> <delta> [noreply]`
    Arith {
        key: &'a [u8],
        incr: bool,
        delta: u64,
        noreply: bool,
    },
    /// `touch <key> <exptime> [noreply]`
    Touch {
        key: &'a [u8],
        exptime: i32,
        noreply: bool,
    },
    /// `flush_all [delay] [noreply]`
    /// An unreadable delay is `None` (memcached still counts the command).
    FlushAll { delay: Option<i32>, noreply: bool },
    /// `version`
    Version,
    /// `quit`
    Quit,
    /// `shutdown [graceful]`
    /// An unknown mode is `None`.
    Shutdown { graceful: Option<bool> },
    /// `verbosity <level> [noreply]`
    Verbosity { level: u32, noreply: bool },
    /// `cache_memlimit <megabytes> [noreply]`
    CacheMemlimit { megabytes: u32, noreply: bool },
    /// `stats [group]`
    Stats(StatsGroup),
    /// `mn`
    MetaNoop,
    /// `mg`, `ms`, `md`, `ma`, `me` (see [`crate::meta`]).
    Meta(crate::meta::MetaRequest<'a>),
    /// An `ms` whose item would be over `-I`: memcached answers `SERVER_ERROR object too large
    /// for cache` (even in quiet mode), drops `swallow` bytes of data block, and removes the
    /// key's old value whatever the mode.
    MetaTooLarge {
        key: std::borrow::Cow<'a, [u8]>,
        swallow: usize,
    },
}

/// A line longer than this with no `\n` yet is not a command (unless it is a long `get`).
pub const MAX_PENDING_LINE: usize = 2048;

/// memcached splits at most this many tokens off a line at once (its `MAX_TOKENS` less the
/// terminal token).
pub(crate) const MAX_TOKENS: usize = 23;

/// The tokens of one command line.
pub(crate) struct Tokens<'a> {
    pub line: &'a [u8],
    pub toks: Vec<&'a [u8]>,
    /// Where each token starts in `line`.
    pub starts: Vec<usize>,
    /// What is left of the line after [`MAX_TOKENS`] tokens, if anything.
    pub rest: Option<&'a [u8]>,
}

impl<'a> Tokens<'a> {
    /// memcached's token count, which includes the terminal token.
    pub fn ntokens(&self) -> usize {
        self.toks.len() + 1
    }

    /// The line from token `idx` to its end (empty when there is no such token).
    pub fn line_from(&self, idx: usize) -> &'a [u8] {
        match self.starts.get(idx) {
            Some(&start) => &self.line[start..],
            None => self.rest.unwrap_or_default(),
        }
    }

    /// memcached's `set_noreply_maybe`: the last token is exactly `noreply`.
    pub fn noreply(&self) -> bool {
        self.toks.last() == Some(&&b"noreply"[..])
    }
}

/// Splits a line on spaces, as memcached's tokenizer does.
pub(crate) fn tokenize(line: &[u8]) -> Tokens<'_> {
    let mut toks = Vec::new();
    let mut starts = Vec::new();
    let mut i = 0;
    while i < line.len() {
        if line[i] == b' ' {
            i += 1;
            continue;
        }
        if toks.len() == MAX_TOKENS {
            return Tokens {
                line,
                toks,
                starts,
                rest: Some(&line[i..]),
            };
        }
        let start = i;
        while i < line.len() && line[i] != b' ' {
            i += 1;
        }
        toks.push(&line[start..i]);
        starts.push(start);
    }
    Tokens {
        line,
        toks,
        starts,
        rest: None,
    }
}

fn reject<T>(reason: Reject, noreply: bool, consumed: usize) -> Parsed<T> {
    Parsed::Rejected(
        Rejection {
            reason,
            noreply,
            swallow: 0,
            discard_pending: false,
        },
        consumed,
    )
}

/// Finds the command line at the front of `buf`. Returns the line without its `\r\n`/`\n`
/// and the number of bytes it occupies, `Ok(None)` when more bytes are needed, or `Err` when
/// the connection must be closed.
fn split_line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, ()> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > MAX_PENDING_LINE && !is_long_get(buf) {
            return Err(());
        }
        return Ok(None);
    };
    let mut line = &buf[..nl];
    if line.len() > 1 && line[line.len() - 1] == b'\r' {
        line = &line[..line.len() - 1];
    }
    // memcached treats the line as a C string: nothing after a NUL byte is seen.
    if let Some(nul) = memchr(0, line) {
        line = &line[..nul];
    }
    Ok(Some((line, nl + 1)))
}

/// memcached lets a line grow past [`MAX_PENDING_LINE`] only for a multi-key `get`/`gets`
/// with at most 100 leading spaces.
fn is_long_get(buf: &[u8]) -> bool {
    let spaces = buf.iter().take_while(|&&b| b == b' ').count();
    let rest = &buf[spaces..];
    spaces <= 100 && (rest.starts_with(b"get ") || rest.starts_with(b"gets "))
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Parses one request from the front of `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Parsed<Request<'a>> {
    let (line, line_len) = match split_line(buf) {
        Ok(Some(found)) => found,
        Ok(None) => return Parsed::Incomplete(None),
        Err(()) => return reject(Reject::Close, false, buf.len()),
    };
    let tokens = tokenize(line);
    match parse_tokens(&tokens) {
        Ok(Command::Ready(request)) => Parsed::Complete(request, line_len),
        Ok(Command::NeedsData(header)) => store::with_data(header, buf, line_len, limits),
        Ok(Command::MetaNeedsData(header)) => crate::meta::with_data(header, buf, line_len, limits),
        Err(rejection) => Parsed::Rejected(rejection, line_len),
    }
}

/// A command line that was understood: either a whole request, or the header of a storage
/// command whose data block follows.
pub(crate) enum Command<'a> {
    Ready(Request<'a>),
    NeedsData(store::Header<'a>),
    MetaNeedsData(crate::meta::SetHeader<'a>),
}

type LineResult<'a> = Result<Command<'a>, Rejection>;

pub(crate) fn error(reason: Reject, noreply: bool) -> Rejection {
    Rejection {
        reason,
        noreply,
        swallow: 0,
        discard_pending: false,
    }
}

/// `WANT_TOKENS`-style check: memcached answers `ERROR` when the token count is off.
pub(crate) fn want(tokens: &Tokens<'_>, ok: bool) -> Result<(), Rejection> {
    let _ = tokens;
    if ok {
        Ok(())
    } else {
        Err(error(Reject::Error, false))
    }
}

fn ready(request: Request<'_>) -> LineResult<'_> {
    Ok(Command::Ready(request))
}

fn parse_tokens<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let n = tokens.ntokens();
    let Some(&name) = tokens.toks.first() else {
        return Err(error(Reject::Error, false));
    };
    if name.len() < 2 {
        return Err(error(Reject::Error, false));
    }
    match name {
        b"get" | b"gets" | b"gat" | b"gats" | b"bget" => get::parse(name, tokens),
        b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" => {
            store::parse_header(name, tokens)
        }
        b"delete" => delete::parse(tokens),
        b"incr" | b"decr" => arith::parse(name == b"incr", tokens),
        b"touch" => touch::parse(tokens),
        b"flush_all" => flush_all::parse(tokens),
        b"stats" => stats::parse(tokens),
        b"version" => ready(Request::Version),
        b"quit" => ready(Request::Quit),
        b"shutdown" => misc::shutdown(tokens),
        b"verbosity" => misc::verbosity(tokens),
        b"cache_memlimit" => misc::cache_memlimit(tokens),
        b"mn" => ready(Request::MetaNoop),
        b"mg" | b"ms" | b"md" | b"ma" | b"me" => crate::meta::parse(name, tokens),
        _ if name.len() == 2 && name[0] == b'm' => Err(error(Reject::Error, false)),
        // memcached dispatches on the first letter; an unknown name under one of these
        // letters is a plain `ERROR` (it never reaches the HTTP check below).
        [b'g' | b's' | b'a' | b'c' | b'i' | b'd' | b't', ..] => {
            want(tokens, !name.starts_with(b"g") || n >= 3)?;
            Err(error(Reject::Error, false))
        }
        _ => {
            let last = tokens.toks.last().copied().unwrap_or_default();
            if last.starts_with(b"HTTP/") {
                Err(error(Reject::Close, false))
            } else {
                Err(error(Reject::Error, false))
            }
        }
    }
}

/// Checks a key's length as memcached does.
pub(crate) fn key_ok(key: &[u8], noreply: bool) -> Result<(), Rejection> {
    if key.len() > crate::KEY_MAX_LENGTH {
        Err(error(
            Reject::ClientError("bad command line format"),
            noreply,
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;

    /// Parses with default limits and expects a complete request using all of `input`.
    pub fn complete(input: &[u8]) -> Request<'_> {
        match parse(input, &Limits::default()) {
            Parsed::Complete(req, used) => {
                assert_eq!(used, input.len(), "consumed");
                req
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    /// Parses and expects a rejection; returns its reply line (or "" when silent).
    pub fn rejected(input: &[u8]) -> (String, usize, usize) {
        match parse(input, &Limits::default()) {
            Parsed::Rejected(r, used) => (
                r.reply_line()
                    .map(|l| String::from_utf8(l).unwrap())
                    .unwrap_or_default(),
                used,
                r.swallow,
            ),
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_util::*;
    use super::*;

    #[test]
    fn tokenizer_splits_on_spaces_only() {
        let t = tokenize(b"  get  a\tb c ");
        assert_eq!(t.toks, vec![&b"get"[..], b"a\tb", b"c"]);
        assert!(t.rest.is_none());
    }

    #[test]
    fn tokenizer_stops_after_23_tokens() {
        let line: Vec<u8> = (0..30)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes();
        let t = tokenize(&line);
        assert_eq!(t.toks.len(), 23);
        assert_eq!(t.rest, Some(&b"t23 t24 t25 t26 t27 t28 t29"[..]));
    }

    #[test]
    fn bare_newline_ends_a_command() {
        assert_eq!(complete(b"version\n"), Request::Version);
        assert_eq!(complete(b"version\r\n"), Request::Version);
    }

    #[test]
    fn known_answer_errors() {
        let table: &[(&[u8], &str)] = &[
            (b"\r\n", "ERROR\r\n"),
            (b"\n", "ERROR\r\n"),
            (b"x\r\n", "ERROR\r\n"),
            (b"GET foo\r\n", "ERROR\r\n"),
            (b"bogus\r\n", "ERROR\r\n"),
            (b"gogo\r\n", "ERROR\r\n"),
            (b"mz foo\r\n", "ERROR\r\n"),
            (b"GET / HTTP/1.1\r\n", ""),
        ];
        for (input, want) in table {
            let (line, used, _) = rejected(input);
            assert_eq!(line, *want, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(used, input.len());
        }
    }

    #[test]
    fn long_line_without_newline_closes_unless_get() {
        let junk = vec![b'a'; MAX_PENDING_LINE + 1];
        assert_eq!(rejected(&junk).0, "");
        let mut get = b"get ".to_vec();
        get.extend(std::iter::repeat_n(b'k', MAX_PENDING_LINE));
        assert_eq!(parse(&get, &Limits::default()), Parsed::Incomplete(None));
        let short = vec![b'a'; MAX_PENDING_LINE];
        assert_eq!(parse(&short, &Limits::default()), Parsed::Incomplete(None));
    }

    proptest::proptest! {
        /// Whatever a client sends, the parser neither panics nor claims bytes it was not
        /// given, and it always makes progress when it answers.
        #[test]
        fn arbitrary_bytes_are_handled(input in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(b' '),
                proptest::strategy::Just(b'\r'),
                proptest::strategy::Just(b'\n'),
                proptest::strategy::Just(b'0'),
                proptest::strategy::Just(b'-'),
                proptest::num::u8::ANY,
            ],
            0..600,
        ), prefix in proptest::prop_oneof![
            proptest::strategy::Just(&b""[..]),
            proptest::strategy::Just(&b"set k 0 0 "[..]),
            proptest::strategy::Just(&b"get "[..]),
            proptest::strategy::Just(&b"cas k 1 2 3 "[..]),
            proptest::strategy::Just(&b"incr k "[..]),
            proptest::strategy::Just(&b"gat "[..]),
        ]) {
            let mut buf = prefix.to_vec();
            buf.extend_from_slice(&input);
            let limits = Limits { item_size_max: 200, cas_enabled: true };
            match parse(&buf, &limits) {
                Parsed::Complete(_, used) | Parsed::Rejected(_, used) => {
                    proptest::prop_assert!(used > 0 && used <= buf.len());
                }
                Parsed::Incomplete(Some(total)) => proptest::prop_assert!(total > buf.len()),
                Parsed::Incomplete(None) => {}
            }
        }
    }

    #[test]
    fn nul_byte_ends_the_line_as_in_c() {
        assert_eq!(complete(b"version\0junk\r\n"), Request::Version);
    }
}
