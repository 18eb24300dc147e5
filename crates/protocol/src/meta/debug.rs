//! Meta debug.
//!
//! ```text
//! me <key> [b <anything>]\r\n
//! ```
//!
//! memcached 1.6.45 decodes a base64 key only when the third token is exactly `b` and a
//! fourth token follows; everything else after the key is ignored.

use super::{decode_key, MetaCommand, MetaOptions, MetaRequest};
use crate::text::{Command, Request, Tokens};
use crate::{Rejection, KEY_MAX_LENGTH};
use std::borrow::Cow;

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> Result<Command<'a>, Rejection> {
    let bad = || super::client_error(super::BAD_FORMAT);
    let key = tokens.toks[1];
    if key.len() > KEY_MAX_LENGTH {
        return Err(bad());
    }
    let base64 = tokens.ntokens() >= 4 && tokens.get(2) == Some(&b"b"[..]);
    let key = if base64 {
        Cow::Owned(decode_key(key).filter(|k| !k.is_empty()).ok_or_else(bad)?)
    } else {
        Cow::Borrowed(key)
    };
    Ok(Command::Ready(Request::Meta(MetaRequest {
        command: MetaCommand::Debug,
        key,
        flags: Vec::new(),
        opts: MetaOptions {
            base64,
            ..MetaOptions::default()
        },
        value: b"",
    })))
}

#[cfg(test)]
mod tests {
    use crate::meta::test_util::*;

    #[test]
    fn known_answers() {
        assert_eq!(&*meta(b"me Zm9v b\r\n").key, b"Zm9v", "no fourth token");
        assert_eq!(&*meta(b"me Zm9v b x\r\n").key, b"foo");
        assert_eq!(&*meta(b"me Zm9v bx\r\n").key, b"Zm9v");
        assert_eq!(&*meta(b"me foo v k\r\n").key, b"foo");
        assert_eq!(
            refused(b"me\r\n").0,
            "CLIENT_ERROR bad command line format\r\n"
        );
        assert_eq!(
            refused(b"me !!!! b x\r\n").0,
            "CLIENT_ERROR bad command line format\r\n"
        );
    }
}
