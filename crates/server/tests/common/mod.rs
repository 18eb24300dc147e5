//! The server the integration tests start in-process: `ferrocache_server::run` on a free
//! loopback port with the flags a test gives, stopped through its shutdown future.

// Each test file uses its own part of this.
#![allow(dead_code)]

use ferrocache_server::{listen, Config};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 with memcached-style `args` added to `-p -1`.
    pub async fn start(args: &[&str]) -> TestServer {
        let mut argv = vec!["ferrocache", "-l", "127.0.0.1", "-p", "-1"];
        argv.extend_from_slice(args);
        let config = Config::parse_from(argv).expect("test flags parse");
        let listeners = listen::bind_all(&config).expect("bind");
        let addr = match &listeners[0] {
            listen::Listener::Tcp(l) => l.local_addr().unwrap(),
            _ => unreachable!("TCP is bound first"),
        };
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(ferrocache_server::run(
            listeners,
            Arc::new(config),
            async move {
                let _ = rx.await;
            },
        ));
        TestServer {
            addr,
            stop: Some(tx),
            task,
        }
    }

    pub async fn connect(&self) -> TcpStream {
        TcpStream::connect(self.addr).await.unwrap()
    }

    /// Stops the server; it must drain within 5 s. Returns what `run` returned.
    pub async fn stop(mut self) -> std::io::Result<()> {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("server drains within 5 s")
            .unwrap()
    }
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends `req` and reads until the reply ends with `until`, each read within `within`.
pub async fn ask(conn: &mut TcpStream, req: &[u8], until: &[u8], within: Duration) -> Vec<u8> {
    use tokio::io::AsyncWriteExt;
    conn.write_all(req).await.unwrap();
    read_until(conn, until, within).await
}

/// Reads until what came ends with `until`, each read within `within`; the connection
/// must stay open until then.
pub async fn read_until(conn: &mut TcpStream, until: &[u8], within: Duration) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let mut got = Vec::new();
    let mut chunk = vec![0u8; 64 * 1024];
    while !got.ends_with(until) {
        let n = tokio::time::timeout(within, conn.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("no {until:?} within {within:?}"))
            .unwrap();
        assert!(
            n > 0,
            "closed early after {} bytes: {:?}",
            got.len(),
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&chunk[..n]);
    }
    got
}
