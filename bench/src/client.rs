//! A minimal text-protocol client for the benchmarks: pipelined sets, gets, stats.

use std::collections::HashMap;
use std::io::{Error, ErrorKind, Result};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Conn {
    reader: BufReader<tokio::net::tcp::OwnedReadHalf>,
    writer: tokio::net::tcp::OwnedWriteHalf,
    line: Vec<u8>,
}

fn protocol_error(what: &str, line: &[u8]) -> Error {
    Error::new(
        ErrorKind::InvalidData,
        format!("{what}: {:?}", String::from_utf8_lossy(line)),
    )
}

impl Conn {
    pub async fn connect(addr: &str) -> Result<Conn> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (r, w) = stream.into_split();
        Ok(Conn {
            reader: BufReader::with_capacity(64 * 1024, r),
            writer: w,
            line: Vec::new(),
        })
    }

    async fn read_line(&mut self) -> Result<&[u8]> {
        self.line.clear();
        let n = self.reader.read_until(b'\n', &mut self.line).await?;
        if n == 0 {
            return Err(Error::new(ErrorKind::UnexpectedEof, "server closed"));
        }
        Ok(&self.line)
    }

    /// Sets `<prefix>:<i>` for every i in `range`, pipelined, and checks every reply.
    pub async fn set_batch(
        &mut self,
        prefix: &str,
        range: std::ops::Range<usize>,
        value: &[u8],
        exptime: u32,
    ) -> Result<()> {
        let mut out = Vec::with_capacity(range.len() * (value.len() + 40));
        let count = range.len();
        for i in range {
            out.extend_from_slice(
                format!("set {prefix}:{i} 0 {exptime} {}\r\n", value.len()).as_bytes(),
            );
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        self.writer.write_all(&out).await?;
        for _ in 0..count {
            let line = self.read_line().await?;
            if line != b"STORED\r\n" {
                return Err(protocol_error("set", line));
            }
        }
        Ok(())
    }

    /// `get` of one key; returns whether it hit.
    pub async fn get(&mut self, key: &str) -> Result<bool> {
        self.writer
            .write_all(format!("get {key}\r\n").as_bytes())
            .await?;
        Ok(self.read_values().await? == 1)
    }

    /// `get` of many keys; returns the number of hits.
    pub async fn get_many(&mut self, keys: &[String]) -> Result<usize> {
        self.writer
            .write_all(format!("get {}\r\n", keys.join(" ")).as_bytes())
            .await?;
        self.read_values().await
    }

    async fn read_values(&mut self) -> Result<usize> {
        let mut hits = 0;
        loop {
            let line = self.read_line().await?;
            if line == b"END\r\n" {
                return Ok(hits);
            }
            let text = String::from_utf8_lossy(line).to_string();
            let mut parts = text.split_whitespace();
            if parts.next() != Some("VALUE") {
                return Err(protocol_error("get", line));
            }
            let len: usize = parts
                .nth(2)
                .and_then(|l| l.parse().ok())
                .ok_or_else(|| protocol_error("get length", text.as_bytes()))?;
            let mut data = vec![0u8; len + 2];
            self.reader.read_exact(&mut data).await?;
            hits += 1;
        }
    }

    /// Sends a one-line command and returns its one-line reply.
    pub async fn command(&mut self, cmd: &str) -> Result<String> {
        self.writer.write_all(cmd.as_bytes()).await?;
        Ok(String::from_utf8_lossy(self.read_line().await?)
            .trim_end()
            .to_string())
    }

    pub async fn stats(&mut self) -> Result<HashMap<String, String>> {
        self.writer.write_all(b"stats\r\n").await?;
        let mut stats = HashMap::new();
        loop {
            let line = String::from_utf8_lossy(self.read_line().await?).to_string();
            let line = line.trim_end();
            if line == "END" {
                return Ok(stats);
            }
            let mut parts = line.splitn(3, ' ');
            if parts.next() != Some("STAT") {
                return Err(protocol_error("stats", line.as_bytes()));
            }
            if let (Some(k), Some(v)) = (parts.next(), parts.next()) {
                stats.insert(k.to_string(), v.to_string());
            }
        }
    }
}
