//! One text-protocol connection: request encoding into a send buffer and reply decoding from
//! a receive buffer, so that any number of requests can be pipelined.

use crate::proto::{self, Protocol};
use crate::reply::{self, Reply};
use std::collections::HashMap;
use std::io::{Error, ErrorKind, Result};
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// `--tls-ca`: every connection speaks TLS, trusting that CA file (set once, by `main`).
pub static TLS: OnceLock<Arc<tokio_rustls::rustls::ClientConfig>> = OnceLock::new();

/// A client configuration trusting the CAs of a PEM file.
pub fn tls_config(ca: &std::path::Path) -> Result<Arc<tokio_rustls::rustls::ClientConfig>> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).map_err(Error::other)? {
        roots
            .add(cert.map_err(Error::other)?)
            .map_err(Error::other)?;
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth(),
    ))
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

pub struct Conn {
    stream: Box<dyn Io>,
    /// The TCP socket under `stream` (TLS or not), for [`Conn::reset`].
    fd: std::os::fd::RawFd,
    rbuf: Vec<u8>,
    /// Start of the unparsed part of `rbuf`.
    pos: usize,
    /// How replies are parsed (requests are encoded by the caller).
    pub protocol: Protocol,
}

impl Conn {
    pub async fn connect(addr: &str) -> Result<Conn> {
        Conn::connect_with(addr, Protocol::Text).await
    }

    pub async fn connect_with(addr: &str, protocol: Protocol) -> Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| Error::new(e.kind(), format!("connecting to {addr}: {e}")))?;
        stream.set_nodelay(true)?;
        let fd = std::os::fd::AsRawFd::as_raw_fd(&stream);
        let stream: Box<dyn Io> = match TLS.get() {
            None => Box::new(stream),
            Some(config) => {
                let name = tokio_rustls::rustls::pki_types::ServerName::try_from("localhost")
                    .expect("a DNS name");
                Box::new(
                    tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name, stream)
                        .await?,
                )
            }
        };
        Ok(Conn {
            stream,
            fd,
            rbuf: Vec::with_capacity(64 * 1024),
            pos: 0,
            protocol,
        })
    }

    pub async fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).await?;
        // TLS holds what it could not write yet until flushed (a no-op for TCP).
        self.stream.flush().await
    }

    /// A reply already in the receive buffer, without reading.
    pub fn buffered(&mut self) -> Result<Option<Reply>> {
        self.buffered_for(false)
    }

    /// Same, for a request that was a multiget (meta: quiet `mg`s ended by `mn`).
    pub fn buffered_for(&mut self, multi: bool) -> Result<Option<Reply>> {
        let buf = &self.rbuf[self.pos..];
        let parsed = match self.protocol {
            Protocol::Text => reply::parse(buf)?,
            Protocol::Binary => proto::parse_binary(buf)?,
            Protocol::Meta => proto::parse_meta(buf, multi)?,
        };
        match parsed {
            Some((reply, used)) => {
                self.pos += used;
                Ok(Some(reply))
            }
            None => Ok(None),
        }
    }

    /// The next reply, reading as much as needed.
    pub async fn recv(&mut self) -> Result<Reply> {
        self.recv_for(false).await
    }

    /// The next reply to a request that was (`multi`) or was not a multiget.
    pub async fn recv_for(&mut self, multi: bool) -> Result<Reply> {
        loop {
            if let Some(reply) = self.buffered_for(multi)? {
                return Ok(reply);
            }
            self.read_more().await?;
        }
    }

    /// The next reply, and the bytes it came in (to look inside values).
    pub async fn recv_raw(&mut self) -> Result<(Reply, &[u8])> {
        loop {
            let start = self.pos;
            if let Some(reply) = self.buffered_for(false)? {
                return Ok((reply, &self.rbuf[start..self.pos]));
            }
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> Result<()> {
        // Keep the unparsed tail at the front so the buffer does not grow without end.
        if self.pos > 0 {
            self.rbuf.drain(..self.pos);
            self.pos = 0;
        }
        self.rbuf.reserve(64 * 1024);
        if self.stream.read_buf(&mut self.rbuf).await? == 0 {
            return Err(Error::new(
                ErrorKind::UnexpectedEof,
                "server closed the connection",
            ));
        }
        Ok(())
    }

    /// Closes the connection with a reset (SO_LINGER 0), as the kernel closes the socket of a
    /// killed client that left bytes unread.
    pub fn reset(self) {
        let linger = libc::linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: `fd` is the socket `self.stream` owns, open until `self` drops below; the
        // option value is a `linger` of the size given.
        unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_LINGER,
                std::ptr::from_ref(&linger).cast(),
                std::mem::size_of::<libc::linger>() as libc::socklen_t,
            );
        }
    }

    /// Sends one command line (with its `\r\n`) and returns the reply.
    pub async fn command(&mut self, line: &str) -> Result<Reply> {
        self.send(line.as_bytes()).await?;
        self.recv().await
    }

    pub async fn stats(&mut self) -> Result<HashMap<String, String>> {
        match self.command("stats\r\n").await? {
            Reply::Stats(list) => Ok(list.into_iter().collect()),
            Reply::Values { hits: 0, .. } => Ok(HashMap::new()),
            other => Err(Error::new(
                ErrorKind::InvalidData,
                format!("stats answered {other:?}"),
            )),
        }
    }
}

/// A numeric stat, 0 when absent.
pub fn stat_u64(stats: &HashMap<String, String>, name: &str) -> u64 {
    stats.get(name).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn push_key(out: &mut Vec<u8>, prefix: &[u8], n: u64) {
    out.extend_from_slice(prefix);
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// Appends `set <prefix><n> 0 <exptime> <len>\r\n<value>\r\n`.
pub fn push_set(out: &mut Vec<u8>, prefix: &[u8], n: u64, exptime: u32, value: &[u8]) {
    out.extend_from_slice(b"set ");
    push_key(out, prefix, n);
    out.extend_from_slice(b" 0 ");
    out.extend_from_slice(itoa::Buffer::new().format(exptime).as_bytes());
    out.push(b' ');
    out.extend_from_slice(itoa::Buffer::new().format(value.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends `get <prefix><n1> <prefix><n2> ...\r\n`.
pub fn push_get(out: &mut Vec<u8>, prefix: &[u8], keys: impl IntoIterator<Item = u64>) {
    out.extend_from_slice(b"get");
    for n in keys {
        out.push(b' ');
        push_key(out, prefix, n);
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_requests() {
        let mut out = Vec::new();
        push_set(&mut out, b"key:", 17, 2, b"abc");
        push_get(&mut out, b"key:", [1, 20]);
        assert_eq!(out, b"set key:17 0 2 3\r\nabc\r\nget key:1 key:20\r\n");
    }
}
