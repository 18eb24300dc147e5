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
//! replace: <from> => <to>       rewrite memcached's answer into the expected one
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

/// Every transcript of the `.t` files in `dir`, in file order; panics on a malformed file
/// or two transcripts of one name.
pub fn load_dir(dir: &std::path::Path) -> Vec<Transcript> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "t"))
        .collect();
    files.sort();
    let mut all = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        all.extend(parse_file(&name, &text).unwrap_or_else(|e| panic!("{e}")));
    }
    let mut names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    names.sort();
    for pair in names.windows(2) {
        assert_ne!(pair[0], pair[1], "two transcripts are named {}", pair[0]);
    }
    all
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

/// How a transcript's bytes are written. memcached is run as written; ferrocache in every
/// mode, and each mode must give memcached's bytes: a server answers every request, in
/// order, however the requests arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Each `>` line in one write (`>>` lines a byte at a time), then its reply is read.
    AsWritten,
    /// Consecutive sends on one connection, up to a `sleep` or another connection's send,
    /// in one write.
    Pipelined,
    /// The same batches as [`Mode::Pipelined`], cut into small writes at varying places.
    Split,
}

pub const MODES: [Mode; 3] = [Mode::AsWritten, Mode::Pipelined, Mode::Split];

/// One write-then-read of a plan: the bytes of the sends `steps` (indices among the
/// transcript's sends) on connection `conn`, written in pieces of `chunks` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    pub conn: String,
    pub bytes: Vec<u8>,
    pub chunks: Vec<usize>,
    pub steps: std::ops::Range<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Send(Batch),
    Sleep(u64),
}

/// What came back for one batch: the bytes, whether the server closed the connection while
/// it was read, and whether it was already closed (nothing was sent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reply {
    pub bytes: Vec<u8>,
    pub closed: bool,
    pub already_closed: bool,
}

/// A small deterministic generator (xorshift), so a split is the same on every run.
struct Rng(u64);

impl Rng {
    fn new(seed: &str, salt: usize) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ salt as u64;
        for b in seed.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        Rng(h | 1)
    }

    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// At most this many cuts in a split batch.
const MAX_CUTS: usize = 48;

/// Cuts `len` bytes into pieces at up to [`MAX_CUTS`] places drawn from `rng`.
fn split_points(len: usize, rng: &mut Rng) -> Vec<usize> {
    if len < 2 {
        return vec![len];
    }
    let mut cuts: Vec<usize> = (0..MAX_CUTS.min(len - 1))
        .map(|_| 1 + rng.below(len - 1))
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let mut chunks = Vec::with_capacity(cuts.len() + 1);
    let mut at = 0;
    for cut in cuts {
        chunks.push(cut - at);
        at = cut;
    }
    chunks.push(len - at);
    chunks
}

/// How `t` is written in `mode`.
pub fn plan(t: &Transcript, mode: Mode) -> Vec<Action> {
    let mut actions: Vec<Action> = Vec::new();
    let mut send_index = 0;
    for step in &t.steps {
        match step {
            Step::Sleep(ms) => actions.push(Action::Sleep(*ms)),
            Step::Send {
                conn,
                bytes,
                bytewise,
            } => {
                let i = send_index;
                send_index += 1;
                if mode != Mode::AsWritten {
                    if let Some(Action::Send(last)) = actions.last_mut() {
                        if last.conn == *conn {
                            last.bytes.extend_from_slice(bytes);
                            last.steps.end = i + 1;
                            continue;
                        }
                    }
                }
                let chunks = if *bytewise && mode == Mode::AsWritten {
                    vec![1; bytes.len()]
                } else {
                    Vec::new()
                };
                actions.push(Action::Send(Batch {
                    conn: conn.clone(),
                    bytes: bytes.clone(),
                    chunks,
                    steps: i..i + 1,
                }));
            }
        }
    }
    for (n, action) in actions.iter_mut().enumerate() {
        if let Action::Send(batch) = action {
            if batch.chunks.is_empty() {
                batch.chunks = match mode {
                    Mode::Split => split_points(batch.bytes.len(), &mut Rng::new(&t.name, n)),
                    _ => vec![batch.bytes.len()],
                };
            }
        }
    }
    actions
}

