//! The LRU crawler: the store's background reclaim of dead items, and the `lru_crawler`
//! commands (`crawl`, `metadump`, `mgdump`).
//!
//! ```text
//! lru_crawler crawl <classids|all>\r\n      OK: reclaim the dead items of those classes
//! lru_crawler metadump <classids|all|hash>\r\n
//! OK\r\n
//! key=<url-encoded key> exp=<unix time|-1> la=<unix time> cas=<n> fetch=<yes|no> cls=<class> size=<n> flags=<n> \n
//! ...
//! END\r\n
//! lru_crawler mgdump <classids|all|hash>\r\n
//! OK\r\n
//! mg <key>\r\n              (a binary key: mg <base64 key> b\r\n)
//! ...
//! EN\r\n
//! ```
//!
//! **Background reclaim.** Reads find expired and flushed items dead on their own (see
//! `Store::lookup`), but until something removes them they stay counted in `curr_items` and
//! keep their memory. memcached's LRU maintainer removes them from its LRU tails within about
//! a second (counted in `reclaimed`, and in `expired_unfetched` when never read); this
//! thread does the same job by walking moka's entries (`Shards::iter`, every shard), and
//! counts it the same way. It walks when there is something to find: within a tick of a
//! `flush_all` taking effect, and when the earliest expiry time it knows of has passed
//! (`next_expiry`: the earliest among the live items of its last walk and every item stored
//! since). Walks that find only a few dead items among many live ones are limited by cost:
//! the next walk waits at least [`GAP_FACTOR`] times as long as the last took (and at least
//! [`MIN_GAP`]), so that the thread uses at most about a tenth of a core however large the
//! cache, while reads still never return a dead item.
//!
//! **Pacing.** Each removal is a write in moka: it leaves a tombstone in its hash table
//! (whose sub-table re-hashes whole once tombstones reach a tenth) and a write-log entry
//! for moka's clean-up. Removing a million flushed items at once would make one later call
//! do seconds of clean-up (as `invalidate_all` does). So the walk goes in slices: at most
//! [`SCAN_SLICE`] entries looked at and [`REMOVE_SLICE`] removed per [`TICK`], and its
//! removals count as commands for the housekeeper (`housekeeper::commands`), which then
//! runs moka's pending tasks as often as a request load that size would get. Every removal
//! is made under the key's stripe lock after reading the entry again, as `Store::lookup`
//! does: an item replaced or touched since the walk saw it is left alone.
//!
//! **Client crawls and dumps** are memcached's `lru_crawler` commands. As memcached has one
//! crawler thread, one runs at a time: another is answered `BUSY`. A crawl runs on this
//! thread; a dump runs on a thread of the caller's (it blocks on its client's socket, and
//! a client that stops reading must stop nothing else), see [`Dump`].

