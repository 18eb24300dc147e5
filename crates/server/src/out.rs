//! A connection's pending output: small pieces are copied into one buffer, large values are
//! queued by reference (the store's own allocation, wrapped as `Bytes`) and written with
//! vectored writes, so a large value read from the store is never copied on its way to the
//! socket.

use crate::bufpool;
use bytes::{Buf, Bytes, BytesMut};
use ferrocache_storage::Value;
use std::collections::VecDeque;
use std::io::IoSlice;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// Values at least this long are queued by reference instead of copied.
const SHARE_THRESHOLD: usize = 1024;
/// At most this many slices go into one `writev`.
const MAX_IOVECS: usize = 64;

#[derive(Default)]
pub struct Output {
    /// Frozen pieces, in order, ahead of `tail`.
    queue: VecDeque<Bytes>,
    /// Small pieces written since the last large one.
    tail: BytesMut,
    len: usize,
    /// Offsets (into the pending output) where memcached starts a new response object within
    /// one request's reply: between the keys of a multi-key get. Only UDP needs them (it
    /// frames each response object apart), so they are kept only once
    /// [`Output::keep_boundaries`] asks for them.
    /// Boxed: every connection's future holds an `Output`, and only UDP's use this.
    #[allow(clippy::box_collection)] // one word, not three, in every connection's future
    boundaries: Option<Box<Vec<usize>>>,
}

/// For `stats` (`response_obj_*`), an output holds a write buffer while its tail has room:
/// counted when it borrows one, uncounted when the tail gives it back, fills it whole, or
/// goes (no field of its own: every connection's future holds an `Output`).
impl Drop for Output {
    fn drop(&mut self) {
        if self.tail.capacity() > 0 {
            bufpool::WRITE.lend(-1);
        }
    }
}

impl Output {
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Records the offsets [`Output::boundary`] marks from now on.
    pub fn keep_boundaries(&mut self) {
        self.boundaries.get_or_insert_with(Box::default);
    }

    /// Here one of memcached's response objects ends and the next begins. Recorded only
    /// after [`Output::keep_boundaries`]; a no-op otherwise.
    pub fn boundary(&mut self) {
        if let Some(marks) = &mut self.boundaries {
            marks.push(self.len);
        }
    }

    /// Is this very allocation queued by reference (not a copy of it)?
    #[cfg(test)]
    pub fn shares(&self, bytes: &[u8]) -> bool {
        self.queue
            .iter()
            .any(|piece| piece.as_ptr() == bytes.as_ptr())
    }