/// Regroups the replies of an [`Mode::AsWritten`] run (one per send) into `plan`'s batches:
/// what a server that answers every request in order gives to each batch.
pub fn regroup(plan: &[Action], per_send: &[Reply]) -> Vec<Reply> {
    plan.iter()
        .filter_map(|a| match a {
            Action::Send(b) => Some(b),
            Action::Sleep(_) => None,
        })
        .map(|b| {
            let mut out = Reply {
                already_closed: per_send
                    .get(b.steps.start)
                    .is_some_and(|r| r.already_closed),
                ..Reply::default()
            };
            for r in &per_send[b.steps.clone()] {
                out.bytes.extend_from_slice(&r.bytes);
                out.closed |= r.closed;
            }
            out
        })
        .collect()
}

/// The readable log of a run: each batch as `@conn > <escaped bytes>`, then what came back.
pub fn render(plan: &[Action], replies: &[Reply]) -> Vec<u8> {
    let mut log = Vec::new();
    let batches = plan.iter().filter_map(|a| match a {
        Action::Send(b) => Some(b),
        Action::Sleep(_) => None,
    });
    for (b, r) in batches.zip(replies) {
        log.extend_from_slice(format!("@{} > ", b.conn).as_bytes());
        log.extend_from_slice(&crate::normalize::escape(&b.bytes));
        log.push(b'\n');
        if r.already_closed {
            log.extend_from_slice(b"(connection already closed)\n");
            continue;
        }
        log.extend_from_slice(&r.bytes);
        if r.closed {
            log.extend_from_slice(b"<closed>\n");
        }
    }
    log
}

/// When a guide says the other server answered a batch with more bytes (or a close), wait up
/// to this much longer for them before moving on: on a loaded machine a reply can take longer
/// than [`QUIET`] to start. A correct server costs nothing; a wrong one costs this per send.
const GUIDED_PATIENCE: Duration = Duration::from_secs(2);

/// A pause between the pieces of a split write, so the server reads them apart.
const PIECE_GAP: Duration = Duration::from_millis(1);

/// Runs a plan against a server on `port`: one [`Reply`] per batch. With a `guide` (the
/// replies another server gave to the same batches) it waits longer where this server is
/// behind.
pub fn run_plan(plan: &[Action], port: u16, guide: Option<&[Reply]>) -> Result<Vec<Reply>, String> {
    let mut conns: BTreeMap<String, (TcpStream, bool)> = BTreeMap::new();
    let mut replies = Vec::new();
    for action in plan {
        let batch = match action {
            Action::Sleep(ms) => {
                std::thread::sleep(Duration::from_millis(*ms));
                continue;
            }
            Action::Send(b) => b,
        };
        if !conns.contains_key(&batch.conn) {
            let s = connect(port)?;
            s.set_nodelay(true).ok();
            conns.insert(batch.conn.clone(), (s, false));
        }
        let (stream, closed) = conns.get_mut(&batch.conn).expect("just inserted");
        if *closed {
            replies.push(Reply {
                already_closed: true,
                ..Reply::default()
            });
            continue;
        }
        // Between the pieces of a split write, whatever the server has answered so far is
        // read, and once it has closed the connection nothing more is written: bytes sent
        // to a closed socket make the kernel reset the connection, and a reset can drop a
        // reply the client has not read yet.
        let mut got = Vec::new();
        let mut at = 0;
        let mut sent = Ok(());
        for (n, &len) in batch.chunks.iter().enumerate() {
            if n > 0 {
                *closed = read_for(stream, &mut got, PIECE_GAP);
                if *closed {
                    break;
                }
            }
            sent = stream.write_all(&batch.bytes[at..at + len]);
            at += len;
            if sent.is_err() {
                break;
            }
        }
        if !*closed {
            *closed = read_quiet(stream, &mut got);
            let want = guide.and_then(|g| g.get(replies.len()));
            if let Some(want) = want {
                let deadline = Instant::now() + GUIDED_PATIENCE;
                while !*closed
                    && ((got.len() < want.bytes.len() && !same_last_line(&got, &want.bytes))
                        || want.closed)
                    && Instant::now() < deadline
                {
                    let before = got.len();
                    *closed = read_quiet(stream, &mut got);
                    if got.len() == before && !*closed && got.len() >= want.bytes.len() {
                        // Only a close was missing, and none came in a quiet period.
                        break;
                    }
                }
            }
        }
        *closed |= sent.is_err();
        replies.push(Reply {
            bytes: got,
            closed: *closed,
            already_closed: false,
        });
    }
    Ok(replies)
}

