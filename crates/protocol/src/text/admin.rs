//! Administrative commands for memcached's slab, LRU and extstore machinery.
//!
//! ```text
//! slabs automove <0|1|2>\r\n
//! slabs automove ratio|freeratio <float>\r\n
//! slabs automove window <3..1800>\r\n
//! slabs reassign <src class> <dst class>\r\n
//! lru tune <hot pct> <warm pct> <hot max factor> <warm max factor>\r\n
//! lru mode flat|segmented\r\n
//! lru temp_ttl <seconds>\r\n
//! extstore <setting> <value>\r\n
//! ```
//!
//! They are read and answered exactly as memcached 1.6.45 reads them
//! (`process_slabs_command`, `process_slabs_automove_command`, `process_lru_command`,
//! `process_extstore_command`): subcommands are matched as prefixes (`slabs automove r 0.5`,
//! `lru t 5`, `lru mode f`), as memcached's `strncmp` does, and `noreply`, the last token,
//! hides every reply. What they change is the server's business: the settings show in
//! `stats settings`; ferrocache has no slab pages to move nor a segmented LRU for them to
//! steer (see the README).

use super::{abbreviates, error, Command, LineResult, Request, Tokens, BAD_FORMAT};
use crate::number::{strtod, tok_i32, tok_u32};
use crate::Reject;

/// A C `double` read from a request, kept as its bits so that requests stay `Eq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Real(u64);

impl Real {
    pub fn new(value: f64) -> Real {
        Real(value.to_bits())
    }

    pub fn get(self) -> f64 {
        f64::from_bits(self.0)
    }
}

/// A `slabs automove` setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutomoveSetting {
    /// `slabs automove <0|1|2>`
    Level(u32),
    /// `slabs automove ratio <float>`
    Ratio(Real),
    /// `slabs automove freeratio <float>`
    FreeRatio(Real),
    /// `slabs automove window <3..1800>`
    Window(u32),
}

/// What an `lru` command changes, once its arguments have passed memcached's checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LruSetting {
    /// `lru tune <hot pct> <warm pct> <hot max factor> <warm max factor>`
    Tune {
        hot_pct: u32,
        warm_pct: u32,
        hot_factor: Real,
        warm_factor: Real,
    },
    /// `lru mode flat|segmented`: whether the LRU is segmented. memcached answers `ERROR`
    /// without its LRU maintainer thread (`-o no_lru_maintainer`), which the server decides.
    Mode { segmented: bool },
    /// `lru temp_ttl <seconds>`: a negative value turns the temporary LRU off. Needs the
    /// maintainer thread, as `Mode` does.
    TempTtl(i32),
    /// `lru` alone: memcached answers `ERROR`, then falls through its checks and answers
    /// `ERROR` again, which replaces the first. The client gets one; the `-vv` trace shows
    /// both.
    Bare,
}

/// `slabs ...`: `reassign` with exactly two classes, or `automove`; anything else is `ERROR`.
pub(super) fn slabs<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    let n = tokens.ntokens();
    match tokens.get(1) {
        Some(sub) if n == 4 && abbreviates(sub, "reassign") => {
            // memcached checks `-o no_slab_reassign` before it reads the classes: an
            // unreadable pair is `None`, refused by the server after that check.
            let classes = tokens
                .get(2)
                .and_then(tok_i32)
                .zip(tokens.get(3).and_then(tok_i32));
            Ok(Command::Ready(Request::SlabsReassign { classes, noreply }))
        }
        Some(sub) if n >= 3 && abbreviates(sub, "automove") => automove(tokens, noreply),
        _ => Err(error(Reject::Error, noreply)),
    }
}

fn automove<'a>(tokens: &Tokens<'a>, noreply: bool) -> LineResult<'a> {
    let sub = tokens.toks[2];
    let arg = tokens.get(3);
    let setting = if abbreviates(sub, "ratio") || abbreviates(sub, "freeratio") {
        let ratio = arg
            .and_then(strtod)
            .map(Real::new)
            .ok_or_else(|| error(Reject::Error, noreply))?;
        if abbreviates(sub, "ratio") {
            AutomoveSetting::Ratio(ratio)
        } else {
            AutomoveSetting::FreeRatio(ratio)
        }
    } else if abbreviates(sub, "window") {
        let window = arg
            .and_then(tok_u32)
            .ok_or_else(|| error(BAD_FORMAT, noreply))?;
        if !(3..=1800).contains(&window) {
            return Err(error(
                Reject::ClientError("automove window too low or too high"),
                noreply,
            ));
        }
        AutomoveSetting::Window(window)
    } else {
        let level = tok_u32(sub).ok_or_else(|| error(BAD_FORMAT, noreply))?;
        if level > 2 {
            return Err(error(Reject::Error, noreply));
        }
        AutomoveSetting::Level(level)
    };
    Ok(Command::Ready(Request::SlabsAutomove { setting, noreply }))
}

