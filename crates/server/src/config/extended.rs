//! `-o key=value,...`, read as memcached 1.6.45 reads it.
//!
//! Every key memcached knows is either honoured, accepted after memcached's own check of its
//! value (a tuning knob whose absence no client can see; a warning says it has no effect), or
//! refused (extstore: ignoring it would silently lose capacity; TLS values rustls cannot
//! honour). Any
//! other key is refused with memcached's message, as memcached refuses it. Values are read
//! with C's `atoi`/`atof` where memcached uses them, so a value memcached accepts is accepted
//! here, and one it refuses is refused with the same message and exit code.

use super::{invalid, ConfigError, Eviction, EX_USAGE};
use crate::Config;
use ferrocache_protocol::number::{is_c_space, strtol32, strtoul32};
use std::path::PathBuf;

/// memcached's `goto error` after a bad `-o` value: the process exits 1.
const EXIT_FAILURE: i32 = 1;

/// memcached's slab page, the unit its slab chunk checks are made in.
const SLAB_PAGE_SIZE: i64 = 1024 * 1024;

/// The extstore keys of memcached.
const EXT_KEYS: &[&str] = &[
    "ext_page_size",
    "ext_wbuf_size",
    "ext_threads",
    "ext_io_depth",
    "ext_path",
    "ext_item_size",
    "ext_item_age",
    "ext_low_ttl",
    "ext_recache_rate",
    "ext_compact_under",
    "ext_drop_under",
    "ext_max_sleep",
    "ext_max_frag",
    "ext_drop_unread",
];

/// What memcached checks once every option is read, as memcached's own settings hold them.
pub(super) struct Pending {
    hashpower: Option<i32>,
    /// memcached's `slab_chunk_size_max`, in bytes.
    slab_chunk_max: i64,
    /// `slab_chunk_max` was given.
    slab_chunk_changed: bool,
    slab_sizes: Option<String>,
    lru_maintainer: bool,
    temp_lru: bool,
    hot_lru_pct: i32,
    warm_lru_pct: i32,
}

impl Default for Pending {
    fn default() -> Self {
        Pending {
            hashpower: None,
            slab_chunk_max: SLAB_PAGE_SIZE / 2,
            slab_chunk_changed: false,
            slab_sizes: None,
            lru_maintainer: true,
            temp_lru: false,
            hot_lru_pct: 20,
            warm_lru_pct: 40,
        }
    }
}

