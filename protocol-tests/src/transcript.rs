//! Transcripts: what to send, on which connection, and when.
//!
//! A file holds any number of transcripts, each starting with `=== <name>`:
//!
//! ```text
//! === set-then-get
//! # what it checks (comments are free text)
//! flags: -I 2k                  server flags, given to both servers
//! env: NAME=value ...           environment variables for both servers (see `crate::sasl`
//!                               for MEMCACHED_SASL_PWDB)
//! known-difference: <id>        see KNOWN_DIFFERENCES; allows `replace:` lines
//! replace: <from> => <to>       rewrite memcached 1.6.18's answer into 1.6.45's
//! > set k 0 0 1\r\nx\r\n        send these bytes on connection "a", then read
//! >> get k\r\n                  send the same way, one byte at a time
//! @b > get k\r\n                use connection "b" (opened on first use)
//! sleep 1100                    wait, in milliseconds
//! ```
//!
//! Bytes use escapes: `\r`, `\n`, `\t`, `\\`, `\s` (space, handy at a line's end), `\xHH`,
//! and `{c*N}` for N copies of the character c (`{k*250}`).
//! After every send the runner reads what the server answers until it has been quiet for
//! a moment, and notes if the server closed the connection.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Send {
        conn: String,
        bytes: Vec<u8>,
        bytewise: bool,
    },
    Sleep(u64),
}

#[derive(Debug, Clone, Default)]
pub struct Transcript {
    pub name: String,
    pub file: String,
    pub flags: Vec<String>,
    /// Environment variables for both servers.
    pub env: Vec<(String, String)>,
    pub known_difference: Option<String>,
    pub replacements: Vec<(Vec<u8>, Vec<u8>)>,
    pub steps: Vec<Step>,
}

