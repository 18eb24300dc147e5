//! ASCII authentication (`-Y authfile`), as memcached 1.5.15 and later do it.
//!
//! Until a connection authenticates, the only thing it may send is a fake `set` whose data
//! is `<user> <password>`:
//!
//! ```text
//! set <any key> <any flags> <any exptime> <bytes>\r\n<user> <password>\r\n
//! ```
//!
//! answered `STORED` on success. Anything else gets a `CLIENT_ERROR`. As in memcached, when
//! several of these arrive in one read only the last one's reply is sent.

use ferrocache_protocol::number::strtoul32;
use std::io;
use std::path::Path;

/// The users of an authfile: `user:password` lines.
pub(crate) struct AuthFile {
    users: Vec<(Vec<u8>, Vec<u8>)>,
}

impl AuthFile {
    /// Reads an authfile. Like memcached 1.6.45, a last line without a newline counts.
    pub fn load(path: &Path) -> io::Result<AuthFile> {
        let text = std::fs::read(path)?;
        let users = text
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let colon = line.iter().position(|&b| b == b':')?;
                Some((line[..colon].to_vec(), line[colon + 1..].to_vec()))
            })
            .collect();
        Ok(AuthFile { users })
    }

    /// Does this user/password pair appear in the file? Every entry is compared, so the
    /// time taken does not tell whether the user exists.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let mut found = false;
        for (u, p) in &self.users {
            found |= constant_time_eq(u, user) & constant_time_eq(p, password);
        }
        found
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where a connection is in the authentication exchange.
#[derive(Default)]
pub(crate) struct AuthState {
    /// Bytes of `<user> <password>\r\n` expected after an accepted header line.
    data_len: Option<usize>,
}

/// What one step of the exchange did.
pub(crate) enum Step {
    /// More bytes are needed.
    NeedMore,
    /// Junk with no newline after 2 KB: close the connection.
    Close,
    /// `consumed` bytes were used; `reply` is the answer so far (the last one wins).
    Done {
        consumed: usize,
        reply: Option<&'static [u8]>,
        outcome: Outcome,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Nothing decided yet (a header line was accepted, or a malformed request refused).
    Pending,
    Authenticated,
    /// Wrong user or password.
    Failed,
}

/// The tokens of a line as memcached's tokenizer sees them: the line ends at a NUL, and
/// tokens are split on spaces.
fn tokens(line: &[u8]) -> Vec<&[u8]> {
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    line[..end]
        .split(|&b| b == b' ')
        .filter(|t| !t.is_empty())
        .collect()
}

impl AuthState {
    pub fn step(&mut self, buf: &[u8], users: &AuthFile) -> Step {
        let Some(len) = self.data_len else {
            if buf.len() < 2 {
                return Step::NeedMore;
            }
            let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
                return if buf.len() > 2048 {
                    Step::Close
                } else {
                    Step::NeedMore
                };
            };
            // memcached leaves the \r in: the size's parser stops at it.
            let t = tokens(&buf[..nl]);
            let size = match (t.first(), t.get(4)) {
                (Some(&b"set"), Some(size)) if t.len() >= 5 => strtoul32(size),
                _ => None,
            };
            return match size {
                Some(size) => {
                    self.data_len = Some(size as usize + 2);
                    Step::Done {
                        consumed: nl + 1,
                        reply: None,
                        outcome: Outcome::Pending,
                    }
                }
                None => Step::Done {
                    consumed: nl + 1,
                    reply: Some(b"CLIENT_ERROR unauthenticated\r\n"),
                    outcome: Outcome::Pending,
                },
            };
        };
        if buf.len() < len {
            return Step::NeedMore;
        }
        self.data_len = None;
        let done = |reply, outcome| Step::Done {
            consumed: len,
            reply: Some(reply),
            outcome,
        };
        if len < 2 || &buf[len - 2..len] != b"\r\n" {
            return done(
                b"CLIENT_ERROR bad command line termination\r\n",
                Outcome::Pending,
            );
        }
        let t = tokens(&buf[..len - 2]);
        if t.len() < 2 {
            return done(
                b"CLIENT_ERROR bad authentication token format\r\n",
                Outcome::Pending,
            );
        }
        if users.check(t[0], t[1]) {
            done(b"STORED\r\n", Outcome::Authenticated)
        } else {
            done(b"CLIENT_ERROR authentication failure\r\n", Outcome::Failed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> AuthFile {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("ferrocache-auth-{}-{n}", std::process::id()));
        std::fs::write(&path, "alice:secret\nbob:hunter2").unwrap();
        let users = AuthFile::load(&path).unwrap();
        std::fs::remove_file(path).unwrap();
        users
    }

    fn run(input: &[u8]) -> (Vec<&'static [u8]>, bool) {
        let users = users();
        let mut state = AuthState::default();
        let mut rest = input;
        let mut replies = Vec::new();
        loop {
            match state.step(rest, &users) {
                Step::Done {
                    consumed,
                    reply,
                    outcome,
                } => {
                    replies.extend(reply);
                    rest = &rest[consumed..];
                    if outcome == Outcome::Authenticated {
                        return (replies, true);
                    }
                }
                _ => return (replies, false),
            }
        }
    }

    #[test]
    fn known_answers() {
        assert_eq!(
            run(b"set k 0 0 12\r\nalice secret\r\n"),
            (vec![&b"STORED\r\n"[..]], true)
        );
        assert_eq!(
            run(b"set k 0 0 10\r\nbob hunter2"),
            (vec![], false),
            "the last line of the file counts, and the data must be complete"
        );
        assert!(run(b"set k 0 0 11\r\nbob hunter2\r\n").1);
        assert_eq!(
            run(b"get k\r\n").0,
            vec![&b"CLIENT_ERROR unauthenticated\r\n"[..]]
        );
        assert_eq!(
            run(b"set k 0 0 12\r\nalice wrong!\r\n").0,
            vec![&b"CLIENT_ERROR authentication failure\r\n"[..]]
        );
        assert_eq!(
            run(b"set k 0 0 5\r\nalice\r\n").0,
            vec![&b"CLIENT_ERROR bad authentication token format\r\n"[..]]
        );
        assert_eq!(
            run(b"set k 0 0 3\r\nabcde\r\n").0[0],
            &b"CLIENT_ERROR bad command line termination\r\n"[..]
        );
    }

    #[test]
    fn a_missing_user_and_a_wrong_password_look_the_same() {
        let a = run(b"set k 0 0 12\r\nalice wrong!\r\n").0;
        let b = run(b"set k 0 0 12\r\nnobody secre\r\n").0;
        assert_eq!(a, b);
    }
}
