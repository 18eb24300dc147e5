//! The warm-restart file: round trips, limits, and every way a file can be bad.

use super::*;
use crate::key::Key;
use crate::{ManualClock, MetaStore, StoreConfig, StoreMode, StoreOutcome};
use std::sync::Arc;

const T0: u64 = 1_800_000_000;

fn store_at(unix: u64, config: StoreConfig) -> (Store, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(unix));
    (Store::with_clock(config, clock.clone()), clock)
}

fn set(s: &Store, key: &str, value: &[u8], flags: u32, exptime: i64) {
    let outcome = s.store(StoreMode::Set, key.as_bytes(), flags, exptime, value);
    assert_eq!(outcome, StoreOutcome::Stored);
}

fn saved(s: &Store) -> Vec<u8> {
    let mut out = Vec::new();
    s.save(&mut out).unwrap();
    out
}

/// The item as the store holds it, without counting a read or marking it fetched.
fn raw(s: &Store, key: &str) -> Option<Item> {
    s.cache.get(&Key::new(key.as_bytes()))
}

/// Adds `marks` to an item, as the meta commands would.
fn mark(s: &Store, key: &str, marks: u8) {
    let k = Key::new(key.as_bytes());
    let old = raw(s, key).unwrap();
    let mut item = old.clone();
    item.marks |= marks;
    assert!(s.link(&k, item, Some(&old), false));
}

fn assert_empty(s: &Store, keys: &[&str]) {
    s.sync();
    assert_eq!(s.stats().curr_items, 0);
    assert_eq!(s.stats().bytes, 0);
    for key in keys {
        assert!(raw(s, key).is_none(), "{key}");
    }
}

#[test]
fn items_come_back_with_their_fields_marks_and_cas() {
    let (s1, _) = store_at(T0, StoreConfig::default());
    set(&s1, "plain", b"alpha", 7, 0);
    let large = vec![b'L'; 5000];
    set(&s1, "large", &large, 0, 100);
    let (outcome, _, _) = s1.store_with(
        StoreMode::Set,
        b"binary",
        1,
        0,
        &b"bin"[..],
        &MetaStore {
            binary_key: true,
            ..MetaStore::default()
        },
    );
    assert_eq!(outcome, StoreOutcome::Stored);
    set(&s1, "stale", b"old", 0, 0);
    mark(&s1, "stale", Item::STALE | Item::WIN_SENT);
    assert!(s1.get(b"plain").is_some(), "marks it fetched");
    // A CAS spent on nothing: the counter, not the largest item CAS, is where to go on.
    s1.spend_cas();
    let counter = s1.cas.load(Ordering::Relaxed);
    let before: Vec<Item> = ["plain", "large", "binary", "stale"]
        .iter()
        .map(|k| raw(&s1, k).unwrap())
        .collect();
    let file = saved(&s1);

    let (s2, _) = store_at(T0 + 60, StoreConfig::default());
    let report = s2.load(&mut &file[..]).unwrap();
    assert_eq!(
        report,
        LoadReport {
            loaded: 4,
            saved_at: T0,
            ..LoadReport::default()
        }
    );
    for (key, old) in ["plain", "large", "binary", "stale"].iter().zip(&before) {
        let new = raw(&s2, key).unwrap();
        assert_eq!(new.value, old.value, "{key}");
        assert_eq!(new.flags, old.flags, "{key}");
        assert_eq!(new.cas, old.cas, "{key}");
        assert_eq!(new.marks, old.marks, "{key}");
        assert_eq!(new.value.fetched(), old.value.fetched(), "{key}");
    }
    assert!(raw(&s2, "plain").unwrap().value.fetched());
    assert!(!raw(&s2, "large").unwrap().value.fetched());
    // 100 seconds to live, 60 of them spent while down.
    assert_eq!(raw(&s2, "large").unwrap().exptime - s2.now(), 40);
    // Stored 60 seconds ago (`mg l`).
    assert_eq!(s2.now() - raw(&s2, "plain").unwrap().time, 60);
    let (a, b) = (s1.stats(), s2.stats());
    assert_eq!((b.curr_items, b.bytes), (a.curr_items, a.bytes));
    assert_eq!(b.evictions, 0);
    // The next CAS follows the saved counter.
    set(&s2, "new", b"v", 0, 0);
    assert_eq!(raw(&s2, "new").unwrap().cas, counter + 1);
}

