//! `stats detail`: per-prefix counters of gets, hits, sets and deletes, as memcached keeps
//! them.
//!
//! ```text
//! stats detail on|off|dump\r\n
//! PREFIX <prefix> get <n> hit <n> set <n> del <n>\r\n ... END\r\n
//! ```
//!
//! A key's prefix is what comes before the first delimiter (`-D`, default `:`); a key with
//! no delimiter (or a NUL before it) is not counted. Recording is on after `stats detail on`
//! or when `-D` is given. The classic retrieval, storage and delete commands record, in the
//! text and binary protocols (a set is counted before its size is checked); meta commands
//! do not. `stats reset` clears the table. At most 65,536 prefixes are kept.
//!
//! `dump` lists the prefixes in memcached's order, so that a tool comparing the two sees the
//! same lines: by bucket of a 256-bucket table indexed by the prefix's MurmurHash3 (memcached's
//! default hash), and in each bucket the newest prefix first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

const BUCKETS: usize = 256;
const MAX_PREFIXES: usize = 1 << 16;

/// What a command did to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Get { hit: bool },
    Set,
    Delete,
}

#[derive(Debug, Default)]
struct Entry {
    prefix: Vec<u8>,
    gets: u64,
    hits: u64,
    sets: u64,
    deletes: u64,
}

#[derive(Default)]
struct Table {
    /// Each bucket holds its prefixes newest first.
    buckets: Vec<Vec<Entry>>,
    count: usize,
}

pub(crate) struct PrefixStats {
    /// `stats detail on|off`. Read by every get, set and delete, so an atomic: recording is
    /// off unless an operator turned it on.
    enabled: AtomicBool,
    delimiter: u8,
    /// Why one lock for the whole table: memcached too keeps it under one global lock, and
    /// it is written only while detail is on, a debugging mode.
    table: Mutex<Table>,
}

impl PrefixStats {
    pub fn new(delimiter: u8, enabled: bool) -> PrefixStats {
        PrefixStats {
            enabled: AtomicBool::new(enabled),
            delimiter,
            table: Mutex::new(Table::default()),
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // Plain counters: a panic elsewhere cannot leave them inconsistent.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts `op` for `key`'s prefix, if recording is on and the key has one.
    pub fn record(&self, key: &[u8], op: Op) {
        if !self.enabled() {
            return;
        }
        let Some(end) = key.iter().position(|&b| b == self.delimiter || b == 0) else {
            return;
        };
        if key[end] == 0 {
            return;
        }
        let prefix = &key[..end];
        let mut table = self.table();
        let Some(entry) = table.find_or_add(prefix) else {
            return;
        };
        match op {
            Op::Get { hit } => {
                entry.gets += 1;
                entry.hits += u64::from(hit);
            }
            Op::Set => entry.sets += 1,
            Op::Delete => entry.deletes += 1,
        }
    }

    /// `stats reset`.
    pub fn clear(&self) {
        *self.table() = Table::default();
    }

    /// `stats detail dump`: the listing, ending in `END\r\n`.
    pub fn dump(&self) -> Vec<u8> {
        let table = self.table();
        let mut out = Vec::new();
        for entry in table.buckets.iter().flatten() {
            out.extend_from_slice(b"PREFIX ");
            out.extend_from_slice(&entry.prefix);
            out.extend_from_slice(
                format!(
                    " get {} hit {} set {} del {}\r\n",
                    entry.gets, entry.hits, entry.sets, entry.deletes
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(b"END\r\n");
        out
    }
}

impl Table {
    fn find_or_add(&mut self, prefix: &[u8]) -> Option<&mut Entry> {
        if self.buckets.is_empty() {
            self.buckets.resize_with(BUCKETS, Vec::new);
        }
        let bucket = murmur3_32(prefix) as usize % BUCKETS;
        // memcached compares only the new prefix's length, so a longer prefix already in
        // the bucket that starts with it counts for it too.
        if let Some(at) = self.buckets[bucket]
            .iter()
            .position(|e| e.prefix.starts_with(prefix))
        {
            return Some(&mut self.buckets[bucket][at]);
        }
        if self.count >= MAX_PREFIXES {
            return None;
        }
        self.count += 1;
        let entries = &mut self.buckets[bucket];
        entries.insert(
            0,
            Entry {
                prefix: prefix.to_vec(),
                ..Entry::default()
            },
        );
        entries.first_mut()
    }
}

/// MurmurHash3, x86 32-bit variant, seed 0: memcached 1.6's default hash on x86-64.
fn murmur3_32(data: &[u8]) -> u32 {
    const C1: u32 = 0xcc9e_2d51;
    const C2: u32 = 0x1b87_3593;
    let mix = |k: u32| k.wrapping_mul(C1).rotate_left(15).wrapping_mul(C2);
    let mut h: u32 = 0;
    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        h ^= mix(k);
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        let k = tail
            .iter()
            .rev()
            .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        h ^= mix(k);
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur3_known_answers() {
        // Reference values of MurmurHash3_x86_32 with seed 0.
        assert_eq!(murmur3_32(b""), 0);
        assert_eq!(murmur3_32(b"abc"), 0xb3dd_93fa);
        assert_eq!(murmur3_32(b"hello"), 0x248b_fa47);
        assert_eq!(murmur3_32(b"hello, world"), 0x149b_bb7f);
        assert_eq!(
            murmur3_32(b"The quick brown fox jumps over the lazy dog"),
            0x2e4f_f723
        );
    }

    #[test]
    fn counts_by_prefix_only_while_enabled() {
        let p = PrefixStats::new(b':', false);
        p.record(b"foo:1", Op::Set);
        assert_eq!(p.dump(), b"END\r\n");
        p.set_enabled(true);
        p.record(b"foo:1", Op::Set);
        p.record(b"foo:2", Op::Get { hit: true });
        p.record(b"foo:3", Op::Get { hit: false });
        p.record(b"foo:3", Op::Delete);
        p.record(b"nodelimiter", Op::Set);
        p.record(b"nul\0:x", Op::Set);
        p.record(b":empty", Op::Set);
        let dump = String::from_utf8(p.dump()).unwrap();
        assert!(
            dump.contains("PREFIX foo get 2 hit 1 set 1 del 1\r\n"),
            "{dump}"
        );
        assert!(
            dump.contains("PREFIX  get 0 hit 0 set 1 del 0\r\n"),
            "{dump}"
        );
        assert_eq!(dump.matches("PREFIX").count(), 2);
        assert!(dump.ends_with("END\r\n"));
        p.clear();
        assert_eq!(p.dump(), b"END\r\n");
    }

    #[test]
    fn dump_order_is_by_hash_bucket() {
        let p = PrefixStats::new(b'/', true);
        for prefix in ["a", "b", "c", "d", "e"] {
            p.record(format!("{prefix}/k").as_bytes(), Op::Set);
        }
        let dump = String::from_utf8(p.dump()).unwrap();
        let mut order: Vec<&str> = dump
            .lines()
            .filter_map(|l| l.strip_prefix("PREFIX "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let listed = order.clone();
        order.sort_by_key(|p| murmur3_32(p.as_bytes()) % 256);
        assert_eq!(listed, order);
    }
}
