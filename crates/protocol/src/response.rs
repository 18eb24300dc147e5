//! Encoders for replies that carry data. Fixed reply lines are plain byte strings.

use bytes::BufMut;
use std::io::Write;

/// Appends a retrieval hit's header line:
///
/// ```text
/// VALUE <key> <flags> <bytes>[ <cas unique>]\r\n
/// ```
///
/// Written straight into `out` (a connection's output buffer), numbers by `itoa`: a 10-key
/// multiget writes ten of these per request, and `write!` costs several times as much.
pub fn value_header(out: &mut impl BufMut, key: &[u8], flags: u32, len: usize, cas: Option<u64>) {
    let mut num = itoa::Buffer::new();
    out.put_slice(b"VALUE ");
    out.put_slice(key);
    out.put_u8(b' ');
    out.put_slice(num.format(flags).as_bytes());
    out.put_u8(b' ');
    out.put_slice(num.format(len).as_bytes());
    if let Some(cas) = cas {
        out.put_u8(b' ');
        out.put_slice(num.format(cas).as_bytes());
    }
    out.put_slice(b"\r\n");
}

/// Appends `STAT <name> <value>\r\n`.
pub fn stat(out: &mut Vec<u8>, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "STAT {name} {value}\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_header_known_answers() {
        let mut out = Vec::new();
        value_header(&mut out, b"k", 0, 3, None);
        value_header(&mut out, b"key", u32::MAX, 0, Some(u64::MAX));
        assert_eq!(
            out,
            b"VALUE k 0 3\r\nVALUE key 4294967295 0 18446744073709551615\r\n".to_vec()
        );
        let mut out = Vec::new();
        stat(&mut out, "pid", 42);
        assert_eq!(out, b"STAT pid 42\r\n".to_vec());
    }
}