use crate::counters::bump;
use crate::item::{ntotal, Item};
use crate::key::Key;
use crate::{Core, Flushed, Store};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// How often the walk pauses, and how long.
pub(crate) const TICK: Duration = Duration::from_millis(5);
/// Entries the walk looks at per tick at most (about a million a second).
pub(crate) const SCAN_SLICE: usize = 5_000;
/// Dead items the walk removes per tick at most: 50,000 a second.
pub(crate) const REMOVE_SLICE: usize = 250;
/// The shortest wait between two walks started by expiry times.
pub(crate) const MIN_GAP: Duration = Duration::from_secs(1);
/// A walk started by expiry times waits at least this many times as long as the last one
/// took: the background walk's share of a core stays under 1 / (1 + GAP_FACTOR).
pub(crate) const GAP_FACTOR: u32 = 9;
/// The background reclaim leaves an expired item alone until it has been stored this many
/// seconds. Why: memcached's LRU maintainer gets to an item in its LRU tail within about a
/// second, not at once, so a client that stores an item with a past expiry (`set k 0 -1`)
/// and reads it back finds it counted in `get_expired`; so it does here, even when the
/// read comes a few milliseconds later.
pub(crate) const MIN_AGE: u32 = 2;
/// A background walk runs at least this often while the cache holds items, so that each
/// class's oldest item (`stats items`' `age`) is known to within this.
pub(crate) const CENSUS_EVERY: Duration = Duration::from_secs(60);
/// How long the idle thread sleeps between looks at the schedule (a flush or a client's
/// crawl wakes it at once).
pub(crate) const IDLE_TICK: Duration = Duration::from_millis(100);
/// memcached's `crawls_persleep`: a client's crawl or dump sleeps `lru_crawler_sleep`
/// microseconds after this many items.
pub(crate) const CRAWLS_PER_SLEEP: u64 = 1000;
/// A dump sends its listing in pieces of about this size.
pub const DUMP_CHUNK: usize = 64 * 1024;
/// A dump orders the items in batches of this many: oldest first, classes in turn, as
/// memcached's crawler lists a class's LRU from its tail (see [`Dump::run`]).
const ORDER_BATCH: usize = 1024;
/// memcached's highest class id plus one.
const CLASSES: u8 = 64;

/// The crawler's start-up settings.
#[derive(Clone, Debug)]
pub struct CrawlerConfig {
    /// memcached's `lru_crawler` setting: the `lru_crawler` commands work (`-o
    /// no_lru_crawler` turns it off; `lru_crawler enable|disable` at run time).
    pub enabled: bool,
    /// The background reclaim (memcached's LRU maintainer: `-o no_lru_maintainer` stops it).
    pub reclaim: bool,
    /// `lru_crawler_sleep`: microseconds a client's crawl or dump sleeps every 1000 items.
    pub sleep_us: u32,
    /// `lru_crawler_tocrawl`: items a client's crawl checks per class at most (0: all).
    pub tocrawl: u32,
}

impl Default for CrawlerConfig {
    fn default() -> Self {
        CrawlerConfig {
            enabled: true,
            reclaim: true,
            sleep_us: 100,
            tocrawl: 0,
        }
    }
}

/// Which classes a client's crawl or dump covers (`all`, `hash`, or `1,2,5`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrawlTarget {
    All,
    /// memcached walks its hash table instead of the LRUs (dumps only).
    Hash,
    /// A bit per class id (1 to 63). 0 when the list named none (`,`).
    Classes(u64),
}

impl CrawlTarget {
    fn covers(self, class: u8) -> bool {
        match self {
            CrawlTarget::All | CrawlTarget::Hash => true,
            CrawlTarget::Classes(mask) => class < CLASSES && mask & (1 << class) != 0,
        }
    }
}

/// How a client's crawl or dump was refused (memcached's `crawler_result_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrawlReply {
    Ok,
    /// `BUSY currently processing crawler request`
    Busy,
    /// `NOTSTARTED no items to crawl`
    NotStarted,
    /// `ERROR an unknown error happened`
    Error,
}

/// What a dump lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpKind {
    /// `metadump`: a line of metadata per item.
    Meta,
    /// `mgdump`: an `mg <key>` line per item.
    Mg,
}

/// The crawler's figures for `stats`, summed over the classes where memcached sums them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrawlerStats {
    pub enabled: bool,
    pub running: bool,
    pub starts: u64,
    pub reclaimed: u64,
    pub expired_unfetched: u64,
    pub crawler_reclaimed: u64,
    pub crawler_items_checked: u64,
    pub sleep_us: u32,
    pub tocrawl: u32,
}

