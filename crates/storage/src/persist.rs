//! The warm-restart file (`-e <file>`): the live items, written by [`Store::save`] when the
//! server stops gracefully and read back by [`Store::load`] when it starts.
//!
//! The format is ferrocache's own (memcached's `-e` keeps its slab memory in a mmapped file
//! and a `.meta` file beside it). Both directions stream: a save writes each item as moka's
//! iterator yields it, and a load links each item as it is read (one thread reads and checks,
//! up to four link, batches of 256 items in flight between them), so neither ever holds a
//! second copy of the cache.
//!
//! # Layout, version 1
//!
//! Integers are little-endian. Times are absolute unix seconds, so that the time the server
//! was down counts towards expiry.
//!
//! ```text
//! header (40 bytes)
//!   magic     8   "FERROCMF"
//!   version   u32 1
//!   saved_at  u64 unix time of the save
//!   cas       u64 the last CAS value handed out
//!   flush_at  u64 a pending delayed `flush_all`: memcached's oldest_live as unix time; 0 none
//!   crc       u32 CRC-32 (IEEE) of the 36 bytes above
//! item record, once per item
//!   tag       u8  1
//!   key_len   u8  1 to 250
//!   marks     u8  0x80 fetched, 0x02 stale, 0x04 win sent, 0x08 base64 key (see `Item`)
//!   flags     u32
//!   exptime   u64 unix time; 0 never
//!   time      u64 unix time of the last store (what `flush_all` and `mg l` read)
//!   cas       u64
//!   value_len u32
//!   key       key_len bytes
//!   value     value_len bytes
//!   crc       u32 CRC-32 of the record from its tag to its last value byte
//! end record
//!   tag       u8  2
//!   count     u64 number of item records
//!   crc       u32 CRC-32 of every byte of the file before this field
//! ```
//!
//! An item's value is linked only after its record's CRC matched, so a corrupt file never
//! serves a torn value. A file that ends before its end record, or whose end record
//! disagrees, is refused whole: [`Store::load`] then removes what it had linked, so the
//! server starts empty rather than with part of the cache.

use crate::item::{weight, Item};
use crate::key::{Key, Probe};
use crate::value::Value;
use crate::Store;
use crc32fast::Hasher;
use std::fmt;
use std::io::{self, Read, Write};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Mutex};

/// The first bytes of every file.
pub const MAGIC: [u8; 8] = *b"FERROCMF";
/// The version this build writes and the only one it reads.
pub const VERSION: u32 = 1;

const TAG_ITEM: u8 = 1;
const TAG_END: u8 = 2;
/// The fetched mark, which lives in the [`Value`] rather than in `Item::marks`.
const FETCHED: u8 = 0x80;
/// The marks that are saved; `Item::BALLAST` is not an item and is never saved.
const SAVED_MARKS: u8 = Item::STALE | Item::WIN_SENT | Item::BINARY_KEY;
/// The longest key a client can store.
const KEY_MAX: usize = 250;
const HEADER_LEN: usize = 40;
/// Threads that link a loading file's items, at most.
const LOAD_THREADS: usize = 4;
/// Items handed to a linking thread at a time.
const BATCH: usize = 256;
const RECORD_FIXED: usize = 35;

/// What [`Store::save`] wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SaveReport {
    pub items: u64,
    /// Bytes of the file.
    pub file_bytes: u64,
}

/// What [`Store::load`] did with a file it accepted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Items linked.
    pub loaded: u64,
    /// Items that expired, or were flushed by a delayed `flush_all`, while the server was
    /// down.
    pub expired: u64,
    /// Items larger than this server's `-I` (counted as memcached counts item sizes).
    pub too_large: u64,
    /// Items that did not fit in this server's `-m`.
    pub no_memory: u64,
    /// Unix time of the save.
    pub saved_at: u64,
}

/// Why [`Store::load`] refused a file. The store is empty afterwards.
#[derive(Debug)]
pub enum LoadError {
    /// Does not start with [`MAGIC`]: not a ferrocache memory file.
    Foreign,
    /// A ferrocache memory file of another version.
    Version(u32),
    /// Ends before its end record; `items` records were read.
    Truncated { items: u64 },
    /// A checksum or a field does not match, in the header or after `items` records.
    Corrupt { items: u64, what: &'static str },
    /// Reading failed.
    Io(io::Error),
}

impl LoadError {
    /// Is the file one of ours (so that removing it loses nothing)? A foreign file may be
    /// someone else's, and is left alone.
    pub fn is_ours(&self) -> bool {
        matches!(
            self,
            LoadError::Version(_) | LoadError::Truncated { .. } | LoadError::Corrupt { .. }
        )
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Foreign => write!(f, "not a ferrocache memory file (bad magic)"),
            LoadError::Version(v) => write!(
                f,
                "memory file version {v}, but this ferrocache reads version {VERSION} only"
            ),
            LoadError::Truncated { items } => {
                write!(f, "truncated memory file (it ends after {items} items)")
            }
            LoadError::Corrupt { items, what } => {
                write!(f, "corrupt memory file ({what}, after {items} items)")
            }
            LoadError::Io(e) => write!(f, "could not read the memory file: {e}"),
        }
    }
}

