//! Administrative commands for memcached's slab and extstore machinery.
//!
//! ```text
//! slabs automove <0|1|2>\r\n
//! slabs automove ratio|freeratio <float>\r\n
//! slabs automove window <3..1800>\r\n
//! extstore <setting> <value>\r\n
//! ```
//!
//! ferrocache has neither slabs nor extstore, so these change nothing; they are read and
//! answered exactly as memcached 1.6.45 answers them, so tools that send them see the same
//! replies. Subcommands are matched as prefixes (`slabs automove r 0.5`), as memcached's
//! `strncmp` does. `noreply`, the last token, hides every reply.

use super::{abbreviates, error, Command, LineResult, Request, Tokens, BAD_FORMAT};
use crate::number::{strtod, tok_u32};
use crate::Reject;

/// A `slabs automove` setting. The ratios are checked, not kept: ferrocache has no slab
/// mover to give them to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutomoveSetting {
    /// `slabs automove <0|1|2>`
    Level(u32),
    /// `slabs automove ratio <float>`
    Ratio,
    /// `slabs automove freeratio <float>`
    FreeRatio,
    /// `slabs automove window <3..1800>`
    Window(u32),
}

/// `slabs ...`: only `automove` is known; `slabs reassign` is answered `ERROR` (ferrocache
/// has no slab pages to move; see the README).
pub(super) fn slabs<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    let n = tokens.ntokens();
    match tokens.get(1) {
        Some(sub) if n >= 3 && abbreviates(sub, "automove") => automove(tokens, noreply),
        _ => Err(error(Reject::Error, noreply)),
    }
}

fn automove<'a>(tokens: &Tokens<'a>, noreply: bool) -> LineResult<'a> {
    let sub = tokens.toks[2];
    let arg = tokens.get(3);
    let setting = if abbreviates(sub, "ratio") || abbreviates(sub, "freeratio") {
        arg.and_then(strtod)
            .ok_or_else(|| error(Reject::Error, noreply))?;
        if abbreviates(sub, "ratio") {
            AutomoveSetting::Ratio
        } else {
            AutomoveSetting::FreeRatio
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
    use crate::text::{AutomoveSetting, Request};

    #[test]
    fn slabs_automove_known_answers() {
        let table: &[(&[u8], AutomoveSetting)] = &[
            (b"slabs automove 0\r\n", AutomoveSetting::Level(0)),
            (b"slabs automove 2\r\n", AutomoveSetting::Level(2)),
            (b"slabs a 1\r\n", AutomoveSetting::Level(1)),
            (b"slabs automove ratio 0.8\r\n", AutomoveSetting::Ratio),
            (b"slabs automove r 1\r\n", AutomoveSetting::Ratio),
            (
                b"slabs automove freeratio 0.01\r\n",
                AutomoveSetting::FreeRatio,
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
            (b"slabs reassign 1 2\r\n", "ERROR\r\n"),
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
