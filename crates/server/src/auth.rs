//! Authentication: ASCII (`-Y authfile`) and binary-protocol SASL (`-S`).
//!
//! # ASCII (`-Y`), as memcached 1.5.15 and later do it
//!
//! Until a connection authenticates, the only thing it may send is a fake `set` whose data
//! is `<user> <password>`:
//!
//! ```text
//! set <any key> <any flags> <any exptime> <bytes>\r\n<user> <password>\r\n
//! ```
//!
//! answered `STORED` on success. Anything else gets a `CLIENT_ERROR`, and a line too short
//! to be the command closes the connection. Every attempt is answered (memcached 1.6.45
//! sends only the last reply of those that arrive in one read; see KNOWN_DIFFERENCES in
//! protocol-tests).
//!
//! # SASL (`-S`), as memcached 1.6 built with libsasl2 does it
//!
//! Connections speak the binary protocol. Before authenticating, a connection may only list
//! the mechanisms, authenticate, step, and ask for the version; anything else is answered
//! "Auth failure." and the connection is closed. The one mechanism is PLAIN
//! (`authzid NUL user NUL password`), checked against a password file of `user:password`
//! lines (`MEMCACHED_SASL_PWDB`). [`SaslState`] reproduces what memcached, through libsasl2,
//! answers to every sequence of list/auth/step requests (found by experiment; see
//! protocol-tests/transcripts/auth_sasl.t).

use ferrocache_protocol::number::tok_u32;
use std::io;
use std::path::Path;
use std::sync::{Arc, RwLock};

/// The `-Y` users, replaced whole when SIGHUP reloads the authfile.
///
/// Why `RwLock<Arc<_>>`: a reload must swap the whole list at once, so no check ever sees half
/// of the old file and half of the new one, and it must never make a connection wait while a
/// file is read. The new file is read and parsed first, with no lock held; the write lock is
/// held only to swap a pointer, and a reader holds the read lock only to clone the `Arc`, then
/// checks its credentials against that snapshot. Readers are connections that have not
/// authenticated yet, once per attempt, so a lock-free `ArcSwap` would save nothing
/// measurable and would be one more dependency.
pub(crate) struct Reloadable<T> {
    current: RwLock<Arc<T>>,
}

impl<T> Reloadable<T> {
    pub fn new(value: T) -> Self {
        Reloadable {
            current: RwLock::new(Arc::new(value)),
        }
    }

    /// The list in force now.
    pub fn current(&self) -> Arc<T> {
        // A panic cannot leave a pointer half-written: the data is always whole.
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts `value` in force for every check from now on.
    pub fn replace(&self, value: T) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(value);
    }
}

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

/// memcached's limits on the header line and the token (`MIN_AUTH_REQ_LEN`,
/// `MAX_AUTH_REQ_LEN`).
const MIN_HEADER: usize = 6;
const MAX_TOKEN: u32 = 16384;

impl AuthState {
    /// One step of memcached 1.6.45's ASCII authentication (`try_read_command_asciiauth`).
    pub fn step(&mut self, buf: &[u8], users: &AuthFile) -> Step {
        let Some(len) = self.data_len else {
            return self.header(buf);
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
        let data = &buf[..len];
        if !data.ends_with(b"\r\n") {
            return done(
                b"CLIENT_ERROR bad command line termination\r\n",
                Outcome::Pending,
            );
        }
        // `<user> <password>`: the password is everything after the first space, spaces
        // included.
        let Some(space) = data.iter().position(|&b| b == b' ') else {
            return done(
                b"CLIENT_ERROR bad authentication token format\r\n",
                Outcome::Pending,
            );
        };
        if users.check(&data[..space], &data[space + 1..len - 2]) {
            done(b"STORED\r\n", Outcome::Authenticated)
        } else {
            done(b"CLIENT_ERROR authentication failure\r\n", Outcome::Failed)
        }
    }

    /// The `set <key> <flags> <exptime> <bytes>` line. Only the `set` at the line's start
    /// and the size are read; key, flags and exptime may be anything.
    fn header(&mut self, buf: &[u8]) -> Step {
        if buf.len() < 3 {
            return Step::NeedMore;
        }
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            return if buf.len() > 2048 {
                Step::Close
            } else {
                Step::NeedMore
            };
        };
        if nl < MIN_HEADER {
            // Too short to be the auth command: memcached closes the connection (a binary
            // request ends up here too).
            return Step::Close;
        }
        // memcached hands its tokenizer the line without the `\n`, and the tokenizer drops
        // the line's last character as if it were the `\n`: the `\r` of a `\r\n` line, but
        // the size's last digit of a line ended by a bare `\n`.
        let line = &buf[..nl];
        let line = if line[line.len() - 2] == b'\r' {
            &line[..line.len() - 2]
        } else {
            &line[..line.len() - 1]
        };
        let tokens: Vec<&[u8]> = line
            .split(|&b| b == b' ')
            .filter(|t| !t.is_empty())
            .take(ferrocache_protocol::text::MAX_TOKENS)
            .collect();
        let refuse = |reply| Step::Done {
            consumed: nl + 1,
            reply: Some(reply),
            outcome: Outcome::Pending,
        };
        let size = match tokens.get(4) {
            Some(size) if buf.starts_with(b"set") => tok_u32(size),
            _ => None,
        };
        let Some(size) = size else {
            return refuse(b"CLIENT_ERROR unauthenticated\r\n");
        };
        if size > MAX_TOKEN {
            return refuse(b"CLIENT_ERROR auth token too long\r\n");
        }
        self.data_len = Some(size as usize + 2);
        Step::Done {
            consumed: nl + 1,
            reply: None,
            outcome: Outcome::Pending,
        }
    }
}

