//! What may differ between memcached and ferrocache, and nothing else.
//!
//! 1. Values of `stats` fields that are volatile by nature, or ferrocache's own figure on
//!    purpose: [`crate::stats_table`] lists every name with its status and reason.
//! 2. `stats` fields memcached has and ferrocache does not report (missing in the same
//!    table, each with its reason). ferrocache never reports a field that memcached lacks:
//!    any such line is a difference.
//! 3. File descriptor numbers in `stats conns`, and its volatile values ([`VOLATILE_CONNS`]).
//! 4. The unix times (`exp=`, `la=`) in `lru_crawler metadump` lines.
//! 5. In `watch` log lines (`ts=<secs>.<usecs> gid=<n> type=...`): the time stamp, the
//!    client's port (`rport=`), and the connections' descriptors (`cfd=`), which are
//!    renamed `<fd1>`, `<fd2>`... in order of first appearance, so a line still has to name
//!    the same connection as memcached's. `gid=` and everything else must be equal.
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

/// `lru_crawler metadump` lines (`key=k exp=1796673633 la=1796673533 cas=3 ...`): the unix
/// times of the item's expiry and last access are the clock's, which differs between the
/// two servers' runs (a second boundary may fall between them). `exp=-1` (no expiry) and
/// every other field are kept.
fn metadump_times(line: &[u8]) -> Option<Vec<u8>> {
    if !line.starts_with(b"key=") {
        return None;
    }
    let text = std::str::from_utf8(line).ok()?;
    let fields: Vec<String> = text
        .split(' ')
        .map(|field| match field.split_once('=') {
            Some((name @ ("exp" | "la"), value))
                if value != "-1" && value.bytes().all(|b| b.is_ascii_digit()) =>
            {
                format!("{name}=<t>")
            }
            _ => field.to_string(),
        })
        .collect();
    Some(fields.join(" ").into_bytes())
}

/// Applies the allowed normalisations to a transcript log.
pub fn normalize(log: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(log.len());
    let mut fds: Vec<String> = Vec::new();
    for line in log.split_inclusive(|&b| b == b'\n') {
        if line.starts_with(b"@") {
            // The log's own record of what was sent.
            out.extend_from_slice(line);
            continue;
        }
        if let Some(line) = metadump_times(line) {
            out.extend_from_slice(&line);
            continue;
        }
        if let Some(text) = watch_line(line) {
            out.extend_from_slice(normalize_watch_line(text, &mut fds).as_bytes());
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

/// A `watch` log line: `ts=<digits>.<digits> gid=<digits> ...`.
fn watch_line(line: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("ts=")?;
    let (ts, rest) = rest.split_once(' ')?;
    let (secs, usecs) = ts.split_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let gid = rest.strip_prefix("gid=")?.split(' ').next()?;
    (digits(secs) && digits(usecs) && digits(gid.trim_end())).then_some(text)
}

/// See the module's docs, item 4.
fn normalize_watch_line(text: &str, fds: &mut Vec<String>) -> String {
    let body = text.trim_end_matches(['\r', '\n']);
    let ending = &text[body.len()..];
    let fields: Vec<String> = body
        .split(' ')
        .map(|field| match field.split_once('=') {
            Some(("ts", _)) => "ts=<ts>".to_string(),
            Some(("rport", _)) => "rport=<port>".to_string(),
            Some(("cfd", fd)) => {
                let n = match fds.iter().position(|f| f == fd) {
                    Some(n) => n,
                    None => {
                        fds.push(fd.to_string());
                        fds.len() - 1
                    }
                };
                format!("cfd=<fd{}>", n + 1)
            }
            _ => field.to_string(),
        })
        .collect();
    format!("{}{ending}", fields.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadump_times_are_normalised() {
        let log = b"OK\r\nkey=a exp=-1 la=1796673532 cas=2 fetch=no cls=1 size=61 flags=0 \nkey=b exp=1796673633 la=1796673533 cas=3 fetch=no cls=1 size=70 flags=5 \nEND\r\n";
        assert_eq!(
            normalize(log),
            b"OK\r\nkey=a exp=-1 la=<t> cas=2 fetch=no cls=1 size=61 flags=0 \nkey=b exp=<t> la=<t> cas=3 fetch=no cls=1 size=70 flags=5 \nEND\r\n"
                .to_vec()
        );
    }

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

    #[test]
    fn watch_lines_keep_all_but_time_port_and_descriptor_numbers() {
        let log = b"OK\r\nts=1765000000.51 gid=2 type=item_get key=a status=found clsid=1 cfd=29 size=1\n\
ts=1765000000.123456 gid=3 type=conn_new rip=127.0.0.1 rport=4000 transport=tcp cfd=31\n\
ts=1765000001.7 gid=4 type=item_get key=b status=not_found clsid=0 cfd=29 size=0\n\
ts=x.1 gid=5 cfd=3\n";
        assert_eq!(
            String::from_utf8(normalize(log)).unwrap(),
            "OK\r\nts=<ts> gid=2 type=item_get key=a status=found clsid=1 cfd=<fd1> size=1\n\
ts=<ts> gid=3 type=conn_new rip=127.0.0.1 rport=<port> transport=tcp cfd=<fd2>\n\
ts=<ts> gid=4 type=item_get key=b status=not_found clsid=0 cfd=<fd1> size=0\n\
ts=x.1 gid=5 cfd=3\n"
        );
    }
}
