//! Writes a [`Request`] back into text-protocol bytes: what a client would send. Used by
//! clients and load generators, and by the round-trip property `parse(encode(x)) == x`.

use super::{
    AutomoveSetting, ClassList, DebugTime, DetailCommand, GetKind, LruCrawler, LruSetting, Real,
    Request, StatsGroup, StoreMode,
};
use std::io::Write;

/// Encodes `request` as a client would send it.
pub fn encode(request: &Request<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = write_request(&mut out, request);
    out
}

/// A double as C's `strtod` reads it back to the same bits: Rust's shortest round-trip
/// digits (`1e300`, not 301 of them: memcached reads at most 31 bytes), and NaN with its
/// sign.
fn real(value: Real) -> String {
    let v = value.get();
    match (v.is_nan(), v.is_sign_negative()) {
        (true, true) => "-nan".into(),
        (true, false) => "nan".into(),
        _ if v.is_infinite() => if v > 0.0 { "inf" } else { "-inf" }.into(),
        _ => format!("{v:?}"),
    }
}

fn noreply(out: &mut Vec<u8>, noreply: bool) {
    if noreply {
        out.extend_from_slice(b" noreply");
    }
}

fn write_request(out: &mut Vec<u8>, request: &Request<'_>) -> std::io::Result<()> {
    match request {
        Request::Get {
            kind,
            exptime,
            keys,
        } => {
            let name: &[u8] = match kind {
                GetKind::Get => b"get",
                GetKind::Gets => b"gets",
                GetKind::Gat => b"gat",
                GetKind::Gats => b"gats",
            };
            out.extend_from_slice(name);
            if kind.touches() {
                write!(out, " {exptime}")?;
            }
            for key in keys.clone() {
                out.push(b' ');
                out.extend_from_slice(key);
            }
        }
        Request::Store {
            mode,
            key,
            flags,
            exptime,
            cas,
            value,
            noreply: nr,
        } => {
            let name: &[u8] = match mode {
                StoreMode::Set => b"set",
                StoreMode::Add => b"add",
                StoreMode::Replace => b"replace",
                StoreMode::Append => b"append",
                StoreMode::Prepend => b"prepend",
                StoreMode::Cas => b"cas",
            };
            out.extend_from_slice(name);
            out.push(b' ');
            out.extend_from_slice(key);
            write!(out, " {flags} {exptime} {}", value.len())?;
            if *mode == StoreMode::Cas {
                write!(out, " {cas}")?;
            }
            noreply(out, *nr);
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(value);
        }
        Request::TooLarge { .. } => {}
        Request::Delete { key, noreply: nr } => {
            out.extend_from_slice(b"delete ");
            out.extend_from_slice(key);
            // `delete noreply` is a noreply delete (the last token is `noreply`): a reply
            // for the key "noreply" needs another last token, which memcached ignores.
            if !nr && *key == b"noreply" {
                out.extend_from_slice(b" 0");
            }
            noreply(out, *nr);
        }
        Request::Arith {
            key,
            incr,
            delta,
            noreply: nr,
        } => {
            out.extend_from_slice(if *incr { b"incr " } else { b"decr " });
            out.extend_from_slice(key);
            write!(out, " {delta}")?;
            noreply(out, *nr);
        }
        Request::Touch {
            key,
            exptime,
            noreply: nr,
        } => {
            out.extend_from_slice(b"touch ");
            out.extend_from_slice(key);
            write!(out, " {exptime}")?;
            noreply(out, *nr);
        }
        Request::FlushAll { delay, noreply: nr } => {
            out.extend_from_slice(b"flush_all");
            if let Some(delay) = delay {
                write!(out, " {delay}")?;
            }
            noreply(out, *nr);
        }
        Request::Version => out.extend_from_slice(b"version"),
        Request::Quit => out.extend_from_slice(b"quit"),
        Request::Shutdown {
            graceful,
            noreply: nr,
        } => {
            out.extend_from_slice(b"shutdown");
            if *graceful == Some(true) {
                out.extend_from_slice(b" graceful");
            }
            noreply(out, *nr);
        }
        Request::Verbosity { level, noreply: nr } => {
            write!(out, "verbosity {level}")?;
            noreply(out, *nr);
        }
        Request::CacheMemlimit {
            megabytes,
            noreply: nr,
        } => {
            write!(out, "cache_memlimit {megabytes}")?;
            noreply(out, *nr);
        }
        Request::Stats(group) => {
            out.extend_from_slice(b"stats");
            let arg = match group {
                StatsGroup::General => String::new(),
                StatsGroup::Settings => " settings".into(),
                StatsGroup::Items => " items".into(),
                StatsGroup::Slabs => " slabs".into(),
                StatsGroup::Sizes => " sizes".into(),
                StatsGroup::Conns => " conns".into(),
                StatsGroup::Reset => " reset".into(),
                StatsGroup::Detail(Some(DetailCommand::On)) => " detail on".into(),
                StatsGroup::Detail(Some(DetailCommand::Off)) => " detail off".into(),
                StatsGroup::Detail(Some(DetailCommand::Dump)) => " detail dump".into(),
                StatsGroup::Detail(None) => " detail".into(),
                StatsGroup::Cachedump(Ok((class, limit))) => format!(" cachedump {class} {limit}"),
                StatsGroup::Cachedump(Err(_)) => " cachedump".into(),
            };
            out.extend_from_slice(arg.as_bytes());
        }
        Request::SlabsAutomove {
            setting,
            noreply: nr,
        } => {
            out.extend_from_slice(b"slabs automove");
            match setting {
                AutomoveSetting::Level(level) => write!(out, " {level}")?,
                AutomoveSetting::Ratio(r) => write!(out, " ratio {}", real(*r))?,
                AutomoveSetting::FreeRatio(r) => write!(out, " freeratio {}", real(*r))?,
                AutomoveSetting::Window(window) => write!(out, " window {window}")?,
            }
            noreply(out, *nr);
        }
        Request::SlabsReassign {
            classes,
            noreply: nr,
        } => {
            // memcached reads exactly four tokens, so with `noreply` the destination is the
            // word `noreply` itself and the pair is unreadable.
            match (classes, nr) {
                (_, true) => out.extend_from_slice(b"slabs reassign x noreply"),
                (Some((src, dst)), false) => write!(out, "slabs reassign {src} {dst}")?,
                (None, false) => out.extend_from_slice(b"slabs reassign x x"),
            }
        }
        Request::Lru {
            setting,
            noreply: nr,
        } => {
            match setting {
                LruSetting::Tune {
                    hot_pct,
                    warm_pct,
                    hot_factor,
                    warm_factor,
                } => write!(
                    out,
                    "lru tune {hot_pct} {warm_pct} {} {}",
                    real(*hot_factor),
                    real(*warm_factor)
                )?,
                LruSetting::Mode { segmented } => write!(
                    out,
                    "lru mode {}",
                    if *segmented { "segmented" } else { "flat" }
                )?,
                LruSetting::TempTtl(ttl) => write!(out, "lru temp_ttl {ttl}")?,
                LruSetting::Bare => out.extend_from_slice(b"lru"),
            }
            noreply(out, *nr);
        }
        Request::Extstore { noreply: nr } => {
            out.extend_from_slice(b"extstore item_size 512");
            noreply(out, *nr);
        }
        Request::DebugTime {
            change,
            noreply: nr,
        } => {
            match change {
                DebugTime::Advance(secs) => write!(out, "debugtime {secs}")?,
                DebugTime::Pause => out.extend_from_slice(b"debugtime p"),
                DebugTime::Resume => out.extend_from_slice(b"debugtime r"),
            }
            noreply(out, *nr);
        }
        Request::RefreshCerts { noreply: nr } => {
            out.extend_from_slice(b"refresh_certs");
            noreply(out, *nr);
        }
        // `noreply` cannot be sent with a valid lru_crawler command (it would take the
        // argument's place), so it is not written.
        Request::LruCrawler { command, .. } => {
            let classes = |list: &ClassList| match list {
                ClassList::All => "all".to_string(),
                ClassList::Hash => "hash".to_string(),
                ClassList::Bad => "0".to_string(),
                ClassList::Classes(mask) => (1..64)
                    .filter(|id| mask & (1 << id) != 0)
                    .map(|id| id.to_string())
                    .collect::<Vec<_>>()
                    .join(","),
            };
            match command {
                LruCrawler::Crawl(list) => write!(out, "lru_crawler crawl {}", classes(list))?,
                LruCrawler::Metadump(list) => {
                    write!(out, "lru_crawler metadump {}", classes(list))?
                }
                LruCrawler::Mgdump(list) => write!(out, "lru_crawler mgdump {}", classes(list))?,
                LruCrawler::Tocrawl(n) => write!(out, "lru_crawler tocrawl {n}")?,
                LruCrawler::Sleep(us) => write!(out, "lru_crawler sleep {us}")?,
                LruCrawler::Enable => out.extend_from_slice(b"lru_crawler enable"),
                LruCrawler::Disable => out.extend_from_slice(b"lru_crawler disable"),
            }
        }
        Request::Watch { flags } => {
            out.extend_from_slice(b"watch");
            match flags {
                Some(flags) => super::watch::write_names(out, *flags),
                // Not a stream's name, nor a prefix of one.
                None => out.extend_from_slice(b" x"),
            }
        }
        Request::MetaNoop => out.extend_from_slice(b"mn"),
        Request::Meta(m) => {
            write_meta(out, m)?;
            return Ok(());
        }
        Request::MetaTooLarge { .. } => {}
    }
    out.extend_from_slice(b"\r\n");
    Ok(())
}

