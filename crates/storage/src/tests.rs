//! Unit tests of the store's memcached semantics.

use super::*;
use bytes::Bytes;
use std::thread;

/// A store on a manual clock, without the crawler's background reclaim: these tests count
/// what reads find dead, which the crawler would otherwise race to remove first.
fn store() -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let mut config = StoreConfig::default();
    config.crawler.reclaim = false;
    (Store::with_clock(config, clock.clone()), clock)
}

fn set(s: &Store, key: &str, value: &str, exptime: i64) -> StoreOutcome {
    s.store(
        StoreMode::Set,
        key.as_bytes(),
        0,
        exptime,
        Bytes::copy_from_slice(value.as_bytes()),
    )
}

fn value(s: &Store, key: &str) -> Option<String> {
    s.get(key.as_bytes())
        .map(|i| String::from_utf8(i.value.to_vec()).unwrap())
}

#[test]
fn exptime_rules() {
    let (s, clock) = store();
    let now = clock.unix_now() as i64;
    assert_eq!(set(&s, "never", "v", 0), StoreOutcome::Stored);
    assert_eq!(set(&s, "rel", "v", 10), StoreOutcome::Stored);
    assert_eq!(set(&s, "abs", "v", now + 10), StoreOutcome::Stored);
    assert_eq!(set(&s, "past", "v", now - 10), StoreOutcome::Stored);
    assert_eq!(set(&s, "neg", "v", -1), StoreOutcome::Stored);
    assert_eq!(value(&s, "past"), None);
    assert_eq!(value(&s, "neg"), None);
    assert_eq!(value(&s, "rel").as_deref(), Some("v"));
    clock.advance(9);
    assert_eq!(value(&s, "rel").as_deref(), Some("v"));
    assert_eq!(value(&s, "abs").as_deref(), Some("v"));
    clock.advance(1);
    assert_eq!(value(&s, "rel"), None);
    assert_eq!(value(&s, "abs"), None);
    assert_eq!(value(&s, "never").as_deref(), Some("v"));
    assert_eq!(s.stats().get_expired, 4);
}

#[test]
fn a_set_with_negative_exptime_removes_the_old_value() {
    let (s, _) = store();
    set(&s, "k", "old", 0);
    set(&s, "k", "new", -1);
    assert_eq!(value(&s, "k"), None);
    assert_eq!(
        s.store(StoreMode::Add, b"k", 0, 0, Bytes::from_static(b"x")),
        StoreOutcome::Stored
    );
}

#[test]
fn modes_known_answers() {
    let (s, _) = store();
    let b = |v: &'static str| Bytes::from_static(v.as_bytes());
    assert_eq!(
        s.store(StoreMode::Replace, b"k", 0, 0, b("x")),
        StoreOutcome::NotStored
    );
    assert_eq!(
        s.store(StoreMode::Append, b"k", 0, 0, b("x")),
        StoreOutcome::NotStored
    );
    assert_eq!(
        s.store(StoreMode::Cas(1), b"k", 0, 0, b("x")),
        StoreOutcome::NotFound
    );
    assert_eq!(
        s.store(StoreMode::Add, b"k", 7, 0, b("b")),
        StoreOutcome::Stored
    );
    assert_eq!(
        s.store(StoreMode::Add, b"k", 0, 0, b("x")),
        StoreOutcome::NotStored
    );
    assert_eq!(
        s.store(StoreMode::Append, b"k", 1, 0, b("c")),
        StoreOutcome::Stored
    );
    assert_eq!(
        s.store(StoreMode::Prepend, b"k", 2, 0, b("a")),
        StoreOutcome::Stored
    );
    let item = s.get(b"k").unwrap();
    assert_eq!(&item.value[..], b"abc");
    assert_eq!(item.flags, 7, "append/prepend keep the old flags");
    assert_eq!(
        s.store(StoreMode::Cas(item.cas + 1), b"k", 0, 0, b("x")),
        StoreOutcome::Exists
    );
    assert_eq!(
        s.store(StoreMode::Cas(item.cas), b"k", 0, 0, b("y")),
        StoreOutcome::Stored
    );
    assert_eq!(value(&s, "k").as_deref(), Some("y"));
    let st = s.stats();
    assert_eq!((st.cas_misses, st.cas_badval, st.cas_hits), (1, 1, 1));
    assert_eq!(st.cmd_set, 9);
}

#[test]
fn every_mutation_takes_a_new_cas_but_touch_does_not() {
    let (s, _) = store();
    set(&s, "n", "1", 0);
    let a = s.get(b"n").unwrap().cas;
    s.incr_decr(b"n", 1, true);
    let b = s.get(b"n").unwrap().cas;
    assert!(b > a);
    s.touch(b"n", 100);
    assert_eq!(s.get(b"n").unwrap().cas, b);
}

