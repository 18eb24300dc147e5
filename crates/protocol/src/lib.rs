//! Parsers and encoders for memcached's protocols. No I/O happens here: a parser looks at the
//! bytes a connection has buffered and says what they are.
//!
//! Every parser returns a [`Parsed`]: a complete request with the number of bytes it used, a
//! request that needs more bytes, or a rejection carrying memcached's exact error reply and how
//! many bytes to drop. The server turns a rejection into the reply line with
//! [`Rejection::reply_line`].

pub mod binary;
pub mod meta;
pub mod number;
pub mod response;
pub mod text;

/// The result of looking at a connection's buffered bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// A whole request, and the number of bytes it occupied.
    Complete(T, usize),
    /// More bytes are needed. When the parser already knows how many bytes the whole request
    /// will occupy (a storage command whose data block is still arriving), it says so, so the
    /// server can size its buffer once.
    Incomplete(Option<usize>),
    /// The request is refused. `consumed` bytes are dropped from the buffer, and then
    /// `rejection.swallow` more bytes (a refused command's data block), whether they have
    /// arrived yet or not.
    Rejected(Rejection, usize),
}

/// Why a request was refused, and what memcached answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// `ERROR`: an unknown command or the wrong number of tokens.
    Error,
    /// `CLIENT_ERROR <msg>`
    ClientError(&'static str),
    /// `SERVER_ERROR <msg>`
    ServerError(&'static str),
    /// Any other fixed reply line, without its `\r\n`.
    Line(&'static str),
    /// Close the connection without a reply (a line too long to be a command, an HTTP request).
    Close,
}

/// A refused request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reject,
    /// The request carried `noreply`, which hides even error replies (as in memcached).
    pub noreply: bool,
    /// Bytes of data block to read and throw away after the command line.
    pub swallow: usize,
    /// memcached's `-vv` trace shows the reply (`>28 CLIENT_ERROR ...`). It does for the
    /// errors its request parser and most commands give, but not for those that the handlers
    /// of `delete`, `incr`/`decr`, `touch`, the storage commands and `mg`/`ms`/`md`/`ma`
    /// write themselves (a key over 250 bytes, a bad number or flag).
    pub logged: bool,
    /// memcached has drawn a CAS value for the request before refusing it (an `ms` whose
    /// item it had allocated), so the next stored item's CAS is one higher.
    pub spends_cas: bool,
}

impl Rejection {
    pub const fn new(reason: Reject) -> Rejection {
        Rejection {
            reason,
            noreply: false,
            swallow: 0,
            logged: true,
            spends_cas: false,
        }
    }

    /// The same refusal, left out of the `-vv` trace (see [`Rejection::logged`]).
    pub const fn unlogged(self) -> Rejection {
        Rejection {
            logged: false,
            ..self
        }
    }

    /// The reply line with its `\r\n`, or `None` for a silent close or a `noreply` request.
    pub fn reply_line(&self) -> Option<Vec<u8>> {
        if self.noreply {
            return None;
        }
        self.line()
    }

    /// The error line with its `\r\n`, even for a `noreply` request (which is not sent it);
    /// `None` for a silent close.
    pub fn line(&self) -> Option<Vec<u8>> {
        let line = match self.reason {
            Reject::Error => "ERROR".to_string(),
            Reject::ClientError(msg) => format!("CLIENT_ERROR {msg}"),
            Reject::ServerError(msg) => format!("SERVER_ERROR {msg}"),
            Reject::Line(line) => line.to_string(),
            Reject::Close => return None,
        };
        let mut out = line.into_bytes();
        out.extend_from_slice(b"\r\n");
        Some(out)
    }
}

/// Limits that the parsers enforce before waiting for more bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// `-I`: the largest item, counted as memcached counts it (see [`item_size`]).
    pub item_size_max: usize,
    /// CAS is on (no `-C`): each item then carries 8 more bytes.
    pub cas_enabled: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            item_size_max: 1024 * 1024,
            cas_enabled: true,
        }
    }
}

/// The longest key memcached accepts.
pub const KEY_MAX_LENGTH: usize = 250;

/// The size memcached charges an item against `-I`: its 48-byte header, an 8-byte CAS unless
/// `-C` turned CAS off, the key and its terminating NUL, 4 bytes of client flags when they are
/// not zero, and the value with its `\r\n`.
pub fn item_size(key_len: usize, flags: u32, value_len: usize, cas_enabled: bool) -> usize {
    let flags_len = if flags == 0 { 0 } else { 4 };
    let cas_len = if cas_enabled { 8 } else { 0 };
    48 + cas_len + key_len + 1 + flags_len + value_len + 2
}
