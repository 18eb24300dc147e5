//! ```text
//! stats [settings|items|slabs|sizes|conns|reset|detail <on|off|dump>|cachedump <id> <limit>]\r\n
//! ```

use super::{error, Command, LineResult, Request, Tokens};
use crate::number::strtoul32;
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
    /// `stats detail on|off|dump`
    Detail(DetailCommand),
    /// `stats cachedump <slab class> <limit>`
    Cachedump {
        class: u32,
        limit: u32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DetailCommand {
    On,
    Off,
    Dump,
}

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let group = match tokens.toks.get(1).copied() {
        None => StatsGroup::General,
        Some(b"reset") => StatsGroup::Reset,
        Some(b"settings") => StatsGroup::Settings,
        Some(b"items") => StatsGroup::Items,
        Some(b"slabs") => StatsGroup::Slabs,
        Some(b"sizes") => StatsGroup::Sizes,
        Some(b"conns") => StatsGroup::Conns,
        Some(b"detail") => {
            let cmd = match tokens.toks.get(2).copied() {
                Some(b"on") => DetailCommand::On,
                Some(b"off") => DetailCommand::Off,
                Some(b"dump") => DetailCommand::Dump,
                _ => {
                    return Err(error(
                        Reject::ClientError("usage: stats detail on|off|dump"),
                        false,
                    ))
                }
            };
            StatsGroup::Detail(cmd)
        }
        Some(b"cachedump") => {
            if tokens.ntokens() < 5 {
                return Err(error(Reject::ClientError("bad command line"), false));
            }
            let bad = || error(Reject::ClientError("bad command line format"), false);
            let class = strtoul32(tokens.toks[2]).ok_or_else(bad)?;
            let limit = strtoul32(tokens.toks[3]).ok_or_else(bad)?;
            if class >= 64 {
                return Err(error(Reject::ClientError("Illegal slab id"), false));
            }
            StatsGroup::Cachedump { class, limit }
        }
        Some(_) => return Err(error(Reject::Error, false)),
    };
    Ok(Command::Ready(Request::Stats(group)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::test_util::*;

    #[test]
    fn stats_known_answers() {
        let table: &[(&[u8], StatsGroup)] = &[
            (b"stats\r\n", StatsGroup::General),
            (b"stats settings\r\n", StatsGroup::Settings),
            (b"stats items\r\n", StatsGroup::Items),
            (b"stats slabs\r\n", StatsGroup::Slabs),
            (b"stats conns\r\n", StatsGroup::Conns),
            (b"stats reset\r\n", StatsGroup::Reset),
            (b"stats reset extra\r\n", StatsGroup::Reset),
            (
                b"stats detail dump\r\n",
                StatsGroup::Detail(DetailCommand::Dump),
            ),
            (
                b"stats cachedump 1 0\r\n",
                StatsGroup::Cachedump { class: 1, limit: 0 },
            ),
        ];
        for (input, group) in table {
            assert_eq!(complete(input), Request::Stats(*group));
        }
        assert_eq!(rejected(b"stats nonsense\r\n").0, "ERROR\r\n");
        assert_eq!(
            rejected(b"stats detail\r\n").0,
            "CLIENT_ERROR usage: stats detail on|off|dump\r\n"
        );
        assert_eq!(
            rejected(b"stats cachedump 1\r\n").0,
            "CLIENT_ERROR bad command line\r\n"
        );
        assert_eq!(
            rejected(b"stats cachedump 99 1\r\n").0,
            "CLIENT_ERROR Illegal slab id\r\n"
        );
    }
}
