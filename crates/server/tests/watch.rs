//! `watch` log streams, in-process: what a transcript cannot show deterministically
//! (the line formats themselves are compared with memcached in protocol-tests' watch.t).
//! A watcher that reads nothing loses lines (`skipped=N`) without holding up requests; a
//! full worker buffer drops lines; at most 20 watchers; a `watch` after other requests of
//! the same read is refused; evictions are logged.

use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

mod common;
use common::TestServer;

/// Sends `req` and reads until the reply ends with `until` (each read within 10 s).
async fn ask(conn: &mut TcpStream, req: &[u8], until: &[u8]) -> String {
    String::from_utf8(common::ask(conn, req, until, Duration::from_secs(10)).await).unwrap()
}

async fn read_until(conn: &mut TcpStream, until: &[u8]) -> String {
    String::from_utf8(common::read_until(conn, until, Duration::from_secs(10)).await).unwrap()
}

/// A figure of `stats`.
async fn stat(conn: &mut TcpStream, name: &str) -> u64 {
    let stats = ask(conn, b"stats\r\n", b"END\r\n").await;
    let prefix = format!("STAT {name} ");
    stats
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in stats"))
        .parse()
        .unwrap()
}

/// Waits until `stat` reaches `want` (the logger thread counts within a second).
async fn wait_stat(conn: &mut TcpStream, name: &str, want: impl Fn(u64) -> bool) -> u64 {
    for _ in 0..100 {
        let v = stat(conn, name).await;
        if want(v) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{name} never got there: {}", stat(conn, name).await);
}

/// A `get` of 100 keys that do not exist: 100 `item_get` lines.
fn get_100(round: usize) -> Vec<u8> {
    let mut req = b"get".to_vec();
    for k in 0..100 {
        req.extend_from_slice(format!(" key-{round}-{k}").as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_that_reads_nothing_loses_lines_and_is_told_how_many() {
    // 4 KB of watcher buffer: a watcher that does not read is soon full.
    let server = TestServer::start(&["-o", "watcher_logbuf_size=4"]).await;
    let mut watcher = server.connect().await;
    assert_eq!(ask(&mut watcher, b"watch\r\n", b"OK\r\n").await, "OK\r\n");
    let mut client = server.connect().await;
    // About 20 MB of lines, far more than the socket buffers between the server and a
    // watcher that reads nothing: requests are answered all the same.
    for round in 0..2000 {
        let reply = ask(&mut client, &get_100(round), b"END\r\n").await;
        assert_eq!(reply, "END\r\n");
    }
    let skipped = wait_stat(&mut client, "log_watcher_skipped", |v| v > 0).await;
    let sent = stat(&mut client, "log_watcher_sent").await;
    assert!(sent > 0 && sent + skipped <= 200_000, "{sent} + {skipped}");
    // The watcher now reads: what it had, then, at its next line, how many it lost.
    let mut rest = Vec::new();
    let mut chunk = [0u8; 65536];
    let mut asked_again = false;
    loop {
        match tokio::time::timeout(Duration::from_millis(300), watcher.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => rest.extend_from_slice(&chunk[..n]),
            Ok(_) => panic!("watcher closed"),
            Err(_) if !asked_again => {
                // Drained: one more line comes, after the notice of what was lost.
                asked_again = true;
                ask(&mut client, b"get after\r\n", b"END\r\n").await;
            }
            Err(_) => {}
        }
        if rest.ends_with(b"\n") && String::from_utf8_lossy(&rest).contains(" key=after ") {
            break;
        }
    }
    let text = String::from_utf8(rest).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Every line lost was announced, and only those: the notices add up to the counter.
    let announced: u64 = lines
        .iter()
        .filter_map(|l| l.strip_prefix("skipped="))
        .map(|n| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(announced, stat(&mut client, "log_watcher_skipped").await);
    assert!(announced >= skipped);
    let last = lines.len() - 1;
    assert!(lines[last].contains(" type=item_get key=after status=not_found "));
    assert!(
        lines[last - 1].starts_with("skipped="),
        "{}",
        lines[last - 1]
    );
    for line in lines.iter().filter(|l| !l.starts_with("skipped=")) {
        assert!(
            line.starts_with("ts=") && line.contains(" type=item_get "),
            "{line}"
        );
    }
    // What it got and what it lost are every line the workers kept; the workers kept or
    // dropped every line.
    let sent = stat(&mut client, "log_watcher_sent").await;
    let written = stat(&mut client, "log_worker_written").await;
    let dropped = stat(&mut client, "log_worker_dropped").await;
    assert_eq!(sent + announced, written);
    assert_eq!(written + dropped, 200_001);
    eprintln!("200,001 lines: {written} kept by the workers ({dropped} dropped), {sent} given to the watcher, {announced} skipped");
    let given = lines.iter().filter(|l| !l.starts_with("skipped=")).count();
    assert_eq!(given as u64, sent);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_worker_buffer_drops_lines_and_counts_them() {
    // 1 KB per worker thread: room for one line at a time.
    let server = TestServer::start(&["-o", "worker_logbuf_size=1", "-t", "1"]).await;
    let mut watcher = server.connect().await;
    assert_eq!(ask(&mut watcher, b"watch\r\n", b"OK\r\n").await, "OK\r\n");
    let mut client = server.connect().await;
    ask(&mut client, &get_100(0), b"END\r\n").await;
    let dropped = wait_stat(&mut client, "log_worker_dropped", |v| v > 0).await;
    let written = wait_stat(&mut client, "log_worker_written", |v| v > 0).await;
    assert_eq!(dropped + written, 100);
    let sent = wait_stat(&mut client, "log_watcher_sent", |v| v == written).await;
    let lines = read_until(&mut watcher, b"\n").await;
    assert!(lines.starts_with("ts="), "{lines}");
    assert_eq!(sent, written);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_most_twenty_watchers() {
    let server = TestServer::start(&[]).await;
    let mut watchers = Vec::new();
    for _ in 0..20 {
        let mut w = server.connect().await;
        assert_eq!(ask(&mut w, b"watch\r\n", b"\r\n").await, "OK\r\n");
        watchers.push(w);
    }
    let mut client = server.connect().await;
    assert_eq!(stat(&mut client, "log_watchers").await, 20);
    assert_eq!(
        ask(&mut client, b"watch\r\n", b"\r\n").await,
        "WATCHER_TOO_MANY log watcher limit reached\r\n"
    );
    // The connection is still a normal one.
    assert_eq!(
        ask(&mut client, b"version\r\n", b"\r\n").await,
        "VERSION 1.6.45\r\n"
    );
    // A watcher that goes frees its place.
    drop(watchers.pop());
    wait_stat(&mut client, "log_watchers", |v| v == 19).await;
    assert_eq!(ask(&mut client, b"watch\r\n", b"\r\n").await, "OK\r\n");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_after_other_requests_of_the_same_read_is_refused() {
    let server = TestServer::start(&[]).await;
    let mut conn = server.connect().await;
    assert_eq!(
        ask(&mut conn, b"version\r\nwatch\r\n", b"watch\r\n").await,
        "VERSION 1.6.45\r\nERROR cannot pipeline other commands before watch\r\n"
    );
    // Alone in its read, it is taken; what follows it is ignored.
    assert_eq!(
        ask(
            &mut conn,
            b"watch mutations\r\nset a 0 0 1\r\n1\r\n",
            b"OK\r\n"
        )
        .await,
        "OK\r\n"
    );
    let mut client = server.connect().await;
    ask(&mut client, b"set b 0 0 1\r\n2\r\n", b"STORED\r\n").await;
    let line = read_until(&mut conn, b"\n").await;
    assert!(
        line.contains(" type=item_store key=b status=stored cmd=set ttl=0 clsid=1 "),
        "{line}"
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn evictions_are_logged() {
    let server = TestServer::start(&["-m", "8"]).await;
    let mut watcher = server.connect().await;
    assert_eq!(
        ask(&mut watcher, b"watch evictions\r\n", b"OK\r\n").await,
        "OK\r\n"
    );
    let mut client = server.connect().await;
    let value = vec![b'x'; 100_000];
    for i in 0..200 {
        let mut req = format!("set key{i} 0 0 {}\r\n", value.len()).into_bytes();
        req.extend_from_slice(&value);
        req.extend_from_slice(b"\r\n");
        ask(&mut client, &req, b"STORED\r\n").await;
    }
    let line = read_until(&mut watcher, b"\n").await;
    // memcached's class for a 100,000-byte value with the default -f 1.25.
    let pattern = " type=eviction key=key";
    assert!(line.contains(pattern), "{line}");
    assert!(
        line.trim_end()
            .ends_with(" fetch=no ttl=-1 la=0 clsid=32 size=100000")
            || line.contains(" la=1 clsid=32 size=100000"),
        "{line}"
    );
    server.stop().await.unwrap();
}
