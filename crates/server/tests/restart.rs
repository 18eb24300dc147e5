//! `-e <file>`: the real binary stopped gracefully and started again keeps its cache; other
//! stops keep nothing; damaged files are refused and the server starts empty.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrocache");

mod common;
use common::free_port;

/// A directory of its own for each test, removed when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("ferrocache-restart-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn file(&self) -> PathBuf {
        self.0.join("memory_file")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Server {
    child: Child,
    port: u16,
}

/// Starts the binary with `-e file` and `extra` flags, and waits until it accepts.
fn start(file: &Path, extra: &[&str]) -> Server {
    let port = free_port();
    let child = Command::new(BIN)
        .args([
            "-l",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-u",
            "root",
            "-e",
        ])
        .arg(file)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "server did not start on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Server { child, port }
}

impl Server {
    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Sends `req` and reads until the reply ends with `end`.
    fn ask(&self, req: &[u8], end: &str) -> String {
        let mut s = self.connect();
        s.write_all(req).unwrap();
        let mut reply = Vec::new();
        let mut buf = [0u8; 65536];
        while !reply.ends_with(end.as_bytes()) {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&reply));
            reply.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&reply).into_owned()
    }

    fn set(&self, key: &str, value: &str, exptime: u32) {
        let req = format!("set {key} 5 {exptime} {}\r\n{value}\r\n", value.len());
        assert_eq!(self.ask(req.as_bytes(), "\r\n"), "STORED\r\n");
    }

    fn gets(&self, key: &str) -> String {
        self.ask(format!("gets {key}\r\n").as_bytes(), "END\r\n")
    }

    /// Sends `signal` and waits for the exit; returns the status and what was logged.
    fn signal(self, signal: i32) -> (ExitStatus, String) {
        // SAFETY: kill sends a signal to our own child.
        unsafe { libc::kill(self.child.id() as i32, signal) };
        self.wait()
    }

    fn wait(mut self) -> (ExitStatus, String) {
        let mut stderr = String::new();
        if let Some(mut pipe) = self.child.stderr.take() {
            pipe.read_to_string(&mut stderr).unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status, stderr);
            }
            assert!(Instant::now() < deadline, "no exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The CAS value in a `gets` reply.
fn cas_of(reply: &str) -> u64 {
    let line = reply.lines().next().unwrap();
    line.split(' ').nth(4).unwrap().parse().unwrap()
}

/// A server started with `-e`, filled, and stopped with SIGUSR1: the file it saved.
fn saved_file(dir: &Dir) -> PathBuf {
    let file = dir.file();
    let server = start(&file, &[]);
    server.set("a", "alpha", 0);
    server.set("b", "bravo", 0);
    let (status, _) = server.signal(libc::SIGUSR1);
    assert!(status.success());
    assert!(file.exists());
    file
}

#[test]
fn sigusr1_saves_and_the_next_start_loads_once() {
    let dir = Dir::new("sigusr1");
    let file = dir.file();
    let server = start(&file, &["-v"]);
    server.set("kept", "value", 0);
    server.set("ttl", "expires", 1000);
    server.set("gone", "soon", 1);
    let before = server.gets("kept");
    assert!(before.starts_with("VALUE kept 5 5 "), "{before}");
    let ttl_cas = cas_of(&server.gets("ttl"));
    std::thread::sleep(Duration::from_millis(2100));
    let (status, log) = server.signal(libc::SIGUSR1);
    assert!(status.success(), "{log}");
    assert!(log.contains("Gracefully stopping"), "{log}");
    assert!(log.contains("[restart] saved 2 items"), "{log}");
    assert!(file.exists());

    let server = start(&file, &["-v"]);
    // Loaded, then removed: a crash from now on cannot bring these items back.
    assert!(!file.exists());
    assert_eq!(server.gets("kept"), before);
    assert_eq!(cas_of(&server.gets("ttl")), ttl_cas);
    let mg = server.ask(b"mg ttl t\r\n", "\r\n");
    let ttl: u32 = mg.trim_end().strip_prefix("HD t").unwrap().parse().unwrap();
    assert!((990..=1000).contains(&ttl), "{mg}");
    assert_eq!(server.gets("gone"), "END\r\n");
    server.set("new", "v", 0);
    assert!(cas_of(&server.gets("new")) > ttl_cas);
    assert!(server
        .ask(b"stats\r\n", "END\r\n")
        .contains("STAT curr_items 3\r\n"));
    server.ask(b"delete kept\r\n", "\r\n");
    // SIGTERM saves nothing, and the next start is empty: the deleted item stays deleted.
    let (status, log) = server.signal(libc::SIGTERM);
    assert!(status.success());
    assert!(log.contains("[restart] loaded 2 items from"), "{log}");
    assert!(log.contains("[restart] recovery start ["), "{log}");
    assert!(!log.contains("[restart] saved"), "{log}");
    assert!(!file.exists());
    let server = start(&file, &["-v"]);
    assert_eq!(server.gets("kept"), "END\r\n");
    assert_eq!(server.gets("new"), "END\r\n");
    let (_, log) = server.signal(libc::SIGINT);
    assert!(
        log.contains("[restart] no metadata save file, starting with a clean cache")
            && !file.exists(),
        "{log}"
    );
}

#[test]
fn shutdown_graceful_saves_and_plain_shutdown_does_not() {
    let dir = Dir::new("shutdown");
    let file = dir.file();
    let server = start(&file, &["-A"]);
    server.set("k", "v1", 0);
    server
        .connect()
        .write_all(b"shutdown graceful\r\n")
        .unwrap();
    let (status, _) = server.wait();
    assert!(status.success());
    assert!(file.exists());

    let server = start(&file, &["-A"]);
    assert!(server.gets("k").starts_with("VALUE k 5 2"));
    server.connect().write_all(b"shutdown\r\n").unwrap();
    let (status, _) = server.wait();
    assert!(status.success());
    assert!(!file.exists(), "a plain shutdown saves nothing");
}

/// Each kind of bad file: logged on stderr, the server starts empty and serves.
#[test]
fn damaged_or_foreign_files_are_refused_and_the_server_starts_empty() {
    let dir = Dir::new("damaged");
    type Damage = fn(&mut Vec<u8>);
    let cases: [(&str, Damage, &str, bool); 4] = [
        (
            "truncated",
            |f| f.truncate(f.len() / 2),
            "truncated memory file",
            false,
        ),
        (
            "flipped",
            |f| {
                let at = f.len() - 20;
                f[at] ^= 0x10;
            },
            "corrupt memory file",
            false,
        ),
        (
            "foreign",
            |f| *f = b"not ours at all".to_vec(),
            "not a ferrocache memory file (bad magic)",
            true,
        ),
        (
            "version",
            |f| f[8] = 9,
            "memory file version 9, but this ferrocache reads version 1 only",
            false,
        ),
    ];
    for (name, damage, message, left_alone) in cases {
        let file = saved_file(&dir);
        let mut bytes = std::fs::read(&file).unwrap();
        damage(&mut bytes);
        std::fs::write(&file, &bytes).unwrap();
        let server = start(&file, &[]);
        assert_eq!(server.gets("a"), "END\r\n", "{name}");
        assert_eq!(server.gets("b"), "END\r\n", "{name}");
        server.set("c", "works", 0);
        assert!(server.gets("c").starts_with("VALUE c"), "{name}");
        let (status, log) = server.signal(libc::SIGTERM);
        assert!(status.success(), "{name}: {log}");
        let line = log
            .lines()
            .find(|l| l.contains("[restart] refused the memory file"))
            .unwrap_or_else(|| panic!("{name}: {log}"));
        assert!(
            line.contains(&format!("{}: {message}", file.display()))
                && line.ends_with("; starting with a clean cache"),
            "{name}: {line}"
        );
        // Someone else's file is not ours to remove.
        assert_eq!(file.exists(), left_alone, "{name}");
        let _ = std::fs::remove_file(&file);
    }
}

#[test]
fn items_over_the_new_item_size_limit_are_dropped_and_logged() {
    let dir = Dir::new("limits");
    let file = dir.file();
    let server = start(&file, &["-I", "2m"]);
    server.set("small", "v", 0);
    server.set("large", &"x".repeat(1_500_000), 0);
    let (status, _) = server.signal(libc::SIGUSR1);
    assert!(status.success());
    let server = start(&file, &["-I", "1m"]);
    assert!(server.gets("small").starts_with("VALUE small"));
    assert_eq!(server.gets("large"), "END\r\n");
    let (_, log) = server.signal(libc::SIGTERM);
    assert!(
        log.contains("[restart] dropped 1 items larger than -I and 0 items over -m"),
        "{log}"
    );
}

#[test]
fn stats_settings_shows_the_memory_file() {
    let dir = Dir::new("settings");
    let file = dir.file();
    let server = start(&file, &[]);
    let settings = server.ask(b"stats settings\r\n", "END\r\n");
    assert!(
        settings.contains(&format!("STAT memory_file {}\r\n", file.display())),
        "{settings}"
    );
}

#[test]
fn a_memory_file_that_cannot_be_written_stops_the_start() {
    let out = Command::new(BIN)
        .args([
            "-u",
            "root",
            "-p",
            &free_port().to_string(),
            "-l",
            "127.0.0.1",
        ])
        .args(["-e", "/nonexistent-directory/memory_file"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("[restart] cannot write the memory file /nonexistent-directory/memory_file"),
        "{stderr}"
    );
}