#[test]
fn incr_decr_known_answers() {
    let (s, _) = store();
    let table: &[(&str, u64, bool, ArithOutcome, &str)] = &[
        ("0", 1, true, ArithOutcome::Value(1), "1"),
        ("99", 1, true, ArithOutcome::Value(100), "100"),
        ("100", 1, false, ArithOutcome::Value(99), "99 "),
        ("5", 10, false, ArithOutcome::Value(0), "0"),
        (
            "18446744073709551615",
            1,
            true,
            ArithOutcome::Value(0),
            "0                   ",
        ),
        (" 5", 1, true, ArithOutcome::Value(6), "6 "),
        ("5 x", 1, true, ArithOutcome::Value(6), "6  "),
        (
            "000000000000000000000000000001",
            1,
            true,
            ArithOutcome::Value(2),
            "2                             ",
        ),
        ("-1", 1, true, ArithOutcome::NonNumeric, "-1"),
        ("abc", 1, true, ArithOutcome::NonNumeric, "abc"),
        ("12abc", 1, true, ArithOutcome::NonNumeric, "12abc"),
        ("", 1, true, ArithOutcome::NonNumeric, ""),
    ];
    for (start, delta, incr, want, after) in table {
        set(&s, "n", start, 0);
        assert_eq!(s.incr_decr(b"n", *delta, *incr), *want, "{start:?}");
        assert_eq!(value(&s, "n").as_deref(), Some(*after), "{start:?}");
    }
    assert_eq!(s.incr_decr(b"missing", 1, true), ArithOutcome::NotFound);
    assert_eq!(s.stats().incr_misses, 1);
}

#[test]
fn flush_all_hides_older_items_and_keeps_newer_ones() {
    let (s, clock) = store();
    set(&s, "old", "v", 0);
    clock.advance(2);
    set(&s, "recent", "v", 0);
    s.flush_all(0);
    set(&s, "new", "v", 0);
    assert_eq!(value(&s, "old"), None);
    assert_eq!(value(&s, "recent"), None);
    assert_eq!(value(&s, "new").as_deref(), Some("v"));
    // memcached unlinks the recent item during the flush (a later read is a plain miss) and
    // finds the old one flushed when it is read.
    assert_eq!(s.stats().get_flushed, 1);
    // A delayed flush hides everything stored before its deadline, once it passes.
    s.flush_all(2);
    set(&s, "soon", "v", 0);
    assert_eq!(value(&s, "new").as_deref(), Some("v"));
    clock.advance(2);
    assert_eq!(value(&s, "new"), None);
    assert_eq!(value(&s, "soon"), None);
    set(&s, "after", "v", 0);
    assert_eq!(value(&s, "after").as_deref(), Some("v"));
    // Flushed items do not satisfy add/replace/incr.
    s.flush_all(0);
    assert_eq!(
        s.store(StoreMode::Replace, b"after", 0, 0, Bytes::from_static(b"x")),
        StoreOutcome::NotStored
    );
}

#[test]
fn cas_values_start_at_2_and_flush_all_spends_none() {
    let (s, _) = store();
    set(&s, "a", "v", 0);
    let a = s.get(b"a").unwrap().cas;
    assert_eq!(a, 2, "memcached 1.6.45's first CAS");
    s.flush_all(0);
    set(&s, "b", "v", 0);
    assert_eq!(s.get(b"b").unwrap().cas, a + 1);
}

#[test]
fn size_limit_counts_like_memcached() {
    let (s, _) = store();
    // memcached 1.6 at -I 1m: 1048516 bytes fit with a 1-byte key and flags 0.
    assert!(s.item_size_ok(1, 0, 1_048_516));
    assert!(!s.item_size_ok(1, 0, 1_048_517));
    assert!(s.item_size_ok(1, 1, 1_048_512));
    assert!(!s.item_size_ok(1, 1, 1_048_513));
    assert!(s.item_size_ok(250, 0, 1_048_267));
    set(&s, "k", "old", 0);
    let big = Bytes::from(vec![b'x'; 1_048_517]);
    assert_eq!(
        s.store(StoreMode::Set, b"k", 0, 0, big),
        StoreOutcome::TooLarge
    );
    assert_eq!(value(&s, "k"), None, "a failed set removes the old value");
    assert_eq!(s.stats().store_too_large, 1);
}

#[test]
fn counters_follow_memcached() {
    let (s, _) = store();
    set(&s, "a", "1", 0);
    s.get(b"a");
    s.get(b"b");
    s.get_and_touch(b"a", 10);
    s.get_and_touch(b"b", 10);
    s.delete(b"a");
    s.delete(b"a");
    let st = s.stats();
    assert_eq!((st.cmd_get, st.get_hits, st.get_misses), (2, 1, 1));
    assert_eq!((st.cmd_touch, st.touch_hits, st.touch_misses), (2, 1, 1));
    assert_eq!((st.delete_hits, st.delete_misses), (1, 1));
    assert_eq!((st.curr_items, st.total_items), (0, 1));
}

