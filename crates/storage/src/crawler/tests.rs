//! The crawler: background reclaim (schedule, pacing, never a live or replaced item),
//! client crawls and dumps.

use super::*;
use crate::{ManualClock, StoreConfig, StoreMode, StoreOutcome};
use std::time::Instant;

fn store_with(reclaim: bool) -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let mut config = StoreConfig::default();
    config.crawler.reclaim = reclaim;
    (Store::with_clock(config, clock.clone()), clock)
}

fn set(s: &Store, key: &str, exptime: i64) {
    let stored = s.store(StoreMode::Set, key.as_bytes(), 0, exptime, b"0123456789");
    assert_eq!(stored, StoreOutcome::Stored);
}

/// Polls `done` for up to `secs` seconds.
fn wait_for(secs: u64, done: impl Fn() -> bool) -> bool {
    let until = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < until {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

fn class_of(s: &Store, key: &str) -> u8 {
    s.classes().item(key.len(), 0, 10).1
}

/// After `flush_all`, every item is gone from `curr_items` within about a second, without
/// any read, counted as memcached's LRU maintainer counts it (`reclaimed`, and
/// `expired_unfetched` for items never read).
#[test]
fn a_flush_is_reclaimed_in_the_background() {
    let (s, clock) = store_with(true);
    for i in 0..5_000 {
        set(&s, &format!("k{i}"), 0);
    }
    s.get(b"k1").expect("live");
    clock.advance(2);
    assert_eq!(s.stats().curr_items, 5_000);
    let started = Instant::now();
    s.flush_all(0);
    assert!(
        wait_for(5, || s.stats().curr_items == 0),
        "{} left",
        s.stats().curr_items
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let c = s.crawler_stats();
    assert_eq!((c.reclaimed, c.expired_unfetched), (5_000, 4_999));
    assert_eq!((c.crawler_reclaimed, c.crawler_items_checked), (0, 0));
    assert_eq!(s.stats().get_flushed, 0, "no read found them");
    let k = s.classes().counters(class_of(&s, "k1"));
    assert_eq!(k.reclaimed.load(Ordering::Relaxed), 5_000);
}

/// Expired items are reclaimed once their time has passed, and the live ones (no expiry,
/// later expiry, or touched to a later one) are left.
#[test]
fn expired_items_go_and_live_ones_stay() {
    let (s, clock) = store_with(true);
    for i in 0..300 {
        set(&s, &format!("short{i}"), 5);
        set(&s, &format!("long{i}"), 100);
        set(&s, &format!("never{i}"), 0);
    }
    assert!(s.touch(b"short7", 1000));
    clock.advance(6);
    assert!(wait_for(5, || s.stats().curr_items == 601));
    for i in 0..300 {
        assert!(s.get(format!("long{i}").as_bytes()).is_some());
        assert!(s.get(format!("never{i}").as_bytes()).is_some());
    }
    assert!(s.get(b"short7").is_some(), "touched to a later expiry");
    assert_eq!(s.crawler_stats().reclaimed, 299);
    assert_eq!(s.stats().get_expired, 0);
}

/// Nothing to find, no walk: items without an expiry and no flush leave the thread asleep.
/// One expiring item schedules one walk once its time comes.
#[test]
fn the_thread_walks_only_when_something_is_due() {
    let (s, clock) = store_with(true);
    for i in 0..100 {
        set(&s, &format!("k{i}"), 0);
    }
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(s.crawler.walks.load(Ordering::Relaxed), 0);
    set(&s, "soon", 3);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.crawler.walks.load(Ordering::Relaxed), 0, "not due yet");
    clock.advance(4);
    assert!(wait_for(3, || s.stats().curr_items == 100));
    let walks = s.crawler.walks.load(Ordering::Relaxed);
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        s.crawler.walks.load(Ordering::Relaxed),
        walks,
        "nothing more due"
    );
    // A delayed flush: walked when it takes effect, not before.
    s.flush_all(10);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.stats().curr_items, 100);
    clock.advance(11);
    assert!(wait_for(3, || s.stats().curr_items == 0));
}