/// The crawler's state in the store's [`Core`].
///
/// Why atomics and one mutex: the settings and counters are read by `stats` and set by
/// commands on any worker thread, each on its own (relaxed); `running` is the one-at-a-time
/// rule, taken with a compare-and-swap; `request` hands a client's crawl to the thread.
pub(crate) struct Crawler {
    enabled: AtomicBool,
    reclaim: bool,
    sleep_us: AtomicU32,
    tocrawl: AtomicU32,
    /// A client's crawl or dump is under way.
    running: AtomicBool,
    /// memcached's `lru_crawler_starts`: client crawls and dumps started.
    starts: AtomicU64,
    /// The classes of the client crawl the thread is to run next, and its per-class limit.
    request: Mutex<Option<(CrawlTarget, u32)>>,
    /// The earliest expiry time (relative) of the items the last walk found alive and of
    /// every item stored since; `u32::MAX` for none. The store lowers it as it links items
    /// with an expiry (a load, and a write only when lower: no shared write per `set`).
    next_expiry: AtomicU32,
    /// Bumped by every `flush_all`: the thread walks once it takes effect.
    flushes: AtomicU64,
    /// Background walks started (for tests).
    pub(crate) walks: AtomicU64,
    stop: AtomicBool,
    thread: OnceLock<Thread>,
}

impl Crawler {
    pub(crate) fn new(config: &CrawlerConfig) -> Crawler {
        Crawler {
            enabled: AtomicBool::new(config.enabled),
            reclaim: config.reclaim,
            sleep_us: AtomicU32::new(config.sleep_us),
            tocrawl: AtomicU32::new(config.tocrawl),
            running: AtomicBool::new(false),
            starts: AtomicU64::new(0),
            request: Mutex::new(None),
            next_expiry: AtomicU32::new(u32::MAX),
            flushes: AtomicU64::new(0),
            walks: AtomicU64::new(0),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
        }
    }

    /// An item with this expiry time (not 0) is linked.
    #[inline]
    pub(crate) fn note_expiry(&self, exptime: u32) {
        if exptime < self.next_expiry.load(Ordering::Relaxed) {
            self.next_expiry.fetch_min(exptime, Ordering::Relaxed);
        }
    }

    /// A `flush_all` was recorded.
    pub(crate) fn note_flush(&self) {
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.wake();
    }

    pub(crate) fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake();
    }

    fn wake(&self) {
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    pub(crate) fn reset_stats(&self) {
        self.starts.store(0, Ordering::Relaxed);
    }

    /// Takes the one-at-a-time right to run a client's crawl or dump.
    fn begin(&self) -> bool {
        let ok = self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok();
        if ok {
            self.starts.fetch_add(1, Ordering::Relaxed);
        }
        ok
    }
}

/// Starts the crawler's thread. It holds the core weakly, so a dropped store is freed even
/// while the thread sleeps; `Store`'s drop stops it.
pub(crate) fn spawn(core: &Arc<Core>) {
    let weak = Arc::downgrade(core);
    let started = std::thread::Builder::new()
        .name("ferrocache-crawler".into())
        .spawn(move || run(weak));
    match started {
        Ok(handle) => {
            let _ = core.crawler.thread.set(handle.thread().clone());
        }
        // Reads still never return a dead item; they are only not reclaimed early.
        Err(e) => eprintln!("ferrocache: could not start the LRU crawler thread: {e}"),
    }
}

/// Which walk: the background reclaim, or a client's crawl (its classes and per-class limit).
#[derive(Clone, Copy)]
enum Walk {
    Background,
    /// A background walk that removes nothing: it only notes the classes' ages.
    Census,
    Client(CrawlTarget, u32),
}

