//! Incremental parser for memcached text-protocol replies.
//!
//! [`parse`] looks at the start of a receive buffer and either returns one whole reply and
//! the number of bytes it took, or `None` when the buffer ends inside a reply (read more and
//! call again). Value blocks are skipped by their declared length, never by searching for
//! `END`, so data that contains `\r\nEND\r\n` cannot desync a pipelined connection.

use std::fmt;

/// One complete reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A retrieval reply: zero or more `VALUE` blocks, then `END`. A bare `END` is a miss
    /// (or an empty `stats` section).
    Values {
        /// Number of `VALUE` blocks.
        hits: u32,
        /// Data bytes over all blocks, without the trailing `\r\n`s.
        bytes: u64,
    },
    /// `STAT <name> <value>` lines ended by `END` (never empty: an empty section is
    /// `Values { hits: 0, .. }`).
    Stats(Vec<(String, String)>),
    Stored,
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Touched,
    Ok,
    /// The result of `incr`/`decr`.
    Number(u64),
    /// `VERSION <text>`.
    Version(String),
    /// `ERROR`, `CLIENT_ERROR <msg>` or `SERVER_ERROR <msg>`: the full line.
    Error(String),
}

/// The reply stream is not memcached's text protocol (or the client lost its place in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad reply: {}", self.0)
    }
}

impl std::error::Error for ParseError {}