impl std::error::Error for LoadError {}

/// A writer that keeps the CRC of everything written through it.
struct CrcWriter<'a, W> {
    inner: &'a mut W,
    crc: Hasher,
    written: u64,
}

impl<W: Write> CrcWriter<'_, W> {
    fn put(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.crc.update(bytes);
        self.written += bytes.len() as u64;
        self.inner.write_all(bytes)
    }
}

/// A reader that keeps the CRC of everything read through it.
struct CrcReader<'a, R> {
    inner: &'a mut R,
    crc: Hasher,
}

impl<R: Read> CrcReader<'_, R> {
    /// Fills `buf`; `Ok(false)` if the file ended first.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<bool> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.crc.update(buf);
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

impl Store {
    /// Writes every live item (not expired, not flushed) to `out` in the format above, and
    /// returns how many. Items stored while it runs may or may not be in the file: the server
    /// calls it once every connection is closed.
    pub fn save(&self, out: &mut impl Write) -> io::Result<SaveReport> {
        // moka's logged writes and removals applied first, so the iterator sees them all.
        self.cache.run_pending_tasks();
        let now = self.now();
        let started = self.times.process_started;
        let abs = |rel: u32| started + u64::from(rel);
        let mut w = CrcWriter {
            inner: out,
            crc: Hasher::new(),
            written: 0,
        };
        let oldest_live = self.epoch.oldest_live.load(Ordering::Relaxed);
        // Only a flush still to come matters: one that has passed made its items dead, and
        // dead items are not saved.
        let flush_at = if oldest_live > now {
            abs(oldest_live)
        } else {
            0
        };
        let mut header = [0u8; HEADER_LEN];
        header[..8].copy_from_slice(&MAGIC);
        header[8..12].copy_from_slice(&VERSION.to_le_bytes());
        header[12..20].copy_from_slice(&abs(now).to_le_bytes());
        header[20..28].copy_from_slice(&self.cas.load(Ordering::Relaxed).to_le_bytes());
        header[28..36].copy_from_slice(&flush_at.to_le_bytes());
        let crc = crc32fast::hash(&header[..36]);
        header[36..].copy_from_slice(&crc.to_le_bytes());
        w.put(&header)?;
        let mut count = 0u64;
        for (key, item) in self.cache.iter() {
            if item.has(Item::BALLAST) || self.is_dead(&item, now) {
                continue;
            }
            let key = key.bytes();
            let mut fixed = [0u8; RECORD_FIXED];
            fixed[0] = TAG_ITEM;
            fixed[1] = key.len() as u8;
            fixed[2] = (item.marks & SAVED_MARKS) | if item.value.fetched() { FETCHED } else { 0 };
            fixed[3..7].copy_from_slice(&item.flags.to_le_bytes());
            let exptime = if item.exptime == 0 {
                0
            } else {
                abs(item.exptime)
            };
            fixed[7..15].copy_from_slice(&exptime.to_le_bytes());
            fixed[15..23].copy_from_slice(&abs(item.time).to_le_bytes());
            fixed[23..31].copy_from_slice(&item.cas.to_le_bytes());
            let len = u32::try_from(item.value.len()).map_err(io::Error::other)?;
            fixed[31..35].copy_from_slice(&len.to_le_bytes());
            let mut record = Hasher::new();
            record.update(&fixed);
            record.update(key);
            record.update(&item.value);
            w.put(&fixed)?;
            w.put(key)?;
            w.put(&item.value)?;
            w.put(&record.finalize().to_le_bytes())?;
            count += 1;
        }
        w.put(&[TAG_END])?;
        w.put(&count.to_le_bytes())?;
        let crc = w.crc.clone().finalize();
        w.put(&crc.to_le_bytes())?;
        w.inner.flush()?;
        Ok(SaveReport {
            items: count,
            file_bytes: w.written,
        })
    }

