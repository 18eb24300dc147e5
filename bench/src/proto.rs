//! The three protocols the load generator speaks: request encoders and incremental reply
//! parsers for memcached's binary protocol and its meta commands (the text protocol's are in
//! `conn` and `reply`). Every parser maps a reply onto the same [`Reply`] as the text one, so
//! the load engine does not care which protocol is on the wire.
//!
//! A multiget is sent as one request each protocol's way: `get k1 k2 ...` in text; quiet
//! `GETKQ` packets then a `NOOP` in binary (hits come back, misses are silent, the `NOOP`
//! reply ends the batch); `mg <k> v q` lines then `mn` in meta (same idea: `EN` is suppressed
//! by `q`, `MN` ends the batch).

use crate::reply::{ParseError, Reply};
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Text,
    Binary,
    Meta,
}

impl FromStr for Protocol {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "ascii" | "memcache_text" => Ok(Protocol::Text),
            "binary" | "memcache_binary" => Ok(Protocol::Binary),
            "meta" => Ok(Protocol::Meta),
            _ => Err(format!("unknown protocol {s:?} (text, binary, meta)")),
        }
    }
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Text => "text",
            Protocol::Binary => "binary",
            Protocol::Meta => "meta",
        }
    }
}

fn push_key(out: &mut Vec<u8>, prefix: &[u8], n: u64) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn key_len(prefix: &[u8], n: u64) -> usize {
    prefix.len() + itoa::Buffer::new().format(n).len()
}

// ---------------------------------------------------------------------------------------
// Binary protocol.

pub const OP_GET: u8 = 0x00;
pub const OP_SET: u8 = 0x01;
pub const OP_GETQ: u8 = 0x09;
pub const OP_NOOP: u8 = 0x0a;
pub const OP_GETK: u8 = 0x0c;
pub const OP_GETKQ: u8 = 0x0d;

const HEADER: usize = 24;

fn push_header(out: &mut Vec<u8>, opcode: u8, key_len: usize, extras: u8, body: usize) {
    out.push(0x80);
    out.push(opcode);
    out.extend_from_slice(&(key_len as u16).to_be_bytes());
    out.push(extras);
    out.push(0); // data type
    out.extend_from_slice(&[0, 0]); // vbucket
    out.extend_from_slice(&(body as u32).to_be_bytes());
    out.extend_from_slice(&[0; 4]); // opaque
    out.extend_from_slice(&[0; 8]); // cas
}

/// A binary `SET` (flags 0).
pub fn bin_set(out: &mut Vec<u8>, prefix: &[u8], n: u64, exptime: u32, value: &[u8]) {
    let klen = key_len(prefix, n);
    push_header(out, OP_SET, klen, 8, 8 + klen + value.len());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&exptime.to_be_bytes());
    push_key(out, prefix, n);
    out.extend_from_slice(value);
}

/// A binary `GET` of one key, or `GETKQ` of each key then `NOOP` for several.
pub fn bin_get(out: &mut Vec<u8>, prefix: &[u8], keys: impl IntoIterator<Item = u64>, multi: bool) {
    let opcode = if multi { OP_GETKQ } else { OP_GET };
    for n in keys {
        let klen = key_len(prefix, n);
        push_header(out, opcode, klen, 0, klen);
        push_key(out, prefix, n);
    }
    if multi {
        push_header(out, OP_NOOP, 0, 0, 0);
    }
}

fn be16(b: &[u8]) -> usize {
    u16::from_be_bytes([b[0], b[1]]) as usize
}

fn be32(b: &[u8]) -> usize {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
}

/// One binary reply: a single response packet, or for a multiget every quiet `GETKQ`/`GETQ`
/// hit up to and including the `NOOP`. `Ok(None)`: incomplete.
pub fn parse_binary(buf: &[u8]) -> Result<Option<(Reply, usize)>, ParseError> {
    let (mut hits, mut bytes, mut at) = (0u32, 0u64, 0usize);
    loop {
        if buf.len() < at + HEADER {
            return Ok(None);
        }
        let h = &buf[at..at + HEADER];
        if h[0] != 0x81 {
            return Err(ParseError(format!(
                "binary response magic {:#04x} at offset {at}",
                h[0]
            )));
        }
        let (opcode, klen, elen) = (h[1], be16(&h[2..4]), h[4] as usize);
        let (status, body) = (be16(&h[6..8]), be32(&h[8..12]));
        let end = at + HEADER + body;
        if body < klen + elen {
            return Err(ParseError(format!("binary body {body} < key+extras")));
        }
        if buf.len() < end {
            return Ok(None);
        }
        let vlen = (body - klen - elen) as u64;
        let reply = match (opcode, status) {
            (OP_GETQ | OP_GETKQ, 0) => {
                hits += 1;
                bytes += vlen;
                at = end;
                continue;
            }
            (OP_NOOP, 0) => Reply::Values { hits, bytes },
            _ if hits > 0 => {
                return Err(ParseError(format!(
                    "binary opcode {opcode:#04x} inside a multiget"
                )))
            }
            (OP_GET | OP_GETK, 0) => Reply::Values {
                hits: 1,
                bytes: vlen,
            },
            (OP_GET | OP_GETK, 1) => Reply::Values { hits: 0, bytes: 0 },
            (OP_SET, 0) => Reply::Stored,
            (_, status) => {
                let msg = String::from_utf8_lossy(&buf[at + HEADER + elen + klen..end]);
                Reply::Error(format!(
                    "binary opcode {opcode:#04x} status {status:#06x} {msg}"
                ))
            }
        };
        return Ok(Some((reply, end)));
    }
}

