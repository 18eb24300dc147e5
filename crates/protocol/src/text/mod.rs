//! memcached's text (ASCII) protocol, read as memcached 1.6.45's request parser reads it.
//!
//! A request is one command line, ended by `\n` (a `\r` before it is dropped too), and for
//! storage commands a data block that must end in `\r\n`:
//!
//! ```text
//! <command> <token>*\r\n
//! set <key> <flags> <exptime> <bytes> [noreply]\r\n<data>\r\n
//! ```
//!
//! How 1.6.45 reads a line, and so how this module does:
//!
//! - A line shorter than 4 bytes with its `\n` (`\r\n`, `a\r\n`, `ab\n`) is
//!   `CLIENT_ERROR bad command line format`.
//! - The command is the text up to the first space; it is matched exactly (names are
//!   case-sensitive). Most commands then check a minimum token count, and a line with too few
//!   tokens is `CLIENT_ERROR bad command line format`; extra tokens are ignored.
//! - Tokens are separated by spaces only (a tab is part of a token). At most 23 tokens are
//!   split off; the rest of the line is ignored, except by `get`/`gets`/`gat`/`gats`, which
//!   read keys to the end of the line.
//! - A NUL byte is an ordinary byte of its token (1.6.18 ended the line there).
//! - `noreply` is the last token being exactly `noreply`, for the commands that look for it.
//!   For an unknown command it silences even the `ERROR`.
//! - An unknown command is `ERROR`, unless its last token starts with `HTTP/`: then the
//!   connection is closed.
//!
//! One file per command family; each reads the tokens of its command line into a
//! [`Request`].

mod admin;
mod arith;
mod crawler;
mod delete;
mod encode;
mod flush_all;
mod get;
mod misc;
mod stats;
pub(crate) mod store;
mod touch;
mod watch;

pub use admin::{AutomoveSetting, LruSetting, Real};
pub use crawler::{ClassList, LruCrawler};
pub use encode::encode;
pub use get::{GetKind, KeyIter};
pub use misc::DebugTime;
pub use stats::{DetailCommand, StatsGroup};
pub use store::StoreMode;
pub use watch::{
    CONNEVENTS, DELETIONS, EVICTIONS, FETCHERS, MUTATIONS, PROXYEVENTS, PROXYREQS, PROXYUSER,
    RAWCMDS, SYSEVENTS,
};

use crate::{Limits, Parsed, Reject, Rejection};

/// A parsed text-protocol request, borrowing its key and value bytes from the read buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// `get|gets <key>*` and `gat|gats <exptime> <key>*`. The keys are checked as they are
    /// looked up (see [`KeyIter`]).
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
    /// `delete <key> [noreply]` (more tokens are ignored)
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
    /// An unknown mode is `None`. `noreply` hides the refusals.
    Shutdown {
        graceful: Option<bool>,
        noreply: bool,
    },
    /// `verbosity <level> [noreply]`
    Verbosity { level: u32, noreply: bool },
    /// `cache_memlimit <megabytes> [noreply]`
    CacheMemlimit { megabytes: u32, noreply: bool },
    /// `slabs automove <0|1|2>` and `slabs automove ratio|freeratio|window <n>`
    SlabsAutomove {
        setting: AutomoveSetting,
        noreply: bool,
    },
    /// `slabs reassign <src> <dst>`: the two class ids, `None` when either is unreadable
    /// (memcached refuses that only after checking that reassignment is enabled).
    SlabsReassign {
        classes: Option<(i32, i32)>,
        noreply: bool,
    },
    /// `lru tune|mode|temp_ttl ...` (see `admin`).
    Lru { setting: LruSetting, noreply: bool },
    /// `extstore <setting> <value>`, with a value memcached accepts (see `admin`).
    Extstore { noreply: bool },
    /// `refresh_certs`
    RefreshCerts { noreply: bool },
    /// `debugtime <seconds>|p|r`: memcached's debug build's clock (see `misc`).
    DebugTime { change: DebugTime, noreply: bool },
    /// `lru_crawler <subcommand> [argument]` (see `crawler`).
    LruCrawler { command: LruCrawler, noreply: bool },
    /// `stats [group]`
    Stats(StatsGroup),
    /// `watch [streams...]` (see `watch`): `flags` is the union of the streams asked for,
    /// or `None` when an argument is not a stream's name. memcached checks `-W` first, then
    /// that no reply of the same read is still unsent, then the arguments.
    Watch { flags: Option<u16> },
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

