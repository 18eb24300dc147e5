//! The `ferrocache` binary as an operator runs it: flags, help, signals, daemon mode.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrocache");

mod common;
use common::free_port;

/// memcached refuses to run as root without -u, and so does ferrocache; tests pass it.
fn base_args(port: u16) -> Vec<String> {
    ["-l", "127.0.0.1", "-p", &port.to_string(), "-u", "root"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn wait_for(port: u16) -> TcpStream {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port)) {
            return s;
        }
        assert!(Instant::now() < deadline, "server did not start on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ask(s: &mut TcpStream, req: &[u8]) -> String {
    s.write_all(req).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// Sends SIGTERM to a server started with a piped stderr; returns its exit status and what
/// it logged.
fn terminate(child: std::process::Child) -> (std::process::ExitStatus, String) {
    signal_and_wait(child, libc::SIGTERM)
}

/// Sends `signal` to a server started with a piped stderr and waits for it to exit.
fn signal_and_wait(child: std::process::Child, signal: i32) -> (std::process::ExitStatus, String) {
    // SAFETY: kill sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    wait_exit(child)
}

/// Waits (10 s at most) for a server started with a piped stderr to exit; returns its exit
/// status and what it logged.
fn wait_exit(mut child: std::process::Child) -> (std::process::ExitStatus, String) {
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, stderr);
        }
        assert!(Instant::now() < deadline, "no exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn help_and_version() {
    let out = Command::new(BIN).arg("-h").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "-p, --port",
        "-m, --memory-limit",
        "-c, --conn-limit",
        "-I, --max-item-size",
        "-o, --extended",
    ] {
        assert!(help.contains(flag), "{flag}");
    }
    let out = Command::new(BIN).arg("-V").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .starts_with("ferrocache "));
}

#[test]
fn bad_flags_exit_like_memcached() {
    for (args, code) in [
        (&["-t", "0"][..], 1),
        (&["-B", "nope"][..], 64),
        (&["-I", "100"][..], 64),
        (&["--no-such-flag"][..], 1),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert!(!out.stderr.is_empty(), "{args:?} explains itself");
    }
}

