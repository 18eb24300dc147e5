//! What the meta protocol adds to the store: `mg`'s in-place changes (touch, vivify on miss,
//! recache wins, the fetched mark), `md`'s invalidation, `ms` and `ma` options, and `me`.
//!
//! Each operation runs under the key's stripe lock, like every other write (see [`Store`]),
//! so its read, its decision and its write are one step for other clients.

use crate::counters::bump;
use crate::item::{ntotal, Item};
use crate::key::{Key, Probe};
use crate::{DeleteOutcome, ItemView, Store, Value};

/// `ms` options beyond the classic storage commands.
#[derive(Clone, Debug, Default)]
pub struct MetaStore {
    /// `C<cas>` with an append or prepend mode: store only if the CAS matches. (With the set
    /// mode the command is a `cas`: pass `StoreMode::Cas`.)
    pub compare_cas: Option<u64>,
    /// `I`: a CAS older than the item's stores the value anyway, marked stale.
    pub invalidate: bool,
    /// `E<cas>`: the new item's CAS value, chosen by the client.
    pub new_cas: Option<u64>,
    /// The key came base64-encoded (`b`).
    pub binary_key: bool,
    /// memcached's `ms` removes the old value when the new one is too large, whatever the
    /// mode (the classic commands do so only for `set`).
    pub unlink_if_too_large: bool,
    /// `ms ... MA N<ttl>` (or `MP`): an append or prepend to a missing key stores the value
    /// as a new item (memcached 1.6.45's autovivifying append).
    pub vivify: bool,
}

/// `md` options.
#[derive(Clone, Debug, Default)]
pub struct MetaDelete {
    /// `C<cas>`: act only if the item's CAS matches.
    pub compare_cas: Option<u64>,
    /// `I`: keep the item, marked stale, with a new CAS (and the new TTL when given).
    pub invalidate: bool,
    /// `x`: keep the item but empty its value, with `client_flags`; its TTL becomes `ttl`
    /// (none when not given) and it keeps its CAS unless `new_cas` is given.
    pub remove_value: bool,
    /// `F<flags>`, for `remove_value`.
    pub client_flags: u32,
    /// `T<ttl>`
    pub ttl: Option<i64>,
    /// `E<cas>`: the new CAS value.
    pub new_cas: Option<u64>,
}

/// `ma` options (the binary protocol's incr/decr uses a subset).
#[derive(Clone, Debug, Default)]
pub struct MetaArith {
    pub delta: u64,
    pub incr: bool,
    /// `C<cas>`: apply only if the item's CAS matches.
    pub compare_cas: Option<u64>,
    /// `N<ttl>` with `J<initial>`: create the item holding `initial` on a miss.
    pub initial: Option<(u64, i64)>,
    /// `T<ttl>`: the item's new TTL on success.
    pub ttl: Option<i64>,
    /// `E<cas>`: the new CAS value.
    pub new_cas: Option<u64>,
    pub binary_key: bool,
}

/// The flags of an `mg` that act on the item, in the order the client sent them: memcached
/// applies them in that order, so `t` before `T` reports the old TTL and after it the new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MgOp {
    /// `T<ttl>`: set the TTL.
    Touch(i64),
    /// `N<ttl>`: on a miss, create an empty item with this TTL (and win the recache).
    Vivify(i64),
    /// `R<ttl>`: win the recache if the item's remaining TTL is below this.
    Recache(i64),
    /// `t`: report the remaining TTL at this point.
    Ttl,
}

/// An `mg` request as the store sees it.
#[derive(Clone, Debug, Default)]
pub struct MetaGet {
    pub ops: Vec<MgOp>,
    /// `u`: do not mark the item as fetched.
    pub no_bump: bool,
    /// `E<cas>`: the CAS of an item created by `N`. (Unlike `ms`, memcached does not mark
    /// an item created this way as having a base64 key.)
    pub new_cas: Option<u64>,
}

/// What an `mg` hit reports.
#[derive(Clone, Debug)]
pub struct MetaHit {
    pub item: ItemView,
    /// The remaining TTL where the request asked for `t` (-1 for none).
    pub ttl: Option<i64>,
    /// Whether the item had been fetched before this request (`h`).
    pub fetched_before: bool,
    /// Seconds since the item was stored (`l`).
    pub last_access: u32,
    /// Stored with a base64 key: `k` returns the key encoded, followed by `b`.
    pub binary_key: bool,
    /// `W`: this client won the right to recache the item.
    pub won: bool,
    /// `Z`: another client already won it.
    pub win_sent_before: bool,
    /// `X`: the item is stale.
    pub stale: bool,
}