/// The walk reads an entry, then removes it under the key's lock only if it is still dead:
/// an item replaced (or touched) since it was seen stays.
#[test]
fn a_replaced_item_is_never_removed() {
    let (s, clock) = store_with(false);
    set(&s, "k", 1);
    clock.advance(2);
    let key = Key::new(b"k");
    let seen = s.cache.get(&key).unwrap();
    assert!(s.is_dead(&seen, s.now()), "the walk would pick it");
    set(&s, "k", 0);
    assert!(!s.reclaim(&key, Walk::Background));
    assert!(s.get(b"k").is_some());
    // A flush after a replacement takes the new item too, as a read would.
    set(&s, "k", 0);
    clock.advance(2);
    s.flush_all(0);
    assert!(s.reclaim(&key, Walk::Background));
    assert_eq!(s.stats().curr_items, 0);
}

/// Many racing writers re-setting keys while the walk removes expired ones: every key ends
/// holding its last value.
#[test]
fn racing_writers_keep_their_items() {
    let (s, clock) = store_with(true);
    let s = Arc::new(s);
    for i in 0..2_000 {
        set(&s, &format!("k{i}"), 1);
    }
    clock.advance(2);
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in (w..2_000).step_by(2) {
                    set(&s, &format!("k{i}"), 0);
                }
            })
        })
        .collect();
    writers.into_iter().for_each(|w| w.join().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    for i in 0..2_000 {
        assert!(s.get(format!("k{i}").as_bytes()).is_some(), "k{i}");
    }
}

/// Removals are paced: at most REMOVE_SLICE per TICK, so a walk over N dead items takes at
/// least (N / REMOVE_SLICE - 1) ticks, and its removals count as commands for the
/// housekeeper.
#[test]
fn removals_are_paced() {
    let (s, clock) = store_with(false);
    let n = 2_000;
    for i in 0..n {
        set(&s, &format!("k{i}"), 1);
    }
    clock.advance(2);
    let before = s.counters.reclaimed_total.load(Ordering::Relaxed);
    let started = Instant::now();
    s.walk(Walk::Background);
    let took = started.elapsed();
    let ticks = (n / REMOVE_SLICE - 1) as u32;
    assert!(took >= TICK * ticks, "{took:?} for {n} removals");
    assert_eq!(s.stats().curr_items, 0);
    assert_eq!(
        s.counters.reclaimed_total.load(Ordering::Relaxed) - before,
        n as u64
    );
}

