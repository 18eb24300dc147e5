//! Meta delete.
//!
//! ```text
//! md <key> <flag>*\r\n
//! ```
//!
//! Flags: `b C E F I k O q T x` (and the other known flags, ignored). An `O` longer than 32
//! bytes is refused before the key is looked up.

use super::{opaque_too_long, read_flags, request, MetaCommand};
use crate::text::{Command, Request, Tokens};
use crate::Rejection;

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> Result<Command<'a>, Rejection> {
    let flags = read_flags(tokens, 2).map_err(super::handler_error)?;
    if opaque_too_long(&flags.flags) {
        return Err(super::handler_error("opaque token too long"));
    }
    Ok(Command::Ready(Request::Meta(request(
        MetaCommand::Delete,
        flags,
    ))))
}

#[cfg(test)]
mod tests {
    use crate::meta::test_util::*;
    use crate::meta::MetaCommand;

    #[test]
    fn known_answers() {
        let m = meta(b"md foo I T30 q k O5\r\n");
        assert_eq!(m.command, MetaCommand::Delete);
        assert!(m.opts.invalidate && m.opts.quiet);
        assert_eq!(m.opts.ttl, Some(30));
        assert!(meta(b"md foo x\r\n").opts.remove_value);
        let table: &[(&[u8], &str)] = &[
            (b"md foo z\r\n", "CLIENT_ERROR invalid flag\r\n"),
            (b"md foo k k\r\n", "CLIENT_ERROR duplicate flag\r\n"),
            (b"md !!!! b\r\n", "CLIENT_ERROR error decoding key\r\n"),
            (b"md\r\n", "CLIENT_ERROR bad command line format\r\n"),
        ];
        for (input, want) in table {
            assert_eq!(refused(input), (want.to_string(), 0));
        }
    }
}
