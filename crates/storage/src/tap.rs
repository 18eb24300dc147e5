//! What the store tells `watch` log streams (memcached's `LOGGER_LOG` calls in its item
//! code): item lookups (`fetchers`), stores (`mutations`), deletions and evictions.
//!
//! The store does not format or buffer anything: it hands each event to a sink the server
//! installs ([`Tap::set_sink`]), and only when a watcher asked for that kind of event.
//!
//! Why it is shaped so: every lookup and store passes through here, watched or not, so the
//! check must cost next to nothing when nobody watches. [`Tap::wants`] is one relaxed load
//! of a flag word (no lock, no allocation); the server changes the word when watchers come
//! and go. A watcher added while a request runs may miss that request's event, as in
//! memcached, whose workers read their logger's flags without ordering either.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::OnceLock;

/// memcached's `LOG_FETCHERS`: every item lookup (`do_item_get`).
pub const FETCHERS: u16 = 1 << 2;
/// `LOG_MUTATIONS`: every store attempt (`do_store_item`).
pub const MUTATIONS: u16 = 1 << 3;
/// `LOG_EVICTIONS`: items evicted for room.
pub const EVICTIONS: u16 = 1 << 6;
/// `LOG_DELETIONS`: items removed by `delete` and `md`.
pub const DELETIONS: u16 = 1 << 13;

/// What a lookup found, as memcached's `item_get` log line says it
/// (`status=not_found|found|flushed|expired`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetStatus {
    NotFound,
    Found,
    Flushed,
    Expired,
}

impl GetStatus {
    pub fn name(self) -> &'static str {
        match self {
            GetStatus::NotFound => "not_found",
            GetStatus::Found => "found",
            GetStatus::Flushed => "flushed",
            GetStatus::Expired => "expired",
        }
    }
}

/// The outcome of a store, as memcached's `item_store` line says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreStatus {
    NotStored,
    Stored,
    Exists,
    NotFound,
    TooLarge,
    NoMemory,
}

impl StoreStatus {
    pub fn name(self) -> &'static str {
        match self {
            StoreStatus::NotStored => "not_stored",
            StoreStatus::Stored => "stored",
            StoreStatus::Exists => "exists",
            StoreStatus::NotFound => "not_found",
            StoreStatus::TooLarge => "too_large",
            StoreStatus::NoMemory => "no_memory",
        }
    }
}

/// Which command deleted an item (`cmd=delete|md`). The binary protocol's delete is not
/// logged by memcached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteCmd {
    Delete,
    Md,
}

/// One event. `size` is the value's length (memcached's `nbytes - 2`), `clsid` the slab
/// class the item is filed under (see [`crate::slabs::Classes::item`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A lookup; a miss has size and class 0.
    ItemGet {
        key: &'a [u8],
        status: GetStatus,
        clsid: u8,
        size: usize,
    },
    /// A store attempt, with the request's item: `cmd` is memcached's name for the mode
    /// (`set`, `add`, `replace`, `append`, `prepend`, `cas`), `ttl` the seconds left of the
    /// request's exptime (0 for none, and wrapping as memcached's unsigned subtraction does
    /// for a time already past).
    ItemStore {
        key: &'a [u8],
        status: StoreStatus,
        cmd: &'static str,
        ttl: u32,
        clsid: u8,
        size: usize,
    },
    Deleted {
        key: &'a [u8],
        cmd: DeleteCmd,
        clsid: u8,
        size: usize,
    },
    /// `ttl` is -1 for an item that never expires; `last_access` is the seconds since it was
    /// last stored or touched.
    Eviction {
        key: &'a [u8],
        fetched: bool,
        ttl: i64,
        last_access: u32,
        clsid: u8,
        size: usize,
    },
}

impl Event<'_> {
    /// The flag a watcher must have asked for to see this event.
    pub fn flag(&self) -> u16 {
        match self {
            Event::ItemGet { .. } => FETCHERS,
            Event::ItemStore { .. } => MUTATIONS,
            Event::Deleted { .. } => DELETIONS,
            Event::Eviction { .. } => EVICTIONS,
        }
    }
}

type Sink = Box<dyn Fn(&Event<'_>) + Send + Sync>;

/// The store's side of the log streams: which events are wanted, and where they go.
#[derive(Default)]
pub struct Tap {
    /// The union of every watcher's flags (server-defined bits beyond the four above may be
    /// set too: the server keeps its connection events here as well).
    flags: AtomicU16,
    sink: OnceLock<Sink>,
}

impl Tap {
    /// Does any watcher want events of `flag`? One relaxed load: see the module's docs.
    #[inline]
    pub fn wants(&self, flag: u16) -> bool {
        self.flags.load(Ordering::Relaxed) & flag != 0
    }

    /// Sets which events are wanted (the union of the watchers' flags).
    pub fn set_flags(&self, flags: u16) {
        self.flags.store(flags, Ordering::Relaxed);
    }

    /// Installs where events go; once (later calls are ignored).
    pub fn set_sink(&self, sink: impl Fn(&Event<'_>) + Send + Sync + 'static) {
        let _ = self.sink.set(Box::new(sink));
    }

    /// Hands `event` to the sink if its kind is wanted.
    #[inline]
    pub fn emit(&self, event: Event<'_>) {
        if self.wants(event.flag()) {
            if let Some(sink) = self.sink.get() {
                sink(&event);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn only_wanted_events_reach_the_sink() {
        let tap = Tap::default();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        tap.set_sink(move |e| s.lock().unwrap().push(e.flag()));
        let get = Event::ItemGet {
            key: b"k",
            status: GetStatus::Found,
            clsid: 1,
            size: 1,
        };
        tap.emit(get);
        assert!(seen.lock().unwrap().is_empty());
        tap.set_flags(FETCHERS);
        tap.emit(get);
        tap.emit(Event::Deleted {
            key: b"k",
            cmd: DeleteCmd::Delete,
            clsid: 1,
            size: 1,
        });
        assert_eq!(*seen.lock().unwrap(), vec![FETCHERS]);
    }
}
