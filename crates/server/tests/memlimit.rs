//! `cache_memlimit` on the `ferrocache` binary: the capacity and the resident memory follow
//! the limit down and up. A process of its own, because the memory guard reads the process's
//! RSS, which in-process tests share.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ferrocache");
const MB: u64 = 1 << 20;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(args: &[&str]) -> (Server, TcpStream) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let child = Command::new(BIN)
        .args(["-l", "127.0.0.1", "-p", &port, "-U", "0", "-u", "root"])
        .args(args)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            return (server, s);
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn ask(s: &mut TcpStream, req: &[u8], until: &[u8]) -> Vec<u8> {
    s.write_all(req).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 65536];
    while !got.ends_with(until) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    got
}

fn stat(s: &mut TcpStream, name: &str) -> u64 {
    let text = String::from_utf8(ask(s, b"stats\r\n", b"END\r\n")).unwrap();
    let prefix = format!("STAT {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name}"))
        .parse()
        .unwrap()
}

fn rss(server: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.0.id())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS")).unwrap();
    line.split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<u64>()
        .unwrap()
        * 1024
}

/// Stores `n` values of 4000 bytes under `prefix`, 100 a write, with `noreply`.
fn fill(s: &mut TcpStream, prefix: &str, n: usize) {
    let value = vec![b'v'; 4000];
    for batch in 0..n / 100 {
        let mut req = Vec::new();
        for i in 0..100 {
            let key = format!("{prefix}{:06}", batch * 100 + i);
            req.extend_from_slice(format!("set {key} 0 0 4000 noreply\r\n").as_bytes());
            req.extend_from_slice(&value);
            req.extend_from_slice(b"\r\n");
        }
        s.write_all(&req).unwrap();
    }
    // Requests are answered in order: once this is, every set was run.
    ask(s, b"mn\r\n", b"MN\r\n");
}

/// Polls `done` every 50 ms for up to 20 s.
fn eventually(what: &str, mut done: impl FnMut() -> Option<String>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match done() {
            None => return,
            Some(state) if Instant::now() > deadline => panic!("{what}: {state}"),
            Some(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// Lowered on a full cache, items are evicted until their bytes fit the new limit, and RSS
/// comes down to the new limit plus the empty server's RSS and the memory guard's margin
/// (2 MiB at this size); raised past `-m`, more items fit than `-m` held.
#[test]
fn cache_memlimit_moves_the_capacity_and_rss_down_and_up() {
    let (server, mut conn) = start(&["-m", "64"]);
    std::thread::sleep(Duration::from_millis(300));
    let base = rss(&server);
    fill(&mut conn, "a", 24_000);
    let items_at_64 = stat(&mut conn, "curr_items");
    let bytes = stat(&mut conn, "bytes");
    assert!(
        bytes <= 64 * MB && bytes > 56 * MB,
        "{bytes} bytes at -m 64"
    );
    let full = rss(&server);
    assert!(full > base + 56 * MB, "RSS {full}, empty {base}");

    assert_eq!(ask(&mut conn, b"cache_memlimit 16\r\n", b"\r\n"), b"OK\r\n");
    assert_eq!(stat(&mut conn, "limit_maxbytes"), 16 * MB);
    eventually("bytes under 16 MB", || {
        let bytes = stat(&mut conn, "bytes");
        (bytes > 16 * MB).then(|| format!("{bytes} bytes"))
    });
    let items_at_16 = stat(&mut conn, "curr_items");
    assert!(
        items_at_16 < items_at_64 / 3,
        "{items_at_16} of {items_at_64}"
    );
    assert!(stat(&mut conn, "evictions") >= items_at_64 - items_at_16);
    let newest = ask(&mut conn, b"get a023999\r\n", b"END\r\n");
    assert!(
        newest.starts_with(b"VALUE a023999 0 4000\r\n"),
        "the newest are kept"
    );
    let bound = base + 16 * MB + 2 * MB + MB;
    eventually("RSS down to the new limit", || {
        let now = rss(&server);
        (now > bound).then(|| format!("RSS {now}, bound {bound}, empty {base}, full {full}"))
    });
    // Writes keep it there.
    fill(&mut conn, "b", 8_000);
    assert!(stat(&mut conn, "bytes") <= 16 * MB);
    eventually("RSS stays near the new limit", || {
        let now = rss(&server);
        (now > bound).then(|| format!("RSS {now}, bound {bound}"))
    });

    assert_eq!(ask(&mut conn, b"cache_memlimit 96\r\n", b"\r\n"), b"OK\r\n");
    fill(&mut conn, "c", 36_000);
    let items_at_96 = stat(&mut conn, "curr_items");
    let bytes = stat(&mut conn, "bytes");
    assert!(bytes <= 96 * MB, "{bytes} bytes at 96 MB");
    assert!(
        items_at_96 > items_at_64 * 14 / 10,
        "{items_at_96} items at 96 MB, {items_at_64} at -m 64"
    );
}