fn run(weak: Weak<Core>) {
    let mut flushes_seen = 0u64;
    // When a walk started by expiry times may run (see GAP_FACTOR).
    let mut next_walk = Instant::now();
    // When the next walk for `age` is due (see CENSUS_EVERY); the first soon after start.
    let mut next_census = Instant::now() + MIN_GAP;
    loop {
        let Some(core) = weak.upgrade() else {
            return;
        };
        let c = &core.crawler;
        if c.stop.load(Ordering::Relaxed) {
            return;
        }
        let request = c.request.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some((target, tocrawl)) = request {
            core.walk(Walk::Client(target, tocrawl));
            c.running.store(false, Ordering::Release);
            continue;
        }
        let now = core.now();
        let flushes = c.flushes.load(Ordering::Relaxed);
        let oldest_live = core.oldest_live();
        // A delayed flush takes effect later: walk then.
        let flush_due = flushes != flushes_seen && oldest_live <= now;
        let expiry_due =
            c.next_expiry.load(Ordering::Relaxed) <= now && Instant::now() >= next_walk;
        // With reclaim off (`-o no_lru_maintainer`) no walk runs in the background at all.
        let census_due = c.reclaim
            && Instant::now() >= next_census
            && Instant::now() >= next_walk
            && core.counters.curr_items.load(Ordering::Relaxed) > 0;
        let walk = if c.reclaim && (flush_due || expiry_due) {
            if flush_due {
                flushes_seen = flushes;
            }
            Some(Walk::Background)
        } else if census_due {
            // A walk that removes nothing, for the classes' ages.
            Some(Walk::Census)
        } else {
            None
        };
        if let Some(walk) = walk {
            let started = Instant::now();
            core.walk(walk);
            let took = started.elapsed();
            next_walk = Instant::now() + (took * GAP_FACTOR).max(MIN_GAP);
            next_census = Instant::now() + CENSUS_EVERY;
            continue;
        }
        drop(core);
        std::thread::park_timeout(IDLE_TICK);
    }
}

impl Core {
    /// Walks every entry once, removing the dead ones of the walk's classes, in slices.
    fn walk(&self, walk: Walk) {
        let c = &self.crawler;
        if let Walk::Background = walk {
            c.walks.fetch_add(1, Ordering::Relaxed);
            // Lowered again by the live items this walk finds, and by items stored meanwhile.
            c.next_expiry.store(u32::MAX, Ordering::Relaxed);
        }
        let mut checked = [0u32; CLASSES as usize];
        // Each class's oldest live item by store time: `stats items`' `age`, published when
        // a whole background walk is done.
        let mut oldest = [u32::MAX; CLASSES as usize];
        let mut now = self.now();
        let (mut scanned, mut removed, mut since_sleep) = (0usize, 0usize, 0u64);
        for (key, item) in self.cache.iter() {
            if item.has(Item::BALLAST) {
                continue;
            }
            let (_, class) = self.classes.item(key.len(), item.flags, item.value.len());
            if let Walk::Client(target, tocrawl) = walk {
                let seen = &mut checked[usize::from(class.min(CLASSES - 1))];
                if !target.covers(class) || (tocrawl != 0 && *seen >= tocrawl) {
                    continue;
                }
                *seen += 1;
                bump(&self.classes.counters(class).crawler_items_checked);
                since_sleep += 1;
            }
            scanned += 1;
            let dead = self.is_dead(&item, now);
            if dead && !matches!(walk, Walk::Census) {
                if self.reclaim(&key, walk) {
                    removed += 1;
                }
            } else if !dead {
                let first = &mut oldest[usize::from(class.min(CLASSES - 1))];
                *first = (*first).min(item.time);
                if item.exptime != 0 {
                    c.note_expiry(item.exptime);
                }
            }
            if let Walk::Client(..) = walk {
                // memcached's client crawl sleeps `lru_crawler_sleep` every 1000 items.
                if since_sleep >= CRAWLS_PER_SLEEP {
                    since_sleep = 0;
                    let us = c.sleep_us.load(Ordering::Relaxed);
                    if us > 0 {
                        std::thread::sleep(Duration::from_micros(u64::from(us)));
                    }
                }
            }
            if scanned >= SCAN_SLICE || removed >= REMOVE_SLICE {
                std::thread::sleep(TICK);
                if c.stop.load(Ordering::Relaxed) {
                    return;
                }
                (scanned, removed) = (0, 0);
                now = self.now();
            }
        }
        if let Walk::Background | Walk::Census = walk {
            for (class, first) in oldest.iter().enumerate() {
                let first = if *first == u32::MAX { 0 } else { *first };
                self.classes
                    .counters(class as u8)
                    .oldest
                    .store(first, Ordering::Relaxed);
            }
        }
    }