#[test]
fn the_time_spent_down_counts_towards_expiry() {
    let (s1, _) = store_at(T0, StoreConfig::default());
    set(&s1, "short", b"v", 0, 30);
    set(&s1, "long", b"v", 0, 3600);
    set(&s1, "absolute", b"v", 0, (T0 + 20) as i64);
    set(&s1, "never", b"v", 0, 0);
    let file = saved(&s1);
    let (s2, clock) = store_at(T0 + 31, StoreConfig::default());
    let report = s2.load(&mut &file[..]).unwrap();
    assert_eq!((report.loaded, report.expired), (2, 2));
    assert!(raw(&s2, "short").is_none() && raw(&s2, "absolute").is_none());
    assert_eq!(raw(&s2, "long").unwrap().exptime - s2.now(), 3600 - 31);
    clock.advance(3600 - 31);
    assert!(s2.get(b"long").is_none());
    assert!(s2.get(b"never").is_some());
}

#[test]
fn dead_items_are_not_saved() {
    let (s1, clock) = store_at(T0, StoreConfig::default());
    set(&s1, "expires", b"v", 0, 10);
    set(&s1, "flushed", b"v", 0, 0);
    clock.advance(2);
    s1.flush_all(0);
    clock.advance(2);
    set(&s1, "kept", b"v", 0, 0);
    clock.advance(10);
    let mut file = Vec::new();
    assert_eq!(s1.save(&mut file).unwrap().items, 1);
    let (s2, _) = store_at(T0 + 20, StoreConfig::default());
    assert_eq!(s2.load(&mut &file[..]).unwrap().loaded, 1);
    assert!(raw(&s2, "kept").is_some());
}

#[test]
fn a_pending_delayed_flush_survives_the_restart() {
    let (s1, _) = store_at(T0, StoreConfig::default());
    set(&s1, "k", b"v", 0, 0);
    s1.flush_all(100);
    let file = saved(&s1);

    // Restarted before the flush time: the item is there until then.
    let (s2, clock) = store_at(T0 + 50, StoreConfig::default());
    assert_eq!(s2.load(&mut &file[..]).unwrap().loaded, 1);
    assert!(s2.get(b"k").is_some());
    clock.advance(60);
    assert!(s2.get(b"k").is_none(), "flushed at T0 + 100");

    // Restarted after it: flushed while down.
    let (s3, _) = store_at(T0 + 200, StoreConfig::default());
    let report = s3.load(&mut &file[..]).unwrap();
    assert_eq!((report.loaded, report.expired), (0, 1));
}

#[test]
fn items_over_the_new_limits_are_dropped_and_counted() {
    let (s1, _) = store_at(T0, StoreConfig::default());
    let value = vec![b'v'; 2000];
    for i in 0..10 {
        set(&s1, &format!("key{i}"), &value, 0, 0);
    }
    set(&s1, "big", &vec![b'b'; 100_000], 0, 0);
    let file = saved(&s1);
    let each = u64::from(weight(4, 2000, crate::exact_size));
    let config = StoreConfig {
        memory_limit: 5 * each + each / 2,
        item_size_max: 64 * 1024,
        ..StoreConfig::default()
    };
    let (s2, _) = store_at(T0, config);
    let report = s2.load(&mut &file[..]).unwrap();
    assert_eq!(
        (report.loaded, report.no_memory, report.too_large),
        (5, 5, 1)
    );
    let stats = s2.stats();
    assert_eq!((stats.curr_items, stats.evictions), (5, 0));
    assert!(raw(&s2, "big").is_none());
}

#[test]
fn cas_follows_the_new_servers_dash_c() {
    let (s1, _) = store_at(T0, StoreConfig::default());
    set(&s1, "a", b"v", 0, 0);
    let file = saved(&s1);
    let no_cas = StoreConfig {
        cas_enabled: false,
        ..StoreConfig::default()
    };
    let (s2, _) = store_at(T0, no_cas.clone());
    s2.load(&mut &file[..]).unwrap();
    assert_eq!(raw(&s2, "a").unwrap().cas, 0);

    // Saved without CAS, loaded with it: new, distinct values.
    let (s3, _) = store_at(T0, no_cas);
    set(&s3, "a", b"v", 0, 0);
    set(&s3, "b", b"v", 0, 0);
    let file = saved(&s3);
    let (s4, _) = store_at(T0, StoreConfig::default());
    s4.load(&mut &file[..]).unwrap();
    let (a, b) = (raw(&s4, "a").unwrap().cas, raw(&s4, "b").unwrap().cas);
    assert!(a != 0 && b != 0 && a != b);
    set(&s4, "c", b"v", 0, 0);
    assert!(raw(&s4, "c").unwrap().cas > a.max(b));
}