/// Decodes the escapes of a send line.
pub fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => {
                let next = *bytes.get(i + 1).ok_or("dangling backslash")?;
                i += 2;
                match next {
                    b'r' => out.push(b'\r'),
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b's' => out.push(b' '),
                    b'0' => out.push(0),
                    b'\\' => out.push(b'\\'),
                    b'{' => out.push(b'{'),
                    b'x' => {
                        let hex = text.get(i..i + 2).ok_or("short \\x escape")?;
                        out.push(u8::from_str_radix(hex, 16).map_err(|e| e.to_string())?);
                        i += 2;
                    }
                    other => return Err(format!("unknown escape \\{}", other as char)),
                }
            }
            b'{' => {
                let end = text[i..].find('}').ok_or("unclosed {")? + i;
                let inner = &text[i + 1..end];
                let (ch, count) = inner.split_once('*').ok_or("expected {c*N}")?;
                let ch = unescape(ch)?;
                let count: usize = count.parse().map_err(|_| "bad repeat count")?;
                for _ in 0..count {
                    out.extend_from_slice(&ch);
                }
                i = end + 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Parses a transcript file.
pub fn parse_file(file: &str, text: &str) -> Result<Vec<Transcript>, String> {
    let mut all: Vec<Transcript> = Vec::new();
    for (lineno, line) in text.lines().enumerate() {
        let at = || format!("{file}:{}", lineno + 1);
        if let Some(name) = line.strip_prefix("=== ") {
            all.push(Transcript {
                name: name.trim().to_string(),
                file: file.to_string(),
                ..Transcript::default()
            });
            continue;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let t = all
            .last_mut()
            .ok_or_else(|| format!("{}: text before the first ===", at()))?;
        if let Some(flags) = trimmed.strip_prefix("flags:") {
            t.flags = flags.split_whitespace().map(String::from).collect();
        } else if let Some(vars) = trimmed.strip_prefix("env:") {
            for var in vars.split_whitespace() {
                let (name, value) = var
                    .split_once('=')
                    .ok_or_else(|| format!("{}: env: NAME=value ...", at()))?;
                t.env.push((name.to_string(), value.to_string()));
            }
        } else if let Some(id) = trimmed.strip_prefix("known-difference:") {
            let id = id.trim();
            if !crate::KNOWN_DIFFERENCES.iter().any(|(k, _)| *k == id) {
                return Err(format!("{}: unknown known-difference {id}", at()));
            }
            t.known_difference = Some(id.to_string());
        } else if let Some(rule) = trimmed.strip_prefix("replace:") {
            if t.known_difference.is_none() {
                return Err(format!("{}: replace: needs a known-difference", at()));
            }
            let (from, to) = rule
                .split_once("=>")
                .ok_or_else(|| format!("{}: replace: <from> => <to>", at()))?;
            t.replacements
                .push((unescape(from.trim())?, unescape(to.trim())?));
        } else if let Some(ms) = trimmed.strip_prefix("sleep") {
            let ms = ms
                .trim()
                .parse()
                .map_err(|_| format!("{}: sleep <ms>", at()))?;
            t.steps.push(Step::Sleep(ms));
        } else {
            let (conn, rest) = match trimmed.strip_prefix('@') {
                Some(rest) => {
                    let (name, rest) = rest
                        .split_once(' ')
                        .ok_or_else(|| format!("{}: @conn > bytes", at()))?;
                    (name.to_string(), rest.trim_start())
                }
                None => ("a".to_string(), trimmed),
            };
            let (bytewise, payload) = if let Some(p) = rest.strip_prefix(">>") {
                (true, p)
            } else if let Some(p) = rest.strip_prefix('>') {
                (false, p)
            } else {
                return Err(format!("{}: cannot read {line:?}", at()));
            };
            let payload = payload.strip_prefix(' ').unwrap_or(payload);
            let bytes = unescape(payload).map_err(|e| format!("{}: {e}", at()))?;
            t.steps.push(Step::Send {
                conn,
                bytes,
                bytewise,
            });
        }
    }
    Ok(all)
}

/// How long a server must stay quiet before its answer to a send is taken as complete.
const QUIET: Duration = Duration::from_millis(120);
/// The longest a single read phase waits.
const READ_LIMIT: Duration = Duration::from_secs(5);

/// What came back for one send: how many bytes, and whether the connection closed.
pub type StepReply = (usize, bool);

/// When a guide says the other server answered a send with more bytes (or a close), wait up
/// to this much longer for them before moving on: on a loaded machine a reply can take longer
/// than [`QUIET`] to start. A correct server costs nothing; a wrong one costs this per send.
const GUIDED_PATIENCE: Duration = Duration::from_secs(2);

/// Runs a transcript against a server on `port`. The result is a log of each send and what
/// came back, including connection closes.
pub fn run(t: &Transcript, port: u16) -> Result<Vec<u8>, String> {
    run_guided(t, port, None).map(|(log, _)| log)
}

/// [`run`], also returning each send's [`StepReply`]. With a `guide` (the replies another
/// server gave to the same transcript) it waits longer where this server is behind.
pub fn run_guided(
    t: &Transcript,
    port: u16,
    guide: Option<&[StepReply]>,
) -> Result<(Vec<u8>, Vec<StepReply>), String> {
    let mut conns: BTreeMap<String, (TcpStream, bool)> = BTreeMap::new();
    let mut log = Vec::new();
    let mut replies = Vec::new();
    for step in &t.steps {
        match step {
            Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
            Step::Send {
                conn,
                bytes,
                bytewise,
            } => {
                if !conns.contains_key(conn) {
                    let s = connect(port)?;
                    s.set_nodelay(true).ok();
                    conns.insert(conn.clone(), (s, false));
                }
                let (stream, closed) = conns.get_mut(conn).expect("just inserted");
                log.extend_from_slice(format!("@{conn} > ").as_bytes());
                log.extend_from_slice(&crate::normalize::escape(bytes));
                log.push(b'\n');
                if *closed {
                    log.extend_from_slice(b"(connection already closed)\n");
                    continue;
                }
                let sent = if *bytewise {
                    bytes.iter().try_for_each(|b| {
                        stream.write_all(&[*b])?;
                        std::thread::sleep(Duration::from_millis(1));
                        Ok::<(), std::io::Error>(())
                    })
                } else {
                    stream.write_all(bytes)
                };
                let mut got = Vec::new();
                if sent.is_ok() {
                    *closed = read_quiet(stream, &mut got);
                    let want = guide.and_then(|g| g.get(replies.len())).copied();
                    if let Some((want_len, want_close)) = want {
                        let deadline = Instant::now() + GUIDED_PATIENCE;
                        while !*closed
                            && (got.len() < want_len || want_close)
                            && Instant::now() < deadline
                        {
                            let before = got.len();
                            *closed = read_quiet(stream, &mut got);
                            if got.len() == before && !*closed && got.len() >= want_len {
                                // Only a close was missing, and none came in a quiet period.
                                break;
                            }
                        }
                    }
                } else {
                    *closed = true;
                }
                replies.push((got.len(), *closed));
                log.extend_from_slice(&got);
                if *closed {
                    log.extend_from_slice(b"<closed>\n");
                }
            }
        }
    }
    Ok((log, replies))
}

/// Connects, retrying briefly: a server can show as listening a moment before it accepts.
fn connect(port: u16) -> Result<TcpStream, String> {
    let mut last = None;
    for _ in 0..50 {
        match TcpStream::connect(("127.0.0.1", port)) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("connect: {}", last.expect("tried at least once")))
}

/// Reads until the server is quiet or closes. Returns whether it closed.
fn read_quiet(stream: &mut TcpStream, out: &mut Vec<u8>) -> bool {
    let start = Instant::now();
    let mut buf = [0u8; 65536];
    stream.set_read_timeout(Some(QUIET)).ok();
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false
            }
            Err(_) => return true,
        }
        if start.elapsed() > READ_LIMIT {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(unescape(r"a\r\n\x00\\{k*3}\s").unwrap(), b"a\r\n\x00\\kkk ");
        assert!(unescape(r"\q").is_err());
    }

    #[test]
    fn parses_steps() {
        let ts = parse_file(
            "f",
            "=== one\n# c\nflags: -I 2k\n> get a\\r\\n\n@b >> x\nsleep 5\n=== two\n> y\n",
        )
        .unwrap();
        assert_eq!(ts.len(), 2);
        assert_eq!(ts[0].flags, vec!["-I", "2k"]);
        assert_eq!(
            ts[0].steps[1],
            Step::Send {
                conn: "b".into(),
                bytes: b"x".to_vec(),
                bytewise: true
            }
        );
        assert_eq!(ts[0].steps[2], Step::Sleep(5));
        assert!(parse_file("f", "=== x\nreplace: a => b\n").is_err());
    }

    #[test]
    fn parses_env() {
        let ts = parse_file("f", "=== e\nenv: A=1 B=x=y\n> v\n").unwrap();
        assert_eq!(
            ts[0].env,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert!(parse_file("f", "=== e\nenv: A\n").is_err());
    }
}
