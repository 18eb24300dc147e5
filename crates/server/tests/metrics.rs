//! `-o metrics_listen`: the `/metrics` endpoint of a server started in-process, scraped
//! over HTTP. The exposition itself is parsed by a real Prometheus parser in
//! protocol-tests/python/test_metrics.py; these check what the endpoint does with load,
//! with bad HTTP clients, and at shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::free_port;

/// Sends `req` and reads until the reply ends with `until` (each read within 5 s).
async fn ask(conn: &mut TcpStream, req: &[u8], until: &[u8]) -> Vec<u8> {
    common::ask(conn, req, until, Duration::from_secs(5)).await
}

/// A server with `-o metrics_listen` on a free port.
struct TestServer {
    server: common::TestServer,
    addr: SocketAddr,
    metrics: SocketAddr,
}

impl TestServer {
    async fn start() -> TestServer {
        let metrics: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let option = format!("metrics_listen={metrics}");
        let server = common::TestServer::start(&["-o", &option]).await;
        // `run` binds the metrics port as it starts.
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(metrics).await.is_err() {
            assert!(Instant::now() < deadline, "no metrics listener");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        TestServer {
            addr: server.addr,
            server,
            metrics,
        }
    }

    async fn stop(self) -> std::io::Result<()> {
        self.server.stop().await
    }

    /// Sends `request` to the metrics port; the whole response.
    async fn http(&self, request: &[u8]) -> String {
        let mut c = TcpStream::connect(self.metrics).await.unwrap();
        c.write_all(request).await.unwrap();
        let mut got = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut got))
            .await
            .expect("response within 5 s")
            .unwrap();
        String::from_utf8(got).unwrap()
    }

    async fn scrape(&self) -> String {
        let r = self.http(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let (head, body) = r.split_once("\r\n\r\n").expect("a head");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(head.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
        assert!(head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())));
        body.to_string()
    }
}

/// The value of the sample `series` (name and labels as written), which must be there.
fn value(body: &str, series: &str) -> f64 {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {series} in\n{body}"))
        .parse()
        .unwrap()
}

/// A binary request header and body.
fn binary(opcode: u8, key: &[u8]) -> Vec<u8> {
    let mut r = vec![0x80, opcode];
    r.extend_from_slice(&(key.len() as u16).to_be_bytes());
    r.extend_from_slice(&[0, 0, 0, 0]);
    r.extend_from_slice(&(key.len() as u32).to_be_bytes());
    r.extend_from_slice(&[0; 12]);
    r.extend_from_slice(key);
    r
}

const SET: &str = "memcached_commands_total{command=\"set\",status=\"hit\"}";
const ITEMS: &str = "memcached_current_items";

