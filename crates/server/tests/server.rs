//! In-process tests of the server: each starts `ferrocache_server::run` on port 0.
//! Byte-for-byte protocol behaviour is checked against real memcached in `protocol-tests/`;
//! these cover what a transcript cannot: concurrency, shutdown, and connection limits.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::TestServer;

/// Sends `req` and reads until the reply ends with `until` (each read within 5 s).
async fn ask(conn: &mut TcpStream, req: &[u8], until: &[u8]) -> Vec<u8> {
    common::ask(conn, req, until, Duration::from_secs(5)).await
}

/// `set KEY 0 0 LEN` with a value of LEN `v`s.
fn set_request(key: &str, len: usize) -> Vec<u8> {
    let mut req = format!("set {key} 0 0 {len}\r\n").into_bytes();
    req.extend(std::iter::repeat_n(b'v', len));
    req.extend_from_slice(b"\r\n");
    req
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_increments_sum_exactly() {
    let server = TestServer::start(&[]).await;
    let mut c = server.connect().await;
    assert_eq!(
        ask(&mut c, b"set n 0 0 1\r\n0\r\n", b"\r\n").await,
        b"STORED\r\n"
    );
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let mut conn = server.connect().await;
        tasks.push(tokio::spawn(async move {
            for _ in 0..250 {
                let reply = ask(&mut conn, b"incr n 1\r\n", b"\r\n").await;
                assert!(reply[0].is_ascii_digit(), "{reply:?}");
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let reply = ask(&mut c, b"get n\r\n", b"END\r\n").await;
    let text = String::from_utf8(reply).unwrap();
    assert!(text.contains("\r\n4000"), "{text}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_cas_has_exactly_one_winner() {
    let server = TestServer::start(&[]).await;
    let mut c = server.connect().await;
    for round in 0..20 {
        ask(&mut c, b"set k 0 0 1\r\nx\r\n", b"\r\n").await;
        let reply = String::from_utf8(ask(&mut c, b"gets k\r\n", b"END\r\n").await).unwrap();
        let cas: u64 = reply.split_whitespace().nth(4).unwrap().parse().unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let mut conn = server.connect().await;
            tasks.push(tokio::spawn(async move {
                let req = format!("cas k 0 0 2 {cas}\r\n{i}{i}\r\n");
                ask(&mut conn, req.as_bytes(), b"\r\n").await
            }));
        }
        let mut stored = 0;
        for t in tasks {
            match t.await.unwrap().as_slice() {
                b"STORED\r\n" => stored += 1,
                b"EXISTS\r\n" => {}
                other => panic!("{:?}", String::from_utf8_lossy(other)),
            }
        }
        assert_eq!(stored, 1, "round {round}");
    }
    server.stop().await.unwrap();
}

#[tokio::test]
async fn over_the_connection_limit_gets_memcacheds_error() {
    let server = TestServer::start(&["-c", "2"]).await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    ask(&mut a, b"version\r\n", b"\r\n").await;
    ask(&mut b, b"version\r\n", b"\r\n").await;
    let mut c = server.connect().await;
    let mut got = Vec::new();
    c.read_to_end(&mut got).await.unwrap();
    assert_eq!(got, b"ERROR Too many open connections\r\n");
    drop(a);
    // The freed slot is usable again.
    let mut found = false;
    for _ in 0..50 {
        let mut d = server.connect().await;
        d.write_all(b"version\r\n").await.unwrap();
        let mut buf = [0u8; 64];
        let n = d.read(&mut buf).await.unwrap();
        if buf[..n].starts_with(b"VERSION") {
            found = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(found);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_finishes_the_request_in_flight() {
    let server = TestServer::start(&[]).await;
    let mut c = server.connect().await;
    let mut idle = server.connect().await;
    ask(&mut idle, b"version\r\n", b"\r\n").await;
    // Half a request: the header and part of its data block.
    c.write_all(b"set k 0 0 10\r\n01234").await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let addr = server.addr;
    let stop = tokio::spawn(server.stop());
    tokio::time::sleep(Duration::from_millis(50)).await;
    // The idle connection is closed.
    let mut buf = Vec::new();
    idle.read_to_end(&mut buf).await.unwrap();
    assert!(buf.is_empty());
    // New connections are refused once the listeners are gone.
    assert!(TcpStream::connect(addr).await.is_err());
    // The request in flight completes and is answered, then the connection closes.
    c.write_all(b"56789\r\n").await.unwrap();
    let mut rest = Vec::new();
    c.read_to_end(&mut rest).await.unwrap();
    assert_eq!(rest, b"STORED\r\n");
    stop.await.unwrap().unwrap();
}

/// A client that stalls halfway through a request holds a stopping server up for
/// `-o shutdown_grace_ms` (default 1 s), no longer; then its connection is closed without a
/// reply. memcached exits at once.
#[tokio::test]
async fn shutdown_waits_for_a_stalled_request_only_as_long_as_the_grace() {
    for (args, grace) in [
        (&[][..], Duration::from_millis(1000)),
        (
            &["-o", "shutdown_grace_ms=300"][..],
            Duration::from_millis(300),
        ),
    ] {
        let server = TestServer::start(args).await;
        let mut c = server.connect().await;
        c.write_all(b"set k 0 0 10\r\n01234").await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        server.stop().await.unwrap();
        let took = started.elapsed();
        assert!(
            took >= grace,
            "{args:?}: stopped after {took:?}, before the grace"
        );
        assert!(
            took < grace + Duration::from_millis(700),
            "{args:?}: stopped after {took:?}"
        );
        let mut rest = Vec::new();
        let _ = c.read_to_end(&mut rest).await;
        assert!(rest.is_empty(), "{args:?}: {rest:?}");
    }
}

/// A client that sends requests and never reads the replies cannot hold a stopping server
/// up either: once the grace is over its connection goes, replies unsent.
#[tokio::test]
async fn shutdown_is_bounded_when_a_client_reads_no_replies() {
    let server = TestServer::start(&["-o", "shutdown_grace_ms=200"]).await;
    let mut c = server.connect().await;
    let value = vec![b'v'; 500_000];
    let mut set = b"set big 0 0 500000\r\n".to_vec();
    set.extend_from_slice(&value);
    set.extend_from_slice(b"\r\n");
    assert_eq!(ask(&mut c, &set, b"\r\n").await, b"STORED\r\n");
    // 200 MB of replies: far more than the socket buffers hold.
    c.write_all(&b"get big\r\n".repeat(400)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    server.stop().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// Requests still arriving hold at most `-o read_buf_mem_limit` of buffers: a large set
/// that would go over it waits, reading nothing more, until another finishes, and is then
/// stored; one request larger than the limit alone still goes through.
#[tokio::test]
async fn large_requests_still_arriving_hold_at_most_the_read_buffer_limit() {
    let server = TestServer::start(&["-o", "read_buf_mem_limit=1", "-I", "4m"]).await;
    let first = set_request("first", 600_000);
    let second = set_request("second", 600_000);
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    a.write_all(&first[..1000]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The whole second request is sent (the socket buffers hold it), but the server must
    // not take it in while the first holds 600 kB of the 1 MB.
    let sender = tokio::spawn(async move {
        b.write_all(&second).await.unwrap();
        b
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut probe = server.connect().await;
    assert_eq!(
        ask(&mut probe, b"get second\r\n", b"END\r\n").await,
        b"END\r\n",
        "the second set went ahead past the limit"
    );
    // Small requests are not held up.
    assert_eq!(
        ask(&mut probe, b"set small 0 0 1\r\nx\r\n", b"\r\n").await,
        b"STORED\r\n"
    );
    assert_eq!(ask(&mut a, &first[1000..], b"\r\n").await, b"STORED\r\n");
    let mut b = sender.await.unwrap();
    let mut reply = [0u8; 8];
    tokio::time::timeout(Duration::from_secs(5), b.read_exact(&mut reply))
        .await
        .expect("the waiting set goes on once the first is done")
        .unwrap();
    assert_eq!(&reply, b"STORED\r\n");
    // Alone, a request over the limit is let through.
    let big = set_request("big", 2_000_000);
    assert_eq!(ask(&mut a, &big, b"\r\n").await, b"STORED\r\n");
    let got = ask(&mut probe, b"get big\r\n", b"END\r\n").await;
    assert_eq!(
        got.len(),
        "VALUE big 0 2000000\r\n".len() + 2_000_000 + 2 + 5
    );
    server.stop().await.unwrap();
}

/// Replies waiting to be written count against `-o read_buf_mem_limit` too: a client that
/// asks for more large values than it reads makes its connection stop running requests once
/// its replies hold the limit, rather than queue every reply (each holding its value alive,
/// however the store changes meanwhile). Other connections still get their replies.
#[tokio::test]
async fn replies_a_client_does_not_read_hold_at_most_the_read_buffer_limit() {
    let server = TestServer::start(&["-o", "read_buf_mem_limit=1", "-R", "200"]).await;
    const KEYS: usize = 40;
    const LEN: usize = 500_000;
    let mut writer = server.connect().await;
    for i in 0..KEYS {
        let set = set_request(&format!("k{i}"), LEN);
        assert_eq!(ask(&mut writer, &set, b"\r\n").await, b"STORED\r\n");
    }
    // 20 MB of replies, far more than the socket buffers take, then a set that shows how
    // far the server went; all in one write, which `-R 200` lets run in one pass.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let mut slow = socket.connect(server.addr).await.unwrap();
    let mut pipeline = Vec::new();
    for i in 0..KEYS {
        pipeline.extend_from_slice(format!("get k{i}\r\n").as_bytes());
    }
    pipeline.extend_from_slice(b"set marker 0 0 1\r\nx\r\n");
    slow.write_all(&pipeline).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut probe = server.connect().await;
    assert_eq!(
        ask(&mut probe, b"get marker\r\n", b"END\r\n").await,
        b"END\r\n",
        "the server queued every reply of a client that reads none"
    );
    // Another connection's large reply is not held up.
    let got = ask(&mut probe, b"get k0\r\n", b"END\r\n").await;
    assert_eq!(got.len(), "VALUE k0 0 500000\r\n".len() + LEN + 2 + 5);
    // Once the client reads, the rest runs. (Keys k0 to k9 are one byte shorter.)
    let want = KEYS * ("VALUE k00 0 500000\r\n".len() + LEN + 2 + 5) - 10 + 8;
    let mut all = Vec::with_capacity(want);
    while !all.ends_with(b"STORED\r\n") {
        let mut chunk = vec![0u8; 1 << 16];
        let n = tokio::time::timeout(Duration::from_secs(5), slow.read(&mut chunk))
            .await
            .expect("replies keep coming")
            .unwrap();
        assert!(n > 0, "closed early");
        all.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(all.len(), want);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn dropping_runs_future_stops_the_server() {
    let server = TestServer::start(&["-t", "2"]).await;
    let mut c = server.connect().await;
    assert_eq!(ask(&mut c, b"version\r\n", b"\r\n").await.len(), 16);
    let addr = server.addr;
    server.task.abort();
    assert!(server.task.await.unwrap_err().is_cancelled());
    // The open connection is closed, and nothing listens any more.
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut rest))
        .await
        .expect("the connection is closed")
        .unwrap();
    assert!(rest.is_empty());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(addr).await.is_ok() {
        assert!(tokio::time::Instant::now() < deadline, "still accepting");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn shutdown_command_needs_dash_a() {
    let server = TestServer::start(&[]).await;
    let mut c = server.connect().await;
    assert_eq!(
        ask(&mut c, b"shutdown\r\n", b"\r\n").await,
        b"SERVER_ERROR: shutdown not enabled\r\n"
    );
    server.stop().await.unwrap();

    let server = TestServer::start(&["-A"]).await;
    let mut c = server.connect().await;
    c.write_all(b"shutdown\r\n").await.unwrap();
    let mut buf = Vec::new();
    c.read_to_end(&mut buf).await.unwrap();
    assert!(buf.is_empty());
    tokio::time::timeout(Duration::from_secs(5), server.task)
        .await
        .expect("server exits after shutdown")
        .unwrap()
        .unwrap();
}

/// The same for the meta and binary protocols, whose large values are now also kept in the
/// buffer they arrived in.
#[tokio::test]
async fn large_meta_and_binary_values_round_trip() {
    use ferrocache_protocol::binary::{encode_request, opcode};
    let server = TestServer::start(&[]).await;
    let value: Vec<u8> = (0..400_000u32).map(|i| (i % 253) as u8).collect();

    let mut c = server.connect().await;
    let mut req = format!("ms meta {} F9\r\n", value.len()).into_bytes();
    req.extend_from_slice(&value);
    req.extend_from_slice(b"\r\n");
    for piece in req.chunks(6007) {
        c.write_all(piece).await.unwrap();
    }
    assert_eq!(ask(&mut c, b"", b"\r\n").await, b"HD\r\n");
    let reply = ask(&mut c, b"mg meta v f\r\n", b"\r\n").await;
    let header = format!("VA {} f9\r\n", value.len()).into_bytes();
    assert!(reply.starts_with(&header));
    if reply.len() < header.len() + value.len() + 2 {
        let rest = header.len() + value.len() + 2 - reply.len();
        let mut more = reply;
        let mut tail = vec![0; rest];
        c.read_exact(&mut tail).await.unwrap();
        more.extend_from_slice(&tail);
        assert_eq!(&more[header.len()..header.len() + value.len()], &value[..]);
    } else {
        assert_eq!(&reply[header.len()..header.len() + value.len()], &value[..]);
    }

    let mut c = server.connect().await;
    let extras = [0, 0, 0, 5, 0, 0, 0, 0];
    let req = encode_request(opcode::SET, 1, 0, &extras, b"bin", &value);
    for piece in req.chunks(6007) {
        c.write_all(piece).await.unwrap();
    }
    let mut head = [0u8; 24];
    c.read_exact(&mut head).await.unwrap();
    assert_eq!(
        (head[0], head[1], &head[6..8]),
        (0x81, opcode::SET, &[0, 0][..])
    );
    c.write_all(&encode_request(opcode::GET, 2, 0, &[], b"bin", &[]))
        .await
        .unwrap();
    c.read_exact(&mut head).await.unwrap();
    assert_eq!((head[1], &head[6..8]), (opcode::GET, &[0, 0][..]));
    let body = u32::from_be_bytes(head[8..12].try_into().unwrap()) as usize;
    assert_eq!(body, 4 + value.len());
    let mut got = vec![0; body];
    c.read_exact(&mut got).await.unwrap();
    assert_eq!(&got[..4], &[0, 0, 0, 5]);
    assert_eq!(&got[4..], &value[..]);
    server.stop().await.unwrap();
}

#[tokio::test]
async fn large_value_round_trips_through_its_own_buffer() {
    let server = TestServer::start(&[]).await;
    let mut c = server.connect().await;
    let value: Vec<u8> = (0..500_000u32).map(|i| (i % 251) as u8).collect();
    let mut req = format!("set big 7 0 {}\r\n", value.len()).into_bytes();
    req.extend_from_slice(&value);
    req.extend_from_slice(b"\r\n");
    // Send it in uneven pieces.
    for piece in req.chunks(7919) {
        c.write_all(piece).await.unwrap();
    }
    assert_eq!(ask(&mut c, b"", b"\r\n").await, b"STORED\r\n");
    let reply = ask(&mut c, b"get big\r\n", b"END\r\n").await;
    let header = format!("VALUE big 7 {}\r\n", value.len()).into_bytes();
    assert!(reply.starts_with(&header));
    assert_eq!(&reply[header.len()..header.len() + value.len()], &value[..]);
    server.stop().await.unwrap();
}

/// `-o debug_clock` answers memcached's debug-build `debugtime`, which memcached's own test
/// suite uses to expire items without sleeping. Without the switch the command does not exist
/// (a transcript checks that memcached's release build answers `ERROR` the same way).
#[tokio::test]
async fn debugtime_moves_the_clock_only_with_the_switch() {
    let server = TestServer::start(&["-o", "debug_clock"]).await;
    let mut c = server.connect().await;
    assert_eq!(
        ask(&mut c, b"set k 0 10 1\r\nv\r\n", b"\r\n").await,
        b"STORED\r\n"
    );
    assert_eq!(ask(&mut c, b"mg k t\r\n", b"\r\n").await, b"HD t10\r\n");
    assert_eq!(ask(&mut c, b"debugtime 4\r\n", b"\r\n").await, b"OK\r\n");
    assert_eq!(ask(&mut c, b"mg k t\r\n", b"\r\n").await, b"HD t6\r\n");
    assert_eq!(ask(&mut c, b"debugtime p\r\n", b"\r\n").await, b"OK\r\n");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        ask(&mut c, b"mg k t\r\n", b"\r\n").await,
        b"HD t6\r\n",
        "paused"
    );
    assert_eq!(ask(&mut c, b"debugtime 7\r\n", b"\r\n").await, b"OK\r\n");
    assert_eq!(
        ask(&mut c, b"get k\r\n", b"END\r\n").await,
        b"END\r\n",
        "expired"
    );
    assert_eq!(ask(&mut c, b"debugtime r\r\n", b"\r\n").await, b"OK\r\n");
    assert_eq!(ask(&mut c, b"debugtime x\r\n", b"\r\n").await, b"ERROR\r\n");
    drop(c);
    server.stop().await.unwrap();

    let server = TestServer::start(&[]).await;
    let mut c = server.connect().await;
    assert_eq!(ask(&mut c, b"debugtime 4\r\n", b"\r\n").await, b"ERROR\r\n");
    drop(c);
    server.stop().await.unwrap();
}