impl From<ParseError> for std::io::Error {
    fn from(e: ParseError) -> Self {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// Longest line accepted before the stream is declared garbage (memcached's own lines are
/// far shorter; a key is at most 250 bytes).
const MAX_LINE: usize = 8192;

fn bad(what: &str, line: &[u8]) -> ParseError {
    let shown = &line[..line.len().min(120)];
    ParseError(format!("{what}: {:?}", String::from_utf8_lossy(shown)))
}

/// Finds the line starting at `at`; returns its content (without `\r\n`) and the offset
/// just past its `\n`, or `None` if the buffer has no complete line there yet.
fn line_at(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, ParseError> {
    let rest = &buf[at..];
    match rest.iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let line = &rest[..nl];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            Ok(Some((line, at + nl + 1)))
        }
        None if rest.len() > MAX_LINE => Err(bad("line too long", rest)),
        None => Ok(None),
    }
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    let mut n: u64 = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    Some(n)
}

/// Parses one reply from the start of `buf`. `Ok(None)`: incomplete, read more.
pub fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, ParseError> {
    let Some((line, next)) = line_at(buf, 0)? else {
        return Ok(None);
    };
    if line.starts_with(b"VALUE ") || line == b"END" {
        return parse_values(buf);
    }
    if line.starts_with(b"STAT ") {
        return parse_stats(buf);
    }
    let reply = match line {
        b"STORED" => Reply::Stored,
        b"NOT_STORED" => Reply::NotStored,
        b"EXISTS" => Reply::Exists,
        b"NOT_FOUND" => Reply::NotFound,
        b"DELETED" => Reply::Deleted,
        b"TOUCHED" => Reply::Touched,
        b"OK" => Reply::Ok,
        _ if line == b"ERROR"
            || line.starts_with(b"CLIENT_ERROR")
            || line.starts_with(b"SERVER_ERROR") =>
        {
            Reply::Error(String::from_utf8_lossy(line).into_owned())
        }
        _ if line.starts_with(b"VERSION ") => {
            Reply::Version(String::from_utf8_lossy(&line[8..]).into_owned())
        }
        _ => match parse_u64(line) {
            Some(n) => Reply::Number(n),
            None => return Err(bad("unknown reply", line)),
        },
    };
    Ok(Some((reply, next)))
}

/// `VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n` ... `END\r\n`.
fn parse_values(buf: &[u8]) -> Result<Option<(Reply, usize)>, ParseError> {
    let (mut hits, mut bytes, mut at) = (0u32, 0u64, 0usize);
    loop {
        let Some((line, next)) = line_at(buf, at)? else {
            return Ok(None);
        };
        if line == b"END" {
            return Ok(Some((Reply::Values { hits, bytes }, next)));
        }
        let mut fields = line.split(|&b| b == b' ');
        if fields.next() != Some(b"VALUE") {
            return Err(bad("expected VALUE or END", line));
        }
        let (key, flags, len) = (fields.next(), fields.next(), fields.next());
        let cas = fields.next();
        let ok_header = key.is_some_and(|k| !k.is_empty())
            && flags.and_then(parse_u64).is_some()
            && cas.is_none_or(|c| parse_u64(c).is_some())
            && fields.next().is_none();
        let len = len.and_then(parse_u64);
        let (true, Some(len)) = (ok_header, len) else {
            return Err(bad("malformed VALUE line", line));
        };
        let len = usize::try_from(len).map_err(|_| bad("value too long", line))?;
        let end = next
            .checked_add(len)
            .and_then(|e| e.checked_add(2))
            .ok_or_else(|| bad("value too long", line))?;
        if buf.len() < end {
            return Ok(None);
        }
        if &buf[end - 2..end] != b"\r\n" {
            return Err(bad("value data not ended by CRLF", line));
        }
        hits += 1;
        bytes += len as u64;
        at = end;
    }
}

/// `STAT <name> <value>` lines, then `END`.
fn parse_stats(buf: &[u8]) -> Result<Option<(Reply, usize)>, ParseError> {
    let mut stats = Vec::new();
    let mut at = 0;
    loop {
        let Some((line, next)) = line_at(buf, at)? else {
            return Ok(None);
        };
        if line == b"END" {
            return Ok(Some((Reply::Stats(stats), next)));
        }
        let Some(rest) = line.strip_prefix(b"STAT ") else {
            return Err(bad("expected STAT or END", line));
        };
        let text = String::from_utf8_lossy(rest);
        let (name, value) = text.split_once(' ').unwrap_or((&text, ""));
        stats.push((name.to_string(), value.to_string()));
        at = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(buf: &[u8]) -> Reply {
        let (reply, used) = parse(buf).unwrap().expect("complete");
        assert_eq!(
            used,
            buf.len(),
            "consumed all of {:?}",
            String::from_utf8_lossy(buf)
        );
        reply
    }

    #[test]
    fn simple_replies() {
        assert_eq!(one(b"STORED\r\n"), Reply::Stored);
        assert_eq!(one(b"NOT_STORED\r\n"), Reply::NotStored);
        assert_eq!(one(b"EXISTS\r\n"), Reply::Exists);
        assert_eq!(one(b"NOT_FOUND\r\n"), Reply::NotFound);
        assert_eq!(one(b"DELETED\r\n"), Reply::Deleted);
        assert_eq!(one(b"TOUCHED\r\n"), Reply::Touched);
        assert_eq!(one(b"OK\r\n"), Reply::Ok);
        assert_eq!(one(b"42\r\n"), Reply::Number(42));
        assert_eq!(one(b"VERSION 1.6.18\r\n"), Reply::Version("1.6.18".into()));
        assert_eq!(one(b"ERROR\r\n"), Reply::Error("ERROR".into()));
        assert_eq!(
            one(b"SERVER_ERROR out of memory storing object\r\n"),
            Reply::Error("SERVER_ERROR out of memory storing object".into())
        );
        assert_eq!(
            one(b"CLIENT_ERROR bad data chunk\r\n"),
            Reply::Error("CLIENT_ERROR bad data chunk".into())
        );
    }

    #[test]
    fn miss_and_hits() {
        assert_eq!(one(b"END\r\n"), Reply::Values { hits: 0, bytes: 0 });
        assert_eq!(
            one(b"VALUE k 0 5\r\nhello\r\nEND\r\n"),
            Reply::Values { hits: 1, bytes: 5 }
        );
        assert_eq!(
            one(b"VALUE a 1 1 17\r\nx\r\nVALUE b 4294967295 0\r\n\r\nEND\r\n"),
            Reply::Values { hits: 2, bytes: 1 }
        );
    }

    #[test]
    fn data_that_looks_like_protocol_is_skipped_by_length() {
        let buf = b"VALUE k 0 11\r\nEND\r\nSTORED\r\nEND\r\nSTORED\r\n";
        let (reply, used) = parse(buf).unwrap().unwrap();
        assert_eq!(reply, Reply::Values { hits: 1, bytes: 11 });
        assert_eq!(&buf[used..], b"STORED\r\n");
    }

    #[test]
    fn every_prefix_of_a_reply_is_incomplete() {
        let buf = b"VALUE key:1 0 10 99\r\n0123456789\r\nVALUE key:2 0 3\r\nabc\r\nEND\r\n";
        for cut in 0..buf.len() {
            assert_eq!(parse(&buf[..cut]).unwrap(), None, "cut at {cut}");
        }
        assert_eq!(one(buf), Reply::Values { hits: 2, bytes: 13 });
        let stats = b"STAT pid 1\r\nSTAT version 1.6.18\r\nEND\r\n";
        for cut in 0..stats.len() {
            assert_eq!(parse(&stats[..cut]).unwrap(), None, "cut at {cut}");
        }
    }

    #[test]
    fn pipelined_stream_splits_into_replies() {
        let stream = b"STORED\r\nEND\r\nVALUE k 0 2\r\nhi\r\nEND\r\nSERVER_ERROR oom\r\nSTORED\r\n";
        let mut at = 0;
        let mut got = Vec::new();
        while let Some((reply, used)) = parse(&stream[at..]).unwrap() {
            got.push(reply);
            at += used;
        }
        assert_eq!(at, stream.len());
        assert_eq!(
            got,
            vec![
                Reply::Stored,
                Reply::Values { hits: 0, bytes: 0 },
                Reply::Values { hits: 1, bytes: 2 },
                Reply::Error("SERVER_ERROR oom".into()),
                Reply::Stored,
            ]
        );
    }

    #[test]
    fn stats_section() {
        assert_eq!(
            one(b"STAT curr_items 7\r\nSTAT version 1.6.18\r\nSTAT empty \r\nEND\r\n"),
            Reply::Stats(vec![
                ("curr_items".into(), "7".into()),
                ("version".into(), "1.6.18".into()),
                ("empty".into(), "".into()),
            ])
        );
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(parse(b"HELLO\r\n").is_err());
        assert!(parse(b"VALUE k 0 x\r\n").is_err());
        assert!(parse(b"VALUE k 0\r\n").is_err());
        assert!(parse(b"VALUE k 0 1 2 3\r\n").is_err());
        assert!(
            parse(b"VALUE k 0 2\r\nabcd\r\nEND\r\n").is_err(),
            "data longer than declared"
        );
        assert!(parse(b"VALUE k 0 2\r\nhi\r\nSTORED\r\n").is_err(), "no END");
        assert!(parse(b"STAT a 1\r\nSTORED\r\n").is_err());
        assert!(parse(&[b'x'; MAX_LINE + 1]).is_err());
        assert!(
            parse(b"99999999999999999999999\r\n").is_err(),
            "number overflow"
        );
    }

    #[test]
    fn bare_newlines_are_accepted() {
        assert_eq!(parse(b"STORED\n").unwrap(), Some((Reply::Stored, 7)));
    }
}