#[test]
fn no_evict_refuses_when_full() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let s = Store::with_clock(
        StoreConfig {
            memory_limit: 100 * (ENTRY_OVERHEAD as u64 + 110),
            no_evict: true,
            ..StoreConfig::default()
        },
        clock,
    );
    let mut refused = 0;
    for i in 0..200 {
        let v = Bytes::from(vec![b'v'; 100]);
        if s.store(StoreMode::Set, format!("key{i:05}").as_bytes(), 0, 0, v)
            == StoreOutcome::OutOfMemory
        {
            refused += 1;
        }
    }
    assert!(refused >= 100, "refused {refused}");
    assert_eq!(s.stats().store_no_memory, refused);
    s.sync();
    assert_eq!(s.stats().evictions, 0, "-M never evicts");
    assert_eq!(s.stats().curr_items, 200 - refused);
    assert_eq!(value(&s, "key00000").map(|v| v.len()), Some(100));
}

#[test]
fn lru_keeps_the_value_just_stored_when_full() {
    let s = Store::new(StoreConfig {
        memory_limit: 200 * (ENTRY_OVERHEAD as u64 + 110),
        ..StoreConfig::default()
    });
    for i in 0..2000 {
        let v = Bytes::from(vec![b'v'; 100]);
        let key = format!("key{i:05}");
        assert_eq!(
            s.store(StoreMode::Set, key.as_bytes(), 0, 0, v),
            StoreOutcome::Stored
        );
        s.sync();
        assert!(
            s.get(key.as_bytes()).is_some(),
            "{key} readable right after set"
        );
    }
    s.sync();
    let st = s.stats();
    assert!(st.evictions > 1000, "{st:?}");
    assert!(st.curr_items <= 200, "{st:?}");
}

/// The front table (see `front`) never answers with an item older than the last write, nor
/// with one that was deleted or that moka let go: writers read their own keys back while
/// other threads read them (racing fills against the writes) and a small cache evicts.
#[test]
fn reads_through_the_front_table_see_the_last_write() {
    // A clock that stands still: the front table keeps what it is given (its interval is
    // tuned from the evictions of each new second).
    let s = Store::with_clock(
        StoreConfig {
            memory_limit: 800 * (ENTRY_OVERHEAD as u64 + 40),
            ..StoreConfig::default()
        },
        Arc::new(ManualClock::new(1_800_000_000)),
    );
    let done = AtomicBool::new(false);
    // Few keys per writer, so that the readers often race a write to the same key; the
    // padding keys (never read) make the evictions.
    let key = |t: u32, n: u32| format!("t{t}:{}", n % 8);
    thread::scope(|scope| {
        let writers: Vec<_> = (0..3u32)
            .map(|t| {
                let (s, key) = (&s, &key);
                scope.spawn(move || {
                    for n in 0..30_000u32 {
                        let k = key(t, n);
                        let v = Bytes::from(n.to_string());
                        assert_eq!(
                            s.store(StoreMode::Set, k.as_bytes(), 0, 0, v.clone()),
                            StoreOutcome::Stored
                        );
                        // Evicted already (None) is fine; an older value is not.
                        if let Some(i) = s.get(k.as_bytes()) {
                            assert_eq!(&i.value[..], &v[..], "{k} after storing {n}");
                        }
                        let pad = format!("pad{t}:{n}");
                        s.store(StoreMode::Set, pad.as_bytes(), 0, 0, Bytes::from("p"));
                        if n % 7 == 0 {
                            s.delete(k.as_bytes());
                            assert!(s.get(k.as_bytes()).is_none(), "{k} after delete");
                        }
                    }
                })
            })
            .collect();
        for r in 0..2u32 {
            let (s, key, done) = (&s, &key, &done);
            scope.spawn(move || {
                let mut n = r;
                while !done.load(Ordering::Relaxed) {
                    n = n.wrapping_mul(2_654_435_761).wrapping_add(1);
                    s.get(key(n % 3, n >> 20).as_bytes());
                }
            });
        }
        for w in writers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    s.sync();
    let st = s.stats();
    assert!(st.evictions > 1000, "{st:?}");
    let readable = (0..3)
        .flat_map(|t| (0..30_000).map(move |n| format!("pad{t}:{n}")))
        .filter(|k| s.get(k.as_bytes()).is_some())
        .count();
    assert!(
        readable as u64 <= st.curr_items,
        "{readable} keys readable, {} items held",
        st.curr_items
    );
}

/// A read that finds a dead item (expired here) does not copy it into the front table, where
/// it would only take a live item's slot (after a mass expiry, every read would).
#[test]
fn dead_items_are_not_copied_to_the_front_table() {
    let (s, clock) = store();
    let keys: Vec<Key> = (0..2100)
        .map(|i| Key::new(format!("k{i}").as_bytes()))
        .collect();
    for k in &keys {
        s.store(StoreMode::Set, k.bytes(), 0, 10, Bytes::from("v"));
        // Out of the front table, as if other keys had taken the slot since.
        s.cache.front.forget(k);
    }
    clock.advance(11);
    let now = s.now();
    for k in &keys {
        assert!(s.get(k.bytes()).is_none());
    }
    // Past the removal budget, reads left the dead items in moka, and read them from there.
    let left = keys.iter().filter(|k| s.cache.get(k).is_some()).count();
    assert!(left >= 100, "{left} dead items left");
    for k in &keys {
        assert!(s.cache.front.get(k, now).is_err(), "{:?} kept", k.bytes());
    }
}

#[test]
fn concurrent_increments_sum_exactly() {
    let (s, _) = store();
    set(&s, "n", "0", 0);
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..5000 {
                    assert!(matches!(s.incr_decr(b"n", 1, true), ArithOutcome::Value(_)));
                }
            });
        }
    });
    assert_eq!(value(&s, "n").as_deref().map(str::trim), Some("40000"));
}