/// `lru_crawler crawl`: the classes asked for are crawled on the thread, counted in
/// `crawler_items_checked` and `crawler_reclaimed` (and `expired_unfetched`, but not for
/// flushed items); one crawl or dump at a time; `tocrawl` limits the items per class.
#[test]
fn a_client_crawl_reclaims_and_counts() {
    let (s, clock) = store_with(false);
    for i in 0..50 {
        set(&s, &format!("k{i}"), 1);
    }
    set(&s, "never", 0);
    let class = class_of(&s, "k1");
    assert_eq!(class, class_of(&s, "never"));
    // Another class (a larger value): not asked for, not touched.
    assert_eq!(
        s.store(StoreMode::Set, b"big", 0, 1, &[b'x'; 500][..]),
        StoreOutcome::Stored
    );
    let big = s.classes().item(3, 0, 500).1;
    assert_ne!(big, class);
    s.get(b"k0").unwrap();
    clock.advance(2);
    assert_eq!(s.lru_crawl(CrawlTarget::Hash), CrawlReply::Error);
    assert_eq!(s.lru_crawl(CrawlTarget::Classes(0)), CrawlReply::NotStarted);
    let dump = s.lru_dump(DumpKind::Meta, CrawlTarget::All).unwrap();
    assert_eq!(
        s.lru_crawl(CrawlTarget::Classes(1 << class)),
        CrawlReply::Busy
    );
    assert!(s.crawler_stats().running);
    drop(dump);
    assert_eq!(
        s.lru_crawl(CrawlTarget::Classes(1 << class)),
        CrawlReply::Ok
    );
    assert!(wait_for(3, || !s.crawler_stats().running));
    let c = s.crawler_stats();
    assert_eq!(c.crawler_reclaimed, 50);
    assert_eq!(c.expired_unfetched, 49, "k0 was read");
    assert_eq!(c.starts, 2, "the dump and the crawl");
    let k = s.classes().counters(class);
    assert_eq!(k.crawler_items_checked.load(Ordering::Relaxed), 51);
    assert_eq!(s.stats().curr_items, 2, "never, and big in its own class");
    // tocrawl: at most that many items checked per class.
    for i in 0..50 {
        set(&s, &format!("j{i}"), 1);
    }
    clock.advance(2);
    s.set_crawler_tocrawl(10);
    let first = s.crawler_stats();
    assert_eq!(s.lru_crawl(CrawlTarget::All), CrawlReply::Ok);
    assert!(wait_for(3, || !s.crawler_stats().running));
    assert_eq!(k.crawler_items_checked.load(Ordering::Relaxed), 61);
    // Which 10 of the class's 51 items are checked follows the walk's order: `never` may be one
    // of them. The expired j's among the 10 are reclaimed, and big, alone in its class.
    let reclaimed = s.crawler_stats().crawler_reclaimed - first.crawler_reclaimed;
    assert!((10..=11).contains(&reclaimed), "{reclaimed}");
    let j_left = 50 - (reclaimed - 1);
    // Flushed items are crawler_reclaimed but not expired_unfetched.
    s.set_crawler_tocrawl(0);
    for i in 0..5 {
        set(&s, &format!("f{i}"), 0);
    }
    clock.advance(2);
    let before = s.crawler_stats();
    s.flush_all(0);
    assert_eq!(s.lru_crawl(CrawlTarget::All), CrawlReply::Ok);
    assert!(wait_for(3, || !s.crawler_stats().running));
    let after = s.crawler_stats();
    assert_eq!(s.stats().curr_items, 0);
    // The j's left (expired, and now flushed too), the 5 f's, and never.
    assert_eq!(
        after.crawler_reclaimed - before.crawler_reclaimed,
        j_left + 5 + 1
    );
    assert_eq!(after.expired_unfetched, before.expired_unfetched);
}

fn dump(s: &Store, kind: DumpKind, target: CrawlTarget) -> Vec<u8> {
    let mut out = Vec::new();
    let done = s.lru_dump(kind, target).unwrap().run(|piece| {
        out.extend_from_slice(piece);
        true
    });
    assert!(done);
    out
}

/// metadump's and mgdump's lines, byte for byte as memcached 1.6.45 writes them (times aside,
/// which come from the clock): URL-encoded keys, binary keys in base64 with ` b` for mgdump,
/// oldest first, dead items left out.
#[test]
fn dump_lines_are_memcacheds() {
    let (s, clock) = store_with(false);
    let started = s.times.process_started;
    assert_eq!(
        s.store(StoreMode::Set, b"a", 0, 0, b"x"),
        StoreOutcome::Stored
    );
    assert_eq!(
        s.store(StoreMode::Set, b"b\xff%20", 5, 100, b"xy"),
        StoreOutcome::Stored
    );
    let meta = crate::MetaStore {
        binary_key: true,
        ..crate::MetaStore::default()
    };
    s.store_with(StoreMode::Set, b"foo", 0, 0, b"hi", &meta);
    set(&s, "gone", 1);
    s.get(b"a").unwrap();
    clock.advance(2);
    let now = u64::from(s.now()) + started;
    let la = now - 2;
    let meta = dump(&s, DumpKind::Meta, CrawlTarget::All);
    assert_eq!(
        meta,
        format!(
            "OK\r\n\
             key=a exp=-1 la={la} cas=2 fetch=yes cls=1 size=61 flags=0 \n\
             key=b%FF%2520 exp={} la={la} cas=3 fetch=no cls=1 size=70 flags=5 \n\
             key=foo exp=-1 la={la} cas=4 fetch=no cls=1 size=64 flags=0 \n\
             END\r\n",
            la + 100
        )
        .into_bytes()
    );
    let mg = dump(&s, DumpKind::Mg, CrawlTarget::Hash);
    assert_eq!(mg, b"OK\r\nmg a\r\nmg b\xff%20\r\nmg Zm9v b\r\nEN\r\n");
    assert_eq!(
        dump(&s, DumpKind::Mg, CrawlTarget::Classes(1 << 2)),
        b"OK\r\nEN\r\n"
    );
    // Class-list dumps count the items they check; hash dumps do not.
    let checked = s.crawler_stats().crawler_items_checked;
    assert_eq!(
        checked, 4,
        "the 'all' dump checked every item, the expired one too"
    );
}

