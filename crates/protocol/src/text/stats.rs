//! ```text
//! stats [settings|items|slabs|sizes|conns|reset|detail <on|off|dump>|cachedump <id> <limit>]\r\n
//! ```
//!
//! memcached 1.6.45 matches `reset`, `detail`, `settings`, `cachedump` and `conns` (in that
//! order) as prefixes, so `stats s` is `stats settings` and `stats c` is `stats cachedump`;
//! `items`, `slabs` and `sizes` must be whole. Other tokens are ignored.

use super::{abbreviates, error, Command, LineResult, Request, Tokens};
use crate::number::tok_u32;
use crate::Reject;

/// Which `stats` group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsGroup {
    General,
    Settings,
    Items,
    Slabs,
    Sizes,
    Conns,
    Reset,
    /// `stats detail on|off|dump`; `None` for anything else, a usage error unless `-X`
    /// refuses the command first.
    Detail(Option<DetailCommand>),
    /// `stats cachedump <slab class> <limit>`; `Err` is memcached's error line for bad
    /// arguments, given unless `-X` refuses the command first.
    Cachedump(Result<(u32, u32), &'static str>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailCommand {
    On,
    Off,
    Dump,
}

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let Some(sub) = tokens.get(1) else {
        return Ok(Command::Ready(Request::Stats(StatsGroup::General)));
    };
    let group = if abbreviates(sub, "reset") {
        StatsGroup::Reset
    } else if abbreviates(sub, "detail") {
        let cmd = tokens.get(2).and_then(|t| {
            [
                ("on", DetailCommand::On),
                ("off", DetailCommand::Off),
                ("dump", DetailCommand::Dump),
            ]
            .into_iter()
            .find(|(word, _)| abbreviates(t, word))
            .map(|(_, cmd)| cmd)
        });
        StatsGroup::Detail(cmd)
    } else if abbreviates(sub, "settings") {
        StatsGroup::Settings
    } else if abbreviates(sub, "cachedump") {
        StatsGroup::Cachedump(cachedump_args(tokens))
    } else if abbreviates(sub, "conns") {
        StatsGroup::Conns
    } else {
        match sub {
            b"items" => StatsGroup::Items,
            b"slabs" => StatsGroup::Slabs,
            b"sizes" => StatsGroup::Sizes,
            _ => return Err(error(Reject::Error, false)),
        }
    };
    Ok(Command::Ready(Request::Stats(group)))
}

fn cachedump_args(tokens: &Tokens<'_>) -> Result<(u32, u32), &'static str> {
    if tokens.ntokens() < 4 {
        return Err("CLIENT_ERROR bad command line");
    }
    let (Some(class), Some(limit)) = (tok_u32(tokens.toks[2]), tok_u32(tokens.toks[3])) else {
        return Err("CLIENT_ERROR bad command line format");
    };
    if class >= 64 {
        return Err("CLIENT_ERROR Illegal slab id");
    }
    Ok((class, limit))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::test_util::*;

    #[test]
    fn stats_known_answers() {
        let table: &[(&[u8], StatsGroup)] = &[
            (b"stats\r\n", StatsGroup::General),
            (b"stats   \r\n", StatsGroup::General),
            (b"stats settings\r\n", StatsGroup::Settings),
            (b"stats s\r\n", StatsGroup::Settings),
            (b"stats items\r\n", StatsGroup::Items),
            (b"stats slabs\r\n", StatsGroup::Slabs),
            (b"stats conns\r\n", StatsGroup::Conns),
            (b"stats co\r\n", StatsGroup::Conns),
            (b"stats reset\r\n", StatsGroup::Reset),
            (b"stats r\r\n", StatsGroup::Reset),
            (b"stats reset extra\r\n", StatsGroup::Reset),
            (
                b"stats detail dump\r\n",
                StatsGroup::Detail(Some(DetailCommand::Dump)),
            ),
            (
                b"stats d o\r\n",
                StatsGroup::Detail(Some(DetailCommand::On)),
            ),
            (
                b"stats detail of\r\n",
                StatsGroup::Detail(Some(DetailCommand::Off)),
            ),
            (b"stats detail\r\n", StatsGroup::Detail(None)),
            (
                b"stats cachedump 1 0\r\n",
                StatsGroup::Cachedump(Ok((1, 0))),
            ),
            (
                b"stats c\r\n",
                StatsGroup::Cachedump(Err("CLIENT_ERROR bad command line")),
            ),
            (
                b"stats cachedump 1 x\r\n",
                StatsGroup::Cachedump(Err("CLIENT_ERROR bad command line format")),
            ),
            (
                b"stats cachedump 99 1\r\n",
                StatsGroup::Cachedump(Err("CLIENT_ERROR Illegal slab id")),
            ),
        ];
        for (input, group) in table {
            assert_eq!(
                complete(input),
                Request::Stats(*group),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        for input in [
            &b"stats nonsense\r\n"[..],
            b"stats item\r\n",
            b"stats resets\r\n",
        ] {
            assert_eq!(rejected(input).0, "ERROR\r\n");
        }
    }
}