#[test]
fn concurrent_cas_and_add_have_one_winner_and_appends_lose_nothing() {
    let (s, _) = store();
    for round in 0..50 {
        set(&s, "c", "start", 0);
        let unique = s.get(b"c").unwrap().cas;
        let key = format!("add{round}");
        let (cas_wins, add_wins) = thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|i| {
                    let s = &s;
                    let key = key.clone();
                    scope.spawn(move || {
                        let v = Bytes::from(format!("t{i}"));
                        let cas = s.store(StoreMode::Cas(unique), b"c", 0, 0, v.clone());
                        let add = s.store(StoreMode::Add, key.as_bytes(), 0, 0, v);
                        (cas == StoreOutcome::Stored, add == StoreOutcome::Stored)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .fold((0, 0), |(c, a), (cw, aw)| {
                    (c + usize::from(cw), a + usize::from(aw))
                })
        });
        assert_eq!((cas_wins, add_wins), (1, 1), "round {round}");
    }
    set(&s, "log", "", 0);
    thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..500 {
                    s.store(StoreMode::Append, b"log", 0, 0, Bytes::from_static(b"x"));
                }
            });
        }
    });
    assert_eq!(value(&s, "log").map(|v| v.len()), Some(4000));
}

#[test]
fn readers_remove_at_most_a_budget_of_dead_items_per_second() {
    let (s, clock) = store();
    for i in 0..3000 {
        set(&s, &format!("k{i}"), "v", 0);
    }
    // Older than the flush's second, so each read finds its item flushed (not unlinked).
    clock.advance(2);
    s.flush_all(0);
    for i in 0..3000 {
        assert_eq!(value(&s, &format!("k{i}")), None);
    }
    s.sync();
    let st = s.stats();
    assert_eq!(st.get_flushed, 3000);
    // 2000 removed by the readers this second; the rest stay (never returned) until a later
    // second's readers or eviction take them.
    assert_eq!(st.curr_items, 1000);
    clock.advance(1);
    for i in 0..3000 {
        assert_eq!(value(&s, &format!("k{i}")), None);
    }
    s.sync();
    assert_eq!(s.stats().curr_items, 0);
}

