//! memcached's meta commands: `mg`, `ms`, `md`, `ma`, `me` (and `mn`, parsed with the text
//! commands). They share the text protocol's framing and tokenizer:
//!
//! ```text
//! mg <key> <flag>*\r\n
//! ms <key> <datalen> <flag>*\r\n<data>\r\n
//! md <key> <flag>*\r\n
//! ma <key> <flag>*\r\n
//! me <key> [b]\r\n
//! ```
//!
//! A flag is one character, optionally followed by its token (`T30`, `Oopaque`, `MA`). Each
//! flag may appear once. Flags that ask for information are answered in the order they were
//! sent, which is why [`MetaRequest::flags`] keeps that order.
//!
//! The checks, and the error line each failure gets, follow memcached 1.6.45:
//!
//! 1. the request parser: every flag token must start with a letter or a digit, there must
//!    be a key (and for `ms` a data length of digits): otherwise `CLIENT_ERROR bad command
//!    line format`, with nothing swallowed;
//! 2. the key is at most 250 bytes, and the line has at most 20 tokens (`CLIENT_ERROR
//!    options flags are too long`);
//! 3. each flag in turn. Duplicate and unknown flags stop the scan at once; a flag with a bad
//!    token marks the request bad and the scan goes on, so the last such message wins. Flag
//!    numbers are read strictly (digits, and a leading `-` for times).
//!
//! `mg`, `ms` and `md` report the message; `ma` reports `CLIENT_ERROR invalid or duplicate
//! flag` whatever went wrong. A refused `ms` has its data block thrown away unless the
//! command line itself was unreadable (step 1).

mod arith;
mod debug;
mod delete;
mod get;
pub mod reply;
mod set;

pub use arith::is_incr;
pub use set::valid_mode;
pub(crate) use set::{with_data, SetHeader};

use crate::number::{tok_i32, tok_u32, tok_u64};
use crate::text::{tokenize, Command, Tokens};
use crate::{Reject, Rejection, KEY_MAX_LENGTH};
use base64::Engine;
use std::borrow::Cow;

/// Which meta command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetaCommand {
    /// `mg`
    Get,
    /// `ms`
    Set,
    /// `md`
    Delete,
    /// `ma`
    Arith,
    /// `me`
    Debug,
}

/// A parsed meta request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaRequest<'a> {
    pub command: MetaCommand,
    /// The key as stored: decoded when the request carried `b`.
    pub key: Cow<'a, [u8]>,
    /// Every flag as sent, in order: its character and the rest of its token.
    pub flags: Vec<(u8, &'a [u8])>,
    pub opts: MetaOptions,
    /// `ms`'s data block.
    pub value: &'a [u8],
}

/// What the flags ask for, parsed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetaOptions {
    /// `b`: the key is base64.
    pub base64: bool,
    /// `q`: hide the replies memcached hides in quiet mode.
    pub quiet: bool,
    /// `u`: do not mark the item as fetched.
    pub no_bump: bool,
    /// `v`: return the value.
    pub value: bool,
    /// `I`: invalidate (`md`) or store stale when the CAS is older (`ms`).
    pub invalidate: bool,
    /// `x`: `md` keeps the item but empties its value.
    pub remove_value: bool,
    /// `T<ttl>`
    pub ttl: Option<i32>,
    /// `N<ttl>`: create on a miss.
    pub vivify: Option<i32>,
    /// `R<ttl>`: win the recache below this remaining TTL.
    pub recache: Option<i32>,
    /// `F<flags>`
    pub client_flags: Option<u32>,
    /// `C<cas>`
    pub compare_cas: Option<u64>,
    /// `E<cas>`: the new CAS value (memcached 1.6.45).
    pub new_cas: Option<u64>,
    /// `M<mode>`: the byte after the `M` (a space for a lone `M`, which no command accepts
    /// as a mode). A NUL there reads as no mode, as in memcached.
    pub mode: Option<u8>,
    /// `J<initial>` (`ma`)
    pub initial: Option<u64>,
    /// `D<delta>` (`ma`)
    pub delta: Option<u64>,
}

