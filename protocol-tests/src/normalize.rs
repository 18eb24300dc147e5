//! What may differ between memcached and ferrocache, and nothing else.
//!
//! 1. Values of `stats` fields that are volatile by nature, or ferrocache's own figure on
//!    purpose: [`crate::stats_table`] lists every name with its status and reason.
//! 2. `stats` fields memcached has and ferrocache does not report (missing in the same
//!    table, each with its reason). ferrocache never reports a field that memcached lacks:
//!    any such line is a difference.
//! 3. File descriptor numbers in `stats conns`, and its volatile values ([`VOLATILE_CONNS`]).
//!
//! Every other byte must be equal, the version string included (both say 1.6.45), and every
//! other `stats` value too.

/// `stats conns` fields whose value is volatile: (field, reason).
pub const VOLATILE_CONNS: &[(&str, &str)] = &[
    ("secs_since_last_cmd", "timing"),
    ("addr", "the client's ephemeral port"),
    ("listen_addr", "each server gets its own free port"),
];

use crate::stats_table::{status, Status};

/// Escapes bytes for the readable logs.
pub fn escape(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in bytes {
        match b {
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x20..=0x7e => out.push(b),
            _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out
}

/// Applies the allowed normalisations to a transcript log.
pub fn normalize(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len());
    for line in log.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"@") {
            // The log's own record of what was sent.
            out.extend_from_slice(line);
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"STAT ") {
            let text = String::from_utf8_lossy(rest);
            let body = text.trim_end_matches(['\r', '\n']);
            let ending = &text[body.len()..];
            let (name, value) = body.split_once(' ').unwrap_or((body, ""));
            let status = status(name);
            if status == Some(Status::Missing) {
                continue;
            }
            // In `stats conns`, names are "<fd>:field"; the fd is the server's own.
            let (shown_name, field) = match name.split_once(':') {
                Some((fd, field))
                    if fd.bytes().all(|b| b.is_ascii_digit())
                        && matches!(
                            field,
                            "addr" | "listen_addr" | "state" | "secs_since_last_cmd"
                        ) =>
                {
                    (format!("<fd>:{field}"), field.to_string())
                }
                _ => (name.to_string(), name.to_string()),
            };
            let differs = matches!(status, Some(Status::Volatile | Status::Own));
            let value = if differs || VOLATILE_CONNS.iter().any(|(v, _)| *v == field) {
                "<v>".to_string()
            } else {
                value.to_string()
            };
            out.extend_from_slice(format!("STAT {shown_name} {value}{ending}").as_bytes());
            continue;
        }
        out.extend_from_slice(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_things_are_normalised() {
        // Volatile (pid), own (libevent), missing (lru_bumps_dropped), same (cmd_get, and
        // items:7:age_hot, reported as memcached's idle figure), and a conns address.
        let log = b"VERSION 1.6.45\r\nSTAT pid 12\r\nSTAT libevent 2.1\r\nSTAT lru_bumps_dropped 0\r\nSTAT cmd_get 3\r\nSTAT 23:addr tcp:127.0.0.1:5\r\nSTAT items:7:age_hot 1\r\nEND\r\n";
        assert_eq!(
            String::from_utf8(normalize(log)).unwrap(),
            "VERSION 1.6.45\r\nSTAT pid <v>\r\nSTAT libevent <v>\r\nSTAT cmd_get 3\r\nSTAT <fd>:addr <v>\r\nSTAT items:7:age_hot 1\r\nEND\r\n"
        );
        assert_eq!(
            normalize(b"STAT cmd_get 4\r\n"),
            b"STAT cmd_get 4\r\n".to_vec()
        );
    }
}