    /// Removes `key` if it is still dead, under its stripe lock (read again there: a
    /// replaced or touched item is left), and counts it as memcached counts the walk's
    /// removals: the background's in `reclaimed` (memcached's LRU maintainer), a client
    /// crawl's in `crawler_reclaimed`.
    fn reclaim(&self, key: &Key, walk: Walk) -> bool {
        let _guard = self.lock(key);
        let Some(current) = self.cache.get(key) else {
            return false;
        };
        let now = self.now();
        let how = self.flushed(&current, now);
        let flushed = !matches!(how, Flushed::No);
        let expired = current.exptime != 0 && current.exptime <= now;
        if !flushed && !expired {
            if current.exptime != 0 {
                self.crawler.note_expiry(current.exptime);
            }
            return false;
        }
        if let (Walk::Background, false) = (walk, flushed) {
            // Stored dead (a past expiry) or dying within a second: left to reads for
            // a moment (see MIN_AGE), then walked again.
            let ripe = current.time.saturating_add(MIN_AGE);
            if now < ripe {
                self.crawler.note_expiry(ripe);
                return false;
            }
        }
        self.cache.invalidate(key);
        bump(&self.counters.reclaimed_total);
        if let Flushed::Unlinked = how {
            // memcached's flush_all unlinked these itself, and counted nothing.
            return true;
        }
        let (_, class) = self
            .classes
            .item(key.len(), current.flags, current.value.len());
        let k = self.classes.counters(class);
        let unfetched = !current.value.fetched();
        match walk {
            Walk::Background | Walk::Census => {
                bump(&k.reclaimed);
                if unfetched {
                    bump(&k.expired_unfetched);
                }
            }
            Walk::Client(..) => {
                bump(&k.crawler_reclaimed);
                // memcached's crawler leaves flushed items out of this count.
                if unfetched && !flushed {
                    bump(&k.expired_unfetched);
                }
            }
        }
        true
    }
}

impl Store {
    /// `lru_crawler crawl <classes>`: starts a crawl of those classes on the crawler's
    /// thread, which removes their dead items (up to `lru_crawler_tocrawl` items checked per
    /// class). The caller has checked that the crawler is enabled.
    pub fn lru_crawl(&self, target: CrawlTarget) -> CrawlReply {
        match target {
            // memcached walks its hash table for dumps only.
            CrawlTarget::Hash => return CrawlReply::Error,
            CrawlTarget::Classes(0) => return CrawlReply::NotStarted,
            _ => {}
        }
        let c = &self.crawler;
        if c.thread.get().is_none() {
            return CrawlReply::Error;
        }
        if !c.begin() {
            return CrawlReply::Busy;
        }
        let tocrawl = c.tocrawl.load(Ordering::Relaxed);
        *c.request.lock().unwrap_or_else(|e| e.into_inner()) = Some((target, tocrawl));
        c.wake();
        CrawlReply::Ok
    }

    /// `lru_crawler metadump|mgdump <classes|hash>`: the dump, for the caller to run on a
    /// thread of its own ([`Dump::run`]), or why it cannot start.
    pub fn lru_dump(&self, kind: DumpKind, target: CrawlTarget) -> Result<Dump, CrawlReply> {
        if target == CrawlTarget::Classes(0) {
            return Err(CrawlReply::NotStarted);
        }
        if !self.crawler.begin() {
            return Err(CrawlReply::Busy);
        }
        Ok(Dump {
            core: self.core.clone(),
            kind,
            target,
            released: false,
        })
    }

