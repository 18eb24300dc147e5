//! Meta get.
//!
//! ```text
//! mg <key> <flag>*\r\n
//! ```
//!
//! Flags: `b c E f h k l N O q R s t T u v` (and the other known flags, ignored). An `O`
//! longer than 32 bytes is refused.

use super::{opaque_too_long, read_flags, request, MetaCommand};
use crate::text::{Command, Request, Tokens};
use crate::Rejection;

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> Result<Command<'a>, Rejection> {
    let flags = read_flags(tokens, 2).map_err(super::handler_error)?;
    if opaque_too_long(&flags.flags) {
        return Err(super::handler_error("opaque token too long"));
    }
    Ok(Command::Ready(Request::Meta(request(
        MetaCommand::Get,
        flags,
    ))))
}

#[cfg(test)]
mod tests {
    use crate::meta::test_util::*;
    use crate::meta::MetaCommand;

    #[test]
    fn known_answers() {
        let m = meta(b"mg foo s v t f c k O123 h l\r\n");
        assert_eq!(m.command, MetaCommand::Get);
        assert_eq!(&*m.key, b"foo");
        let codes: Vec<u8> = m.flags.iter().map(|f| f.0).collect();
        assert_eq!(codes, b"svtfckOhl".to_vec());
        assert!(m.opts.value);
        let m = meta(b"mg foo\n");
        assert!(m.flags.is_empty());
    }

    #[test]
    fn refusals() {
        let long_key = format!("mg {} v\r\n", "k".repeat(251));
        let many = "mg foo v k c f s t h l u q Pa Pb Pc Pd Pe Pf Pg Ph Pi\r\n";
        let table: &[(&[u8], &str)] = &[
            (b"mg\r\n", "CLIENT_ERROR bad command line format\r\n"),
            (b"mg \r\n", "CLIENT_ERROR bad command line format\r\n"),
            (
                long_key.as_bytes(),
                "CLIENT_ERROR bad command line format\r\n",
            ),
            (
                many.as_bytes(),
                "CLIENT_ERROR options flags are too long\r\n",
            ),
            (b"mg foo v v\r\n", "CLIENT_ERROR duplicate flag\r\n"),
            (b"mg foo z\r\n", "CLIENT_ERROR invalid flag\r\n"),
            (b"mg !!!! b\r\n", "CLIENT_ERROR error decoding key\r\n"),
            (
                b"mg foo T\r\n",
                "CLIENT_ERROR bad token in command line format\r\n",
            ),
            (
                b"mg foo Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
                "CLIENT_ERROR opaque token too long\r\n",
            ),
        ];
        for (input, want) in table {
            assert_eq!(
                refused(input),
                (want.to_string(), 0),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // 31 bytes of opaque (32 with its `O`) are fine.
        meta(b"mg foo Oxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n");
    }
}