// ---------------------------------------------------------------------------------------
// Meta commands.

/// `ms <key> <len> [T<exptime>]\r\n<value>\r\n`
pub fn meta_set(out: &mut Vec<u8>, prefix: &[u8], n: u64, exptime: u32, value: &[u8]) {
    out.extend_from_slice(b"ms ");
    push_key(out, prefix, n);
    out.push(b' ');
    out.extend_from_slice(itoa::Buffer::new().format(value.len()).as_bytes());
    if exptime != 0 {
        out.extend_from_slice(b" T");
        out.extend_from_slice(itoa::Buffer::new().format(exptime).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// `mg <key> v`, or `mg <key> v q` for each key then `mn` for several.
pub fn meta_get(
    out: &mut Vec<u8>,
    prefix: &[u8],
    keys: impl IntoIterator<Item = u64>,
    multi: bool,
) {
    for n in keys {
        out.extend_from_slice(b"mg ");
        push_key(out, prefix, n);
        out.extend_from_slice(if multi { b" v q\r\n" } else { b" v\r\n" });
    }
    if multi {
        out.extend_from_slice(b"mn\r\n");
    }
}

fn line_at(buf: &[u8], at: usize) -> Result<Option<(&[u8], usize)>, ParseError> {
    let rest = &buf[at..];
    match rest.iter().position(|&b| b == b'\n') {
        Some(nl) => {
            let line = &rest[..nl];
            Ok(Some((
                line.strip_suffix(b"\r").unwrap_or(line),
                at + nl + 1,
            )))
        }
        None if rest.len() > 8192 => Err(ParseError("meta line too long".into())),
        None => Ok(None),
    }
}

/// One meta reply. `multi`: the request was a batch of quiet `mg` ended by `mn`, so the
/// reply is every `VA` block up to `MN`.
pub fn parse_meta(buf: &[u8], multi: bool) -> Result<Option<(Reply, usize)>, ParseError> {
    let (mut hits, mut bytes, mut at) = (0u32, 0u64, 0usize);
    loop {
        let Some((line, next)) = line_at(buf, at)? else {
            return Ok(None);
        };
        if let Some(rest) = line.strip_prefix(b"VA ") {
            let len = rest
                .split(|&b| b == b' ')
                .next()
                .and_then(|t| std::str::from_utf8(t).ok()?.parse::<usize>().ok())
                .ok_or_else(|| {
                    ParseError(format!("bad VA line {:?}", String::from_utf8_lossy(line)))
                })?;
            let end = next + len + 2;
            if buf.len() < end {
                return Ok(None);
            }
            if &buf[end - 2..end] != b"\r\n" {
                return Err(ParseError("meta value not ended by CRLF".into()));
            }
            hits += 1;
            bytes += len as u64;
            at = end;
            if multi {
                continue;
            }
            return Ok(Some((Reply::Values { hits, bytes }, at)));
        }
        let word = line.split(|&b| b == b' ').next().unwrap_or_default();
        let reply = match word {
            b"MN" if multi => Reply::Values { hits, bytes },
            _ if hits > 0 => {
                return Err(ParseError(format!(
                    "{:?} inside a meta multiget",
                    String::from_utf8_lossy(line)
                )))
            }
            b"EN" if !multi => Reply::Values { hits: 0, bytes: 0 },
            b"HD" => Reply::Stored,
            b"NS" => Reply::NotStored,
            b"EX" => Reply::Exists,
            b"NF" => Reply::NotFound,
            b"ERROR" | b"CLIENT_ERROR" | b"SERVER_ERROR" => {
                Reply::Error(String::from_utf8_lossy(line).into_owned())
            }
            _ => {
                return Err(ParseError(format!(
                    "unexpected meta reply {:?}",
                    String::from_utf8_lossy(line)
                )))
            }
        };
        return Ok(Some((reply, next)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(opcode: u8, status: u16, key: &[u8], extras: &[u8], value: &[u8]) -> Vec<u8> {
        let mut p = vec![0x81, opcode];
        p.extend_from_slice(&(key.len() as u16).to_be_bytes());
        p.push(extras.len() as u8);
        p.push(0);
        p.extend_from_slice(&status.to_be_bytes());
        p.extend_from_slice(&((extras.len() + key.len() + value.len()) as u32).to_be_bytes());
        p.extend_from_slice(&[0; 12]);
        p.extend_from_slice(extras);
        p.extend_from_slice(key);
        p.extend_from_slice(value);
        p
    }

    #[test]
    fn binary_encoding() {
        let mut out = Vec::new();
        bin_set(&mut out, b"k:", 7, 5, b"xyz");
        assert_eq!(out.len(), 24 + 8 + 3 + 3);
        assert_eq!(&out[..2], &[0x80, OP_SET]);
        assert_eq!(be16(&out[2..4]), 3);
        assert_eq!(out[4], 8);
        assert_eq!(be32(&out[8..12]), 14);
        assert_eq!(&out[24..32], &[0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(&out[32..], b"k:7xyz");
        out.clear();
        bin_get(&mut out, b"k:", [1, 2], true);
        assert_eq!(out.len(), 2 * (24 + 3) + 24);
        assert_eq!(out[1], OP_GETKQ);
        assert_eq!(out[27 + 1], OP_GETKQ);
        assert_eq!(out[54 + 1], OP_NOOP);
    }

    #[test]
    fn binary_replies() {
        let extras = [0u8; 4];
        let hit = resp(OP_GET, 0, b"", &extras, b"hello");
        assert_eq!(
            parse_binary(&hit).unwrap(),
            Some((Reply::Values { hits: 1, bytes: 5 }, hit.len()))
        );
        let miss = resp(OP_GET, 1, b"", b"", b"Not found");
        assert_eq!(
            parse_binary(&miss).unwrap(),
            Some((Reply::Values { hits: 0, bytes: 0 }, miss.len()))
        );
        let stored = resp(OP_SET, 0, b"", b"", b"");
        assert_eq!(parse_binary(&stored).unwrap(), Some((Reply::Stored, 24)));
        let mut multi = resp(OP_GETKQ, 0, b"k:1", &extras, b"ab");
        multi.extend(resp(OP_GETKQ, 0, b"k:3", &extras, b"cde"));
        multi.extend(resp(OP_NOOP, 0, b"", b"", b""));
        multi.extend(&stored);
        for cut in 0..multi.len() - stored.len() {
            assert_eq!(parse_binary(&multi[..cut]).unwrap(), None, "cut {cut}");
        }
        let (r, used) = parse_binary(&multi).unwrap().unwrap();
        assert_eq!(r, Reply::Values { hits: 2, bytes: 5 });
        assert_eq!(&multi[used..], &stored[..]);
        let too_big = resp(OP_SET, 3, b"", b"", b"Too large.");
        assert!(matches!(
            parse_binary(&too_big).unwrap(),
            Some((Reply::Error(_), 34))
        ));
        assert!(parse_binary(b"VALUE k 0 1\r\nx\r\nEND\r\n________").is_err());
    }

    #[test]
    fn meta_encoding_and_replies() {
        let mut out = Vec::new();
        meta_set(&mut out, b"k:", 1, 0, b"ab");
        meta_set(&mut out, b"k:", 2, 9, b"c");
        meta_get(&mut out, b"k:", [3], false);
        meta_get(&mut out, b"k:", [4, 5], true);
        assert_eq!(
            out,
            b"ms k:1 2\r\nab\r\nms k:2 1 T9\r\nc\r\nmg k:3 v\r\nmg k:4 v q\r\nmg k:5 v q\r\nmn\r\n"
        );
        let one = |b: &[u8], multi| parse_meta(b, multi).unwrap().unwrap();
        assert_eq!(one(b"HD\r\n", false), (Reply::Stored, 4));
        assert_eq!(
            one(b"EN\r\n", false),
            (Reply::Values { hits: 0, bytes: 0 }, 4)
        );
        assert_eq!(
            one(b"VA 2 \r\nab\r\nEN\r\n", false),
            (Reply::Values { hits: 1, bytes: 2 }, 11)
        );
        let batch = b"VA 2\r\nab\r\nVA 3\r\nMN!\r\nMN\r\nHD\r\n";
        for cut in 0..batch.len() - 4 {
            assert_eq!(parse_meta(&batch[..cut], true).unwrap(), None, "cut {cut}");
        }
        assert_eq!(
            one(batch, true),
            (Reply::Values { hits: 2, bytes: 5 }, batch.len() - 4)
        );
        assert_eq!(
            one(b"MN\r\n", true),
            (Reply::Values { hits: 0, bytes: 0 }, 4)
        );
        assert!(matches!(
            one(b"SERVER_ERROR out of memory\r\n", false).0,
            Reply::Error(_)
        ));
        assert!(parse_meta(b"STORED\r\n", false).is_err());
    }
}