/// What `me` shows of an item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebugInfo {
    /// memcached 1.6's `exp=` field: -1 for no expiry, else the current time minus the expiry
    /// time (so a live item shows a negative number; memcached prints it that way).
    pub exp: i64,
    /// Seconds since the item was stored.
    pub last_access: u32,
    pub cas: u64,
    pub fetched: bool,
    /// The item's size as memcached counts it.
    pub size: usize,
    pub binary_key: bool,
}

/// What `t` reports: the seconds an item has left, -1 when it never expires. An expiry already
/// passed wraps as memcached's unsigned arithmetic does.
pub(crate) fn remaining_ttl(exptime: u32, now: u32) -> i64 {
    if exptime == 0 {
        -1
    } else {
        i64::from(exptime.wrapping_sub(now))
    }
}

impl Store {
    /// `mg`: looks the key up and applies the request's item-changing flags. `None` is a miss
    /// (and no `N` flag, or the item could not be created).
    pub fn meta_get(&self, key: &[u8], req: &MetaGet) -> Option<MetaHit> {
        let c = &self.counters;
        let probe = Probe::new(key);
        let key: &Key = &probe;
        let _guard = self.lock(key);
        let now = self.now();
        let vivify = req.ops.iter().any(|op| matches!(op, MgOp::Vivify(_)));
        let (mut item, old) = match self.lookup(key, now, true) {
            Some(item) => (item.clone(), Some(item)),
            None if vivify => {
                let item = self.new_item(crate::Value::from(&[][..]), 0, 0, now, req.new_cas);
                (item, None)
            }
            None => {
                bump(&c.mine().cmd_get);
                bump(&c.mine().get_misses);
                return None;
            }
        };
        let created = old.is_none();
        let mut won = false;
        let mut touched = false;
        let mut ttl = None;
        for op in &req.ops {
            match *op {
                MgOp::Touch(t) => {
                    item.exptime = self.times.realtime(t, now);
                    touched = true;
                }
                MgOp::Vivify(t) => {
                    if created {
                        item.exptime = self.times.realtime(t, now);
                        won = true;
                    }
                }
                MgOp::Recache(t) => {
                    let limit = self.times.realtime(t, now);
                    if !item.has(Item::WIN_SENT)
                        && !created
                        && item.exptime != 0
                        && item.exptime < limit
                    {
                        won = true;
                    }
                }
                MgOp::Ttl => ttl = Some(remaining_ttl(item.exptime, now)),
            }
        }
        let win_sent_before = item.has(Item::WIN_SENT);
        let stale = item.has(Item::STALE);
        if stale && !win_sent_before {
            won = true;
        }
        if won {
            item.marks |= Item::WIN_SENT;
        }
        let fetched_before = if req.no_bump {
            item.value.fetched()
        } else {
            item.value.mark_fetched()
        };
        if touched {
            bump(&c.mine().cmd_touch);
            bump(&c.mine().touch_hits);
            self.class_bump(key.len(), &item, |k| &k.touch_hits);
        } else {
            bump(&c.mine().cmd_get);
            bump(&c.mine().get_hits);
            self.class_bump(key.len(), &item, |k| &k.get_hits);
        }
        let changed = match &old {
            None => true,
            Some(old) => old.exptime != item.exptime || old.marks != item.marks,
        };
        if changed && !self.link(key, item.clone(), old.as_ref(), created) && created {
            // With -M and no room, the item could not be created: a miss.
            return None;
        }
        Some(MetaHit {
            fetched_before,
            last_access: now.wrapping_sub(item.time),
            binary_key: item.has(Item::BINARY_KEY),
            ttl,
            won,
            win_sent_before,
            stale,
            item: item.view(),
        })
    }