/// A dump of many items goes out in pieces of bounded size, and stops when told to.
#[test]
fn a_large_dump_is_sent_in_bounded_pieces() {
    let (s, _) = store_with(false);
    let n = 30_000;
    for i in 0..n {
        set(&s, &format!("key:{i:08}"), 0);
    }
    let mut pieces = 0;
    let mut lines = 0;
    let mut largest = 0;
    let done = s
        .lru_dump(DumpKind::Meta, CrawlTarget::All)
        .unwrap()
        .run(|piece| {
            pieces += 1;
            largest = largest.max(piece.len());
            lines += piece.iter().filter(|&&b| b == b'\n').count();
            true
        });
    assert!(done);
    assert_eq!(lines, n + 2, "OK, the items, END");
    // The crawler is free before the last piece goes, so a client reading END may ask for
    // the next dump at once.
    let mut free_at_end = false;
    s.lru_dump(DumpKind::Mg, CrawlTarget::All)
        .unwrap()
        .run(|piece| {
            free_at_end = piece.ends_with(b"EN\r\n") && !s.crawler_stats().running;
            true
        });
    assert!(free_at_end);
    assert!(pieces > 10, "{pieces} pieces");
    assert!(largest < DUMP_CHUNK + ORDER_BATCH * 128, "{largest} bytes");
    // A client gone after the first piece: the dump stops, and the next may start.
    let mut sent = 0;
    let done = s
        .lru_dump(DumpKind::Mg, CrawlTarget::All)
        .unwrap()
        .run(|_| {
            sent += 1;
            false
        });
    assert!(!done);
    assert_eq!(sent, 1);
    assert!(!s.crawler_stats().running);
    assert!(s.lru_dump(DumpKind::Mg, CrawlTarget::All).is_ok());
}

#[test]
fn keys_are_url_encoded_as_memcached_does() {
    let mut out = Vec::new();
    uriencode(b"aZ09-._~ /%\x00\xff+", &mut out);
    assert_eq!(out, b"aZ09-._~%20%2F%25%00%FF%2B");
}

/// The thread does not keep a dropped store alive, and stops with it.
#[test]
fn the_thread_ends_with_the_store() {
    let (s, _) = store_with(true);
    let weak = Arc::downgrade(&s.core);
    drop(s);
    assert!(wait_for(2, || weak.upgrade().is_none()));
}

/// What memcached's flush unlinks itself (items of the flush's second and the one before)
/// is removed without a count; an item stored already expired is left to reads for
/// MIN_AGE seconds, so a read right after the store counts it in `get_expired`.
#[test]
fn recent_items_are_left_or_uncounted() {
    let (s, clock) = store_with(false);
    set(&s, "fresh", 0);
    s.flush_all(0);
    s.walk(Walk::Background);
    assert_eq!(s.stats().curr_items, 0);
    assert_eq!(s.crawler_stats().reclaimed, 0);
    set(&s, "past", -1);
    s.walk(Walk::Background);
    assert_eq!(s.stats().curr_items, 1, "left for a moment");
    clock.advance(u64::from(MIN_AGE));
    s.walk(Walk::Background);
    assert_eq!(s.stats().curr_items, 0);
    assert_eq!(s.crawler_stats().reclaimed, 1);
    set(&s, "past", -1);
    s.walk(Walk::Background);
    assert!(s.get(b"past").is_none());
    assert_eq!(s.stats().get_expired, 1);
}