/// What memcached 1.6.45 prints and exits with, run as the oracle; and ferrocache's
/// refusals of what it does not serve.
#[test]
fn refuses_flags_as_memcached_does() {
    for (args, code, stderr) in [
        (
            &["-o", "frobnicate"][..],
            1,
            "Illegal suboption \"frobnicate\"\n",
        ),
        (
            &["-o", "hashpower=99"],
            1,
            "Initial hashtable multiplier of 99 is too high\n\
             Choose a value based on \"STAT hash_power_level\" from a running instance\n",
        ),
        (
            &["-o", "slab_chunk_max=2048"],
            1,
            "slab_chunk_max must be specified in kilobytes.\n",
        ),
        (
            &["-N", "0"],
            1,
            "Maximum number of NAPI IDs must be greater than 0\n",
        ),
        (&["-o", "slab_sizes="], 64, ""),
    ] {
        let out = Command::new(BIN)
            .args(base_args(free_port()))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(code), "{args:?}");
        assert_eq!(String::from_utf8_lossy(&out.stderr), stderr, "{args:?}");
    }
    // -Z without certificates: memcached's first words, then rustls's reason.
    let out = Command::new(BIN)
        .args(base_args(free_port()))
        .arg("-Z")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("Error loading the certificate chain: (null) : "));
    // (-e was refused here too until restarts were served: see tests/restart.rs.)
    {
        let args = ["-o", "ext_path=/tmp/extstore:64m"];
        let out = Command::new(BIN)
            .args(base_args(free_port()))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("ferrocache does not serve"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn sigterm_exits_zero_after_serving() {
    let port = free_port();
    let child = Command::new(BIN)
        .args(base_args(port))
        .args(["-o", "hashpower=20"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = wait_for(port);
    assert_eq!(ask(&mut s, b"set k 0 0 1\r\nx\r\n"), "STORED\r\n");
    let (status, stderr) = terminate(child);
    assert_eq!(status.code(), Some(0));
    assert!(
        stderr.contains("hashpower"),
        "a -o key with no effect is warned about: {stderr}"
    );
}

/// SIGTERM with a client stalled halfway through a `set`: the server exits, with status 0,
/// once `-o shutdown_grace_ms` (default 1 s) is over. memcached 1.6.45 exits at once.
#[test]
fn sigterm_with_a_stalled_client_exits_within_the_grace() {
    let port = free_port();
    let child = Command::new(BIN)
        .args(base_args(port))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = wait_for(port);
    assert_eq!(
        ask(&mut s, b"version\r\n").split(' ').next(),
        Some("VERSION")
    );
    s.write_all(b"set k 0 0 1000\r\nhalf").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let (status, _) = terminate(child);
    let took = started.elapsed();
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_millis(2500), "exited after {took:?}");
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// A client that sends 4,000 `get`s of a 500 kB value (2 GB of replies) and reads none of
/// them costs the server no memory to speak of: it stops reading that client while its
/// replies cannot be sent, and replies share the stored value instead of copying it.
#[test]
fn a_client_that_reads_no_replies_costs_no_memory() {
    let port = free_port();
    let mut child = Command::new(BIN)
        .args(base_args(port))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut s = wait_for(port);
    let mut set = b"set big 0 0 500000\r\n".to_vec();
    set.extend(std::iter::repeat_n(b'v', 500_000));
    set.extend_from_slice(b"\r\n");
    assert_eq!(ask(&mut s, &set), "STORED\r\n");
    std::thread::sleep(Duration::from_millis(300));
    let before = rss_bytes(child.id());
    let mut greedy = TcpStream::connect(("127.0.0.1", port)).unwrap();
    greedy
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // Sends as much of it as the server takes in; the rest stays with the client.
    let gets = b"get big\r\n".repeat(4000);
    let mut sent = 0;
    while sent < gets.len() {
        match greedy.write(&gets[sent..]) {
            Ok(n) => sent += n,
            Err(_) => break,
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let grown = rss_bytes(child.id()).saturating_sub(before);
    // The server still answers others.
    let mut other = TcpStream::connect(("127.0.0.1", port)).unwrap();
    assert!(ask(&mut other, b"version\r\n").starts_with("VERSION"));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(grown < 16 << 20, "RSS grew {grown} bytes");
}

#[test]
fn daemon_writes_and_removes_its_pid_file() {
    let port = free_port();
    let pid_file = std::env::temp_dir().join(format!("ferrocache-test-{port}.pid"));
    let status = Command::new(BIN)
        .args(base_args(port))
        .arg("-d")
        .arg("-P")
        .arg(&pid_file)
        .status()
        .unwrap();
    assert!(status.success(), "the foreground process exits at once");
    let mut s = wait_for(port);
    assert!(ask(&mut s, b"version\r\n").starts_with("VERSION "));
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signals the daemon we started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    while pid_file.exists() {
        assert!(Instant::now() < deadline, "pid file not removed");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn refuses_root_without_user_like_memcached() {
    // SAFETY: getuid has no preconditions.
    if unsafe { libc::getuid() } != 0 {
        return;
    }
    let out = Command::new(BIN)
        .args(["-l", "127.0.0.1", "-p", &free_port().to_string()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "must add '-u root' to start as root\n"
    );
    let out = Command::new(BIN)
        .args(["-l", "127.0.0.1", "-p", &free_port().to_string()])
        .args(["-u", "no-such-user-here"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(67));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "can't find the user no-such-user-here to switch to\n"
    );
}

/// The uid and primary gid of a user, from the passwd database.
fn user_ids(name: &str) -> Option<(u32, u32)> {
    let name = std::ffi::CString::new(name).unwrap();
    // SAFETY: getpwnam returns static storage or null; read at once.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    // SAFETY: non-null, so a valid record.
    (!pw.is_null()).then(|| unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// Connects to a UNIX socket as `uid`/`gid` (in a forked child, which does nothing but
/// system calls) and asks for the version; true if it was answered.
fn version_over_unix_socket_as(path: &std::path::Path, uid: u32, gid: u32) -> bool {
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: a zeroed sockaddr_un is valid; the path is copied in before the fork.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_bytes();
    assert!(bytes.len() < addr.sun_path.len());
    for (dst, &b) in addr.sun_path.iter_mut().zip(bytes) {
        *dst = b as libc::c_char;
    }
    // SAFETY: the child makes only async-signal-safe system calls, then _exits.
    unsafe {
        match libc::fork() {
            -1 => panic!("fork failed"),
            0 => {
                let ok = libc::setgroups(0, std::ptr::null()) == 0
                    && libc::setgid(gid) == 0
                    && libc::setuid(uid) == 0;
                let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
                let connected = ok
                    && fd >= 0
                    && libc::connect(
                        fd,
                        (&addr as *const libc::sockaddr_un).cast(),
                        std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
                    ) == 0;
                let request = b"version\r\n";
                let mut reply = [0u8; 8];
                let answered = connected
                    && libc::write(fd, request.as_ptr().cast(), request.len()) == 9
                    && libc::read(fd, reply.as_mut_ptr().cast(), reply.len()) == 8
                    && &reply == b"VERSION ";
                libc::_exit(if answered { 0 } else { 1 });
            }
            child => {
                let mut status = 0;
                libc::waitpid(child, &mut status, 0);
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
            }
        }
    }
}

/// Kills the server if the test fails before stopping it, so no server outlives the test.
struct KillOnDrop(Option<std::process::Child>);

impl KillOnDrop {
    fn spawn(cmd: &mut Command) -> KillOnDrop {
        KillOnDrop(Some(cmd.spawn().unwrap()))
    }

    fn id(&self) -> u32 {
        self.0.as_ref().expect("running").id()
    }

    /// The child, no longer killed on drop (to stop it as the test means to).
    fn take(mut self) -> std::process::Child {
        self.0.take().expect("running")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The UNIX socket as memcached 1.6.45 makes it when started as root with `-u nobody`: it
/// becomes nobody before binding, so the socket belongs to nobody (and nogroup) with the -a
/// mode, and a client running as nobody can use it under the default -a 700.
#[test]
fn unix_socket_belongs_to_the_user_with_its_mask() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    // SAFETY: getuid has no preconditions.
    let Some((uid, gid)) = user_ids("nobody").filter(|_| unsafe { libc::getuid() } == 0) else {
        eprintln!("needs root and a nobody user: nothing to check");
        return;
    };
    // A directory nobody may create the socket in, as the server is nobody by then.
    let dir = std::path::PathBuf::from(format!("/tmp/ferrocache-cli-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let path = dir.join("mc.sock");
    for mask in ["700", "770"] {
        let child = KillOnDrop::spawn(
            Command::new(BIN)
                .args(["-u", "nobody", "-a", mask, "-s"])
                .arg(&path)
                .stderr(Stdio::piped()),
        );
        let pid = child.id();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&path).is_err() {
            assert!(Instant::now() < deadline, "no socket at {}", path.display());
            std::thread::sleep(Duration::from_millis(20));
        }
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!((meta.uid(), meta.gid()), (uid, gid), "-a {mask}");
        assert_eq!(
            format!("{:o}", meta.mode() & 0o777),
            mask,
            "the socket's mode is -a's"
        );
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(
            status.contains(&format!("Uid:\t{uid}\t{uid}\t{uid}\t{uid}")),
            "the server runs as nobody: {status}"
        );
        assert!(
            version_over_unix_socket_as(&path, uid, gid),
            "nobody could not use the socket (-a {mask})"
        );
        let (status, stderr) = terminate(child.take());
        assert!(status.success(), "{stderr}");
    }
    // A file that is not a socket is left alone, and the server does not start.
    std::fs::remove_file(&path).unwrap();
    std::fs::write(&path, "not a socket").unwrap();
    let out = Command::new(BIN)
        .args(["-u", "nobody", "-s"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(71));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "bind(): Address already in use\n\
             failed to listen on UNIX socket: {}: Address already in use\n",
            path.display()
        )
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn warns_when_listening_beyond_loopback_without_auth() {
    let port = free_port();
    let child = Command::new(BIN)
        .args(["-l", "0.0.0.0", "-p", &port.to_string(), "-u", "root"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(port);
    let (status, stderr) = terminate(child);
    assert!(status.success());
    assert!(
        stderr.contains("beyond loopback with no authentication"),
        "{stderr}"
    );
}

#[test]
fn verbosity_command_changes_the_log_level() {
    let port = free_port();
    let child = Command::new(BIN)
        .args(base_args(port))
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = wait_for(port);
    assert_eq!(ask(&mut s, b"bogus1\r\n"), "ERROR\r\n");
    assert_eq!(ask(&mut s, b"verbosity 2\r\n"), "OK\r\n");
    assert_eq!(ask(&mut s, b"bogus2\r\n"), "ERROR\r\n");
    let (_, stderr) = terminate(child);
    // memcached's -vv trace, from `verbosity 2` on: its own reply, then each command line.
    assert!(
        !stderr.contains("bogus1"),
        "logged before `verbosity 2`: {stderr}"
    );
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with(['<', '>']))
        .collect();
    assert!(lines.len() >= 3, "{stderr}");
    assert!(
        lines[0].ends_with(" OK") && lines[0].starts_with('>'),
        "{stderr}"
    );
    assert!(
        lines[1].ends_with(" bogus2") && lines[1].starts_with('<'),
        "{stderr}"
    );
    assert!(
        lines[2].ends_with(" ERROR") && lines[2].starts_with('>'),
        "{stderr}"
    );
}

/// -vvv adds nothing memcached would not print: no Rust debug structures, no byte arrays
/// (requests were logged as `Request { header: Header { .. }, key: [102, 111, 111] .. }`).
#[test]
fn most_verbose_log_shows_no_rust_structures() {
    let port = free_port();
    let child = KillOnDrop::spawn(
        Command::new(BIN)
            .args(base_args(port))
            .arg("-vvv")
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped()),
    );
    let mut s = wait_for(port);
    assert_eq!(ask(&mut s, b"set foo 0 0 3\r\nbar\r\n"), "STORED\r\n");
    assert_eq!(ask(&mut s, b"bogus\r\n"), "ERROR\r\n");
    assert_eq!(ask(&mut s, b"mg foo v\r\n"), "VA 3\r\nbar\r\n");
    let mut b = TcpStream::connect(("127.0.0.1", port)).unwrap();
    b.write_all(&binary_request(0x00, b"foo", b"")).unwrap();
    assert_eq!(binary_reply(&mut b).0, 0);
    drop((s, b));
    let (status, stderr) = terminate(child.take());
    assert!(status.success(), "{stderr}");
    for shown in [
        " set foo 0 0 3",
        " STORED",
        " bogus",
        " GET foo",
        " Writing bin response:",
    ] {
        assert!(stderr.contains(shown), "{shown:?} missing:\n{stderr}");
    }
    for structure in ["Request", "Rejection", "Some(", "[102", "b\"", "{ "] {
        assert!(
            !stderr.contains(structure),
            "{structure:?} logged:\n{stderr}"
        );
    }
}

/// A binary request with a key and a value.
fn binary_request(opcode: u8, key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, opcode];
    p.extend_from_slice(&(key.len() as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(&((key.len() + value.len()) as u32).to_be_bytes());
    p.extend_from_slice(&[0; 12]);
    p.extend_from_slice(key);
    p.extend_from_slice(value);
    p
}

/// Reads one binary reply: (status, value).
fn binary_reply(s: &mut TcpStream) -> (u16, Vec<u8>) {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = [0u8; 24];
    s.read_exact(&mut head).unwrap();
    let body = u32::from_be_bytes([head[8], head[9], head[10], head[11]]) as usize;
    let mut value = vec![0u8; body];
    s.read_exact(&mut value).unwrap();
    (u16::from_be_bytes([head[6], head[7]]), value)
}

#[test]
fn sasl_needs_a_password_file() {
    let out = Command::new(BIN)
        .args(base_args(free_port()))
        .arg("-S")
        .env_remove("MEMCACHED_SASL_PWDB")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MEMCACHED_SASL_PWDB"), "{stderr}");

    let out = Command::new(BIN)
        .args(base_args(free_port()))
        .args(["-S", "-o", "sasl_pwdb=/nonexistent/pwdb"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/pwdb"));
}

#[test]
fn sasl_users_come_from_memcached_sasl_pwdb_and_passwords_are_never_logged() {
    let dir = std::env::temp_dir().join(format!("ferrocache-cli-sasl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pwdb = dir.join("pwdb");
    std::fs::write(&pwdb, "alice:Sesame-Open-42\n").unwrap();
    let port = free_port();
    let child = Command::new(BIN)
        .args(base_args(port))
        .args(["-S", "-vvv"])
        .env("MEMCACHED_SASL_PWDB", &pwdb)
        .env_remove("RUST_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = wait_for(port);
    s.write_all(&binary_request(0x20, b"", b"")).unwrap();
    assert_eq!(binary_reply(&mut s), (0, b"PLAIN".to_vec()));
    s.write_all(&binary_request(0x21, b"PLAIN", b"\0alice\0Wrong-Guess-17"))
        .unwrap();
    assert_eq!(binary_reply(&mut s), (0x20, b"Auth failure.".to_vec()));
    s.write_all(&binary_request(0x21, b"PLAIN", b"\0alice\0Sesame-Open-42"))
        .unwrap();
    assert_eq!(binary_reply(&mut s), (0, b"Authenticated".to_vec()));
    s.write_all(&binary_request(0x0a, b"", b"")).unwrap();
    assert_eq!(binary_reply(&mut s), (0, Vec::new()));
    drop(s);
    let (status, stderr) = terminate(child);
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(status.success(), "{stderr}");
    assert!(stderr.contains("SASL authentication failed"), "{stderr}");
    assert!(
        stderr.contains("authenticated() in cmd 0x21 is true"),
        "-vvv traces each request:\n{stderr}"
    );
    for secret in ["Sesame-Open-42", "Wrong-Guess-17"] {
        assert!(!stderr.contains(secret), "{secret} was logged:\n{stderr}");
    }
}

/// Transparent huge pages are off from the process's first allocation, which the Rust
/// runtime makes before `main`: an empty server has none (it had two, 4 MiB, when they were
/// turned off in `main`), and `MIMALLOC_ALLOW_THP` keeps them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn no_transparent_huge_pages_from_the_start() {
    let mode =
        std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if !mode.contains("[madvise]") && !mode.contains("[always]") {
        eprintln!("transparent huge pages are off on this machine ({mode:?}): nothing to check");
        return;
    }
    // (huge pages in kB summed over /proc/PID/smaps, the process's THP_enabled flag if the
    // kernel reports it)
    let empty_server = |allow: bool| {
        let port = free_port();
        let mut cmd = Command::new(BIN);
        cmd.args(base_args(port)).stderr(Stdio::piped());
        // The variable as the test runner may have it (any case), then as this run wants it.
        for (key, _) in std::env::vars_os() {
            if key.eq_ignore_ascii_case("MIMALLOC_ALLOW_THP") {
                cmd.env_remove(key);
            }
        }
        if allow {
            cmd.env("MIMALLOC_ALLOW_THP", "1");
        }
        let child = cmd.spawn().unwrap();
        let mut s = wait_for(port);
        assert!(ask(&mut s, b"version\r\n").starts_with("VERSION "));
        let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", child.id())).unwrap();
        let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
        let (exit, _) = terminate(child);
        assert_eq!(exit.code(), Some(0));
        let huge_kb: u64 = smaps
            .lines()
            .filter_map(|l| l.strip_prefix("AnonHugePages:"))
            .map(|v| {
                v.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap()
            })
            .sum();
        // Linux 5.0 and later report the prctl switch itself.
        let thp_enabled = status
            .lines()
            .find_map(|l| l.strip_prefix("THP_enabled:"))
            .map(|v| v.trim() == "1");
        (huge_kb, thp_enabled)
    };
    let (huge_without, enabled_without) = empty_server(false);
    let (huge_with, enabled_with) = empty_server(true);
    if let (Some(without), Some(with)) = (enabled_without, enabled_with) {
        assert!(
            !without,
            "THP_enabled is 1 for a server without MIMALLOC_ALLOW_THP"
        );
        assert!(
            with,
            "MIMALLOC_ALLOW_THP did not keep transparent huge pages enabled"
        );
    }
    // With them allowed the server normally gets some, unless the kernel has no free 2 MiB
    // block to give; then this machine cannot show the difference in pages.
    if huge_with == 0 {
        eprintln!("no huge pages even with MIMALLOC_ALLOW_THP: pages not compared");
        return;
    }
    assert_eq!(huge_without, 0, "huge pages in an empty server");
}

/// A log sent to a file or a pipe is plain text: no ANSI colour codes, even with `NO_COLOR`
/// unset (journald and log files showed `\x1b[2m...` before).
#[test]
fn logs_have_no_colour_codes_when_stderr_is_not_a_terminal() {
    let port = free_port();
    let child = KillOnDrop::spawn(
        Command::new(BIN)
            .args(base_args(port))
            .arg("-vv")
            .env_remove("NO_COLOR")
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped()),
    );
    let mut s = wait_for(port);
    assert_eq!(ask(&mut s, b"bogus\r\n"), "ERROR\r\n");
    drop(s);
    let (status, stderr) = terminate(child.take());
    assert!(status.success());
    assert!(stderr.contains("listening on"), "-vv logs: {stderr}");
    assert!(
        !stderr.contains("\x1b["),
        "colour codes in a piped log: {stderr:?}"
    );
}

/// Logs in with memcached's ascii authentication on a new connection; true if accepted.
fn ascii_login(port: u16, user: &str, password: &str) -> bool {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let data = format!("{user} {password}");
    let reply = ask(
        &mut s,
        format!("set auth 0 0 {}\r\n{data}\r\n", data.len()).as_bytes(),
    );
    match reply.as_str() {
        "STORED\r\n" => true,
        "CLIENT_ERROR authentication failure\r\n" => false,
        other => panic!("unexpected reply to a login: {other:?}"),
    }
}

/// Polls `check` for 10 s at most; true once it holds.
fn eventually(mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// SIGHUP, as in memcached: the server keeps running and reads the `-Y` authfile again, so a
/// new connection logs in with the new users; if the file cannot be read the old users stay
/// (and the error is logged).
#[test]
fn sighup_reloads_the_authfile_and_keeps_serving() {
    let dir = std::env::temp_dir().join(format!("ferrocache-cli-hup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let authfile = dir.join("auth");
    std::fs::write(&authfile, "alice:secret\n").unwrap();
    let port = free_port();
    let child = KillOnDrop::spawn(
        Command::new(BIN)
            .args(base_args(port))
            .arg("-Y")
            .arg(&authfile)
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped()),
    );
    wait_for(port);
    assert!(ascii_login(port, "alice", "secret"));
    assert!(!ascii_login(port, "bob", "hunter2"));
    // A connection that has not logged in yet sees the new users too.
    let mut waiting = TcpStream::connect(("127.0.0.1", port)).unwrap();

    std::fs::write(&authfile, "bob:hunter2\n").unwrap();
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    assert!(
        eventually(|| ascii_login(port, "bob", "hunter2")),
        "the new user never got in"
    );
    assert!(
        !ascii_login(port, "alice", "secret"),
        "the old user still gets in"
    );
    assert_eq!(
        ask(&mut waiting, b"set auth 0 0 11\r\nbob hunter2\r\n"),
        "STORED\r\n"
    );
    assert_eq!(ask(&mut waiting, b"version\r\n").get(..8), Some("VERSION "));

    // An unreadable file: the users read before stay.
    std::fs::remove_file(&authfile).unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    std::thread::sleep(Duration::from_millis(300));
    assert!(ascii_login(port, "bob", "hunter2"));
    assert!(!ascii_login(port, "alice", "secret"));

    let (status, stderr) = terminate(child.take());
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("could not read the authfile"),
        "the failed reload is logged: {stderr}"
    );
}

/// SIGUSR1 is memcached's graceful stop: it prints "Gracefully stopping" (with or without
/// -v), lets the request in flight finish, and exits 0.
#[test]
fn sigusr1_stops_gracefully() {
    let port = free_port();
    let child = KillOnDrop::spawn(
        Command::new(BIN)
            .args(base_args(port))
            .env_remove("RUST_LOG")
            .stderr(Stdio::piped()),
    );
    let mut s = wait_for(port);
    assert_eq!(ask(&mut s, b"set k 0 0 1\r\nx\r\n"), "STORED\r\n");
    // A request begun before the signal is answered after it. (Begun means read by the
    // server: bytes still in the socket when the stop comes are not waited for.)
    s.write_all(b"get k\r").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: signals our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ask(&mut s, b"\n"), "VALUE k 0 1\r\nx\r\nEND\r\n");
    drop(s);
    let (status, stderr) = wait_exit(child.take());
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "Gracefully stopping\n");
}

/// `shutdown` (with -A) prints what memcached's SIGINT prints ("Exiting normally", with -v
/// only), `shutdown graceful` what its SIGUSR1 prints ("Gracefully stopping").
#[test]
fn shutdown_command_logs_like_memcached() {
    for (command, verbose, printed) in [
        ("shutdown", false, ""),
        ("shutdown", true, "Exiting normally\n"),
        ("shutdown graceful", false, "Gracefully stopping\n"),
        ("shutdown graceful", true, "Gracefully stopping\n"),
    ] {
        let port = free_port();
        let child = KillOnDrop::spawn(
            Command::new(BIN)
                .args(base_args(port))
                .arg("-A")
                .args(verbose.then_some("-v"))
                .env_remove("RUST_LOG")
                .stderr(Stdio::piped()),
        );
        let mut s = wait_for(port);
        s.write_all(format!("{command}\r\n").as_bytes()).unwrap();
        let mut rest = Vec::new();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "memcached closes without a reply");
        let (status, stderr) = wait_exit(child.take());
        assert_eq!(status.code(), Some(0), "{command}: {stderr}");
        if verbose {
            // -v also logs ferrocache's own start-up lines; memcached's line is the last.
            let last = stderr.lines().last().unwrap_or_default();
            assert_eq!(format!("{last}\n"), printed, "{command} -v: {stderr}");
        } else {
            assert_eq!(stderr, printed, "{command}");
        }
    }
}

/// `-r` raises the core file size limit as memcached does: to unlimited where allowed,
/// else to the hard limit. The server starts with a soft limit of 0.
#[test]
fn enable_coredumps_raises_the_core_limit() {
    use std::os::unix::process::CommandExt;
    let mut hard = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes only into the struct we pass.
    unsafe { libc::getrlimit(libc::RLIMIT_CORE, &mut hard) };
    if hard.rlim_max == 0 {
        eprintln!("core files cannot be allowed here: nothing to check");
        return;
    }
    let port = free_port();
    let mut cmd = Command::new(BIN);
    cmd.args(base_args(port)).arg("-r").stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(move || {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: hard.rlim_max,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    wait_for(port);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let (status, stderr) = terminate(child);
    assert!(status.success(), "{stderr}");
    let core = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))
        .unwrap();
    // "Max core file size <soft> <hard> bytes"
    let soft = core.split_whitespace().nth(4).unwrap();
    let root = unsafe { libc::getuid() } == 0;
    if root || hard.rlim_max == libc::RLIM_INFINITY {
        assert_eq!(soft, "unlimited", "{core}");
    } else {
        assert_eq!(soft, hard.rlim_max.to_string(), "{core}");
    }
}

/// `-l` takes memcached 1.6.45's listener syntax: a `proto[...]` prefix sets the protocol of
/// that listener's connections, a tag is accepted, an entry without a prefix speaks -B's
/// protocol (auto), and `stats settings` shows `inter` as given.
#[test]
fn listeners_speak_the_protocol_their_prefix_names() {
    let (ascii_port, binary_port, auto_port) = (free_port(), free_port(), free_port());
    let entries = format!(
        "proto[ascii]:127.0.0.1:{ascii_port};proto[binary]:tag[svc]:127.0.0.1:{binary_port}"
    );
    let child = KillOnDrop::spawn(
        Command::new(BIN)
            .args(["-u", "root", "-p", &auto_port.to_string()])
            .args(["-l", &entries, "-l", "tag_tools_:127.0.0.1"])
            .stderr(Stdio::piped()),
    );
    let version = binary_request(0x0b, b"", b"");
    // proto[ascii]: text answered, a binary request is not answered in binary.
    let mut s = wait_for(ascii_port);
    assert_eq!(ask(&mut s, b"version\r\n"), "VERSION 1.6.45\r\n");
    let settings = ask(&mut s, b"stats settings\r\n");
    assert!(
        settings.contains(&format!("STAT inter {entries},tag_tools_:127.0.0.1\r\n")),
        "{settings}"
    );
    let mut s = wait_for(ascii_port);
    let mut line = version.clone();
    line.extend_from_slice(b"\r\n");
    assert_eq!(ask(&mut s, &line), "ERROR\r\n");
    // proto[binary]: binary answered, text refused (memcached closes on a bad magic byte).
    let mut s = wait_for(binary_port);
    s.write_all(&version).unwrap();
    assert_eq!(binary_reply(&mut s), (0, b"1.6.45".to_vec()));
    let mut s = wait_for(binary_port);
    // (A header's worth: memcached reads 24 bytes before it looks at the magic byte.)
    s.write_all(b"version\r\nversion\r\nversion\r\n").unwrap();
    let mut rest = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{:?}", String::from_utf8_lossy(&rest));
    // No prefix: -B's auto-negotiation, both protocols.
    let mut s = wait_for(auto_port);
    assert_eq!(ask(&mut s, b"version\r\n"), "VERSION 1.6.45\r\n");
    let mut s = wait_for(auto_port);
    s.write_all(&version).unwrap();
    assert_eq!(binary_reply(&mut s), (0, b"1.6.45".to_vec()));
    let (status, stderr) = terminate(child.take());
    assert!(status.success(), "{stderr}");
}

/// Listener entries memcached 1.6.45 refuses are refused with its messages and exit code:
/// TLS prefixes without -Z (memcached refuses them then), the
/// proxy protocol (not built), bad tags and ports.
#[test]
fn listener_entries_refused_as_memcached_refuses_them() {
    for (entry, first) in [
        (
            "notls:127.0.0.1",
            "'notls' option is valid only when SSL is enabled",
        ),
        (
            "btls:127.0.0.1",
            "'btls' option is valid only when SSL is enabled",
        ),
        (
            "mtls:127.0.0.1",
            "'otls' option is valid only when SSL is enabled",
        ),
        ("tls:127.0.0.1", "Invalid port number: \"127.0.0.1\""),
        (
            "proto[proxy]:127.0.0.1",
            "Server not built with proxy: \"proto[proxy\"",
        ),
        (
            "tag[toolongtag]:127.0.0.1",
            "Listener tags must be between 1 and 8 characters: \"toolongtag\"",
        ),
        ("127.0.0.1:abc", "Invalid port number: \"abc\""),
    ] {
        let out = Command::new(BIN)
            .args(["-u", "root", "-p", &free_port().to_string(), "-l", entry])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(71), "{entry}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("{first}\nfailed to listen on one of interface(s) {entry}: Success\n"),
            "{entry}"
        );
    }
}

/// The pid file is written once the server listens, and only a server that wrote it removes
/// it: a second server that cannot bind the port leaves the first one's pid file alone.
#[test]
fn a_server_that_cannot_bind_leaves_the_pid_file_alone() {
    let port = free_port();
    let pid_file = std::env::temp_dir().join(format!("ferrocache-test-busy-{port}.pid"));
    let first = KillOnDrop::spawn(
        Command::new(BIN)
            .args(base_args(port))
            .arg("-P")
            .arg(&pid_file)
            .stderr(Stdio::piped()),
    );
    let first_pid = first.id();
    wait_for(port);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "no pid file");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = Command::new(BIN)
        .args(base_args(port))
        .arg("-P")
        .arg(&pid_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(71));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "failed to listen on one of interface(s) 127.0.0.1: Address already in use\n"
    );
    assert_eq!(
        std::fs::read_to_string(&pid_file)
            .unwrap_or_default()
            .trim(),
        first_pid.to_string()
    );
    let (status, _) = terminate(first.take());
    assert!(status.success());
    assert!(!pid_file.exists(), "the first server removes its pid file");
}
