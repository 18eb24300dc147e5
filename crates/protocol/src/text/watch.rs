//! `watch`: turns the connection into a stream of log lines (memcached's
//! `process_watch_command`).
//!
//! ```text
//! watch [fetchers] [mutations] [evictions] [connevents] [deletions] [sysevents]
//!       [rawcmds] [proxyreqs] [proxyevents] [proxyuser]\r\n
//! ```
//!
//! With no argument the stream is `fetchers`. Each argument may be abbreviated to any prefix
//! (memcached compares with `strncmp` over the token's length), and a prefix shared by two
//! names means the first in the order above as memcached tests them (`rawcmds`, `evictions`,
//! `fetchers`, `mutations`, `sysevents`, `connevents`, `proxyreqs`, `proxyevents`,
//! `proxyuser`, `deletions`): `p` is `proxyreqs`. Any other token makes the whole command
//! `ERROR`. memcached reads up to 255 tokens of the line here, not the usual 24.

use super::{abbreviates, Command, LineResult, Request};

/// memcached's `LOG_SYSEVENTS`.
pub const SYSEVENTS: u16 = 1 << 1;
/// `LOG_FETCHERS`: item lookups.
pub const FETCHERS: u16 = 1 << 2;
/// `LOG_MUTATIONS`: stores.
pub const MUTATIONS: u16 = 1 << 3;
/// `LOG_CONNEVENTS`: connections opened and closed.
pub const CONNEVENTS: u16 = 1 << 5;
/// `LOG_EVICTIONS`.
pub const EVICTIONS: u16 = 1 << 6;
/// `LOG_RAWCMDS`.
pub const RAWCMDS: u16 = 1 << 9;
/// `LOG_PROXYREQS` (proxy builds log these; others accept the word and log nothing).
pub const PROXYREQS: u16 = 1 << 10;
/// `LOG_PROXYEVENTS`.
pub const PROXYEVENTS: u16 = 1 << 11;
/// `LOG_PROXYUSER`.
pub const PROXYUSER: u16 = 1 << 12;
/// `LOG_DELETIONS`.
pub const DELETIONS: u16 = 1 << 13;

/// The names in the order memcached tries them.
const NAMES: [(&str, u16); 10] = [
    ("rawcmds", RAWCMDS),
    ("evictions", EVICTIONS),
    ("fetchers", FETCHERS),
    ("mutations", MUTATIONS),
    ("sysevents", SYSEVENTS),
    ("connevents", CONNEVENTS),
    ("proxyreqs", PROXYREQS),
    ("proxyevents", PROXYEVENTS),
    ("proxyuser", PROXYUSER),
    ("deletions", DELETIONS),
];

/// The most tokens memcached splits a `watch` line into (the command included).
const MAX_WATCH_TOKENS: usize = 255;

/// Reads the streams a `watch` line asks for: `Some(flags)`, or `None` for an unknown
/// argument (the server answers `ERROR`, after its own checks: see [`Request::Watch`]).
pub(super) fn parse(line: &[u8]) -> LineResult<'_> {
    let mut flags = 0u16;
    let mut args = line
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
        .take(MAX_WATCH_TOKENS)
        .skip(1)
        .peekable();
    if args.peek().is_none() {
        flags = FETCHERS;
    }
    for arg in args {
        match NAMES.iter().find(|(name, _)| abbreviates(arg, name)) {
            Some((_, flag)) => flags |= flag,
            None => return Ok(Command::Ready(Request::Watch { flags: None })),
        }
    }
    Ok(Command::Ready(Request::Watch { flags: Some(flags) }))
}

/// Writes ` <name>` for each stream in `flags`, in memcached's order (for the encoder).
pub(super) fn write_names(out: &mut Vec<u8>, flags: u16) {
    for (name, flag) in NAMES {
        if flags & flag != 0 {
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::test_util::{complete, rejected};

    fn flags(line: &[u8]) -> Option<u16> {
        match complete(line) {
            Request::Watch { flags } => flags,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn no_argument_means_fetchers() {
        assert_eq!(flags(b"watch\r\n"), Some(FETCHERS));
        assert_eq!(flags(b"watch   \r\n"), Some(FETCHERS));
    }

    #[test]
    fn names_and_prefixes() {
        assert_eq!(
            flags(b"watch fetchers mutations evictions connevents deletions\r\n"),
            Some(FETCHERS | MUTATIONS | EVICTIONS | CONNEVENTS | DELETIONS)
        );
        assert_eq!(flags(b"watch f m\r\n"), Some(FETCHERS | MUTATIONS));
        // The first name in memcached's order wins a shared prefix.
        assert_eq!(flags(b"watch p\r\n"), Some(PROXYREQS));
        assert_eq!(flags(b"watch proxye\r\n"), Some(PROXYEVENTS));
        assert_eq!(flags(b"watch r s\r\n"), Some(RAWCMDS | SYSEVENTS));
    }

    #[test]
    fn unknown_or_longer_words_are_refused() {
        assert_eq!(flags(b"watch fetcherss\r\n"), None);
        assert_eq!(flags(b"watch fetchers nope\r\n"), None);
        assert_eq!(flags(b"watch noreply\r\n"), None);
        // Only exactly `watch` is the command.
        assert_eq!(rejected(b"watche\r\n").0, "ERROR\r\n");
    }

    #[test]
    fn tokens_past_255_are_ignored() {
        let mut line = b"watch".to_vec();
        for _ in 0..254 {
            line.extend_from_slice(b" f");
        }
        line.extend_from_slice(b" bogus\r\n");
        assert_eq!(flags(&line), Some(FETCHERS));
    }
}