/// `curr_items`, `bytes` and `evictions`: every way an entry arrives or leaves must keep them
/// equal to what memcached would report.
#[test]
fn item_counts_follow_every_way_an_entry_leaves() {
    let (s, clock) = store();
    let size = |key: &str, flags: u32, len: usize| ntotal(key.len(), flags, len, true) as u64;
    set(&s, "a", "12345", 0);
    set(&s, "a", "123", 0); // replaced: still one item
    s.store(StoreMode::Set, b"b", 7, 0, Bytes::from_static(b"xy"));
    set(&s, "c", "gone soon", 5);
    s.store(StoreMode::Append, b"a", 0, 0, Bytes::from_static(b"45"));
    s.incr_decr(b"a", 1, true); // 12345 -> 12346 in place
    let st = s.stats();
    assert_eq!(st.curr_items, 3);
    assert_eq!(
        st.bytes,
        size("a", 0, 5) + size("b", 7, 2) + size("c", 0, 9)
    );
    assert_eq!(st.evictions, 0);
    // A delete, an expired item found by a read, and a failed set that unlinks: none is
    // an eviction.
    s.delete(b"b");
    clock.advance(6);
    assert_eq!(value(&s, "c"), None);
    s.unlink(b"a");
    let st = s.stats();
    assert_eq!((st.curr_items, st.bytes, st.evictions), (0, 0, 0));

    // A small budget: 1000 new keys evict most of the earlier ones.
    let small = Store::new(StoreConfig {
        memory_limit: 100 * (ENTRY_OVERHEAD as u64 + 110),
        ..StoreConfig::default()
    });
    for i in 0..1000 {
        let v = Bytes::from(vec![b'v'; 100]);
        small.store(StoreMode::Set, format!("key{i:05}").as_bytes(), 0, 0, v);
    }
    small.delete(b"key00999");
    // moka evicts in its bookkeeping; apply it.
    small.sync();
    let st = small.stats();
    assert!(st.curr_items > 50 && st.curr_items <= 100, "{st:?}");
    assert_eq!(st.evictions + st.curr_items + 1, 1000, "{st:?}");
    assert_eq!(st.bytes, st.curr_items * size("key00000", 0, 100));
    // `stats reset` zeroes evictions, as memcached does; later ones count from there. The
    // store is full but for the deleted key's room (if moka had admitted that key before the
    // delete), so 10 new keys evict 9 or 10, and every one of them is either held or evicted
    // an older one.
    small.reset_stats();
    assert_eq!(small.stats().evictions, 0);
    let held = st.curr_items;
    for i in 0..10 {
        let v = Bytes::from(vec![b'v'; 100]);
        small.store(StoreMode::Set, format!("new{i:05}").as_bytes(), 0, 0, v);
    }
    small.sync();
    let st = small.stats();
    assert!(st.evictions == 9 || st.evictions == 10, "{st:?}");
    assert_eq!(st.curr_items, held + 10 - st.evictions, "{st:?}");
    assert_eq!(st.total_items, 10);
}

/// `stats` during a burst of new keys must report no evictions while the cache is not full.
#[test]
fn stats_under_concurrent_inserts_reports_no_phantom_evictions() {
    let s = Arc::new(Store::new(StoreConfig {
        memory_limit: 1 << 30,
        ..StoreConfig::default()
    }));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let s = s.clone();
            thread::spawn(move || {
                for i in 0..100_000 {
                    let key = format!("w{t}:{i}");
                    s.store(
                        StoreMode::Set,
                        key.as_bytes(),
                        0,
                        0,
                        Bytes::from_static(b"v"),
                    );
                }
            })
        })
        .collect();
    let mut polls = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        assert_eq!(s.stats().evictions, 0, "after {polls} polls");
        polls += 1;
    }
    for w in writers {
        w.join().unwrap();
    }
    let st = s.stats();
    assert_eq!((st.curr_items, st.evictions), (200_000, 0));
}

/// memcached allows `-I` up to half of `-m` (`-m 64 -I 32m`) and stores such items. The
/// store's moka caches each hold a share of `-m`; an item heavier than its cache's share
/// would be answered STORED and then dropped by moka, so the store uses fewer, larger
/// caches when the item limit asks for it. (Up to `-m 127` there is one cache anyway; at
/// `-m 256` there would be four of 64 MiB, too small for the 66 MB item.)
#[test]
fn items_up_to_half_the_memory_limit_are_kept() {
    for (limit_mb, item_mb, value_mb) in [
        (256, 70, 66),
        (64, 32, 20),
        (64, 8, 7),
        (16, 8, 6),
        (64, 1, 1),
    ] {
        let s = Store::new(StoreConfig {
            memory_limit: limit_mb << 20,
            item_size_max: item_mb << 20,
            ..StoreConfig::default()
        });
        let v = Bytes::from(vec![b'v'; (value_mb << 20) - 100]);
        assert_eq!(
            s.store(StoreMode::Set, b"big", 0, 0, v),
            StoreOutcome::Stored
        );
        s.sync();
        assert!(
            s.get(b"big").is_some(),
            "-m {limit_mb} -I {item_mb}m: a {value_mb} MB item was dropped"
        );
        assert_eq!(s.stats().evictions, 0);
    }
}

