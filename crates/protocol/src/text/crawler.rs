//! `lru_crawler`, read as memcached 1.6.45's `process_lru_crawler_command` reads it.
//!
//! ```text
//! lru_crawler crawl <classids|all>\r\n
//! lru_crawler metadump <classids|all|hash>\r\n
//! lru_crawler mgdump <classids|all|hash>\r\n
//! lru_crawler tocrawl <n>\r\n
//! lru_crawler sleep <microseconds, at most 1000000>\r\n
//! lru_crawler enable|disable\r\n
//! ```
//!
//! `<classids>` is a comma-separated list of class ids (1 to 63; empty entries are skipped).
//! Subcommands are matched as prefixes (`lru_crawler c all`), as memcached's `strncmp`
//! does; the ones with an argument need exactly three tokens, `enable`/`disable` exactly
//! two, and anything else is `ERROR`. `noreply`, the last token, hides every reply (and
//! makes no valid command: it takes an argument's place).
//!
//! What depends on the server (the crawler disabled, `-X`, a crawl already running, a class
//! list naming no class) is decided by the server; a class id out of range is kept here as
//! [`ClassList::Bad`], since memcached reports it only after those checks.

use super::{abbreviates, error, Command, LineResult, Request, Tokens, BAD_FORMAT};
use crate::number::{strtoul32, tok_u32};
use crate::Reject;

/// An `lru_crawler` subcommand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LruCrawler {
    Crawl(ClassList),
    Metadump(ClassList),
    Mgdump(ClassList),
    Tocrawl(u32),
    Sleep(u32),
    Enable,
    Disable,
}

/// The classes a crawl or dump names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClassList {
    All,
    Hash,
    /// A bit per class id (1 to 63); 0 when the list names none (`,`).
    Classes(u64),
    /// A class id that is not a number from 1 to 63 (`BADCLASS invalid class id`).
    Bad,
}

/// memcached copies the argument into a 512-byte buffer (and reads it as a C string).
const CLASS_ARG_MAX: usize = 511;
/// memcached's `MAX_NUMBER_OF_SLAB_CLASSES`.
const MAX_CLASS_IDS: u32 = 64;

impl ClassList {
    pub fn parse(token: &[u8]) -> ClassList {
        let token = &token[..token.len().min(CLASS_ARG_MAX)];
        let token = token.split(|&b| b == 0).next().unwrap_or_default();
        match token {
            b"all" => return ClassList::All,
            b"hash" => return ClassList::Hash,
            _ => {}
        }
        let mut mask = 0u64;
        for id in token.split(|&b| b == b',').filter(|id| !id.is_empty()) {
            match strtoul32(id) {
                Some(id) if (1..MAX_CLASS_IDS).contains(&id) => mask |= 1 << id,
                _ => return ClassList::Bad,
            }
        }
        ClassList::Classes(mask)
    }
}