/// A meta request: its name, its key (base64 again when it came so), the data length for
/// `ms`, its flags as sent, and the data block.
fn write_meta(out: &mut Vec<u8>, m: &crate::meta::MetaRequest<'_>) -> std::io::Result<()> {
    use crate::meta::MetaCommand;
    let name: &[u8] = match m.command {
        MetaCommand::Get => b"mg",
        MetaCommand::Set => b"ms",
        MetaCommand::Delete => b"md",
        MetaCommand::Arith => b"ma",
        MetaCommand::Debug => b"me",
    };
    out.extend_from_slice(name);
    out.push(b' ');
    if m.opts.base64 {
        out.extend_from_slice(crate::meta::encode_key(&m.key).as_bytes());
    } else {
        out.extend_from_slice(&m.key);
    }
    if m.command == MetaCommand::Set {
        write!(out, " {}", m.value.len())?;
    }
    if m.command == MetaCommand::Debug && m.opts.base64 {
        // memcached 1.6.45 decodes `me`'s key only when a fourth token follows the `b`.
        out.extend_from_slice(b" b b");
    }
    for (code, arg) in &m.flags {
        out.push(b' ');
        out.push(*code);
        out.extend_from_slice(arg);
    }
    out.extend_from_slice(b"\r\n");
    if m.command == MetaCommand::Set {
        out.extend_from_slice(m.value);
        out.extend_from_slice(b"\r\n");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::{parse, KeyIter};
    use crate::{Limits, Parsed};
    use proptest::prelude::*;

    /// Keys as clients send them: 1 to 250 bytes, no spaces, no control characters.
    fn key() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(0x21u8..0x7f, 1..=250)
    }

    /// Owned inputs for a request, so the strategy can produce them.
    #[derive(Debug, Clone)]
    enum Input {
        Get(GetKind, i32, Vec<Vec<u8>>),
        Store(StoreMode, Vec<u8>, u32, i32, u64, Vec<u8>, bool),
        Delete(Vec<u8>, bool),
        Arith(Vec<u8>, bool, u64, bool),
        Touch(Vec<u8>, i32, bool),
        Flush(i32, bool),
        Verbosity(u32, bool),
    }

    fn input() -> impl Strategy<Value = Input> {
        let kind = prop_oneof![
            Just(GetKind::Get),
            Just(GetKind::Gets),
            Just(GetKind::Gat),
            Just(GetKind::Gats)
        ];
        let mode = prop_oneof![
            Just(StoreMode::Set),
            Just(StoreMode::Add),
            Just(StoreMode::Replace),
            Just(StoreMode::Append),
            Just(StoreMode::Prepend),
            Just(StoreMode::Cas)
        ];
        prop_oneof![
            // memcached closes a connection whose line passes 2048 bytes without a newline
            // unless it is a get/gets, so gat/gats lines stay under that.
            (kind, any::<i32>(), proptest::collection::vec(key(), 1..40)).prop_map(
                |(k, e, mut keys)| {
                    if k.touches() {
                        keys.truncate(8);
                        Input::Get(k, e, keys)
                    } else {
                        Input::Get(k, 0, keys)
                    }
                }
            ),
            (
                mode,
                key(),
                any::<u32>(),
                any::<i32>(),
                any::<u64>(),
                proptest::collection::vec(any::<u8>(), 0..300),
                any::<bool>()
            )
                .prop_map(|(m, k, f, e, c, v, n)| Input::Store(
                    m,
                    k,
                    f,
                    e,
                    if m == StoreMode::Cas { c } else { 0 },
                    v,
                    n
                )),
            (key(), any::<bool>()).prop_map(|(k, n)| Input::Delete(k, n)),
            (key(), any::<bool>(), any::<u64>(), any::<bool>())
                .prop_map(|(k, i, d, n)| Input::Arith(k, i, d, n)),
            (key(), any::<i32>(), any::<bool>()).prop_map(|(k, e, n)| Input::Touch(k, e, n)),
            (any::<i32>(), any::<bool>()).prop_map(|(d, n)| Input::Flush(d, n)),
            (any::<u32>(), any::<bool>()).prop_map(|(l, n)| Input::Verbosity(l, n)),
        ]
    }

    fn check(input: &Input) {
        let joined;
        let request = match input {
            Input::Get(kind, exptime, keys) => {
                joined = keys.join(&b' ');
                Request::Get {
                    kind: *kind,
                    exptime: *exptime,
                    keys: KeyIter::new(&joined),
                }
            }
            Input::Store(mode, key, flags, exptime, cas, value, noreply) => Request::Store {
                mode: *mode,
                key,
                flags: *flags,
                exptime: *exptime,
                cas: *cas,
                value,
                noreply: *noreply,
            },
            Input::Delete(key, noreply) => Request::Delete {
                key,
                noreply: *noreply,
            },
            Input::Arith(key, incr, delta, noreply) => Request::Arith {
                key,
                incr: *incr,
                delta: *delta,
                noreply: *noreply,
            },
            Input::Touch(key, exptime, noreply) => Request::Touch {
                key,
                exptime: *exptime,
                noreply: *noreply,
            },
            Input::Flush(delay, noreply) => Request::FlushAll {
                delay: Some(*delay),
                noreply: *noreply,
            },
            Input::Verbosity(level, noreply) => Request::Verbosity {
                level: *level,
                noreply: *noreply,
            },
        };
        let wire = encode(&request);
        let limits = Limits::default();
        match parse(&wire, &limits) {
            Parsed::Complete(parsed, used) => {
                assert_eq!(used, wire.len());
                assert_eq!(encode(&parsed), wire, "round trip");
            }
            other => panic!("{other:?}"),
        }
        for cut in 0..wire.len() {
            assert!(
                matches!(parse(&wire[..cut], &limits), Parsed::Incomplete(_)),
                "prefix of {} bytes of {:?}",
                cut,
                String::from_utf8_lossy(&wire)
            );
        }
    }

    /// `delete noreply` is memcached's noreply delete of the key "noreply", so a delete of
    /// that key that wants its reply needs another last token (the corpus replay found it).
    #[test]
    fn a_delete_of_the_key_noreply_round_trips() {
        let plain = Request::Delete {
            key: b"noreply",
            noreply: false,
        };
        assert_eq!(encode(&plain), b"delete noreply 0\r\n");
        check(&Input::Delete(b"noreply".to_vec(), false));
        check(&Input::Delete(b"noreply".to_vec(), true));
    }

    proptest! {
        #[test]
        fn parse_of_encode_round_trips_and_prefixes_are_incomplete(input in input()) {
            check(&input);
        }

        /// Every double the parser can read (not a subnormal: C's `strtod` refuses those)
        /// is written back to the same bits, but a NaN's payload (its sign is kept).
        #[test]
        fn admin_doubles_round_trip(
            bits in any::<u64>(),
            special in 0usize..6,
            pcts in (0u32..40, 0u32..40),
            ttl in any::<i32>(),
        ) {
            let value = [
                f64::from_bits(bits),
                f64::NAN,
                -f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0.0,
            ][special];
            prop_assume!(!value.is_subnormal());
            // A NaN is written as `nan` or `-nan`: its sign comes back, not its payload
            // (a signalling NaN's bits were drawn once, 0x7ff0000000000001).
            let value = if value.is_nan() { f64::NAN.copysign(value) } else { value };
            let positive = if value.is_nan() || value > 0.0 { value } else { 1.5 };
            let requests = [
                Request::SlabsAutomove {
                    setting: AutomoveSetting::Ratio(Real::new(value)),
                    noreply: false,
                },
                Request::SlabsAutomove {
                    setting: AutomoveSetting::FreeRatio(Real::new(value)),
                    noreply: true,
                },
                Request::Lru {
                    setting: LruSetting::Tune {
                        hot_pct: pcts.0,
                        warm_pct: pcts.1,
                        hot_factor: Real::new(positive),
                        warm_factor: Real::new(positive),
                    },
                    noreply: false,
                },
                Request::Lru {
                    setting: LruSetting::TempTtl(ttl),
                    noreply: false,
                },
                Request::Lru {
                    setting: LruSetting::Bare,
                    noreply: false,
                },
                Request::SlabsReassign {
                    classes: Some((ttl, -1)),
                    noreply: false,
                },
                Request::SlabsReassign {
                    classes: None,
                    noreply: true,
                },
                Request::SlabsReassign {
                    classes: None,
                    noreply: false,
                },
            ];
            for request in requests {
                let wire = encode(&request);
                match parse(&wire, &Limits::default()) {
                    Parsed::Complete(parsed, used) => {
                        prop_assert_eq!(used, wire.len());
                        prop_assert_eq!(parsed, request);
                    }
                    other => panic!("{:?}: {other:?}", String::from_utf8_lossy(&wire)),
                }
            }
        }
    }
}