/// Ballast is weight that is no item: moka evicts the oldest items to make room for it, no
/// client sees it (not in `get`, `curr_items`, `bytes`, `evictions` or the dump), and taking
/// it back leaves the room to new items.
#[test]
fn ballast_makes_room_and_is_invisible() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let config = StoreConfig {
        memory_limit: 8 << 20,
        ..StoreConfig::default()
    };
    let s = Store::with_clock(config, clock);
    let v = "v".repeat(1000);
    for i in 0..20_000 {
        set(&s, &format!("k{i}"), &v, 0);
    }
    s.sync();
    let full = s.stats();
    assert!(full.curr_items > 5_000, "{}", full.curr_items);
    s.set_ballast(4 << 20);
    s.sync();
    let after = s.stats();
    // About half the items went, the oldest first.
    assert!(
        after.curr_items < full.curr_items * 6 / 10,
        "{} of {}",
        after.curr_items,
        full.curr_items
    );
    assert!(after.curr_items > full.curr_items * 3 / 10);
    assert_eq!(value(&s, "k19999").as_deref(), Some(v.as_str()));
    assert!(s.charged_bytes() <= 4 << 20);
    // Every key is one class (1,000-byte values).
    let class = s.classes().item(6, 0, 1000).1;
    assert_eq!(s.classes().item(2, 0, 1000).1, class);
    assert_eq!(s.dump(class, 1_000_000).len() as u64, after.curr_items);
    // The ballast stays while new items come (it is put back on every call).
    for i in 20_000..30_000 {
        set(&s, &format!("k{i}"), &v, 0);
        if i % 1000 == 0 {
            s.set_ballast(4 << 20);
        }
    }
    s.sync();
    assert!(s.stats().curr_items < full.curr_items * 6 / 10);
    // Taken back, its room holds items again.
    s.set_ballast(0);
    for i in 30_000..40_000 {
        set(&s, &format!("k{i}"), &v, 0);
    }
    s.sync();
    let refilled = s.stats();
    assert!(
        refilled.curr_items > full.curr_items * 9 / 10,
        "{} of {}",
        refilled.curr_items,
        full.curr_items
    );
    assert_eq!(
        refilled.bytes / refilled.curr_items,
        full.bytes / full.curr_items
    );
}

/// Stores `n` 1000-byte values under `prefix`, letting moka finish its evictions. Every 256
/// stores it calls `set_ballast(0)`, as the server's memory guard does every 10 ms: that
/// keeps the ballast among the most recently used.
fn fill(s: &Store, prefix: &str, n: usize) {
    for i in 0..n {
        let v = Bytes::from(vec![b'v'; 1000]);
        s.store(
            StoreMode::Set,
            format!("{prefix}{i:06}").as_bytes(),
            0,
            0,
            v,
        );
        if i % 256 == 0 {
            s.set_ballast(0);
        }
    }
    for _ in 0..4 {
        s.sync();
    }
}

/// Lets moka apply its evictions: each maintenance run stops after 100 ms (with an
/// eviction listener), so a large eviction takes several, as the housekeeper makes them.
fn settle(s: &Store, limit: u64) {
    for _ in 0..1000 {
        if s.charged_bytes() <= limit {
            return;
        }
        s.sync();
    }
}

/// `cache_memlimit` changes what items may hold, down (paced, evicting the least recently
/// used) and up (at once, to the ceiling moka was built with), not only the figure shown.
#[test]
fn memory_limit_changes_the_real_capacity_down_and_up() {
    const MB: u64 = 1 << 20;
    let s = Store::new(StoreConfig {
        memory_limit: 8 * MB,
        memory_ceiling: 32 * MB,
        ..StoreConfig::default()
    });
    assert_eq!(s.capacity(), 8 * MB);
    // Full at the start-up budget.
    fill(&s, "a", 16_000);
    let at_8 = s.stats().curr_items;
    assert!(s.charged_bytes() <= 8 * MB, "{}", s.charged_bytes());
    assert!(s.charged_bytes() > 7 * MB, "{}", s.charged_bytes());

    // Up: more items fit than before, without waiting.
    s.set_memory_limit(24 * MB);
    assert_eq!(s.capacity(), 24 * MB);
    fill(&s, "b", 40_000);
    settle(&s, 24 * MB);
    let at_24 = s.stats().curr_items;
    assert!(
        at_24 > at_8 * 29 / 10,
        "{at_24} items at 24 MB, {at_8} at 8 MB"
    );
    assert!(s.charged_bytes() <= 24 * MB && s.charged_bytes() > 22 * MB);

    // Down: a step per call, until the bytes are under the new budget.
    let evicted = s.stats().evictions;
    s.set_memory_limit(4 * MB);
    assert_eq!(
        s.capacity(),
        24 * MB,
        "nothing evicted by the command itself"
    );
    let mut steps = 0;
    while s.capacity() > 4 * MB {
        s.set_ballast(0);
        s.sync();
        steps += 1;
        assert!(s.capacity() >= 4 * MB);
    }
    assert_eq!(steps, (20 * MB).div_ceil(RESERVE_STEP));
    settle(&s, 4 * MB);
    let st = s.stats();
    assert!(s.charged_bytes() <= 4 * MB, "{}", s.charged_bytes());
    assert!(s.charged_bytes() > 3 * MB, "{}", s.charged_bytes());
    assert!(st.evictions - evicted > at_24 * 3 / 4, "{st:?}");
    // New items keep it there, and the newest are the ones kept.
    fill(&s, "c", 10_000);
    settle(&s, 4 * MB);
    assert!(s.charged_bytes() <= 4 * MB);
    assert!(s.get(b"c009999").is_some());

    // Past the ceiling: the ceiling.
    s.set_memory_limit(1024 * MB);
    assert_eq!(s.capacity(), 32 * MB);
    fill(&s, "d", 40_000);
    settle(&s, 32 * MB);
    assert!(s.charged_bytes() <= 32 * MB && s.charged_bytes() > 30 * MB);
}

