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