    /// `md`, as memcached 1.6.45 runs it (see [`MetaDelete`]): a CAS mismatch counts as a
    /// delete miss; an invalidation is not counted as a delete hit.
    pub fn meta_delete(&self, key: &[u8], req: &MetaDelete) -> DeleteOutcome {
        let probe = Probe::new(key);
        let key: &Key = &probe;
        let _guard = self.lock(key);
        let now = self.now();
        let Some(old) = self.lookup(key, now, true) else {
            bump(&self.counters.mine().delete_misses);
            return DeleteOutcome::NotFound;
        };
        if req.compare_cas.is_some_and(|want| want != old.cas) {
            bump(&self.counters.mine().delete_misses);
            return DeleteOutcome::Exists;
        }
        let ttl = req.ttl.map(|ttl| self.times.realtime(ttl, now));
        let mut item = if req.remove_value {
            // An empty value in place of the old one.
            Item {
                value: Value::from(&b""[..]),
                flags: req.client_flags,
                exptime: ttl.unwrap_or(0),
                time: now,
                cas: req.new_cas.unwrap_or(old.cas),
                marks: old.marks & Item::BINARY_KEY,
            }
        } else {
            old.clone()
        };
        if req.invalidate {
            item.marks = (item.marks | Item::STALE) & !Item::WIN_SENT;
            item.cas = req.new_cas.unwrap_or_else(|| self.next_cas());
            if let Some(exptime) = ttl {
                item.exptime = exptime;
            }
        } else {
            bump(&self.counters.mine().delete_hits);
            self.class_bump(key.len(), &old, |k| &k.delete_hits);
            self.log_deleted(key, &old, crate::tap::DeleteCmd::Md);
            if !req.remove_value {
                self.cache.invalidate(key);
                return DeleteOutcome::Deleted;
            }
        }
        self.link(key, item, Some(&old), req.remove_value);
        DeleteOutcome::Deleted
    }

    /// `stats cachedump <class>`: up to `limit` live items of the class (all when 0), most
    /// recently stored first, as (key, value length, expiry as a unix time or 0 for none);
    /// never more than fit in memcached's 2 MB of listing, which the caller cuts exactly.
    /// Walks the whole cache: a debugging command, as in memcached.
    pub fn dump(&self, class: u8, limit: usize) -> Vec<(Vec<u8>, usize, u64)> {
        /// memcached stops a dump at 2 MB of text; no line is shorter than this.
        const MIN_LINE: usize = 16;
        let cap = if limit == 0 {
            2 * 1024 * 1024 / MIN_LINE
        } else {
            limit
        };
        let now = self.now();
        // Keep the `cap` newest (highest CAS) items seen so far.
        let mut newest = std::collections::BinaryHeap::new();
        for (key, item) in self.cache.iter() {
            // memcached leaves binary keys out of a dump.
            if self.is_dead(&item, now)
                || item.has(Item::BALLAST)
                || item.has(Item::BINARY_KEY)
                || self.classes.item(key.len(), item.flags, item.value.len()).1 != class
            {
                continue;
            }
            newest.push(std::cmp::Reverse((
                item.cas,
                item.time,
                key,
                item.value.len(),
                item.exptime,
            )));
            if newest.len() > cap {
                newest.pop();
            }
        }
        let mut items: Vec<_> = newest.into_iter().map(|r| r.0).collect();
        items.sort_by_key(|item| std::cmp::Reverse((item.0, item.1)));
        let started = self.times.process_started;
        let mut out = Vec::with_capacity(items.len());
        for (_, _, key, len, exptime) in items {
            let expires = if exptime == 0 {
                0
            } else {
                u64::from(exptime) + started
            };
            out.push((key.bytes().to_vec(), len, expires));
        }
        out
    }

    /// `me`: an item's metadata, without marking it fetched.
    pub fn debug(&self, key: &[u8]) -> Option<DebugInfo> {
        self.debug_as(key, true)
    }

    /// [`Store::debug`] for the server's own use (the `-vv` trace): not an `item_get` event
    /// for `watch fetchers`, as memcached's trace reads no item.
    pub fn peek(&self, key: &[u8]) -> Option<DebugInfo> {
        self.debug_as(key, false)
    }

    fn debug_as(&self, key: &[u8], log: bool) -> Option<DebugInfo> {
        let now = self.now();
        let item = self.lookup_full(&Probe::new(key), now, false, false, log)?;
        Some(DebugInfo {
            exp: if item.exptime == 0 {
                -1
            } else {
                // memcached 1.6.45 prints `exptime - current_time` (1.6.18 had the sign the
                // other way round).
                i64::from(item.exptime.wrapping_sub(now) as i32)
            },
            last_access: now.wrapping_sub(item.time),
            cas: item.cas,
            fetched: item.value.fetched(),
            size: ntotal(
                key.len(),
                item.flags,
                item.value.len(),
                self.config.cas_enabled,
            ),
            binary_key: item.has(Item::BINARY_KEY),
        })
    }
}