/// A meta command line with more tokens than this is refused before its flags are read.
const MAX_TOKENS: usize = 20;

/// The longest `O` token memcached copies back, counting its `O`.
pub const MAX_OPAQUE_TOKEN: usize = 32;

const BAD_FORMAT: &str = "bad command line format";

pub(crate) fn client_error(msg: &'static str) -> Rejection {
    Rejection::new(Reject::ClientError(msg))
}

/// An error from the `mg`/`ms`/`md`/`ma` handlers, which memcached writes without showing it
/// in its `-vv` trace (unlike its request parser's and `me`'s).
pub(crate) fn handler_error(msg: &'static str) -> Rejection {
    client_error(msg).unlogged()
}

/// Decodes a `b` key as memcached's decoder does: bytes outside the base64 alphabet (and
/// `=`) are skipped, the rest must come in groups of four, decoding stops after the first
/// group with padding (one or two `=`; more is refused), and an empty result is a failure.
pub fn decode_key(key: &[u8]) -> Option<Vec<u8>> {
    fn sextet(b: u8) -> Option<u8> {
        match b {
            b'A'..=b'Z' => Some(b - b'A'),
            b'a'..=b'z' => Some(b - b'a' + 26),
            b'0'..=b'9' => Some(b - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            b'=' => Some(0),
            _ => None,
        }
    }
    let count = key.iter().filter(|&&b| sextet(b).is_some()).count();
    if count == 0 || count % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(count / 4 * 3);
    let mut block = [0u8; 4];
    let mut filled = 0;
    let mut padding = 0;
    for &b in key {
        let Some(v) = sextet(b) else { continue };
        padding += usize::from(b == b'=');
        block[filled] = v;
        filled += 1;
        if filled == 4 {
            out.extend_from_slice(&[
                (block[0] << 2) | (block[1] >> 4),
                (block[1] << 4) | (block[2] >> 2),
                (block[2] << 6) | block[3],
            ]);
            filled = 0;
            if padding > 0 {
                if padding > 2 {
                    return None;
                }
                out.truncate(out.len() - padding);
                break;
            }
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Encodes a binary key for `k`.
pub fn encode_key(key: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(key)
}

/// The flags of a request once read: the key (decoded for `b`), the flags in order, and what
/// they ask for.
pub(crate) struct Flags<'a> {
    pub key: Cow<'a, [u8]>,
    pub flags: Vec<(u8, &'a [u8])>,
    pub opts: MetaOptions,
}

/// memcached's flag pre-parse: the key's length and the token count, then the flag tokens
/// (from the third token, the fourth for `ms`). `Err` carries the message memcached would
/// give.
pub(crate) fn read_flags<'a>(
    tokens: &Tokens<'a>,
    first_flag: usize,
) -> Result<Flags<'a>, &'static str> {
    let key = tokens.toks[1];
    if key.len() > KEY_MAX_LENGTH {
        return Err(BAD_FORMAT);
    }
    if tokens.ntokens() > MAX_TOKENS {
        return Err("options flags are too long");
    }
    let toks = &tokens.toks[first_flag.min(tokens.ntokens())..];
    let mut seen = [false; 128];
    let mut opts = MetaOptions::default();
    let mut flags = Vec::with_capacity(toks.len());
    let mut decoded: Cow<'a, [u8]> = Cow::Borrowed(key);
    // memcached keeps one error message, overwritten by each later bad token; a flag whose
    // number fails without a message of its own (F) leaves the previous one.
    let mut failed: Option<&'static str> = None;
    let mut fail = |msg: Option<&'static str>| {
        failed = Some(msg.or(failed).unwrap_or(BAD_FORMAT));
    };
    for &tok in toks {
        let code = tok[0];
        if code >= 127 || seen[code as usize] {
            return Err("duplicate flag");
        }
        seen[code as usize] = true;
        let arg = &tok[1..];
        // A flag's number needs at least one character after the flag.
        let time = || (!arg.is_empty()).then(|| tok_i32(arg)).flatten();
        let bad_token = Some("bad token in command line format");
        match code {
            b'b' => {
                opts.base64 = true;
                match decode_key(key) {
                    Some(k) => decoded = Cow::Owned(k),
                    None => fail(Some("error decoding key")),
                }
            }
            b'N' => match time() {
                Some(v) => opts.vivify = Some(v),
                None => fail(bad_token),
            },
            b'T' => match time() {
                Some(v) => opts.ttl = Some(v),
                None => fail(bad_token),
            },
            b'R' => match time() {
                Some(v) => opts.recache = Some(v),
                None => fail(bad_token),
            },
            b'F' => match (!arg.is_empty()).then(|| tok_u32(arg)).flatten() {
                Some(v) => opts.client_flags = Some(v),
                None => fail(None),
            },
            b'C' => match (!arg.is_empty()).then(|| tok_u64(arg)).flatten() {
                Some(v) => opts.compare_cas = Some(v),
                None => fail(bad_token),
            },
            b'E' => match (!arg.is_empty()).then(|| tok_u64(arg)).flatten() {
                Some(v) => opts.new_cas = Some(v),
                None => fail(bad_token),
            },
            b'M' => {
                // memcached takes the byte after the `M`: for a lone `M` a space or the
                // line's end, which no command takes as a mode.
                let next = arg.first().copied().unwrap_or(b' ');
                opts.mode = (next != 0).then_some(next);
            }
            b'J' => match (!arg.is_empty()).then(|| tok_u64(arg)).flatten() {
                Some(v) => opts.initial = Some(v),
                None => fail(Some("invalid numeric initial value")),
            },
            b'D' => match (!arg.is_empty()).then(|| tok_u64(arg)).flatten() {
                Some(v) => opts.delta = Some(v),
                None => fail(Some("invalid numeric delta value")),
            },
            b'q' => opts.quiet = true,
            b'u' => opts.no_bump = true,
            b'v' => opts.value = true,
            b'I' => opts.invalidate = true,
            b'x' => opts.remove_value = true,
            b'O' | b'P' | b'L' | b'k' | b's' | b't' | b'c' | b'f' | b'h' | b'l' => {}
            _ => return Err("invalid flag"),
        }
        flags.push((code, arg));
    }
    match failed {
        Some(msg) => Err(msg),
        None => Ok(Flags {
            key: decoded,
            flags,
            opts,
        }),
    }
}

/// Is there an `O` token (its `O` counted) longer than memcached copies back?
fn opaque_too_long(flags: &[(u8, &[u8])]) -> bool {
    flags
        .iter()
        .any(|&(code, arg)| code == b'O' && 1 + arg.len() > MAX_OPAQUE_TOKEN)
}

impl MetaRequest<'_> {
    /// See [`MAX_OPAQUE_TOKEN`]. `ma` checks it only after acting, so the server asks.
    pub fn opaque_too_long(&self) -> bool {
        opaque_too_long(&self.flags)
    }
}

/// Parses a meta command line (`name` is `mg`, `ms`, `md`, `ma` or `me`). memcached's
/// request parser first splits it with the flag check (see [`crate::text`]) and wants a key,
/// and for `ms` a data length.
pub(crate) fn parse<'a>(name: &[u8], line: &'a [u8]) -> Result<Command<'a>, Rejection> {
    let first_flag = if name == b"ms" { 3 } else { 2 };
    let tokens = tokenize(line, first_flag).map_err(|_| client_error(BAD_FORMAT))?;
    if tokens.ntokens() < first_flag {
        return Err(client_error(BAD_FORMAT));
    }
    match name {
        b"mg" => get::parse(&tokens),
        b"ms" => set::parse(&tokens),
        b"md" => delete::parse(&tokens),
        b"ma" => arith::parse(&tokens),
        _ => debug::parse(&tokens),
    }
}

