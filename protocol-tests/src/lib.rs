//! The differential harness: runs transcripts against memcached 1.6.45 and against
//! ferrocache and compares the bytes each sends back.
//!
//! See `protocol-tests/README.md` for the transcript format. The only differences allowed
//! between the two servers are listed in [`normalize`] (volatile values) and
//! [`KNOWN_DIFFERENCES`] (where ferrocache answers every pipelined request and memcached
//! does not).

pub mod normalize;
pub mod sasl;
pub mod server;
pub mod stats_table;
pub mod tls;
pub mod transcript;

/// The places where ferrocache deliberately answers differently from memcached 1.6.45, the
/// oracle. A transcript names one with `known-difference:` and may then use `replace:` lines
/// to turn memcached's answer into the expected one; the harness fails if memcached stops
/// answering the way the entry says. Each entry: (id, reason an operator can check).
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "long-key-drops-replies",
        "memcached 1.6.45 refuses a get/gets/gat/gats with a key over 250 bytes by dropping the \
         replies it has not sent yet to earlier requests of the same read, and adds an empty \
         line after its CLIENT_ERROR: a pipelining client then reads every later reply as the \
         wrong request's. ferrocache answers each earlier request, then the refusal, on one line",
    ),
    (
        "close-drops-replies",
        "memcached 1.6.45 closes the connection for a line that looks like HTTP, more than 2048 \
         bytes with no newline, a binary request with a bad magic byte, or (with -Y) a line too \
         short to authenticate, without sending the replies it still holds for earlier \
         requests of the same read; ferrocache sends them, then closes",
    ),
    (
        "auth-last-reply-only",
        "with -Y, memcached 1.6.45 sends only the last reply of the authentication attempts and \
         refused commands that arrive in one read; ferrocache answers each one, in order",
    ),
    (
        "long-line-closes",
        "memcached closes a connection once it holds more than 2048 bytes of a line other than \
         a get/gets without its newline, so it answers a longer line or closes depending on how \
         the bytes were cut into reads; ferrocache closes for such a line however it arrives",
    ),
];