/// C's `atoi` (glibc: `(int) strtol`): leading space, a sign, digits; anything after is
/// ignored, and no digits read as 0.
pub(super) fn atoi(text: &str) -> i32 {
    let t = text.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let magnitude = digits
        .bytes()
        .take_while(u8::is_ascii_digit)
        .fold(0i64, |acc, d| {
            acc.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    let value = if negative { -magnitude } else { magnitude };
    value as i32
}

/// The number C's `strtod` reads at the start of `text` (after leading space), and the bytes
/// it leaves; `None` if it reads none. Decimal forms and `inf`/`nan`, which is all memcached's
/// options are given in practice.
fn strtod(text: &str) -> Option<(f64, &str)> {
    let t = text.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    let b = t.as_bytes();
    let mut i = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let lower = t[i..].to_ascii_lowercase();
    for word in ["infinity", "inf", "nan"] {
        if lower.starts_with(word) {
            let end = i + word.len();
            return Some((t[..end].parse().ok()?, &t[end..]));
        }
    }
    let int_digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if b.get(i) == Some(&b'.') {
        frac_digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if int_digits + frac_digits > 0 {
            i += 1 + frac_digits;
        }
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(b.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp_digits = b[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        if exp_digits > 0 {
            i = j + exp_digits;
        }
    }
    Some((t[..i].parse().ok()?, &t[i..]))
}

/// C's `atof`.
pub(super) fn atof(text: &str) -> f64 {
    strtod(text).map_or(0.0, |(v, _)| v)
}

/// memcached's `safe_strtod`: a number followed by nothing or by a space.
fn safe_strtod(text: &str) -> Option<f64> {
    let (v, rest) = strtod(text)?;
    match rest.as_bytes().first() {
        None => Some(v),
        Some(&c) if is_c_space(c) => Some(v),
        Some(_) => None,
    }
}

fn safe_strtoul(text: &str) -> Option<u32> {
    strtoul32(text.as_bytes())
}

fn safe_strtol(text: &str) -> Option<i32> {
    strtol32(text.as_bytes())
}

/// `HOST:PORT` as `-o metrics_listen` takes it: an IP address and port (`[v6]:port` for
/// IPv6), or a host name and port, resolved when it is bound. The port is a number.
fn is_host_port(text: &str) -> bool {
    if text.parse::<std::net::SocketAddr>().is_ok() {
        return true;
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    host_ok
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok()
}

/// Reads one `-o` argument into `c`: comma-separated `key` or `key=value` items, as
/// memcached's `getsubopt` splits them (nothing is trimmed but the argument's leading space;
/// an empty item is refused, except after a last comma).
pub(super) fn apply(c: &mut Config, p: &mut Pending, option: &str) -> Result<(), ConfigError> {
    let mut rest = option.trim_start_matches(|c: char| c.is_ascii() && is_c_space(c as u8));
    while !rest.is_empty() {
        let (item, after) = rest.split_once(',').unwrap_or((rest, ""));
        rest = after;
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (item, None),
        };
        c.extended
            .push((key.to_string(), value.unwrap_or_default().to_string()));
        one(c, p, item, key, value)?;
    }
    Ok(())
}

fn fail(message: impl Into<String>) -> ConfigError {
    invalid(message, EXIT_FAILURE)
}

/// The value of a key that needs one, or memcached's "Missing ..." message.
fn needed<'a>(value: Option<&'a str>, missing: &str) -> Result<&'a str, ConfigError> {
    value.ok_or_else(|| fail(missing))
}

fn one(
    c: &mut Config,
    p: &mut Pending,
    item: &str,
    key: &str,
    value: Option<&str>,
) -> Result<(), ConfigError> {
    let no_effect = |c: &mut Config| {
        c.warnings.push(format!(
            "-o {key} is accepted and has no effect in ferrocache"
        ));
    };
    match key {
        // ferrocache's own keys, and memcached's that ferrocache honours.
        "eviction" => {
            c.eviction = match value.unwrap_or_default() {
                "lru" => Eviction::Lru,
                "tinylfu" => Eviction::TinyLfu,
                other => {
                    return Err(invalid(
                        format!("Invalid eviction policy: {other} (lru or tinylfu)"),
                        EX_USAGE,
                    ))
                }
            }
        }
        "sasl_pwdb" => {
            c.sasl_pwdb = Some(PathBuf::from(needed(value, "Missing sasl_pwdb argument")?));
        }
        "idle_timeout" => {
            let text = needed(value, "Missing numeric argument for idle_timeout")?;
            // memcached reads it with atoi: "abc" is 0 (no timeout), and a negative timeout
            // never fires.
            let secs = atoi(text);
            if text.trim().parse::<u32>().is_err() {
                c.warnings.push(format!(
                    "-o idle_timeout={text} is read as {}, as memcached reads it: {}",
                    secs.max(0),
                    if secs > 0 {
                        "connections idle that long are closed"
                    } else {
                        "no timeout"
                    }
                ));
            }
            c.idle_timeout = u64::try_from(secs).unwrap_or(0);
        }
        // ferrocache's: memcached's debug-build `debugtime` command (see `Config::debug_clock`).
        "debug_clock" => c.debug_clock = true,
        // ferrocache's: see `Config::shutdown_grace`.
        "shutdown_grace_ms" => {
            let text = needed(value, "Missing numeric argument for shutdown_grace_ms")?;
            let ms = text.trim().parse::<u64>().map_err(|_| {
                fail(format!(
                    "shutdown_grace_ms must be a whole number of milliseconds, not {text}"
                ))
            })?;
            c.shutdown_grace = std::time::Duration::from_millis(ms);
        }
        // ferrocache's: see `Config::metrics_listen`.
        "metrics_listen" => {
            let text = needed(value, "Missing metrics_listen argument")?;
            if !is_host_port(text) {
                return Err(fail(format!(
                    "metrics_listen must be HOST:PORT, an address or host name and a port \
                     (e.g. 127.0.0.1:9150 or [::1]:9150), not {text}"
                )));
            }
            c.metrics_listen = Some(text.to_string());
        }
        "sock_cookie_id" => {
            // memcached ignores a value it cannot read, leaving 0 (no mark).
            c.sock_cookie_id = value.and_then(safe_strtoul).unwrap_or(0);
        }
        // TLS: checked as memcached checks it; what rustls cannot honour is refused once
        // every flag is read (see `tls::check`).
        k if super::tls::KEYS.contains(&k) => super::tls::apply(c, k, value)?,
        k if EXT_KEYS.contains(&k) => {
            return Err(invalid(
                format!(
                    "ferrocache does not serve extstore yet: -o {k} is refused rather than \
                     ignored, as the cache would hold only what fits in memory (see -h)"
                ),
                EX_USAGE,
            ))
        }
        // Tuning knobs: checked as memcached checks them, then warned about.
        "hashpower" => {
            let n = atoi(needed(value, "Missing numeric argument for hashpower")?);
            if n < 12 {
                return Err(fail(format!(
                    "Initial hashtable multiplier of {n} is too low"
                )));
            }
            if n > 32 {
                return Err(fail(format!(
                    "Initial hashtable multiplier of {n} is too high\n\
                     Choose a value based on \"STAT hash_power_level\" from a running instance"
                )));
            }
            p.hashpower = Some(n);
            c.hashpower_init = n;
            no_effect(c);
        }
        // The slab mover's and LRU's settings: shown by `stats settings` and changed by
        // `slabs automove` and `lru`, as in memcached, but with no slabs and moka's own LRU
        // they steer nothing (see `crate::admin`).
        "slab_automove" => {
            let n = value.map_or(1, atoi);
            if !(0..=2).contains(&n) {
                return Err(fail("slab_automove must be between 0 and 2"));
            }
            c.tunables.slab_automove = n as u32;
            no_effect(c);
        }
        "slab_automove_ratio" => {
            let r = atof(needed(value, "Missing slab_automove_ratio argument")?);
            if r <= 0.0 || r > 1.0 {
                return Err(fail("slab_automove_ratio must be > 0 and < 1"));
            }
            c.tunables.slab_automove_ratio = r;
            no_effect(c);
        }
        "slab_automove_window" => {
            let n = atoi(needed(value, "Missing slab_automove_window argument")?);
            if !(3..=1800).contains(&n) {
                return Err(fail("slab_automove_window must be > 2 and < 1800"));
            }
            c.tunables.slab_automove_window = n as u32;
            no_effect(c);
        }
        "slab_automove_freeratio" => {
            let v = needed(value, "Missing slab_automove_freeratio argument")?;
            c.tunables.slab_automove_freeratio = safe_strtod(v)
                .ok_or_else(|| fail("could not parse argument to slab_automove_freeratio"))?;
            no_effect(c);
        }
        "tail_repair_time" => {
            let n = atoi(needed(
                value,
                "Missing numeric argument for tail_repair_time",
            )?);
            if n < 10 {
                return Err(fail("Cannot set tail_repair_time to less than 10 seconds"));
            }
            c.tail_repair_time = n;
            no_effect(c);
        }
        "hash_algorithm" => {
            match needed(value, "Missing hash_algorithm argument")? {
                "jenkins" | "murmur3" | "xxh3" => {}
                _ => {
                    return Err(fail(
                        "Unknown hash_algorithm option (jenkins, murmur3, xxh3)",
                    ))
                }
            }
            no_effect(c);
        }
        "lru_crawler_sleep" => {
            let n = atoi(needed(value, "Missing lru_crawler_sleep value")?);
            if !(0..=1_000_000).contains(&n) {
                return Err(fail("LRU crawler sleep must be between 0 and 1 second"));
            }
            c.lru_crawler_sleep = n as u32;
        }
        "lru_crawler_tocrawl" => {
            let v = needed(value, "Missing lru_crawler_tocrawl value")?;
            let Some(n) = safe_strtoul(v) else {
                return Err(fail("lru_crawler_tocrawl takes a numeric 32bit value"));
            };
            c.lru_crawler_tocrawl = n;
        }
        "hot_lru_pct" | "warm_lru_pct" => {
            let n = atoi(needed(value, &format!("Missing {key} argument"))?);
            if !(1..80).contains(&n) {
                return Err(fail(format!("{key} must be > 1 and < 80")));
            }
            if key == "hot_lru_pct" {
                p.hot_lru_pct = n;
                c.tunables.hot_lru_pct = n as u32;
            } else {
                p.warm_lru_pct = n;
                c.tunables.warm_lru_pct = n as u32;
            }
            no_effect(c);
        }
        "hot_max_factor" | "warm_max_factor" => {
            let f = atof(needed(value, &format!("Missing {key} argument"))?);
            if f <= 0.0 {
                return Err(fail(format!("{key} must be > 0")));
            }
            if key == "hot_max_factor" {
                c.tunables.hot_max_factor = f;
            } else {
                c.tunables.warm_max_factor = f;
            }
            no_effect(c);
        }
        "temporary_ttl" => {
            let ttl = atoi(needed(value, "Missing temporary_ttl argument")?);
            p.temp_lru = true;
            c.tunables.temp_lru = true;
            c.tunables.temporary_ttl = ttl;
            no_effect(c);
        }
        "read_buf_mem_limit" => {
            let v = needed(value, "Missing read_buf_mem_limit argument")?;
            let mb = safe_strtoul(v)
                .ok_or_else(|| fail("could not parse argument to read_buf_mem_limit"))?;
            c.read_buf_mem_limit = Some(u64::from(mb) * 1024 * 1024);
        }
        "watcher_logbuf_size" | "worker_logbuf_size" => {
            let v = needed(value, &format!("Missing {key} argument"))?;
            let kb = safe_strtoul(v)
                .ok_or_else(|| fail(format!("could not parse argument to {key}")))?;
            // Kilobytes; memcached multiplies in its unsigned int, which wraps.
            let bytes = kb.wrapping_mul(1024);
            if key == "watcher_logbuf_size" {
                c.watcher_logbuf_size = bytes;
            } else {
                c.worker_logbuf_size = bytes;
            }
        }
        "slab_sizes" => {
            p.slab_sizes = Some(value.unwrap_or_default().to_string());
            no_effect(c);
        }
        "slab_chunk_max" => {
            let v = needed(value, "Missing slab_chunk_max argument")?;
            let kb =
                safe_strtol(v).ok_or_else(|| fail("could not parse argument to slab_chunk_max"))?;
            if kb <= 0 {
                return Err(fail("slab_chunk_max must be >= 0"));
            }
            if kb > 1024 {
                return Err(fail("slab_chunk_max must be specified in kilobytes."));
            }
            p.slab_chunk_max = i64::from(kb) * 1024;
            p.slab_chunk_changed = true;
            no_effect(c);
        }
        "no_chunked_items" => {
            p.slab_chunk_max = SLAB_PAGE_SIZE;
            no_effect(c);
        }
        // The maintainer's work here is the crawler's background reclaim.
        "lru_maintainer" | "no_lru_maintainer" => {
            let on = key == "lru_maintainer";
            p.lru_maintainer = on;
            c.tunables.lru_maintainer = on;
            c.tunables.lru_segmented = on;
        }
        // `stats sizes`' histogram, counted as items come and go.
        "track_sizes" => c.track_sizes = true,
        "no_modern" => {
            if !p.slab_chunk_changed {
                p.slab_chunk_max = SLAB_PAGE_SIZE;
            }
            p.lru_maintainer = false;
            c.lru_crawler = false;
            let t = &mut c.tunables;
            (t.slab_reassign, t.slab_automove) = (false, 0);
            (t.lru_maintainer, t.lru_segmented) = (false, false);
        }
        "lru_crawler" => c.lru_crawler = true,
        "no_lru_crawler" => c.lru_crawler = false,
        "resp_obj_mem_limit" => c
            .warnings
            .push("DEPRECATED: resp_obj_mem_limit no longer used. See read_buf_mem_limit,".into()),
        // Keys that take no value (any value is ignored, as by memcached). Connections over
        // -c get memcached's maxconns_fast answer whatever is said here; `stats sizes` stays
        // disabled; the sandbox keys are those of a memcached built without seccomp, where
        // they do nothing either; relaxed_privileges is a debug-build key memcached's test
        // suite passes.
        "slab_reassign" | "no_slab_reassign" => {
            c.tunables.slab_reassign = key == "slab_reassign";
            no_effect(c);
        }
        "no_slab_automove" => {
            c.tunables.slab_automove = 0;
            no_effect(c);
        }
        "maxconns_fast"
        | "no_maxconns_fast"
        | "no_hashexpand"
        | "inline_ascii_resp"
        | "no_inline_ascii_resp"
        | "modern"
        | "drop_privileges"
        | "no_drop_privileges"
        | "relaxed_privileges" => no_effect(c),
        _ => return Err(fail(format!("Illegal suboption \"{item}\""))),
    }
    Ok(())
}

/// memcached's `slab_chunk_size_max` once every option is read.
fn final_chunk_max(c: &Config, p: &Pending) -> i64 {
    if c.item_size_max as i64 > SLAB_PAGE_SIZE && !p.slab_chunk_changed {
        return SLAB_PAGE_SIZE / 2;
    }
    p.slab_chunk_max
}

/// The slab table's largest chunk and given sizes, once [`check`] has passed them.
/// Whether memcached's LRU maintainer runs: ferrocache's background reclaim.
pub(super) fn lru_maintainer(p: &Pending) -> bool {
    p.lru_maintainer
}

pub(super) fn slab_table(c: &Config, p: &Pending) -> (u32, Option<Vec<u32>>) {
    let sizes = p.slab_sizes.as_ref().map(|text| {
        text.split('-')
            .filter(|s| !s.is_empty())
            .filter_map(safe_strtoul)
            .collect()
    });
    (final_chunk_max(c, p) as u32, sizes)
}

/// memcached's checks once every option is read (those about `-o`), in memcached's order.
pub(super) fn check(c: &Config, p: &Pending) -> Result<(), ConfigError> {
    let item_size_max = c.item_size_max as i64;
    let chunk_max = final_chunk_max(c, p);
    // memcached makes these checks whatever the flags: an -I its slabs cannot hold (under
    // 512k, or not a multiple of the largest chunk) is refused here as there, though
    // ferrocache has no slabs, so a configuration moves between the two unchanged.
    {
        if chunk_max > item_size_max {
            return Err(invalid(
                format!(
                    "slab_chunk_max (bytes: {chunk_max}) cannot be larger than -I \
                     (item_size_max {item_size_max})"
                ),
                EX_USAGE,
            ));
        }
        if item_size_max % chunk_max != 0 {
            return Err(invalid(
                format!(
                    "-I (item_size_max: {item_size_max}) must be evenly divisible by \
                     slab_chunk_max (bytes: {chunk_max})"
                ),
                EX_USAGE,
            ));
        }
        if SLAB_PAGE_SIZE % chunk_max != 0 {
            return Err(invalid(
                format!(
                    "slab_chunk_max (bytes: {chunk_max}) must divide evenly into \
                     {SLAB_PAGE_SIZE} (slab_page_size)"
                ),
                EX_USAGE,
            ));
        }
    }
    if let Some(sizes) = &p.slab_sizes {
        check_slab_sizes(sizes, i64::from(c.slab_min_size), chunk_max)?;
    }
    if p.hot_lru_pct + p.warm_lru_pct > 80 {
        return Err(invalid(
            "hot_lru_pct + warm_lru_pct cannot be more than 80% combined",
            EX_USAGE,
        ));
    }
    if p.temp_lru && !p.lru_maintainer {
        return Err(invalid(
            "temporary_ttl requires lru_maintainer to be enabled",
            EX_USAGE,
        ));
    }
    // memcached's item lock table grows with -t, and must stay smaller than the hash table.
    let locks = match c.threads {
        0..=2 => 10,
        3 => 11,
        4 => 12,
        5..=10 => 13,
        11..=20 => 14,
        _ => 15,
    };
    let hashpower = p.hashpower.unwrap_or(16);
    if locks >= hashpower {
        return Err(fail(format!(
            "Hash table power size ({hashpower}) cannot be equal to or less than item lock \
             table ({locks})\n\
             Item lock table grows with `-t N` (worker threadcount)\n\
             Hash table grows with `-o hashpower=N` "
        )));
    }
    Ok(())
}

/// `-o slab_sizes=a-b-c`, checked as memcached checks it.
fn check_slab_sizes(text: &str, chunk_size: i64, chunk_max: i64) -> Result<(), ConfigError> {
    // An empty list: memcached exits without a word.
    if text.is_empty() {
        return Err(invalid("", EX_USAGE));
    }
    let mut last = 0i64;
    let mut classes = 0;
    for part in text.split('-').filter(|s| !s.is_empty()) {
        let parsed = safe_strtoul(part);
        let size = i64::from(parsed.unwrap_or(0));
        if parsed.is_none() || size < chunk_size || size > chunk_max {
            return Err(invalid(
                format!("slab size {size} is out of valid range"),
                EX_USAGE,
            ));
        }
        if last >= size {
            return Err(invalid(
                format!("slab size {size} cannot be lower than or equal to a previous class size"),
                EX_USAGE,
            ));
        }
        if size <= last + 8 {
            return Err(invalid(
                format!("slab size {size} must be at least 8 bytes larger than previous class"),
                EX_USAGE,
            ));
        }
        last = size;
        classes += 1;
        if classes >= 63 {
            return Err(invalid("too many slab classes specified", EX_USAGE));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_numbers() {
        assert_eq!(atoi("42"), 42);
        assert_eq!(atoi(" -7x"), -7);
        assert_eq!(atoi("abc"), 0);
        assert_eq!(atoi(""), 0);
        assert_eq!(atof("0.5"), 0.5);
        assert_eq!(atof("2e1x"), 20.0);
        assert_eq!(atof(".5"), 0.5);
        assert_eq!(atof("abc"), 0.0);
        assert_eq!(safe_strtod("0.01"), Some(0.01));
        assert_eq!(safe_strtod("0.01x"), None);
        assert_eq!(safe_strtod(""), None);
        assert_eq!(safe_strtoul("-1"), None);
        assert_eq!(safe_strtoul("12"), Some(12));
    }
}
