//! A connection's protocol work with no socket, for the request-path benchmark
//! (`cargo bench -p ferrocache-server --bench request_path`).
//!
//! [`Conn::read`] does what `conn::serve` does for one read of a plain TCP connection:
//! borrow a read buffer, append the bytes read, run the session, take the replies as a write
//! would, and give the buffers back when nothing is left. Everything a request costs in user
//! space is here but the system calls and tokio's scheduling, so the benchmark measures the
//! part of the CPU per request that ferrocache's own code decides.
//!
//! ```
//! let server = ferrocache_server::replay::Server::new(&["-m", "64"]).unwrap();
//! let mut conn = server.conn();
//! let mut out = Vec::new();
//! conn.read(b"set k 0 0 2\r\nhi\r\nget k\r\n", &mut out);
//! assert_eq!(out, b"STORED\r\nVALUE k 0 2\r\nhi\r\nEND\r\n");
//! ```

use crate::config::{Config, ConfigError, Protocol};
use crate::session::Session;
use crate::{Counters, Shared};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

/// A server's shared state (the store, the counters, the settings) without listeners.
pub struct Server {
    shared: Shared,
    last_cmd: AtomicU64,
}

impl Server {
    /// A server started with these command-line flags (after the program name).
    pub fn new(args: &[&str]) -> Result<Server, ConfigError> {
        let config = Config::parse_from(std::iter::once("ferrocache").chain(args.iter().copied()))?;
        Ok(Server {
            shared: Shared::new(Arc::new(config), None, None, 0),
            last_cmd: AtomicU64::new(0),
        })
    }

    /// A new connection, its protocol picked from its first byte (memcached's `-B auto`).
    pub fn conn(&self) -> Conn<'_> {
        Conn {
            session: Session::new(&self.shared, -1, &self.last_cmd, Protocol::Auto),
            marks: Vec::new(),
        }
    }
}

/// One connection of a [`Server`].
pub struct Conn<'a> {
    session: Session<'a>,
    /// UDP's reply boundaries, never kept here (see `Output::drain_into`).
    marks: Vec<usize>,
}

impl Conn<'_> {
    /// One read that brought `bytes`: runs every complete request and appends the replies
    /// to `out`. Returns false once the connection asked to close (`quit`, a fatal error).
    pub fn read(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> bool {
        let session = &mut self.session;
        let shared = session.ctx.shared;
        if session.buf.is_empty() {
            session.release_buffer();
            session.ctx.out.release();
        }
        session.make_room();
        session.buf.extend_from_slice(bytes);
        Counters::add(&shared.counters.mine().bytes_read, bytes.len() as u64);
        loop {
            let pass = session.run();
            if session.replies_ready() {
                session.count_replies();
                let before = out.len();
                session.ctx.out.drain_into(out, &mut self.marks);
                session.replies_written();
                Counters::add(
                    &shared.counters.mine().bytes_written,
                    (out.len() - before) as u64,
                );
            }
            if pass.close {
                return false;
            }
            if !pass.yielded {
                break;
            }
            session.make_room();
        }
        true
    }
}