/// `lru tune|mode|temp_ttl ...`, tried in that order, each only with enough tokens (so
/// `lru t 5` is `temp_ttl`). Every refusal is `ERROR` but two of `tune`'s.
pub(super) fn lru<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    let n = tokens.ntokens();
    let refuse = || error(Reject::Error, noreply);
    let Some(sub) = tokens.get(1) else {
        return Ok(Command::Ready(Request::Lru {
            setting: LruSetting::Bare,
            noreply,
        }));
    };
    let setting = if abbreviates(sub, "tune") && n >= 6 {
        let u32_at = |i| tokens.get(i).and_then(tok_u32);
        let real_at = |i| tokens.get(i).and_then(strtod);
        let (Some(hot_pct), Some(warm_pct), Some(hot_factor), Some(warm_factor)) =
            (u32_at(2), u32_at(3), real_at(4), real_at(5))
        else {
            return Err(refuse());
        };
        // memcached adds the two as unsigned ints, which wrap.
        if hot_pct.wrapping_add(warm_pct) > 80 {
            return Err(error(
                Reject::Line("ERROR hot and warm pcts must not exceed 80"),
                noreply,
            ));
        }
        // Written as memcached's test, which a NaN passes.
        if warm_factor <= 0.0 || hot_factor <= 0.0 {
            return Err(error(
                Reject::Line("ERROR hot/warm age factors must be greater than 0"),
                noreply,
            ));
        }
        LruSetting::Tune {
            hot_pct,
            warm_pct,
            hot_factor: Real::new(hot_factor),
            warm_factor: Real::new(warm_factor),
        }
    } else if abbreviates(sub, "mode") && n >= 3 {
        let mode = tokens.toks[2];
        if abbreviates(mode, "flat") {
            LruSetting::Mode { segmented: false }
        } else if abbreviates(mode, "segmented") {
            LruSetting::Mode { segmented: true }
        } else {
            return Err(refuse());
        }
    } else if abbreviates(sub, "temp_ttl") && n >= 3 {
        LruSetting::TempTtl(tok_i32(tokens.toks[2]).ok_or_else(refuse)?)
    } else {
        return Err(refuse());
    };
    Ok(Command::Ready(Request::Lru { setting, noreply }))
}

/// `extstore <setting> <value>`: memcached (built with extstore, as 1.6.45 is by default)
/// checks the value and answers `OK` or `ERROR`, also when no external storage is set up.
pub(super) fn extstore<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    let n = tokens.ntokens();
    let u32_at = |idx: usize| tokens.get(idx).and_then(tok_u32);
    // memcached tries the settings in this order; the first the token abbreviates decides.
    const SETTINGS: [&str; 10] = [
        "free_memchunks",
        "item_size",
        "item_age",
        "low_ttl",
        "recache_rate",
        "compact_under",
        "drop_under",
        "max_sleep",
        "max_frag",
        "drop_unread",
    ];
    let ok = n >= 3
        && match SETTINGS
            .iter()
            .find(|word| abbreviates(tokens.toks[1], word))
        {
            Some(&"free_memchunks") => {
                n > 3 && u32_at(2).is_some_and(|class| class < 64) && u32_at(3).is_some()
            }
            Some(&"max_frag") => tokens.get(2).and_then(strtod).is_some(),
            Some(_) => u32_at(2).is_some(),
            None => false,
        };
    if ok {
        Ok(Command::Ready(Request::Extstore { noreply }))
    } else {
        Err(error(Reject::Error, noreply))
    }
}

#[cfg(test)]
mod tests {
    use crate::text::test_util::*;
    use crate::text::{AutomoveSetting, LruSetting, Real, Request};

