//! Meta debug.
//!
//! ```text
//! me <key> [b]\r\n
//! ```
//!
//! Only a third token of exactly `b` means anything (a base64 key); everything else after the
//! key is ignored.

use super::{decode_key, MetaCommand, MetaOptions, MetaRequest};
use crate::text::{Command, Request, Tokens};
use crate::{Rejection, KEY_MAX_LENGTH};
use std::borrow::Cow;

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> Result<Command<'a>, Rejection> {
    let bad = || super::client_error(super::BAD_FORMAT);
    let key = *tokens.toks.get(1).ok_or_else(bad)?;
    if key.len() > KEY_MAX_LENGTH {
        return Err(bad());
    }
    let base64 = tokens.toks.get(2) == Some(&&b"b"[..]);
    let key = if base64 {
        Cow::Owned(decode_key(key).ok_or_else(bad)?)
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
        assert_eq!(&*meta(b"me Zm9v b\r\n").key, b"foo");
        assert_eq!(&*meta(b"me Zm9v bx\r\n").key, b"Zm9v");
        assert_eq!(&*meta(b"me foo v k\r\n").key, b"foo");
        assert_eq!(
            refused(b"me\r\n").0,
            "CLIENT_ERROR bad command line format\r\n"
        );
        assert_eq!(
            refused(b"me !!!! b\r\n").0,
            "CLIENT_ERROR bad command line format\r\n"
        );
    }
}