/// The users of a SASL password file (`-S`, `MEMCACHED_SASL_PWDB`): `user:password` lines.
/// A password ends at the end of its line or at a further `:` (what follows is ignored);
/// the first line naming a user is the one that counts.
pub(crate) struct SaslUsers {
    users: Vec<(Vec<u8>, Vec<u8>)>,
}

impl SaslUsers {
    pub fn load(path: &Path) -> io::Result<SaslUsers> {
        Ok(SaslUsers::parse(&std::fs::read(path)?))
    }

    fn parse(text: &[u8]) -> SaslUsers {
        let users = text
            .split(|&b| b == b'\n')
            .filter_map(|line| {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let colon = line.iter().position(|&b| b == b':')?;
                let rest = &line[colon + 1..];
                let end = rest.iter().position(|&b| b == b':').unwrap_or(rest.len());
                Some((line[..colon].to_vec(), rest[..end].to_vec()))
            })
            .collect();
        SaslUsers { users }
    }

    /// Is `password` the password of `user`? Every line is compared, so the time taken does
    /// not tell whether the user exists. Empty passwords never match.
    pub fn check(&self, user: &[u8], password: &[u8]) -> bool {
        let mut seen = false;
        let mut ok = false;
        for (u, p) in &self.users {
            let is_user = constant_time_eq(u, user);
            ok |= is_user & !seen & constant_time_eq(p, password);
            seen |= is_user;
        }
        ok && !password.is_empty()
    }
}

/// What `-S` lists as its mechanisms (memcached with `mech_list: plain`).
pub(crate) const SASL_MECHANISMS: &[u8] = b"PLAIN";

/// A connection's SASL state.
#[derive(Default)]
pub(crate) struct SaslState {
    /// Commands other than the SASL ones and `version` are allowed.
    pub authenticated: bool,
    /// The last auth request was answered "continue" and had no failure since: a step may
    /// complete it.
    awaiting_step: bool,
    /// Credentials were accepted on this connection. As with memcached (libsasl2 refuses to
    /// verify twice on one connection), the next credentials given, good or bad, then fail;
    /// a failed auth request clears this.
    verified: bool,
}

/// The answer to a SASL auth or step request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SaslOutcome {
    /// Status 0, "Authenticated".
    Authenticated,
    /// Status 0x21 with no data: send the PLAIN credentials in a step.
    Continue,
    /// Status 0x20, "Auth failure.".
    Failed,
}

impl SaslState {
    /// A mechanism list request: memcached resets the connection's authentication.
    pub fn list(&mut self) {
        self.authenticated = false;
    }

    /// An auth request (`mech` is the key, `data` the value).
    pub fn auth(&mut self, mech: &[u8], data: &[u8], users: &SaslUsers) -> SaslOutcome {
        self.authenticated = false;
        let outcome = if !mech.eq_ignore_ascii_case(b"PLAIN") {
            SaslOutcome::Failed
        } else if data.is_empty() {
            self.awaiting_step = true;
            return SaslOutcome::Continue;
        } else if self.verified {
            SaslOutcome::Failed
        } else {
            self.verify(data, users)
        };
        self.awaiting_step = false;
        if outcome == SaslOutcome::Failed {
            self.verified = false;
        }
        outcome
    }

    /// A step request (the key is ignored, as by memcached).
    pub fn step(&mut self, data: &[u8], users: &SaslUsers) -> SaslOutcome {
        self.authenticated = false;
        if !self.awaiting_step || self.verified {
            return SaslOutcome::Failed;
        }
        self.verify(data, users)
    }

    fn verify(&mut self, data: &[u8], users: &SaslUsers) -> SaslOutcome {
        if plain_ok(data, users) {
            self.authenticated = true;
            self.verified = true;
            SaslOutcome::Authenticated
        } else {
            SaslOutcome::Failed
        }
    }
}

