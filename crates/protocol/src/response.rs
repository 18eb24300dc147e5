//! Encoders for replies that carry data. Fixed reply lines are plain byte strings.

use std::io::Write;

/// Appends a retrieval hit's header line:
///
/// ```text
/// VALUE <key> <flags> <bytes>[ <cas unique>]\r\n
/// ```
pub fn value_header(out: &mut Vec<u8>, key: &[u8], flags: u32, len: usize, cas: Option<u64>) {
    out.extend_from_slice(b"VALUE ");
    out.extend_from_slice(key);
    // Writing into a Vec cannot fail.
    let _ = match cas {
        Some(cas) => write!(out, " {flags} {len} {cas}\r\n"),
        None => write!(out, " {flags} {len}\r\n"),
    };
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