    #[test]
    fn slabs_automove_known_answers() {
        let table: &[(&[u8], AutomoveSetting)] = &[
            (b"slabs automove 0\r\n", AutomoveSetting::Level(0)),
            (b"slabs automove 2\r\n", AutomoveSetting::Level(2)),
            (b"slabs a 1\r\n", AutomoveSetting::Level(1)),
            (
                b"slabs automove ratio 0.8\r\n",
                AutomoveSetting::Ratio(Real::new(0.8)),
            ),
            (
                b"slabs automove r 1\r\n",
                AutomoveSetting::Ratio(Real::new(1.0)),
            ),
            (
                b"slabs automove freeratio 0.01\r\n",
                AutomoveSetting::FreeRatio(Real::new(0.01)),
            ),
            (b"slabs automove window 30\r\n", AutomoveSetting::Window(30)),
        ];
        for (input, setting) in table {
            assert_eq!(
                complete(input),
                Request::SlabsAutomove {
                    setting: *setting,
                    noreply: false
                },
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let bad = "CLIENT_ERROR bad command line format\r\n";
        let refusals: &[(&[u8], &str)] = &[
            (b"slabs automove invalid\r\n", bad),
            (b"slabs automove -1\r\n", bad),
            (b"slabs automove 3\r\n", "ERROR\r\n"),
            (b"slabs automove\r\n", "ERROR\r\n"),
            (b"slabs automove ratio\r\n", "ERROR\r\n"),
            (b"slabs automove ratio x\r\n", "ERROR\r\n"),
            (b"slabs automove window x\r\n", bad),
            (
                b"slabs automove window 2\r\n",
                "CLIENT_ERROR automove window too low or too high\r\n",
            ),
            (b"slabs reassign 1 2 3\r\n", "ERROR\r\n"),
            (b"slabs reassign 1\r\n", "ERROR\r\n"),
            (b"slabs reassign 1 2 noreply\r\n", ""),
            (b"slabs\r\n", "ERROR\r\n"),
            (b"slabs automove 3 noreply\r\n", ""),
        ];
        for (input, want) in refusals {
            assert_eq!(
                rejected(input).0,
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn slabs_reassign_reads_two_classes_after_the_servers_check() {
        let read = |input: &[u8]| match complete(input) {
            Request::SlabsReassign { classes, noreply } => (classes, noreply),
            other => panic!("{other:?}"),
        };
        assert_eq!(read(b"slabs reassign 1 2\r\n"), (Some((1, 2)), false));
        assert_eq!(read(b"slabs r -1 39\r\n"), (Some((-1, 39)), false));
        assert_eq!(read(b"slabs reassign 99 99\r\n"), (Some((99, 99)), false));
        // Unreadable classes are the server's to refuse, after `-o no_slab_reassign`.
        assert_eq!(read(b"slabs reassign x 2\r\n"), (None, false));
        assert_eq!(read(b"slabs reassign 1 +2\r\n"), (None, false));
        assert_eq!(read(b"slabs reassign 1 99999999999\r\n"), (None, false));
        assert_eq!(read(b"slabs reassign 1 noreply\r\n"), (None, true));
    }

    #[test]
    fn lru_known_answers() {
        let setting = |input: &[u8]| match complete(input) {
            Request::Lru { setting, .. } => setting,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            setting(b"lru tune 10 40 0.1 2\r\n"),
            LruSetting::Tune {
                hot_pct: 10,
                warm_pct: 40,
                hot_factor: Real::new(0.1),
                warm_factor: Real::new(2.0),
            }
        );
        // memcached's sum of the two percentages wraps, and a NaN factor passes its test.
        assert!(matches!(
            setting(b"lru tune 4294967295 40 nan 2\r\n"),
            LruSetting::Tune { hot_factor, .. } if hot_factor.get().is_nan()
        ));
        assert_eq!(
            setting(b"lru mode flat\r\n"),
            LruSetting::Mode { segmented: false }
        );
        assert_eq!(
            setting(b"lru m s\r\n"),
            LruSetting::Mode { segmented: true }
        );
        assert_eq!(setting(b"lru temp_ttl 30\r\n"), LruSetting::TempTtl(30));
        assert_eq!(setting(b"lru temp_ttl -1\r\n"), LruSetting::TempTtl(-1));
        // `t` abbreviates tune too, but tune needs six tokens.
        assert_eq!(setting(b"lru t 5\r\n"), LruSetting::TempTtl(5));
        assert_eq!(setting(b"lru\r\n"), LruSetting::Bare);
        let refusals: &[(&[u8], &str)] = &[
            (b"lru bogus\r\n", "ERROR\r\n"),
            (b"lru tune 10 40 0.1\r\n", "ERROR\r\n"),
            (b"lru tune x 40 0.1 2\r\n", "ERROR\r\n"),
            (b"lru tune -1 40 0.1 2\r\n", "ERROR\r\n"),
            (b"lru tune 10 40 1e400 2\r\n", "ERROR\r\n"),
            (
                b"lru tune 50 40 0.1 2\r\n",
                "ERROR hot and warm pcts must not exceed 80\r\n",
            ),
            (
                b"lru tune 10 40 0 2\r\n",
                "ERROR hot/warm age factors must be greater than 0\r\n",
            ),
            (
                b"lru tune 10 40 0.1 -2\r\n",
                "ERROR hot/warm age factors must be greater than 0\r\n",
            ),
            (b"lru mode\r\n", "ERROR\r\n"),
            (b"lru mode bogus\r\n", "ERROR\r\n"),
            (b"lru temp_ttl x\r\n", "ERROR\r\n"),
            (b"lru temp_ttl 2147483648\r\n", "ERROR\r\n"),
            (b"lru bogus noreply\r\n", ""),
            (b"lru tune 50 40 0.1 2 noreply\r\n", ""),
        ];
        for (input, want) in refusals {
            assert_eq!(
                rejected(input).0,
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn extstore_known_answers() {
        for input in [
            &b"extstore item_size 5\r\n"[..],
            b"extstore max_frag 0.5\r\n",
            b"extstore free_memchunks 1 2\r\n",
            b"extstore i 5\r\n",
            b"extstore max_frag nan\r\n",
        ] {
            assert_eq!(
                complete(input),
                Request::Extstore { noreply: false },
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        for input in [
            &b"extstore\r\n"[..],
            b"extstore item_size\r\n",
            b"extstore item_size x\r\n",
            b"extstore free_memchunks 99 1\r\n",
            b"extstore bogus 1\r\n",
            b"extstore m 0.5\r\n",
        ] {
            assert_eq!(
                rejected(input).0,
                "ERROR\r\n",
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
