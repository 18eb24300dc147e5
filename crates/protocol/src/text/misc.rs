//! Commands about the server rather than items.
//!
//! ```text
//! shutdown [graceful]\r\n
//! verbosity <level> [noreply]\r\n
//! cache_memlimit <megabytes> [noreply]\r\n
//! debugtime <seconds>|p|r\r\n
//! ```
//!
//! Numbers are read strictly (digits only). `noreply`, the last token, hides every reply.
//! `debugtime` exists in memcached's debug build only; its test suite moves the clock with it
//! (ferrocache's server answers it only when started with `-o debug_clock`).

use super::{abbreviates, error, Command, LineResult, Request, Tokens, BAD_FORMAT};
use crate::number::{tok_i64, tok_u32};
use crate::Reject;

/// What `debugtime` does to the clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugTime {
    /// `debugtime <seconds>` (a signed number)
    Advance(i64),
    /// `debugtime p`
    Pause,
    /// `debugtime r`
    Resume,
}

pub(super) fn debugtime<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    let Some(sub) = tokens.get(1) else {
        return Err(error(Reject::Error, noreply));
    };
    let change = if abbreviates(sub, "p") {
        DebugTime::Pause
    } else if abbreviates(sub, "r") {
        DebugTime::Resume
    } else {
        DebugTime::Advance(tok_i64(sub).ok_or_else(|| error(Reject::Error, noreply))?)
    };
    Ok(Command::Ready(Request::DebugTime { change, noreply }))
}

/// `shutdown`: whether it is allowed (`-A`) is the server's call; the mode is checked here,
/// and a bad mode is reported as `graceful: None` because memcached checks `-A` first.
/// memcached compares the mode as a prefix: `shutdown g` is graceful.
pub(super) fn shutdown<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let graceful = match (tokens.ntokens(), tokens.get(1)) {
        (1, _) => Some(false),
        (2, Some(mode)) if abbreviates(mode, "graceful") => Some(true),
        _ => None,
    };
    Ok(Command::Ready(Request::Shutdown {
        graceful,
        noreply: tokens.noreply(),
    }))
}

pub(super) fn verbosity<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    let level = tokens
        .get(1)
        .and_then(tok_u32)
        .ok_or_else(|| error(BAD_FORMAT, noreply))?;
    Ok(Command::Ready(Request::Verbosity { level, noreply }))
}

pub(super) fn cache_memlimit<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    let megabytes = tokens
        .get(1)
        .and_then(tok_u32)
        .ok_or_else(|| error(Reject::Error, noreply))?;
    if megabytes < 8 {
        return Err(error(
            Reject::Line("MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m"),
            noreply,
        ));
    }
    if megabytes > 1_000_000_000 {
        return Err(error(
            Reject::Line("MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes"),
            noreply,
        ));
    }
    Ok(Command::Ready(Request::CacheMemlimit {
        megabytes,
        noreply,
    }))
}

#[cfg(test)]
mod tests {
    use crate::text::test_util::*;
    use crate::text::Request;

    #[test]
    fn misc_known_answers() {
        assert_eq!(
            complete(b"shutdown\r\n"),
            Request::Shutdown {
                graceful: Some(false),
                noreply: false
            }
        );
        assert_eq!(
            complete(b"shutdown graceful\r\n"),
            Request::Shutdown {
                graceful: Some(true),
                noreply: false
            }
        );
        assert_eq!(
            complete(b"shutdown now\r\n"),
            Request::Shutdown {
                graceful: None,
                noreply: false
            }
        );
        assert_eq!(
            complete(b"verbosity 5 noreply\r\n"),
            Request::Verbosity {
                level: 5,
                noreply: true
            }
        );
        assert_eq!(
            rejected(b"verbosity\r\n").0,
            "CLIENT_ERROR bad command line format\r\n"
        );
        assert_eq!(
            complete(b"verbosity 1 2 3\r\n"),
            Request::Verbosity {
                level: 1,
                noreply: false
            }
        );
        assert_eq!(rejected(b"verbosity x noreply\r\n").0, "");
        assert_eq!(
            rejected(b"verbosity x\r\n").0,
            "CLIENT_ERROR bad command line format\r\n"
        );
        assert_eq!(
            complete(b"cache_memlimit 100\r\n"),
            Request::CacheMemlimit {
                megabytes: 100,
                noreply: false
            }
        );
        assert_eq!(rejected(b"cache_memlimit x\r\n").0, "ERROR\r\n");
        assert_eq!(
            rejected(b"cache_memlimit 7\r\n").0,
            "MEMLIMIT_TOO_SMALL cannot set maxbytes to less than 8m\r\n"
        );
        assert_eq!(
            rejected(b"cache_memlimit 1000000001\r\n").0,
            "MEMLIMIT_ADJUST_FAILED input value is megabytes not bytes\r\n"
        );
    }
}
