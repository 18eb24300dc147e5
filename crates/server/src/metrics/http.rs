//! A small HTTP/1.x responder for `/metrics`: one request per connection, answered and
//! closed (`Connection: close`; Prometheus opens a connection per scrape then).
//!
//! ```text
//! GET /metrics HTTP/1.1        ->  200, text/plain; version=0.0.4, the metrics
//! HEAD /metrics HTTP/1.1       ->  200, the same headers, no body
//! GET /other HTTP/1.1          ->  404
//! POST /metrics HTTP/1.1       ->  405 (Allow: GET, HEAD)
//! a head over 8 KiB            ->  431
//! anything else                ->  400
//! ```
//!
//! Why it cannot hurt the cache: it runs on the main thread's runtime, never on the workers
//! that serve cache connections; a connection gets [`DEADLINE`] for the whole exchange and
//! [`MAX_HEAD`] bytes of request head, and at most [`MAX_CONNS`] are served at once (more are
//! closed as soon as they are accepted), so a slow or hostile client holds at most
//! `MAX_CONNS` small buffers and tasks, and only for a while.

use crate::Shared;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The longest request head read (request line and headers).
pub(super) const MAX_HEAD: usize = 8 * 1024;
/// How long one connection may take, from accept to the last byte of the response.
pub(super) const DEADLINE: Duration = Duration::from_secs(10);
/// Connections served at once.
pub(super) const MAX_CONNS: usize = 16;

/// The `Content-Type` of the text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

pub(super) async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let slots = Arc::new(Semaphore::new(MAX_CONNS));
    loop {
        let accepted = tokio::select! {
            _ = shared.stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, say: wait rather than spin.
                tracing::warn!("metrics listener: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tracing::debug!("metrics listener: {MAX_CONNS} connections already; closing one");
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let stop = shared.stop.clone();
            tokio::select! {
                _ = stop.cancelled() => {}
                _ = connection(stream, || super::scrape(&shared)) => {}
            }
        });
    }
}

/// One connection: its exchange, cut off at [`DEADLINE`] however far it got.
async fn connection<S>(stream: S, body: impl FnOnce() -> String)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let _ = tokio::time::timeout(DEADLINE, exchange(stream, body)).await;
}

/// Reads one request head, answers it, closes.
async fn exchange<S>(mut stream: S, body: impl FnOnce() -> String) -> std::io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(end) = head_end(&head) {
            break end;
        }
        if head.len() >= MAX_HEAD {
            let reply = response(
                431,
                "Request Header Fields Too Large",
                "text/plain",
                b"",
                true,
            );
            return stream.write_all(&reply).await;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&chunk[..n]);
    };
    let reply = respond(&head[..end], body);
    stream.write_all(&reply).await?;
    stream.shutdown().await
}

/// Where the head ends (after its blank line), if it has.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4);
    let lf = buf.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The response to a request head; `body` makes the metrics.
pub(super) fn respond(head: &[u8], body: impl FnOnce() -> String) -> Vec<u8> {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let [method, target, version] = parts[..] else {
        return response(400, "Bad Request", "text/plain", b"400 Bad Request\n", true);
    };
    if version != b"HTTP/1.1" && version != b"HTTP/1.0" {
        return response(400, "Bad Request", "text/plain", b"400 Bad Request\n", true);
    }
    let with_body = match method {
        b"GET" => true,
        b"HEAD" => false,
        _ => {
            let mut r = response(
                405,
                "Method Not Allowed",
                "text/plain",
                b"405 method not allowed\n",
                true,
            );
            // The Allow header goes with the others, before the blank line.
            let at = r.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(0) + 2;
            r.splice(at..at, b"Allow: GET, HEAD\r\n".iter().copied());
            return r;
        }
    };
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    if path != b"/metrics" {
        return response(
            404,
            "Not Found",
            "text/plain",
            b"404 page not found\n",
            with_body,
        );
    }
    response(200, "OK", CONTENT_TYPE, body().as_bytes(), with_body)
}

fn response(code: u16, reason: &str, content_type: &str, body: &[u8], with_body: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn text(head: &str) -> String {
        String::from_utf8(respond(head.as_bytes(), || "m 1\n".to_string())).unwrap()
    }

    #[test]
    fn get_metrics_answers_the_exposition() {
        assert_eq!(
            text("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n\
             Content-Length: 4\r\nConnection: close\r\n\r\nm 1\n"
        );
        assert!(text("GET /metrics?x=1 HTTP/1.0\n\n").ends_with("\r\n\r\nm 1\n"));
    }

    #[test]
    fn head_has_the_headers_and_no_body() {
        let r = text("HEAD /metrics HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("Content-Length: 4\r\n"));
        assert!(r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn other_paths_methods_and_garbage() {
        assert!(text("GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(text("GET /metricsx HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
        let post = text("POST /metrics HTTP/1.1\r\n\r\n");
        assert!(
            post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
            "{post}"
        );
        assert!(post.contains("\r\nAllow: GET, HEAD\r\n"), "{post}");
        assert!(post.ends_with("\r\n\r\n405 method not allowed\n"), "{post}");
        for bad in [
            "\r\n\r\n",
            "GET /metrics\r\n\r\n",
            "GET /metrics HTTP/2.0\r\n\r\n",
            "GET  /metrics HTTP/1.1\r\n\r\n",
            "\u{0}\u{1}\u{2}\n\n",
        ] {
            assert!(
                text(bad).starts_with("HTTP/1.1 400 Bad Request\r\n"),
                "{bad:?}"
            );
        }
    }

    /// Runs [`connection`] against `client`, on paused time: how long it took.
    async fn timed(
        server: tokio::io::DuplexStream,
        body: impl FnOnce() -> String,
    ) -> std::time::Duration {
        let t0 = tokio::time::Instant::now();
        connection(server, body).await;
        t0.elapsed()
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_sends_nothing_is_dropped_at_the_deadline() {
        let (_client, server) = tokio::io::duplex(1024);
        let took = timed(server, || unreachable!("no request")).await;
        assert!(
            took >= DEADLINE && took < DEADLINE + Duration::from_secs(1),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_nothing_is_dropped_at_the_deadline() {
        let (mut client, server) = tokio::io::duplex(1024);
        client
            .write_all(b"GET /metrics HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        // A reply far bigger than the pipe, which the client never reads.
        let took = timed(server, || "x".repeat(1 << 20)).await;
        assert!(
            took >= DEADLINE && took < DEADLINE + Duration::from_secs(1),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_sent_a_byte_at_a_time_is_answered_and_closed() {
        let (mut client, server) = tokio::io::duplex(1024);
        let task = tokio::spawn(timed(server, || "m 1\n".to_string()));
        for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" {
            client.write_all(&[*b]).await.unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(got.ends_with(b"\r\n\r\nm 1\n"));
        assert!(task.await.unwrap() < DEADLINE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_over_the_limit_gets_431() {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        client.write_all(&vec![b'a'; MAX_HEAD + 10]).await.unwrap();
        timed(server, || unreachable!("no request")).await;
        let mut got = Vec::new();
        client.read_to_end(&mut got).await.unwrap();
        assert!(got.starts_with(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"));
    }

    #[test]
    fn head_ends_at_the_first_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n\r\nxx"), Some(18));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    }
}