/// A line longer than this with no `\n` yet is not a command (unless it is a long retrieval).
pub const MAX_PENDING_LINE: usize = 2048;

/// memcached's request parser splits at most this many tokens off a line.
pub const MAX_TOKENS: usize = 23;

/// The tokens of one command line.
pub(crate) struct Tokens<'a> {
    /// The line without its `\r\n` or `\n`.
    pub line: &'a [u8],
    pub toks: Vec<&'a [u8]>,
    /// Where each token starts in `line`.
    pub starts: Vec<usize>,
}

impl<'a> Tokens<'a> {
    /// memcached 1.6.45's token count (no terminal token, unlike 1.6.18's).
    pub fn ntokens(&self) -> usize {
        self.toks.len()
    }

    /// Token `idx`, if the line has it.
    pub fn get(&self, idx: usize) -> Option<&'a [u8]> {
        self.toks.get(idx).copied()
    }

    /// The line from token `idx` to its end (empty when there is no such token).
    pub fn line_from(&self, idx: usize) -> &'a [u8] {
        self.starts
            .get(idx)
            .map_or(&[], |&start| &self.line[start..])
    }

    /// The last token is exactly `noreply`.
    pub fn noreply(&self) -> bool {
        self.toks.last() == Some(&&b"noreply"[..])
    }
}

/// The meta flag tokens (those from `mstart` on) must each start with a letter (or one of
/// ``[\]^_` ``) or a digit; a line breaking that is not split at all.
pub(crate) struct BadFlag;

/// Splits a line on spaces as memcached 1.6.45 does: at most [`MAX_TOKENS`] tokens, the
/// rest of the line ignored; tokens from index `mstart` on are meta flags (see [`BadFlag`]).
pub(crate) fn tokenize(line: &[u8], mstart: usize) -> Result<Tokens<'_>, BadFlag> {
    let mut toks = Vec::new();
    let mut starts = Vec::new();
    let mut i = 0;
    while i < line.len() && toks.len() < MAX_TOKENS {
        if line[i] == b' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() && line[i] != b' ' {
            i += 1;
        }
        if toks.len() >= mstart {
            let first = line[start];
            if !(b'A'..=b'z').contains(&first) && !first.is_ascii_digit() {
                return Err(BadFlag);
            }
        }
        toks.push(&line[start..i]);
        starts.push(start);
    }
    Ok(Tokens { line, toks, starts })
}

/// memcached's tokenizer for commands without meta flags.
pub(crate) fn tokens(line: &[u8]) -> Tokens<'_> {
    match tokenize(line, usize::MAX) {
        Ok(t) => t,
        Err(BadFlag) => unreachable!("no meta flags to check"),
    }
}

/// C's `strncmp(token, word, token.len()) == 0`, which memcached uses to match
/// subcommands: the token may be any prefix of `word` (`stats r` is `stats reset`), and
/// the comparison stops at a NUL in both.
pub(crate) fn abbreviates(token: &[u8], word: &str) -> bool {
    let word = word.as_bytes();
    for (i, &t) in token.iter().enumerate() {
        let w = word.get(i).copied().unwrap_or(0);
        if t != w {
            return false;
        }
        if t == 0 {
            return true;
        }
    }
    true
}

pub(crate) fn error(reason: Reject, noreply: bool) -> Rejection {
    Rejection {
        noreply,
        ..Rejection::new(reason)
    }
}

/// memcached's key length check, made when `delete`, `incr`/`decr` or `touch` is run: a key
/// over 250 bytes is `CLIENT_ERROR bad command line format`, hidden by `noreply` (and left
/// out of the `-vv` trace).
pub(crate) fn check_key(key: &[u8], noreply: bool) -> Result<(), Rejection> {
    if key.len() > crate::KEY_MAX_LENGTH {
        Err(error(BAD_FORMAT, noreply).unlogged())
    } else {
        Ok(())
    }
}

/// `CLIENT_ERROR bad command line format`, which 1.6.45 gives for most malformed lines.
pub(crate) const BAD_FORMAT: Reject = Reject::ClientError("bad command line format");

/// The answer to a line the request parser itself refuses: always shown.
pub(crate) fn bad_format() -> Rejection {
    Rejection::new(BAD_FORMAT)
}

/// What is at the front of a connection's buffer.
enum Framed<'a> {
    /// A command line: with its `\n` (`raw`), and without its `\r\n` or `\n`.
    Line { raw: &'a [u8], text: &'a [u8] },
    /// More bytes are needed.
    NeedMore,
    /// Not a command: the connection must be closed.
    Close,
}