fn count(body: &str, command: &str, protocol: &str) -> f64 {
    value(
        body,
        &format!(
            "ferrocache_command_duration_seconds_count{{command=\"{command}\",protocol=\"{protocol}\"}}"
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_with_load() {
    let server = TestServer::start().await;
    let before = server.scrape().await;
    assert_eq!(value(&before, SET), 0.0);
    assert_eq!(value(&before, ITEMS), 0.0);
    assert_eq!(value(&before, "memcached_up"), 1.0);
    assert_eq!(count(&before, "set", "ascii"), 0.0);

    let mut c = TcpStream::connect(server.addr).await.unwrap();
    for i in 0..25 {
        let req = format!("set k{i} 0 0 1\r\nx\r\n");
        assert_eq!(ask(&mut c, req.as_bytes(), b"\r\n").await, b"STORED\r\n");
    }
    ask(&mut c, b"get k1 k2 nope\r\n", b"END\r\n").await;
    ask(&mut c, b"mg k3 v\r\n", b"\r\n").await;
    ask(&mut c, b"bogus\r\n", b"\r\n").await;
    let mut b = TcpStream::connect(server.addr).await.unwrap();
    for _ in 0..3 {
        ask(&mut b, &binary(0x00, b"k4"), b"x").await;
    }

    let after = server.scrape().await;
    assert_eq!(value(&after, SET), 25.0);
    assert_eq!(value(&after, ITEMS), 25.0);
    assert_eq!(
        value(
            &after,
            "memcached_commands_total{command=\"get\",status=\"hit\"}"
        ),
        2.0 + 1.0 + 3.0
    );
    assert_eq!(count(&after, "set", "ascii"), 25.0);
    assert_eq!(count(&after, "get", "ascii"), 1.0);
    assert_eq!(count(&after, "meta_get", "ascii"), 1.0);
    assert_eq!(count(&after, "other", "ascii"), 1.0);
    assert_eq!(count(&after, "get", "binary"), 3.0);
    assert_eq!(count(&after, "set", "binary"), 0.0);
    // Every request is in the +Inf bucket, and took some time.
    assert_eq!(
        value(
            &after,
            "ferrocache_command_duration_seconds_bucket{command=\"set\",protocol=\"ascii\",le=\"+Inf\"}"
        ),
        25.0
    );
    assert!(
        value(
            &after,
            "ferrocache_command_duration_seconds_sum{command=\"set\",protocol=\"ascii\"}"
        ) > 0.0
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_paths_and_methods() {
    let server = TestServer::start().await;
    let r = server.http(b"GET / HTTP/1.1\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 404 Not Found\r\n"), "{r}");
    let r = server.http(b"DELETE /metrics HTTP/1.1\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 405 "), "{r}");
    let r = server.http(b"HEAD /metrics HTTP/1.0\r\n\r\n").await;
    assert!(
        r.starts_with("HTTP/1.1 200 OK\r\n") && r.ends_with("\r\n\r\n"),
        "{r}"
    );
    let r = server.http(b"\x16\x03\x01garbage\r\n\r\n").await;
    assert!(r.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{r}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_http_clients_do_not_touch_the_cache() {
    let server = TestServer::start().await;
    // Clients that connect and send nothing, more than are served at once.
    let mut idle = Vec::new();
    for _ in 0..40 {
        idle.push(TcpStream::connect(server.metrics).await.unwrap());
    }
    // A head that never ends: refused once it passes the limit, and closed.
    let mut big = TcpStream::connect(server.metrics).await.unwrap();
    let junk = vec![b'a'; 64 * 1024];
    let _ = big.write_all(&junk).await;
    // The cache answers as usual meanwhile.
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    for i in 0..100 {
        let req = format!("set k{i} 0 0 1\r\nx\r\n");
        assert_eq!(ask(&mut c, req.as_bytes(), b"\r\n").await, b"STORED\r\n");
    }
    // Once the idle clients go, the endpoint serves again, at once.
    drop(idle);
    drop(big);
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut s = TcpStream::connect(server.metrics).await.unwrap();
        s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").await.unwrap();
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(1), s.read_to_end(&mut got)).await;
        let text = String::from_utf8_lossy(&got);
        if text.starts_with("HTTP/1.1 200 OK") {
            assert_eq!(value(&text, SET), 100.0);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no scrape after the idle clients left"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_head_gets_431() {
    let server = TestServer::start().await;
    let mut head = b"GET /metrics HTTP/1.1\r\n".to_vec();
    for i in 0..1000 {
        head.extend_from_slice(format!("X-Filler-{i}: yes\r\n").as_bytes());
    }
    head.extend_from_slice(b"\r\n");
    let mut c = TcpStream::connect(server.metrics).await.unwrap();
    let _ = c.write_all(&head).await;
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut got)).await;
    assert!(
        got.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&got)
    );
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_stops_with_the_server() {
    let server = TestServer::start().await;
    let metrics = server.metrics;
    // A client in the middle of its request does not hold the stop up.
    let mut slow = TcpStream::connect(metrics).await.unwrap();
    slow.write_all(b"GET /metr").await.unwrap();
    server.stop().await.unwrap();
    assert!(
        TcpStream::connect(metrics).await.is_err(),
        "still listening"
    );
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(2), slow.read_to_end(&mut got)).await;
    assert!(read.is_ok(), "the slow client is closed at the stop");
}

const BIN: &str = env!("CARGO_BIN_EXE_ferrocache");

/// The binary with `-o metrics_listen=VALUE` on a free port: its exit code and stderr.
fn run_binary(value: &str) -> (Option<i32>, String) {
    let port = free_port().to_string();
    let option = format!("metrics_listen={value}");
    let mut child = std::process::Command::new(BIN)
        .args(["-l", "127.0.0.1", "-p", &port, "-u", "root", "-o", &option])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{value}: still running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status.code(), stderr)
}

#[test]
fn a_bad_value_is_refused_with_exit_1() {
    let (code, stderr) = run_binary("localhost");
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("metrics_listen must be HOST:PORT"),
        "{stderr}"
    );
}

#[test]
fn a_port_that_cannot_be_bound_stops_the_start_like_a_listener_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = run_binary(&addr);
    assert_eq!(code, Some(71), "{stderr}");
    assert_eq!(
        stderr.trim_end(),
        format!("failed to listen on metrics_listen {addr}: Address already in use")
    );
}

/// `GET /metrics` with blocking std I/O: the body.
fn scrape_blocking(port: u16) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\n\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = String::new();
    s.read_to_string(&mut got).unwrap();
    got.split_once("\r\n\r\n").unwrap().1.to_string()
}

#[test]
fn udp_requests_are_timed_too() {
    let (port, udp, metrics) = (free_port(), free_port(), free_port());
    let option = format!("metrics_listen=127.0.0.1:{metrics}");
    let mut child = std::process::Command::new(BIN)
        .args(["-l", "127.0.0.1", "-u", "root", "-o", &option])
        .args(["-p", &port.to_string(), "-U", &udp.to_string()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", metrics)).is_err() {
        assert!(Instant::now() < deadline, "no metrics listener");
        std::thread::sleep(Duration::from_millis(20));
    }
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // memcached's UDP frame header: request id, sequence number, datagrams, reserved.
    let mut datagram = vec![0, 7, 0, 0, 0, 1, 0, 0];
    datagram.extend_from_slice(b"get nope\r\n");
    sock.send_to(&datagram, ("127.0.0.1", udp)).unwrap();
    let mut reply = [0u8; 64];
    let n = sock.recv(&mut reply).unwrap();
    assert_eq!(&reply[8..n], b"END\r\n");
    let body = scrape_blocking(metrics);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(count(&body, "get", "ascii"), 1.0);
    assert_eq!(
        value(
            &body,
            "memcached_commands_total{command=\"get\",status=\"miss\"}"
        ),
        1.0
    );
}
