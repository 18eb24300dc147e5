//! Retrieval commands.
//!
//! ```text
//! get <key>+\r\n
//! gets <key>+\r\n
//! gat <exptime> <key>+\r\n
//! gats <exptime> <key>+\r\n
//! ```
//!
//! At least one key (else `CLIENT_ERROR bad command line format`); the keys run to the end
//! of the line, beyond the tokenizer's 23 tokens. `gat`'s exptime is read strictly (digits
//! and a leading `-`); a bad one is `CLIENT_ERROR invalid exptime argument`. A key over 250
//! bytes is found only when the server reaches it: memcached has looked up (and counted)
//! the keys before it, and the whole command answers `CLIENT_ERROR bad command line format`.

use super::{bad_format, error, Command, LineResult, Request, Tokens};
use crate::number::tok_i32;
use crate::Reject;

/// Which retrieval command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetKind {
    Get,
    Gets,
    Gat,
    Gats,
}

impl GetKind {
    /// Does the reply carry CAS uniques?
    pub fn returns_cas(self) -> bool {
        matches!(self, GetKind::Gets | GetKind::Gats)
    }

    /// Does the command set a new exptime?
    pub fn touches(self) -> bool {
        matches!(self, GetKind::Gat | GetKind::Gats)
    }
}

/// The keys of a retrieval command, split lazily from the rest of the line. A key may be
/// over 250 bytes: the server refuses the command when it comes to it (see
/// [`crate::KEY_MAX_LENGTH`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyIter<'a> {
    rest: &'a [u8],
}

impl<'a> KeyIter<'a> {
    pub(crate) fn new(rest: &'a [u8]) -> Self {
        KeyIter { rest }
    }
}

impl<'a> Iterator for KeyIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|&b| b != b' ')?;
        let rest = &self.rest[start..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        self.rest = &rest[end..];
        Some(&rest[..end])
    }
}

pub(super) fn parse<'a>(name: &[u8], tokens: &Tokens<'a>) -> LineResult<'a> {
    let kind = match name {
        b"gets" => GetKind::Gets,
        b"gat" => GetKind::Gat,
        b"gats" => GetKind::Gats,
        _ => GetKind::Get,
    };
    let first_key = if kind.touches() { 2 } else { 1 };
    if tokens.ntokens() <= first_key {
        return Err(bad_format());
    }
    let mut exptime = 0;
    if kind.touches() {
        exptime = tok_i32(tokens.toks[1])
            .ok_or_else(|| error(Reject::ClientError("invalid exptime argument"), false))?;
    }
    Ok(Command::Ready(Request::Get {
        kind,
        exptime,
        keys: KeyIter::new(tokens.line_from(first_key)),
    }))
}

#[cfg(test)]
mod tests {
    use crate::text::test_util::*;
    use crate::text::{GetKind, Request};

    fn keys(input: &[u8]) -> (GetKind, i32, Vec<Vec<u8>>) {
        match complete(input) {
            Request::Get {
                kind,
                exptime,
                keys,
            } => (kind, exptime, keys.map(|k| k.to_vec()).collect()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn retrieval_known_answers() {
        assert_eq!(keys(b"get a\r\n"), (GetKind::Get, 0, vec![b"a".to_vec()]));
        assert_eq!(
            keys(b"gets a  b\r\n"),
            (GetKind::Gets, 0, vec![b"a".to_vec(), b"b".to_vec()])
        );
        assert_eq!(
            keys(b"gat 10 a\r\n"),
            (GetKind::Gat, 10, vec![b"a".to_vec()])
        );
        assert_eq!(
            keys(b"gats -1 a\r\n"),
            (GetKind::Gats, -1, vec![b"a".to_vec()])
        );
        assert_eq!(
            keys(b"get a noreply\n").2,
            vec![b"a".to_vec(), b"noreply".to_vec()]
        );
    }

    #[test]
    fn many_keys_beyond_the_token_limit() {
        let names: Vec<String> = (0..100).map(|i| format!("key{i}")).collect();
        let line = format!("get {}\r\n", names.join(" "));
        let (_, _, got) = keys(line.as_bytes());
        assert_eq!(got.len(), 100);
        assert_eq!(got[99], b"key99".to_vec());
    }

    #[test]
    fn retrieval_errors() {
        let bad = "CLIENT_ERROR bad command line format\r\n";
        assert_eq!(rejected(b"get\r\n").0, bad);
        assert_eq!(rejected(b"gat\r\n").0, bad);
        assert_eq!(rejected(b"gat 10\r\n").0, bad);
        assert_eq!(rejected(b"gats 10   \r\n").0, bad);
        for exptime in ["x", "+1", "1.5", "2147483648", "000000000001"] {
            let line = format!("gat {exptime} a\r\n");
            assert_eq!(
                rejected(line.as_bytes()).0,
                "CLIENT_ERROR invalid exptime argument\r\n",
                "{line:?}"
            );
        }
        let long = format!("get a {}\r\n", "k".repeat(251));
        assert_eq!(
            keys(long.as_bytes()).2[1].len(),
            251,
            "the server refuses it"
        );
        let ok = format!("get {}\r\n", "k".repeat(250));
        assert_eq!(keys(ok.as_bytes()).2[0].len(), 250);
    }
}
