//! Encoders for meta replies:
//!
//! ```text
//! <CD>[ <flag><token>]*\r\n
//! VA <size>[ <flag><token>]*\r\n<data>\r\n
//! ME <key> exp=<n> la=<n> cas=<n> fetch=<yes|no> cls=<n> size=<n>\r\n
//! ```

use std::fmt::Display;
use std::io::Write;

/// Builds one reply line. Flags are appended in the order the request gave them.
pub struct ReplyLine {
    buf: Vec<u8>,
}

impl ReplyLine {
    /// A reply line starting with a two-letter code (`HD`, `EN`, `NS`, `EX`, `NF`).
    pub fn new(code: &[u8; 2]) -> ReplyLine {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(code);
        ReplyLine { buf }
    }

    /// `VA <size>`: the line for a reply with a data block.
    pub fn value(size: usize) -> ReplyLine {
        let mut line = ReplyLine::new(b"VA");
        let _ = write!(line.buf, " {size}");
        line
    }

    /// ` <code><number>`
    pub fn number(&mut self, code: u8, n: impl Display) -> &mut Self {
        let _ = write!(self.buf, " {}{n}", code as char);
        self
    }

    /// ` <code><bytes>` (an opaque is copied back as it came).
    pub fn token(&mut self, code: u8, bytes: &[u8]) -> &mut Self {
        self.buf.push(b' ');
        self.buf.push(code);
        self.buf.extend_from_slice(bytes);
        self
    }

    /// ` k<key>`, base64-encoded and followed by ` b` for a binary key.
    pub fn key(&mut self, key: &[u8], binary: bool) -> &mut Self {
        if binary {
            let encoded = super::encode_key(key);
            self.token(b'k', encoded.as_bytes()).flag(b'b')
        } else {
            self.token(b'k', key)
        }
    }

    /// ` <code>` alone (`W`, `X`, `Z`, `b`).
    pub fn flag(&mut self, code: u8) -> &mut Self {
        self.buf.push(b' ');
        self.buf.push(code);
        self
    }

    /// The finished line with its `\r\n`.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(b"\r\n");
        self.buf
    }
}

/// What `me` reports about an item.
pub struct DebugLine<'a> {
    pub key: &'a [u8],
    pub binary_key: bool,
    pub exp: i64,
    pub last_access: u32,
    pub cas: u64,
    pub fetched: bool,
    pub class: u32,
    pub size: usize,
}

impl DebugLine<'_> {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = b"ME ".to_vec();
        if self.binary_key {
            out.extend_from_slice(super::encode_key(self.key).as_bytes());
        } else {
            out.extend_from_slice(self.key);
        }
        let fetch = if self.fetched { "yes" } else { "no" };
        let _ = write!(
            out,
            " exp={} la={} cas={} fetch={fetch} cls={} size={}\r\n",
            self.exp, self.last_access, self.cas, self.class, self.size
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let mut line = ReplyLine::value(2);
        line.number(b's', 2).number(b't', -1).token(b'O', b"123");
        line.key(b"foo", false).flag(b'W');
        assert_eq!(line.finish(), b"VA 2 s2 t-1 O123 kfoo W\r\n".to_vec());
        let mut line = ReplyLine::new(b"EN");
        line.key(&[0, 1, 2, 255], true).token(b'O', b"");
        assert_eq!(line.finish(), b"EN kAAEC/w== b O\r\n".to_vec());
        let me = DebugLine {
            key: b"foo",
            binary_key: false,
            exp: -1,
            last_access: 0,
            cas: 1,
            fetched: false,
            class: 1,
            size: 64,
        };
        assert_eq!(
            me.encode(),
            b"ME foo exp=-1 la=0 cas=1 fetch=no cls=1 size=64\r\n".to_vec()
        );
    }
}
