//! The differential harness: runs transcripts against real memcached and against ferrocache
//! and compares the bytes each sends back.
//!
//! See `protocol-tests/README.md` for the transcript format. The only differences allowed
//! between the two servers are listed in [`normalize`] (volatile values) and
//! [`KNOWN_DIFFERENCES`] (where memcached 1.6.45, which ferrocache matches, answers
//! differently from the 1.6.18 that Debian installs).

pub mod normalize;
pub mod sasl;
pub mod server;
pub mod transcript;

/// Where memcached 1.6.45 answers differently from 1.6.18, the oracle we can install.
/// A transcript names one of these with `known-difference:` and then may use `replace:`
/// lines to turn 1.6.18's answer into 1.6.45's. Each entry: (id, reason).
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "cas-without-unique",
        "1.6.45 answers `cas` without its unique with CLIENT_ERROR bad command line format \
         and swallows the data block; 1.6.18 says ERROR and parses the data as a command",
    ),
    (
        "shutdown-not-enabled",
        "1.6.45 says SERVER_ERROR: shutdown not enabled; 1.6.18 says ERROR: shutdown not enabled",
    ),
    (
        "delete-extra-tokens",
        "1.6.45 ignores extra tokens after delete's key; 1.6.18 refuses them with a usage error",
    ),
    (
        "meta-empty-line",
        "1.6.45 answers a meta command with no key (`mg`) with CLIENT_ERROR bad command line \
         format; 1.6.18 says ERROR",
    ),
    (
        "ms-size-flag",
        "1.6.45 returns the stored item's size for `ms <key> <len> s`; 1.6.18 ignores the flag",
    ),
    (
        "meta-client-cas",
        "1.6.45 takes E<cas> (the client chooses the new CAS value) on ms, md, ma and mg; \
         1.6.18 refuses the flag as invalid",
    ),
];