/// With `-M` the budget is the admission limit: lowering refuses new items and evicts none.
#[test]
fn memory_limit_with_no_evict_refuses_rather_than_evicts() {
    const MB: u64 = 1 << 20;
    let s = Store::new(StoreConfig {
        memory_limit: 16 * MB,
        memory_ceiling: 64 * MB,
        no_evict: true,
        ..StoreConfig::default()
    });
    fill(&s, "a", 8_000);
    let before = s.stats().curr_items;
    s.set_memory_limit(8 * MB);
    s.set_ballast(0);
    fill(&s, "b", 100);
    let st = s.stats();
    assert_eq!(st.evictions, 0);
    assert_eq!(st.curr_items, before);
    assert_eq!(st.store_no_memory, 100);
    s.set_memory_limit(32 * MB);
    fill(&s, "c", 8_000);
    assert_eq!(s.stats().curr_items, before + 8_000);
}

/// Reads a class counter.
fn class_stat(s: &Store, class: u8, field: fn(&ClassCounters) -> &AtomicU64) -> u64 {
    field(s.classes().counters(class)).load(Ordering::Relaxed)
}

/// Reads a class's hit counters, summed over the threads.
fn class_hits(s: &Store, class: u8) -> slabs::ClassHitCounts {
    s.classes().hits(class)
}

#[test]
fn items_are_counted_under_memcacheds_classes_as_they_come_and_go() {
    let (s, _) = store();
    set(&s, "a", "1", 0);
    set(&s, "b", &"x".repeat(3000), 0);
    let (small, big) = (s.classes().item(1, 0, 1), s.classes().item(1, 0, 3000));
    // memcached 1.6.45: a 1-byte value with a 1-byte key is 61 bytes, class 1; 3,000 bytes
    // are 3,060, class 17 (3,632-byte chunks).
    assert_eq!((small, big), ((61, 1), (3060, 17)));
    s.sync();
    let k = |class: u8| s.classes().counters(class);
    assert_eq!(slabs::level(&k(1).number), 1);
    assert_eq!(slabs::level(&k(1).requested), 61);
    assert_eq!(slabs::level(&k(17).chunks), 1);
    assert_eq!(value(&s, "a").as_deref(), Some("1"));
    assert_eq!(class_hits(&s, 1).get_hits, 1);
    assert_eq!(class_hits(&s, 17).cmd_set, 1);
    assert!(s.delete(b"b"));
    assert_eq!(class_hits(&s, 17).delete_hits, 1);
    s.sync();
    assert_eq!(slabs::level(&k(17).number), 0);
    assert_eq!(slabs::level(&k(17).requested), 0);
    assert_eq!(slabs::level(&k(17).chunks), 0);
    s.reset_stats();
    assert_eq!(class_hits(&s, 1).get_hits, 0);
    assert_eq!(
        slabs::level(&k(1).number),
        1,
        "stats reset keeps the contents"
    );
}

#[test]
fn a_large_item_takes_chunks_of_other_classes() {
    let (s, _) = store();
    let value = "x".repeat(600_000);
    set(&s, "big", &value, 0);
    s.sync();
    let table = &s.classes().table;
    let largest = table.largest();
    let k = |class: u8| slabs::level(&s.classes().counters(class).chunks);
    // Listed under the largest class, with one full chunk there, its header chunk and the
    // rest of the value in smaller ones.
    assert_eq!(slabs::level(&s.classes().counters(largest).number), 1);
    assert_eq!(k(largest), 1);
    let all: u64 = (0..=largest).map(k).sum();
    assert_eq!(all, 3);
}