/// Finds the command line at the front of `buf`.
fn split_line(buf: &[u8]) -> Framed<'_> {
    let Some(nl) = memchr(b'\n', buf) else {
        if buf.len() > MAX_PENDING_LINE && !is_long_retrieval(buf) {
            return Framed::Close;
        }
        return Framed::NeedMore;
    };
    if nl > MAX_PENDING_LINE && !is_long_retrieval(buf) {
        // memcached closes once it holds more than 2048 bytes without a newline, so what it
        // does with a longer line depends on how the line was cut into reads. ferrocache
        // closes whenever the line is that long, so a client sees the same however its
        // bytes arrive.
        return Framed::Close;
    }
    let raw = &buf[..=nl];
    let text = match raw {
        [.., b'\r', b'\n'] => &raw[..raw.len() - 2],
        _ => &raw[..raw.len() - 1],
    };
    Framed::Line { raw, text }
}

/// memcached lets a line grow past [`MAX_PENDING_LINE`] only for a multi-key `get`/`gets`
/// with at most 100 leading spaces.
fn is_long_retrieval(buf: &[u8]) -> bool {
    let spaces = buf.iter().take_while(|&&b| b == b' ').count();
    let rest = &buf[spaces..];
    spaces <= 100 && (rest.starts_with(b"get ") || rest.starts_with(b"gets "))
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// Parses one request from the front of `buf`.
pub fn parse<'a>(buf: &'a [u8], limits: &Limits) -> Parsed<Request<'a>> {
    let (raw, line) = match split_line(buf) {
        Framed::Line { raw, text } => (raw, text),
        Framed::NeedMore => return Parsed::Incomplete(None),
        Framed::Close => return Parsed::Rejected(Rejection::new(Reject::Close), buf.len()),
    };
    let line_len = raw.len();
    if line_len < 4 {
        return Parsed::Rejected(bad_format(), line_len);
    }
    match parse_line(line) {
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

fn ready(request: Request<'_>) -> LineResult<'_> {
    Ok(Command::Ready(request))
}

/// memcached 1.6.45's `process_request` and `process_command_ascii`: picks the command by
/// its name, then reads its tokens.
fn parse_line(line: &[u8]) -> LineResult<'_> {
    let name = &line[..memchr(b' ', line).unwrap_or(line.len())];
    match name {
        b"mg" | b"ms" | b"md" | b"ma" | b"me" => crate::meta::parse(name, line),
        b"mn" => ready(Request::MetaNoop),
        b"get" | b"gets" | b"gat" | b"gats" => get::parse(name, &tokens(line)),
        b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" => {
            store::parse_header(name, &tokens(line))
        }
        b"delete" => delete::parse(&tokens(line)),
        b"incr" | b"decr" => arith::parse(name == b"incr", &tokens(line)),
        b"touch" => touch::parse(&tokens(line)),
        b"stats" => stats::parse(&tokens(line)),
        b"version" => ready(Request::Version),
        b"quit" => ready(Request::Quit),
        b"watch" => watch::parse(line),
        _ => unknown(&tokens(line)),
    }
}

