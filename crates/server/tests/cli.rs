//! The `ferrocache` binary as an operator runs it: flags, help, signals, daemon mode.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrocache");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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
fn terminate(mut child: std::process::Child) -> (std::process::ExitStatus, String) {
    // SAFETY: kill sends a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        pipe.read_to_string(&mut stderr).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, stderr);
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
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

#[test]
fn sigterm_exits_zero_after_serving() {
    let port = free_port();
    let child = Command::new(BIN)
        .args(base_args(port))
        .args(["-o", "no_such_option=1"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut s = wait_for(port);
    assert_eq!(ask(&mut s, b"set k 0 0 1\r\nx\r\n"), "STORED\r\n");
    let (status, stderr) = terminate(child);
    assert_eq!(status.code(), Some(0));
    assert!(
        stderr.contains("no_such_option"),
        "unknown -o is warned about: {stderr}"
    );
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
    assert!(String::from_utf8_lossy(&out.stderr).contains("-u"));
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
    let refused = stderr.matches("request refused").count();
    assert_eq!(
        refused, 1,
        "only the request after `verbosity 2` is logged: {stderr}"
    );
}