#[test]
fn an_expired_item_evicted_for_room_is_reclaimed_not_evicted() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let s = Store::with_clock(
        StoreConfig {
            memory_limit: 200 * (ENTRY_OVERHEAD as u64 + 110),
            ..StoreConfig::default()
        },
        clock.clone(),
    );
    let v = || Bytes::from(vec![b'v'; 100]);
    // 100 items that expire, then 100 that do not, one of them read.
    for i in 0..100 {
        s.store(StoreMode::Set, format!("dead{i:03}").as_bytes(), 0, 5, v());
    }
    for i in 0..100 {
        s.store(
            StoreMode::Set,
            format!("live{i:03}").as_bytes(),
            0,
            100,
            v(),
        );
    }
    assert!(s.get(b"live000").is_some());
    clock.advance(10);
    // Enough new items to push out everything stored before.
    for i in 0..400 {
        s.store(StoreMode::Set, format!("new{i:03}").as_bytes(), 0, 0, v());
        s.sync();
    }
    let class = s.classes().item(7, 0, 100).1;
    let reclaimed = class_stat(&s, class, |k| &k.reclaimed);
    let evicted = class_stat(&s, class, |k| &k.evicted);
    assert_eq!(reclaimed, 100, "the expired ones");
    assert_eq!(class_stat(&s, class, |k| &k.expired_unfetched), 100);
    assert!(evicted >= 100, "at least the live ones: {evicted}");
    assert_eq!(s.stats().evictions, evicted);
    assert_eq!(class_stat(&s, class, |k| &k.evicted_nonzero), 100);
    assert_eq!(
        class_stat(&s, class, |k| &k.evicted_unfetched),
        evicted - 1,
        "all but the one read"
    );
}

#[test]
fn track_sizes_counts_items_in_32_byte_steps() {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let mut config = StoreConfig::default();
    config.slabs.track_sizes = true;
    let s = Store::with_clock(config, clock);
    set(&s, "a", "1", 0); // 61 bytes: the 64-byte step
    set(&s, "b", "2", 0);
    set(&s, "c", &"x".repeat(100), 0); // 160 bytes
    s.sync();
    assert_eq!(s.classes().sizes(), Some(vec![(64, 2), (160, 1)]));
    let (plain, _) = store();
    assert_eq!(plain.classes().sizes(), None);
}

#[test]
fn a_store_over_a_dead_item_reclaims_it() {
    let (s, clock) = store();
    set(&s, "k", "v", 1);
    set(&s, "f", "v", 0);
    assert_eq!(value(&s, "f").as_deref(), Some("v"));
    clock.advance(2);
    s.flush_all(0);
    clock.advance(1);
    // Both dead: the expired one never read, the flushed one read once.
    set(&s, "k", "new", 0);
    set(&s, "f", "new", 0);
    let class = s.classes().item(1, 0, 1).1;
    assert_eq!(class_stat(&s, class, |k| &k.reclaimed), 2);
    assert_eq!(class_stat(&s, class, |k| &k.expired_unfetched), 1);
    // A delete or a read of a dead item is not a reclaim (memcached counts those apart).
    set(&s, "d", "v", 1);
    clock.advance(2);
    assert!(!s.delete(b"d"));
    assert_eq!(class_stat(&s, class, |k| &k.reclaimed), 2);
}

/// The crawler's walks note each class's oldest item, which `stats items` shows as `age`.
#[test]
fn a_census_walk_finds_each_classs_oldest_item() {
    // The crawler's background walks on (`store()` turns them off).
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let s = Store::with_clock(StoreConfig::default(), clock.clone());
    set(&s, "old", "v", 0);
    clock.advance(30);
    set(&s, "new", "v", 0);
    set(&s, "big", &"x".repeat(5000), 0);
    let class = s.classes().item(3, 0, 1).1;
    let big = s.classes().item(3, 0, 5000).1;
    let oldest = |c: u8| s.classes().counters(c).oldest.load(Ordering::Relaxed);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while oldest(class) == 0 || oldest(big) == 0 {
        assert!(std::time::Instant::now() < deadline, "no census walk");
        thread::sleep(std::time::Duration::from_millis(50));
    }
    let now = s.current_time();
    assert_eq!(now - oldest(class), 30);
    assert_eq!(now - oldest(big), 0);
}

/// The counters every request adds to are kept per thread (`counters::Stripes`): `stats`
/// sums every thread's, more threads than stripes included, and `stats reset` zeroes them all.
#[test]
fn counters_of_many_threads_add_up_and_reset() {
    let (s, _) = store();
    set(&s, "k", "v", 0);
    let class = s.classes().item(1, 0, 1).1;
    let threads = 2 * crate::counters::STRIPES;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let s = &s;
            scope.spawn(move || {
                for _ in 0..100 {
                    assert!(s.get(b"k").is_some());
                    assert!(s.get(b"nope").is_none());
                }
                set(s, &format!("t{t}"), "v", 0);
            });
        }
    });
    let st = s.stats();
    let n = threads as u64 * 100;
    assert_eq!((st.cmd_get, st.get_hits, st.get_misses), (2 * n, n, n));
    assert_eq!(st.cmd_set, threads as u64 + 1);
    let hits = s.classes().hits(class);
    assert_eq!((hits.get_hits, hits.cmd_set), (n, threads as u64 + 1));
    s.reset_stats();
    let st = s.stats();
    assert_eq!(
        (st.cmd_get, st.get_hits, st.get_misses, st.cmd_set),
        (0, 0, 0, 0)
    );
    assert_eq!(s.classes().hits(class), Default::default());
}