/// Three items, one of them large, for the damaged-file tests.
fn small_file() -> (Vec<u8>, [&'static str; 3]) {
    let (s, _) = store_at(T0, StoreConfig::default());
    let keys = ["one", "two", "three"];
    set(&s, keys[0], b"first", 1, 0);
    set(&s, keys[1], &[b'2'; 600], 2, 1000);
    set(&s, keys[2], b"", 3, 0);
    (saved(&s), keys)
}

#[test]
fn every_truncation_is_refused_and_leaves_the_store_empty() {
    let (file, keys) = small_file();
    // One store for every cut: a refused load must leave it empty for the next.
    let (s, _) = store_at(T0, StoreConfig::default());
    for cut in 0..file.len() {
        match s.load(&mut &file[..cut]) {
            Err(LoadError::Truncated { .. }) => {}
            other => panic!("cut at {cut}: {other:?}"),
        }
        assert_empty(&s, &keys);
    }
    assert_eq!(s.load(&mut &file[..]).unwrap().loaded, 3);
}

#[test]
fn every_damaged_byte_is_refused_and_leaves_the_store_empty() {
    let (file, keys) = small_file();
    let (s, _) = store_at(T0, StoreConfig::default());
    for at in 0..file.len() {
        for bit in [0x01, 0x80] {
            let mut bad = file.clone();
            bad[at] ^= bit;
            let err = s.load(&mut &bad[..]).expect_err(&format!("byte {at}"));
            if at < 8 {
                assert!(matches!(err, LoadError::Foreign), "byte {at}: {err:?}");
                assert!(!err.is_ours());
            } else {
                assert!(err.is_ours(), "byte {at}: {err:?}");
            }
            assert_empty(&s, &keys);
        }
    }
    let mut longer = file.clone();
    longer.push(0);
    assert!(matches!(
        s.load(&mut &longer[..]),
        Err(LoadError::Corrupt { items: 3, .. })
    ));
    assert_empty(&s, &keys);
}

#[test]
fn foreign_files_and_other_versions_are_refused() {
    let (s, _) = store_at(T0, StoreConfig::default());
    let err = s
        .load(&mut &b"VALUE k 0 1\r\nx\r\nEND\r\n"[..])
        .unwrap_err();
    assert!(matches!(err, LoadError::Foreign));
    assert_eq!(err.to_string(), "not a ferrocache memory file (bad magic)");

    let (mut file, _) = small_file();
    file[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32fast::hash(&file[..36]);
    file[36..40].copy_from_slice(&crc.to_le_bytes());
    let err = s.load(&mut &file[..]).unwrap_err();
    assert!(matches!(err, LoadError::Version(2)));
    assert_eq!(
        err.to_string(),
        "memory file version 2, but this ferrocache reads version 1 only"
    );
    assert_empty(&s, &[]);
}

/// A length field that claims more than `-I` is read through, never allocated: a damaged
/// file cannot make the server ask for gigabytes.
#[test]
fn a_huge_value_length_is_not_allocated() {
    let (s1, _) = store_at(T0, StoreConfig::default());
    set(&s1, "k", b"v", 0, 0);
    let mut file = saved(&s1);
    let at = HEADER_LEN + 31;
    assert_eq!(u32_at(&file, at), 1);
    file[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let (s2, _) = store_at(T0, StoreConfig::default());
    assert!(matches!(
        s2.load(&mut &file[..]),
        Err(LoadError::Truncated { items: 0 })
    ));
}

/// An empty store saves a header and an end record, and the file records when it was saved.
#[test]
fn saving_an_empty_store_gives_a_loadable_file() {
    let (s1, clock) = store_at(T0, StoreConfig::default());
    clock.advance(5);
    let file = saved(&s1);
    assert_eq!(file.len(), HEADER_LEN + 1 + 8 + 4);
    let (s2, _) = store_at(T0 + 10, StoreConfig::default());
    let report = s2.load(&mut &file[..]).unwrap();
    assert_eq!((report.loaded, report.saved_at), (0, s1.clock.unix_now()));
}