/// Runs a transcript as written against a server on `port` and returns its log.
pub fn run(t: &Transcript, port: u16) -> Result<Vec<u8>, String> {
    let plan = plan(t, Mode::AsWritten);
    let replies = run_plan(&plan, port, None)?;
    Ok(render(&plan, &replies))
}

/// Do both replies end with the same line? Then the shorter one is complete: its lines are
/// shorter (a `stats` value with fewer digits), not missing.
fn same_last_line(got: &[u8], want: &[u8]) -> bool {
    fn last_line(bytes: &[u8]) -> &[u8] {
        let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let start = body.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        &bytes[start..]
    }
    got.ends_with(b"\n") && last_line(got) == last_line(want)
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
    read_for(stream, out, QUIET)
}

/// Reads until the server has been quiet for `quiet`, or closes. Returns whether it closed.
fn read_for(stream: &mut TcpStream, out: &mut Vec<u8>, quiet: Duration) -> bool {
    let start = Instant::now();
    let mut buf = [0u8; 65536];
    stream.set_read_timeout(Some(quiet)).ok();
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

    fn sends(t: &Transcript, mode: Mode) -> Vec<(String, Vec<u8>, usize, std::ops::Range<usize>)> {
        plan(t, mode)
            .into_iter()
            .filter_map(|a| match a {
                Action::Send(b) => Some((b.conn, b.bytes, b.chunks.len(), b.steps)),
                Action::Sleep(_) => None,
            })
            .collect()
    }

    #[test]
    fn pipelined_plans_join_a_connections_consecutive_sends() {
        let t = &parse_file("f", "=== p\n> a\n> b\n@b > c\n> d\nsleep 5\n> e\n>> fg\n").unwrap()[0];
        let written = sends(t, Mode::AsWritten);
        assert_eq!(written.len(), 6);
        assert_eq!(
            written[5],
            ("a".into(), b"fg".to_vec(), 2, 5..6),
            "bytewise"
        );
        let piped = sends(t, Mode::Pipelined);
        assert_eq!(
            piped,
            vec![
                ("a".into(), b"ab".to_vec(), 1, 0..2),
                ("b".into(), b"c".to_vec(), 1, 2..3),
                ("a".into(), b"d".to_vec(), 1, 3..4),
                ("a".into(), b"efg".to_vec(), 1, 4..6),
            ]
        );
        // The same batches when split, cut into pieces that add up to them.
        let split = plan(t, Mode::Split);
        for (action, piped) in split
            .iter()
            .filter(|a| matches!(a, Action::Send(_)))
            .zip(&piped)
        {
            let Action::Send(b) = action else {
                unreachable!()
            };
            assert_eq!((&b.bytes, &b.steps), (&piped.1, &piped.3));
            assert_eq!(b.chunks.iter().sum::<usize>(), b.bytes.len());
            assert!(b.chunks.iter().all(|&c| c > 0));
        }
    }

    #[test]
    fn splits_vary_and_repeat() {
        let mut one = Rng::new("a", 0);
        let mut again = Rng::new("a", 0);
        let cuts = split_points(1000, &mut one);
        assert_eq!(cuts, split_points(1000, &mut again), "deterministic");
        assert!(cuts.len() > 10 && cuts.len() <= MAX_CUTS + 1);
        assert_eq!(cuts.iter().sum::<usize>(), 1000);
        assert_ne!(cuts, split_points(1000, &mut Rng::new("b", 0)));
        assert_eq!(split_points(1, &mut one), vec![1]);
        assert_eq!(split_points(2, &mut one), vec![1, 1]);
    }

    #[test]
    fn regrouped_replies_follow_the_batches() {
        let t = &parse_file("f", "=== r\n> a\n> b\n> c\n").unwrap()[0];
        let reply = |bytes: &[u8], closed, already_closed| Reply {
            bytes: bytes.to_vec(),
            closed,
            already_closed,
        };
        let per_send = [
            reply(b"A", false, false),
            reply(b"B", true, false),
            reply(b"", false, true),
        ];
        let piped = plan(t, Mode::Pipelined);
        assert_eq!(regroup(&piped, &per_send), vec![reply(b"AB", true, false)]);
        let log = render(&piped, &regroup(&piped, &per_send));
        assert_eq!(log, b"@a > abc\nAB<closed>\n".to_vec());
        let written = plan(t, Mode::AsWritten);
        assert_eq!(
            render(&written, &regroup(&written, &per_send)),
            b"@a > a\nA@a > b\nB<closed>\n@a > c\n(connection already closed)\n".to_vec()
        );
    }
}