    /// Links the items of a file [`Store::save`] wrote, as they are read. Call it on a new,
    /// empty store, before it serves anyone.
    ///
    /// Items that expired while the server was down are skipped, and so are items over this
    /// store's `-I`, and items that would not fit in its `-m` (each moka cache's share of
    /// it: so that loading never evicts). They are counted in the report. The CAS counter
    /// continues after the largest CAS value saved. With CAS turned off (`-C`) the items
    /// get CAS 0; saved without CAS and loaded with it, they get new values.
    ///
    /// On an error nothing stays linked: the store is empty, as if no file had been given.
    pub fn load(&self, input: &mut impl Read) -> Result<LoadReport, LoadError> {
        // One thread reads and checks the file; up to LOAD_THREADS link its items. Why: moka's
        // inserts (and its table growing from empty) are most of a load's time, and its
        // table takes inserts from many threads at once.
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(LOAD_THREADS);
        let (tx, rx) = mpsc::sync_channel::<Vec<(Key, Item)>>(2 * threads);
        let rx = Mutex::new(rx);
        let mut items = 0;
        let result = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| scope.spawn(|| self.link_batches(&rx)))
                .collect();
            let mut batch = Vec::with_capacity(BATCH);
            let mut result = self.load_items(input, &mut items, &mut |key, item| {
                batch.push((key, item));
                if batch.len() == BATCH {
                    // Fails only if every worker is gone, which a panic would report below.
                    let _ = tx.send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)));
                }
            });
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            drop(tx);
            for worker in workers {
                let (linked, refused) = worker.join().expect("a load thread panicked");
                if let Ok(report) = &mut result {
                    report.loaded += linked;
                    report.no_memory += refused;
                }
            }
            result
        });
        self.cache.run_pending_tasks();
        match result {
            Ok(report) => Ok(report),
            Err(e) => {
                if items > 0 {
                    self.clear();
                }
                Err(e)
            }
        }
    }

    /// A load thread: links the batches it is sent until the reader is done. Returns how
    /// many items it linked and how many `-M` refused.
    fn link_batches(&self, batches: &Mutex<mpsc::Receiver<Vec<(Key, Item)>>>) -> (u64, u64) {
        let (mut linked, mut refused) = (0, 0);
        loop {
            // The lock is held only to take the next batch.
            let next = batches.lock().unwrap_or_else(|e| e.into_inner()).recv();
            let Ok(batch) = next else {
                return (linked, refused);
            };
            for (key, item) in batch {
                let _guard = self.lock(&key);
                if self.link(&key, item, None, false) {
                    linked += 1;
                } else {
                    refused += 1;
                }
            }
        }
    }

    /// Reads and checks the file, and hands each item to link to `link`.
    fn load_items(
        &self,
        input: &mut impl Read,
        items: &mut u64,
        link: &mut impl FnMut(Key, Item),
    ) -> Result<LoadReport, LoadError> {
        let mut r = CrcReader {
            inner: input,
            crc: Hasher::new(),
        };
        let mut header = [0u8; HEADER_LEN];
        if !r.fill(&mut header[..8]).map_err(LoadError::Io)? {
            return Err(LoadError::Truncated { items: 0 });
        }
        if header[..8] != MAGIC {
            return Err(LoadError::Foreign);
        }
        if !r.fill(&mut header[8..]).map_err(LoadError::Io)? {
            return Err(LoadError::Truncated { items: 0 });
        }
        let corrupt = |items: u64, what| LoadError::Corrupt { items, what };
        // The version is read before the checksum: another version may lay its header out
        // otherwise.
        let version = u32_at(&header, 8);
        if version != VERSION {
            return Err(LoadError::Version(version));
        }
        if crc32fast::hash(&header[..36]) != u32_at(&header, 36) {
            return Err(corrupt(0, "header checksum mismatch"));
        }
        let saved_at = u64_at(&header, 12);
        let flush_at = u64_at(&header, 28);
        // Continue from the saved counter: every CAS handed out from now is larger.
        self.cas.fetch_max(u64_at(&header, 20), Ordering::Relaxed);
        let unix_now = self.clock.unix_now();
        let started = self.times.process_started;
        let now = self.now();
        // Still to come: the pending flush, in this process's relative time.
        if flush_at > unix_now {
            let rel = u32::try_from(flush_at - started).unwrap_or(u32::MAX);
            self.epoch.oldest_live.store(rel, Ordering::Relaxed);
        }
        let cas_enabled = self.config.cas_enabled;
        let alloc_size = self.config.alloc_size;
        // Each moka cache evicts on its own once its share is full: keep each under its
        // share, so that loading evicts nothing (and `evictions` stays 0).
        let shards = self.cache.count();
        let share = self.config.memory_limit / shards as u64;
        let mut charged = vec![0u64; shards];
        let mut report = LoadReport {
            saved_at,
            ..LoadReport::default()
        };
        let mut key = [0u8; KEY_MAX];
        let mut value = Vec::new();
        loop {
            let mut tag = [0u8; 1];
            if !r.fill(&mut tag).map_err(LoadError::Io)? {
                return Err(LoadError::Truncated { items: *items });
            }
            match tag[0] {
                TAG_ITEM => {}
                TAG_END => break,
                _ => return Err(corrupt(*items, "unknown record")),
            }
            let mut fixed = [0u8; RECORD_FIXED];
            fixed[0] = TAG_ITEM;
            if !r.fill(&mut fixed[1..]).map_err(LoadError::Io)? {
                return Err(LoadError::Truncated { items: *items });
            }
            let key_len = usize::from(fixed[1]);
            if key_len == 0 || key_len > KEY_MAX {
                return Err(corrupt(*items, "bad key length"));
            }
            let marks = fixed[2];
            let flags = u32_at(&fixed, 3);
            let exptime = u64_at(&fixed, 7);
            let time = u64_at(&fixed, 15);
            let cas = u64_at(&fixed, 23);
            let value_len = u32_at(&fixed, 31) as usize;
            let key = &mut key[..key_len];
            if !r.fill(key).map_err(LoadError::Io)? {
                return Err(LoadError::Truncated { items: *items });
            }
            let mut record = Hasher::new();
            record.update(&fixed);
            record.update(key);
            // Never allocate more than `-I` allows, whatever the length field says (it is
            // not checked yet): a larger value is read through a small buffer and dropped.
            let fits = self.item_size_ok(key_len, flags, value_len);
            if fits {
                value.resize(value_len, 0);
                if !r.fill(&mut value).map_err(LoadError::Io)? {
                    return Err(LoadError::Truncated { items: *items });
                }
                record.update(&value);
            } else {
                let mut left = value_len;
                let mut buf = [0u8; 8192];
                while left > 0 {
                    let n = left.min(buf.len());
                    if !r.fill(&mut buf[..n]).map_err(LoadError::Io)? {
                        return Err(LoadError::Truncated { items: *items });
                    }
                    record.update(&buf[..n]);
                    left -= n;
                }
            }
            let mut crc = [0u8; 4];
            if !r.fill(&mut crc).map_err(LoadError::Io)? {
                return Err(LoadError::Truncated { items: *items });
            }
            if record.finalize() != u32::from_le_bytes(crc) {
                return Err(corrupt(*items, "item checksum mismatch"));
            }
            *items += 1;
            let flushed = flush_at != 0 && flush_at <= unix_now && time <= flush_at;
            if (exptime != 0 && exptime <= unix_now) || flushed {
                report.expired += 1;
                continue;
            }
            if !fits {
                report.too_large += 1;
                continue;
            }
            let probe = Probe::new(key);
            let shard = self.cache.index(&probe);
            let w = u64::from(weight(key_len, value_len, alloc_size));
            if charged[shard] + w > share {
                report.no_memory += 1;
                continue;
            }
            charged[shard] += w;
            let cas = if !cas_enabled {
                0
            } else if cas == 0 {
                self.next_cas()
            } else {
                self.cas.fetch_max(cas, Ordering::Relaxed);
                cas
            };
            let item = Item {
                // A small value is copied into its own block and the buffer is kept for the
                // next; a large one keeps the buffer it was read into.
                value: if value_len <= Value::SMALL {
                    Value::from(&value[..])
                } else {
                    Value::from(std::mem::take(&mut value))
                },
                flags,
                exptime: if exptime == 0 {
                    0
                } else {
                    u32::try_from(exptime - started).unwrap_or(u32::MAX)
                },
                // Stored before this process's backdated start: as early as it can say.
                time: u32::try_from(time.saturating_sub(started))
                    .unwrap_or(now)
                    .min(now),
                cas,
                marks: marks & SAVED_MARKS,
            };
            if marks & FETCHED != 0 {
                item.value.mark_fetched();
            }
            link(probe.to_owned_key(), item);
        }
        let mut end = [0u8; 8];
        if !r.fill(&mut end).map_err(LoadError::Io)? {
            return Err(LoadError::Truncated { items: *items });
        }
        let expected = r.crc.clone().finalize();
        let mut crc = [0u8; 4];
        if !r.fill(&mut crc).map_err(LoadError::Io)? {
            return Err(LoadError::Truncated { items: *items });
        }
        if u64::from_le_bytes(end) != *items {
            return Err(corrupt(*items, "item count mismatch"));
        }
        if u32::from_le_bytes(crc) != expected {
            return Err(corrupt(*items, "file checksum mismatch"));
        }
        if r.inner.read(&mut [0u8; 1]).map_err(LoadError::Io)? != 0 {
            return Err(corrupt(*items, "data after the end record"));
        }
        Ok(report)
    }

    /// Removes every item (a load that failed half-way); the ballast stays, or the
    /// capacity it holds back from a `cache_memlimit` below the ceiling would be lent out.
    fn clear(&self) {
        for (key, item) in self.cache.iter() {
            if !item.has(Item::BALLAST) {
                self.cache.invalidate(&key);
            }
        }
        self.cache.run_pending_tasks();
    }
}

#[cfg(test)]
mod tests;
