//! The LRU crawler in a running server: the background reclaim after `flush_all`, and
//! `lru_crawler metadump`/`mgdump` streamed to clients (a slow one, one that leaves, one
//! that pipelines). The replies themselves are checked against memcached in
//! `protocol-tests/transcripts/lru_crawler.t`.

use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

mod common;
use common::TestServer;

/// Sends `req` and reads until the reply ends with `until` (each read within 10 s).
async fn ask(conn: &mut TcpStream, req: &[u8], until: &[u8]) -> Vec<u8> {
    common::ask(conn, req, until, Duration::from_secs(10)).await
}

/// A `stats` figure.
async fn stat(conn: &mut TcpStream, name: &str) -> u64 {
    let reply = ask(conn, b"stats\r\n", b"END\r\n").await;
    let text = String::from_utf8(reply).unwrap();
    let prefix = format!("STAT {name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .parse()
        .unwrap()
}

/// Stores `n` items `key:<i>` with 10-byte values, pipelined.
async fn fill(conn: &mut TcpStream, n: usize) {
    let mut req = Vec::new();
    for i in 0..n {
        req.extend_from_slice(format!("set key:{i} 0 0 10 noreply\r\n0123456789\r\n").as_bytes());
    }
    req.extend_from_slice(b"mn\r\n");
    ask(conn, &req, b"MN\r\n").await;
}

/// memcached's maintainer empties `curr_items` within about a second of a `flush_all`
/// (5,000 items: at once); so does the crawler's background reclaim, with no read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flush_of_5000_items_is_reclaimed_within_2_seconds() {
    let server = TestServer::start(&[]).await;
    let mut conn = server.connect().await;
    fill(&mut conn, 5_000).await;
    assert_eq!(stat(&mut conn, "curr_items").await, 5_000);
    // Older than the flush's second and the one before, which the flush unlinks itself.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    ask(&mut conn, b"flush_all\r\n", b"OK\r\n").await;
    let flushed = Instant::now();
    while stat(&mut conn, "curr_items").await != 0 {
        assert!(flushed.elapsed() < Duration::from_secs(2), "not reclaimed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(stat(&mut conn, "reclaimed").await, 5_000);
    assert_eq!(stat(&mut conn, "expired_unfetched").await, 5_000);
    assert_eq!(stat(&mut conn, "get_flushed").await, 0);
    server.stop().await.unwrap();
}

/// A dump to a client that reads slowly: the listing comes whole and in order of lines, the
/// other connections are served meanwhile (and another dump is told BUSY), and once it is
/// done the next one may start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dump_to_a_slow_reader_holds_up_nothing_else() {
    let server = TestServer::start(&["-m", "256"]).await;
    let mut other = server.connect().await;
    let n = 100_000;
    fill(&mut other, n).await;
    let mut slow = server.connect().await;
    slow.write_all(b"lru_crawler metadump all\r\n")
        .await
        .unwrap();
    // Read a little, then nothing for a while.
    let mut first = vec![0u8; 4096];
    let got = slow.read(&mut first).await.unwrap();
    assert!(
        first[..got].starts_with(b"OK\r\nkey=key"),
        "{:?}",
        String::from_utf8_lossy(&first[..got.min(200)])
    );
    let mut received = first[..got].to_vec();
    let stalled = Instant::now();
    let mut slowest = Duration::ZERO;
    while stalled.elapsed() < Duration::from_millis(1_500) {
        let asked = Instant::now();
        ask(&mut other, b"set x 0 0 1\r\ny\r\nget key:7\r\n", b"END\r\n").await;
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(slowest < Duration::from_millis(500), "slowest {slowest:?}");
    assert_eq!(stat(&mut other, "lru_crawler_running").await, 1);
    assert_eq!(
        ask(&mut other, b"lru_crawler mgdump all\r\n", b"\r\n").await,
        b"BUSY currently processing crawler request\r\n"
    );
    // Now read the rest, a piece at a time.
    let mut chunk = vec![0u8; 16 * 1024];
    while !received.ends_with(b"END\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut chunk))
            .await
            .expect("the dump goes on")
            .unwrap();
        assert!(n > 0);
        received.extend_from_slice(&chunk[..n]);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let lines = received
        .split(|&b| b == b'\n')
        .filter(|l| l.starts_with(b"key="))
        .count();
    assert_eq!(lines, n + 1, "every item, and x");
    // The same connection goes on; the crawler is free again.
    let reply = ask(&mut slow, b"lru_crawler mgdump 2\r\n", b"EN\r\n").await;
    assert_eq!(reply, b"OK\r\nEN\r\n");
    assert_eq!(stat(&mut other, "lru_crawler_running").await, 0);
    server.stop().await.unwrap();
}

/// A client that leaves in the middle of a dump frees the crawler for the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_dump_frees_the_crawler() {
    let server = TestServer::start(&[]).await;
    let mut conn = server.connect().await;
    fill(&mut conn, 50_000).await;
    let mut leaving = server.connect().await;
    leaving
        .write_all(b"lru_crawler mgdump all\r\n")
        .await
        .unwrap();
    let mut some = [0u8; 100];
    leaving.read_exact(&mut some).await.unwrap();
    drop(leaving);
    let left = Instant::now();
    loop {
        let reply = ask(&mut conn, b"lru_crawler crawl all\r\n", b"\r\n").await;
        if reply == b"OK\r\n" {
            break;
        }
        assert_eq!(reply, b"BUSY currently processing crawler request\r\n");
        assert!(left.elapsed() < Duration::from_secs(5), "still busy");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server.stop().await.unwrap();
}

/// As memcached, a dump after other requests of the same read is refused ("ERROR cannot
/// pipeline other commands before mgdump"); the requests after a dump that starts a read
/// are answered after its listing.
#[tokio::test]
async fn a_dump_and_pipelined_requests() {
    let server = TestServer::start(&[]).await;
    let mut conn = server.connect().await;
    let reply = ask(
        &mut conn,
        b"set a 0 0 1\r\nx\r\nlru_crawler mgdump all\r\nlru_crawler metadump all\r\nmn\r\n",
        b"MN\r\n",
    )
    .await;
    assert_eq!(
        reply,
        b"STORED\r\nERROR cannot pipeline other commands before mgdump\r\n\
          ERROR cannot pipeline other commands before metadump\r\nMN\r\n"
    );
    let reply = ask(
        &mut conn,
        b"lru_crawler mgdump all\r\nget a\r\nlru_crawler mgdump 1\r\nmn\r\n",
        b"MN\r\n",
    )
    .await;
    assert_eq!(
        reply,
        b"OK\r\nmg a\r\nEN\r\nVALUE a 0 1\r\nx\r\nEND\r\n\
          ERROR cannot pipeline other commands before mgdump\r\nMN\r\n"
    );
    server.stop().await.unwrap();
}
