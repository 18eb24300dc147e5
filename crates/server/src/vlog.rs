//! memcached's `-vv` trace: plain lines on stderr, one per connection event, command and
//! reply, in memcached 1.6.45's words, so what operators grep for keeps working:
//!
//! ```text
//! <27 server listening (auto-negotiate)
//! <28 new auto-negotiating client connection
//! 28: Client using the ascii protocol
//! <28 set foo 0 0 3
//! >28 STORED
//! <28 get foo
//! >28 sending key foo
//! >28 END
//! <28 set a 0 0 1 noreply
//! >28 NOREPLY STORED
//! <28 connection closed.
//! ```
//!
//! `<fd` is what came in on a file descriptor, `>fd` what goes out. memcached shows the reply
//! lines that pass through its `out_string` (admin commands, storage results, errors of its
//! request parser, `get`'s `END`), not those its newer handlers write directly (`delete`,
//! `incr`, `touch`, the meta commands but `mn` and a missing `me`): ferrocache shows the same
//! ones. Binary requests are shown as memcached dumps them: the 24-byte header, a line for the
//! command, the reply's header.
//!
//! The level is read at each event, so `verbosity 2` turns the trace on at run time, as in
//! memcached. Each event's text goes to stderr in one write, so the lines of connections
//! served on different threads do not mix within a line.

use crate::conn::ConnCtx;
use crate::Shared;
use std::io::Write;
use std::sync::atomic::Ordering;

/// Is the trace on (`-vv`, or `verbosity 2`)?
pub(crate) fn on(shared: &Shared) -> bool {
    shared.verbosity.load(Ordering::Relaxed) > 1
}

/// Is `-v` (or more) on? memcached prints a few lines from there (`maxbytes adjusted to`,
/// `Protocol error`).
pub(crate) fn verbose(shared: &Shared) -> bool {
    shared.verbosity.load(Ordering::Relaxed) > 0
}

/// Writes finished lines to stderr at once. Errors are ignored: a closed stderr must not
/// stop the server (memcached's `fprintf`s ignore theirs too).
pub(crate) fn write(text: &[u8]) {
    let _ = std::io::stderr().lock().write_all(text);
}

/// `<fd <text>` or `>fd <text>`: `text` is raw bytes (a command line is shown as sent).
pub(crate) fn line(dir: char, fd: i32, text: &[u8]) {
    let mut out = Vec::with_capacity(text.len() + 16);
    let _ = write!(out, "{dir}{fd} ");
    out.extend_from_slice(text);
    out.push(b'\n');
    write(&out);
}

/// A reply line (given with its `\r\n`, which is not shown): `>fd STORED`, or
/// `>fd NOREPLY STORED` when the request said `noreply` and nothing is sent.
pub(crate) fn reply(fd: i32, noreply: bool, reply: &[u8]) {
    let text = reply.strip_suffix(b"\r\n").unwrap_or(reply);
    if noreply {
        let mut shown = b"NOREPLY ".to_vec();
        shown.extend_from_slice(text);
        line('>', fd, &shown);
    } else {
        line('>', fd, text);
    }
}

/// A binary header, four bytes to a line, as memcached dumps what it reads and writes:
///
/// ```text
/// <28 Read binary protocol data:
/// <28    0x80 0x00 0x00 0x03
/// ...
/// >28 Writing bin response:
/// >28   0x81 0x00 0x00 0x00
/// ```
pub(crate) fn header_dump(fd: i32, read: bool, header: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(200);
    let (title, dir, indent) = if read {
        ("Read binary protocol data:", '<', "   ")
    } else {
        ("Writing bin response:", '>', "  ")
    };
    let _ = write!(out, "{dir}{fd} {title}");
    for (i, byte) in header.iter().take(24).enumerate() {
        if i % 4 == 0 {
            let _ = write!(out, "\n{dir}{fd}{indent}");
        }
        let _ = write!(out, " 0x{byte:02x}");
    }
    out.push(b'\n');
    out
}

/// The text of a command line as memcached shows it: the line up to its `\n`, without the
/// `\r\n` or `\n` that ends it, and up to a NUL byte (memcached prints it as a C string).
/// `None` when `buf` holds no whole line.
///
/// (memcached prints the line's length less two bytes: a line ended by a bare `\n` loses
/// its last character there, and an empty one shows the rest of the read buffer. ferrocache
/// shows the line.)
pub(crate) fn command_line(buf: &[u8]) -> Option<&[u8]> {
    let nl = buf.iter().position(|&b| b == b'\n')?;
    let line = &buf[..nl];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Some(match line.iter().position(|&b| b == 0) {
        Some(nul) => &line[..nul],
        None => line,
    })
}

/// `<fd <command line>` for the text request at the front of `buf`; false (nothing
/// written) while its line is not whole.
pub(crate) fn request_line(fd: i32, buf: &[u8]) -> bool {
    let Some(text) = command_line(buf) else {
        return false;
    };
    line('<', fd, text);
    true
}

/// The dump of the binary request header at the front of `buf`; false (nothing written)
/// while the header is not whole.
pub(crate) fn request_header(fd: i32, buf: &[u8]) -> bool {
    if buf.len() < 24 {
        return false;
    }
    write(&header_dump(fd, true, &buf[..24]));
    true
}

impl ConnCtx<'_> {
    /// memcached's line for a `cas` (or a meta or binary set with a CAS) refused because the
    /// item has another CAS value: `CAS:  failure: expected <item's>, got <request's>`.
    pub(crate) fn trace_cas_failure(&self, key: &[u8], got: u64) {
        if on(self.shared) {
            let expected = self.shared.store.peek(key).map_or(0, |d| d.cas);
            write(format!("CAS:  failure: expected {expected}, got {got}\n").as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_dumps_are_memcacheds() {
        let mut header = [0u8; 24];
        header[0] = 0x80;
        header[1] = 0x01;
        header[3] = 0x03;
        header[4] = 0x08;
        header[11] = 0x0e;
        let read = String::from_utf8(header_dump(20, true, &header)).unwrap();
        assert_eq!(
            read,
            "<20 Read binary protocol data:\n\
             <20    0x80 0x01 0x00 0x03\n\
             <20    0x08 0x00 0x00 0x00\n\
             <20    0x00 0x00 0x00 0x0e\n\
             <20    0x00 0x00 0x00 0x00\n\
             <20    0x00 0x00 0x00 0x00\n\
             <20    0x00 0x00 0x00 0x00\n"
        );
        header[0] = 0x81;
        let written = String::from_utf8(header_dump(20, false, &header)).unwrap();
        assert!(written
            .starts_with(">20 Writing bin response:\n>20   0x81 0x01 0x00 0x03\n>20   0x08 0x00"));
        assert_eq!(written.lines().count(), 7);
    }

    #[test]
    fn command_lines_lose_their_ending_only() {
        assert_eq!(
            command_line(b"get foo\r\nget bar\r\n"),
            Some(&b"get foo"[..])
        );
        assert_eq!(command_line(b"get foo\nx"), Some(&b"get foo"[..]));
        assert_eq!(command_line(b"\r\n"), Some(&b""[..]));
        assert_eq!(
            command_line(b"set a 0 0 1\r\nx\r\n"),
            Some(&b"set a 0 0 1"[..])
        );
        assert_eq!(command_line(b"get foo"), None);
        assert_eq!(command_line(b"get a\0junk\r\n"), Some(&b"get a"[..]));
    }
}