    /// The `lru_crawler` setting.
    pub fn crawler_enabled(&self) -> bool {
        self.crawler.enabled.load(Ordering::Relaxed)
    }

    /// `lru_crawler enable|disable`; returns the setting before.
    pub fn set_crawler_enabled(&self, on: bool) -> bool {
        self.crawler.enabled.swap(on, Ordering::Relaxed)
    }

    /// `lru_crawler sleep <microseconds>`.
    pub fn set_crawler_sleep(&self, us: u32) {
        self.crawler.sleep_us.store(us, Ordering::Relaxed);
    }

    /// `lru_crawler tocrawl <n>`.
    pub fn set_crawler_tocrawl(&self, n: u32) {
        self.crawler.tocrawl.store(n, Ordering::Relaxed);
    }

    /// The crawler's settings and figures (for `stats` and `stats settings`).
    pub fn crawler_stats(&self) -> CrawlerStats {
        let c = &self.crawler;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = CrawlerStats {
            enabled: c.enabled.load(Ordering::Relaxed),
            running: c.running.load(Ordering::Relaxed),
            starts: load(&c.starts),
            sleep_us: c.sleep_us.load(Ordering::Relaxed),
            tocrawl: c.tocrawl.load(Ordering::Relaxed),
            ..CrawlerStats::default()
        };
        for (_, k) in self.classes.all() {
            s.reclaimed += load(&k.reclaimed);
            s.expired_unfetched += load(&k.expired_unfetched);
            s.crawler_reclaimed += load(&k.crawler_reclaimed);
            s.crawler_items_checked += load(&k.crawler_items_checked);
        }
        s
    }
}

/// A client's `metadump` or `mgdump`, started by [`Store::lru_dump`]. It holds the crawler's
/// one-at-a-time right until it is dropped.
pub struct Dump {
    core: Arc<Core>,
    kind: DumpKind,
    target: CrawlTarget,
    /// The one-at-a-time right is given back (once: another crawl may hold it next).
    released: bool,
}

impl Dump {
    fn release(&mut self) {
        if !std::mem::replace(&mut self.released, true) {
            self.core.crawler.running.store(false, Ordering::Release);
        }
    }
}

impl Drop for Dump {
    fn drop(&mut self) {
        self.release();
    }
}

impl Dump {
    /// Walks the items and hands the listing to `send` in pieces of about [`DUMP_CHUNK`]
    /// bytes, `OK\r\n` first and `END\r\n` (`EN\r\n` for mgdump) last, so that the listing
    /// of a million items never sits in memory at once. `send` may block (on a slow
    /// client); it returns false to stop the dump. Returns whether the whole listing went.
    ///
    /// Order: memcached lists each class's LRU from its tail (oldest first), one item per
    /// class in turn. Each batch of [`ORDER_BATCH`] items is put in that order (by CAS, then
    /// store time), so a small cache is listed as memcached lists it; a large one in batches.
    /// Items are listed as memcached's dump lists them: expired (`exptime` before now) and
    /// flushed ones are left out; a `hash` dump counts nothing in `crawler_items_checked`.
    pub fn run(mut self, mut send: impl FnMut(&[u8]) -> bool) -> bool {
        let core = &self.core;
        let mut out = Vec::with_capacity(DUMP_CHUNK + 1024);
        out.extend_from_slice(b"OK\r\n");
        let mut batch: Vec<(u8, Arc<Key>, Item)> = Vec::with_capacity(ORDER_BATCH);
        let mut since_sleep = 0u64;
        let mut now = core.now();
        for (key, item) in core.cache.iter() {
            if item.has(Item::BALLAST) {
                continue;
            }
            let (_, class) = core.classes.item(key.len(), item.flags, item.value.len());
            if !self.target.covers(class) {
                continue;
            }
            if self.target != CrawlTarget::Hash {
                bump(&core.classes.counters(class).crawler_items_checked);
            }
            // memcached's dump test: an expiry strictly before now, or flushed.
            let flushed = !matches!(core.flushed(&item, now), Flushed::No);
            let expired = item.exptime != 0 && item.exptime < now;
            if !flushed && !expired {
                batch.push((class, key, item));
            }
            if batch.len() >= ORDER_BATCH {
                self.list(&mut batch, &mut out);
                if out.len() >= DUMP_CHUNK {
                    if !send(&out) {
                        return false;
                    }
                    out.clear();
                }
                now = core.now();
            }
            since_sleep += 1;
            if since_sleep >= CRAWLS_PER_SLEEP {
                since_sleep = 0;
                let us = core.crawler.sleep_us.load(Ordering::Relaxed);
                if us > 0 {
                    std::thread::sleep(Duration::from_micros(u64::from(us)));
                }
            }
        }
        self.list(&mut batch, &mut out);
        out.extend_from_slice(match self.kind {
            DumpKind::Meta => b"END\r\n",
            DumpKind::Mg => b"EN\r\n",
        });
        // Free before the last piece goes: a client that reads END and asks for another
        // dump must not be told BUSY by its own.
        self.release();
        send(&out)
    }