/// A command the request parser does not know: memcached then looks it up among its
/// administrative commands, and answers anything else with `ERROR` (hidden by `noreply`),
/// or closes the connection when the line looks like HTTP.
fn unknown<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    match tokens.get(0).unwrap_or_default() {
        b"flush_all" => return flush_all::parse(tokens),
        b"shutdown" => return misc::shutdown(tokens),
        b"verbosity" => return misc::verbosity(tokens),
        b"cache_memlimit" => return misc::cache_memlimit(tokens),
        b"slabs" => return admin::slabs(tokens),
        b"lru" => return admin::lru(tokens),
        b"extstore" => return admin::extstore(tokens),
        b"refresh_certs" => return ready(Request::RefreshCerts { noreply }),
        b"debugtime" => return misc::debugtime(tokens),
        b"lru_crawler" => return crawler::parse(tokens),
        _ => {}
    }
    if tokens.ntokens() > 1 && tokens.toks[tokens.ntokens() - 1].starts_with(b"HTTP/") {
        return Err(Rejection::new(Reject::Close));
    }
    Err(error(Reject::Error, noreply))
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

    /// Parses and expects a rejection; returns its reply line (or "" when silent), the bytes
    /// it used and the bytes it swallows.
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
        let t = tokens(b"  get  a\tb c ");
        assert_eq!(t.toks, vec![&b"get"[..], b"a\tb", b"c"]);
        assert_eq!(t.line_from(2), b"c ");
    }

    #[test]
    fn tokenizer_keeps_23_tokens_and_drops_the_rest() {
        let line: Vec<u8> = (0..30)
            .map(|i| format!("t{i}"))
            .collect::<Vec<_>>()
            .join(" ")
            .into_bytes();
        let t = tokens(&line);
        assert_eq!(t.toks.len(), 23);
        assert_eq!(t.toks[22], b"t22");
        assert_eq!(t.line_from(22), b"t22 t23 t24 t25 t26 t27 t28 t29");
    }

    #[test]
    fn meta_flags_must_start_with_a_letter_or_digit() {
        assert!(tokenize(b"mg foo v Oab 1", 2).is_ok());
        assert!(tokenize(b"mg !!!! v", 2).is_ok(), "the key is not a flag");
        assert!(tokenize(b"mg foo !", 2).is_err());
        assert!(tokenize(b"mg foo \xff", 2).is_err());
        assert!(tokenize(b"mg foo {", 2).is_err());
        assert!(tokenize(b"mg foo `x", 2).is_ok());
    }

    #[test]
    fn abbreviations_are_prefixes_up_to_a_nul() {
        assert!(abbreviates(b"r", "reset"));
        assert!(abbreviates(b"reset", "reset"));
        assert!(!abbreviates(b"resets", "reset"));
        assert!(abbreviates(b"reset\0junk", "reset"));
        assert!(!abbreviates(b"x", "reset"));
    }

    #[test]
    fn bare_newline_ends_a_command() {
        assert_eq!(complete(b"version\n"), Request::Version);
        assert_eq!(complete(b"version\r\n"), Request::Version);
        assert_eq!(complete(b"version extra\r\n"), Request::Version);
    }

    #[test]
    fn known_answer_errors() {
        let table: &[(&[u8], &str)] = &[
            (b"\r\n", "CLIENT_ERROR bad command line format\r\n"),
            (b"\n", "CLIENT_ERROR bad command line format\r\n"),
            (b"x\r\n", "CLIENT_ERROR bad command line format\r\n"),
            (b"ab\n", "CLIENT_ERROR bad command line format\r\n"),
            (b"ab\r\n", "ERROR\r\n"),
            (b"GET foo\r\n", "ERROR\r\n"),
            (b"bogus\r\n", "ERROR\r\n"),
            (b"bogus noreply\r\n", ""),
            (b"bget a\r\n", "ERROR\r\n"),
            (b"mz foo\r\n", "ERROR\r\n"),
            (b"GET / HTTP/1.1\r\n", ""),
            (b"get\r\n", "CLIENT_ERROR bad command line format\r\n"),
            (b"get \r\n", "CLIENT_ERROR bad command line format\r\n"),
            (b"version\0junk\r\n", "ERROR\r\n"),
        ];
        for (input, want) in table {
            let (line, used, _) = rejected(input);
            assert_eq!(line, *want, "{:?}", String::from_utf8_lossy(input));
            assert_eq!(used, input.len());
        }
        assert!(matches!(
            parse(b"GET / HTTP/1.1\r\n", &Limits::default()),
            Parsed::Rejected(
                Rejection {
                    reason: Reject::Close,
                    ..
                },
                _
            )
        ));
    }

    #[test]
    fn long_lines_close_unless_retrievals() {
        let junk = vec![b'a'; MAX_PENDING_LINE + 1];
        assert_eq!(rejected(&junk).0, "");
        let mut with_newline = vec![b'a'; MAX_PENDING_LINE + 1];
        with_newline.extend_from_slice(b"\r\n");
        assert_eq!(rejected(&with_newline).0, "", "closed whatever the reads");
        for name in ["get", "gets"] {
            let mut get = format!("{name} ").into_bytes();
            get.extend(std::iter::repeat_n(b'k', MAX_PENDING_LINE));
            assert_eq!(parse(&get, &Limits::default()), Parsed::Incomplete(None));
        }
        let mut gat = b"gat 0 ".to_vec();
        gat.extend(std::iter::repeat_n(b'k', MAX_PENDING_LINE));
        assert_eq!(rejected(&gat).0, "");
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
            proptest::strategy::Just(&b"ms k "[..]),
            proptest::strategy::Just(&b"mg k "[..]),
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
    fn nul_is_an_ordinary_byte() {
        match complete(b"get a\0junk\r\n") {
            Request::Get { keys, .. } => {
                assert_eq!(keys.collect::<Vec<_>>(), vec![&b"a\0junk"[..]])
            }
            other => panic!("{other:?}"),
        }
    }
}