/// Checks PLAIN credentials, `authzid NUL user NUL password` (RFC 4616). The authorization
/// identity must be empty or the user itself.
fn plain_ok(data: &[u8], users: &SaslUsers) -> bool {
    let mut parts = data.splitn(3, |&b| b == 0);
    let (Some(authzid), Some(user), Some(password)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    if user.is_empty() || !(authzid.is_empty() || authzid == user) {
        return false;
    }
    users.check(user, password)
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

    fn sasl_users() -> SaslUsers {
        SaslUsers::parse(b"user1:pass1\nuser2:pa:extra\r\nnocolon\nuser1:other\nempty:\nlast:x")
    }

    #[test]
    fn sasl_password_file() {
        let u = sasl_users();
        assert!(u.check(b"user1", b"pass1"));
        assert!(
            !u.check(b"user1", b"other"),
            "the first line of a user counts"
        );
        assert!(
            u.check(b"user2", b"pa"),
            "a password ends at a further colon"
        );
        assert!(!u.check(b"user2", b"pa:extra"));
        assert!(!u.check(b"empty", b""), "empty passwords never match");
        assert!(
            u.check(b"last", b"x"),
            "a last line without a newline counts"
        );
        assert!(!u.check(b"nocolon", b""));
        assert!(!u.check(b"nobody", b"pass1"));
    }

    #[test]
    fn sasl_plain_known_answers() {
        use SaslOutcome::*;
        let u = sasl_users();
        let auth = |data: &[u8]| SaslState::default().auth(b"PLAIN", data, &u);
        assert_eq!(auth(b"\0user1\0pass1"), Authenticated);
        assert_eq!(auth(b"user1\0user1\0pass1"), Authenticated);
        assert_eq!(
            auth(b"user2\0user1\0pass1"),
            Failed,
            "no proxy authorization"
        );
        assert_eq!(auth(b"\0user1\0pass1\0"), Failed);
        assert_eq!(auth(b"\0user1\0pass2"), Failed);
        assert_eq!(auth(b"\0nobody\0pass1"), Failed);
        assert_eq!(auth(b"user1\0pass1"), Failed);
        assert_eq!(auth(b"\0\0pass1"), Failed);
        assert_eq!(auth(b""), Continue);
        assert_eq!(
            SaslState::default().auth(b"plain", b"\0user1\0pass1", &u),
            Authenticated
        );
        assert_eq!(
            SaslState::default().auth(b"CRAM-MD5", b"\0user1\0pass1", &u),
            Failed
        );
    }

    /// Sequences as memcached 1.6.18 (libsasl2 2.1.28) answers them; each letter is a
    /// request: o = auth good, b = auth bad, e = auth without data, u = auth with an unknown
    /// mechanism, s = step good, f = step bad, l = list. The answer: A authenticated,
    /// F failed, C continue, L listed; then whether the connection is authenticated.
    #[test]
    fn sasl_sequences_match_memcached() {
        let u = sasl_users();
        for (requests, answers, authenticated) in [
            ("oo", "AF", false),
            ("ooo", "AFA", true),
            ("oooo", "AFAF", false),
            ("bbo", "FFA", true),
            ("obo", "AFA", true),
            ("ouo", "AFA", true),
            ("oso", "AFF", false),
            ("olo", "ALF", false),
            ("oeo", "ACF", false),
            ("ol", "AL", false),
            ("oe", "AC", false),
            ("es", "CA", true),
            ("ess", "CAF", false),
            ("effs", "CFFA", true),
            ("eo", "CA", true),
            ("eos", "CAF", false),
            ("bs", "FF", false),
            ("us", "FF", false),
            ("eus", "CFF", false),
            ("els", "CLA", true),
            ("ses", "FCA", true),
            ("oees", "ACCF", false),
            ("os", "AF", false),
        ] {
            let mut state = SaslState::default();
            let got: String = requests
                .chars()
                .map(|r| {
                    let outcome = match r {
                        'o' => state.auth(b"PLAIN", b"\0user1\0pass1", &u),
                        'b' => state.auth(b"PLAIN", b"\0user1\0bad", &u),
                        'e' => state.auth(b"PLAIN", b"", &u),
                        'u' => state.auth(b"FOO", b"\0user1\0pass1", &u),
                        's' => state.step(b"\0user1\0pass1", &u),
                        'f' => state.step(b"\0user1\0bad", &u),
                        'l' => {
                            state.list();
                            return 'L';
                        }
                        _ => unreachable!(),
                    };
                    match outcome {
                        SaslOutcome::Authenticated => 'A',
                        SaslOutcome::Failed => 'F',
                        SaslOutcome::Continue => 'C',
                    }
                })
                .collect();
            assert_eq!(
                (got.as_str(), state.authenticated),
                (answers, authenticated),
                "{requests}"
            );
        }
    }
}