    /// Appends the batch's lines to `out` in memcached's order, and empties it.
    fn list(&self, batch: &mut Vec<(u8, Arc<Key>, Item)>, out: &mut Vec<u8>) {
        batch.sort_by_key(|(class, _, item)| (*class, item.cas, item.time));
        // One item of each class in turn, as memcached's crawler steps through its classes.
        let mut starts: Vec<usize> = Vec::new();
        for (i, (class, ..)) in batch.iter().enumerate() {
            if i == 0 || batch[i - 1].0 != *class {
                starts.push(i);
            }
        }
        let ends: Vec<usize> = starts
            .iter()
            .skip(1)
            .copied()
            .chain(std::iter::once(batch.len()))
            .collect();
        let mut next = starts.clone();
        let mut left = batch.len();
        while left > 0 {
            for (class, cursor) in next.iter_mut().enumerate() {
                if *cursor < ends[class] {
                    let (cls, key, item) = &batch[*cursor];
                    self.line(*cls, key, item, out);
                    *cursor += 1;
                    left -= 1;
                }
            }
        }
        batch.clear();
    }

    fn line(&self, class: u8, key: &Key, item: &Item, out: &mut Vec<u8>) {
        use std::io::Write;
        let key = key.bytes();
        match self.kind {
            DumpKind::Meta => {
                let started = self.core.times.process_started;
                out.extend_from_slice(b"key=");
                uriencode(key, out);
                if item.exptime == 0 {
                    out.extend_from_slice(b" exp=-1");
                } else {
                    let _ = write!(out, " exp={}", u64::from(item.exptime) + started);
                }
                let size = ntotal(
                    key.len(),
                    item.flags,
                    item.value.len(),
                    self.core.config.cas_enabled,
                );
                let fetched = if item.value.fetched() { "yes" } else { "no" };
                // memcached ends the line with a space and a bare \n.
                let _ = writeln!(
                    out,
                    " la={} cas={} fetch={fetched} cls={class} size={size} flags={} ",
                    u64::from(item.time) + started,
                    item.cas,
                    item.flags,
                );
            }
            DumpKind::Mg => {
                out.extend_from_slice(b"mg ");
                if item.has(Item::BINARY_KEY) {
                    out.extend_from_slice(ferrocache_protocol::meta::encode_key(key).as_bytes());
                    out.extend_from_slice(b" b\r\n");
                } else {
                    out.extend_from_slice(key);
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
    }
}

/// memcached's `uriencode`: letters, digits and `-._~` as they are, every other byte as
/// `%XX` (upper-case hex).
fn uriencode(key: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in key {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b);
        } else {
            out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
        }
    }
}

#[cfg(test)]
mod tests;