fn request<'a>(command: MetaCommand, f: Flags<'a>) -> MetaRequest<'a> {
    MetaRequest {
        command,
        key: f.key,
        flags: f.flags,
        opts: f.opts,
        value: b"",
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::MetaRequest;
    use crate::text::{parse, Request};
    use crate::{Limits, Parsed};

    pub fn meta(input: &[u8]) -> MetaRequest<'_> {
        match parse(input, &Limits::default()) {
            Parsed::Complete(Request::Meta(m), used) => {
                assert_eq!(used, input.len());
                m
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    /// The reply line and the data bytes to swallow of a refused request.
    pub fn refused(input: &[u8]) -> (String, usize) {
        match parse(input, &Limits::default()) {
            Parsed::Rejected(r, used) => {
                assert_eq!(used, input.len());
                (
                    String::from_utf8(r.reply_line().unwrap_or_default()).unwrap(),
                    r.swallow,
                )
            }
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_keys_decode_as_memcached_decodes_them() {
        assert_eq!(decode_key(b"Zm9v").as_deref(), Some(&b"foo"[..]));
        assert_eq!(decode_key(b"Zm8="), Some(b"fo".to_vec()));
        assert_eq!(decode_key(b"Zg=="), Some(b"f".to_vec()));
        assert_eq!(decode_key(b"Zm8"), None);
        assert_eq!(decode_key(b"Zm9v="), None);
        assert_eq!(decode_key(b"!!!!"), None);
        assert_eq!(
            decode_key(b"Zm!9v"),
            Some(b"foo".to_vec()),
            "junk is skipped"
        );
        assert_eq!(
            decode_key(b"Zg==Zm9v"),
            Some(b"f".to_vec()),
            "stops at padding"
        );
        assert_eq!(decode_key(b"Z==="), None);
        assert_eq!(encode_key(&[0, 1, 2, 255]), "AAEC/w==");
    }

    /// Reads the flags of `mg foo <flags>`.
    fn scan(flags: &str) -> Result<(), String> {
        let line = format!("mg foo {flags}");
        let tokens =
            crate::text::tokenize(line.as_bytes(), 2).map_err(|_| "bad flag".to_string())?;
        read_flags(&tokens, 2).map(|_| ()).map_err(String::from)
    }

    #[test]
    fn flag_scan_known_answers() {
        let table: &[(&str, Result<(), &str>)] = &[
            ("v k O1 T30", Ok(())),
            ("v v", Err("duplicate flag")),
            ("z v v", Err("invalid flag")),
            ("v v z", Err("duplicate flag")),
            ("Tx z", Err("invalid flag")),
            ("Tx Fx", Err("bad token in command line format")),
            ("Fx Tx", Err("bad token in command line format")),
            ("Fx", Err("bad command line format")),
            ("F4294967296", Err("bad command line format")),
            ("T", Err("bad token in command line format")),
            ("T-", Ok(())),
            ("T+1", Err("bad token in command line format")),
            ("Mxx MX", Err("duplicate flag")),
            ("M", Ok(())),
            ("x I", Ok(())),
            ("1", Err("invalid flag")),
            ("_", Err("invalid flag")),
            ("!", Err("bad flag")),
            ("Dx", Err("invalid numeric delta value")),
            ("Jx", Err("invalid numeric initial value")),
            (
                "v k c f s t h l u q Pa Pb Pc Pd Pe Pf Pg Ph Pi",
                Err("options flags are too long"),
            ),
        ];
        for (flags, want) in table {
            assert_eq!(scan(flags), want.map_err(String::from), "{flags:?}");
        }
    }

    /// A valid meta request as a client writes it, built from random parts.
    fn wire() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let key = proptest::collection::vec(0x21u8..0x7f, 1..=250);
        // Flags valid for every command, with a valid argument each.
        let flag = prop_oneof![
            Just("k".to_string()),
            Just("q".to_string()),
            Just("c".to_string()),
            Just("t".to_string()),
            Just("v".to_string()),
            Just("s".to_string()),
            (0u32..100).prop_map(|n| format!("T{n}")),
            (0u64..u64::MAX).prop_map(|n| format!("C{n}")),
            "[a-z0-9]{0,31}".prop_map(|o| format!("O{o}")),
            "[a-z/]{0,20}".prop_map(|p| format!("P{p}")),
        ];
        let flags = proptest::collection::vec(flag, 0..10);
        let value = proptest::collection::vec(any::<u8>(), 0..200);
        (0usize..4, key, any::<bool>(), flags, value).prop_map(|(cmd, key, b64, flags, value)| {
            let mut seen = std::collections::HashSet::new();
            let flags: Vec<String> = flags
                .into_iter()
                .filter(|f| seen.insert(f.as_bytes()[0]))
                .collect();
            let name = ["mg", "ms", "md", "ma"][cmd];
            let mut out = format!("{name} ").into_bytes();
            if b64 {
                out.extend_from_slice(encode_key(&key[..key.len().min(180)]).as_bytes());
            } else {
                out.extend_from_slice(&key);
            }
            if name == "ms" {
                out.extend_from_slice(format!(" {}", value.len()).as_bytes());
            }
            if b64 {
                out.extend_from_slice(b" b");
            }
            for f in flags {
                out.push(b' ');
                out.extend_from_slice(f.as_bytes());
            }
            out.extend_from_slice(b"\r\n");
            if name == "ms" {
                out.extend_from_slice(&value);
                out.extend_from_slice(b"\r\n");
            }
            out
        })
    }

    proptest::proptest! {
        /// parse(encode(x)) == x, the encoding is the client's bytes again, and every strict
        /// prefix of a valid request is incomplete.
        #[test]
        fn round_trip_and_prefixes(wire in wire()) {
            use crate::text::{encode, parse, Request};
            use crate::{Limits, Parsed};
            let limits = Limits::default();
            let request = match parse(&wire, &limits) {
                Parsed::Complete(r @ Request::Meta(_), used) => {
                    proptest::prop_assert_eq!(used, wire.len());
                    r
                }
                other => return Err(proptest::test_runner::TestCaseError::fail(format!(
                    "{:?}: {other:?}", String::from_utf8_lossy(&wire)))),
            };
            let again = encode(&request);
            proptest::prop_assert_eq!(&again, &wire);
            match parse(&again, &limits) {
                Parsed::Complete(reparsed, _) => proptest::prop_assert_eq!(reparsed, request),
                other => proptest::prop_assert!(false, "{:?}", other),
            }
            for cut in 0..wire.len() {
                proptest::prop_assert!(
                    matches!(parse(&wire[..cut], &limits), Parsed::Incomplete(_)),
                    "prefix {:?}", String::from_utf8_lossy(&wire[..cut])
                );
            }
        }
    }

    #[test]
    fn flags_keep_their_order_and_tokens() {
        let tokens = crate::text::tokenize(b"mg Zm9v b T30 Oab vjunk MSx", 2)
            .ok()
            .unwrap();
        let f = read_flags(&tokens, 2).unwrap();
        assert_eq!(&*f.key, b"foo");
        assert_eq!(
            f.flags,
            vec![
                (b'b', &b""[..]),
                (b'T', b"30"),
                (b'O', b"ab"),
                (b'v', b"junk"),
                (b'M', b"Sx"),
            ]
        );
        assert!(f.opts.base64 && f.opts.value);
        assert_eq!((f.opts.ttl, f.opts.mode), (Some(30), Some(b'S')));
        let tokens = crate::text::tokenize(b"ms foo 2 M", 3).ok().unwrap();
        assert_eq!(read_flags(&tokens, 3).ok().unwrap().opts.mode, Some(b' '));
    }
}