    pub fn extend(&mut self, bytes: &[u8]) {
        self.borrow_buffer();
        self.tail.extend_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Lets `write` append to the pending output in place, with no buffer of its own.
    pub fn put_with(&mut self, write: impl FnOnce(&mut BytesMut)) {
        self.borrow_buffer();
        let before = self.tail.len();
        write(&mut self.tail);
        self.len += self.tail.len() - before;
    }

    /// Moves everything pending to the end of `dst` (copying it), and the boundaries marked
    /// since the last drain to `marks`, as offsets into `dst`.
    pub fn drain_into(&mut self, dst: &mut Vec<u8>, marks: &mut Vec<usize>) {
        let base = dst.len();
        dst.reserve(self.len);
        for piece in self.queue.drain(..) {
            dst.extend_from_slice(&piece);
        }
        dst.extend_from_slice(&self.tail);
        self.tail.clear();
        self.len = 0;
        if let Some(own) = &mut self.boundaries {
            marks.extend(own.drain(..).map(|at| base + at));
        }
    }

    /// Between replies the output holds no buffer: the first piece of a reply borrows one
    /// from the thread's pool (see `bufpool`).
    fn borrow_buffer(&mut self) {
        if self.tail.capacity() == 0 {
            self.tail = bufpool::WRITE.take();
            bufpool::WRITE.lend(1);
        }
    }

    /// Gives the buffers back once everything is written, so that a connection waiting for
    /// its next request holds none.
    pub fn release(&mut self) {
        if self.len == 0 {
            if self.tail.capacity() > 0 {
                bufpool::WRITE.lend(-1);
            }
            bufpool::WRITE.give(std::mem::take(&mut self.tail));
            if self.queue.capacity() > 0 {
                self.queue = VecDeque::new();
            }
        }
    }

    /// Queues a value: copied when small, shared when large.
    pub fn value(&mut self, value: &Value) {
        if value.len() < SHARE_THRESHOLD {
            self.extend(value);
            return;
        }
        if !self.tail.is_empty() {
            self.queue.push_back(self.tail.split().freeze());
            if self.tail.capacity() == 0 {
                bufpool::WRITE.lend(-1);
            }
        }
        self.len += value.len();
        self.queue.push_back(Bytes::from_owner(value.clone()));
    }

    /// Writes everything out. Returns the number of bytes written.
    ///
    /// An `async` block rather than an `async fn`, which would keep a second copy of its
    /// arguments: every connection's future holds room for this one.
    #[allow(clippy::manual_async_fn)]
    pub fn flush<'a, W: AsyncWrite + Unpin>(
        &'a mut self,
        w: &'a mut W,
    ) -> impl std::future::Future<Output = std::io::Result<usize>> + 'a {
        let out = self;
        async move {
            if out.queue.is_empty() {
                // Small pieces only (most replies): written from the buffer they were put in,
                // which stays this connection's own, to be reused or given back whole.
                let mut done = 0;
                while done < out.tail.len() {
                    let n = w.write(&out.tail[done..]).await?;
                    if n == 0 {
                        return Err(std::io::ErrorKind::WriteZero.into());
                    }
                    done += n;
                }
                out.tail.clear();
                return out.flushed(w).await;
            }
            if !out.tail.is_empty() {
                out.queue.push_back(out.tail.split().freeze());
            }
            while !out.queue.is_empty() {
                let queue = &out.queue;
                let mut n = std::future::poll_fn(|cx| {
                    // On the stack: a heap-allocated list would cost a malloc and a free for
                    // every reply. Built afresh on each poll, inside it, so that the list is not
                    // part of the connection's future, which every connection, idle or not,
                    // keeps allocated (1 KiB of slices).
                    let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                    let mut count = 0;
                    for (slot, piece) in slices.iter_mut().zip(queue) {
                        *slot = IoSlice::new(piece);
                        count += 1;
                    }
                    std::pin::Pin::new(&mut *w).poll_write_vectored(cx, &slices[..count])
                })
                .await?;
                if n == 0 {
                    return Err(std::io::ErrorKind::WriteZero.into());
                }
                while n > 0 {
                    let front = out.queue.front_mut().expect("written bytes were queued");
                    if n >= front.len() {
                        n -= front.len();
                        out.queue.pop_front();
                    } else {
                        front.advance(n);
                        n = 0;
                    }
                }
            }
            out.flushed(w).await
        }
    }

    /// Everything is written: flushes `w` and returns how much was.
    async fn flushed<W: AsyncWrite + Unpin>(&mut self, w: &mut W) -> std::io::Result<usize> {
        w.flush().await?;
        let total = std::mem::take(&mut self.len);
        if let Some(marks) = &mut self.boundaries {
            marks.clear();
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_order_across_shared_and_copied_pieces() {
        let mut out = Output::default();
        let big = Value::from(vec![b'x'; 5000]);
        out.extend(b"VALUE k 0 5000\r\n");
        out.value(&big);
        out.extend(b"\r\nEND\r\n");
        assert_eq!(out.len(), 16 + 5000 + 7);
        let mut sink = Vec::new();
        let n = out.flush(&mut sink).await.unwrap();
        assert_eq!(n, sink.len());
        assert!(sink.starts_with(b"VALUE k 0 5000\r\nxxx"));
        assert!(sink.ends_with(b"xxx\r\nEND\r\n"));
        assert!(out.is_empty());
    }

    #[tokio::test]
    async fn put_with_counts_what_it_wrote() {
        let mut out = Output::default();
        out.extend(b"A ");
        out.put_with(|tail| tail.extend_from_slice(b"written in place"));
        out.put_with(|_| {});
        assert_eq!(out.len(), 18);
        let mut sink = Vec::new();
        assert_eq!(out.flush(&mut sink).await.unwrap(), 18);
        assert_eq!(sink, b"A written in place");
    }

    #[tokio::test]
    async fn more_pieces_than_one_writev_takes() {
        // Alternate shared (large) and copied (small) pieces: far more than MAX_IOVECS
        // slices, which flush must write over several calls, in order.
        let mut out = Output::default();
        let mut want = Vec::new();
        for i in 0..(MAX_IOVECS as u8 + 10) {
            let big = Value::from(vec![i; SHARE_THRESHOLD]);
            out.extend(&[b'<', i]);
            out.value(&big);
            want.extend_from_slice(&[b'<', i]);
            want.extend_from_slice(&big);
        }
        let mut sink = Vec::new();
        assert_eq!(out.flush(&mut sink).await.unwrap(), want.len());
        assert_eq!(sink, want);
    }
}