pub(super) fn parse<'a>(tokens: &Tokens<'a>) -> LineResult<'a> {
    let noreply = tokens.noreply();
    let ready = |cmd| {
        Ok(Command::Ready(Request::LruCrawler {
            command: cmd,
            noreply,
        }))
    };
    let sub = tokens.get(1).unwrap_or_default();
    match tokens.ntokens() {
        3 => {
            let arg = tokens.toks[2];
            if abbreviates(sub, "crawl") {
                ready(LruCrawler::Crawl(ClassList::parse(arg)))
            } else if abbreviates(sub, "metadump") {
                ready(LruCrawler::Metadump(ClassList::parse(arg)))
            } else if abbreviates(sub, "mgdump") {
                ready(LruCrawler::Mgdump(ClassList::parse(arg)))
            } else if abbreviates(sub, "tocrawl") {
                let n = tok_u32(arg).ok_or_else(|| error(BAD_FORMAT, noreply))?;
                ready(LruCrawler::Tocrawl(n))
            } else if abbreviates(sub, "sleep") {
                let us = tok_u32(arg).ok_or_else(|| error(BAD_FORMAT, noreply))?;
                if us > 1_000_000 {
                    return Err(error(
                        Reject::ClientError("sleep must be one second or less"),
                        noreply,
                    ));
                }
                ready(LruCrawler::Sleep(us))
            } else {
                Err(error(Reject::Error, noreply))
            }
        }
        2 if abbreviates(sub, "enable") => ready(LruCrawler::Enable),
        2 if abbreviates(sub, "disable") => ready(LruCrawler::Disable),
        _ => Err(error(Reject::Error, noreply)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::test_util::*;

    fn crawler(input: &[u8]) -> (LruCrawler, bool) {
        match complete(input) {
            Request::LruCrawler { command, noreply } => (command, noreply),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn subcommands_and_their_arguments() {
        let table: &[(&[u8], LruCrawler)] = &[
            (
                b"lru_crawler crawl all\r\n",
                LruCrawler::Crawl(ClassList::All),
            ),
            (b"lru_crawler c all\r\n", LruCrawler::Crawl(ClassList::All)),
            (
                b"lru_crawler crawl 1,2\r\n",
                LruCrawler::Crawl(ClassList::Classes(0b110)),
            ),
            (
                b"lru_crawler crawl ,1\r\n",
                LruCrawler::Crawl(ClassList::Classes(0b10)),
            ),
            (
                b"lru_crawler crawl 63,\r\n",
                LruCrawler::Crawl(ClassList::Classes(1 << 63)),
            ),
            (
                b"lru_crawler crawl ,\r\n",
                LruCrawler::Crawl(ClassList::Classes(0)),
            ),
            (
                b"lru_crawler crawl 0\r\n",
                LruCrawler::Crawl(ClassList::Bad),
            ),
            (
                b"lru_crawler crawl 64\r\n",
                LruCrawler::Crawl(ClassList::Bad),
            ),
            (
                b"lru_crawler crawl 1,x\r\n",
                LruCrawler::Crawl(ClassList::Bad),
            ),
            (
                b"lru_crawler crawl hash\r\n",
                LruCrawler::Crawl(ClassList::Hash),
            ),
            (
                b"lru_crawler metadump all\r\n",
                LruCrawler::Metadump(ClassList::All),
            ),
            (
                b"lru_crawler m hash\r\n",
                LruCrawler::Metadump(ClassList::Hash),
            ),
            (
                b"lru_crawler mgdump 3\r\n",
                LruCrawler::Mgdump(ClassList::Classes(0b1000)),
            ),
            (b"lru_crawler tocrawl 5\r\n", LruCrawler::Tocrawl(5)),
            (
                b"lru_crawler sleep 1000000\r\n",
                LruCrawler::Sleep(1_000_000),
            ),
            (b"lru_crawler  sleep  0\r\n", LruCrawler::Sleep(0)),
            (b"lru_crawler enable\r\n", LruCrawler::Enable),
            (b"lru_crawler e\r\n", LruCrawler::Enable),
            (b"lru_crawler disable\r\n", LruCrawler::Disable),
        ];
        for (input, want) in table {
            assert_eq!(
                crawler(input),
                (*want, false),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        // `noreply` is a class list like any other word.
        assert_eq!(
            crawler(b"lru_crawler crawl noreply\r\n"),
            (LruCrawler::Crawl(ClassList::Bad), true)
        );
    }

    #[test]
    fn class_lists_read_as_c_strings() {
        assert_eq!(ClassList::parse(b"all\0junk"), ClassList::All);
        assert_eq!(ClassList::parse(b"2\0,x"), ClassList::Classes(0b100));
        // safe_strtoul into a uint32_t: wraps.
        assert_eq!(ClassList::parse(b"4294967297"), ClassList::Classes(0b10));
        assert_eq!(ClassList::parse(b"-1"), ClassList::Bad);
        // Only the first 511 bytes are read.
        let mut long = b"1,".repeat(255);
        long.extend_from_slice(b"x");
        assert_eq!(long.len(), 511);
        assert_eq!(ClassList::parse(&long), ClassList::Bad);
        long.insert(0, b'1');
        assert_eq!(
            ClassList::parse(&long),
            ClassList::Classes((1 << 11) | (1 << 1))
        );
    }

    #[test]
    fn refusals() {
        let bad = "CLIENT_ERROR bad command line format\r\n";
        let table: &[(&[u8], &str)] = &[
            (b"lru_crawler\r\n", "ERROR\r\n"),
            (b"lru_crawler crawl\r\n", "ERROR\r\n"),
            (b"lru_crawler crawl all extra\r\n", "ERROR\r\n"),
            (b"lru_crawler crawlx all\r\n", "ERROR\r\n"),
            (b"lru_crawler enable now\r\n", "ERROR\r\n"),
            (b"lru_crawler bogus\r\n", "ERROR\r\n"),
            (b"lru_crawler metadump\r\n", "ERROR\r\n"),
            (b"lru_crawler tocrawl x\r\n", bad),
            (b"lru_crawler tocrawl -1\r\n", bad),
            (b"lru_crawler tocrawl +5\r\n", bad),
            (b"lru_crawler tocrawl 4294967296\r\n", bad),
            (b"lru_crawler sleep x\r\n", bad),
            (
                b"lru_crawler sleep 1000001\r\n",
                "CLIENT_ERROR sleep must be one second or less\r\n",
            ),
            (b"lru_crawler crawl all noreply\r\n", ""),
            (b"lru_crawler tocrawl noreply\r\n", ""),
        ];
        for (input, want) in table {
            assert_eq!(
                rejected(input).0,
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}
